"""fast_init: the same objects as dataclasses' own __init__, still frozen."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from bridge import domain
from bridge import events as ev
from bridge.frozen import fast_init


def _mixed() -> type:
    @dataclass(frozen=True, slots=True)
    class Mixed:
        a: int
        b: str = "b"
        c: tuple[int, ...] = field(default=(1,), kw_only=True)

    return Mixed


def test_fast_init_builds_the_same_objects_with_the_same_parameters() -> None:
    slow, fast = _mixed(), _mixed()
    original = fast.__init__
    fast_init(fast)
    assert fast.__init__ is not original
    assert list(inspect.signature(fast).parameters) == list(inspect.signature(slow).parameters) == ["a", "b", "c"]
    for args, kwargs in [((3,), {}), ((3, "x"), {}), ((3,), {"b": "y", "c": (4,)}), ((), {"a": 5})]:
        s, f = slow(*args, **kwargs), fast(*args, **kwargs)
        assert (f.a, f.b, f.c) == (s.a, s.b, s.c)
    for args, kwargs in [((), {}), ((1, "b", (2,)), {}), ((1,), {"d": 2})]:
        with pytest.raises(TypeError):
            slow(*args, **kwargs)
        with pytest.raises(TypeError):
            fast(*args, **kwargs)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast(1).a = 2


def test_events_and_domain_objects_stay_frozen_and_equal() -> None:
    ts = datetime(2026, 1, 1, tzinfo=UTC)
    sale = ev.Sale(id="x", ts=ts, machine="m", slot="A1", sku="s", units=2, unit_price_cents=150,
                   payment=domain.Payment.CARD)
    assert sale.shop == "main" and sale.txn == "" and sale.units == 2
    assert sale == ev.Sale(id="x", ts=ts, shop="main", machine="m", slot="A1", sku="s", units=2,
                           unit_price_cents=150, payment=domain.Payment.CARD, txn="")
    with pytest.raises(dataclasses.FrozenInstanceError):
        sale.units = 3  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing"):
        ev.Sale(id="x", ts=ts)  # type: ignore[call-arg]
    assert "_set0" in ev.Sale.__init__.__code__.co_names  # fast_init's, not dataclasses'
    assert "_set0" in domain.Quote.__init__.__code__.co_names
    assert ev.Sale.__init__.__qualname__ == "Sale.__init__"


def test_classes_it_cannot_do_keep_their_init() -> None:
    @dataclass(frozen=True, slots=True)
    class Factory:
        items: list[int] = field(default_factory=list)

    @dataclass(frozen=True, slots=True)
    class Post:
        a: int

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("negative")

    before = Factory.__init__, Post.__init__
    fast_init(Factory)
    fast_init(Post)
    assert (Factory.__init__, Post.__init__) == before
    assert Factory().items == [] and Factory().items is not Factory().items
    with pytest.raises(ValueError, match="negative"):
        Post(-1)


def test_fast_init_refuses_a_class_that_is_not_a_frozen_dataclass() -> None:
    @dataclass
    class Mutable:
        a: int

    with pytest.raises(TypeError):
        fast_init(Mutable)
