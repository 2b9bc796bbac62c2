"""Supplier discovery in the arena (`vend arena --discovery`): each shop starts knowing no supplier.
`list_suppliers` shows only the suppliers the shop has found with `search_suppliers`, or has written
to or asked a quote of (a supplier's id another shop told it about is as good as a search). So a
good supplier is worth knowing, and worth telling (or not telling) a rival about."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bridge.domain import OrderReceipt, QuoteRequested, SupplierInfo
from bridge.ports import Procurement

Search = Callable[[str], tuple[list[dict[str, Any]], int]]


class KnownSuppliers:
    """The suppliers one shop knows, with the procurement and search that teach it more."""

    def __init__(self, *, procurement: Procurement, search: Search) -> None:
        self.inner = procurement
        self._search = search
        self.known: set[str] = set()

    # --- Procurement, with the directory cut to what the shop knows ------------------------------
    def suppliers(self) -> Sequence[SupplierInfo]:
        return [s for s in self.inner.suppliers() if s.supplier in self.known]

    def request_quote(self, *, supplier: str, items: Mapping[str, int]) -> QuoteRequested:
        receipt = self.inner.request_quote(supplier=supplier, items=items)
        self.known.add(supplier)
        return receipt

    def counter_offer(self, *, quote_id: str, unit_costs_cents: Mapping[str, int]) -> QuoteRequested:
        return self.inner.counter_offer(quote_id=quote_id, unit_costs_cents=unit_costs_cents)

    def place_order(self, *, quote_id: str, idempotency_key: str) -> OrderReceipt:
        return self.inner.place_order(quote_id=quote_id, idempotency_key=idempotency_key)

    # --- the search, remembering what it found ----------------------------------------------------
    def search(self, query: str) -> tuple[list[dict[str, Any]], int]:
        matches, total = self._search(query)
        self.known |= {m["supplier"] for m in matches if m["sells_to_vending"]}
        return matches, total
