"""Existing columns close to the key a client sent: case-only differences, the same words in
another case style, then similar names. Pure, and free of the server clients, so the
logs-only verdict can use it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import JaroWinkler


@dataclass(frozen=True)
class ColumnMatch:
    """An existing column close to the key the client sent, and why it is close."""

    name: str
    reason: str  # "differs only in case" | "same name in snake_case/camelCase" | "similar name"
    score: float  # 1.0 for case/normalised matches, else the similarity in [0, 1]


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
SIMILARITY_CUTOFF = 0.78


def snake(name: str) -> str:
    """`brushTeeth` -> `brush_teeth`, `HTTPCode` -> `http_code`, `pay-stack id` -> `pay_stack_id`."""
    text = _CAMEL.sub("_", name.strip())
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")


def _squash(name: str) -> str:
    return snake(name).replace("_", "")


def nearest_columns(key: str, columns: list[str], limit: int = 3) -> list[ColumnMatch]:
    """Existing columns closest to `key`: case-only differences first, then the same words in
    another case style (snake/camel, separators), then similar names (rapidfuzz)."""
    matches: list[ColumnMatch] = []
    taken: set[str] = set()

    def add(name: str, reason: str, score: float) -> None:
        if name not in taken and name != key:
            taken.add(name)
            matches.append(ColumnMatch(name, reason, round(score, 3)))

    for col in columns:
        if col.lower() == key.lower():
            add(col, "differs only in case", 1.0)
    for col in columns:
        if _squash(col) == _squash(key) and _squash(key):
            add(col, "same name in snake_case/camelCase", 1.0)
    scored = []
    for col in columns:
        if col in taken:
            continue
        a, b = _squash(key), _squash(col)
        score = max(JaroWinkler.normalized_similarity(a, b), fuzz.ratio(a, b) / 100)
        if score >= SIMILARITY_CUTOFF:
            scored.append((score, col))
    for score, col in sorted(scored, key=lambda x: (-x[0], x[1])):
        add(col, "similar name", score)
    return matches[:limit]
