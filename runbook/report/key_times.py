"""An incident's key times (impact start, detection, mitigation, resolution), the intervals
between them, each with its definition and basis, and its severity by a stated rule.

- `key_times(incident, view, cause)`: the points and time to detect / mitigate / resolve;
- `severity(count, seconds)`: a SEV level and the rule that produced it."""

from __future__ import annotations

from typing import Any

from runbook.diagnosis.verdicts import NOT_FIXED_BY_RELOAD
from runbook.events import parse_ts
from runbook.report.findings import Cause, JournalView, seconds_between, span, where

SEVERITY_RULE = "SEV1 from 1000 failed requests or 60 min, SEV2 from 100 or 15 min, else SEV3"


def key_times(
    incident: dict[str, Any], view: JournalView | None, cause: Cause
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Key times and the intervals between them, each with a definition and its basis.

    A time nothing establishes has `ts: None` and a `prompt` for the person who fills it.
    """
    ctx = incident.get("context") or {}
    first = incident.get("first_seen")
    points = [
        {
            "name": "impact start",
            "ts": first,
            "definition": "the first failed request in the logs",
            "basis": where((incident.get("samples") or [None])[0]),
            "prompt": "when the first failure happened",
        },
        _detection(view),
        *_mitigation_and_resolution(incident, ctx, view, cause),
    ]
    by_name = {p["name"]: p["ts"] for p in points}
    intervals = [
        {
            "name": name,
            "seconds": seconds_between(first, by_name[end]),
            "definition": f"impact start to {end}",
        }
        for name, end in (
            ("time to detect", "detection"),
            ("time to mitigate", "mitigation"),
            ("time to resolve", "resolution"),
        )
    ]
    return points, intervals


def _detection(view: JournalView | None) -> dict[str, Any]:
    point = {
        "name": "detection",
        "ts": None,
        "definition": "the earliest recorded response: the start of the runbook session",
        "basis": None,
        "prompt": "when and how the failures were noticed (alert, user report, dashboard)",
    }
    if view is not None and view.started:
        users = ", ".join(view.users) or "unknown"
        point.update(ts=view.started, basis=f"journal session {view.session} (by {users})")
    return point


def _mitigation_and_resolution(
    incident: dict[str, Any], ctx: dict[str, Any], view: JournalView | None, cause: Cause
) -> list[dict[str, Any]]:
    mitigation = {
        "name": "mitigation",
        "ts": None,
        "definition": "the schema cache load after which no failure appears",
        "basis": None,
        "prompt": "when the failures were stopped, and by what",
    }
    resolution = {
        "name": "resolution",
        "ts": None,
        "definition": "the later of the last failure and the mitigation; a passing verify step "
        "when the runbook ran",
        "basis": None,
        "prompt": "when the fix was confirmed",
    }
    if cause.effective_verdict in NOT_FIXED_BY_RELOAD:
        mitigation["definition"] = (
            "the fix of the client or the database (a reload does not fix this verdict)"
        )
    elif ctx.get("stopped_after_reload"):
        load = (
            ctx["first_load_after_first_error"]
            if ctx.get("errors_after_load") == 0
            else ctx["last_load"]
        )
        mitigation.update(ts=load["ts"], basis=where(load))
    elif view is not None and view.find("verify", ("ok",)):
        reloads = view.find("reload", ("sent", "ok", "manual"))
        if reloads:
            reload = reloads[0]
            mitigation.update(
                ts=reload.ts,
                definition="the runbook's reload, which the verify step confirmed",
                basis=f"journal #{reload.seq}",
            )
    verified = view.find("verify", ("ok",)) if view is not None else []
    if verified:
        resolution.update(ts=verified[-1].ts, basis=f"journal #{verified[-1].seq}")
    elif mitigation["ts"] is not None:
        last = incident.get("last_seen")
        later = max((t for t in (last, mitigation["ts"]) if parse_ts(t)), key=parse_ts)  # type: ignore[arg-type]
        resolution.update(
            ts=later, basis=mitigation["basis"] if later == mitigation["ts"] else "last failure"
        )
    return [mitigation, resolution]


def severity(count: int, seconds: float | None) -> tuple[str, str]:
    """A SEV level from the failed requests and the impact duration, and how it was derived."""
    minutes = (seconds or 0) / 60
    if count >= 1000 or minutes >= 60:
        level = "SEV1"
    elif count >= 100 or minutes >= 15:
        level = "SEV2"
    else:
        level = "SEV3"
    basis = f"{count} failed request(s) over {span(seconds)}; rule: {SEVERITY_RULE}"
    return level, basis
