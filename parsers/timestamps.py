"""Timestamp expressions shared by the parsers. Every result is a UTC `Datetime("us", "UTC")`."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from runbook.events import TS_TYPE

# Times outside this window are no real log's (a clock at year 1, a `9999-12-31` placeholder,
# an epoch in the wrong unit). The scanner counts such lines as skipped: Python's datetime and
# the arithmetic done on event times downstream cannot carry them.
TS_MIN = datetime(1900, 1, 1, tzinfo=UTC)
TS_MAX = datetime(2200, 1, 1, tzinfo=UTC)
# What polars' epoch conversion can hold without overflowing (years 1 .. 9999), in microseconds.
_EPOCH_FLOOR_US = -62_135_596_800 * 10**6
_EPOCH_CEIL_US = 253_402_300_799 * 10**6

# Unambiguous zone abbreviations PostgreSQL prints for common `log_timezone` settings.
ZONE_ABBREVIATIONS: dict[str, str] = {
    "WET": "+00:00", "WEST": "+01:00", "BST": "+01:00", "CET": "+01:00", "CEST": "+02:00",
    "EET": "+02:00", "EEST": "+03:00", "MSK": "+03:00", "EST": "-05:00", "EDT": "-04:00",
    "CST": "-06:00", "CDT": "-05:00", "MST": "-07:00", "MDT": "-06:00", "PST": "-08:00",
    "PDT": "-07:00", "AKST": "-09:00", "AKDT": "-08:00", "HST": "-10:00", "JST": "+09:00",
    "KST": "+09:00", "HKT": "+08:00", "SGT": "+08:00", "AEST": "+10:00", "AEDT": "+11:00",
    "ACST": "+09:30", "ACDT": "+10:30", "AWST": "+08:00", "NZST": "+12:00", "NZDT": "+13:00",
}


def aware(text: pl.Expr, fmt: str) -> pl.Expr:
    """Parse text that carries its own offset (`%z` in `fmt`), converted to UTC."""
    return text.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")


def naive(text: pl.Expr, fmt: str, tz: str) -> pl.Expr:
    """Parse text without a zone, taking it as local time in `tz` (default UTC)."""
    parsed = text.str.to_datetime(fmt, strict=False, time_unit="us")
    return parsed.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null").dt.convert_time_zone(
        "UTC"
    )


def iso(text: pl.Expr, tz: str) -> pl.Expr:
    """ISO-8601 with `T` or space, optional fraction, and `Z`, `+HH:MM`, `+HHMM` or no zone."""
    cleaned = text.str.strip_chars().str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
    cleaned = cleaned.str.replace(r"(T\d{2}:\d{2}:\d{2}),(\d+)", "${1}.${2}")
    # PostgreSQL's %m ends in a zone abbreviation (log_timezone): the common ones become their
    # offset; an unknown one is taken as `tz`.
    cleaned = cleaned.str.replace(r" ?(?:UTC|GMT|Z)$", "+00:00")
    abbrev = cleaned.str.extract(r" ([A-Z]{3,5})$", 1)
    offset = abbrev.replace_strict(ZONE_ABBREVIATIONS, default=None, return_dtype=pl.String)
    cleaned = (
        pl.when(offset.is_not_null())
        .then(pl.concat_str(cleaned.str.replace(r" [A-Z]{3,5}$", ""), offset))
        .otherwise(cleaned.str.replace(r" [A-Za-z]{2,5}$", ""))
    )
    cleaned = cleaned.str.replace(r"([+-]\d{2})(\d{2})$", "${1}:${2}")
    cleaned = cleaned.str.replace(r"([+-]\d{2})$", "${1}:00")
    has_zone = cleaned.str.contains(r"[+-]\d{2}:\d{2}$")
    with_zone = cleaned.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us", time_zone="UTC")
    without = naive(cleaned, "%Y-%m-%dT%H:%M:%S%.f", tz)
    return pl.when(has_zone).then(with_zone).otherwise(without).cast(TS_TYPE)


def epoch(number: pl.Expr) -> pl.Expr:
    """Epoch seconds, milliseconds or microseconds (told apart by magnitude), to UTC."""
    value = number.cast(pl.Float64, strict=False)
    value = pl.when(value.is_finite()).then(value)  # nan / inf / 1e309 carry no time
    micros = (
        pl.when(value > 1e14)
        .then(value)
        .when(value > 1e11)
        .then(value * 1e3)
        .otherwise(value * 1e6)
    )
    # Clipped, not dropped: a huge value stays visibly out of range (`out_of_range`), instead
    # of overflowing inside polars (a Rust panic no `except Exception` catches).
    bounded = micros.clip(_EPOCH_FLOOR_US, _EPOCH_CEIL_US).cast(pl.Int64, strict=False)
    return pl.from_epoch(bounded, time_unit="us").dt.replace_time_zone("UTC")


def out_of_range(ts: pl.Expr) -> pl.Expr:
    """True where a parsed time lies outside [`TS_MIN`, `TS_MAX`) (false where it is null)."""
    return ts.is_not_null() & ((ts < pl.lit(TS_MIN)) | (ts >= pl.lit(TS_MAX)))
