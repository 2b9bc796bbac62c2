"""Tool declarations: `@tool(kind, minutes=..., guard=...)` on a method; the JSON schema the
model sees is derived from the signature and the Google-style docstring, never hand-copied."""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, get_args, get_origin, get_type_hints, is_typeddict


class Kind(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolSpec:
    name: str
    kind: Kind
    minutes: float  # simulated time the action takes
    guard: str | None  # name of the Guardrails method every WRITE passes first
    description: str
    input_schema: dict[str, Any]
    required: frozenset[str]
    checkers: tuple[tuple[str, Callable[[Any], bool]], ...]
    ends_turn: bool = False
    params: frozenset[str] = frozenset()  # every argument name (the checkers' names)

    def to_anthropic(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "input_schema": self.input_schema}


_MARK = "__vend_tool__"


def tool(kind: Kind, *, minutes: float, guard: str | None = None, ends_turn: bool = False) -> Callable[[Any], Any]:
    if kind is Kind.WRITE and not guard:
        raise TypeError("every WRITE tool names the guardrail it passes")

    def mark(fn: Any) -> Any:
        setattr(fn, _MARK, (kind, minutes, guard, ends_turn))
        return fn

    return mark


def _schema(tp: Any) -> tuple[dict[str, Any], Callable[[Any], bool]]:
    origin = get_origin(tp)
    if tp is int:
        return {"type": "integer"}, lambda v: isinstance(v, int) and not isinstance(v, bool)
    if tp is float:
        return {"type": "number"}, lambda v: isinstance(v, int | float) and not isinstance(v, bool)
    if tp is str:
        return {"type": "string"}, lambda v: isinstance(v, str)
    if tp is bool:
        return {"type": "boolean"}, lambda v: isinstance(v, bool)
    if origin is Literal:
        options = get_args(tp)
        return {"type": "string", "enum": list(options)}, lambda v: v in options
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        if len(inner) == 1:
            schema, check = _schema(inner[0])
            return schema, lambda v: v is None or check(v)
    if origin is list:
        (item,) = get_args(tp)
        schema, check = _schema(item)
        return {"type": "array", "items": schema}, lambda v: isinstance(v, list) and all(map(check, v))
    if origin is dict:
        _key, val = get_args(tp)
        schema, check = _schema(val)
        return ({"type": "object", "additionalProperties": schema},
                lambda v: isinstance(v, dict) and all(isinstance(k, str) and check(x) for k, x in v.items()))
    if is_typeddict(tp):
        hints = get_type_hints(tp)
        props, checks = {}, {}
        for name, sub in hints.items():
            props[name], checks[name] = _schema(sub)
        req = sorted(tp.__required_keys__)
        required, allowed = frozenset(req), frozenset(checks)
        return ({"type": "object", "properties": props, "required": req, "additionalProperties": False},
                lambda v: isinstance(v, dict) and required <= v.keys() and v.keys() <= allowed
                and all(checks[k](x) for k, x in v.items()))
    raise TypeError(f"no JSON schema for type {tp!r}")


_ARG_LINE = re.compile(r"^\s{2,}(\w+)(?:\s*\([^)]*\))?:\s*(.+)$")


def _parse_doc(doc: str) -> tuple[str, dict[str, str]]:
    doc = inspect.cleandoc(doc or "")
    summary, _, rest = doc.partition("\nArgs:\n")
    params: dict[str, str] = {}
    current = None
    for line in rest.splitlines():
        m = _ARG_LINE.match(line)
        if m:
            current = m.group(1)
            params[current] = m.group(2).strip()
        elif current and line.strip():
            params[current] += " " + line.strip()
    return " ".join(summary.split()), params


def build_spec(fn: Any) -> ToolSpec:
    kind, minutes, guard, ends_turn = getattr(fn, _MARK)
    description, arg_docs = _parse_doc(fn.__doc__ or "")
    if not description:
        raise TypeError(f"tool {fn.__name__} needs a docstring")
    hints = get_type_hints(fn, include_extras=False)
    sig = inspect.signature(fn)
    props: dict[str, Any] = {}
    required = []
    checkers = []
    for name, param in sig.parameters.items():
        if name == "self":
            continue
        schema, check = _schema(hints[name])
        if name in arg_docs:
            schema = {**schema, "description": arg_docs[name]}
        props[name] = schema
        checkers.append((name, check))
        if param.default is inspect.Parameter.empty:
            required.append(name)
    input_schema = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
    return ToolSpec(name=fn.__name__, kind=kind, minutes=minutes, guard=guard, description=description,
                    input_schema=input_schema, required=frozenset(required), checkers=tuple(checkers),
                    ends_turn=ends_turn, params=frozenset(n for n, _ in checkers))


def collect_specs(obj: object) -> dict[str, ToolSpec]:
    """The tools an object offers: its methods marked with @tool, in definition order."""
    specs: dict[str, ToolSpec] = {}
    for name in dir(type(obj)):
        fn = getattr(type(obj), name)
        if callable(fn) and hasattr(fn, _MARK):
            specs[name] = build_spec(fn)
    order = list(vars(type(obj)))
    return dict(sorted(specs.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 1_000))
