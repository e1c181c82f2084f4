"""What the screens ask of the app, typed: the screens import no app (the app imports them).

`host(self.app)` in a screen is the app as a `Host`; a screen run under another app (a test's
bare `App`) fails there with a clear TypeError instead of an AttributeError somewhere later.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from runbook.incidents.grouping import Incident


@runtime_checkable
class Host(Protocol):
    """The app's side of the screens: moving between them, errors, and the live ingest."""

    ingesting: bool

    def open_detail(self, incident: Incident) -> None: ...

    def open_runbook(self, incident: Incident) -> None: ...

    def stop_ingest(self) -> None: ...

    def show_error(self, error: BaseException) -> None: ...

    def refresh_verdicts(self) -> None: ...


def host(app: object) -> Host:
    if not isinstance(app, Host):
        raise TypeError(f"{type(app).__name__} is not the pgrst-runbook app")
    return app
