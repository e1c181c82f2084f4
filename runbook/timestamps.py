"""Timestamps as the scan document and the journal write them (ISO-8601 text).

No polars here: the TUI imports this before its first frame.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["parse_ts"]


def parse_ts(value: object) -> datetime | None:
    """An ISO-8601 text (as the scan document and the journal write it) as a datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
