"""A world whose parameters a test chose: the base scenario with its demand, calendar, payments,
shrinkage, ops and suppliers moved away from the base, written as a scenario file (and its
catalogue) for `vend sim` to make a history from, with the true value of every parameter a
calibration estimates (by the names of its estimates). The tests and scripts/twin_figures.py use
it to check that a calibration recovers what it says it does."""

from __future__ import annotations

from pathlib import Path

from sim_backend.calibrate.twin import to_toml
from sim_backend.catalogue import COLUMNS, load_catalogue
from sim_backend.scenario import Scenario, load_scenario

RATE_MULTIPLIERS = (1.5, 0.65, 1.3, 0.8, 1.0, 1.4, 0.7)  # the products' base rates against the base's, in turn
ELASTICITY_SHIFTS = (0.4, -0.3, 0.0, 0.5, -0.4, 0.2)  # and their elasticities
WEEKDAY_RATIOS = (1.15, 0.85, 1.1, 0.9, 1.0, 1.2, 0.8)  # mean 1: the weekly level stays the rates'
CARD_SHARE = 0.6
SHRINKAGE = 0.03
RESTOCK_MINUTES = 150
COLLECT_MINUTES = 40
LEADS = {"pacific-bev": 3, "snackco": 2}
LATE = {"quickmart": (0.3, 2)}


def write_truth(folder: Path, *, base_name: str = "vb1", days: int = 90, name: str = "truth") -> dict[str, float]:
    """Writes folder/NAME.toml and folder/NAME.products.csv; returns the true values."""
    folder.mkdir(parents=True, exist_ok=True)
    base = load_scenario(base_name)
    catalogue = load_catalogue(base.catalogue or None)
    truth: dict[str, float] = {}
    rows = [",".join(COLUMNS)]
    for i, (sku, e) in enumerate(catalogue.items()):
        rate = round(e.hidden.base_daily_sales * RATE_MULTIPLIERS[i % len(RATE_MULTIPLIERS)], 3)
        elasticity = round(max(1.0, e.hidden.elasticity + ELASTICITY_SHIFTS[i % len(ELASTICITY_SHIFTS)]), 3)
        truth[f"base_daily_sales[{sku}]"] = rate
        truth[f"elasticity[{sku}]"] = elasticity
        p = e.product
        rows.append(",".join(str(x) for x in (sku, f'"{p.name}"', p.category, p.size.value,
                                              e.hidden.wholesale_cost_cents, p.reference_price_cents, elasticity, rate,
                                              p.perishable_days)))
    (folder / f"{name}.products.csv").write_text("\n".join(rows) + "\n")
    raw = base.model_dump(mode="python", exclude_none=True)
    weekday = [round(w * r, 4) for w, r in zip(base.world.weekday_factors, WEEKDAY_RATIOS, strict=True)]
    raw.update(name=name, days=days, catalogue=f"{name}.products.csv",
               description="a test-chosen truth for calibration (sim_backend/calibrate/truth.py)")
    raw["machine"]["card_share"] = CARD_SHARE
    raw["accidents"]["shrinkage_per_week"] = SHRINKAGE
    raw["world"]["weekday_factors"] = weekday
    raw["world"]["restock_delay_minutes"] = RESTOCK_MINUTES
    raw["world"]["collect_delay_minutes"] = COLLECT_MINUTES
    for spec in raw["suppliers"]:
        if spec["id"] in LEADS:
            spec["lead_time_days"] = LEADS[spec["id"]]
        if spec["id"] in LATE:
            spec["late_share"], spec["late_days_max"] = LATE[spec["id"]]
        truth[f"suppliers[{spec['id']}].lead_time_days"] = spec["lead_time_days"]
        truth[f"suppliers[{spec['id']}].late_share"] = spec.get("late_share", 0.0)
    Scenario.model_validate({**raw, "catalogue": str(folder / f"{name}.products.csv")})
    (folder / f"{name}.toml").write_text(to_toml(raw))
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    truth.update({f"weekday_factors[{n}]": w for n, w in zip(names, weekday, strict=True)})
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    truth.update({f"month_factors[{n}]": m for n, m in zip(months, base.world.month_factors, strict=True)})
    truth.update(card_share=CARD_SHARE, shrinkage_per_week=SHRINKAGE, restock_delay_minutes=RESTOCK_MINUTES,
                 collect_delay_minutes=COLLECT_MINUTES)
    return truth
