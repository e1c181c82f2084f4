"""How to scan: the options every command and the TUI fill from their flags.

No polars here, so the TUI can build its options and paint before the engine is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from runbook.ingest.compressed import DEFAULT_MAX_RATIO
from runbook.ingest.stores import StoreSettings

CHUNK_BYTES = 16 * 1024 * 1024

# progress(bytes_done, bytes_total_or_None, current_source_name)
Progress = Callable[[int, int | None, str], None]


@dataclass
class ScanOptions:
    """How to scan. Every field has a sensible default; the CLI and TUI fill them from flags."""

    tz: str = "UTC"  # zone for timestamps that carry none
    format_of: dict[str, str] = field(default_factory=dict)  # path -> format name override
    default_format: str | None = None  # force one format for every source
    since: datetime | None = None
    until: datetime | None = None
    chunk_bytes: int = CHUNK_BYTES
    progress: Progress | None = None
    parallel: bool = True  # large plain files on every core (see runbook.ingest.parallel)
    store: StoreSettings = field(default_factory=StoreSettings)  # supabase://, clickhouse+http://
    # how many times its compressed size a compressed input may expand (a bomb is stopped)
    max_ratio: float = DEFAULT_MAX_RATIO
