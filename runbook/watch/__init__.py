"""Unattended monitoring: follow the logs, keep incident state, page with the logs' verdict.

`alerts` (what an alert says), `sinks` (how it is delivered: Alertmanager webhook v4,
PagerDuty Events v2, Slack, exec), `outbox` (the disk-backed delivery queue), `state` (what a
restart resumes from), `metrics` (Prometheus exposition) and `watcher` (the loop).
No Textual here.
"""
