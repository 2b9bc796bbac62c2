"""Accidents happen on seeded days, say so with events, and the books keep agreeing with the truth."""

from importlib import resources
from pathlib import Path

from bridge import events as ev
from sim_backend.scoring import books_disagree

ALL_ON = """
[accidents]
machine_offline = 3
cash_jam = 3
temperature_excursion = 2
shrinkage_per_week = 0.03
supplier_price_rise = 2
bad_weather_weeks = 2
"""


def everything_on(tmp_path: Path, days: int = 150) -> Path:
    text = resources.files("sim_backend").joinpath("scenarios/vb2.toml").read_text()
    head, _, rest = text.partition("[accidents]")
    rest = rest[rest.index("[[suppliers]]"):]
    path = tmp_path / "all_on.toml"
    path.write_text(head.replace("days = 365", f"days = {days}") + ALL_ON + "\n" + rest)
    return path


def test_every_accident_is_told_to_the_books(make_sim, tmp_path) -> None:
    sim = make_sim(scenario=str(everything_on(tmp_path)), seed=4, events_log=True)
    problems: list[str] = []
    sim.runtime.on_day = lambda r: problems.extend(books_disagree(sim.world, sim.ledger))
    sim.run()
    assert problems == [] and sim.ledger.anomalies == []
    kinds = {k for _, k in sim.world.extras.accidents.log}
    assert {"machine_offline", "cash_jam", "temperature_excursion", "shrinkage", "bad_weather_week"} <= kinds
    assert any(k.startswith("price_rise:") for k in kinds)
    alarms = {e.code for e in sim.events if isinstance(e, ev.Alarm)}
    assert {"offline", "cash_jam", "temperature", "storm_warning"} <= alarms
    lost = {e.reason for e in sim.events if isinstance(e, ev.StockLost)}
    assert {"shrinkage", "temperature"} <= lost
    offline = [e for e in sim.events if isinstance(e, ev.MachineStatus)]
    assert [e.online for e in offline][:2] == [False, True]
    # no sales on a day the machine is offline
    days_off = {e.ts.date() for e in offline if not e.online}
    assert not any(e.ts.date() in days_off for e in sim.events if isinstance(e, ev.Sale))
    notices = [e for e in sim.events if isinstance(e, ev.MessageReceived) and e.role == "supplier"]
    assert len(notices) == 2


def test_a_week_of_storms_is_stormy(make_sim, tmp_path) -> None:
    sim = make_sim(scenario=str(everything_on(tmp_path, days=60)), seed=4)
    forced = sorted(sim.world.weather_model.forced)
    assert len(forced) == 14
    seen = {}
    sim.runtime.on_day = lambda r: seen.__setitem__(sim.world.weather.day, sim.world.weather.state)
    sim.run()
    assert all(seen[d] == "stormy" for d in forced if d in seen)
