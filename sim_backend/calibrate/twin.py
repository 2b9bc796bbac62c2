"""A calibration as a whole (the demand fit and the world's), and the twin it writes: a scenario
TOML that `vend sim` and `vend gate` load, a products CSV beside it (the fitted demand parameters),
and a JSON file with every estimate, its interval and how it was found."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sim_backend.calibrate.demand_fit import DemandFit, fit_demand
from sim_backend.calibrate.estimate import Estimate
from sim_backend.calibrate.history import History
from sim_backend.calibrate.world_fit import fit_world
from sim_backend.catalogue import COLUMNS, CatalogueEntry
from sim_backend.scenario import Scenario

LITTLE_DATA_DAYS = 28  # fewer days with sales than this: said plainly, the twin is mostly the base scenario
ALWAYS_KEPT = ("weather (mean_celsius, swing_celsius, the weather chain): the store keeps no weather",
               "the choice multiplier, the price cap and the day-to-day noise: the model's structure, not fitted",
               "customers' chat, accidents other than shrinkage, suppliers' prices and minimum orders")


@dataclass(slots=True, kw_only=True)
class Calibration:
    base_name: str
    base: Scenario
    catalogue: dict[str, CatalogueEntry]
    history: History
    demand: DemandFit
    world: list[Estimate]
    notes: list[str] = field(default_factory=list)

    @property
    def little_data(self) -> bool:
        return self.history.sales_days < LITTLE_DATA_DAYS

    @property
    def estimates(self) -> list[Estimate]:
        return self.demand.estimates + self.world

    def get(self, name: str) -> Estimate:
        for e in self.estimates:
            if e.name == name:
                return e
        raise KeyError(name)

    def not_identified(self) -> list[str]:
        never = sorted(set(self.catalogue) - set(self.demand.rates))
        out = [f"{e.name}: {e.evidence}" for e in self.estimates if e.method == "base"]
        out.append(f"base_daily_sales and elasticity of {len(never)} products never on offer")
        return out + list(ALWAYS_KEPT)


def calibrate_history(history: History, *, base: Scenario, base_name: str,
                      catalogue: dict[str, CatalogueEntry]) -> Calibration:
    demand = fit_demand(history.panel, catalogue=catalogue, weekday0=base.world.weekday_factors,
                        month0=base.world.month_factors, mean_celsius=base.world.mean_celsius,
                        swing_celsius=base.world.swing_celsius)
    cal = Calibration(base_name=base_name, base=base, catalogue=catalogue, history=history, demand=demand,
                      world=fit_world(history, base))
    days = history.sales_days
    if days < LITTLE_DATA_DAYS:
        cal.notes.append(f"little data: {days} days with sales. The estimates lean on the base scenario "
                         f"({base_name}) and their intervals are wide; treat this twin as the base scenario, "
                         f"lightly adjusted, until there is more history.")
    pooled = sum(1 for e in demand.estimates if e.name.startswith("elasticity[") and e.method == "pooled")
    if pooled:
        cal.notes.append(f"{pooled} of {len(demand.rates)} products had too few price changes for an elasticity of "
                         f"their own: they have their category's (pooled), with its spread as their interval.")
    if demand.dispersion > 1.0:
        cal.notes.append(f"sales vary {demand.dispersion:.2f} times as much as a Poisson model says (weather, "
                         f"noise): the intervals are widened by that much.")
    return cal


def twin_scenario(cal: Calibration, *, name: str, catalogue_file: str) -> dict[str, Any]:
    """The base scenario with the calibrated values in (a dict that Scenario validates)."""
    raw = cal.base.model_dump(mode="python", exclude_none=True)
    raw["name"] = name
    raw["description"] = (f"calibrated from the history of shop {cal.history.shop} "
                          f"{cal.history.first_day}..{cal.history.last_day} over {cal.base_name}")
    raw["catalogue"] = catalogue_file

    def value(n: str) -> Estimate:
        return cal.get(n)

    raw["machine"]["card_share"] = round(value("card_share").value, 4)
    raw["accidents"]["shrinkage_per_week"] = round(min(0.5, value("shrinkage_per_week").value), 5)
    raw["world"]["weekday_factors"] = [round(x, 4) for x in cal.demand.weekday]
    raw["world"]["month_factors"] = [round(x, 4) for x in cal.demand.month]
    raw["world"]["restock_delay_minutes"] = max(1, round(value("restock_delay_minutes").value))
    raw["world"]["collect_delay_minutes"] = max(1, round(value("collect_delay_minutes").value))
    lo, hi = value("approver.delay_minutes_min").value, value("approver.delay_minutes_max").value
    raw["approver"]["delay_minutes_min"] = max(0, round(min(lo, hi)))
    raw["approver"]["delay_minutes_max"] = max(0, round(max(lo, hi)))
    for spec in raw["suppliers"]:
        n = f"suppliers[{spec['id']}]"
        spec["lead_time_days"] = round(value(f"{n}.lead_time_days").value)
        spec["late_share"] = round(value(f"{n}.late_share").value, 4)
        spec["late_days_max"] = round(value(f"{n}.late_days_max").value)
    return raw


def twin_catalogue_csv(cal: Calibration) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for sku, entry in cal.catalogue.items():
        p, h = entry.product, entry.hidden
        rate = cal.demand.rates.get(sku, h.base_daily_sales)
        elasticity = cal.demand.elasticities.get(sku, h.elasticity)
        w.writerow([sku, p.name, p.category, p.size.value, h.wholesale_cost_cents, p.reference_price_cents,
                    round(elasticity, 4), round(rate, 4), p.perishable_days])
    return buf.getvalue()


def write_twin(cal: Calibration, out: Path) -> tuple[Path, Path, Path]:
    """Writes OUT (the scenario), OUT's stem + .products.csv and + .calibration.json beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    csv_path = out.with_name(out.stem + ".products.csv")
    json_path = out.with_name(out.stem + ".calibration.json")
    csv_path.write_text(twin_catalogue_csv(cal))
    scenario = twin_scenario(cal, name=out.stem, catalogue_file=csv_path.name)
    Scenario.model_validate({**scenario, "catalogue": str(csv_path)})  # what load_scenario will make of it
    out.write_text("\n".join(header(cal)) + "\n" + to_toml(scenario))
    json_path.write_text(json.dumps(report(cal), indent=1, default=str))
    return out, csv_path, json_path


def report(cal: Calibration) -> dict[str, Any]:
    h = cal.history
    return {"base": cal.base_name, "shop": h.shop, "first_day": h.first_day, "last_day": h.last_day,
            "days": h.days, "sales_days": h.sales_days, "units": sum(h.daily_units.values()),
            "dispersion": cal.demand.dispersion, "little_data": cal.little_data, "notes": cal.notes, "not_identified": cal.not_identified(),
            "estimates": [e.as_dict() for e in cal.estimates]}


def summary_lines(cal: Calibration) -> list[str]:
    """What `vend calibrate` prints: the history, each estimate with its interval, what was kept."""
    h = cal.history
    lines = [f"history: shop {h.shop}, {h.first_day}..{h.last_day} ({h.days} days, {h.sales_days} with sales, "
             f"{sum(h.daily_units.values()):,} units); base scenario {cal.base_name}"]
    lines += [f"note: {n}" for n in cal.notes]
    lines.append(f"{'parameter':<52} {'estimate':>9} {'90% interval':>20} {'base':>8}  how")
    for e in cal.estimates:
        if e.method == "base":
            continue
        lines.append(f"{e.name:<52} {e.value:>9.3f} {f'{e.low:.3f}..{e.high:.3f}':>20} {e.base:>8.3f}  "
                     f"{e.method}: {e.evidence}")
    lines.append("not identified from the data (the base scenario's values kept):")
    lines += [f"  - {n}" for n in cal.not_identified()]
    return lines


def header(cal: Calibration) -> list[str]:
    out = [f"# A digital twin, calibrated by `vend calibrate` from the history of shop {cal.history.shop} "
           f"({cal.history.first_day}..{cal.history.last_day}) over the base scenario {cal.base_name}.",
           "# Every estimate with its 90% interval (also in the .calibration.json beside this file):"]
    out += [f"#   {e.name} = {e.value:.4g} ({e.low:.4g}..{e.high:.4g}; base {e.base:.4g}; {e.method})"
            for e in cal.estimates if e.method != "base"]
    out += [f"# NOTE: {n}" for n in cal.notes]
    out.append("# Not identified from the data (the base scenario's values kept):")
    out += [f"#   - {n}" for n in cal.not_identified()]
    return out


def to_toml(data: dict[str, Any]) -> str:
    """A scenario dict as TOML: scalars, then tables, then arrays of tables."""
    lines: list[str] = []
    _table(lines, data, [])
    return "\n".join(lines) + "\n"


def _table(lines: list[str], data: dict[str, Any], path: list[str]) -> None:
    for k, v in data.items():
        if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict)):
            lines.append(f"{k} = {_value(v)}")
    for k, v in data.items():
        if isinstance(v, dict):
            lines += ["", f"[{'.'.join([*path, k])}]"]
            _table(lines, v, [*path, k])
    for k, v in data.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                lines += ["", f"[[{'.'.join([*path, k])}]]"]
                _table(lines, item, [*path, k])


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return json.dumps(str(v))
