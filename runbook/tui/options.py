"""What the TUI was started with: inputs, scan options, live mode, connection flags.

The command (`runbook/commands/tui.py`, `runbook/commands/replay.py`) turns flags into
`AppOptions`; tests build them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when used: the first frame must not wait for polars
    from runbook.config import Settings
    from runbook.ingest.options import ScanOptions


@dataclass
class AppOptions:
    """Everything the app needs to start.

    `settings` given (tests) wins over `settings_flags` (flags, loaded with env and config file).
    `stdin_fd` is where `-` is read from when the keyboard took over fd 0.
    """

    paths: list[str]
    scan: ScanOptions | None = None
    follow: bool = False
    replay_speed: float | None = None
    max_gap: float | None = 300.0
    settings: Settings | None = None
    settings_flags: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    stdin_fd: int | None = None
    migrations_dir: Path | None = None
    allow_write_probe: bool = False

    def scan_options(self) -> ScanOptions:
        """The scan options (defaults when none were given)."""
        if self.scan is None:
            from runbook.ingest.options import ScanOptions

            self.scan = ScanOptions()
        return self.scan

    @property
    def mode(self) -> str:
        """"replay", "follow" or "scan"."""
        if self.replay_speed is not None:
            return "replay"
        return "follow" if self.follow else "scan"

    def describe_inputs(self) -> str:
        """The inputs as one short line (for the header)."""
        names = ["stdin" if p == "-" else p for p in self.paths]
        text = ", ".join(names[:3])
        if len(names) > 3:
            text += f" +{len(names) - 3} more"
        return text
