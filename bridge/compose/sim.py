"""`vend sim`'s entry point: a simulated world as the backend of the one shop assembly
(bridge/compose/shop.py), its run folder and report."""

from __future__ import annotations

import gc
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from bridge.compose.charts import ChartWorker
from bridge.compose.policies import LlmInputs, PolicyInputs, check_policy_name
from bridge.compose.shop import ShopSpec, assemble_shop, open_books
from bridge.errors import ConfigError
from bridge.guardrails import GuardrailPolicy
from bridge.ledger import INVENTORY, Ledger
from bridge.policies.base import Policy, jobs_for
from bridge.runtime import DayRecord, RunLimits, RunOutcome, Runtime
from bridge.settings import SimSettings
from bridge.store import Store
from bridge.tools.executor import Toolbox
from bridge.tools.shop import ShopTools
from scheduler.jobs import shop_jobs
from scheduler.virtual import VirtualSchedule

SIM_FLUSH_DAYS = 7  # the simulator hands its books to the writer process weekly (and at the end)


@dataclass(slots=True)
class SimRun:
    """A wired simulation, ready to run; the parts stay reachable for tests and reports."""

    settings: SimSettings
    run_dir: Path
    world: Any
    store: Store
    ledger: Ledger
    tools: ShopTools
    toolbox: Toolbox
    policy: Policy
    runtime: Runtime
    scenario: Any
    events: list[Any] = field(default_factory=list)
    outcome: RunOutcome | None = None
    run_seconds: float = 0.0
    toolbox_groups: tuple[Any, ...] = ()

    def run(self) -> RunOutcome:
        t0 = time.perf_counter()
        # The objects alive before the run (modules, this wiring) outlive it: frozen, the cyclic
        # collector leaves them out of the full collections the run's allocations trigger (one of
        # those scans every object of the process, ~100k after imports). Unfrozen after, as before.
        gc.freeze()
        try:
            self.outcome = self.runtime.run()
        finally:
            gc.unfreeze()
        self.run_seconds = time.perf_counter() - t0
        return self.outcome

    def summary(self) -> dict[str, Any]:
        from sim_backend.scoring import days_until_sales_stop, market_fields, shopfront_fields

        assert self.outcome is not None, "run() first"
        out = self.outcome
        fields = self.tools.check_balance()
        score = fields["bank_cents"] if self.scenario.score == "bank" else fields["net_worth_cents"]
        return {
            "scenario": self.scenario.name, "policy": self.settings.policy, "seed": self.settings.seed,
            "score": self.scenario.score, "score_cents": score,
            "net_worth_cents": fields["net_worth_cents"], "bank_cents": fields["bank_cents"],
            "card_pending_cents": fields["card_pending_cents"], "machine_cash_cents": fields["machine_cash_cents"],
            "inventory_value_cents": self.ledger.balance(INVENTORY),
            "units_sold": self.ledger.units_sold_total, "days_run": out.days_run,
            "days_until_sales_stop": days_until_sales_stop(out.days), "bankrupt": out.bankrupt,
            "ended_by": out.ended_by, "messages": out.messages, "tool_calls": sum(self.toolbox.counts.values()),
            "tool_errors": self.toolbox.errors, "guardrail_refusals": dict(self.toolbox.refusals),
            "crashes": out.crashes, "state_hash": self.world.state_hash(),
            "run_seconds": round(self.run_seconds, 4), "run_dir": str(self.run_dir),
            **market_fields(self.world, self.ledger),
            **shopfront_fields(self.world, self.ledger, self.toolbox, list(self.toolbox_groups)),
            **(self.policy.summary_fields() if hasattr(self.policy, "summary_fields") else {}),
        }


def sim_policy_inputs(world: Any, guard: GuardrailPolicy, *, llm: LlmInputs | None = None) -> PolicyInputs:
    """The policy factory's inputs for a simulated shop: the scenario's market and customers, and the
    hidden truth (for the oracle)."""
    scenario = world.scenario
    return PolicyInputs(guard=guard, open_market=scenario.market == "open", customers=scenario.customers is not None,
                        truth=world.catalogue, honest_suppliers=honest_suppliers(scenario), llm=llm)


def sim_tool_groups(world: Any) -> list[object]:
    """Tool groups of a simulated shop beyond its own: supplier discovery over the world's directory."""
    from bridge.tools.discovery import SupplierSearch
    from sim_backend.directory import Directory

    return [SupplierSearch(search=Directory(world).search)]


def honest_suppliers(scenario: Any) -> frozenset[str]:
    """The suppliers that ship what they are paid for (the simulator's truth, for the oracle): not a
    scammer, not a bait-and-switch outfit."""
    return frozenset(s.id for s in scenario.suppliers if s.archetype not in ("scam", "bait_switch"))


def build_sim(settings: SimSettings, *, on_day: Any = None) -> SimRun:
    from sim_backend.backend import sim_backend
    from sim_backend.catalogue import load_catalogue
    from sim_backend.engine import SimWorld
    from sim_backend.scenario import load_scenario

    check_policy_name(settings.policy)
    scenario = load_scenario(settings.scenario, days=settings.days)
    catalogue = load_catalogue(scenario.catalogue or None)
    guard = GuardrailPolicy.load(settings.guardrails_path) if settings.guardrails_path else GuardrailPolicy()
    label = settings.policy.replace("/", "_").replace(":", "-")
    name = settings.run_name or (f"{scenario.name}-{label}-s{settings.seed}-"
                                 f"{datetime.now().astimezone():%Y%m%d-%H%M%S}")
    run_dir = settings.out_dir / name
    run_dir.mkdir(parents=True, exist_ok=True)
    db_url = settings.db_url or f"sqlite:///{run_dir / 'vend.db'}"
    if not settings.db_url and (run_dir / "vend.db").exists():
        raise ConfigError(f"{run_dir} already holds a run; choose another --name or --out")
    world = SimWorld(scenario=scenario, catalogue=catalogue, seed=settings.seed)
    backend = sim_backend(world)
    run_id = name
    # a store of its own: fresh, and written by a writer process while the simulation runs
    store, ledger = open_books(url=db_url, shop=world.shop, tz=scenario.tz, fresh=not settings.db_url,
                               background=not settings.db_url, run_info={
                                   "run_id": run_id, "shop": world.shop, "started_at": world.now, "mode": "sim",
                                   "scenario": scenario.name, "policy": settings.policy, "seed": settings.seed,
                                   "settings_json": json.dumps({"days": scenario.days,
                                                                "scenario": settings.scenario})})
    events: list[Any] = []
    try:
        llm = _llm_inputs(settings, world=world, store=store, ledger=ledger, run_dir=run_dir) \
            if settings.policy == "llm" else None
        shop = assemble_shop(backend=backend, store=store, ledger=ledger, spec=ShopSpec(
            run_id=run_id, tz=scenario.tz, products={k: v.product for k, v in catalogue.items()},
            policy=settings.policy, policy_inputs=sim_policy_inputs(world, guard, llm=llm),
            customers=scenario.customers is not None, extra_groups=sim_tool_groups(world),
            schedule=lambda policy: VirtualSchedule(shop_jobs(scenario.tz, start=world.now), start=world.now,
                                                    only=jobs_for(policy)),
            limits=RunLimits(days=scenario.days, max_messages=scenario.max_messages,
                             bankruptcy_days=scenario.bankruptcy_days),
            on_event=events.append if settings.events_log else None, on_day=on_day,
            flush_every_days=SIM_FLUSH_DAYS))
    except BaseException:
        store.close()
        raise
    return SimRun(settings=settings, run_dir=run_dir, world=world, store=store, ledger=ledger, tools=shop.tools,
                  toolbox=shop.toolbox, policy=shop.policy, runtime=shop.runtime, scenario=scenario, events=events,
                  toolbox_groups=shop.groups)


def _llm_inputs(settings: SimSettings, *, world: Any, store: Store, ledger: Ledger, run_dir: Path) -> LlmInputs:
    from bridge.llm.settings import LlmSettings

    llm_settings = settings.llm or (LlmSettings(model=settings.model) if settings.model else LlmSettings())
    return LlmInputs(settings=llm_settings, shop=world.shop, store=store, books=ledger, now=lambda: world.now,
                     run_dir=run_dir, charge=world.charge,
                     max_messages=min(world.scenario.max_messages, llm_settings.max_messages),
                     client=settings.llm_client)


def write_report(sim: SimRun, summary: dict[str, Any], *, charts: ChartWorker | None = None) -> None:
    """The run folder: events log, summary JSON, and the four charts of the Vending-Bench paper."""
    d = sim.run_dir
    if sim.settings.events_log:
        with (d / "events.jsonl").open("w") as fh:
            fh.writelines(orjson.dumps(e.to_json(), default=str).decode() + "\n" for e in sim.events)
    (d / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if sim.settings.charts and sim.outcome is not None:
        title = f"{summary['scenario']} / {summary['policy']} / seed {summary['seed']}"
        if charts is not None:
            charts.draw(d, sim.outcome.days, title)
        else:
            from sim_backend.report import write_charts

            write_charts(d, sim.outcome.days, title=title)


def days_table(days: list[DayRecord]) -> list[dict[str, Any]]:
    return [{"day": d.day, "net_worth_cents": d.net_worth_cents, "bank_cents": d.bank_cents,
             "units_sold": d.units_sold} for d in days]
