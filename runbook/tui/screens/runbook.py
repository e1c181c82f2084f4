"""The guided runbook for one incident: inspect -> (write probe) -> reload -> verify -> prevent.

The checklist is drawn from the session's journal (`step_state`), so a restarted TUI shows
and continues what was done. Steps run in a thread worker; the reload and the write probe
first open a `ConfirmModal` with the exact SQL or HTTP request. Failures show inline, under
their step, with the key that retries them.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, Switch
from textual.worker import Worker, WorkerState

from runbook.diagnosis.verdicts import VERDICT_LABELS, Verdict
from runbook.errors import RunbookError
from runbook.evidence import Target, run_command
from runbook.incidents.grouping import Incident
from runbook.steps.journal_reader import JournalEntry
from runbook.steps.reload import PlannedAction
from runbook.steps.session import RunbookSession
from runbook.tui.formatting import plural
from runbook.tui.host import host
from runbook.tui.literal import literal, plain
from runbook.tui.sessions import Sessions
from runbook.tui.step_state import RUNNING, STEPS, StepState, next_hint, step_states
from runbook.tui.widgets.confirm_modal import ConfirmModal
from runbook.tui.widgets.keys import MotionScroll
from runbook.tui.widgets.step_view import StepView, step_extra

PREVENT_TEXT = (
    "install the auto-reload event trigger:  pgrst-runbook install-auto-reload\n"
    "           add to CI after migrations:  pgrst-runbook check   (exit 1 on cache drift)"
)


class StepDone(Message):
    """A step's worker finished (its outcome is in the journal)."""

    def __init__(self, step: str) -> None:
        super().__init__()
        self.step = step


class RunbookScreen(Screen[None]):
    """Runs the steps for `incident` through `sessions` (owned by the app)."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        Binding("i", "inspect", "Inspect", id="inspect"),
        Binding("w", "write_probe", "Write probe", id="write-probe"),
        # ctrl+r, not r: r opens the runbook on the other screens, so "r r" must not reload.
        Binding("ctrl+r", "reload", "Reload", id="reload"),
        Binding("v", "verify", "Verify", id="verify"),
        Binding("t", "toggle_dry_run", "Dry run", id="dry-run"),
        Binding("f", "finish", "Finish session", id="finish"),
        # Listed in the palette and the help; the footer keeps room for the steps.
        Binding("y", "copy_notify", "Copy NOTIFY", id="copy-notify", show=False),
        Binding("Y", "copy_command", "Copy command", id="copy-command", show=False),
    ]

    def __init__(self, incident: Incident, sessions: Sessions) -> None:
        super().__init__()
        self.incident = incident
        self.sessions = sessions
        self.session: RunbookSession | None = None
        self.running: str | None = None

    def compose(self) -> ComposeResult:
        self.sub_title = plain(f"runbook · {self.incident.table}.{self.incident.column}")
        yield Header()
        with Horizontal(id="rb-toolbar"):
            with Vertical(id="rb-about"):
                yield Static(id="rb-target")
                yield Static(id="rb-session")
                yield Static(id="rb-connection")
            yield Static("dry run (t)", id="dry-run-label", markup=False)
            yield Switch(value=self.sessions.dry_run, id="dry-run")
        with MotionScroll(id="rb-steps"):
            for number, step in enumerate(STEPS, 1):
                yield StepView(step, number)
        yield Static(id="rb-next")
        yield Footer()

    def on_mount(self) -> None:
        try:
            self.session = self.sessions.get(self.incident)
        except RunbookError as exc:  # a journal that cannot be read back: say so, start fresh
            host(self.app).show_error(exc)
        self.running = self.sessions.running.get(self._key)
        if self.running:  # started before this screen was opened (esc, then r again)
            self._waiting = self.set_interval(0.3, self._check_running)
        self.render_steps()
        self.query_one("#rb-steps").focus()

    @property
    def _key(self) -> tuple[str, str]:
        return (self.incident.table, self.incident.column)

    def _check_running(self) -> None:
        if self._key not in self.sessions.running:
            self._waiting.stop()
            self.running = None
            self.render_steps()
            host(self.app).refresh_verdicts()

    # -- rendering -----------------------------------------------------------------------

    def render_steps(self) -> None:
        entries, hidden = self.sessions.checklist(self.incident)
        states = step_states(entries)
        if self.running:
            for step in _steps_of(self.running):
                states[step].status = RUNNING
        planned = self._planned()
        for view in self.query(StepView):
            view.show(states[view.step], planned.get(view.step), step_extra(states[view.step]))
        self._render_target(entries, hidden)
        self._render_next(states)
        self.query_one("#rb-connection", Static).update(self._connection_text())
        self.refresh_bindings()

    def _planned(self) -> dict[str, str]:
        reload = self._plan_reload()
        target = self.sessions.target_for(self.incident)
        probe = RunbookSession.plan_write_probe(_PlanOnly(target))  # type: ignore[arg-type]
        rule = self.sessions.write_probe_rule(self.incident)
        return {
            "reload": reload.sql_or_http or "nothing: " + reload.description,
            "write_probe": (probe.sql_or_http or "")
            if rule.may_offer
            else f"nothing: {rule.reason}",
            "prevent": PREVENT_TEXT,
        }

    def _plan_reload(self) -> PlannedAction:
        if self.session is not None:
            return self.session.plan_reload()
        from runbook.steps.reload import plan_reload

        return plan_reload(self.sessions.settings)

    def _render_target(self, entries: list[JournalEntry], hidden: int = 0) -> None:
        inc = self.incident
        target = self.sessions.target_for(inc)
        session = self.session
        if session is not None:
            resumed = any(e.result == "resumed" for e in entries)
            where = f"session {session.journal.session}{' (resumed)' if resumed else ''}"
        else:
            where = "no session yet: the first step starts one (journalled)"
        if hidden:
            where += f" · {plural(hidden, 'result')} of other connection settings hidden"
        self.query_one("#rb-target", Static).update(
            Text.assemble(
                literal(str(target), style="bold"), f" · {plural(inc.count, 'failed request')}"
            )
        )
        self.query_one("#rb-session", Static).update(literal(where, style="dim"))

    def _render_next(self, states: dict[str, StepState]) -> None:
        hint = next_hint(states, self.running)
        if self.running == "verify":
            deadline = self.sessions.settings.verify_deadline
            hint = f"verifying: polls the cache, counter and logs for up to {deadline:g} s…"
        self.query_one("#rb-next", Static).update(Text(hint, style="bold"))

    def _connection_text(self) -> Text:
        s = self.sessions.settings
        from runbook.servers.db import db_target

        db = str(db_target(s.dsn)) if s.dsn else "libpq defaults (PG* variables)"
        return Text.assemble(
            ("db ", "dim"),
            literal(db),
            (" · api ", "dim"),
            literal(s.api_url or "-"),
            (" · admin ", "dim"),
            literal(s.admin_url or "-"),
        )

    # -- actions -------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("inspect", "write_probe", "reload", "verify", "finish"):
            if self.running:
                return None  # shown, greyed out: one step at a time
            if action == "finish":
                return self.session is not None
        return True

    def action_inspect(self) -> None:
        self._start("inspect", None)

    def action_verify(self) -> None:
        self._start("verify", None)

    def action_write_probe(self) -> None:
        rule = self.sessions.write_probe_rule(self.incident)
        if not rule.may_offer:  # the rule `run` and verify follow: nothing asked, nothing sent
            self.notify(f"write probe {rule.reason}", severity="warning", markup=False)
            return
        target = self.sessions.target_for(self.incident)
        plan = RunbookSession.plan_write_probe(_PlanOnly(target))  # type: ignore[arg-type]
        self._confirm("write_probe", plan, "Send the write probe?")

    def action_reload(self) -> None:
        plan = self._plan_reload()
        warning = ""
        verdict = step_states(self.sessions.checklist(self.incident)[0])["diagnose"].verdict
        if verdict and verdict != Verdict.STALE_CACHE:
            warning = (
                f"the verdict is {VERDICT_LABELS.get(verdict, verdict)}: a reload is not expected "
                "to fix this (it is harmless)"
            )
        elif not verdict:
            warning = "not inspected yet: press i first to know whether a reload can help"
        self._confirm("reload", plan, "Reload PostgREST's schema cache?", warning)

    def action_toggle_dry_run(self) -> None:
        switch = self.query_one("#dry-run", Switch)
        switch.value = not switch.value

    def copy_texts(self) -> list[tuple[str, str]]:
        """What can be copied for this incident: (what it is, the text), real names filled in."""
        inc = self.incident
        out: list[tuple[str, str]] = []
        plan = self._plan_reload()
        if plan.sql_or_http:
            out.append(("the reload statement" if plan.method == "notify" else "the reload call",
                        plan.sql_or_http + (";" if plan.method == "notify" else "")))
        out.append(("the run command", run_command(inc.table, inc.column, inc.schema)))
        return out

    def _copy(self, label: str, text: str) -> None:
        self.app.copy_to_clipboard(text)
        self.notify(f"{label} copied (OSC 52): {plain(text)}", markup=False)

    def action_copy_notify(self) -> None:
        label, text = self.copy_texts()[0]
        self._copy(label, text)

    def action_copy_command(self) -> None:
        label, text = self.copy_texts()[-1]
        self._copy(label, text)

    def action_finish(self) -> None:
        self.sessions.finish(self.incident)
        self.session = None
        self.notify("session finished and journalled; the next step starts a new one", markup=False)
        self.render_steps()
        host(self.app).refresh_verdicts()

    @on(Switch.Changed, "#dry-run")
    def _dry_run_changed(self, event: Switch.Changed) -> None:
        self.sessions.set_dry_run(event.value)
        self.notify(
            "dry run on: reload and write probe are recorded, not run"
            if event.value
            else "dry run off: confirmed actions will run",
            markup=False,
        )
        self.render_steps()

    def _confirm(self, step: str, plan: PlannedAction, question: str, warning: str = "") -> None:
        dry = self.sessions.dry_run
        if plan.sql_or_http is None:  # manual: the operator does it, then says so
            description = f"{plan.description}\n\n{plan.instructions}"
            label = "I have done it"
        else:
            description = plan.description
            label = "Record dry run" if dry else "Run it"
        if dry:
            warning = (warning + "\n" if warning else "") + "dry run: nothing will be run"

        def answered(confirmed: bool | None) -> None:
            self._start(step, bool(confirmed))

        self.app.push_screen(
            ConfirmModal(question, description, plan.sql_or_http, confirm_label=label, warning=warning),
            answered,
        )

    def _start(self, step: str, confirmed: bool | None) -> None:
        if self.running or self._key in self.sessions.running:
            return
        try:
            self.session = self.sessions.get_or_create(self.incident)
        except RunbookError as exc:
            host(self.app).show_error(exc)
            return
        self.running = step
        self.render_steps()
        self.run_step(step, confirmed)

    @work(thread=True, exclusive=True, group="runbook", exit_on_error=False)
    def run_step(self, step: str, confirmed: bool | None) -> None:
        self.sessions.run_step(self.incident, step, bool(confirmed))
        self.post_message(StepDone(step))

    def on_step_done(self, message: StepDone) -> None:
        self.running = None
        self.render_steps()
        host(self.app).refresh_verdicts()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Errors also bubble to the app (one error modal); here the checklist just stops spinning.
        if event.worker.group == "runbook" and event.state in (
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            self.running = None
            self.render_steps()


class _PlanOnly:
    """Just enough of a session for `plan_write_probe` (a pure function of the target)."""

    def __init__(self, target: Target) -> None:
        self.target = target


def _steps_of(running: str) -> tuple[str, ...]:
    return ("inspect", "diagnose") if running == "inspect" else (running,)


