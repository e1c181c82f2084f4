"""Evidence rows and the incident target: the small shared vocabulary of the runbook steps."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from runbook.redact import redact


def answer_of(fact: object) -> str:
    """A check's fact as the word the reports print: "yes", "no" or "unknown"."""
    return "yes" if fact is True else "no" if fact is False else "unknown"


@dataclass(frozen=True)
class Target:
    """The incident: writes of `column` to `schema.table` fail with PGRST204."""

    table: str
    column: str
    schema: str = "public"

    def as_dict(self) -> dict[str, str]:
        return {"schema": self.schema, "table": self.table, "column": self.column}

    def __str__(self) -> str:
        return f"{self.schema}.{self.table}.{self.column}"


def run_command(table: str | None, column: str | None, schema: str | None = None, *extra: str) -> str:
    """`pgrst-runbook run` for one incident, every word shell-quoted: names come from logs,
    and a line an operator pastes into a shell must not run anything else."""
    words = ["pgrst-runbook", "run"]
    if schema and schema != "public":
        words += ["--schema", schema]
    words += ["--table", table or "TABLE", "--column", column or "COLUMN", *extra]
    return shlex.join(words)


def code_span(text: str) -> str:
    """`text` as a Markdown code span, fenced with more backticks than it holds."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@dataclass(frozen=True)
class EvidenceRow:
    """One observation: where it came from, what was checked, the answer, and details.

    `source`: "database", "openapi", "admin", "metrics", "probe", "migrations", "logs",
    "config". `fact`: True/False for yes/no checks, None when it could not be established
    (then `detail` says why). `detail` is redacted, one line.
    """

    source: str
    check: str
    fact: bool | None
    detail: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "detail", " ".join((redact(self.detail) or "").split()))

    @property
    def answer(self) -> str:
        """ "yes", "no" or "unknown"."""
        return answer_of(self.fact)

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "check": self.check,
            "fact": self.fact,
            "detail": self.detail,
        }
