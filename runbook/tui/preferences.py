"""What the TUI remembers between runs: the chosen theme, in the XDG state directory.

A small JSON file (`$XDG_STATE_HOME/pgrst-runbook/tui.json`); one that cannot be read or
written is ignored (the default theme, and a notice-free start: preferences never block).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

APP_NAME = "pgrst-runbook"


def preferences_path() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / APP_NAME / "tui.json"


def load_theme() -> str | None:
    try:
        data = json.loads(preferences_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    theme = data.get("theme") if isinstance(data, dict) else None
    return theme if isinstance(theme, str) and theme else None


def save_theme(theme: str) -> None:
    path = preferences_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"theme": theme}) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
