"""Where the bundled recorded incidents (`sample_logs/`) are."""

from __future__ import annotations

from pathlib import Path


class SampleLogsMissing(FileNotFoundError):
    pass


def sample_logs_dir() -> Path:
    """`sample_logs` (relative, as shown and reported) when run from a checkout, else the one
    beside the installed sources."""
    for candidate in (Path("sample_logs"), Path(__file__).resolve().parents[1] / "sample_logs"):
        if candidate.is_dir():
            return candidate
    raise SampleLogsMissing(
        "sample_logs/ not found: run from the project's folder, or give log paths explicitly"
    )
