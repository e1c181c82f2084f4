"""Command palette: the main actions, offered only when they can run right now.

`actions_for(app, screen)` says what is valid on that screen in the app's current state; the
provider only lists and matches it, so the palette never offers "Reload" without an incident,
or "Stop reading" after the scan ended.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from textual.screen import Screen

    from runbook.tui.app import RunbookApp

PaletteAction = tuple[str, str, Callable[[], object]]


def actions_for(app: RunbookApp, screen: Screen[Any]) -> list[PaletteAction]:
    """`(name, help, callback)` for every action that can run now on `screen`."""
    from runbook.tui.literal import plain
    from runbook.tui.screens.detail import DetailScreen
    from runbook.tui.screens.incidents import IncidentsScreen
    from runbook.tui.screens.runbook import RunbookScreen

    out: list[PaletteAction] = []
    if isinstance(screen, RunbookScreen):
        rb = screen
        if not rb.running:
            out += [
                ("Inspect and diagnose", "read-only checks, then a verdict", rb.action_inspect),
                ("Reload the schema cache…", "asks first, shows the exact action", rb.action_reload),
                ("Verify the fix", "poll until the cache has the column", rb.action_verify),
            ]
            if app.sessions.write_probe_rule(rb.incident).may_offer:  # as `run` offers it
                out.append(
                    ("Write probe…", "zero-row insert, rolled back; asks first", rb.action_write_probe)
                )
        out.append(("Toggle dry run", "record state-changing steps, run none", rb.action_toggle_dry_run))
        for label, text in rb.copy_texts():
            out.append((f"Copy {label}", plain(text), partial(rb._copy, label, text)))
        if not rb.running:
            out.append(("Finish the session", "journal its end; the next step starts anew", rb.action_finish))
    elif isinstance(screen, IncidentsScreen | DetailScreen):
        incident = screen.selected if isinstance(screen, IncidentsScreen) else screen.incident
        if incident is not None:
            name = plain(f"{incident.table}.{incident.column}")
            out += [
                (f"Open runbook for {name}", "inspect, reload, verify", partial(app.open_runbook, incident)),
                (f"Incident detail for {name}", "evidence and sample lines", partial(app.open_detail, incident)),
            ]
    if isinstance(screen, IncidentsScreen):
        out.append(("Filter incidents", "by table, column, endpoint or source", screen.action_focus_filter))
    if app.ingesting:
        out.append(("Stop reading", "cancel the scan or stop following/replaying", app.stop_ingest))
    out.append(("Connection settings", "DSN, API URL, admin URL, key; test", app.action_settings))
    if isinstance(screen, DetailScreen) and screen.incident.samples:
        out.append(("Copy the first sample line", "the log line, as logged", screen.action_copy_sample))
    report = sys.modules.get("runbook.tui.screens.report")  # not loaded: not on screen
    on_report = report is not None and isinstance(screen, report.ReportScreen)
    if app.incidents and not on_report and app.current_incident() is not None:
        out.append(("Incident report", "preview and save the Markdown report", app.action_report))
    out.append(("Help", "keys and what the screens mean", app.action_help))
    return out


class RunbookCommands(Provider):
    """Lists the app's valid actions (`actions_for`) for the screen under the palette."""

    def _actions(self) -> list[PaletteAction]:
        actions = getattr(self.app, "palette_actions", None)
        return actions(self.screen) if actions else []

    async def discover(self) -> Hits:
        for name, help_text, callback in self._actions():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._actions():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)
