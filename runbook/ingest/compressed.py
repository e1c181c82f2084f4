"""Reading gzip, bzip2 and zstd streams so that damage never costs what was read before it.

The standard readers raise on a stream cut short (a log copied while it was written, a
download that stopped) and take every line read so far with them, or, for zstd, end silently
as if the stream were whole. `Decompressed` decodes member by member itself: a cut stream or
bytes after its end that are not compressed data end the reading where the damage is, with the
complete lines before it delivered and the damage recorded (`Decompressed.damage`) for the
caller to report.

It also bounds how far a stream may expand: real logs compress 10-30x; a stream that
decompresses to more than `max_ratio` times the compressed bytes read (once `RATIO_FLOOR_BYTES`
came out) is a decompression bomb or not a log, and is stopped there, also recorded.
"""

from __future__ import annotations

import bz2
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

GZIP = b"\x1f\x8b"
BZIP2 = b"BZh"
ZSTD = b"\x28\xb5\x2f\xfd"

# Real logs compress 10-30x; a long run of one repeated line reaches a few hundred. Bounded
# streams larger than this are stopped (`--max-ratio` raises it).
DEFAULT_MAX_RATIO = 200
# The bound applies once this much came out, so a small, very regular file is never stopped.
RATIO_FLOOR_BYTES = 64 * 1024 * 1024
READ_BYTES = 64 * 1024  # compressed bytes read at a time
STEP_BYTES = 1024 * 1024  # most decompressed bytes asked of one decoder call
ZSTD_FEED_BYTES = 1024  # zstd's decoder has no output bound: fed this little at a time
HOLD_BYTES = 1024 * 1024  # a last unfinished line is held back up to this size


@dataclass(frozen=True)
class Damage:
    """Why a compressed stream was not read to its end, and where (compressed bytes read)."""

    # "cut": ended before its end marker; "corrupt": data that does not decode; "trailing":
    # bytes after its end that are not compressed data; "ratio": expands past the bound
    kind: str
    compressed_bytes: int
    detail: str = ""

    def describe(self, lines_kept: int) -> str:
        """One line for stderr and the stats."""
        if self.kind == "ratio":
            return (
                f"compressed stream expands more than {self.detail} its compressed size "
                f"(a decompression bomb, or not a log): stopped after {self.compressed_bytes} "
                f"compressed bytes; kept the {lines_kept} lines before it (--max-ratio raises the bound)"
            )
        if self.kind == "trailing":
            return (
                f"compressed stream ends after {self.compressed_bytes} bytes and is followed by "
                f"{self.detail} bytes that are not compressed data; kept the {lines_kept} lines before them"
            )
        if self.kind == "corrupt":
            return (
                f"compressed stream corrupt within its first {self.compressed_bytes} bytes; "
                f"kept the {lines_kept} lines before the damage"
            )
        return (
            f"compressed stream cut after {self.compressed_bytes} bytes; "
            f"kept the {lines_kept} lines before it"
        )


class _Member(Protocol):
    """One gzip member, bzip2 stream or zstd frame being decoded."""

    @property
    def eof(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int) -> bytes: ...

    @property
    def needs_input(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...


class _Gzip:
    def __init__(self) -> None:
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._full = False  # the last call filled its output bound: more may be pending

    def decompress(self, data: bytes, max_length: int) -> bytes:
        out = self._z.decompress(self._z.unconsumed_tail + data, max_length)
        self._full = len(out) >= max_length
        return out

    @property
    def eof(self) -> bool:
        return self._z.eof

    @property
    def needs_input(self) -> bool:
        return not self._z.unconsumed_tail and not self._full

    @property
    def unused_data(self) -> bytes:
        return self._z.unused_data


class _Bzip2:
    def __init__(self) -> None:
        self._d = bz2.BZ2Decompressor()

    def decompress(self, data: bytes, max_length: int) -> bytes:
        return self._d.decompress(data, max_length)

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def needs_input(self) -> bool:
        return self._d.needs_input

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data


class _Zstd:
    """A zstd frame; its decoder returns all it can of what it is given, so it is given
    `ZSTD_FEED_BYTES` at a time (a block of a bomb is 4 bytes for 128 KiB)."""

    def __init__(self) -> None:
        import zstandard

        self._d = zstandard.ZstdDecompressor().decompressobj()
        self._error = zstandard.ZstdError
        self._in = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        self._in += data
        piece, self._in = self._in[:ZSTD_FEED_BYTES], self._in[ZSTD_FEED_BYTES:]
        try:
            return self._d.decompress(piece)
        except self._error as exc:
            raise ValueError(str(exc)) from exc

    @property
    def eof(self) -> bool:
        return self._d.eof

    @property
    def needs_input(self) -> bool:
        return not self._in

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data + self._in


_DECODERS: dict[bytes, Callable[[], _Member]] = {GZIP: _Gzip, BZIP2: _Bzip2, ZSTD: _Zstd}


def kind_of(head: bytes) -> bytes | None:
    """The magic of the compression `head` starts with, or None."""
    return next((magic for magic in _DECODERS if head.startswith(magic)), None)


class Decompressed(io.RawIOBase):
    """The decompressed content of `raw` (which starts with `magic`), ending at damage."""

    def __init__(
        self, raw: BinaryIO | io.RawIOBase, magic: bytes, max_ratio: float = DEFAULT_MAX_RATIO
    ) -> None:
        self._raw = raw
        self._magic = magic
        self._member: _Member = _DECODERS[magic]()
        self._input = b""  # compressed bytes read, not given to a decoder yet
        self._out = bytearray()  # decompressed, not delivered yet
        self._ready = 0  # how much of `_out` may be delivered (complete lines)
        self._ended = False
        self.max_ratio = max_ratio
        self.compressed_bytes = 0
        self.decompressed_bytes = 0
        self.dropped_bytes = 0  # an unfinished last line dropped at damage
        self.damage: Damage | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._ready and not self._ended:
            self._step()
        n = min(len(buffer), self._ready)
        buffer[:n] = self._out[:n]
        del self._out[:n]
        self._ready -= n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()

    # -- internals -------------------------------------------------------------------------

    def _read(self) -> bytes:
        return self._raw.read(READ_BYTES) or b""

    def _step(self) -> None:
        """Decode some more; set `_ready` to what may be delivered, or end."""
        member = self._member
        data = b""
        if member.needs_input and not self._input:
            data = self._read()
            self.compressed_bytes += len(data)
            if not data:
                self._at_input_end()
                return
        data, self._input = self._input + data, b""
        try:
            out = member.decompress(data, STEP_BYTES)
        except (OSError, EOFError, ValueError, zlib.error):  # corrupt data
            self._end(Damage("corrupt", self.compressed_bytes))
            return
        self.decompressed_bytes += len(out)
        self._out += out
        if member.eof:
            self._next_member(member.unused_data)
            if self._ended:
                return
        if (
            self.decompressed_bytes > RATIO_FLOOR_BYTES
            and self.decompressed_bytes > self.max_ratio * self.compressed_bytes
        ):
            self._end(Damage("ratio", self.compressed_bytes, f"{self.max_ratio:g}x"))
            return
        last_lf = self._out.rfind(b"\n") + 1
        self._ready = len(self._out) if len(self._out) - last_lf > HOLD_BYTES else last_lf

    def _next_member(self, rest: bytes) -> None:
        """After a member's end: the next member, trailing bytes that are not one, or nothing."""
        while len(rest) < len(self._magic):
            more = self._read()
            if not more:
                break
            self.compressed_bytes += len(more)
            rest += more
        if not rest:
            self._finish()
        elif rest.startswith(self._magic):
            self._member = _DECODERS[self._magic]()
            self._input = rest
        else:
            self._trailing(rest)

    def _trailing(self, rest: bytes) -> None:
        end = self.compressed_bytes - len(rest)
        extra = len(rest)
        while more := self._read():
            self.compressed_bytes += len(more)
            extra += len(more)
        self._end(Damage("trailing", end, str(extra)))

    def _at_input_end(self) -> None:
        """The compressed input ended: whole when the member did, else cut."""
        if self._member.eof:
            self._finish()
        else:
            self._end(Damage("cut", self.compressed_bytes))

    def _finish(self) -> None:
        self._ready = len(self._out)
        self._ended = True

    def _end(self, damage: Damage) -> None:
        """Stop at damage: deliver the complete lines decoded so far, drop an unfinished one."""
        self.damage = damage
        keep = self._out.rfind(b"\n") + 1
        if keep < self._ready:  # part of a long line already went out: keep its rest too
            keep = self._ready
        self.dropped_bytes = len(self._out) - keep
        del self._out[keep:]
        self._ready = len(self._out)
        self._ended = True
