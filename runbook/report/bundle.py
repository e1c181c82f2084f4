"""The support bundle: what support asks for, gathered up front, redacted, in one .tar.gz.

`collect(...)` gathers, each part optional and each failure written down instead of raised:

- `scan.json`: the `scan --format json` document (given, or scanned from `--logs`);
- `diagnosis.json`: the logs-only verdict and confidence per incident (`runbook.diagnosis.from_logs`);
- `journal/<session>.jsonl`: a runbook session's journal;
- `versions.json`: PostgreSQL's `version()`; PostgREST's from its `Server` header or OpenAPI
  `info.version` where visible, and from its startup lines in the logs;
- `plumbing.json`: the reload-plumbing checks (`runbook.servers.plumbing`) and their problems;
- `history.json`: earlier runbook sessions on the same tables (`runbook.steps.history`);
- `excerpts/<incident>.txt`: log lines around each incident's errors, DDL, reloads and loads.

Every string goes through `runbook.redact.redact` (JSON value by value). The manifest
(`MANIFEST.md`, `manifest.json`) lists each file with its size, SHA-256 and what was redacted
in it, and what could not be gathered. `write_bundle` writes atomically and never overwrites
an existing file unless `force`.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from runbook import __version__
from runbook.atomic_write import write_atomic
from runbook.redact import MASK, redact

# What a secret looked like, for the manifest (the masking itself is `redact()`'s).
SECRET_KINDS: dict[str, re.Pattern[str]] = {
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    "password in a DSN or URL": re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^:/@\s]*:[^@/\s]+@"),
    "API key, token, password or secret field": re.compile(
        r"(?i)\b(?:apikey|api[_-]?key|x-api-key|access[_-]?token|refresh[_-]?token|"
        r"service[_-]?role[_-]?key|password|passwd|pwd|secret|client[_-]?secret)"
        r"[\"']?\s*[:=]\s*[\"']?[^\s\"'&,;}]+"
    ),
    "bearer or authorization token": re.compile(
        r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}|\bauthorization[\"']?\s*[:=]\s*[\"']?\s*\S+"
    ),
    "Supabase key or access token": re.compile(
        r"\b(?:sbp|sb_secret|sb_publishable)_[A-Za-z0-9_-]{8,}"
    ),
}


@dataclass
class Member:
    """One file of the bundle (already redacted)."""

    name: str
    data: bytes
    description: str
    redactions: Counter[str] = field(default_factory=Counter)


@dataclass
class Bundle:
    """The files gathered so far, and notes on what could not be gathered."""

    root: str
    members: list[Member] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_json(self, name: str, value: Any, description: str) -> None:
        found: Counter[str] = Counter()
        clean = redact_value(value, found)
        data = (json.dumps(clean, ensure_ascii=False, indent=2, default=str) + "\n").encode()
        self.members.append(Member(name, data, description, found))

    def add_text(self, name: str, text: str, description: str) -> None:
        found: Counter[str] = Counter()
        clean = redact_text(text, found)
        self.members.append(Member(name, clean.encode(), description, found))

    def add_json_lines(self, name: str, lines: list[str], description: str) -> None:
        found: Counter[str] = Counter()
        out = []
        for line in lines:
            try:
                out.append(json.dumps(redact_value(json.loads(line), found), ensure_ascii=False))
            except json.JSONDecodeError:
                out.append(redact_text(line, found))
        self.members.append(Member(name, ("\n".join(out) + "\n").encode(), description, found))

    def note(self, text: str) -> None:
        self.notes.append(redact(text) or "")

    def manifest(self) -> dict[str, Any]:
        total: Counter[str] = Counter()
        for m in self.members:
            total.update(m.redactions)
        return {
            "tool": f"pgrst-runbook {__version__}",
            "created": datetime.now(UTC).isoformat(),
            "files": [
                {
                    "name": m.name,
                    "bytes": len(m.data),
                    "sha256": hashlib.sha256(m.data).hexdigest(),
                    "description": m.description,
                    "redacted": dict(m.redactions),
                }
                for m in self.members
            ],
            "redacted": dict(total),
            "not_gathered": self.notes,
            "never_included": [
                "the database DSN and its password (only user@host:port/database)",
                "API keys and tokens given to the tool",
                "whole log files (only excerpts around each incident)",
            ],
        }

    def finish(self) -> list[Member]:
        """The members plus `manifest.json` and `MANIFEST.md` (listed first in the archive)."""
        manifest = self.manifest()
        data = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
        return [
            Member("MANIFEST.md", manifest_markdown(manifest).encode(), "this list, for people"),
            Member("manifest.json", data, "this list, for scripts"),
            *self.members,
        ]


def redact_text(text: str, found: Counter[str]) -> str:
    """`redact(text)`, counting each kind of secret it masked into `found`."""
    for kind, pattern in SECRET_KINDS.items():
        hits = [m for m in pattern.findall(text) if MASK not in m]
        if hits:
            found[kind] += len(hits)
    return redact(text) or ""


def redact_value(value: Any, found: Counter[str]) -> Any:
    """Every string inside a JSON-like value redacted (keys too); counts into `found`."""
    if isinstance(value, str):
        return redact_text(value, found)
    if isinstance(value, dict):
        return {redact_text(str(k), found): redact_value(v, found) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v, found) for v in value]
    return value


def manifest_markdown(manifest: dict[str, Any]) -> str:
    lines = [
        "# pgrst-runbook support bundle",
        "",
        f"Created {manifest['created']} by {manifest['tool']}.",
        "",
        "## Files",
        "",
        "| file | bytes | what | redacted |",
        "|---|---|---|---|",
        "| MANIFEST.md, manifest.json | - | this list | - |",
    ]
    for f in manifest["files"]:
        red = ", ".join(f"{k}: {v}" for k, v in f["redacted"].items()) or "nothing found"
        lines.append(f"| `{f['name']}` | {f['bytes']} | {f['description']} | {red} |")
    lines += ["", "## Redacted", ""]
    if manifest["redacted"]:
        lines += [f"- {kind}: {n} masked as `{MASK}`" for kind, n in manifest["redacted"].items()]
    else:
        lines.append(
            "- no secret was found in the gathered text (everything still passed the filter)"
        )
    lines += ["", "## Never included", ""] + [f"- {x}" for x in manifest["never_included"]]
    if manifest["not_gathered"]:
        lines += ["", "## Not gathered", ""] + [f"- {x}" for x in manifest["not_gathered"]]
    lines += ["", "SHA-256 of each file is in `manifest.json`.", ""]
    return "\n".join(lines)


class BundleExists(FileExistsError):
    """The output file exists and `force` was not given."""


def write_bundle(path: Path, bundle: Bundle, *, force: bool = False) -> Path:
    """Write the archive atomically: a temporary file beside `path`, fsynced, then linked (or,
    with `force`, renamed) into place. Raises `BundleExists` rather than overwrite."""
    path = Path(path)

    def write(handle: BinaryIO) -> None:
        with tarfile.open(fileobj=handle, mode="w:gz") as tar:
            now = time.time()
            for member in bundle.finish():
                info = tarfile.TarInfo(f"{bundle.root}/{member.name}")
                info.size = len(member.data)
                info.mtime = int(now)
                info.mode = 0o644
                info.uname = info.gname = "pgrst-runbook"
                tar.addfile(info, io.BytesIO(member.data))

    try:
        write_atomic(path, write, force=force)
    except FileExistsError:
        raise BundleExists(str(path)) from None
    return path


