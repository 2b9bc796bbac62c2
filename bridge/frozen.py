"""A faster `__init__` for frozen, slotted dataclasses.

The `__init__` that `@dataclass(frozen=True)` generates sets each field with
`object.__setattr__(self, name, value)` (a global, an attribute and a name lookup per field).
A simulated year builds ~30k such objects (sales, restocks, tool results, slot views), so
`fast_init` replaces it with one that calls each slot's own descriptor: the same parameters,
defaults and stored values, and the instance stays frozen (`__setattr__` still refuses).
Classes it cannot do exactly (default factories, `__post_init__`, init=False fields, no slots)
keep dataclasses' own `__init__`.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


def fast_init(cls: T) -> T:
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"fast_init wants a frozen dataclass, not {cls!r}")
    if hasattr(cls, "__post_init__"):
        return cls
    fields = dataclasses.fields(cls)
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    env: dict[str, Any] = {}
    for i, f in enumerate(fields):
        if not f.init or f.default_factory is not dataclasses.MISSING:
            return cls
        setter = getattr(cls, f.name, None)
        if not isinstance(setter, types.MemberDescriptorType):
            return cls
        env[f"_set{i}"] = setter.__set__
        param = f.name
        if f.default is not dataclasses.MISSING:
            env[f"_def{i}"] = f.default
            param = f"{f.name}=_def{i}"
        (keyword if f.kw_only else positional).append(param)
        body.append(f"    _set{i}(self, {f.name})")
    params = ["self", *positional] + (["*", *keyword] if keyword else [])
    src = f"def __init__({', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(src, env)
    init = env["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def fast_init_all(namespace: dict[str, Any]) -> None:
    """`fast_init` every frozen dataclass defined in a module (called at the end of the module)."""
    module = namespace["__name__"]
    for obj in list(namespace.values()):
        if (isinstance(obj, type) and obj.__module__ == module and dataclasses.is_dataclass(obj)
                and obj.__dataclass_params__.frozen):  # type: ignore[attr-defined]
            fast_init(obj)
