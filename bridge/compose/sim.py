"""`vend sim`'s entry point: a simulated world as the backend of the one shop assembly
(bridge/compose/shop.py), its run folder and report."""

from __future__ import annotations

import gc
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from bridge.compose.charts import ChartWorker
from bridge.compose.policies import LlmInputs, PolicyInputs, check_policy_name, check_script_file
from bridge.compose.shop import ShopSpec, assemble_shop, open_books
from bridge.errors import ConfigError
from bridge.guardrails import GuardrailPolicy
from bridge.ledger import INVENTORY, Ledger
from bridge.policies.base import Policy, jobs_for
from bridge.runtime import DayRecord, RunLimits, RunOutcome, Runtime
from bridge.settings import SimSettings
from bridge.store import Store
from bridge.store.probe import check_new_run_store
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
            "guardrails": str(self.settings.guardrails_path) if self.settings.guardrails_path else "built-in defaults",
            "net_worth_cents": fields["net_worth_cents"], "bank_cents": fields["bank_cents"],
            "card_pending_cents": fields["card_pending_cents"], "machine_cash_cents": fields["machine_cash_cents"],
            "inventory_value_cents": self.ledger.balance(INVENTORY),
            "units_sold": self.ledger.units_sold_total, "days_run": out.days_run,
            "days_until_sales_stop": days_until_sales_stop(out.days), "bankrupt": out.bankrupt,
            "ended_by": out.ended_by, "messages": out.messages, "tool_calls": sum(self.toolbox.counts.values()),
            "tool_errors": self.toolbox.errors, "guardrail_refusals": dict(self.toolbox.refusals),
            "crashes": out.crashes, **({"stop_reason": out.stop_reason} if out.stop_reason else {}),
            "state_hash": self.world.state_hash(),
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
    from sim_backend.catalogue import load_catalogue
    from sim_backend.scenario import load_scenario

    check_policy_name(settings.policy)
    scenario = load_scenario(settings.scenario, days=settings.days)
    catalogue = load_catalogue(scenario.catalogue or None)
    guard = GuardrailPolicy.load(settings.guardrails_path) if settings.guardrails_path else GuardrailPolicy()
    label = settings.policy.replace("/", "_").replace(":", "-")
    name = settings.run_name or (f"{scenario.name}-{label}-s{settings.seed}-"
                                 f"{datetime.now().astimezone():%Y%m%d-%H%M%S}")
    run_dir = settings.out_dir / name
    if settings.db_url:
        check_new_run_store(settings.db_url)
    if not settings.db_url and (run_dir / "vend.db").exists():
        raise ConfigError(f"{run_dir} already holds a run; choose another --name or --out")
    created = make_run_dir(run_dir)
    try:
        return _build(settings, scenario=scenario, catalogue=catalogue, guard=guard, name=name, run_dir=run_dir,
                      on_day=on_day)
    except BaseException:
        if created is not None:  # a run that never started leaves no folder behind
            shutil.rmtree(created, ignore_errors=True)
        raise


def make_run_dir(run_dir: Path) -> Path | None:
    """The run folder; returns the topmost folder made now (None: it was there), so a run that never
    starts removes what it made. A folder that cannot be made is a one-line error."""
    if run_dir.is_dir():
        return None
    made = run_dir
    while not made.parent.exists() and made.parent != made:
        made = made.parent
    try:
        run_dir.mkdir(parents=True)
    except OSError as err:
        raise ConfigError(f"cannot make the run folder {run_dir}: {err.strerror or err}") from None
    return made


def check_sweep_inputs(scenario: str, policies: list[str], days: int | None) -> None:
    """Bad policies or scenario fail here, in one line, before any worker process starts."""
    from sim_backend.scenario import load_scenario

    if not policies:
        raise ConfigError("--policies names no policy (e.g. baseline,oracle)")
    for p in policies:
        check_policy_name(p)
        check_script_file(p)
    load_scenario(scenario, days=days)


def check_out_folder(folder: Path, *, flag: str = "--out") -> None:
    """A folder a command will write into after its work: writable now (made and removed again if
    missing), so a long run does not fail at its end. A one-line ConfigError otherwise."""
    made = make_run_dir(folder)
    try:
        probe = folder / f".vend-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ConfigError(f"{flag} {folder}: cannot write there: {err.strerror or err}") from None
    finally:
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)


def _build(settings: SimSettings, *, scenario: Any, catalogue: Any, guard: GuardrailPolicy, name: str,
           run_dir: Path, on_day: Any) -> SimRun:
    from sim_backend.backend import sim_backend
    from sim_backend.engine import SimWorld

    db_url = settings.db_url or f"sqlite:///{run_dir / 'vend.db'}"
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
    from bridge.llm.rules import LlmRules
    from bridge.llm.settings import LlmSettings

    llm_settings = settings.llm or (LlmSettings(model=settings.model) if settings.model else LlmSettings())
    rules = LlmRules.from_scenario(world.scenario, charge_flag=llm_settings.charge_output_tokens,
                                   cents_per_million=llm_settings.output_token_cents_per_million)
    return LlmInputs(settings=llm_settings, shop=world.shop, store=store, books=ledger, now=lambda: world.now,
                     run_dir=run_dir, charge=world.charge, max_messages=rules.cap, client=settings.llm_client,
                     rules=rules)


def write_report(sim: SimRun, summary: dict[str, Any], *, charts: ChartWorker | None = None) -> None:
    """The run folder: events log, summary JSON, the day series, the four charts of the Vending-Bench
    paper, and report.html (all of it on one self-contained page)."""
    title = f"{summary['scenario']} / {summary['policy']} / seed {summary['seed']}"
    drawn = write_run_folder(sim.run_dir, events=sim.events, summary=summary,
                             days=sim.outcome.days if sim.outcome is not None else [], title=title,
                             events_log=sim.settings.events_log, charts=charts,
                             draw=sim.settings.charts and sim.outcome is not None)
    write_run_page(sim, summary, charts=drawn)


def write_run_folder(d: Path, *, events: list[Any], summary: dict[str, Any], days: list[DayRecord], title: str,
                     events_log: bool, charts: ChartWorker | None, draw: bool) -> tuple[str, ...]:
    """events.jsonl, summary.json, days.json and the charts: the run folder of `vend sim` and `vend hil`
    alike. Returns the charts drawn."""
    if events_log:
        with (d / "events.jsonl").open("w") as fh:
            fh.writelines(orjson.dumps(e.to_json(), default=str).decode() + "\n" for e in events)
    (d / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (d / "days.json").write_bytes(orjson.dumps(days_table(days)) + b"\n")
    if not draw:
        return ()
    from sim_backend.report import CHARTS

    if charts is not None:
        charts.draw(d, days, title)
    else:
        from sim_backend.report import write_charts

        write_charts(d, days, title=title)
    return CHARTS


def write_run_page(sim: SimRun, summary: dict[str, Any], *, charts: tuple[str, ...]) -> Path:
    from bridge.compose.html_report import write_html_report
    from bridge.compose.runs import outcome_of
    from bridge.llm.transcript import FILENAME, read_transcript

    st = sim.settings
    settings = {"scenario": st.scenario, "days": sim.scenario.days, "seed": st.seed, "policy": st.policy,
                "store": _masked_url(st.db_url) if st.db_url else "vend.db in the run folder",
                "guardrails": str(st.guardrails_path) if st.guardrails_path else "built-in defaults",
                **({"model": st.llm.model, "llm base url": st.llm.base_url or "(default)"} if st.llm else {})}
    transcript = read_transcript(sim.run_dir) if (sim.run_dir / FILENAME).exists() else None
    return write_html_report(sim.run_dir, summary=summary, outcome=outcome_of(summary), settings=settings,
                             scenario=sim.scenario.model_dump(mode="json"), refusals=_refusals(sim.store),
                             charts=charts, transcript=transcript)


def _refusals(store: Store) -> list[dict[str, Any]]:
    from sqlalchemy import text

    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT ts, tool, verdict, args_json, result_json FROM audit_log WHERE verdict "
                                 "LIKE 'refused%' OR verdict LIKE 'approval%' ORDER BY seq LIMIT 1000"))
        return [dict(r._mapping) for r in rows]


def _masked_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def days_table(days: list[DayRecord]) -> list[dict[str, Any]]:
    return [{"day": d.day, "net_worth_cents": d.net_worth_cents, "bank_cents": d.bank_cents,
             "card_pending_cents": d.card_pending_cents, "machine_cash_cents": d.machine_cash_cents,
             "inventory_value_cents": d.inventory_value_cents, "prepaid_cents": d.prepaid_cents,
             "units_sold": d.units_sold, "units_sold_total": d.units_sold_total, "revenue_cents": d.revenue_cents,
             "tool_calls": d.tool_calls} for d in days]
