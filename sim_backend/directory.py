"""A business directory larger than the scenario's suppliers: the search behind `search_suppliers`.

Suppliers are found, not handed over. The directory holds the scenario's own suppliers and a seeded
crowd of other businesses (the run seed's "directory" stream): wholesalers in other trades, repair
shops, caterers, defunct outfits. They match searches by their words and categories, and none of
them sells to a vending machine: a quote asked of one is refused as from any unknown address. A
search returns the best matches first, so knowing a good supplier's id is worth something (in the
arena, a shop may tell another where it buys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim_backend.rng import rng_for

if TYPE_CHECKING:
    from sim_backend.engine import SimWorld

DISTRACTORS = 60
MAX_RESULTS = 10
FIRST = ("Acme", "Bay", "Summit", "Golden", "Harbor", "Metro", "Pioneer", "Redwood", "Sierra", "Union", "Valley",
         "Westside", "Keystone", "Liberty", "Evergreen", "Coastal")
TRADES = (
    ("Office Furniture", ("furniture", "office")),
    ("Janitorial Supply", ("cleaning", "janitorial")),
    ("Vending Machine Repair", ("vending", "repair")),
    ("Catering", ("catering", "food", "events")),
    ("Soda Fountain Service", ("soda", "fountain", "repair")),
    ("Coffee Roasters", ("coffee", "roastery", "cafe")),
    ("Snack Packaging", ("snack", "packaging", "film")),
    ("Beverage Logistics", ("beverage", "drinks", "trucking")),
    ("Candy Wrappers", ("candy", "printing")),
    ("Water Filtration", ("water", "filters")),
    ("Restaurant Wholesale", ("restaurant", "wholesale", "kitchen")),
    ("Party Supplies", ("party", "novelty", "balloons")),
)
WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing:
    supplier: str
    name: str
    contact: str
    words: frozenset[str]
    categories: tuple[str, ...]
    skus: tuple[str, ...]
    lead_time_days: int | None
    min_order_cents: int | None

    def to_json(self) -> dict[str, Any]:
        return {"supplier": self.supplier, "name": self.name, "contact": self.contact,
                "categories": list(self.categories), "sells_to_vending": bool(self.skus),
                "lead_time_days": self.lead_time_days, "min_order_cents": self.min_order_cents,
                "skus": list(self.skus)}


class Directory:
    def __init__(self, world: SimWorld) -> None:
        self.world = world
        self._listings: list[Listing] | None = None

    def listings(self) -> list[Listing]:
        if self._listings is None:
            self._listings = self._build()
        return self._listings

    def _build(self) -> list[Listing]:
        engine = self.world.suppliers
        out = []
        for info in engine.directory():
            spec = engine.specs[info.supplier]
            words = _words(f"{info.name} {info.supplier} wholesale supplier distributor {' '.join(spec.categories)}")
            words |= {w for sku in info.skus for w in _words(self.world.catalogue[sku].product.name)}
            out.append(Listing(supplier=info.supplier, name=info.name, contact=info.contact, words=frozenset(words),
                               categories=tuple(spec.categories), skus=tuple(info.skus),
                               lead_time_days=info.lead_time_days, min_order_cents=info.min_order_cents))
        rng = rng_for(self.world.seed, "directory")
        taken = {x.supplier for x in out}
        for _ in range(DISTRACTORS):
            first = FIRST[rng.randrange(len(FIRST))]
            trade, tags = TRADES[rng.randrange(len(TRADES))]
            name = f"{first} {trade}"
            sid = "-".join(WORD.findall(name.lower()))
            if sid in taken:
                continue
            taken.add(sid)
            out.append(Listing(supplier=sid, name=name, contact=f"info@{sid}.example", words=frozenset(_words(name) | set(tags)),
                               categories=tags, skus=(), lead_time_days=None, min_order_cents=None))
        return out

    def search(self, query: str) -> tuple[list[dict[str, Any]], int]:
        """The listings matching most words of `query`, best first (ties by id); and how many matched."""
        want = _words(query)
        scored = []
        for x in self.listings():
            hits = len(want & x.words) + sum(1 for w in want if len(w) > 3 and w in x.supplier)
            if hits:
                scored.append((-hits, x.supplier, x))
        scored.sort(key=lambda t: (t[0], t[1]))
        return [x.to_json() for _, _, x in scored[:MAX_RESULTS]], len(scored)


def _words(text: str) -> set[str]:
    return {w.rstrip("s") if len(w) > 3 else w for w in WORD.findall(text.lower())}


__all__ = ["Directory"]
