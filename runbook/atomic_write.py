"""Writing files so that a crash or a race never leaves a half file or replaces someone's.

A temporary file beside the target is written and fsynced, then linked into place (which fails
if the target appeared meanwhile) or, with `force`, renamed over it; the folder is fsynced so
the new name survives a crash. Reports, checklists, bundles and journals all write this way.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomic(path: Path, write: Callable[[BinaryIO], object], *, force: bool = False) -> None:
    """Create `path` with what `write(handle)` writes.

    Without `force` an existing file is never replaced: raises `FileExistsError`. Any other
    failure raises `OSError` and leaves the target untouched (the temporary file is removed).
    The file keeps an existing file's mode, else 0666 less the umask.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.exists() and not force:
        raise FileExistsError(f"{path} exists")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _mode_for(path))
        if force:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def fsync_dir(folder: Path) -> None:
    """Make a new or renamed entry of `folder` durable (best effort where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _link_new(tmp: str, path: Path) -> None:
    """Move `tmp` to `path` only if `path` does not exist (a hard link fails if it does, even
    when it appeared a moment ago); filesystems without hard links get a checked rename."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        if path.exists():
            raise FileExistsError(f"{path} exists") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def _mode_for(path: Path) -> int:
    """The existing file's mode, else 0666 less the umask (read without changing it)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        pass
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o644
