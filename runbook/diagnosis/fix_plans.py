"""Fix plans in words and SQL the operator can read, adapt and run themselves.

- `quote_ident(name)`: a name as PostgreSQL needs it written (display only; the tool itself
  never formats names into SQL it runs).
- `expand_contract_plan(...)`: when clients cannot all be updated at once, keep accepting the
  old key for a while, then remove it. Offered for `client_mismatch`, never run by the tool.
- `column_list_text(columns)`: the table's full column list, on request.
"""

from __future__ import annotations

import re

_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")
# Words PostgreSQL reserves as column names: a name that is one of them needs quotes too.
_RESERVED = frozenset(
    "all analyse analyze and any array as asc asymmetric both case cast check collate column "
    "constraint create current_catalog current_date current_role current_time current_timestamp "
    "current_user default deferrable desc distinct do else end except false fetch for foreign "
    "from grant group having in initially intersect into lateral leading limit localtime "
    "localtimestamp not null offset on only or order placing primary references returning "
    "select session_user some symmetric table then to trailing true union unique user using "
    "variadic when where window with".split()
)


def dollar_tag(body: str) -> str:
    """A dollar-quote tag that does not occur in `body` (names in it are arbitrary text)."""
    tag, n = "$pgrst_runbook$", 0
    while tag in body:
        n += 1
        tag = f"$pgrst_runbook{n}$"
    return tag


def function_name(*parts: str) -> str:
    """A function name made of `parts`, within PostgreSQL's 63 bytes (it cuts longer names
    silently, so two long names could meet), cut on a character boundary."""
    name = "_".join(parts)
    raw = name.encode("utf-8")
    if len(raw) <= 63:
        return name
    return raw[:63].decode("utf-8", "ignore")


def quote_ident(name: str) -> str:
    """`admin_id` -> `admin_id`; `doseLogs` -> `"doseLogs"`; `a"b` -> `"a""b"`."""
    if _PLAIN.match(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str | None, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}" if schema else quote_ident(table)


def expand_contract_plan(
    schema: str | None, table: str, old: str, new: str, new_type: str | None = None
) -> list[str]:
    """Steps to accept the old key `old` while clients move to `new`, then drop it.

    Each step is one line; SQL is shown for the operator to adapt, never run by the tool.
    """
    t = qualified(schema, table)
    o, n = quote_ident(old), quote_ident(new)
    kind = new_type or f"<type of {n}>"
    fn = quote_ident(function_name(table, old, "to", new))
    body = f" BEGIN NEW.{n} := coalesce(NEW.{n}, NEW.{o}); NEW.{o} := NULL; RETURN NEW; END "
    tag = dollar_tag(body)
    return [
        f"Expand: ALTER TABLE {t} ADD COLUMN {o} {kind};  -- accept the old key for now",
        f"Copy it on write: CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS {tag}"
        f"{body}{tag}; "
        f"CREATE TRIGGER {fn} BEFORE INSERT OR UPDATE ON {t} FOR EACH ROW EXECUTE FUNCTION "
        f"{fn}();",
        "Reload PostgREST's schema cache (NOTIFY pgrst, 'reload schema') and check a write "
        f"sending {old!r} succeeds.",
        f"Ship clients that send {new!r}; watch the logs until no request sends {old!r} "
        "(pgrst-runbook scan ...).",
        f"Contract: DROP TRIGGER {fn} ON {t}; DROP FUNCTION {fn}(); ALTER TABLE {t} DROP "
        f"COLUMN {o}; then reload the schema cache again.",
    ]


def expand_contract_summary(table: str, old: str, new: str | None, *, renamed: bool) -> str:
    """One sentence for the suggestion list; the full steps come from `expand_contract_plan`."""
    if not new:
        return (
            f"If the clients are right and {table} should have {old!r}, add it with a "
            "migration, apply it, then reload the schema cache."
        )
    again = "back " if renamed else ""
    return (
        "If the clients cannot all be updated at once (expand/contract): add "
        f"{old!r} {again}as a nullable column with a trigger that copies it into {new!r}, reload, "
        f"ship clients that send {new!r}, and drop {old!r} once no request sends it."
    )


def column_list_text(columns: list[tuple[str, str]]) -> str:
    """`name type` per column, exact case, one per line (the full list, on request)."""
    width = max((len(name) for name, _ in columns), default=0)
    return "\n".join(f"{name.ljust(width)}  {kind}" for name, kind in columns)
