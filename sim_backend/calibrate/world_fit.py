"""The world around the shop, from its history: how customers pay, how much stock vanishes, how
suppliers deliver, and how long ops take. Each estimate comes with a 90% interval; what the history
does not show keeps the base scenario's value, said so."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sim_backend.calibrate.estimate import Estimate, beta_interval, gamma_interval, kept, median_interval
from sim_backend.calibrate.history import History
from sim_backend.scenario import Scenario

PRIOR_SHARE_UNITS = 10.0  # units of the base card share behind its prior
MIN_TIMES = 3  # task or approval times needed to estimate a delay


def fit_world(history: History, base: Scenario) -> list[Estimate]:
    out: list[Estimate] = []
    share0 = base.machine.card_share
    mean, lo, hi = beta_interval(history.card_units + PRIOR_SHARE_UNITS * share0,
                                 history.cash_units + PRIOR_SHARE_UNITS * (1 - share0))
    out.append(Estimate(name="card_share", value=mean, low=lo, high=hi, base=share0, method="fitted",
                        evidence=f"{history.card_units} card and {history.cash_units} cash units"))
    shrink0 = base.accidents.shrinkage_per_week
    if history.machine_unit_weeks >= 50:
        lost = history.lost_in_machine
        rate = lost / history.machine_unit_weeks
        lo, hi = gamma_interval(max(lost, 0.5) / history.machine_unit_weeks, max(lost, 0.5))
        out.append(Estimate(name="shrinkage_per_week", value=rate, low=0.0 if lost == 0 else lo,
                            high=max(hi, 3.0 / history.machine_unit_weeks if lost == 0 else hi), base=shrink0,
                            method="fitted", evidence=f"{lost} units lost of {history.machine_unit_weeks:.0f} "
                                                      f"unit-weeks in the machine"))
    else:
        out.append(kept("shrinkage_per_week", shrink0, "too few weeks of stock in the machine"))
    out.extend(_suppliers(history, base))
    for kind, field, base_value in (("restock", "restock_delay_minutes", base.world.restock_delay_minutes),
                                    ("collect_cash", "collect_delay_minutes", base.world.collect_delay_minutes)):
        times = history.task_minutes.get(kind, [])
        out.append(_delay(field, times, base_value, f"{len(times)} {kind} tasks"))
    times = history.approval_minutes
    out.append(_delay("approver.delay_minutes_min", [min(times)] * MIN_TIMES if len(times) >= MIN_TIMES else [],
                      base.approver.delay_minutes_min, f"{len(times)} approvals answered"))
    out.append(_delay("approver.delay_minutes_max", [max(times)] * MIN_TIMES if len(times) >= MIN_TIMES else [],
                      base.approver.delay_minutes_max, f"{len(times)} approvals answered"))
    return out


def _delay(name: str, times: Sequence[float], base: float, evidence: str) -> Estimate:
    if len(times) < MIN_TIMES:
        return kept(name, base, f"{evidence}: too few")
    med, lo, hi = median_interval(list(times))
    return Estimate(name=name, value=med, low=lo, high=hi, base=base, method="fitted", evidence=evidence)


def _suppliers(history: History, base: Scenario) -> list[Estimate]:
    days: dict[str, list[int]] = defaultdict(list)
    undelivered: dict[str, int] = defaultdict(int)
    end = history.last_day
    for o in history.orders:
        placed = o.placed.astimezone(history.tz).date()
        if o.delivered is not None:
            days[o.supplier].append((o.delivered.astimezone(history.tz).date() - placed).days)
        elif (end - placed).days > 14:  # long overdue: counted against the supplier's reliability
            undelivered[o.supplier] += 1
    out: list[Estimate] = []
    for spec in base.suppliers:
        seen = days.get(spec.id, [])
        name = f"suppliers[{spec.id}]"
        if len(seen) < 2:
            why = f"{len(seen)} orders delivered"
            out += [kept(f"{name}.lead_time_days", spec.lead_time_days, why),
                    kept(f"{name}.late_share", spec.late_share, why),
                    kept(f"{name}.late_days_max", spec.late_days_max, why)]
            continue
        usual = min(sorted(set(seen)), key=lambda d: (-seen.count(d), d))  # the most common lead time
        late = [d - usual for d in seen if d > usual]
        n = len(seen) + undelivered.get(spec.id, 0)
        _, lo, hi = beta_interval(len(late) + undelivered.get(spec.id, 0) + 0.5, n - len(late) + 0.5)
        lead_lo, lead_hi = min(seen), usual
        out.append(Estimate(name=f"{name}.lead_time_days", value=float(usual), low=float(lead_lo),
                            high=float(lead_hi), base=spec.lead_time_days, method="fitted",
                            evidence=f"{len(seen)} orders delivered: {sorted(set(seen))} days"))
        out.append(Estimate(name=f"{name}.late_share", value=len(late) / n, low=lo if late else 0.0, high=hi,
                            base=spec.late_share, method="fitted",
                            evidence=f"{len(late)} late and {undelivered.get(spec.id, 0)} undelivered of {n}"))
        out.append(Estimate(name=f"{name}.late_days_max", value=float(max(late, default=0)),
                            low=float(max(late, default=0)), high=float(max(late, default=0) + (1 if late else 0)),
                            base=spec.late_days_max, method="fitted" if late else "base",
                            evidence=f"{len(late)} late deliveries"))
    return out
