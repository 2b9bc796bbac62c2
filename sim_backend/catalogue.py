"""The product catalogue: public shelf facts plus the hidden demand parameters the oracle reads."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bridge.domain import Product, Size
from bridge.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class DemandParams:
    """Hidden truth: only the simulator and the oracle see these."""

    wholesale_cost_cents: int
    elasticity: float
    base_daily_sales: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogueEntry:
    product: Product
    hidden: DemandParams

    @property
    def sku(self) -> str:
        return self.product.sku


COLUMNS = ("sku", "name", "category", "size", "wholesale_cost_cents", "reference_price_cents", "elasticity",
           "base_daily_sales", "perishable_days")


def load_catalogue(path: str | Path | None = None) -> dict[str, CatalogueEntry]:
    if path is None:
        text = resources.files("sim_backend").joinpath("data/products.csv").read_text()
        source = "products.csv"
    else:
        try:
            text = Path(path).read_text()
        except OSError as err:
            raise ConfigError(f"catalogue {path}: {err.strerror}") from None
        source = str(path)
    rows = list(csv.DictReader(text.splitlines()))
    if not rows or tuple(rows[0].keys()) != COLUMNS:
        raise ConfigError(f"{source}: columns must be {','.join(COLUMNS)}")
    out: dict[str, CatalogueEntry] = {}
    for n, row in enumerate(rows, start=2):
        try:
            product = Product(sku=row["sku"], name=row["name"], category=row["category"], size=Size(row["size"]),
                              reference_price_cents=int(row["reference_price_cents"]),
                              perishable_days=int(row["perishable_days"]))
            hidden = DemandParams(wholesale_cost_cents=int(row["wholesale_cost_cents"]),
                                  elasticity=float(row["elasticity"]),
                                  base_daily_sales=float(row["base_daily_sales"]))
        except (ValueError, KeyError) as err:
            raise ConfigError(f"{source}:{n}: {err}") from None
        if product.sku in out:
            raise ConfigError(f"{source}:{n}: duplicate sku {product.sku}")
        out[product.sku] = CatalogueEntry(product=product, hidden=hidden)
    return out
