"""The world's accidents: a machine offline for a day, a cash jam, a fridge failure that spoils
chilled stock, shrinkage, a supplier's price rise, a week of storms.

Each is drawn on seeded days from the run seed when the world is built, scheduled as a happening,
and says what it did with events (`MachineStatus`, `Alarm`, `StockLost`, a supplier's message), so
the books learn of every unit lost and `books_disagree` stays empty. With the `[accidents]` table
absent or all zero, `install` schedules nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from bridge import events as ev
from sim_backend.rng import binomial, rng_for
from sim_backend.scenario import AccidentsSpec

if TYPE_CHECKING:
    from sim_backend.engine import SimWorld


class Accidents:
    def __init__(self, world: SimWorld, spec: AccidentsSpec) -> None:
        self.world = world
        self.spec = spec
        self.rng = rng_for(world.seed, "accidents")
        self.log: list[tuple[int, str]] = []  # (day, what): the truth, for reports and tests

    def _days(self, n: int, *, margin: int = 3) -> list[int]:
        last = max(margin + 1, self.world.scenario.days - margin)
        return sorted(self.rng.randint(margin, last - 1) for _ in range(n))

    def install(self) -> None:
        w, s = self.world, self.spec
        for day in self._days(s.machine_offline):
            w.schedule(w.at(day, 6), self.offline, day)
        for day in self._days(s.cash_jam):
            w.schedule(w.at(day, 7), self.jam, day)
        for day in self._days(s.temperature_excursion):
            w.schedule(w.at(day, 4), self.excursion, day)
        for day in self._days(s.supplier_price_rise):
            w.schedule(w.at(day, 8), self.price_rise, day)
        for day in self._days(s.bad_weather_weeks, margin=8):
            w.weather_model.forced.update(w.scenario.start + timedelta(days=day + i) for i in range(7))
            w.schedule(w.at(day - 1, 18), self.storm_warning, day)
        if s.shrinkage_per_week:
            first = (6 - w.scenario.start.weekday()) % 7  # Sundays, after the day's sales
            for day in range(first, w.scenario.days, 7):
                w.schedule(w.at(day, 23), self.shrink, day)

    # --- the happenings -----------------------------------------------------------------------
    def offline(self, day: int) -> None:
        w = self.world
        w.machine_online = False
        w._emit(ev.MachineStatus, machine=w.machine_id, online=False)
        w._emit(ev.Alarm, source=w.machine_id, code="offline", detail="the machine stopped reporting; no sales")
        w.schedule(w.at(day + 1, 6), self.online)
        self.log.append((day, "machine_offline"))

    def online(self) -> None:
        w = self.world
        w.machine_online = True
        w._emit(ev.MachineStatus, machine=w.machine_id, online=True)

    def jam(self, day: int) -> None:
        w = self.world
        w.cash_jammed = True
        w._emit(ev.Alarm, source=w.machine_id, code="cash_jam", detail="coin mechanism jammed; the cash box is stuck")
        w.schedule(w.at(day + 1, 0), self.unjam)
        self.log.append((day, "cash_jam"))

    def unjam(self) -> None:
        self.world.cash_jammed = False

    def excursion(self, day: int) -> None:
        w = self.world
        celsius = round(self.rng.uniform(12.0, 20.0), 1)
        w._emit(ev.Alarm, source=w.machine_id, code="temperature",
                detail=f"the fridge reached {celsius} C overnight; chilled stock spoiled")
        chilled = set(self.spec.spoil_categories)
        for s in w.slots.values():
            if s.sku and s.count and w.catalogue[s.sku].product.category in chilled:
                w.lose_from_slot(s, s.count, "temperature")
        self.log.append((day, "temperature_excursion"))

    def shrink(self, day: int) -> None:
        w = self.world
        for s in w.slots.values():
            if s.sku and s.count:
                gone = binomial(self.rng, s.count, self.spec.shrinkage_per_week)
                if gone:
                    w.lose_from_slot(s, gone, "shrinkage")
                    self.log.append((day, "shrinkage"))

    def price_rise(self, day: int) -> None:
        w = self.world
        honest = sorted(sid for sid, spec in w.suppliers.specs.items() if spec.archetype not in ("scam",)
                        and (spec.closes_on_day is None or spec.closes_on_day > day))
        if not honest:
            return
        sid = honest[self.rng.randrange(len(honest))]
        pct = self.spec.price_rise_pct
        w.suppliers.raise_prices(sid, pct)
        spec = w.suppliers.specs[sid]
        w._emit(ev.MessageReceived, conversation=f"email:{sid}", sender=f"orders@{sid}.example", role="supplier",
                text=f"Price notice from {spec.name}: due to rising costs all our prices go up by "
                     f"{round(pct * 100)}% from today.")
        self.log.append((day, f"price_rise:{sid}"))

    def storm_warning(self, day: int) -> None:
        w = self.world
        w._emit(ev.Alarm, source="weather", code="storm_warning", detail="a week of storms is forecast")
        self.log.append((day, "bad_weather_week"))


def install(world: SimWorld, spec: AccidentsSpec) -> Accidents | None:
    if not spec.any:
        return None
    acc = Accidents(world, spec)
    acc.install()
    return acc


__all__ = ["Accidents", "install"]
