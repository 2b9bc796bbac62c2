"""`vend live`'s entry point: the live adapters (machines over MQTT, Stripe, Slack) as the backend of
the one shop assembly (bridge/compose/shop.py), in the running process of bridge/live/process.py
with the scheduler and the inbound HTTP server. Sections of the config that are absent are adapters
left out (stand-ins that refuse, bridge/live/standins.py, take their ports)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from bridge import events as ev
from bridge.compose.policies import LlmInputs, PolicyInputs, build_policy
from bridge.compose.shop import ShopSpec, assemble_shop, open_books
from bridge.errors import AdapterError, ConfigError
from bridge.guardrails import GuardrailPolicy
from bridge.ledger import Ledger
from bridge.live.config import LiveConfig, secret
from bridge.live.core import CoreLoop, CoreMachine, LiveHost, LivePump, MergedSource, as_telemetry
from bridge.live.ingest import IngestLoop, MachineBook, status_report
from bridge.live.process import LiveBridge
from bridge.live.slots import SlotPlan
from bridge.live.standins import (
    LIVE_LIMITS,
    NoApprovals,
    NoChat,
    NoPayments,
    NoPhysicalWork,
    OpsProcurement,
    day_logger,
)
from bridge.policies.base import Policy
from bridge.ports import Backend, Clock, VirtualTime
from bridge.resume import Resume
from bridge.runtime import RunLimits
from bridge.store import Store

log = logging.getLogger("vendbridge.live")


class _FiredBySchedulerOnly:
    def pop(self) -> tuple[datetime, str]:
        raise RuntimeError("live jobs are fired by the LiveScheduler")


# --- building ---------------------------------------------------------------------------------------


def build_live(config: LiveConfig, *, on_commit: Callable[[Sequence[ev.Event], float], None] | None = None,
               start: bool = True, shadow: bool = False, clock: Clock | None = None,
               run_id: str = "", run_info: dict[str, Any] | None = None,
               limits: RunLimits | None = None) -> LiveBridge:
    """Wire the live bridge; `start` connects to the broker (in the background: a broker that is down
    is retried, never fatal). The scheduler, the HTTP server and the core thread start in `serve()`.

    `clock`: the Clock every part reads (the tools, the ledger's timestamps, the adapters, the
    scheduler); default the wall clock. A virtual clock (one with `advance_to`, `vend hil`) also
    changes who fires the jobs: not APScheduler on the wall clock but the runtime's own loop
    (`live.runtime.run()`), from a VirtualSchedule that asks the same triggers for their next fire
    time, and whose event source moves the clock to the next job once the adapters are quiet."""

    b = config.bridge
    tz = ZoneInfo(b.tz)
    if config.policy.name == "llm":
        from bridge.llm.adapter import api_key_from_env

        api_key_from_env()  # no key: a one-line error before anything is opened
    now = clock.now() if clock is not None else datetime.now(UTC)
    run_id = run_id or f"{'shadow' if shadow else 'live'}-{now:%Y%m%dT%H%M%S%f}"
    # the books so far, after a restart
    store, ledger = open_books(url=config.db_url(), shop=b.shop, tz=tz, run_info={
        "run_id": run_id, "shop": b.shop, "started_at": now, "mode": "shadow" if shadow else "live", "scenario": "",
        "policy": config.policy.name, "seed": 0,
        "settings_json": config.model_dump_json(include={"bridge", "machines", "policy"}), **(run_info or {})})
    try:
        return _wire(config, store=store, ledger=ledger, run_id=run_id, on_commit=on_commit, start=start,
                     shadow=shadow, clock=clock, limits=limits)
    except BaseException:
        store.close()
        raise


def _wire(config: LiveConfig, *, store: Store, ledger: Ledger, run_id: str,
          on_commit: Callable[[Sequence[ev.Event], float], None] | None, start: bool, shadow: bool,
          clock: Clock | None, limits: RunLimits | None = None) -> LiveBridge:
    from hardware_adapters.live import EventQueue, SystemClock

    b = config.bridge
    clock = clock if clock is not None else SystemClock()
    # each slot's product and capacity: the config's planogram opens it, the machines' reports and people's
    # restocks change it (kept in the store), and both the books and the machines' views follow it
    plan = SlotPlan(opening={m.id: m.planogram for m in config.machines},
                    capacity={m.id: m.slot_capacity for m in config.machines})
    book = MachineBook(shop=b.shop, store=store, plan=plan)
    for m in config.machines:
        book.register(m.id)
    store.flush()
    fleet = _fleet(config, book, clock=clock) if config.mqtt is not None and config.machines else None
    inbox = EventQueue(now=clock.now)
    people_confirm = config.slack is not None and not shadow  # Slack tasks book restocks and collections
    core_ref: list[CoreLoop] = []
    source = MergedSource(inbox=inbox, fleet=fleet, translate=as_telemetry if people_confirm else None,
                          interrupted=lambda: bool(core_ref) and core_ref[0].has_work())
    loop = IngestLoop(source=source, ledger=ledger, store=store, book=book, max_batch=b.max_batch,
                      max_delay_s=b.max_delay_ms / 1000, on_commit=on_commit,
                      counted=frozenset(m.id for m in config.machines if m.counts == "physical"))
    core = CoreLoop(loop=loop)
    core_ref.append(core)
    live = LiveBridge(config=config, store=store, ledger=ledger, book=book, fleet=fleet, loop=loop, inbox=inbox,
                      core=core, shadow=shadow)
    machines = dict(fleet.machines) if fleet is not None else {}
    if config.slack is not None:
        live.slack = _slack(config, clock=clock, ledger=ledger, inbox=inbox,
                            machines={k: CoreMachine(machine=m, core=core) for k, m in machines.items()})
        if config.slack.mode == "http":
            live.routes.append(live.slack.http_route())
    payments: Any = NoPayments()
    if config.stripe is not None:
        side = _stripe(config, store=store, inbox=inbox, clock=clock)
        live.stripe, live.reconciler, payments = side.payments, side.reconciler, side.payments
        source.durable.append(side.inbox)  # webhooks kept before their 200, booked by the core
        live.routes.append(side.route)
    if machines:
        _shopkeeper(live, config, clock=clock, machines=machines, payments=payments, run_id=run_id, limits=limits)
    else:
        log.warning("no machines configured: the shopkeeper and the scheduler do not run")
    _fridges(live, config, cards=live.stripe)
    token = config.http.admin_token_env
    if live.scheduler is not None and os.environ.get(token):
        from bridge.live.http_app import jobs_route

        live.routes.append(jobs_route(run=live.run_job, token=os.environ[token], jobs=tuple(live.scheduler.jobs)))
    if start and fleet is not None:
        fleet.start()
    return live


def _fleet(config: LiveConfig, book: MachineBook, *, clock: Clock) -> Any:
    from hardware_adapters.mqtt_link import MqttLink
    from hardware_adapters.mqtt_machine import MqttFleet

    q = config.mqtt
    assert q is not None
    link = MqttLink(host=q.host, port=q.port, username=q.username, password=q.password(),
                    client_id=q.client_id, session_expiry_s=q.session_expiry_s,
                    receive_maximum=q.receive_maximum, reconnect_delay_s=(1, q.reconnect_max_s), clock=clock.now)
    fleet = MqttFleet(link=link, machines={m.id: m.planogram for m in config.machines}, shop=config.bridge.shop,
                      command_timeout_s=q.command_timeout_s, max_payload_bytes=q.max_payload_bytes,
                      slot_capacity=max(m.slot_capacity for m in config.machines), plan=book.plan,
                      clock=clock.now)
    counted = _counted(book.store, config.bridge.shop)
    for m in config.machines:
        fleet.seed(m.id, {slot: (r["count"], r["price_cents"], r["snapshot_at"])
                          for (mid, slot), r in book.slots.items() if mid == m.id},
                   cash_cents=int(book.machines.get(m.id, {}).get("cash_cents") or 0), counted=counted)
    return fleet


def _counted(store: Store, shop: str) -> list[str]:
    """The ids of the machines' movements booked (vends, restocks, cash collections), oldest first: the
    fleet's view ignores a redelivery of one of them after a restart, as the books do."""
    from hardware_adapters.mqtt_machine import OBSERVED_KEPT

    with store.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT event_id FROM processed_event WHERE shop = :s AND kind IN ('sale', 'restocked', "
            "'cash_collected', 'machine_restocked', 'machine_cash_collected') ORDER BY ts DESC LIMIT :n"),
            {"s": shop, "n": OBSERVED_KEPT}).all()
    return [r[0] for r in reversed(rows)]


def _slack(config: LiveConfig, *, clock: Any, ledger: Ledger, inbox: Any, machines: dict[str, Any]) -> Any:
    from hardware_adapters.slack.app import SlackBridge
    from hardware_adapters.slack.settings import SlackSettings

    s = config.slack
    assert s is not None
    settings = SlackSettings(
        bot_token=secret(s.bot_token_env, "slack"), signing_secret=secret(s.signing_secret_env, "slack"),
        app_token=os.environ.get(s.app_token_env, "") if s.mode == "socket" else "",
        ops_channel=s.ops_channel, shop_channel=s.shop_channel, ops_usergroup=s.ops_usergroup,
        base_url=s.base_url or os.environ.get("SLACK_API_URL", "") or "https://slack.com/api/",
        shop=config.bridge.shop, task_due_minutes=s.task_due_minutes, delivery_hour=s.delivery_hour,
        restock_due_minutes=s.restock_due_minutes, collect_due_minutes=s.collect_due_minutes)
    if s.mode == "socket" and not settings.app_token:
        raise ConfigError(f"slack: Socket Mode needs an app-level token in {s.app_token_env}")
    from hardware_adapters.slack.procurement import suppliers_from_config

    products = _products(config)  # ops are asked to load only what the shop's catalogue holds, as in sim
    unknown = sorted({sku for m in config.machines for sku in m.planogram.values()} - products.keys())
    if unknown:
        log.warning("planogram products not in the catalogue: restocks of them are refused",
                    extra={"skus": unknown})
    slack = SlackBridge(settings=settings, clock=clock, ledger=ledger, machines=machines, events=inbox,
                        suppliers=suppliers_from_config(s.suppliers), products=products)
    return slack


def _stripe(config: LiveConfig, *, store: Store, inbox: Any, clock: Clock) -> Any:
    """hardware_adapters.stripe.wiring.StripeSide: StripePayments (the Payments port), the POST
    /stripe/webhook route with its inbox table, the reconciler (its alarms go to the event inbox)."""
    from hardware_adapters.stripe.wiring import build_stripe

    assert config.stripe is not None
    return build_stripe(config.stripe, shop=config.bridge.shop, store=store, sink=inbox.put,
                        tz=ZoneInfo(config.bridge.tz), now=clock.now)


def _fridges(live: LiveBridge, config: LiveConfig, *, cards: Any) -> None:
    """Machines configured as fridges: their door events open and settle card sessions (bridge/fridge.py)."""
    fridges = frozenset(m.id for m in config.machines if m.fridge)
    if not fridges:
        return
    assert config.stripe is not None  # the config says so
    from bridge.fridge import FridgeSessions

    live.fridge = FridgeSessions(cards=cards, machines=fridges, hold_cents=config.stripe.fridge_hold_cents,
                                 alarm=live.inbox.put)
    observers = [f for f in (live.loop.on_event, live.fridge.observe) if f is not None]

    def observe(e: ev.Event) -> None:
        for f in observers:
            f(e)

    live.loop.on_event = observe


def _shopkeeper(live: LiveBridge, config: LiveConfig, *, clock: Clock, machines: dict[str, Any], payments: Any,
                run_id: str, limits: RunLimits | None = None) -> None:
    from bridge.policies.base import jobs_for
    from scheduler.jobs import payment_jobs, shop_jobs
    from scheduler.live import LiveScheduler
    from scheduler.virtual import VirtualSchedule

    assert live.core is not None
    guard = live_guardrails(config)
    slack = live.slack
    backend = Backend(shop=config.bridge.shop, clock=clock, machines=machines, payments=payments,
                      chat=slack.chat if slack else NoChat(),
                      procurement=slack.procurement if slack else OpsProcurement(),
                      physical=slack.physical if slack else NoPhysicalWork(), events=LivePump(loop=live.loop, clock=clock),
                      approvals=slack.approvals if slack else NoApprovals())
    tz = live.ledger.tz
    s = config.scheduler
    virtual = isinstance(clock, VirtualTime)

    # the runtime's memory between jobs, saved after each and given back after a restart (bridge/resume.py)
    loop = live.loop
    resume = Resume(store=live.store, shop=config.bridge.shop, run_id=run_id, commit=loop.commit,
                    get=lambda: _ingest_state(loop), put=lambda extra: _restore_ingest(loop, extra))

    def schedule(policy: Policy) -> Any:
        if not virtual:
            return _FiredBySchedulerOnly()
        # on a virtual clock the runtime's loop fires the jobs, asking the same triggers (as the simulator),
        # from the run's first start, after the last job run before a restart
        start = resume.schedule_start(clock.now())
        return VirtualSchedule(shop_jobs(tz, start=start, open_hour=s.open_hour, close_hour=s.close_hour,
                                         close_minute=s.close_minute), start=start, only=jobs_for(policy),
                               after=resume.after())

    shop = assemble_shop(backend=backend, store=live.store, ledger=live.ledger, spec=ShopSpec(
        run_id=run_id, tz=tz, products=_products(config), policy=config.policy.name,
        policy_inputs=live_policy_inputs(config, guard=guard, store=live.store, ledger=live.ledger, clock=clock),
        customers=_customers(config), service=True, schedule=schedule, limits=limits or LIVE_LIMITS,
        shadow=live.shadow, on_day=day_logger, running_costs=config.site.running_costs()))
    live.loop.on_event = shop.tools.observe
    resume.groups = list(shop.groups)
    resume.restore(shop.runtime)
    shop.runtime.resume = resume
    after_close = None
    if slack is not None and config.slack is not None and config.slack.daily_report and not live.shadow:
        after_close = _daily_report(slack, tz)
    live.tools, live.toolbox, live.policy, live.runtime = shop.tools, shop.toolbox, shop.policy, shop.runtime
    live.twin = shop.extras.get("twin")
    reconcile = live.reconciler.reconcile_payments if live.reconciler is not None else None
    live.host = LiveHost(runtime=shop.runtime, core=live.core, after_close=after_close, reconcile=reconcile)
    if config.scheduler.enabled and not virtual:
        jobs = shop_jobs(tz, start=clock.now(), open_hour=s.open_hour, close_hour=s.close_hour, close_minute=s.close_minute)
        if config.stripe is not None and reconcile is not None:  # yesterday's Stripe movements vs the books
            jobs += payment_jobs(tz, hour=config.stripe.reconcile_hour)
        live.scheduler = LiveScheduler(host=live.host, db_url=live.store.url, tz=tz, engine=live.store.engine,
                                       name=f"shop-{config.bridge.shop}", jobs=jobs)


def _ingest_state(loop: IngestLoop) -> dict[str, Any]:
    """What the ingest keeps in memory that a restart needs (bridge/resume.py): its duplicate count, and
    when people last restocked or unloaded each slot (a physical count no later than that is not judged)."""
    return {"duplicates": loop.duplicates, "moved_at": {k: v.isoformat() for k, v in loop.moved_at.items()}}


def _restore_ingest(loop: IngestLoop, saved: dict[str, Any]) -> None:
    loop.duplicates += int(saved.get("duplicates", 0))
    for loc, ts in (saved.get("moved_at") or {}).items():
        at = datetime.fromisoformat(ts)
        if loc not in loop.moved_at or loop.moved_at[loc] < at:
            loop.moved_at[loc] = at


def _customers(config: LiveConfig) -> bool:
    return config.slack is not None and config.slack.customers


def live_guardrails(config: LiveConfig) -> GuardrailPolicy:
    return GuardrailPolicy.load(config.path(config.policy.guardrails)) if config.policy.guardrails \
        else GuardrailPolicy()


def _daily_report(slack: Any, tz: Any) -> Callable[[datetime | None], None]:
    def post(at: datetime | None) -> None:
        try:  # the report of the day closed (a close caught up after midnight reports its own day)
            file_id = slack.dashboard.post_daily_report(at.astimezone(tz).date() if at is not None else None)
            log.info("daily report posted", extra={"file": file_id})
        except (AdapterError, OSError) as err:  # the close is booked; the report is an alert if it fails
            log.error("daily report failed", extra={"error": str(err)})

    return post


def _products(config: LiveConfig) -> dict[str, Any]:
    from sim_backend.catalogue import load_catalogue

    path = config.path(config.policy.catalogue) if config.policy.catalogue else None
    return {k: v.product for k, v in load_catalogue(path).items()}


def live_policy_inputs(config: LiveConfig, *, guard: GuardrailPolicy, store: Store | None = None,
                       ledger: Ledger | None = None, clock: Any = None) -> PolicyInputs:
    """The policy factory's inputs for the live shop: real suppliers (vetted as in an open market),
    customers when Slack brings them, no hidden truth; scripts resolve from the config's folder. `llm`
    needs the store, the ledger and the clock; its API key comes from ANTHROPIC_API_KEY only."""
    llm = None
    if config.policy.name == "llm":
        from bridge.live.config import LlmSection
        from bridge.llm.adapter import AnthropicLLM, api_key_from_env
        from bridge.llm.rules import LlmRules

        section = config.llm or LlmSection()
        settings = section.settings()
        key = api_key_from_env()  # a missing key is a one-line ConfigError, before anything else is built
        if store is None or ledger is None or clock is None:
            raise ConfigError("the llm policy is built with the live store, ledger and clock")
        rules = LlmRules.live(shop=config.bridge.shop, cap=settings.max_messages,
                              billing=settings.charge_output_tokens, parallel=section.parallel_tool_calls)
        llm = LlmInputs(settings=settings, shop=config.bridge.shop, store=store, books=ledger, now=clock.now,
                        run_dir=config.path(section.transcript_dir) if section.transcript_dir else None,
                        client=AnthropicLLM(settings=settings, api_key=key), max_messages=rules.cap, rules=rules)
        log.info("llm shopkeeper", extra={"model": settings.model, "endpoint": section.base_url or "default"})
    return PolicyInputs(guard=guard, open_market=config.policy.market == "open", customers=_customers(config), truth=None,
                        resolve=config.path, llm=llm)


def build_live_policy(config: LiveConfig, *, guard: GuardrailPolicy, store: Store | None = None,
                      ledger: Ledger | None = None, clock: Any = None) -> tuple[Policy, list[object]]:
    """The shopkeeper [policy] names, from the one policy factory, and the tool groups it brings."""
    built = build_policy(config.policy.name, live_policy_inputs(config, guard=guard, store=store, ledger=ledger,
                                                                clock=clock))
    return built.policy, built.tool_groups


# --- the command -------------------------------------------------------------------------------------


def run_live(path: Path, *, shadow: bool = False, out: Any = sys.stderr) -> int:
    """`vend live`: run until SIGTERM or SIGINT, then stop cleanly and exit 0."""
    from bridge.live.jsonlog import setup_logging

    config = LiveConfig.load(path)
    handler = setup_logging(secret_env_names=config.secret_env_names(), stream=out)
    stop = threading.Event()

    def _stop(sig: int, _frame: Any) -> None:
        log.info("signal received", extra={"signal": signal.Signals(sig).name})
        stop.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        live = build_live(config, shadow=shadow)
        try:
            live.serve(stop)
        finally:
            live.close()
        log.info("vend live stopped", extra={"recorded": live.loop.recorded, "dead_letters": live.loop.dead_letters,
                                             "duplicates": live.loop.duplicates})
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        logging.getLogger().removeHandler(handler)
    return 0


def open_store(db_url: str) -> Store:
    """An existing store (a missing SQLite file is a one-line error, not a new empty store)."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(db_url)
    except Exception:
        raise ConfigError(f"not a database URL: {db_url!r}") from None
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise ConfigError(f"no store at {url.database}")
    return Store(url=db_url)


def live_status(db_url: str, *, shop: str = "main") -> dict[str, Any]:
    store = open_store(db_url)
    try:
        return status_report(store, shop=shop)
    finally:
        store.engine.dispose()


def bench_ingest(*, rate: int, seconds: float, machines: int, latency_rate: int,
                 latency_seconds: float) -> dict[str, Any]:
    """`vend bench ingest` (see hardware_adapters/ingest_bench.py): figures as one dict."""
    from bridge.compose.ingest_bench import run

    return run(rate=rate, seconds=seconds, machines=machines, latency_rate=latency_rate,
               latency_seconds=latency_seconds)


def emulate_machine(argv: list[str]) -> int:
    """`vend emulate-machine`: the device emulator's own command line."""
    from hardware_adapters.emulator import main as emulate

    return emulate(argv, prog="vend emulate-machine")


def reconcile_command(args: Any) -> int:
    """`vend reconcile`: one day of Stripe balance transactions against the ledger."""
    import json
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from bridge.errors import AdapterError
    from bridge.store import Store
    from hardware_adapters.stripe.client import stripe_client
    from hardware_adapters.stripe.reconcile import reconcile_day

    url = args.db or os.environ.get("VEND_DB_URL", "")
    if not url:
        raise ConfigError("no database: give --db URL or set VEND_DB_URL")
    try:
        tz = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {args.tz!r}") from None
    client = stripe_client(api_base=args.stripe_api or None)
    store = Store(url=url)
    try:
        report = reconcile_day(client=client, store=store, shop=args.shop, day=args.date, tz=tz)
    except AdapterError as err:
        raise ConfigError(str(err)) from None
    finally:
        store.engine.dispose()
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        print(f"{args.date}: {report.transactions} Stripe movement(s), {report.matched} matched, "
              f"{len(report.differences)} difference(s)")
        for d in report.differences:
            print(f"  {d.kind:20} {d.ref}  stripe={d.stripe_cents} ledger={d.ledger_cents}  {d.detail}")
    return 0 if report.ok else 1
