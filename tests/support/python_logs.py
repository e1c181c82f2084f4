"""Log files written by Python's own `logging`, as an application with basicConfig writes them."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

BASIC_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def write_log(path: Path, records: Iterable[tuple[int, str]], logger: str) -> None:
    """Each (level, message) of `records` logged to `path` by a logger named `logger`."""
    log = logging.getLogger(logger)
    log.propagate = False
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(BASIC_FORMAT))
    log.addHandler(handler)
    try:
        for level, message in records:
            log.log(level, message)
    finally:
        handler.close()
        log.removeHandler(handler)
