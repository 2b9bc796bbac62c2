"""The parsed content of an EVA-DTS 6.1 (DEX/UCS) audit: frozen records, no parsing here.

Money is integer cents (the parser rescales by the file's ID401 decimal places); counters "total" are
since initialisation of the machine (never reset), "since_reset" since the last audit reset.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


class DexError(ValueError):
    """A DEX file that cannot be used: malformed framing or segments."""


class DexCrcError(DexError):
    """The G85 check value does not match the data (corrupted or truncated in transit)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SalesCounters:
    """VA1 (all paid vends), CA2 (cash) or DA2 (cashless 1): value and count, total and since reset."""

    value_cents: int
    count: int
    value_since_reset_cents: int = 0
    count_since_reset: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectionCounters:
    """PA1 (selection, price) with its PA2 (paid vends and value)."""

    selection: str
    price_cents: int
    vends: int
    value_cents: int
    vends_since_reset: int = 0
    value_since_reset_cents: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class DexEvent:
    """EA1 (an event occurrence: code, local date/time) or EA2 (an event's counters).

    `at` is set for EA1, the counters and `active` for EA2. Common codes: EGS door open,
    EJJ temperature (health-control) fault, EAR product sold out, ELA lost/unknown.
    """

    code: str
    at: datetime | None = None
    count_since_reset: int | None = None
    count: int | None = None
    active: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DexAudit:
    """One audit read. `communication_id` is DXS01, `machine_serial` ID101."""

    communication_id: str
    machine_serial: str
    model: str = ""
    location: str = ""
    asset_number: str = ""
    paid: SalesCounters
    cash: SalesCounters | None = None
    cashless: SalesCounters | None = None
    selections: tuple[SelectionCounters, ...] = ()
    events: tuple[DexEvent, ...] = ()

    def selection(self, selection: str) -> SelectionCounters | None:
        return next((s for s in self.selections if s.selection == selection), None)

    @property
    def selection_vends(self) -> dict[str, int]:
        return {s.selection: s.vends for s in self.selections}
