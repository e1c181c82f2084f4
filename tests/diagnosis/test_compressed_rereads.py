"""The diagnosis re-reads lines of the logs (payload keys, PostgreSQL's HINT): it opens every
compression the scan reads, not gzip alone."""

from __future__ import annotations

import bz2
import gzip
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from runbook.diagnosis.log_facts import _lines_at
from runbook.diagnosis.payloads import payload_sightings

LINES = (
    b'{"level":"info","msg":"saving","body":{"memberId":7,"nickName":"ann"}}\n'
    b'ERROR:  column "nickName" of relation "members" does not exist\n'
    b'HINT:  Perhaps you meant to reference the column "members.nickname".\n'
)

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "plain": lambda data: data,
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "zst": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_payload_keys_and_hints_are_read_from_every_compression(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"app.log.{kind}"
    path.write_bytes(COMPRESSORS[kind](LINES))

    sightings = payload_sightings([path], "nickName")
    assert [s.keys for s in sightings] == [("memberId", "nickName")]
    assert sightings[0].where == f"{path}:1"
    assert "members.nickname" in _lines_at(str(path), 2)


def test_a_corrupt_compressed_file_reads_as_nothing(tmp_path: Path) -> None:
    path = tmp_path / "app.log.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(LINES)[:-9] + b"\x00" * 9)
    payload_sightings([path], "nickName")  # must not raise
    _lines_at(str(path), 2)
