"""The known log formats, in sniffing order, and format detection.

Detection reads the first lines of a source and asks every format what share of them it
recognises; the best share wins (ties go to the earlier, more specific format). Below
`MIN_SHARE` the source falls back to `generic`, which still finds any embedded error body.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parsers.base import LogFormat

# (format name, module, class); most specific first. Names are listed here so that the CLI can
# offer them without importing the parsers (and polars) before it needs them.
_FORMATS: tuple[tuple[str, str, str], ...] = (
    ("postgrest_docker", "postgrest_docker", "PostgrestDockerFormat"),
    ("postgrest_stderr", "postgrest_stderr", "PostgrestStderrFormat"),
    ("postgrest_access", "postgrest_access", "PostgrestAccessFormat"),
    ("postgres_csvlog", "postgres_csvlog", "PostgresCsvlogFormat"),
    ("postgres_jsonlog", "postgres_jsonlog", "PostgresJsonlogFormat"),
    ("postgres_log", "postgres_log", "PostgresLogFormat"),
    ("supabase_json", "supabase_export", "SupabaseJsonExportFormat"),
    ("supabase_csv", "supabase_export", "SupabaseCsvExportFormat"),
    ("json_lines", "json_lines", "JsonLinesFormat"),
    ("python_logging", "python_logging", "PythonLoggingFormat"),
    ("node_console", "node_console", "NodeConsoleFormat"),
    ("generic", "generic", "GenericFormat"),
)

MIN_SHARE = 0.3
SNIFF_LINES = 200

_loaded: list[LogFormat] = []


def _load() -> list[LogFormat]:
    if not _loaded:
        for name, module_name, class_name in _FORMATS:
            fmt = getattr(importlib.import_module(f"parsers.{module_name}"), class_name)()
            assert fmt.name == name, f"{class_name}.name is {fmt.name!r}, registered as {name!r}"
            _loaded.append(fmt)
    return _loaded


def __getattr__(attribute: str) -> Any:
    """`FORMATS` (in sniffing order) and `BY_NAME`, loaded on first use."""
    if attribute == "FORMATS":
        return _load()
    if attribute == "BY_NAME":
        return {fmt.name: fmt for fmt in _load()}
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


def names() -> list[str]:
    """Every format name, for `--format-of` help and errors (imports no parser)."""
    return [name for name, _, _ in _FORMATS]


def sample_lines(sample: bytes) -> list[str]:
    """The first lines of a source that detection judges (decoded leniently)."""
    lines = sample.decode("utf-8", "replace").splitlines()
    if len(sample) >= 64 * 1024 and len(lines) > 1:
        lines = lines[:-1]  # the cut may have split the last line (unless it is the only one)
    return lines[:SNIFF_LINES]


def detect(sample: bytes) -> LogFormat:
    """The format of a source from its first bytes (decoded leniently)."""
    return detect_lines(sample_lines(sample))


def detect_lines(lines: list[str]) -> LogFormat:
    """The format of a source from its first lines (see `sample_lines`)."""
    formats = _load()
    fallback = formats[-1]  # generic
    best, best_share = fallback, 0.0
    for fmt in formats:
        if fmt.name == "generic":
            continue
        score = fmt.sniff(lines)
        if score > best_share:
            best, best_share = fmt, score
    return best if best_share >= MIN_SHARE else fallback


def line_format(line: str, formats: list[LogFormat] | None = None) -> LogFormat | None:
    """The first format (of `formats`, default every format but `generic`) that recognises
    `line` on its own, or None: a continuation line, or one no format knows."""
    if not line.strip():
        return None
    for fmt in _load() if formats is None else formats:
        if fmt.name != "generic" and fmt.sniff([line]) > 0:
            return fmt
    return None
