"""The Textual TUI: a thin shell over the same functions as the CLI (scan, follow, runbook).

Only this package (and `runbook/commands/tui.py`) imports Textual; the core never does
(`tests/tui/test_import_hygiene.py`).
"""
