"""A tiny, safe template language for runbook parameters.

Two kinds of placeholder, nothing else:

``{{ path | filter | filter(arg) }}``
    A lookup in a plain-data context (dicts, lists, strings, numbers) built from the
    incident. A path is names and indexes: ``incident.root_causes[0].entity``,
    ``incident.labels["k8s.namespace"]``, ``incident.alerts[-1].summary``. There is no
    attribute access on objects, no calls, no arithmetic and no evaluation: the only
    thing a template can do is read a value out of the context and pass it through the
    whitelisted filters in :data:`FILTERS`.
``${ENV:NAME}`` or ``${ENV:NAME:-fallback}``
    A secret read from the environment mapping given to :meth:`Template.render`. It may
    appear only in the runbook text itself: the output of a ``{{ }}`` lookup is never
    scanned again, so an incident field that contains ``${ENV:X}`` or ``{{ x }}`` stays
    literal text.

A template that is exactly one ``{{ }}`` placeholder renders to the native value (a list
stays a list); otherwise the pieces are joined as text.

>>> ctx = {"incident": {"root_causes": [{"entity": "payments-db"}], "labels": {}}}
>>> compile_template("deployment/{{ incident.root_causes[0].entity }}").render(ctx)
'deployment/payments-db'
>>> compile_template("{{ incident.labels.ns | default('prod') | upper }}").render(ctx)
'PROD'
>>> compile_template("{{ incident.root_causes }}").render(ctx)
[{'entity': 'payments-db'}]
>>> compile_template("Bearer ${ENV:TOKEN}").render(ctx, secrets={"TOKEN": "s3cr3t"})
'Bearer s3cr3t'
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from correlator.errors import RunbookError

__all__ = [
    "FILTERS",
    "MASK",
    "FieldPath",
    "MissingSecretError",
    "Template",
    "TemplateError",
    "compile_template",
    "lookup",
    "parse_path",
    "render_value",
    "template_strings",
]

MASK = "***"


class TemplateError(RunbookError):
    """A template is malformed, names a missing field, or needs an unset secret."""


class MissingSecretError(TemplateError):
    """A ``${ENV:NAME}`` placeholder names a variable that is not set."""


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()

# --- paths -----------------------------------------------------------------------------

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PATH_TOKEN = re.compile(
    rf"""\s*(?:
        (?P<name>{_NAME})
      | \.(?P<attr>{_NAME})
      | \[\s*(?P<index>-?\d+)\s*\]
      | \[\s*(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*\]
    )""",
    re.VERBOSE,
)

FieldPath = tuple[str | int, ...]


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _scan_path(text: str, pos: int) -> tuple[FieldPath, int]:
    """Read a path starting at ``pos``; return it and the position after it."""
    parts: list[str | int] = []
    while True:
        m = _PATH_TOKEN.match(text, pos)
        if m is None:
            break
        if m.group("name") is not None:
            if parts:
                break
            parts.append(m.group("name"))
        elif not parts:
            break
        elif m.group("attr") is not None:
            parts.append(m.group("attr"))
        elif m.group("index") is not None:
            parts.append(int(m.group("index")))
        else:
            parts.append(_unquote(m.group("key")))
        pos = m.end()
    if not parts:
        raise TemplateError(f"expected a field path at {text[pos:]!r}")
    return tuple(parts), pos


def parse_path(text: str) -> FieldPath:
    """Parse a whole path.

    >>> parse_path('data.result[0].value[1]')
    ('data', 'result', 0, 'value', 1)
    >>> parse_path('labels["k8s.namespace"]')
    ('labels', 'k8s.namespace')
    """
    path, pos = _scan_path(text, 0)
    if text[pos:].strip():
        raise TemplateError(f"unexpected {text[pos:].strip()!r} after path {text[:pos].strip()!r}")
    return path


def lookup(data: Any, path: FieldPath) -> Any:
    """Follow ``path`` through dicts and lists only; :data:`MISSING` when absent.

    >>> lookup({"a": [1, {"b": 2}]}, ("a", 1, "b"))
    2
    >>> lookup({"a": []}, ("a", 0))
    <missing>
    """
    node = data
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or not -len(node) <= part < len(node):
                return MISSING
            node = node[part]
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return MISSING
    return node


def _path_text(path: FieldPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# --- filters ---------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None or value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def _default(value: Any, fallback: Any = "") -> Any:
    return fallback if value is MISSING or value is None else value


def _truncate(value: Any, length: Any = 255) -> str:
    text = _text(value)
    n = int(length)
    return text if len(text) <= n else text[: max(0, n - 3)] + "..."


def _join(value: Any, sep: Any = ",") -> str:
    if not isinstance(value, list):
        return _text(value)
    return str(sep).join(_text(v) for v in value)


def _map(value: Any, pairs: Any = "", fallback: Any = MISSING) -> Any:
    """Translate through ``"a=1,b=2"``; unknown values give ``fallback`` (or themselves)."""
    table = dict(p.split("=", 1) for p in str(pairs).split(",") if "=" in p)
    key = _text(value)
    if key in table:
        return table[key]
    return value if fallback is MISSING else fallback


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else MISSING


def _last(value: Any) -> Any:
    return value[-1] if isinstance(value, list) and value else MISSING


def _length(value: Any) -> int:
    return len(value) if isinstance(value, list | dict | str) else 0


FILTERS: dict[str, Callable[..., Any]] = {
    "default": _default,
    "upper": lambda v: _text(v).upper(),
    "lower": lambda v: _text(v).lower(),
    "string": _text,
    "json": lambda v: json.dumps(None if v is MISSING else v, sort_keys=True, default=str),
    "join": _join,
    "map": _map,
    "first": _first,
    "last": _last,
    "length": _length,
    "truncate": _truncate,
    "urlencode": lambda v: urllib.parse.quote(_text(v), safe=""),
}
"""Every filter a template may use; each takes the value and literal or path arguments."""

_FILTER_ARITY = {"default": 1, "join": 1, "truncate": 1, "map": 2}

# --- expressions -----------------------------------------------------------------------

_LITERAL = re.compile(
    r"""\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
        |(?P<num>-?\d+(?:\.\d+)?)(?![\w.])
        |(?P<const>true|false|null|none)(?![\w.\[]))""",
    re.VERBOSE,
)
_FILTER_NAME = re.compile(rf"\s*\|\s*(?P<name>{_NAME})\s*")


@dataclass(frozen=True)
class _Arg:
    literal: Any = None
    path: FieldPath | None = None

    def value(self, context: Mapping[str, Any]) -> Any:
        return self.literal if self.path is None else lookup(context, self.path)


@dataclass(frozen=True)
class _Expr:
    path: FieldPath
    filters: tuple[tuple[str, tuple[_Arg, ...]], ...]
    source: str

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        value = lookup(context, self.path)
        names = [name for name, _ in self.filters]
        if value is MISSING and "default" not in names:
            raise TemplateError(
                f"{{{{ {self.source} }}}}: no field {_path_text(self.path)!r} in the incident "
                "context; add |default(...) if it may be absent"
            )
        for name, args in self.filters:
            value = FILTERS[name](value, *(a.value(context) for a in args))
        return None if value is MISSING else value


def _scan_arg(text: str, pos: int) -> tuple[_Arg, int]:
    m = _LITERAL.match(text, pos)
    if m is not None:
        if m.group("str") is not None:
            return _Arg(literal=_unquote(m.group("str"))), m.end()
        if m.group("num") is not None:
            num = m.group("num")
            return _Arg(literal=float(num) if "." in num else int(num)), m.end()
        const = m.group("const")
        return _Arg(literal={"true": True, "false": False}.get(const)), m.end()
    path, end = _scan_path(text, pos)
    return _Arg(path=path), end


def _parse_expr(source: str) -> _Expr:
    path, pos = _scan_path(source, 0)
    filters: list[tuple[str, tuple[_Arg, ...]]] = []
    while pos < len(source) and source[pos:].strip():
        m = _FILTER_NAME.match(source, pos)
        if m is None:
            raise TemplateError(f"{{{{ {source} }}}}: expected '| filter' at {source[pos:]!r}")
        name = m.group("name")
        if name not in FILTERS:
            raise TemplateError(
                f"{{{{ {source} }}}}: unknown filter {name!r}; use one of {sorted(FILTERS)}"
            )
        pos = m.end()
        args: list[_Arg] = []
        if source.startswith("(", pos):
            pos += 1
            while True:
                arg, pos = _scan_arg(source, pos)
                args.append(arg)
                rest = source[pos:].lstrip()
                pos = len(source) - len(rest)
                if rest.startswith(","):
                    pos += 1
                    continue
                if rest.startswith(")"):
                    pos += 1
                    break
                raise TemplateError(f"{{{{ {source} }}}}: expected ',' or ')' at {rest!r}")
        if len(args) > _FILTER_ARITY.get(name, 0):
            raise TemplateError(f"{{{{ {source} }}}}: too many arguments for |{name}")
        filters.append((name, tuple(args)))
    return _Expr(path, tuple(filters), source)


# --- templates -------------------------------------------------------------------------

_PLACEHOLDER = re.compile(
    r"\{\{(?P<expr>.*?)\}\}"
    r"|\$\{ENV:(?P<env>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<fallback>[^}]*))?\}",
    re.S,
)


@dataclass(frozen=True)
class _Secret:
    name: str
    fallback: str | None = None

    def value(self, secrets: Mapping[str, str] | None, mask: bool, source: str) -> str:
        if secrets is not None and self.name in secrets:
            return MASK if mask else secrets[self.name]
        if self.fallback is not None:
            return self.fallback
        if mask:
            return MASK
        raise MissingSecretError(
            f"environment variable {self.name} is not set (needed by ${{ENV:{self.name}}} "
            f"in {source!r})"
        )


_Part = str | _Expr | _Secret


@dataclass(frozen=True)
class Template:
    """A compiled template: literal text, lookups and secret references."""

    source: str
    parts: tuple[_Part, ...]

    @property
    def is_static(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    @property
    def secret_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts if isinstance(p, _Secret))

    def render(
        self,
        context: Mapping[str, Any],
        secrets: Mapping[str, str] | None = None,
        *,
        mask: bool = False,
    ) -> Any:
        """Render against ``context``; ``secrets`` resolves ``${ENV:NAME}``.

        With ``mask``, a secret that is set (or has no fallback) renders as ``***``.
        """
        if len(self.parts) == 1 and isinstance(self.parts[0], _Expr):
            return self.parts[0].evaluate(context)
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, _Expr):
                out.append(_text(part.evaluate(context)))
            else:
                out.append(part.value(secrets, mask, self.source))
        return "".join(out)


@functools.lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Parse ``source`` once; raise :class:`TemplateError` if it is malformed."""
    parts: list[_Part] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(source):
        if m.start() > pos:
            parts.append(source[pos : m.start()])
        if m.group("env") is not None:
            parts.append(_Secret(m.group("env"), m.group("fallback")))
        else:
            expr = m.group("expr").strip()
            if not expr:
                raise TemplateError(f"empty placeholder in {source!r}")
            parts.append(_parse_expr(expr))
        pos = m.end()
    tail = source[pos:]
    if "{{" in tail or "}}" in tail:
        raise TemplateError(f"unbalanced '{{{{' or '}}}}' in {source!r}")
    if tail:
        parts.append(tail)
    return Template(source, tuple(parts))


def render_value(
    value: Any,
    context: Mapping[str, Any],
    secrets: Mapping[str, str] | None = None,
    *,
    mask: bool = False,
) -> Any:
    """Render every string inside ``value`` (dicts and lists are walked; keys are not)."""
    if isinstance(value, str):
        return compile_template(value).render(context, secrets, mask=mask)
    if isinstance(value, Mapping):
        return {k: render_value(v, context, secrets, mask=mask) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render_value(v, context, secrets, mask=mask) for v in value]
    return value


def template_strings(value: Any, loc: tuple[str | int, ...] = ()) -> list[tuple[FieldPath, str]]:
    """Every string inside ``value`` with its location, for validating runbooks on load."""
    if isinstance(value, str):
        return [(loc, value)]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in template_strings(v, (*loc, str(k)))]
    if isinstance(value, Sequence):
        return [s for i, v in enumerate(value) for s in template_strings(v, (*loc, i))]
    return []
