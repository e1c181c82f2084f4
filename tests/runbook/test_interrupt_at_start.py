"""Ctrl-C at any point of a command's life exits 130 with one `interrupted` line and no
traceback: while the entry point loads, while the command's modules load (polars), while it
reads its input, for `python -m runbook` and for the `pgrst-runbook` script.

Each SIGINT is sent when the child reaches a known point: Python reports every import as it
completes (PYTHONPROFILEIMPORTTIME, on stderr), so the test waits for the import named, or for
nothing (right after the child started)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).with_name("pgrst-runbook")
IMPORT_TIME = "import time:"


def waiting(pid: int) -> bool:
    """Whether the main thread of `pid` sleeps in the kernel (waits for its input)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] == "S"


def interrupt_when(
    argv: list[str], marker: str | None, *, then_waiting: bool = False
) -> tuple[int, str]:
    """Start `argv`, send SIGINT once `marker` was imported (None: at once), and return the
    exit code and stderr without Python's import lines. The child reads its logs from a pipe
    that stays open, so it never ends by itself. `then_waiting`: after `marker`, also wait
    until the child sleeps waiting for that input."""
    # PYTHONPATH: the script finds this checkout's package, as `-m` does from its folder
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1", "COLUMNS": "100", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    said: list[str] = []
    try:
        if marker is None:
            proc.send_signal(signal.SIGINT)
        else:
            deadline = time.monotonic() + 120
            while True:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
                assert line is not None, f"the child ended before importing {marker}: {said}"
                if line.startswith(IMPORT_TIME):
                    if line.rsplit("|", 1)[-1].strip() == marker:
                        break
                else:
                    said.append(line)
            while then_waiting and not waiting(proc.pid):
                assert time.monotonic() < deadline, "the child never waited for its input"
                time.sleep(0.01)
            proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdin is not None
        proc.stdin.close()
    reader.join(30)
    while (line := lines.get_nowait() if not lines.empty() else None) is not None:
        if not line.startswith(IMPORT_TIME):
            said.append(line)
    return code, "".join(said)


# From the interpreter's own startup to the command reading its input (stdin, held open).
MARKERS = [
    "runbook.interrupts",  # the package is loading
    "runbook",  # the package; the entry point's modules load next
    "runbook.exit_codes",  # inside the entry point's own imports
    "runbook.cli",  # the entry point is loaded; the command line is parsed next
    "polars",  # the command's modules load
    "runbook.ingest.scan",
    "runbook.ingest.parallel",  # the scan has begun; it waits on stdin next
]


@pytest.mark.parametrize("marker", MARKERS)
def test_ctrl_c_while_python_m_runbook_starts_exits_130_quietly(marker: str) -> None:
    code, said = interrupt_when([sys.executable, "-m", "runbook", "scan", "-", "--no-progress"], marker)
    assert code == 130, said
    assert said.strip() == "interrupted"


@pytest.mark.skipif(not SCRIPT.exists(), reason="the pgrst-runbook script is not installed here")
@pytest.mark.parametrize(
    "marker",
    ["runbook.interrupts", "runbook", "runbook.exit_codes", "runbook.cli", "polars", "runbook.ingest.parallel"],
)
def test_ctrl_c_while_the_script_starts_exits_130_quietly(marker: str) -> None:
    code, said = interrupt_when([str(SCRIPT), "scan", "-", "--no-progress"], marker)
    assert code == 130, said
    assert said.strip() == "interrupted"


def test_ctrl_c_right_after_the_start_is_quiet() -> None:
    """Before Python has set up its SIGINT handler (its first milliseconds), the signal ends
    the process itself: nothing is printed, and a shell reports that as 130 too."""
    for _ in range(3):
        code, said = interrupt_when([sys.executable, "-m", "runbook", "scan", "-", "--no-progress"], None)
        assert code in (130, -signal.SIGINT), said
        assert said.strip() in ("", "interrupted")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_ctrl_c_while_a_scan_waits_on_a_quiet_pipe_exits_130() -> None:
    """`kubectl logs -f deploy/api | pgrst-runbook scan -` with nothing coming yet: the kernel
    may hand SIGINT to one of polars' threads, and Python acts on it only in the main thread,
    which sat in its read of the pipe until data came (the Ctrl-C was lost)."""
    for _ in range(3):
        code, said = interrupt_when(
            [sys.executable, "-m", "runbook", "scan", "-", "--no-progress"],
            "runbook.ingest.parallel",
            then_waiting=True,
        )
        assert code == 130, said
        assert said.strip() == "interrupted"
