"""The emulated machine's local state: slots, lock, display, cash box, audit counters (no MQTT here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hardware_adapters.dex_records import DexAudit, DexEvent, SalesCounters, SelectionCounters

PAYMENTS = ("card", "cash")


class MachineError(Exception):
    """A purchase or command the machine refuses; the message is the reason."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Slot:
    count: int
    price_cents: int
    sku: str = ""  # the product, when the device knows it (reported in its inventory)
    capacity: int = 0  # the slot's capacity, when the device knows it (reported in its inventory)


def default_slots() -> dict[str, Slot]:
    """4 rows x 3 slots: rows A-B small items, C-D large items."""
    return {
        f"{row}{n}": Slot(count=8, price_cents=150 if row in "AB" else 275)
        for row in "ABCD"
        for n in (1, 2, 3)
    }


@dataclass(slots=True)
class _Counters:
    vends: int = 0
    value_cents: int = 0


@dataclass(slots=True)
class MachineState:
    """Mutable; the emulator guards it with its own lock."""

    slots: dict[str, Slot]
    locked: bool = False
    display: str = ""
    cash_box_cents: int = 0
    door_opens: int = 0
    selection_counters: dict[str, _Counters] = field(default_factory=dict)
    payment_counters: dict[str, _Counters] = field(default_factory=dict)

    @classmethod
    def with_slots(cls, slots: Mapping[str, Slot] | None) -> MachineState:
        return cls(slots=dict(slots if slots is not None else default_slots()))

    def sell(self, slot: str, payment: str) -> int:
        """One paid vend; returns the price charged."""
        if payment not in PAYMENTS:
            raise MachineError(f"unknown payment {payment!r}")
        if self.locked:
            raise MachineError("machine is locked")
        current = self._slot(slot)
        if current.count <= 0:
            raise MachineError(f"slot {slot} is sold out")
        self.slots[slot] = replace(current, count=current.count - 1)
        for counters in (
            self.selection_counters.setdefault(slot, _Counters()),
            self.payment_counters.setdefault(payment, _Counters()),
        ):
            counters.vends += 1
            counters.value_cents += current.price_cents
        if payment == "cash":
            self.cash_box_cents += current.price_cents
        return current.price_cents

    def restock(self, slot: str, count: int) -> None:
        if count <= 0:
            raise MachineError("restock count must be positive")
        current = self._slot(slot)
        self.slots[slot] = replace(current, count=current.count + count)

    def take(self, slot: str, count: int) -> None:
        """Units gone from a slot without a vend (taken through an open door, damaged, thrown out): the
        machine records no event; its next inventory report counts what is left."""
        current = self._slot(slot)
        if not 0 < count <= current.count:
            raise MachineError(f"cannot take {count} from slot {slot} holding {current.count}")
        self.slots[slot] = replace(current, count=current.count - count)

    def collect_cash(self) -> int:
        amount, self.cash_box_cents = self.cash_box_cents, 0
        return amount

    def in_stock(self) -> list[str]:
        return [name for name, s in self.slots.items() if s.count > 0]

    def apply(self, command: Mapping[str, Any]) -> None:
        """Apply a bridge command (set_price, lock, unlock, display); raise MachineError to refuse it."""
        kind = command.get("type")
        if kind == "set_price":
            slot, price = command.get("slot"), command.get("price_cents")
            if not isinstance(slot, str):
                raise MachineError("set_price needs a slot")
            if not isinstance(price, int) or isinstance(price, bool) or not 0 < price <= 100_000:
                raise MachineError("price_cents must be an integer in 1..100000")
            current = self._slot(slot)
            self.slots[slot] = replace(current, price_cents=price)
        elif kind in ("lock", "unlock"):
            self.locked = kind == "lock"
        elif kind == "display":
            text = command.get("text")
            if not isinstance(text, str) or len(text) > 200:
                raise MachineError("display needs text of at most 200 characters")
            self.display = text
        else:
            raise MachineError(f"unknown command type {kind!r}")

    def inventory(self) -> dict[str, dict[str, Any]]:
        """The inventory report's slots; a slot's product and capacity only when the device knows them."""
        out: dict[str, dict[str, Any]] = {}
        for name, s in sorted(self.slots.items()):
            row: dict[str, Any] = {"count": s.count, "price_cents": s.price_cents}
            if s.sku:
                row["sku"] = s.sku
            if s.capacity:
                row["capacity"] = s.capacity
            out[name] = row
        return out

    def load(self, slot: str, *, sku: str, count: int, capacity: int = 0) -> None:
        """Service: another product in the slot (what was in it taken out), and maybe another capacity."""
        current = self._slot(slot)
        self.slots[slot] = replace(current, sku=sku, count=count, capacity=capacity or current.capacity)

    def audit(self, *, machine_id: str) -> DexAudit:
        """The controller's audit counters as a DEX record (since this emulator process started)."""

        def totals(payment: str) -> SalesCounters:
            c = self.payment_counters.get(payment, _Counters())
            return SalesCounters(value_cents=c.value_cents, count=c.vends)

        cash, card = totals("cash"), totals("card")
        return DexAudit(
            communication_id=machine_id[:10],
            machine_serial=machine_id,
            model="vendbridge-emulator",
            paid=SalesCounters(
                value_cents=cash.value_cents + card.value_cents, count=cash.count + card.count
            ),
            cash=cash,
            cashless=card,
            selections=tuple(
                SelectionCounters(
                    selection=name,
                    price_cents=slot.price_cents,
                    vends=self.selection_counters.get(name, _Counters()).vends,
                    value_cents=self.selection_counters.get(name, _Counters()).value_cents,
                )
                for name, slot in sorted(self.slots.items())
            ),
            events=(
                DexEvent(code="EGS", count_since_reset=self.door_opens, count=self.door_opens, active=False),
            ),
        )

    def _slot(self, slot: str) -> Slot:
        try:
            return self.slots[slot]
        except KeyError:
            raise MachineError(f"no slot {slot!r}") from None
