"""Reconcile two successive DEX audits against what the ledger recorded between them (pure).

The machine's counters since initialisation (PA201 per selection, VA1/CA2/DA2 totals) only grow, so the
difference between two audits is what the machine itself counted in between. If it counted more vends
for a selection than the ledger recorded vend events, events were lost on the way (`lost_events`); if
the ledger has more, something recorded vends the machine never made (`phantom`: a duplicate that
slipped past idempotency, a test purchase, fraud).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from hardware_adapters.dex_records import DexAudit, DexError, SalesCounters

DiscrepancyKind = Literal["lost_events", "phantom"]


class DexCounterReset(DexError):
    """A since-initialisation counter went down: the controller was reset or replaced between audits."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Discrepancy:
    selection: str
    audit_vends: int
    ledger_vends: int
    kind: DiscrepancyKind

    @property
    def difference(self) -> int:
        """audit minus ledger: positive = lost events, negative = phantom vends."""
        return self.audit_vends - self.ledger_vends


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconciliation:
    machine_serial: str
    discrepancies: tuple[Discrepancy, ...]
    audit_vends: int  # VA102 delta
    audit_value_cents: int  # VA101 delta
    audit_cash_value_cents: int | None  # CA201 delta (None if either audit lacks CA2)
    audit_cashless_value_cents: int | None  # DA201 delta
    ledger_vends: int
    ledger_value_cents: int | None
    value_difference_cents: int | None  # audit value minus ledger value, when the ledger value is given

    @property
    def clean(self) -> bool:
        return not self.discrepancies and not self.value_difference_cents


def _delta(name: str, before: int, after: int) -> int:
    if after < before:
        raise DexCounterReset(f"{name} went from {before} to {after}")
    return after - before


def _value_delta(name: str, before: SalesCounters | None, after: SalesCounters | None) -> int | None:
    if before is None or after is None:
        return None
    return _delta(name, before.value_cents, after.value_cents)


def reconcile(
    previous: DexAudit,
    current: DexAudit,
    ledger_vends: Mapping[str, int],
    *,
    ledger_value_cents: int | None = None,
) -> Reconciliation:
    """Compare per-selection vend deltas with `ledger_vends` (selection -> vends recorded in between).

    A selection missing from `previous` counts from zero (newly configured); one the ledger names but
    neither audit has is a phantom. Raises `DexCounterReset` if any counter decreased and `DexError` if
    the audits come from different machines.
    """
    if previous.machine_serial != current.machine_serial:
        raise DexError(f"audits of different machines: {previous.machine_serial} vs {current.machine_serial}")
    before = previous.selection_vends
    audit_deltas = {
        s.selection: _delta(f"PA201 {s.selection}", before.get(s.selection, 0), s.vends)
        for s in current.selections
    }
    for selection, vends in before.items():
        if selection not in audit_deltas and vends:
            raise DexCounterReset(f"selection {selection} disappeared from the audit")
    discrepancies = []
    for selection in sorted(set(audit_deltas) | set(ledger_vends)):
        audit_n = audit_deltas.get(selection, 0)
        ledger_n = ledger_vends.get(selection, 0)
        if audit_n != ledger_n:
            kind: DiscrepancyKind = "lost_events" if audit_n > ledger_n else "phantom"
            discrepancies.append(
                Discrepancy(selection=selection, audit_vends=audit_n, ledger_vends=ledger_n, kind=kind)
            )
    audit_value = _delta("VA101", previous.paid.value_cents, current.paid.value_cents)
    return Reconciliation(
        machine_serial=current.machine_serial,
        discrepancies=tuple(discrepancies),
        audit_vends=_delta("VA102", previous.paid.count, current.paid.count),
        audit_value_cents=audit_value,
        audit_cash_value_cents=_value_delta("CA201", previous.cash, current.cash),
        audit_cashless_value_cents=_value_delta("DA201", previous.cashless, current.cashless),
        ledger_vends=sum(ledger_vends.values()),
        ledger_value_cents=ledger_value_cents,
        value_difference_cents=None if ledger_value_cents is None else audit_value - ledger_value_cents,
    )
