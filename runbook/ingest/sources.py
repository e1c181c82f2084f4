"""Where log bytes come from: files, folders, globs, stdin, and compressed files.

A `Source` opens to a binary stream; compression is recognised by magic bytes, not by name.
Expanding the user's inputs never fails as a whole: an input that cannot be found or read is
reported by name and the others are still scanned.
"""

from __future__ import annotations

import glob
import io
import os
import select
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from runbook.ingest.compressed import DEFAULT_MAX_RATIO, Damage, Decompressed, kind_of

STDIN = "-"
# Files in a folder that are documentation, not logs: skipped when a folder is expanded
# (a file named explicitly is always read). Hidden files are skipped too, as ripgrep does.
DOC_SUFFIXES = (".md", ".rst")

@dataclass(frozen=True)
class Source:
    """One input: a path, or `-` for stdin."""

    name: str

    @property
    def is_stdin(self) -> bool:
        return self.name == STDIN

    def size(self) -> int | None:
        """Bytes on disk (compressed size for compressed files); None for stdin."""
        if self.is_stdin:
            return None
        try:
            return os.path.getsize(self.name)
        except OSError:
            return None

    def open(self, max_ratio: float = DEFAULT_MAX_RATIO) -> BinaryIO:
        """A binary stream of the decompressed content, its lines ending in LF (a file whose
        lines end in a bare CR, as classic Mac tools write, reads as lines too). Raises
        OSError when unreadable."""
        return self.reading(max_ratio).stream

    def reading(self, max_ratio: float = DEFAULT_MAX_RATIO) -> Reading:
        """`open()`, with what can be told at the end about how it was read: damage in a
        compressed stream, a file truncated or replaced meanwhile. Raises OSError."""
        if self.is_stdin:
            raw: BinaryIO = sys.stdin.buffer
            identity = None
        else:
            raw = open(self.name, "rb")
            try:
                identity = FileIdentity.of(self.name, raw)
            except OSError:
                raw.close()
                raise
        if identity is None:  # a pipe, a terminal, a device: may wait for data
            raw = interruptible(raw)
        stream = decompressing(raw, max_ratio)
        decoder = stream.raw if isinstance(stream, io.BufferedReader) else None
        return Reading(
            cr_lines(stream),
            decoder if isinstance(decoder, Decompressed) else None,
            identity,
        )


@dataclass(frozen=True)
class FileIdentity:
    """A regular file as it was when opened: device, inode and size."""

    path: str
    dev: int
    ino: int
    size: int

    @classmethod
    def of(cls, path: str, fh: BinaryIO) -> FileIdentity | None:
        """The identity of the open `fh` (None for a pipe, a device: they have none to keep)."""
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None
        return cls(path, st.st_dev, st.st_ino, st.st_size)

    def changed(self) -> str | None:
        """How the file changed since it was opened, in words, or None: truncated (shorter
        than it was) or replaced (the path now names another file, as after a rotation)."""
        try:
            now = os.stat(self.path)
        except OSError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != (self.dev, self.ino):
            what = "removed" if now is None else "replaced (rotated?)"
            return f"{what} while it was read: the lines written to it after that were not read"
        size = now.st_size
        if size < self.size:
            return (
                f"truncated while it was read ({self.size} bytes when opened, {size} at the end): "
                "the lines cut from it were not read"
            )
        return None


@dataclass
class Reading:
    """An open source: its stream, and what can be said at its end about how it was read."""

    stream: BinaryIO
    decompressed: Decompressed | None = None
    identity: FileIdentity | None = None

    def damage(self) -> Damage | None:
        """Why a compressed stream ended early, or None."""
        return self.decompressed.damage if self.decompressed is not None else None

    def changed(self) -> str | None:
        """Whether the file was truncated or replaced since it was opened (None: neither)."""
        return self.identity.changed() if self.identity is not None else None


WAIT_SLICE_SECONDS = 0.25


class _Interruptible(io.RawIOBase):
    """A pipe or terminal read in waits of at most WAIT_SLICE_SECONDS. A Ctrl-C that the kernel
    hands to another thread (polars' workers) does not end a wait of the main thread, and
    Python runs its handler only in the main thread: without slices, a scan of a quiet
    `kubectl logs -f | pgrst-runbook scan -` would not notice Ctrl-C until data came."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._fd = stream.fileno()

    def readable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not select.select([self._fd], [], [], WAIT_SLICE_SECONDS)[0]:
            pass  # back in Python between waits: a pending Ctrl-C is raised here
        data = os.read(self._fd, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


def interruptible(stream: BinaryIO) -> BinaryIO:
    """`stream`, its waits for data cut in slices so that Ctrl-C is noticed (POSIX pipes,
    terminals and devices; other streams are returned as they are). Nothing may have been
    read from `stream` yet: what its own buffer holds would be skipped."""
    if os.name != "posix":
        return stream
    try:
        stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return stream
    return io.BufferedReader(_Interruptible(stream), buffer_size=1 << 20)


class _Peeked(io.RawIOBase):
    """A stream with its first bytes already read (to look at the magic) put back in front."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            if n < len(buffer) and not self._head:  # one full first read: `peek` sees lines
                return n + self._read_rest(memoryview(buffer)[n:])
            return n
        return self._read_rest(buffer)

    def _read_rest(self, buffer: memoryview | bytearray) -> int:
        readinto = getattr(self._rest, "readinto", None)
        if readinto is not None:
            return readinto(buffer) or 0
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._rest.close()
        super().close()


def is_cr_only(head: bytes) -> bool:
    """Whether a stream's first bytes end lines with a bare CR (no LF anywhere in them)."""
    return b"\r" in head and b"\n" not in head


class _CrToLf(io.RawIOBase):
    """A stream whose bare-CR line ends read as LF."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer)).replace(b"\r", b"\n")
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


def cr_lines(stream: BinaryIO) -> BinaryIO:
    """`stream`, reading bare-CR line ends as LF when its first 64 KiB show no LF at all."""
    head = stream.peek(65536)[:65536] if hasattr(stream, "peek") else b""
    if not is_cr_only(head):
        return stream
    return io.BufferedReader(_CrToLf(stream), buffer_size=1 << 20)


def is_compressed(head: bytes) -> bool:
    """Whether a file's first bytes are gzip, bzip2 or zstd magic (what `decompressing` reads)."""
    return kind_of(head) is not None


def decompressing(raw: BinaryIO, max_ratio: float = DEFAULT_MAX_RATIO) -> BinaryIO:
    """Wrap `raw` in a gzip/bzip2/zstd reader when its first bytes say it is compressed
    (`runbook.ingest.compressed`: damage ends it with what was read kept, and it expands at
    most `max_ratio` times)."""
    head = raw.read(4)
    peeked = _Peeked(head, raw)
    magic = kind_of(head)
    if magic is None:
        return io.BufferedReader(peeked, buffer_size=1 << 20)
    decoder = Decompressed(peeked, magic, max_ratio)
    return io.BufferedReader(decoder, buffer_size=1 << 20)


def damage_of(stream: BinaryIO) -> Damage | None:
    """The damage a stream from `decompressing` met so far (None: none, or not compressed)."""
    decoder = getattr(stream, "raw", None)
    return decoder.damage if isinstance(decoder, Decompressed) else None


@dataclass(frozen=True)
class InputProblem:
    """An input that could not be used, with a one-line reason."""

    name: str
    reason: str


def expand(inputs: list[str]) -> tuple[list[Source], list[InputProblem]]:
    """Files, folders (recursive, sorted), globs and `-` -> sources, plus what went wrong."""
    sources: list[Source] = []
    problems: list[InputProblem] = []
    seen: set[str] = set()

    def add(name: str) -> None:
        if name not in seen:
            seen.add(name)
            sources.append(Source(name))

    for item in inputs:
        if item == STDIN:
            add(STDIN)
            continue
        # A file whose name merely looks like a glob (`[red]app.log`) is that file.
        magic = glob.has_magic(item) and not os.path.exists(item)
        matches = sorted(glob.glob(item, recursive=True)) if magic else [item]
        if not matches:
            problems.append(InputProblem(item, "no file matches this pattern"))
        for match in matches:
            path = Path(match)
            if path.is_dir():
                for file in _walk(path, problems):
                    if _regular(file):
                        add(str(file))
                    else:  # a FIFO, socket or device would block the scan or never end
                        problems.append(InputProblem(str(file), "not a regular file: skipped"))
            elif path.exists():
                add(str(path))
            else:
                problems.append(InputProblem(match, "no such file or directory"))
    return sources, problems


def _regular(path: Path) -> bool:
    """A regular file (or a link to one); what a folder walk reads. Named inputs are read as
    given, so `pgrst-runbook scan /dev/stdin` or a named pipe still work."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return True  # reading it reports the reason


def _walk(folder: Path, problems: list[InputProblem]) -> Iterator[Path]:
    """The log files under `folder`; a folder that cannot be listed is a problem, by name."""

    def unlisted(error: OSError) -> None:
        reason = (error.strerror or str(error)).lower()
        problems.append(InputProblem(str(error.filename or folder), f"folder not readable: {reason}"))

    for root, dirs, files in os.walk(folder, onerror=unlisted):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name.lower().endswith(DOC_SUFFIXES):
                continue
            yield Path(root) / name
