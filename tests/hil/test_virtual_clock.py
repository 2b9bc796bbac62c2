"""The live composition's clock when it is given one (hardware_adapters.live.VirtualClock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bridge.ports import VirtualTime
from hardware_adapters.live import SystemClock, VirtualClock

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def test_time_moves_only_when_spent_or_advanced_and_never_back() -> None:
    clock = VirtualClock(start=T0)
    assert clock.now() == T0
    clock.spend(30)
    assert clock.now() == T0 + timedelta(minutes=30)
    clock.advance_to(T0)  # the past: nothing moves
    assert clock.now() == T0 + timedelta(minutes=30)
    clock.advance_to(T0 + timedelta(hours=5))
    assert clock.now() == T0 + timedelta(hours=5)


def test_the_mover_plays_what_falls_due_before_the_clock_arrives() -> None:
    seen: list[tuple[datetime, datetime]] = []
    clock = VirtualClock(start=T0)

    def mover(when: datetime) -> None:
        seen.append((clock.now(), when))
        clock.set(when - timedelta(minutes=1))  # a happening on the way

    clock.mover = mover
    clock.spend(10)
    assert seen == [(T0, T0 + timedelta(minutes=10))]
    assert clock.now() == T0 + timedelta(minutes=10)


def test_only_a_virtual_clock_is_virtual_time() -> None:
    assert isinstance(VirtualClock(start=T0), VirtualTime)
    assert not isinstance(SystemClock(), VirtualTime)
    with pytest.raises(ValueError):
        VirtualClock(start=datetime(2026, 1, 5))  # noqa: DTZ001 (a naive time is refused)
