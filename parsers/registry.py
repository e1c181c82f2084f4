"""The known log formats, in sniffing order, and format detection.

Detection reads the first lines of a source and asks every format what share of them it
recognises; the best share wins (ties go to the earlier, more specific format). Below
`MIN_SHARE` the source falls back to `generic`, which still finds any embedded error body.
"""

from __future__ import annotations

import importlib

from parsers.base import LogFormat

# module name -> class name; most specific first.
_FORMATS: tuple[tuple[str, str], ...] = (
    ("postgrest_docker", "PostgrestDockerFormat"),
    ("postgrest_stderr", "PostgrestStderrFormat"),
    ("postgrest_access", "PostgrestAccessFormat"),
    ("postgres_csvlog", "PostgresCsvlogFormat"),
    ("postgres_jsonlog", "PostgresJsonlogFormat"),
    ("postgres_log", "PostgresLogFormat"),
    ("supabase_export", "SupabaseJsonExportFormat"),
    ("supabase_export", "SupabaseCsvExportFormat"),
    ("json_lines", "JsonLinesFormat"),
    ("python_logging", "PythonLoggingFormat"),
    ("node_console", "NodeConsoleFormat"),
    ("generic", "GenericFormat"),
)

MIN_SHARE = 0.3
SNIFF_LINES = 200


def _load() -> list[LogFormat]:
    formats: list[LogFormat] = []
    for module_name, class_name in _FORMATS:
        try:
            module = importlib.import_module(f"parsers.{module_name}")
        except ModuleNotFoundError as exc:  # TODO(ingestion): strict once every module lands
            if exc.name != f"parsers.{module_name}":
                raise
            continue
        formats.append(getattr(module, class_name)())
    return formats


FORMATS: list[LogFormat] = _load()
BY_NAME: dict[str, LogFormat] = {fmt.name: fmt for fmt in FORMATS}


def names() -> list[str]:
    """Every format name, for `--format-of` help and errors."""
    return [fmt.name for fmt in FORMATS]


def detect(sample: bytes) -> LogFormat:
    """The format of a source from its first bytes (decoded leniently)."""
    text = sample.decode("utf-8", "replace")
    lines = text.splitlines()
    if len(sample) >= 64 * 1024 and len(lines) > 1:
        lines = lines[:-1]  # the cut may have split the last line (unless it is the only one)
    lines = lines[:SNIFF_LINES]
    best, best_share = BY_NAME["generic"], 0.0
    for fmt in FORMATS:
        if fmt.name == "generic":
            continue
        score = fmt.sniff(lines)
        if score > best_share:
            best, best_share = fmt, score
    return best if best_share >= MIN_SHARE else BY_NAME["generic"]
