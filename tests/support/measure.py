"""A child process's time and peak memory, measured from outside.

The peak is the child's VmHWM (/proc/PID/status), read while it runs: its own memory since
its exec. `getrusage`/`wait4`'s ru_maxrss is no good here: Linux carries the parent's
high-water mark across fork and exec, so a child of a large test process reports at least
the test process's size.
"""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path


def vm_hwm_kib(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def run_measured(
    argv: list[str], cwd: Path, timeout: float = 300
) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run `argv`; its result, wall seconds and peak RSS in MiB (0 where /proc is missing)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0

    def watch() -> None:
        nonlocal peak
        while proc.poll() is None:
            seen = vm_hwm_kib(proc.pid)
            if seen is not None:
                peak = max(peak, seen)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = proc.communicate(timeout=timeout)
    watcher.join(10)
    done = subprocess.CompletedProcess(argv, proc.returncode, out, err)
    return done, time.monotonic() - started, peak / 1024
