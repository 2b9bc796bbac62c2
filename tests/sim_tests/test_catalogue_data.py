"""Sanity checks on the simulator's product catalogue (sim_backend/data/products.csv)."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

CSV_PATH = Path(__file__).resolve().parents[2] / "sim_backend" / "data" / "products.csv"

COLUMNS = [
    "sku",
    "name",
    "category",
    "size",
    "wholesale_cost_cents",
    "reference_price_cents",
    "elasticity",
    "base_daily_sales",
    "perishable_days",
]
CATEGORIES = {
    "soda",
    "water",
    "juice",
    "energy",
    "coffee",
    "chips",
    "candy",
    "snack-bar",
    "cookies",
    "nuts",
    "gum",
    "fresh",
    "novelty",
}
SIZES = {"small", "large"}
SKU_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")


def _load() -> tuple[list[str], list[dict[str, str]]]:
    with CSV_PATH.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return _load()[1]


def test_header_is_exact() -> None:
    assert _load()[0] == COLUMNS


def test_at_least_48_products(rows: list[dict[str, str]]) -> None:
    assert len(rows) >= 48


def test_no_blank_cells(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert None not in row, f"extra cells in {row}"
        for col in COLUMNS:
            assert (row[col] or "").strip(), f"{row.get('sku')}: empty {col}"


def test_skus_unique_slugs(rows: list[dict[str, str]]) -> None:
    skus = [r["sku"] for r in rows]
    dupes = [s for s, n in Counter(skus).items() if n > 1]
    assert not dupes
    for sku in skus:
        assert SKU_RE.match(sku) and len(sku) <= 40, sku


def test_categories_and_sizes_allowed(rows: list[dict[str, str]]) -> None:
    for row in rows:
        assert row["category"] in CATEGORIES, row["sku"]
        assert row["size"] in SIZES, row["sku"]


def test_each_size_class_has_18(rows: list[dict[str, str]]) -> None:
    counts = Counter(r["size"] for r in rows)
    assert counts["small"] >= 18
    assert counts["large"] >= 18


def test_numeric_ranges(rows: list[dict[str, str]]) -> None:
    for row in rows:
        sku = row["sku"]
        wholesale = int(row["wholesale_cost_cents"])
        reference = int(row["reference_price_cents"])
        elasticity = float(row["elasticity"])
        sales = float(row["base_daily_sales"])
        days = int(row["perishable_days"])
        assert 10 <= wholesale <= 1000, sku
        assert 50 <= reference <= 1500, sku
        assert reference >= 1.6 * wholesale, sku
        assert 1.2 <= elasticity <= 3.0, sku
        assert 0.4 <= sales <= 6.0, sku
        if row["category"] == "fresh":
            assert 2 <= days <= 14, sku
        else:
            assert 180 <= days <= 730, sku
