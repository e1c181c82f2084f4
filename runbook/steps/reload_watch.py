"""Did PostgREST log a reload after ours? Its stderr, read from a mark to the end.

`LoadLineWatch(paths).mark()` before the NOTIFY, `.lines_since(mark)` after verification:
the `Received a schema cache reload message`, `Schema cache loaded` and `Failed to load the
schema cache` lines PostgREST wrote in between, with where they are. `load_evidence()` turns
that into the evidence row "PostgREST logged a cache load after the reload" (no row when no
PostgREST stderr was among the files: then silence proves nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from parsers.postgrest_stderr import classify_line, is_stderr_line
from runbook.events import Kind
from runbook.evidence import EvidenceRow

MAX_BYTES = 8 * 1024 * 1024
RECEIVED, LOADED, FAILED = "received", "loaded", "failed"
# The stderr parser's kinds that say something about a reload of the schema cache.
_KINDS = {Kind.CACHE_RELOAD: RECEIVED, Kind.CACHE_LOAD: LOADED, Kind.CACHE_LOAD_FAILED: FAILED}


@dataclass(frozen=True)
class LoadLine:
    kind: str  # received | loaded | failed
    where: str  # path:line
    text: str


class LoadLineWatch:
    """PostgREST stderr files followed across a reload (others among `paths` are ignored)."""

    def __init__(self, paths: Iterable[Path]) -> None:
        self.paths = [Path(p) for p in paths if Path(p).is_file()]

    def postgrest_files(self) -> list[Path]:
        """The files whose content so far looks like PostgREST's stderr."""
        out = []
        for path in self.paths:
            try:
                with open(path, "rb") as handle:
                    head = handle.read(64 * 1024).decode("utf-8", "replace")
            except OSError:
                continue
            if any(is_stderr_line(line) for line in head.splitlines()[:200]):
                out.append(path)
        return out

    def mark(self) -> dict[Path, tuple[int, int]]:
        """(size, lines) of each PostgREST stderr file now."""
        out = {}
        for path in self.postgrest_files():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            out[path] = (len(data), data.count(b"\n"))
        return out

    def lines_since(self, mark: dict[Path, tuple[int, int]]) -> list[LoadLine]:
        """Reload/load/failed lines appended after `mark`."""
        found = []
        for path, (size, lines) in mark.items():
            try:
                with open(path, "rb") as handle:
                    end = handle.seek(0, 2)
                    if end < size:  # truncated or rotated: read it all
                        size, lines = 0, 0
                    handle.seek(size)
                    data = handle.read(MAX_BYTES)
            except OSError:
                continue
            for offset, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                classified = classify_line(line)
                kind = _KINDS.get(classified[0]) if classified else None
                if kind is not None:
                    found.append(LoadLine(kind, f"{path}:{lines + offset}", line.strip()[:300]))
        return found


def load_evidence(
    mark: dict[Path, tuple[int, int]] | None, lines: list[LoadLine]
) -> list[EvidenceRow]:
    """The rows for the verify step (empty when no PostgREST stderr was followed)."""
    if not mark:
        return []
    files = ", ".join(str(p) for p in mark)
    loads = [x for x in lines if x.kind == LOADED]
    received = [x for x in lines if x.kind == RECEIVED]
    failed = [x for x in lines if x.kind == FAILED]
    rows = [
        EvidenceRow(
            "logs",
            "PostgREST received the reload message",
            bool(received),
            received[0].where
            if received
            else f"no 'Received a schema cache reload message' in {files}",
        ),
        EvidenceRow(
            "logs",
            "PostgREST logged a cache load after the reload",
            bool(loads),
            f"{loads[0].where}: {loads[0].text}"
            if loads
            else f"no 'Schema cache loaded' in {files}",
        ),
    ]
    if failed:
        rows.append(
            EvidenceRow(
                "logs", "the cache load failed", True, f"{failed[0].where}: {failed[0].text}"
            )
        )
    return rows
