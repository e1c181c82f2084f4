"""The runbook checklist as the journal records it (no Textual: tests read it directly).

The runbook screen renders these states and nothing else, so what it shows after a restart is
exactly what the journal says was done: resuming is reading.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runbook.diagnosis.verdicts import Verdict
from runbook.steps.journal_reader import JournalEntry, entries_of

Entries = Sequence[JournalEntry | Mapping[str, Any]]  # a live journal's, a file's, a test's

NOT_RUN = "not_run"
RUNNING = "running"

# checklist order; `diagnose` is run together with `inspect` but recorded on its own
STEPS = ("inspect", "diagnose", "write_probe", "reload", "verify", "prevent")

# status -> (symbol, word): never colour alone
STATUS_LABELS = {
    NOT_RUN: ("○", "not run"),
    RUNNING: ("…", "running"),
    "ok": ("✔", "done"),
    "sent": ("✔", "sent"),
    "manual": ("✋", "done by hand"),
    "partial": ("◐", "partly done"),
    "failed": ("✖", "failed"),
    "declined": ("–", "declined, nothing changed"),
    "dry_run": ("◌", "dry run, nothing changed"),
    "not_allowed": ("–", "not allowed, nothing sent"),
}


@dataclass
class StepState:
    """The last journal entry of one step, or NOT_RUN."""

    name: str
    status: str = NOT_RUN
    action: str | None = None
    result: str | None = None
    error: dict[str, str] | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    verdict: str | None = None
    ts: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def symbol(self) -> str:
        return STATUS_LABELS.get(self.status, ("·", self.status))[0]

    @property
    def word(self) -> str:
        return STATUS_LABELS.get(self.status, ("·", self.status))[1]

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "partial")


def step_states(entries: Entries) -> dict[str, StepState]:
    """Each checklist step's latest state from a session's journal entries."""
    states = {name: StepState(name) for name in STEPS}
    for entry in entries_of(entries):
        if entry.step not in states:
            continue
        states[entry.step] = StepState(
            name=entry.step,
            status=entry.status or NOT_RUN,
            action=entry.action,
            result=entry.result,
            error=entry.error,
            evidence=list(entry.evidence),
            verdict=entry.verdict,
            ts=entry.ts,
            data=dict(entry.data),
        )
    return states


CONNECTION = "connection"  # data key of the "session" entries that name the settings in use


def connection_fingerprint(settings: Any) -> str:
    """The connection a result was gathered with: database target (never its password), API
    and admin URLs. Two settings with the same fingerprint ask the same servers."""
    from runbook.servers.db import db_target

    db = str(db_target(settings.dsn)) if settings.dsn else "libpq defaults"
    return f"db {db} · api {settings.api_url or '-'} · admin {settings.admin_url or '-'}"


def current_results(entries: Entries, connection: str) -> tuple[list[JournalEntry], int]:
    """The entries gathered with `connection`, and how many step results were left out.

    A journal says which settings were in use by "session" entries with `data.connection`;
    entries before the first such entry (older journals) are kept."""
    kept: list[JournalEntry] = []
    hidden = 0
    current: str | None = None
    for entry in entries_of(entries):
        if entry.step == "session" and CONNECTION in entry.data:
            current = str(entry.data[CONNECTION])
        if entry.step != "session" and current is not None and current != connection:
            hidden += 1
            continue
        kept.append(entry)
    return kept, hidden


OUTCOME_LABELS = {"fixed": "fixed ✔", "not_fixed": "not fixed ✖", "running": "running…"}


STEP_NAMES = {
    "inspect": "inspect",
    "diagnose": "diagnose",
    "write_probe": "write probe",
    "reload": "reload",
    "verify": "verify",
    "prevent": "prevent",
}


def next_hint(states: dict[str, StepState], running: str | None) -> str:
    """One line saying what to do next, from the checklist state."""
    if running:
        return f"running {STEP_NAMES[running]}… (the app stays usable; esc goes back)"
    diagnose, reload, verify = states["diagnose"], states["reload"], states["verify"]
    if states["inspect"].status == "failed":
        return "next: fix the connection (c), then press i to inspect again"
    if not diagnose.verdict:
        return "next: press i to inspect (read-only) and get a verdict"
    if verify.status == "ok":
        return "verified. next: prevent it (see step 6), then f to finish the session"
    if reload.status == "intent":
        return "a reload was interrupted while sending: press v to verify, or r to send it again"
    if diagnose.verdict == Verdict.STALE_CACHE and reload.status not in ("sent", "manual"):
        return "next: press ctrl+r to reload the schema cache (you will be asked first)"
    if reload.status in ("sent", "manual"):
        return "next: press v to verify that the cache now has the column"
    if diagnose.verdict == Verdict.ALREADY_RESOLVED:
        return "the cache already has the column: press v to verify, then f to finish"
    return "a reload will not fix this verdict: follow the suggestions under Diagnose"
