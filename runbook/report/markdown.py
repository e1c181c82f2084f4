"""Markdown that no log line can subvert: escaping filters and the jinja2 environment for them.

Every value a report or checklist template prints passes one explicit filter; each redacts
secrets (`runbook.redact`) and shows control characters instead of sending them:

    md      inline text (paragraphs, list items, table cells): one line; pipes, backticks, HTML,
            emphasis, link/image brackets, `$` math and line-start block markers (`#`, `-`, `1.`)
            are escaped, so `[x](javascript:...)` or `<script>` stay plain text
    prose   like md, but `backticked` spans become code spans (the tool's own sentences)
    code    an inline code span fenced by enough backticks; `code(cell=True)` inside tables
    block   a fenced code block (multi-line), fenced longer than any backtick run inside
    key     a checklist item's stable key as a hidden comment `<!-- k:... -->`
    fill    a prompt for a person: `_(to fill: ...)_`
    yaml    a JSON-quoted scalar for front matter
    label   a double-quoted Mermaid label (quotes and brackets dropped)
    when / hm / duration   ISO times and seconds as `2026-11-18 09:00:10`, `09:00`, `5 min 5 s`

Filters return `Md`. The environment refuses, at compile time, any `{{ ... }}` whose outermost
node is not one of these filters, a literal or a macro call: a template (packaged or the
user's) that forgets to escape a value fails with `file:line`, instead of rendering raw text.

`render(name, context, templates_dir)` -> text; a broken template raises `TemplateProblem`
whose message starts with `file:line`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.loaders import split_template_path

from runbook.redact import redact
from runbook.terminal import printable

TO_FILL = "_(to fill: {})_"


class Md(str):
    """Text that is already safe Markdown (the output of a filter)."""


class TemplateProblem(Exception):
    """A template that cannot be loaded or rendered; the message starts with `file:line`."""


# -- escaping ------------------------------------------------------------------------------

_BACKSLASHED = set("\\`*_[]|~$#")
# Only these starts make a block: a list item or rule ("- x", "+", "---"), a setext underline
# ("=="), an ordered item ("1. x"), a blockquote (">").
_BLOCK_START = re.compile(r"^(?:[-+=](?=\s|$|[-+=])|\d{1,9}(?=[.)](?:\s|$)))")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_BACKTICKS = re.compile(r"`+")


def _one_line(value: object) -> str:
    text = "" if value is None else str(value)
    text = redact(text) or ""
    text = re.sub(r"[\r\n]+", " ", text)
    return printable(text)


def md(value: object) -> Md:
    """Plain text safe anywhere inline in Markdown, table cells included."""
    if isinstance(value, Md):
        return value
    return _escape(_one_line(value).strip())


def _escape(text: str) -> Md:
    text = _ENTITY.sub("&amp;", text)  # `&lt;` stays text; a plain `&` needs nothing
    text = text.replace("<", "&lt;")  # no HTML, no autolink; `>` alone opens nothing mid-line
    text = "".join("\\" + char if char in _BACKSLASHED else char for char in text)
    if text.startswith(">"):
        text = "&gt;" + text[1:]
    else:
        match = _BLOCK_START.match(text)
        if match:  # `- x` -> `\- x`; `1. x` -> `1\. x`
            at = match.end() if match.group().isdigit() else 0
            text = text[:at] + "\\" + text[at:]
    return Md(text)


def prose(value: object) -> Md:
    """Like `md`, but `backticked` spans of the text become code spans (for sentences the
    tool writes around names from logs). Redaction runs on the whole text first."""
    text = _one_line(value)
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: no spans, all plain text
        return md(text)
    out = [_escape(part) if n % 2 == 0 else code(part) for n, part in enumerate(parts)]
    return Md("".join(out))


def _fence_for(text: str, minimum: int) -> str:
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    return "`" * max(minimum, longest + 1)


def code(value: object, cell: bool = False) -> Md:
    """An inline code span; with `cell=True` pipes are escaped so a table keeps its columns."""
    text = _one_line(value)
    if cell:
        text = text.replace("|", "\\|")
    if not text:
        return Md("")
    fence = _fence_for(text, 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Md(f"{fence}{pad}{text}{pad}{fence}")


def block(value: object, info: str = "text", indent: int = 0) -> Md:
    """A fenced code block holding `value` verbatim (redacted, control characters shown),
    every line indented by `indent` spaces (2 keeps it inside a list item)."""
    text = "" if value is None else str(value)
    text = printable(redact(text) or "", keep_newlines=True).rstrip("\n")
    fence = _fence_for(text, 3)
    info = re.sub(r"[^A-Za-z0-9_+-]", "", info)
    pad = " " * indent
    body = "\n".join(pad + line if line else line for line in text.split("\n"))
    return Md(f"{pad}{fence}{info}\n{body}\n{pad}{fence}")


def key(value: object) -> Md:
    """A stable item key as a hidden HTML comment, `<!-- k:probe:public.items.note -->`.

    Characters outside `[A-Za-z0-9._:-]` become `-` and a short hash keeps such keys unique.
    """
    raw = "" if value is None else str(value)
    slug = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9._:]", "-", raw)).strip("-")[:80]
    if slug != raw:
        slug = f"{slug}-{hashlib.sha1(raw.encode()).hexdigest()[:6]}".lstrip("-")
    return Md(f"<!-- k:{slug} -->")


def yaml(value: object) -> Md:
    """A YAML scalar: numbers, booleans and null as they are, text as a JSON-quoted string.

    Markdown metacharacters become `\\uXXXX` escapes (valid YAML and JSON): a renderer that does
    not know front matter shows it as text, which must then be as inert as the rest.
    """
    if value is None or isinstance(value, bool | int | float):
        return Md(json.dumps(value))
    text = json.dumps(_one_line(value), ensure_ascii=False)
    return Md(_YAML_INERT.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


_YAML_INERT = re.compile(r"[<>&`\[\]|*#$~]|(?<!\w)_|_(?!\w)")


def label(value: object) -> Md:
    """A Mermaid label in double quotes (quotes, brackets and backslashes removed)."""
    text = re.sub(r'["\\\[\]{}<>`]', "", _one_line(value))
    return Md(f'"{text}"')


def _parse(iso: object) -> datetime | None:
    if isinstance(iso, datetime):
        return iso
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        return None


def when(iso: object) -> Md:
    """`2026-11-18T09:00:10.123+00:00` -> `2026-11-18 09:00:10` (UTC is stated by the headers)."""
    ts = _parse(iso)
    return Md(ts.strftime("%Y-%m-%d %H:%M:%S")) if ts else md(iso if iso is not None else "-")


def hm(iso: object) -> Md:
    """An ISO time as `HH:MM`."""
    ts = _parse(iso)
    return Md(ts.strftime("%H:%M")) if ts else md(iso if iso is not None else "-")


def duration(seconds: object) -> Md:
    """Seconds as `2 h 5 min`, `5 min 5 s`, `42 s`; `-` when unknown."""
    if not isinstance(seconds, int | float):
        return Md("-")
    total = int(round(seconds))
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        text = f"{days} d {hours} h"
    elif hours:
        text = f"{hours} h {minutes} min"
    elif minutes:
        text = f"{minutes} min {secs} s" if secs else f"{minutes} min"
    else:
        text = f"{secs} s"
    return Md(sign + text)


def fill(prompt: object) -> Md:
    """The marker for a field a person must fill: `_(to fill: prompt)_`."""
    return Md(TO_FILL.format(md(prompt)))


FILTERS: dict[str, Callable[..., Md]] = {
    "md": md,
    "prose": prose,
    "code": code,
    "block": block,
    "yaml": yaml,
    "label": label,
    "when": when,
    "hm": hm,
    "duration": duration,
    "fill": fill,
    "key": key,
}


# -- templates -----------------------------------------------------------------------------


class PackagedLoader(jinja2.BaseLoader):
    """Templates shipped in the `templates` package, found with `importlib.resources` (so a
    non-editable install works)."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        node = resources.files("templates")
        for part in split_template_path(template):
            node = node.joinpath(part)
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), str(node), lambda: True

    def list_templates(self) -> list[str]:
        root = resources.files("templates")
        return sorted(n.name for n in root.iterdir() if n.name.endswith(".j2"))


def environment(templates_dir: Path | None = None) -> jinja2.Environment:
    """A jinja2 environment: `templates_dir` first (if given), then the packaged templates.

    StrictUndefined, autoescape off (Markdown is not HTML), every filter above, and the check
    that every printed value passes one. Raises `TemplateProblem` when `templates_dir` is not a
    directory.
    """
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None:
        if not Path(templates_dir).is_dir():
            raise TemplateProblem(f"{templates_dir}: not a directory (--templates)")
        loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
    loaders.append(PackagedLoader())
    env = _MarkdownEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def render(name: str, context: dict[str, Any], templates_dir: Path | None = None) -> str:
    """Render template `name` with `context`. Raises `TemplateProblem` naming file and line."""
    env = environment(templates_dir)
    try:
        template = env.get_template(name)
        return template.render(context)
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name or name
        raise TemplateProblem(f"{where}:{exc.lineno}: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateProblem(f"{exc.name}: template not found") from None
    except Exception as exc:  # an error inside a template: find the template's frame
        where = _template_frame(exc, env) or name
        raise TemplateProblem(f"{where}: {type(exc).__name__}: {exc}") from None


def _template_frame(exc: BaseException, env: jinja2.Environment) -> str | None:
    """`file:line` of the innermost template frame in `exc`'s traceback (jinja2 rewrites
    tracebacks so that template frames carry the template's file name and line)."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:  # a rewritten template frame
            found = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def unfiltered_expressions(template: nodes.Template) -> list[int]:
    """Lines of `{{ ... }}` expressions whose outermost node is not an escaping filter, a
    literal, or a macro call (a macro, an imported template's macro, `caller()`: their own
    output is checked where it is written). `{{ x.upper() }}` is not a macro call."""
    macros = _macro_names(template)
    bad: list[int] = []
    for output in template.find_all(nodes.Output):
        for node in output.nodes:
            if isinstance(node, nodes.TemplateData | nodes.Const):
                continue
            if isinstance(node, nodes.Filter) and node.name in FILTERS:
                continue
            if isinstance(node, nodes.Call) and _calls_macro(node, macros):
                continue
            bad.append(node.lineno)
    return bad


def _macro_names(template: nodes.Template) -> set[str]:
    names = {"caller"} | {m.name for m in template.find_all(nodes.Macro)}
    names |= {i.target for i in template.find_all(nodes.Import)}
    for imported in template.find_all(nodes.FromImport):
        names |= {n if isinstance(n, str) else n[1] for n in imported.names}
    return names


def _calls_macro(call: nodes.Call, macros: set[str]) -> bool:
    fn = call.node
    if isinstance(fn, nodes.Name):
        return fn.name in macros
    return (
        isinstance(fn, nodes.Getattr) and isinstance(fn.node, nodes.Name) and fn.node.name in macros
    )


class _MarkdownEnvironment(jinja2.Environment):
    """An environment whose templates must escape every printed value explicitly."""

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        template = super()._parse(source, name, filename)
        bad = unfiltered_expressions(template)
        if bad:
            raise jinja2.TemplateSyntaxError(
                f"a value is printed without an escaping filter ({', '.join(sorted(FILTERS))})",
                bad[0],
                name,
                filename,
            )
        return template
