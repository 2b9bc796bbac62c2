"""The gap, measured: fit on all but the last weeks of a history, then replay the demand model over
the held-out weeks with the prices and assortment the shop actually had (each product's units on
offer, its price, the products beside it), once with the calibrated twin's parameters and once with
the base scenario's, and compare the units each predicts per product and week with those sold.

A day's prediction is the expected units sold, E[min(available, Poisson(mu))]: the replay sells no
more than the shop had, as the simulator does."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bridge.errors import ConfigError
from sim_backend.calibrate.demand_fit import Environment
from sim_backend.calibrate.history import History, ProductDay
from sim_backend.calibrate.twin import Calibration, calibrate_history
from sim_backend.catalogue import CatalogueEntry
from sim_backend.demand import choice_multiplier, price_factor
from sim_backend.scenario import Scenario

MIN_FIT_DAYS = 14  # days of history a fit needs before the held-out weeks


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    sku: str
    week: int  # 1 = the first held-out week
    actual: int
    twin: float
    base: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    fit_days: tuple[date, date]
    held_out: tuple[date, date]
    rows: list[Row]
    calibration: Calibration

    def errors(self, which: str, sku: str | None = None) -> tuple[float, float]:
        """(MAE in units a product-week, WAPE: the absolute errors over the units sold)."""
        rows = [r for r in self.rows if sku is None or r.sku == sku]
        err = sum(abs(getattr(r, which) - r.actual) for r in rows)
        actual = sum(r.actual for r in rows)
        return (err / len(rows) if rows else 0.0), (err / actual if actual else math.inf)

    def as_dict(self) -> dict[str, object]:
        skus = sorted({r.sku for r in self.rows})
        return {"fit_days": [str(d) for d in self.fit_days], "held_out": [str(d) for d in self.held_out],
                "overall": {w: dict(zip(("mae", "wape"), self.errors(w), strict=True)) for w in ("twin", "base")},
                "products": {s: {w: dict(zip(("mae", "wape"), self.errors(w, s), strict=True))
                                 for w in ("twin", "base")} for s in skus},
                "rows": [{"sku": r.sku, "week": r.week, "actual": r.actual, "twin": r.twin, "base": r.base}
                         for r in self.rows]}


def expected_sold(mu: float, available: int) -> float:
    """E[min(available, Y)], Y ~ Poisson(mu)."""
    if available <= 0 or mu <= 0:
        return 0.0
    pmf = math.exp(-mu)
    below = 0.0  # sum of k * p_k for k < available
    cdf = 0.0
    for k in range(available):
        below += k * pmf
        cdf += pmf
        pmf *= mu / (k + 1)
    return below + available * max(0.0, 1.0 - cdf)


def check_twin(history: History, *, weeks: int, base: Scenario, base_name: str,
               catalogue: dict[str, CatalogueEntry]) -> CheckReport:
    cut = history.last_day - timedelta(days=7 * weeks)
    if (cut - history.first_day).days + 1 < MIN_FIT_DAYS:
        raise ConfigError(f"too little history to hold out {weeks} weeks: {history.days} days, and a fit needs "
                          f"{MIN_FIT_DAYS} days before them")
    cal = calibrate_history(history.until(cut), base=base, base_name=base_name, catalogue=catalogue)
    held = [p for p in history.panel if p.day > cut]
    env = Environment(mean_celsius=base.world.mean_celsius, swing_celsius=base.world.swing_celsius)
    d = cal.demand
    twin = _model(catalogue, env, rates=d.rates, elasticities=d.elasticities, weekday=d.weekday, month=d.month)
    plain = _model(catalogue, env, rates={}, elasticities={}, weekday=base.world.weekday_factors,
                   month=base.world.month_factors)
    cells: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for p in held:
        week = ((p.day - cut).days - 1) // 7 + 1
        c = cells[(p.sku, week)]
        c[0] += p.units
        c[1] += expected_sold(twin(p), p.available)
        c[2] += expected_sold(plain(p), p.available)
    rows = [Row(sku=sku, week=w, actual=round(a), twin=t, base=b) for (sku, w), (a, t, b) in sorted(cells.items())]
    return CheckReport(fit_days=(history.first_day, cut), held_out=(cut + timedelta(days=1), history.last_day),
                       rows=rows, calibration=cal)


def _model(catalogue: Mapping[str, CatalogueEntry], env: Environment, *, rates: Mapping[str, float],
           elasticities: Mapping[str, float], weekday: Sequence[float],
           month: Sequence[float]) -> Callable[[ProductDay], float]:
    def mu(p: ProductDay) -> float:
        e = catalogue[p.sku]
        rate = rates.get(p.sku, e.hidden.base_daily_sales)
        elasticity = elasticities.get(p.sku, e.hidden.elasticity)
        return (rate * price_factor(p.price_cents, e.product.reference_price_cents, elasticity)
                * weekday[p.day.weekday()] * month[p.day.month - 1] * env.factor(p.day, e.product.category)
                * choice_multiplier(p.n_distinct))
    return mu


def table_lines(report: CheckReport) -> list[str]:
    lines = [f"fit on {report.fit_days[0]}..{report.fit_days[1]}; held out {report.held_out[0]}..{report.held_out[1]}",
             f"{'product':<36} {'sold':>6} {'twin':>8} {'base':>8}   {'MAE twin':>8} {'MAE base':>8}"]
    for sku in sorted({r.sku for r in report.rows}):
        rows = [r for r in report.rows if r.sku == sku]
        lines.append(f"{sku:<36} {sum(r.actual for r in rows):>6} {sum(r.twin for r in rows):>8.1f} "
                     f"{sum(r.base for r in rows):>8.1f}   {report.errors('twin', sku)[0]:>8.2f} "
                     f"{report.errors('base', sku)[0]:>8.2f}")
    (tm, tw), (bm, bw) = report.errors("twin"), report.errors("base")
    lines.append(f"per product-week: MAE twin {tm:.2f} vs base {bm:.2f} units; WAPE twin {tw:.1%} vs base {bw:.1%} "
                 f"({len(report.rows)} product-weeks, {sum(r.actual for r in report.rows)} units sold)")
    return lines


def write_chart(report: CheckReport, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6))
    actual = [r.actual for r in report.rows]
    top = max([*actual, *(r.twin for r in report.rows), *(r.base for r in report.rows), 1.0]) * 1.05
    (_, tw), (_, bw) = report.errors("twin"), report.errors("base")
    ax.scatter(actual, [r.base for r in report.rows], s=18, alpha=0.6, label=f"base scenario (WAPE {bw:.0%})",
               color="tab:gray")
    ax.scatter(actual, [r.twin for r in report.rows], s=18, alpha=0.8, label=f"calibrated twin (WAPE {tw:.0%})",
               color="tab:blue")
    ax.plot([0, top], [0, top], color="black", linewidth=0.8)
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("units sold (held-out product-week)")
    ax.set_ylabel("units predicted")
    ax.set_title(f"held out {report.held_out[0]}..{report.held_out[1]}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
