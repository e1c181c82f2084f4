"""Command palette: the main actions, offered only when they can run right now.

The app says what is valid (`RunbookApp.palette_actions()`); this provider only lists and
matches them, so the palette never offers "Reload" without an incident, or "Stop reading"
after the scan ended.
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class RunbookCommands(Provider):
    """Lists `(name, help, callback)` from the app's current state."""

    def _actions(self):  # -> list[tuple[str, str, Callable[[], object]]]
        app = self.app
        actions = getattr(app, "palette_actions", None)
        return actions(self.screen) if actions else []

    async def discover(self) -> Hits:
        for name, help_text, callback in self._actions():
            yield DiscoveryHit(name, partial(callback), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._actions():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), partial(callback), text=name, help=help_text)
