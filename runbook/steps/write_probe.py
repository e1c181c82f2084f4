"""The one rule for the write probe, for the CLI's `run`, the TUI's `w` and verify alike.

The write probe (`POST /T?columns=C`, body `[]`, `Prefer: tx=rollback`) is the one request
that reaches the table's INSERT path: statement-level triggers still fire. So it is sent only
when the operator opted in for the run (`--allow-write-probe`), there is an API to send it to,
and they consented to it in this session; verify repeats it only on the same terms.
`write_probe_rule` says which of these holds, in the words every shell shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from runbook.steps.journal_reader import JournalEntry

ALLOW_FLAG = "--allow-write-probe"
NOT_OPTED_IN = f"not allowed (use {ALLOW_FLAG})"
NO_API = "no API URL configured"
NOT_CONSENTED = "not consented to in this session (the probe step was declined or not run)"


@dataclass(frozen=True)
class WriteProbeRule:
    """`may_offer`: the probe may be proposed (asking first); `may_send`: it may be sent now
    without asking (verify), as consent was given; `reason`: why not, when one is false."""

    may_offer: bool
    may_send: bool
    reason: str


def write_probe_rule(*, opted_in: bool, has_api: bool, consented: bool) -> WriteProbeRule:
    """Whether the write probe may be offered and sent: opted in, an API, consent."""
    if not opted_in:
        return WriteProbeRule(False, False, NOT_OPTED_IN)
    if not has_api:
        return WriteProbeRule(False, False, NO_API)
    if not consented:
        return WriteProbeRule(True, False, NOT_CONSENTED)
    return WriteProbeRule(True, True, "")


def consented_in(entries: Iterable[JournalEntry]) -> bool:
    """Whether the journal's latest write probe was sent (consent given in that session): a
    resumed session keeps it, so verify decides as it did before the restart."""
    probes = [e for e in entries if e.step == "write_probe"]
    return bool(probes) and probes[-1].status in ("ok", "failed")
