"""Tool declarations: `@tool(kind, minutes=..., guard=...)` on a method; the JSON schema the
model sees is derived from the signature and the Google-style docstring, never hand-copied."""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, get_args, get_origin, get_type_hints, is_typeddict

Check = Callable[[Any], bool]


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
    checks: Mapping[str, Check]  # each argument's check, in the signature's order
    ends_turn: bool = False
    params: frozenset[str] = frozenset()  # every argument name (the checks' names)

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


# The checks run on every call's arguments, so they are plain functions with loops: no generator, lambda,
# map or set comparison per value (a restock's list of slots is checked line by line, key by key).
def _is_int(v: Any) -> bool:
    return type(v) is int or (isinstance(v, int) and not isinstance(v, bool))


def _is_number(v: Any) -> bool:
    return type(v) is float or (isinstance(v, (int, float)) and not isinstance(v, bool))


_is_str: Check = str.__instancecheck__  # isinstance(v, str), called without a Python frame
_is_bool: Check = bool.__instancecheck__


def _one_of(options: tuple[Any, ...]) -> Check:
    def check(v: Any) -> bool:
        return v in options
    return check


def _none_or(inner: Check) -> Check:
    def check(v: Any) -> bool:
        return v is None or inner(v)
    return check


def _list_of(item: Check) -> Check:
    def check(v: Any) -> bool:
        if not isinstance(v, list):
            return False
        for x in v:  # noqa: SIM110 - a loop is cheaper than all() over a generator
            if not item(x):
                return False
        return True
    return check


def _str_dict_of(value: Check) -> Check:
    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return False
        for k, x in v.items():  # noqa: SIM110 - a loop is cheaper than all() over a generator
            if not isinstance(k, str) or not value(x):
                return False
        return True
    return check


def _typed_dict(checks: dict[str, Check], required: frozenset[str]) -> Check:
    """Every key known and its value right, and every required key there (counted, not compared as sets)."""
    def check(v: Any) -> bool:
        if not isinstance(v, dict):
            return False
        found = 0
        for k, x in v.items():
            key_check = checks.get(k)
            if key_check is None or not key_check(x):
                return False
            if k in required:
                found += 1
        return found == len(required)
    return check


def _schema(tp: Any) -> tuple[dict[str, Any], Check]:
    origin = get_origin(tp)
    if tp is int:
        return {"type": "integer"}, _is_int
    if tp is float:
        return {"type": "number"}, _is_number
    if tp is str:
        return {"type": "string"}, _is_str
    if tp is bool:
        return {"type": "boolean"}, _is_bool
    if origin is Literal:
        options = get_args(tp)
        return {"type": "string", "enum": list(options)}, _one_of(options)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(tp) if a is not type(None)]
        if len(inner) == 1:
            schema, check = _schema(inner[0])
            return schema, _none_or(check)
    if origin is list:
        (item,) = get_args(tp)
        schema, check = _schema(item)
        return {"type": "array", "items": schema}, _list_of(check)
    if origin is dict:
        _key, val = get_args(tp)
        schema, check = _schema(val)
        return {"type": "object", "additionalProperties": schema}, _str_dict_of(check)
    if is_typeddict(tp):
        hints = get_type_hints(tp)
        props, checks = {}, {}
        for name, sub in hints.items():
            props[name], checks[name] = _schema(sub)
        req = sorted(tp.__required_keys__)
        return ({"type": "object", "properties": props, "required": req, "additionalProperties": False},
                _typed_dict(checks, frozenset(req)))
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
    checks: dict[str, Check] = {}
    for name, param in sig.parameters.items():
        if name == "self":
            continue
        schema, check = _schema(hints[name])
        if name in arg_docs:
            schema = {**schema, "description": arg_docs[name]}
        props[name] = schema
        checks[name] = check
        if param.default is inspect.Parameter.empty:
            required.append(name)
    input_schema = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
    return ToolSpec(name=fn.__name__, kind=kind, minutes=minutes, guard=guard, description=description,
                    input_schema=input_schema, required=frozenset(required), checks=checks,
                    ends_turn=ends_turn, params=frozenset(checks))


def collect_specs(obj: object) -> dict[str, ToolSpec]:
    """The tools an object offers: its methods marked with @tool, in definition order."""
    specs: dict[str, ToolSpec] = {}
    for name in dir(type(obj)):
        fn = getattr(type(obj), name)
        if callable(fn) and hasattr(fn, _MARK):
            specs[name] = build_spec(fn)
    order = list(vars(type(obj)))
    return dict(sorted(specs.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 1_000))
