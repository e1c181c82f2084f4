"""Where alerts go: `--notify` URLs, the payload each receiver expects, one delivery attempt.

- `http(s)://host/path`: Alertmanager's webhook format, version 4;
- `pagerduty://ROUTING_KEY` (events.pagerduty.com) and `pagerduty+http(s)://ROUTING_KEY@host:port`
  (another host, e.g. a test receiver): Events API v2 trigger/resolve with a stable dedup_key;
- `slack+https://hooks.slack.com/services/...` (`slack+http://` too): incoming webhook, text+blocks;
- `exec:COMMAND`: the alert JSON on the command's stdin (exit 0 = delivered).

Routing keys and webhook paths are credentials: `Sink.name` masks them, and so does every
error message delivery produces.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from runbook import __version__
from runbook.watch.alerts import ALERTNAME, DRILL_LABEL, DRILL_NOTE, FIRING, ZERO_TIME, Alert

PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
TIMEOUT_SECONDS = 10.0
MAX_RETRY_AFTER = 3600.0
MASK = "***"


class SinkError(ValueError):
    """A `--notify` value that names no known receiver."""


@dataclass(frozen=True)
class Sink:
    kind: str  # webhook | pagerduty | slack | exec
    target: str  # the URL posted to, or the command line
    name: str  # what logs and metrics call it: credentials masked
    routing_key: str = ""
    change_events: bool = True  # PagerDuty: also send Change Events (`?change_events=0`: not)

    @property
    def secrets(self) -> tuple[str, ...]:
        parts = [self.routing_key] if self.routing_key else []
        if self.kind in ("webhook", "slack"):
            split = urlsplit(self.target)
            parts += [split.path + ("?" + split.query if split.query else "")]
        return tuple(p for p in parts if len(p) > 1)

    def mask(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text


def parse_sink(spec: str) -> Sink:
    """A `--notify` value as a `Sink`; raises `SinkError` naming what is wrong (masked)."""
    if spec.startswith("exec:"):
        command = spec[len("exec:"):].strip()
        argv = shlex.split(command) if command else []
        if not argv:
            raise SinkError("exec: needs a command, e.g. exec:'logger -t pgrst'")
        return Sink("exec", command, f"exec:{os.path.basename(argv[0])}")
    split = urlsplit(spec)
    scheme = split.scheme.lower()
    if scheme in ("http", "https"):
        if not split.hostname:
            raise SinkError(f"{scheme}:// needs a host")
        return Sink("webhook", spec, _masked_url(scheme, split.netloc, split.path))
    if scheme == "pagerduty":
        key = split.netloc or split.path.lstrip("/")
        if not key:
            raise SinkError("pagerduty:// needs a routing key: pagerduty://ROUTING_KEY")
        changes = _change_events(scheme, split.query)
        return Sink("pagerduty", PAGERDUTY_URL, "pagerduty://" + MASK, routing_key=key, change_events=changes)
    if scheme in ("pagerduty+http", "pagerduty+https"):
        key = split.username or ""
        if not key or not split.hostname:
            raise SinkError(f"{scheme}:// needs ROUTING_KEY@host[:port]")
        host = split.hostname + (f":{split.port}" if split.port else "")
        base = f"{scheme.split('+')[1]}://{host}"
        changes = _change_events(scheme, split.query)
        return Sink(
            "pagerduty", base + "/v2/enqueue", f"{scheme}://{MASK}@{host}", routing_key=key,
            change_events=changes,
        )
    if scheme in ("slack+http", "slack+https"):
        real = scheme.split("+")[1]
        if not split.hostname:
            raise SinkError(f"{scheme}:// needs the webhook URL, e.g. slack+https://hooks.slack.com/services/...")
        url = f"{real}://{split.netloc}{split.path}" + (f"?{split.query}" if split.query else "")
        return Sink("slack", url, _masked_url(scheme, split.netloc, split.path))
    shown = spec.split("://", 1)[0] + "://..." if "://" in spec else "(not a URL)"
    raise SinkError(
        f"unknown --notify {shown}: use http(s)://, pagerduty://KEY, slack+https://, or exec:COMMAND"
    )


CHANGE_EVENTS_OPTION = "change_events"
_YES, _NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _change_events(scheme: str, query: str) -> bool:
    """`?change_events=0` turns a PagerDuty sink's Change Events off (default on). Any other
    option is an error: a misspelt one would otherwise be ignored without a word."""
    from urllib.parse import parse_qsl

    on = True
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name != CHANGE_EVENTS_OPTION:
            raise SinkError(f"{scheme}:// takes one option, ?{CHANGE_EVENTS_OPTION}=0|1, not ?{name}=")
        if value.lower() not in _YES + _NO:
            raise SinkError(f"{scheme}://...?{CHANGE_EVENTS_OPTION}= takes 0 or 1, not {value!r}")
        on = value.lower() in _YES
    return on


def _masked_url(scheme: str, netloc: str, path: str) -> str:
    host = netloc.rsplit("@", 1)[-1]
    return f"{scheme}://{host}/{MASK}" if path.strip("/") else f"{scheme}://{host}"


# -- payloads ---------------------------------------------------------------------------------


def alert_annotations(alert: Alert) -> dict[str, str]:
    out = {
        "summary": alert.summary,
        "description": alert.description,
        "next_step": alert.next_step,
        "next_command": alert.next_command,
        "checked_by": alert.checked_by,
    }
    if alert.not_checked:
        out["not_checked"] = "; ".join(alert.not_checked)
    if alert.auto_reload:
        out["auto_reload"] = alert.auto_reload
    if alert.drill:
        out[DRILL_LABEL] = DRILL_NOTE
    return out


def alertmanager_body(alert: Alert) -> dict[str, object]:
    """Alertmanager's webhook payload (version 4) carrying one alert."""
    labels = alert.labels()
    # Grouped by the incident, not its verdict: a changed verdict updates the same group.
    group = {k: v for k, v in labels.items() if k != "verdict"}
    group_key = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in sorted(group.items())) + "}"
    firing = alert.status == FIRING
    return {
        "receiver": "pgrst-runbook",
        "status": alert.status,
        "version": "4",
        "truncatedAlerts": 0,
        "groupKey": group_key,
        "groupLabels": group,
        "commonLabels": labels,
        "commonAnnotations": alert_annotations(alert),
        "externalURL": "",
        "alerts": [
            {
                "status": alert.status,
                "labels": labels,
                "annotations": alert_annotations(alert),
                "startsAt": alert.starts_at,
                "endsAt": ZERO_TIME if firing or not alert.ends_at else alert.ends_at,
                "generatorURL": "",
                "fingerprint": alert.fingerprint,
            }
        ],
    }


SEVERITY = {
    "stale_cache": "critical",
    "reload_not_applied": "critical",
    "pending_migration": "error",
    "client_mismatch": "error",
    "table_missing": "error",
    "schema_not_exposed": "error",
    "already_resolved": "info",
}


def dedup_key(alert: Alert) -> str:
    """Stable per incident; a drill's key is its own (`drill-<run>:...`), so it never touches
    a real incident's page nor another drill's."""
    if alert.alertname != ALERTNAME:
        key = f"{alert.alertname}:{alert.fingerprint}"
    else:
        key = f"pgrst204:{alert.schema}.{alert.table}.{alert.column}"
        key = key if len(key) <= 240 else f"pgrst204:{alert.fingerprint}"
    if not alert.drill:
        return key
    return f"drill-{alert.drill_run}:{key}" if alert.drill_run else f"drill:{key}"


def pagerduty_event(alert: Alert, routing_key: str) -> dict[str, object]:
    """PagerDuty Events API v2: a trigger (also for updates: same dedup_key) or a resolve."""
    if alert.status != FIRING:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key(alert)}
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(alert),
        "payload": {
            "summary": alert.summary[:1024],
            "source": socket.gethostname() or "pgrst-runbook",
            "severity": "info" if alert.test else SEVERITY.get(alert.verdict, "warning"),
            "timestamp": alert.last_seen or alert.starts_at,
            "component": "postgrest",
            "group": alert.schema,
            "class": alert.alertname,
            "custom_details": {
                "verdict": alert.verdict,
                "confidence": alert.confidence,
                "count": alert.count,
                "first_seen": alert.first_seen,
                "endpoint": alert.endpoint,
                "nearest_columns": alert.nearest_columns,
                "next_command": alert.next_command,
                "next_step": alert.next_step,
                "checked_by": alert.checked_by,
                "not_checked": alert.not_checked,
                **({"auto_reload": alert.auto_reload} if alert.auto_reload else {}),
                **({DRILL_LABEL: True} if alert.drill else {}),
            },
        },
        "client": f"pgrst-runbook {__version__}",
    }


def slack_message(alert: Alert) -> dict[str, object]:
    """Slack incoming webhook: `text` (the notification) and Block Kit `blocks`."""
    head = ":white_check_mark: Resolved: " if alert.status != FIRING else ":rotating_light: "
    text = head + alert.summary
    fields = [
        f"*Verdict:* {alert.verdict} ({alert.confidence})",
        f"*Failed writes:* {alert.count}",
        f"*First seen:* {alert.first_seen or 'unknown'}",
        f"*Endpoint:* {alert.endpoint or 'unknown'}",
    ]
    if alert.nearest_columns:
        fields.append("*Nearest columns:* " + ", ".join(alert.nearest_columns))
    if alert.not_checked:
        fields.append("*Not checked:* " + "; ".join(alert.not_checked))
    if alert.auto_reload:
        fields.append("*Auto-reload:* " + alert.auto_reload)
    blocks: list[dict[str, object]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escape(text)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": _slack_escape(f)} for f in fields]},
    ]
    if alert.status == FIRING:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Next:* `" + _slack_escape(alert.next_command) + "`"},
            }
        )
    return {"text": text, "blocks": blocks}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def change_event(alert: Alert, routing_key: str) -> dict[str, object]:
    """PagerDuty Change Events (`POST /v2/change/enqueue`): shown beside incidents, no page."""
    details: dict[str, object] = {"kind": alert.alertname}
    if alert.drill:
        details[DRILL_LABEL] = True
    if alert.table:
        details.update(schema=alert.schema, table=alert.table, column=alert.column or None)
    if alert.endpoint:
        details["what"] = alert.endpoint
    return {
        "routing_key": routing_key,
        "payload": {
            "summary": alert.summary[:1024],
            "source": socket.gethostname() or "pgrst-runbook",
            "timestamp": alert.first_seen or alert.starts_at,
            "custom_details": details,
        },
    }


def change_url(target: str) -> str:
    """The Change Events endpoint beside an Events API v2 one (`.../v2/enqueue`)."""
    return target[: -len("/v2/enqueue")] + "/v2/change/enqueue" if target.endswith("/v2/enqueue") else target


def takes(sink: Sink, alert: Alert) -> bool:
    """Change Events go to PagerDuty sinks only (unless `?change_events=0`); every alert goes
    everywhere."""
    return not alert.change or wants_changes(sink)


def wants_changes(sink: Sink) -> bool:
    return sink.kind == "pagerduty" and sink.change_events


def body_for(sink: Sink, alert: Alert) -> dict[str, object]:
    if sink.kind == "pagerduty" and alert.change:
        return change_event(alert, sink.routing_key)
    if sink.kind == "pagerduty":
        return pagerduty_event(alert, sink.routing_key)
    if sink.kind == "slack":
        return slack_message(alert)
    if sink.kind == "webhook":
        return alertmanager_body(alert)
    return alert.to_dict()


# -- delivery ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One attempt: delivered, to be retried (after `retry_after` seconds if the receiver
    said), or refused for good (a 4xx other than 408/429: the message itself is wrong)."""

    delivered: bool
    retry: bool
    detail: str
    retry_after: float | None = None

    @property
    def label(self) -> str:
        if self.delivered:
            return "sent"
        if "429" in self.detail:
            return "rate_limited"
        return "retried" if self.retry else "failed"


def deliver(sink: Sink, alert: Alert, client: httpx.Client | None = None) -> Outcome:
    """One attempt to hand `alert` to `sink`. Never raises; details are masked."""
    try:
        if sink.kind == "exec":
            return _run_exec(sink, alert)
        return _post(sink, alert, client)
    except Exception as exc:  # delivery must never stop watching
        return Outcome(False, True, sink.mask(f"{type(exc).__name__}: {exc}"))


def _post(sink: Sink, alert: Alert, client: httpx.Client | None) -> Outcome:
    body = json.dumps(body_for(sink, alert), ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "User-Agent": f"pgrst-runbook/{__version__}"}
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
    try:
        url = change_url(sink.target) if alert.change else sink.target
        response = http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(False, True, sink.mask(f"{type(exc).__name__}: {exc}"))
    finally:
        if own:
            http.close()
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(True, False, f"HTTP {status}")
    retry_after = _retry_after(response.headers.get("Retry-After"))
    if status in (408, 429) or status >= 500:
        return Outcome(False, True, f"HTTP {status}", retry_after)
    return Outcome(False, False, f"HTTP {status}: {sink.mask(response.text[:200])}")


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), capped at an hour."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            from datetime import UTC, datetime

            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def _run_exec(sink: Sink, alert: Alert) -> Outcome:
    data = json.dumps(alert.to_dict(), ensure_ascii=False).encode()
    try:
        done = subprocess.run(
            shlex.split(sink.target), input=data, capture_output=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Outcome(False, True, f"{type(exc).__name__}: {exc}")
    if done.returncode == 0:
        return Outcome(True, False, "exit 0")
    return Outcome(False, True, f"exit {done.returncode}")
