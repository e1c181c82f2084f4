"""Connection settings: DSN, API URL, admin URL, API key, NOTIFY channel; test and apply.

Prefilled from the settings the app loaded (flags > environment > config file). Secrets are
never shown: the DSN appears with its password masked (left as it is, the real one is kept) and
the API key is a password field. "Test connection" runs read-only checks in a worker.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Static

from runbook.config import Settings, default_config_path
from runbook.errors import ConfigError
from runbook.redact import MASK, redact_dsn
from runbook.tui.connection_check import CheckLine, check_connection
from runbook.tui.literal import literal

FIELDS = (
    ("dsn", "PostgreSQL DSN", "postgresql://user:password@host:5432/db (empty: PG* variables)"),
    ("api_url", "API URL", "http://localhost:3000 (PostgREST root, or Supabase .../rest/v1)"),
    ("admin_url", "Admin URL", "http://localhost:3001 (admin server: /ready, /schema_cache, /metrics)"),
    ("api_key", "API key", "service-role key or JWT (sent as apikey and Bearer)"),
    ("channel", "NOTIFY channel", "pgrst"),
)


def unmask_dsn(typed: str, original: str) -> str:
    """The DSN to use: the original when the masked form was left alone, else what was typed.

    Raises `ConfigError` when the typed DSN still holds the mask (the password was not retyped).
    """
    if typed == redact_dsn(original):
        return original
    if MASK in typed:
        raise ConfigError(
            "the DSN still contains the masked password",
            next_step="retype the password, or restore the DSN as it was",
        )
    return typed


class SettingsScreen(Screen[Settings | None]):
    """Dismisses with the new `Settings` (Apply) or None (Cancel)."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="settings-cancel"),
        Binding("ctrl+s", "apply", "Apply", id="settings-apply"),
        Binding("ctrl+t", "test", "Test connection", id="settings-test"),
    ]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def compose(self) -> ComposeResult:
        self.sub_title = "connection settings"
        s = self.settings
        values = {
            "dsn": redact_dsn(s.dsn),
            "api_url": s.api_url or "",
            "admin_url": s.admin_url or "",
            "api_key": s.api_key or "",
            "channel": s.channel,
        }
        yield Header()
        with VerticalScroll(id="settings-form"):
            yield Static(
                Text.assemble(
                    "Prefilled from flags, then environment (DATABASE_URL, POSTGREST_URL, "
                    "POSTGREST_ADMIN_URL, SUPABASE_SERVICE_ROLE_KEY), then ",
                    literal(default_config_path()),
                    ". Changes apply to this session of the app only.",
                ),
                id="settings-help",
            )
            for name, label, placeholder in FIELDS:
                with Horizontal(classes="field"):
                    yield Label(label, markup=False)
                    yield Input(
                        value=values[name],
                        placeholder=placeholder,
                        password=name == "api_key",
                        id=f"field-{name}",
                    )
            yield Static(id="settings-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Test connection (ctrl+t)", id="test")
                yield Button("Apply (ctrl+s)", id="apply", variant="primary")
                yield Button("Cancel (esc)", id="cancel")
            yield Static(id="settings-checks")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#field-dsn", Input).focus()

    def candidate(self) -> Settings:
        """The settings the form describes (raises `ConfigError` for bad values)."""

        def value(name: str) -> str:
            return self.query_one(f"#field-{name}", Input).value.strip()

        return self.settings.with_overrides(
            dsn=unmask_dsn(value("dsn"), self.settings.dsn),
            api_url=value("api_url") or None,
            admin_url=value("admin_url") or None,
            api_key=value("api_key") or None,
            channel=value("channel") or "pgrst",
        )

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        try:
            settings = self.candidate()
        except ConfigError as exc:
            self._show_error(exc)
            return
        self.dismiss(settings)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#test")
    def action_test(self) -> None:
        try:
            settings = self.candidate()
        except ConfigError as exc:
            self._show_error(exc)
            return
        self.query_one("#settings-error", Static).update("")
        self.query_one("#settings-checks", Static).update(Text("testing…", style="italic"))
        self.run_checks(settings)

    @work(thread=True, exclusive=True, group="connection-test", exit_on_error=False)
    def run_checks(self, settings: Settings) -> None:
        lines = check_connection(settings)
        self.app.call_from_thread(self._show_checks, lines)

    def _show_checks(self, lines: list[CheckLine]) -> None:
        out = Text()
        for line in lines:
            symbol = {True: "✔", False: "✖", None: "–"}[line.ok]
            word = {True: "ok", False: "FAILED", None: "not set"}[line.ok]
            out.append_text(
                Text.assemble((f"{symbol} {line.what}: {word}  ", "bold"), literal(line.detail), "\n")
            )
        self.query_one("#settings-checks", Static).update(out)

    def _show_error(self, exc: ConfigError) -> None:
        self.query_one("#settings-error", Static).update(
            Text.assemble(("✖ ", "bold"), literal(exc.one_line()))
        )
