"""Durations like `8s`, `5m`, `2h`, `1d` (a bare number is seconds)."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds in `text`; raises ValueError for anything else."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 8s, 5m, 2h)")
    amount, unit = match.groups()
    return float(amount) * _SECONDS[unit]
