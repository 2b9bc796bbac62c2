"""`vend arena`'s entry point: several participants, each a whole shop from the one shop assembly
(bridge/compose/shop.py) on its own simulated world, sharing one location's market and exchange."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bridge.compose.policies import LlmInputs, check_policy_name
from bridge.compose.shop import ShopSpec, assemble_shop, open_books
from bridge.compose.sim import SIM_FLUSH_DAYS, check_out_folder, sim_policy_inputs, sim_tool_groups
from bridge.errors import ConfigError
from bridge.guardrails import GuardrailPolicy
from bridge.runtime import RunLimits
from bridge.tools.arena import ArenaGuardrails, ArenaTools
from scheduler.jobs import shop_jobs
from scheduler.virtual import VirtualSchedule


@dataclass(frozen=True, slots=True, kw_only=True)
class ArenaSettings:
    policies: tuple[str, ...]  # one per participant: baseline, oracle, llm, scripted:FILE
    seed: int = 0
    scenario: str = "vb1"  # `vend arena` defaults to vb2, Andon Labs' Arena world; tests and the golden name theirs
    days: int | None = None
    teams: tuple[str, ...] = ()  # a team label per participant; empty: every shop for itself
    report_every_days: int = 7
    guardrails_path: Path | None = None
    refuse_price_coordination: bool = False
    out_dir: Path = Path("runs")
    run_name: str = ""
    keep_events: bool = False  # each participant's events kept in memory (tests, audits)
    # llm players: a model per llm participant, in order (one model: every llm player uses it; empty:
    # the default model); the settings they share (bridge.llm.settings.LlmSettings, its model replaced
    # per player); an LLM port per llm player instead of the Anthropic adapter (tests)
    models: tuple[str, ...] = ()
    llm: Any = None
    llm_clients: tuple[Any, ...] = ()
    keep_dir: Path | None = None  # `run_one` keeps each run (its transcripts) under here instead of deleting it
    discovery: bool = False  # each shop starts knowing no supplier: it finds them (sim_backend/arena/discovery.py)


@dataclass(slots=True)
class ArenaRun:
    settings: ArenaSettings
    run_dir: Path
    scenario: Any
    arena: Any  # bridge.compose.arena_run.Arena
    days: list[Any] = field(default_factory=list)

    @property
    def participants(self) -> list[Any]:
        return list(self.arena.participants)

    def run(self) -> list[Any]:
        self.days = self.arena.run()
        return self.days

    def summary(self) -> dict[str, Any]:
        from sim_backend.arena.conduct import conduct_flags

        a = self.arena
        shops = [a.participant_summary(p) for p in a.participants]
        teams: dict[str, int] = {}
        for s in shops:
            if s["team"] is not None:
                teams[s["team"]] = teams.get(s["team"], 0) + s["net_worth_cents"]
        return {
            "scenario": self.scenario.name, "seed": self.settings.seed, "policies": list(self.settings.policies),
            "days_run": len(self.days), "participants": shops, "team_net_worth_cents": teams,
            "guardrails": str(self.settings.guardrails_path) if self.settings.guardrails_path else "built-in defaults",
            "money_exchanged_cents": sum(t.amount_cents for t in a.exchange.transfers),
            "goods_exchanged_units": sum(t.offer.quantity for t in a.exchange.trades),
            "goods_exchanged_cents": sum(t.offer.total_cents for t in a.exchange.trades),
            "messages_between_shops": len(a.exchange.notes),
            "customers_sent_next_door": sum(d.spilled for d in a.market.history),
            "conduct_flags": conduct_flags(a, self.scenario),
            "arena_hash": a.arena_hash(), "run_dir": str(self.run_dir),
        }


def build_arena(settings: ArenaSettings) -> ArenaRun:
    from bridge.compose.arena_run import Arena, Participant
    from bridge.tools.discovery import SupplierSearch
    from sim_backend.arena.discovery import KnownSuppliers
    from sim_backend.arena.exchange import ArenaChat, Exchange, SimMarketplace
    from sim_backend.arena.market import SharedMarket
    from sim_backend.backend import sim_backend
    from sim_backend.catalogue import load_catalogue
    from sim_backend.directory import Directory
    from sim_backend.engine import SimWorld
    from sim_backend.rng import rng_for
    from sim_backend.scenario import load_scenario

    n = len(settings.policies)
    for policy_name in settings.policies:
        check_policy_name(policy_name)
    if n < 2:
        raise ConfigError("an arena needs at least two participants (--policies a,b)")
    if settings.teams and len(settings.teams) != n:
        raise ConfigError(f"--teams names {len(settings.teams)} teams for {n} participants")
    scenario = load_scenario(settings.scenario, days=settings.days)
    catalogue = load_catalogue(scenario.catalogue or None)
    guard = GuardrailPolicy.load(settings.guardrails_path) if settings.guardrails_path else GuardrailPolicy()
    if settings.refuse_price_coordination:
        guard = replace(guard, refuse_price_coordination=True)
    name = settings.run_name or f"arena-{scenario.name}-s{settings.seed}-{datetime.now().astimezone():%Y%m%d-%H%M%S}"
    run_dir = settings.out_dir / name
    run_dir.mkdir(parents=True, exist_ok=True)
    shops = [f"p{i + 1}" for i in range(n)]
    if any((run_dir / f"{s}.db").exists() for s in shops):
        raise ConfigError(f"{run_dir} already holds a run; choose another --name or --out")
    market = SharedMarket(catalogue=catalogue, rng=rng_for(settings.seed, "arena-demand"))
    worlds: dict[str, SimWorld] = {}
    for shop in shops:
        sc = scenario.model_copy(update={"machine": scenario.machine.model_copy(update={"id": f"{shop}-m1"})})
        # one location: the same seed gives every shop the same weather and supplier market; each
        # shop's customers pay by card or cash on their own stream
        w = SimWorld(scenario=sc, catalogue=catalogue, seed=settings.seed, shop=shop, market=market)
        w.rng_payment = rng_for(settings.seed, f"payment:{shop}")
        market.join(w)
        worlds[shop] = w
    teams = dict(zip(shops, settings.teams, strict=True)) if settings.teams else None
    exchange = Exchange(worlds=worlds, teams=teams)
    schedule = VirtualSchedule(shop_jobs(scenario.tz, start=worlds[shops[0]].now), start=worlds[shops[0]].now,
                               only=("open_day", "close_day", "weekly_review", "reminders"))
    limits = RunLimits(days=scenario.days, max_messages=scenario.max_messages,
                       bankruptcy_days=scenario.bankruptcy_days)
    models = _models(settings)
    players = 0  # llm players built so far
    participants = []
    opened: list[Any] = []  # stores opened so far: closed (their writer processes stopped) if one fails
    try:
        for shop, policy_name in zip(shops, settings.policies, strict=True):
            w = worlds[shop]
            base = sim_backend(w)
            backend = replace(base, chat=ArenaChat(exchange, shop, base.chat))
            groups = sim_tool_groups(w)
            if settings.discovery:
                known = KnownSuppliers(procurement=base.procurement, search=Directory(w).search)
                backend = replace(backend, procurement=known)
                groups = [SupplierSearch(search=known.search)]
            run_id = f"{name}:{shop}"
            store, ledger = open_books(
                url=f"sqlite:///{run_dir / f'{shop}.db'}", shop=shop, tz=scenario.tz, fresh=True, background=True,
                run_info={"run_id": run_id, "shop": shop, "started_at": w.now, "mode": "arena",
                          "scenario": scenario.name, "policy": policy_name, "seed": settings.seed,
                          "settings_json": json.dumps({"days": scenario.days, "scenario": settings.scenario,
                                                       "policies": list(settings.policies),
                                                       "team": teams.get(shop) if teams else None})})
            opened.append(store)
            events: list[Any] | None = [] if settings.keep_events else None
            llm = None
            if policy_name == "llm":
                llm = _llm_inputs(settings, models, index=players, shop=shop, world=w, store=store, ledger=ledger,
                                  run_dir=run_dir)
                players += 1
            built = assemble_shop(backend=backend, store=store, ledger=ledger, spec=ShopSpec(
                run_id=run_id, tz=scenario.tz, products={k: v.product for k, v in catalogue.items()},
                policy=policy_name, policy_inputs=sim_policy_inputs(w, guard, llm=llm),
                customers=scenario.customers is not None,
                schedule=lambda _policy: schedule, limits=limits, guardrails=ArenaGuardrails,
                extra_groups=[*groups, ArenaTools(market=SimMarketplace(exchange, shop), shop=shop,
                                                  report_every_days=settings.report_every_days)],
                on_event=events.append if events is not None else None, flush_every_days=SIM_FLUSH_DAYS))
            participants.append(Participant(shop=shop, policy_name=policy_name, team=teams.get(shop) if teams else None,
                                            world=w, store=store, ledger=ledger, tools=built.tools,
                                            toolbox=built.toolbox, policy=built.policy, runtime=built.runtime,
                                            events=events))
    except BaseException:
        for store in opened:
            store.close()
        raise
    arena = Arena(participants=participants, market=market, exchange=exchange, schedule=schedule,
                  report_every_days=settings.report_every_days)
    return ArenaRun(settings=settings, run_dir=run_dir, scenario=scenario, arena=arena)


def _models(settings: ArenaSettings) -> dict[int, str]:
    """The model of each llm player (by its place among the llm players)."""
    players = sum(1 for p in settings.policies if p == "llm")
    if settings.models and not players:
        raise ConfigError("--model is for llm players; no participant is llm")
    if len(settings.models) not in (0, 1, players):
        raise ConfigError(f"--model names {len(settings.models)} models for {players} llm players "
                          "(one for all, or one each)")
    if len(settings.llm_clients) not in (0, players):
        raise ConfigError(f"{len(settings.llm_clients)} LLM clients for {players} llm players")
    return {i: settings.models[0] if len(settings.models) == 1 else settings.models[i]
            for i in range(players) if settings.models}


def _llm_inputs(settings: ArenaSettings, models: dict[int, str], *, index: int, shop: str, world: Any, store: Any,
                ledger: Any, run_dir: Path) -> LlmInputs:
    """An llm player's own model, client and run folder (its transcript: run_dir/<shop>/transcript.jsonl)."""
    from bridge.llm.settings import LlmSettings

    base = settings.llm or LlmSettings()
    llm_settings = replace(base, model=models[index]) if index in models else base
    own = run_dir / shop
    own.mkdir(parents=True, exist_ok=True)
    return LlmInputs(settings=llm_settings, shop=shop, store=store, books=ledger, now=lambda: world.now,
                     run_dir=own, charge=world.charge,
                     max_messages=min(world.scenario.max_messages, llm_settings.max_messages),
                     client=settings.llm_clients[index] if settings.llm_clients else None)


# --- rounds: several seeded runs in parallel ------------------------------------------------------


def run_one(settings: ArenaSettings) -> dict[str, Any]:
    """One seeded arena run in a scratch folder; its summary and daily series (module level: picklable)."""
    keep = settings.keep_dir
    tmp = keep if keep is not None else Path(tempfile.mkdtemp(prefix="vend-arena-"))
    try:
        run = build_arena(replace(settings, out_dir=tmp, run_name=f"seed-{settings.seed}" if keep else "r"))
        run.run()
        out = run.summary()
        out["days"] = [{"day": d.day, "net_worth": d.net_worth, "bank": d.bank, "units": d.units,
                        "prices": d.prices} for d in run.days]
        for p in run.participants:
            p.store.close()
        return out
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


def run_round(settings: ArenaSettings, *, seeds: int, workers: int,
              on_done: Any = None) -> list[dict[str, Any]]:
    from bridge.sweep import parallel_map

    jobs = [replace(settings, seed=s) for s in range(seeds)]
    return parallel_map(run_one, jobs, workers=workers, on_done=on_done)


def run_arena_command(args: Any) -> int:
    """`vend arena`: a round over seeds 0..N-1, in parallel; prints the table, writes round.json and charts."""
    import os
    import time

    from bridge.progress import RunProgress
    from sim_backend.arena.report import format_table, round_table, write_round_charts

    policies = tuple(p.strip() for p in args.policies.split(",") if p.strip())
    teams = tuple(t.strip() for t in args.teams.split(",")) if args.teams else ()
    models = tuple(m.strip() for m in getattr(args, "model", "").split(",") if m.strip())
    llm = None
    out = args.out / f"arena-{Path(args.scenario).stem}-{datetime.now().astimezone():%Y%m%d-%H%M%S}"
    if "llm" in policies:
        from bridge.llm.adapter import api_key_from_env
        from bridge.llm.settings import LlmSettings

        api_key_from_env()  # no key: one clear line before any work
        llm = LlmSettings(base_url=getattr(args, "llm_base_url", ""),
                          charge_output_tokens=getattr(args, "llm_charge_tokens", False))
    settings = ArenaSettings(policies=policies, scenario=args.scenario, days=args.days, teams=teams,
                             report_every_days=args.report_every, guardrails_path=args.guardrails,
                             refuse_price_coordination=args.refuse_price_coordination, models=models, llm=llm,
                             discovery=getattr(args, "discovery", False),
                             keep_dir=out / "runs" if llm is not None else None)
    check_out_folder(args.out)
    check = Path(tempfile.mkdtemp(prefix="vend-arena-check-"))
    try:  # bad policies, teams or scenario fail here, in one line, before any worker starts
        for p in build_arena(replace(settings, out_dir=check, run_name="c")).participants:
            p.store.close()
    finally:
        shutil.rmtree(check, ignore_errors=True)
    t0 = time.perf_counter()
    progress = RunProgress(total=args.seeds, label="run", name="vend arena")
    results = run_round(settings, seeds=args.seeds, workers=args.workers or os.cpu_count() or 1,
                        on_done=progress.update)
    progress.close()
    seconds = time.perf_counter() - t0
    table = round_table(results)
    out.mkdir(parents=True, exist_ok=True)
    runs = [{k: v for k, v in r.items() if k != "days"} for r in results]
    (out / "round.json").write_text(json.dumps({"table": table, "runs": runs, "seconds": seconds}, indent=2,
                                               default=str) + "\n")
    if not args.no_charts:
        write_round_charts(out, results, title=f"{table['scenario']} / {','.join(policies)}")
    if args.json:
        print(json.dumps({"table": table, "seconds": seconds, "out": str(out)}, default=str))
    else:
        print(format_table(table, seconds))
        print(f"report: {out}")
    return 0
