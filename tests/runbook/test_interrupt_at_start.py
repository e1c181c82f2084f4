"""Ctrl-C at any point of a command's life exits 130 with one `interrupted` line and no
traceback: while the entry point loads, while the command's modules load (polars), while it
reads its input, for `python -m runbook` and for the `pgrst-runbook` script.

Each SIGINT is sent when the child reaches a known point: Python reports every import as it
completes (PYTHONPROFILEIMPORTTIME, on stderr), so the test waits for the import named.
Before the package's first line runs (Python's own start-up), a Ctrl-C is Python's to handle:
it dies by the signal, or, inside `site` (an editable install's import hook), prints its own
start-up error; no code of the package can run there.
"""

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


PARALLEL_CHILD = '''
import sys

if __name__ == "__main__":
    import runbook.ingest.parallel as parallel
    from runbook import interrupts
    from runbook.cli import main

    parallel.PARALLEL_MIN_BYTES = 1  # a small file is scanned by worker processes too
    parallel.PARALLEL_FILE_BYTES = 1 << 20
    code = main(sys.argv[1:])
    interrupts.exit_interrupted(say=False) if code == 130 else sys.exit(code)
'''


def children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


def importing_polars(pid: str) -> bool:
    """Whether process `pid` has polars' compiled library mapped: a worker well into its
    imports (where a KeyboardInterrupt would print a traceback)."""
    try:
        return "polars" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_ctrl_c_to_the_terminal_while_scan_workers_start_is_quiet(tmp_path: Path) -> None:
    """A terminal's Ctrl-C goes to every process of the group: the scan's worker processes,
    still starting, printed a KeyboardInterrupt traceback each (or, cut short, an EOFError).
    They start with SIGINT blocked; the scan takes the Ctrl-C and stops them."""
    line = (
        "2026-11-18 09:00:00,000 ERROR mypoolr.bot: insert failed: {'code': 'PGRST204', "
        "'details': None, 'hint': None, 'message': \"Could not find the 'adminname' column "
        "of 'mypoolr' in the schema cache\"}\n"
    )
    log = tmp_path / "bot.log"
    log.write_text(line * ((48 << 20) // len(line)))
    script = tmp_path / "scan_in_workers.py"
    script.write_text(PARALLEL_CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(2):
        proc = subprocess.Popen(
            [sys.executable, str(script), "scan", str(log), "--no-progress"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
        try:
            deadline = time.monotonic() + 120
            while not any(importing_polars(child) for child in children(proc.pid)):
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "no worker process started"
                time.sleep(0.002)
            os.killpg(proc.pid, signal.SIGINT)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        assert proc.returncode == 130, err
        assert err.strip() == "interrupted"


def test_a_ctrl_c_that_python_wrapped_while_making_a_class_is_an_interrupt() -> None:
    """A KeyboardInterrupt inside `__set_name__` (a dataclass made during an import) reaches
    the program as `RuntimeError: Error calling __set_name__`, caused by the interrupt."""
    from runbook.cli import interrupted

    class Named:
        def __set_name__(self, owner: type, name: str) -> None:
            raise KeyboardInterrupt

    try:
        type("Made", (), {"field": Named()})
    except BaseException as exc:
        wrapped = exc
    assert isinstance(wrapped, RuntimeError) and interrupted(wrapped)
    assert not interrupted(RuntimeError("not a Ctrl-C"))
