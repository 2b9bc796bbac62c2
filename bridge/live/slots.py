"""Each live slot's product and capacity over time, as the machine holds them.

The config's planogram is only the opening state. A device's inventory report that names a slot's
product or capacity, and a person's restock confirmation that loads a product into a slot, change the
slot from their own timestamps on, as the simulated machine changes when its restocker loads another
product. A vend is booked as the product its slot held at the vend's own time, so a vend that arrives
late (a device that was offline) is the product it sold even when the slot has changed since. The
changes are kept in the `slot_product` table (append-only), so a restarted bridge carries on with them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

DEFAULT_CAPACITY = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class Loaded:
    """From `since` on, the slot holds `sku`; `capacity` 0 is the machine's configured slot capacity."""

    since: datetime
    sku: str
    capacity: int = 0


class SlotPlan:
    """machine -> slot -> what it holds. `current` (machine -> slot -> sku now) is what a device's message
    is translated with; `sku_at` answers for a time, which is what the books take."""

    def __init__(self, *, opening: Mapping[str, Mapping[str, str]], capacity: Mapping[str, int] | None = None) -> None:
        self.opening = {m: dict(p) for m, p in opening.items()}
        self.default_capacity = dict(capacity or {})
        self.history: dict[tuple[str, str], list[Loaded]] = {}
        self.current: dict[str, dict[str, str]] = {m: dict(p) for m, p in opening.items()}

    def sku_at(self, machine: str, slot: str, when: datetime | None = None) -> str | None:
        """The product in the slot at `when` (default: now, the latest change)."""
        at = self._at(machine, slot, when)
        return at.sku if at is not None and at.sku else self.opening.get(machine, {}).get(slot)

    def capacity(self, machine: str, slot: str) -> int:
        at = self._at(machine, slot, None)
        return (at.capacity if at is not None else 0) or self.default_capacity.get(machine, DEFAULT_CAPACITY)

    def _at(self, machine: str, slot: str, when: datetime | None) -> Loaded | None:
        hist = self.history.get((machine, slot))
        if not hist:
            return None
        if when is None:
            return hist[-1]
        i = bisect_right(hist, when, key=lambda h: h.since)
        return hist[i - 1] if i else None

    def change(self, machine: str, slot: str, *, since: datetime, sku: str = "", capacity: int = 0) -> Loaded | None:
        """The slot holds `sku` (empty: the product it held) with `capacity` (0: the one it had) from
        `since` on. Returns the change, or None when the slot held exactly that already."""
        hist = self.history.setdefault((machine, slot), [])
        i = bisect_right(hist, since, key=lambda h: h.since)
        before = hist[i - 1] if i else None
        old_sku = before.sku if before is not None else self.opening.get(machine, {}).get(slot, "")
        old_capacity = before.capacity if before is not None else 0
        new = Loaded(since=since, sku=sku or old_sku, capacity=capacity or old_capacity)
        if new.sku == old_sku and new.capacity == old_capacity:
            return None
        hist.insert(i, new)
        if hist[-1].sku:
            self.current.setdefault(machine, {})[slot] = hist[-1].sku
        return new

    def restore(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """The changes the store kept (rows of `slot_product`), after a restart."""
        for r in sorted(rows, key=lambda r: (r["since"], r.get("id") or 0)):
            self.change(r["machine_id"], r["slot"], since=r["since"], sku=r["sku"], capacity=r["capacity"])
