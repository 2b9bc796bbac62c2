"""`vend hil`'s entry point: a scenario's simulated world as the outside of `vend live`'s composition.

The shop is build_live's (bridge/compose/live.py) on a VirtualClock: its machines over a real
mosquitto (the project's config and per-device ACLs; started here on a free loopback port), Slack on
the loopback Slack Web API double with signed requests to its real /slack/events, Stripe on the
loopback Stripe double with signed webhooks to its real /stripe/webhook. The outside
(bridge/compose/outside/) plays the world: emulated devices sell, a simulated ops person answers in
Slack, payouts come as webhooks. Every process, thread and server started here is stopped on the way
out, also on failure.

    run = build_hil(HilSettings(scenario="vb1", days=7, seed=7, policy="baseline"))
    try:
        run.run(); summary = run.summary(); write_hil_report(run, summary)
    finally:
        run.close()
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bridge.compose.charts import ChartWorker
from bridge.compose.policies import check_policy_name
from bridge.compose.sim import write_report, write_run_folder
from bridge.errors import AdapterError, ConfigError
from bridge.ledger import INVENTORY
from bridge.runtime import RunLimits, RunOutcome


@dataclass(frozen=True, slots=True, kw_only=True)
class HilSettings:
    scenario: str = "vb1"
    days: int | None = None
    seed: int = 7
    policy: str = "baseline"
    out_dir: Path = Path("runs")
    run_name: str = ""
    charts: bool = True
    mode: str = "hil"  # the run's mode in its name and its run row (`vend chat` plays hil's loop as "chat")
    llm: Any = None  # --policy llm: the LlmSection (model, endpoint); its transcript goes in the run folder
    broker: str = ""  # host:port of a running broker with the project's config; empty: start one
    compare: bool = False  # --compare follows the run (checked here: not with shadow)
    faults: bool = False  # the real world's faults on a seeded schedule (bridge/compose/outside/faults.py)
    shadow: bool = False  # vend live --shadow's composition: WRITEs recorded (audit verdict "shadow"), never done
    # `vend demo`'s hooks (bridge/compose/demo.py): `pace(when)` before the world moves to `when` (it may wait for
    # the wall clock; False: the run is ending, the world plays no further); each event the shop recorded; each
    # day's close
    pace: Callable[[datetime], bool] | None = None
    on_event: Callable[[Any], None] | None = None
    on_day: Callable[[Any], None] | None = None


@dataclass(slots=True)
class HilRun:
    settings: HilSettings
    run_dir: Path
    world: Any
    scenario: Any
    live: Any
    outside: Any
    stack: ExitStack
    events: list[Any] = field(default_factory=list)
    outcome: RunOutcome | None = None
    run_seconds: float = 0.0

    def run(self) -> RunOutcome:
        t0 = time.perf_counter()
        self.outcome = self.live.runtime.run()
        self.live.loop.commit()
        self.run_seconds = time.perf_counter() - t0
        if self.outside.failure is not None:
            raise AdapterError(f"the simulated outside failed: {self.outside.failure!r}")
        return self.outcome

    def summary(self) -> dict[str, Any]:
        from sim_backend.scoring import days_until_sales_stop

        assert self.outcome is not None, "run() first"
        out, live = self.outcome, self.live
        fields = live.tools.check_balance()
        score = fields["bank_cents"] if self.scenario.score == "bank" else fields["net_worth_cents"]
        return {
            "scenario": self.scenario.name, "policy": self.settings.policy, "seed": self.settings.seed, "mode": self.settings.mode,
            "score": self.scenario.score, "score_cents": score,
            "net_worth_cents": fields["net_worth_cents"], "bank_cents": fields["bank_cents"],
            "card_pending_cents": fields["card_pending_cents"], "machine_cash_cents": fields["machine_cash_cents"],
            "inventory_value_cents": live.ledger.balance(INVENTORY),
            "units_sold": live.ledger.units_sold_total, "days_run": out.days_run,
            "days_until_sales_stop": days_until_sales_stop(out.days), "bankrupt": out.bankrupt,
            "ended_by": out.ended_by, "messages": out.messages, "tool_calls": sum(live.toolbox.counts.values()),
            "tool_errors": live.toolbox.errors, "guardrail_refusals": dict(live.toolbox.refusals),
            "crashes": out.crashes, "world_state_hash": self.world.state_hash(),
            "world_bank_cents": self.world.bank, "world_steps": self.outside.steps,
            "device_messages": self.outside.published, "slack_requests": self.outside.ops.door.requests,
            "unplayed": dict(self.outside.unplayed), "ops_unanswered": self.outside.ops.unanswered[:20],
            "faults": dict(self.outside.faults.done) if self.outside.faults is not None else None,
            "shop_duplicates": live.loop.duplicates,
            "shadow_writes": self._shadow_writes() if self.settings.shadow else None,
            "run_seconds": round(self.run_seconds, 3), "run_dir": str(self.run_dir),
        }

    def _shadow_writes(self) -> int:
        return len(self.live.store.rows("audit_log", shop=self.world.shop, verdict="shadow"))

    def close(self) -> None:
        self.stack.close()


def build_hil(settings: HilSettings) -> HilRun:
    """Wire the shop and its outside; everything started is stopped by `close()` (and here on failure).
    Bad input is a ConfigError before anything starts."""
    from sim_backend.catalogue import load_catalogue
    from sim_backend.engine import SimWorld
    from sim_backend.scenario import load_scenario

    check_policy_name(settings.policy)
    if settings.shadow and settings.compare:
        raise ConfigError("--shadow does nothing the simulator could compare with; run --compare without it")
    if settings.policy == "oracle":
        raise ConfigError("the oracle reads the simulator's hidden truth; a live shop has none (baseline, llm "
                          "or scripted:FILE)")
    scenario = load_scenario(settings.scenario, days=settings.days)
    catalogue = load_catalogue(scenario.catalogue or None)
    host, port = _broker_address(settings.broker)
    label = settings.policy.replace("/", "_").replace(":", "-")
    name = settings.run_name or (f"{scenario.name}-{label}-s{settings.seed}-{settings.mode}-"
                                 f"{datetime.now().astimezone():%Y%m%d-%H%M%S}")
    run_dir = settings.out_dir / name
    if (run_dir / "vend.db").exists():
        raise ConfigError(f"{run_dir} already holds a run; choose another --name or --out")
    made = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    world = SimWorld(scenario=scenario, catalogue=catalogue, seed=settings.seed)
    stack = ExitStack()
    try:
        return _wire(settings, scenario=scenario, world=world, run_dir=run_dir, name=name, host=host, port=port,
                     stack=stack)
    except BaseException as err:
        stack.close()
        if made and isinstance(err, ConfigError):  # nothing ran: no run folder left behind
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def _broker_address(text: str) -> tuple[str, int]:
    if not text:
        return "", 0
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--broker {text!r}: give host:port")
    return host, int(port)


def _wire(settings: HilSettings, *, scenario: Any, world: Any, run_dir: Path, name: str, host: str, port: int,
          stack: ExitStack) -> HilRun:
    from bridge.compose.live import build_live
    from bridge.compose.outside.cards import CardDesk
    from bridge.compose.outside.faults import Faults
    from bridge.compose.outside.links import (
        Payouts,
        hil_secrets,
        record_events,
        restart_broker,
        start_device,
        wait_started,
        watch_days,
        watch_events,
    )
    from bridge.compose.outside.ops import OPS_CH, OPS_GROUP, OPS_USER, SHOP_CH, OpsTeam, SlackDoor
    from bridge.compose.outside.world import Outside
    from bridge.live.config import (
        BridgeSection,
        HttpSection,
        LiveConfig,
        MachineSection,
        MqttSection,
        PolicySection,
        SiteSection,
        SlackSection,
        StripeSection,
    )
    from hardware_adapters.doubles.mosquitto import BrokerUnavailable, MosquittoBroker
    from hardware_adapters.doubles.slack_api import FakeSlack
    from hardware_adapters.doubles.slack_inbound import SlackInbound
    from hardware_adapters.doubles.slack_objects import SlackChannel, SlackUser
    from hardware_adapters.doubles.stripe_api import FakeStripe
    from hardware_adapters.live import VirtualClock

    machine = scenario.machine.id
    clock = VirtualClock(start=world.now)
    faults = Faults(seed=settings.seed) if settings.faults else None
    broker = None
    work = run_dir / "hil"
    work.mkdir(exist_ok=True)
    env = hil_secrets(stack)
    if not port:
        broker = MosquittoBroker(workdir=work / "broker", users=("bridge", machine))
        try:
            broker.start()
        except BrokerUnavailable as err:
            said = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
            raise ConfigError(f"the broker did not start: {str(err).splitlines()[0].rstrip(':')}: "
                              f"{said[-1] if said else 'it exited without a word'}") from None
        stack.callback(broker.stop)
        host, port = broker.host, broker.port
        os.environ[env["mqtt"]], os.environ[env["device"]] = broker.password("bridge"), broker.password(machine)
        stack.callback(lambda: [os.environ.pop(env[k], None) for k in ("mqtt", "device")])
    elif not (os.environ.get(env["mqtt"]) and os.environ.get(env["device"])):
        raise ConfigError(f"--broker: set the bridge's and the device's passwords in {env['mqtt']} and {env['device']}")
    _check_specs()
    slack = FakeSlack(users=[SlackUser(id=OPS_USER, name="ops")], now=clock.now,
                      channels=[SlackChannel(id=SHOP_CH, name="snacks", members=(OPS_USER,)),
                                SlackChannel(id=OPS_CH, name="shop-ops", members=(OPS_USER,))],
                      usergroups={OPS_GROUP: [OPS_USER]}, tokens=(os.environ[env["slack_bot"]],))
    slack.start()
    stack.callback(slack.stop)
    stripe = FakeStripe(seed=settings.seed, clock=clock.now, api_key=os.environ[env["stripe_key"]],
                        fee_rate_per_mille=0, fee_fixed_cents=0)
    stripe.start()
    stack.callback(stripe.stop)
    suppliers = [{"supplier": s.supplier, "name": s.name, "contact": s.contact, "lead_time_days": s.lead_time_days,
                  "skus": list(s.skus), "min_order_cents": s.min_order_cents} for s in world.suppliers.directory()]
    capacity = max(scenario.machine.small_capacity, scenario.machine.large_capacity)
    config = LiveConfig(
        bridge=BridgeSection(shop=world.shop, db=f"sqlite:///{run_dir / 'vend.db'}", db_env=env["db"],
                             tz=scenario.timezone),
        http=HttpSection(host="127.0.0.1", port=0, admin_token_env=env["admin"]),
        policy=PolicySection(name=settings.policy, catalogue=str(scenario.catalogue or ""), market=scenario.market),
        llm=settings.llm.model_copy(update={"transcript_dir": str(run_dir)}) if settings.llm is not None else None,
        site=SiteSection(daily_costs_cents={"daily_fee": scenario.daily_fee_cents} if scenario.daily_fee_cents else {}),
        mqtt=MqttSection(host=host, port=port, password_env=env["mqtt"], client_id=f"vendbridge-{name}"[:64],
                         reconnect_max_s=1),
        machines=[MachineSection(id=machine, planogram={}, slot_capacity=capacity, counts="physical")],
        slack=SlackSection(ops_channel=OPS_CH, shop_channel=SHOP_CH, ops_usergroup=OPS_GROUP, base_url=slack.api_url,
                           bot_token_env=env["slack_bot"], signing_secret_env=env["slack_secret"], daily_report=False,
                           customers=scenario.customers is not None, suppliers=suppliers,
                           delivery_hour=scenario.world.delivery_hour,
                           restock_due_minutes=scenario.world.restock_delay_minutes,
                           collect_due_minutes=scenario.world.collect_delay_minutes),
        stripe=StripeSection(base_url=stripe.url, api_key_env=env["stripe_key"], webhook_secret_env=env["stripe_hook"]))
    if faults is not None:  # the shop in its own process, to be killed (bridge/compose/hil_process.py)
        from bridge.compose.hil_process import wire_child

        return wire_child(settings, scenario=scenario, world=world, run_dir=run_dir, name=name, config=config,
                          clock=clock, broker=broker, slack=slack, stripe=stripe, faults=faults, env=env, stack=stack,
                          host=host, port=port, work=work)
    live = build_live(config, clock=clock, run_id=name, shadow=settings.shadow, limits=RunLimits(
        days=scenario.days, max_messages=scenario.max_messages, bankruptcy_days=scenario.bankruptcy_days),
        run_info={"mode": settings.mode, "scenario": scenario.name, "seed": settings.seed, "started_at": world.now})
    stack.callback(live.close)
    events: list[Any] = []
    record_events(live, events)
    if settings.on_event is not None:
        watch_events(live, settings.on_event)
    http_port = live.start_http()
    stack.callback(live.stop_http)
    device = start_device(world, host=host, port=port, password=os.environ[env["device"]], work=work,
                          seed=settings.seed, clock=clock, stack=stack)
    link = live.fleet.link
    wait_started(live, link, device)
    door = SlackDoor(url=f"http://127.0.0.1:{http_port}/slack/events", slack=slack,
                     inbound=SlackInbound(signing_secret=os.environ[env["slack_secret"]]),
                     retry=(lambda: faults.roll("slack_retry")) if faults is not None else None)
    stack.callback(door.close)
    ops = OpsTeam(world=world, slack=slack, door=door, devices={machine: device})
    payouts = Payouts(url=f"http://127.0.0.1:{http_port}/stripe/webhook", secret=os.environ[env["stripe_hook"]],
                      faults=faults)
    restart = None
    if broker is not None:
        own = broker

        def restart() -> None:
            restart_broker(own, live, link, device)

    outside = Outside(world=world, clock=clock, devices={machine: device}, ops=ops,
                      received=lambda: link.received["events"],
                      received_reports=lambda: link.received["inventory"], quiet=live.fleet.drain_into_backlog,
                      payout=payouts.send, faults=faults, restart_broker=restart,
                      cards=CardDesk(world=world, stripe=stripe, webhook_url=payouts.url, secret=payouts.secret),
                      pace=settings.pace)
    outside.start()

    runtime = live.runtime
    assert runtime is not None  # the world's machine is configured
    if settings.on_day is not None:
        watch_days(runtime, settings.on_day)

    def stop_the_shop() -> None:
        runtime.outcome.ended_by = "outside_failed"

    outside.on_failure = stop_the_shop
    clock.mover = outside.advance_to
    for e in world.drain():  # the opening balance: the owner's deposit, booked as the live shop's first event
        live.inbox.put(e)
    return HilRun(settings=settings, run_dir=run_dir, world=world, scenario=scenario, live=live, outside=outside,
                  stack=stack, events=events)


def _check_specs() -> None:
    """The loopback doubles check what they are sent against the published API descriptions."""
    from hardware_adapters.doubles.slack_spec import specs_dir
    from hardware_adapters.doubles.stripe_wire import fixtures_path

    try:
        specs_dir()
        fixtures = fixtures_path()
    except FileNotFoundError as err:
        raise ConfigError(str(err)) from None
    if not fixtures.is_file():
        raise ConfigError(f"Stripe's fixtures are not at {fixtures}")


def write_hil_report(run: HilRun, summary: dict[str, Any], *, charts: ChartWorker | None = None) -> tuple[str, ...]:
    """The run folder; the charts drawn."""
    assert run.outcome is not None
    title = f"{summary['scenario']} / {summary['policy']} / seed {summary['seed']} ({summary.get('mode', 'hil')})"
    return write_run_folder(run.run_dir, events=run.events, summary=summary, days=run.outcome.days, title=title,
                     events_log=True, charts=charts if run.settings.charts else None, draw=run.settings.charts)


def hil_json(summary: dict[str, Any]) -> str:
    return json.dumps(summary, default=str)


# --- the command -------------------------------------------------------------------------------------


def run_hil(args: Any) -> int:
    """`vend hil`: play the scenario through the live shop, write the run folder; with --compare, run
    `vend sim` of the same scenario, seed and policy into <run>/sim and compare (exit 1 on a difference)."""
    import logging

    from bridge.cli import format_summary

    logging.getLogger("vendbridge").setLevel(logging.WARNING)
    charts = None if args.no_charts else ChartWorker()
    settings = HilSettings(scenario=args.scenario, days=args.days, seed=args.seed, policy=args.policy,
                           out_dir=args.out, run_name=args.name, charts=not args.no_charts, broker=args.broker,
                           faults=args.faults, shadow=args.shadow, compare=args.compare)
    try:
        run = build_hil(settings)
        try:
            run.run()
            summary = run.summary()
        except AdapterError as err:  # a failure of the loop itself (broker, doubles): one line, exit 1
            print(f"vend: error: {err}", file=sys.stderr)
            return 1
        finally:
            run.close()
        write_hil_report(run, summary, charts=charts)
        comparison = None
        if args.compare:
            comparison = compare_with_sim(run)
            summary["comparison"] = comparison.to_json()
            (run.run_dir / "comparison.json").write_text(json.dumps(comparison.to_json(), indent=2) + "\n")
    finally:
        if charts is not None:
            charts.close()
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print(format_summary(summary))
        if summary.get("faults"):  # --faults: what was done to the shop (the shop's kills first)
            done = summary["faults"]
            kills = [f"{done[k]} {k.removeprefix('shop_kill_')}" for k in sorted(done) if k.startswith("shop_kill_")]
            shown = [f"shop killed {done.get('shop_kill', 0)}x" + (f" ({', '.join(kills)})" if kills else "")]
            shown += [f"{k} {v}" for k, v in sorted(done.items()) if not k.startswith("shop_kill")]
            print(f"{'faults':<26}{'; '.join(shown)}")
    if comparison is not None:
        from bridge.compose.outside.compare import format_comparison

        if not args.json:
            print(format_comparison(comparison))
        return 0 if comparison.identical else 1
    return 0


def compare_with_sim(run: HilRun) -> Any:
    """`vend sim` of the same scenario, seed and policy into <run>/sim, and the two books compared."""
    from bridge.compose.outside.compare import compare_books, read_books
    from bridge.compose.sim import build_sim
    from bridge.settings import SimSettings

    s = run.settings
    sim = build_sim(SimSettings(scenario=s.scenario, days=s.days, seed=s.seed, policy=s.policy, out_dir=run.run_dir,
                                run_name="sim", charts=False))
    sim.run()
    write_report(sim, sim.summary())
    sim.store.close()
    tz = run.scenario.tz
    days = run.outcome.days_run if run.outcome is not None else None
    return compare_books(read_books(f"sqlite:///{sim.run_dir / 'vend.db'}", tz=tz, shop=run.world.shop),
                         read_books(f"sqlite:///{run.run_dir / 'vend.db'}", tz=tz, shop=run.world.shop), days=days)
