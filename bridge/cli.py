"""The `vend` command. Subcommands import what they need when they run (fast start-up)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from bridge.argtypes import positive as _positive
from bridge.argtypes import zero_or_more as _seed
from bridge.errors import ConfigError


def _seconds(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < x < 86_400:
        raise argparse.ArgumentTypeError(f"must be above zero and under a day: {value}")
    return x


def _reason(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("give a reason")
    return value.strip()


class OneLineParser(argparse.ArgumentParser):
    """Usage errors are one line (and exit 2), not the whole usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"vend: error: {message} (see '{self.prog} --help')\n")


def _sim_args(sim: argparse.ArgumentParser) -> None:
    """The flags of `vend sim` (and of `vend local-model`, which runs it against the local model)."""
    from bridge.cli_llm import add_llm_flags

    sim.add_argument("--scenario", default="vb1", help="built-in scenario name or a TOML file (default vb1)")
    sim.add_argument("--days", type=_positive, help="days to run (default: the scenario's)")
    sim.add_argument("--seed", type=_seed, default=7)
    sim.add_argument("--policy", default="baseline", help="baseline, oracle, llm or scripted:FILE")
    sim.add_argument("--out", type=Path, default=Path("runs"), help="folder for run folders (default runs/)")
    sim.add_argument("--name", default="", help="run folder name (default: scenario-policy-seed-time)")
    sim.add_argument("--db", default="", help="SQLAlchemy URL of the store (default: SQLite in the run folder)")
    sim.add_argument("--guardrails", type=Path, help="guardrail policy file (default: built-in defaults)")
    sim.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    sim.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    sim.add_argument("--model", default="", help="--policy llm: the Anthropic model (default claude-sonnet-4-6)")
    sim.add_argument("--llm-base-url", default="",
                     help="--policy llm: an Anthropic-compatible endpoint (default $ANTHROPIC_BASE_URL, else Anthropic)")
    sim.add_argument("--llm-charge-tokens", action="store_true",
                     help="--policy llm: bill output tokens to the shop's bank weekly at $100 per million")
    add_llm_flags(sim)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="vend", description="vendbridge: an AI shopkeeper, simulated and live")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    sim = sub.add_parser("sim", help="run a simulated shop and write a report")
    _sim_args(sim)
    from bridge.cli_llm import add_local_commands

    add_local_commands(sub)
    _sim_args(sub.choices["local-model"])

    hil = sub.add_parser("hil", help="play a scenario's world through the live shop (hardware in the loop)",
                         description="The scenario's simulated world as the outside of `vend live`'s shop on a "
                                     "virtual clock: emulated machines over a real mosquitto, ops in Slack and "
                                     "Stripe webhooks on loopback doubles. Writes the same run folder as vend sim.")
    hil.add_argument("--scenario", default="vb1", help="built-in scenario name or a TOML file (default vb1)")
    hil.add_argument("--days", type=_positive, help="days to run (default: the scenario's)")
    hil.add_argument("--seed", type=_seed, default=7)
    hil.add_argument("--policy", default="baseline", help="baseline, llm or scripted:FILE")
    hil.add_argument("--out", type=Path, default=Path("runs"), help="folder for run folders (default runs/)")
    hil.add_argument("--name", default="", help="run folder name (default: scenario-policy-seed-hil-time)")
    hil.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    hil.add_argument("--no-charts", action="store_true", help="skip the PNG charts")
    hil.add_argument("--compare", action="store_true",
                     help="also run vend sim of the same scenario, seed and policy (into <run>/sim) and compare the "
                          "tool calls and the balances per account, day by day; exit 1 on any difference")
    hil.add_argument("--faults", action="store_true",
                     help="inject the real world's faults on a seeded schedule: duplicate MQTT deliveries, broker "
                          "restarts, replayed and late webhooks, Slack retries, and the shop's process SIGKILLed "
                          "and started again (it runs as a child process then; the books must not notice)")
    hil.add_argument("--shadow", action="store_true",
                     help="the live composition in shadow mode: the shopkeeper decides, every WRITE is only recorded "
                          "(vend shadow-report --db sqlite:///<run>/vend.db); not with --compare")
    hil.add_argument("--broker", default="",
                     help="host:port of a running mosquitto with the project's config (passwords in VEND_HIL_MQTT and "
                          "VEND_HIL_DEVICE); default: start one on a free loopback port")

    from bridge.compose.demo import SPEED, parse_speed

    demo = sub.add_parser("demo", help="the live shop on a laptop: vend hil's parts paced to the wall clock, shown as "
                                       "it happens; Ctrl-C stops",
                          description="A local mosquitto with the project's config, an emulated machine with "
                                      "customers, vend live's shop, the loopback Slack and Stripe doubles and a "
                                      "simulated ops team, in real time or faster; prints each sale, task, message, "
                                      "order and day close as it happens, and the books at the end. Ctrl-C (or "
                                      "SIGTERM) stops at the next quiet point and leaves nothing running.")
    demo.add_argument("--scenario", default="project_vend",
                      help="built-in scenario name or a TOML file (default project_vend: customers who chat)")
    demo.add_argument("--speed", type=parse_speed, default=SPEED,
                      help=f"simulated seconds per wall second, 1 (real time) to 86400 (default {SPEED:g}: a "
                           f"simulated day in {86_400 / SPEED:g} s)")
    demo.add_argument("--duration", type=_seconds, help="stop after this many wall seconds (default: until Ctrl-C)")
    demo.add_argument("--days", type=_positive, help="stop after this many simulated days (default: the scenario's)")
    demo.add_argument("--seed", type=_seed, default=7)
    demo.add_argument("--policy", default="baseline", help="baseline, llm or scripted:FILE")
    demo.add_argument("--out", type=Path, default=Path("runs"), help="folder for run folders (default runs/)")
    demo.add_argument("--name", default="", help="run folder name (default: scenario-policy-seed-demo-time)")
    demo.add_argument("--no-charts", action="store_true", help="skip the PNG charts")

    tr = sub.add_parser("transcript", help="print an llm run's transcript: tool calls, results, refusals, tokens")
    tr.add_argument("run", help="the run folder (or its transcript.jsonl)")
    tr.add_argument("--width", type=_positive, default=160, help="characters of each text or result shown")

    from bridge.compose.chat import add_chat_command

    add_chat_command(sub)

    bench = sub.add_parser("bench", help="benchmarks: figures, not pass/fail")
    bsub = bench.add_subparsers(dest="bench", required=True, parser_class=OneLineParser)
    speed = bsub.add_parser("speed", help="wall time of a 365-day baseline run, simulated days per second")
    speed.add_argument("--repeat", type=_positive, default=5)
    speed.add_argument("--days", type=_positive, default=365)
    speed.add_argument("--seed", type=_seed, default=7)
    pol = bsub.add_parser("policy", help="baseline and oracle over seeds: mean and minimum net worth")
    pol.add_argument("--seeds", type=_positive, default=20)
    pol.add_argument("--scenario", default="vb1")
    pol.add_argument("--days", type=_positive)
    pol.add_argument("--policies", default="baseline,oracle")
    pol.add_argument("--workers", type=_positive, help="processes (default: the machine's cores)")
    pol.add_argument("--backend", default="process",
                     help="process (default), ray or dask, optionally with an address (ray://host:port, "
                          "dask://host:port); ray and dask need the extra vendbridge[sweep]")
    pol.add_argument("--json", action="store_true")

    mod = bsub.add_parser("models", help="two models (or policies) on the same seeds: the paired difference of "
                                         "scores, its 95%% CI, and the seeds needed to tell them apart")
    mod.add_argument("--models", required=True, help="two players: models of the llm policy, or baseline/oracle")
    mod.add_argument("--seeds", type=_positive, default=10)
    mod.add_argument("--scenario", default="vb2")
    mod.add_argument("--days", type=_positive)
    mod.add_argument("--workers", type=_positive, help="processes (default: the machine's cores)")
    mod.add_argument("--llm-base-url", default="", help="an Anthropic-compatible endpoint for the models")
    mod.add_argument("--llm-charge-tokens", action="store_true", help="bill output tokens to the shop")
    mod.add_argument("--json", action="store_true")

    arena = sub.add_parser("arena", help="Arena: several shopkeepers compete at one location; a round over seeds "
                                         "in parallel, its table and charts")
    arena.add_argument("--policies", required=True, help="one per participant, e.g. baseline,oracle,baseline")
    arena.add_argument("--seeds", type=_positive, default=4, help="seeded runs in the round (default 4)")
    arena.add_argument("--scenario", default="vb2", help="default vb2, the world of Andon Labs' Arena")
    arena.add_argument("--days", type=_positive)
    arena.add_argument("--teams", default="", help="a team label per participant, e.g. red,red,blue (default none)")
    arena.add_argument("--report-every", type=_positive, default=7, help="days between competition reports")
    arena.add_argument("--refuse-price-coordination", action="store_true",
                       help="guardrail: refuse messages that coordinate prices with competitors")
    arena.add_argument("--guardrails", type=Path, help="guardrail policy file (default: built-in defaults)")
    arena.add_argument("--workers", type=_positive, help="processes (default: the machine's cores)")
    arena.add_argument("--out", type=Path, default=Path("runs"), help="folder for the round's report (default runs/)")
    arena.add_argument("--no-charts", action="store_true")
    arena.add_argument("--json", action="store_true")
    arena.add_argument("--model", default="",
                       help="llm players: one model for all, or one each in order (comma-separated)")
    arena.add_argument("--llm-base-url", default="", help="llm players: an Anthropic-compatible endpoint")
    arena.add_argument("--discovery", action="store_true",
                       help="each shop starts knowing no supplier and finds them with search_suppliers")
    arena.add_argument("--llm-charge-tokens", action="store_true", help="llm players: bill output tokens to the shop")

    db = sub.add_parser("db", help="the store's database: schema migrations")
    dsub = db.add_subparsers(dest="db_command", required=True, parser_class=OneLineParser)
    for name, text in (("upgrade", "migrate the schema to the newest revision"),
                       ("current", "print the schema revision the database is at")):
        p = dsub.add_parser(name, help=text)
        p.add_argument("--db", default="", help="SQLAlchemy URL (default: $VEND_DB_URL)")

    gate = sub.add_parser("gate", help="the rollout gate: run a policy over the gate's scenarios and seeds in "
                                       "simulation; exit 1 unless every rule holds")
    gate.add_argument("--config", type=Path, default=Path("ops/gate.toml"), help="gate file (default ops/gate.toml)")
    gate.add_argument("--policy", help="policy to gate (default: the file's)")
    gate.add_argument("--out", type=Path, default=Path("runs/gate"), help="report folder (default runs/gate)")
    gate.add_argument("--workers", type=_positive, help="processes (default: the file's, else every core)")
    gate.add_argument("--backend", default="process", help="process, ray or dask (as for bench policy)")
    gate.add_argument("--json", action="store_true", help="print the verdict as one JSON object on stdout")
    gate.add_argument("--verdicts", type=Path, help="folder for the verdict file <fingerprint>.json that vend live "
                                                    "reads (default OUT/verdicts, i.e. runs/gate/verdicts)")
    gate.add_argument("--store", default="", help="audit this store (SQLAlchemy URL) for guardrail breaches against "
                                                  "the gate's guardrails file instead of running; exit 1 on a breach")
    gate.add_argument("--tz", default="", help="--store: the shop's time zone (default: the live run's, else UTC)")

    ing = bsub.add_parser("ingest", help="emulated machines through a real mosquitto into the ledger: events/s, "
                                         "publish-to-commit latency, and the broker's raw subscriber rate")
    ing.add_argument("--rate", type=_positive, default=2500, help="offered vend events per second (default 2500)")
    ing.add_argument("--seconds", type=_seconds, default=4.0, help="seconds per throughput phase (default 4)")
    ing.add_argument("--machines", type=_positive, default=4, help="emulated machines (default 4)")
    ing.add_argument("--latency-rate", type=_positive, default=200, help="rate of the latency phase (default 200)")
    ing.add_argument("--latency-seconds", type=_seconds, default=4.0)
    ing.add_argument("--json", action="store_true")

    emu = sub.add_parser("emulate-machine", add_help=False,
                         help="run an emulated machine against a broker (see 'vend emulate-machine --help')")
    emu.add_argument("args", nargs=argparse.REMAINDER)

    live = sub.add_parser("live", help="run the live bridge with the adapters a config file names")
    live.add_argument("--config", type=Path, required=True, help="TOML file (see ops/live.example.toml)")
    live.add_argument("--shadow", action="store_true",
                      help="the shopkeeper decides; each WRITE is judged and answered by a twin of the shop, never "
                           "done (see vend shadow-report)")
    live.add_argument("--verdicts", type=Path, help="folder of vend gate's verdict files (default $VEND_GATE_VERDICTS, "
                                                    "else runs/gate/verdicts); not read with --shadow")
    live.add_argument("--no-gate-verdict", metavar="REASON", type=_reason,
                      help="start without a passing gate verdict for the policy; REASON goes into the audit log")

    status = sub.add_parser("status", help="sales, dead letters and machines from a store")
    status.add_argument("--db", required=True, help="SQLAlchemy URL of the store, e.g. sqlite:///vend-live.db")
    status.add_argument("--shop", default="main")
    status.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    shadow = sub.add_parser("shadow-report", help="what a shadow shopkeeper would have done vs what ops did, "
                                                  "per day and kind (from a vend live --shadow store)")
    shadow.add_argument("--db", required=True, help="SQLAlchemy URL of the store, e.g. sqlite:///vend-live.db")
    shadow.add_argument("--since", type=_day, default=None, help="first day, YYYY-MM-DD (default: all)")
    shadow.add_argument("--shop", default="main")
    shadow.add_argument("--tz", default="", help="the days' time zone (default: the shadow run's [bridge] tz)")
    shadow.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")

    rec = sub.add_parser("reconcile", help="compare one day of Stripe balance transactions with the ledger; "
                                           "exit 1 when they differ (API key from $STRIPE_API_KEY)")
    rec.add_argument("--date", required=True, type=_day, help="the day, YYYY-MM-DD (in --tz)")
    rec.add_argument("--db", default="", help="SQLAlchemy URL of the store (default: $VEND_DB_URL)")
    rec.add_argument("--shop", default="main")
    rec.add_argument("--tz", default="UTC", help="the shop's time zone (default UTC)")
    rec.add_argument("--stripe-api", default="", help="another address for Stripe's API (tests)")
    rec.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")
    cal = sub.add_parser("calibrate", help="a digital twin: fit the simulator to a store's history and write a "
                                           "scenario; --check: its forecast of held-out weeks against the base's")
    cal.add_argument("--db", required=True, help="SQLAlchemy URL of the store, e.g. sqlite:///vend-live.db")
    cal.add_argument("--out", type=Path, help="the scenario file to write, FILE.toml (a products CSV goes beside it)")
    cal.add_argument("--base", default="vb1", help="the base scenario: the prior, and what the data cannot say")
    cal.add_argument("--check", action="store_true", help="fit on all but the last weeks and score the forecast")
    cal.add_argument("--holdout-weeks", type=_positive, default=4, help="--check: weeks held out (default 4)")
    cal.add_argument("--runs", type=Path, default=Path("runs"), help="--check: folder for its run folder")
    cal.add_argument("--shop", default="main")
    cal.add_argument("--tz", default="", help="the shop's time zone (default: the base scenario's)")
    cal.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    _add_run_browsing(sub)
    return parser


def _add_run_browsing(sub: Any) -> None:
    """`vend runs` and `vend compare`: looking back at the runs in a folder."""
    runs = sub.add_parser("runs", help="list past runs with their key figures (scenario, policy, seed, days, score, "
                                       "units, how each ended)")
    runs.add_argument("--out", type=Path, default=Path("runs"), help="the folder of run folders (default runs/)")
    runs.add_argument("--json", action="store_true", help="print the list as one JSON object on stdout")
    cmp = sub.add_parser("compare", help="runs side by side, and their net worth, bank and units charts overlaid")
    cmp.add_argument("runs", nargs="+", help="run folders, or run names in --out")
    cmp.add_argument("--out", type=Path, default=Path("runs"), help="where run names are looked up (default runs/)")
    cmp.add_argument("--charts", type=Path, help="folder for the overlaid charts (default OUT/compare-<time>)")
    cmp.add_argument("--no-charts", action="store_true", help="the table only")
    cmp.add_argument("--json", action="store_true", help="print the comparison as one JSON object on stdout")


def _runs(args: argparse.Namespace) -> int:
    from bridge.compose.runs import format_runs, list_runs

    rows = list_runs(args.out)
    if args.json:
        print(json.dumps({"out": str(args.out), "runs": rows}))
    else:
        print(format_runs(rows))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from bridge.compose.runs import compare, default_charts_folder, format_compare, resolve_run

    runs = [resolve_run(r, args.out) for r in args.runs]
    if len(runs) < 2:
        raise ConfigError("give two runs or more to compare")
    charts_to = None if args.no_charts else (args.charts or default_charts_folder(args.out))
    result = compare(runs, charts_to=charts_to)
    print(json.dumps(result) if args.json else format_compare(result))
    return 0


def _shadow_report(args: argparse.Namespace) -> int:
    from bridge.compose.live import open_store
    from bridge.shadow_report import format_report, shadow_report

    store = open_store(args.db)
    try:
        report = shadow_report(store, shop=args.shop, since=args.since, tz=args.tz)
    finally:
        store.engine.dispose()
    if args.json:
        print(json.dumps(report))
    else:
        print("\n".join(format_report(report)))
    return 0


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulate-machine"]:  # its own parser takes every option after the name
        from bridge.compose.live import emulate_machine

        return emulate_machine(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "sim":
            return _sim(args)
        if args.command in ("serve-model", "local-model"):
            from bridge.cli_llm import run_local_model, serve_model

            return serve_model(args) if args.command == "serve-model" else run_local_model(args, _sim)
        if args.command == "hil":
            from bridge.compose.hil import run_hil

            return run_hil(args)
        if args.command == "demo":
            from bridge.compose.demo import run_demo

            return run_demo(args)
        if args.command == "bench":
            from bridge import bench

            return bench.run(args)
        if args.command == "db":
            return _db(args)
        if args.command == "live":
            from bridge.gate.live_start import check_live_start

            check_live_start(args.config, shadow=args.shadow, verdicts=args.verdicts, override=args.no_gate_verdict)
            from bridge.compose.live import run_live

            return run_live(args.config, shadow=args.shadow)
        if args.command == "status":
            return _status(args)
        if args.command == "chat":
            from bridge.compose.chat import run_chat

            return run_chat(args)
        if args.command == "arena":
            from bridge.compose.arena import run_arena_command

            return run_arena_command(args)
        if args.command == "transcript":
            from bridge.llm.transcript import format_transcript, read_transcript

            for line in format_transcript(read_transcript(args.run), width=args.width):
                print(line)
            return 0
        if args.command == "gate":
            from bridge.gate.cli import run_gate_command

            return run_gate_command(args)
        if args.command == "reconcile":
            return _reconcile(args)
        if args.command == "shadow-report":
            return _shadow_report(args)
        if args.command == "calibrate":
            from bridge.compose.calibrate import run_calibrate_command

            return run_calibrate_command(args)
        if args.command == "runs":
            return _runs(args)
        if args.command == "compare":
            return _compare(args)
    except ConfigError as err:
        print(f"vend: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vend: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `vend transcript RUN | head`: the reader has what it wanted
        _quiet_stdout()
        return 0
    except Exception as err:
        said = _outside_error(err)
        if said is None:
            raise
        print(f"vend: error: {said}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command}")
    return 2


def _outside_error(err: BaseException) -> str | None:
    """A failure of something outside the program (a file, a folder, a database) as one line; None for
    anything else (a bug keeps its traceback)."""
    orm = sys.modules.get("sqlalchemy.exc")
    if orm is not None and isinstance(err, orm.SQLAlchemyError):
        from bridge.store.probe import first_line

        return f"database: {first_line(err)}"
    if isinstance(err, OSError):
        where = f" {err.filename}" if err.filename else ""
        return f"{err.strerror or type(err).__name__}:{where}" if err.strerror else f"{err}"
    return None


def _quiet_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush cannot fail."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _db(args: argparse.Namespace) -> int:
    import os

    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from bridge.store import migrate

    url = args.db or os.environ.get("VEND_DB_URL", "")
    if not url:
        raise ConfigError("no database: give --db URL or set VEND_DB_URL")
    try:
        if args.db_command == "upgrade":
            print(f"schema at revision {migrate.upgrade(url)} (head {migrate.HEAD})")
            return 0
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                print(migrate.current_revision(conn) or "none")
        finally:
            engine.dispose()
        return 0
    except SQLAlchemyError as err:
        raise ConfigError(f"database {_masked(url)}: {str(err.orig if hasattr(err, 'orig') else err).strip()}"
                          .splitlines()[0]) from None


def _reconcile(args: argparse.Namespace) -> int:
    from bridge.compose.live import reconcile_command

    return reconcile_command(args)


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"


def _sim(args: argparse.Namespace) -> int:
    llm = None
    if args.policy == "llm":
        from bridge.llm.adapter import api_key_from_env
        from bridge.llm.settings import LlmSettings

        api_key_from_env()  # no key: one clear line before any work
        from bridge.cli_llm import llm_overrides

        llm = LlmSettings(model=args.model or LlmSettings().model, base_url=args.llm_base_url,
                          charge_output_tokens=args.llm_charge_tokens, **llm_overrides(args))

    from bridge.compose.charts import ChartWorker

    charts = None if args.no_charts else ChartWorker()  # forked first: it imports matplotlib meanwhile

    from bridge.compose.sim import build_sim, write_report
    from bridge.progress import DayProgress
    from bridge.settings import SimSettings

    settings = SimSettings(scenario=args.scenario, days=args.days, seed=args.seed, policy=args.policy,
                           db_url=args.db, out_dir=args.out, run_name=args.name,
                           guardrails_path=args.guardrails, charts=not args.no_charts, model=args.model, llm=llm)
    from bridge.cli_llm import Interrupted, stopped_summary, stopping_on_signals

    stopped: Interrupted | None = None
    try:
        progress = DayProgress(total=None)
        sim = build_sim(settings, on_day=progress.update)
        progress.total = sim.scenario.days
        try:
            with stopping_on_signals():
                sim.run()
        except Interrupted as stop:  # SIGTERM or SIGINT: the summary of what ran, marked as stopped
            stopped = stop
        progress.close()
        summary = sim.summary() if stopped is None else stopped_summary(sim, stopped)
        write_report(sim, summary, charts=charts if stopped is None else None)
    finally:
        if charts is not None:
            charts.close()
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print(format_summary(summary))
    if stopped is not None:
        return 128 + stopped.signum
    if summary["ended_by"] == "api_errors":  # a run that could not go on is a failed command
        print(f"vend: error: the run stopped on day {summary['days_run']}: {summary.get('stop_reason', '')}",
              file=sys.stderr)
        return 1
    return 0


def _status(args: argparse.Namespace) -> int:
    from bridge.compose.live import live_status

    report = live_status(args.db, shop=args.shop)
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"units sold {report['units_sold']:,}   revenue ${report['revenue_cents'] / 100:,.2f}   "
          f"dead letters {report['dead_letters']:,}")
    for m in report["machines"]:
        slots = "  ".join(f"{s['slot']} {s['count']}@{s['price_cents']}" for s in m["slots"]) or "no snapshot yet"
        print(f"{m['id']:<12} {'online ' if m['online'] else 'offline'}  {slots}")
    return 0


def format_summary(s: dict[str, Any]) -> str:
    from bridge.cli_llm import llm_rows
    from bridge.compose.runs import outcome_of

    def money(c: int) -> str:
        return f"${c / 100:,.2f}"

    rows = [
        ("outcome", outcome_of(s)),
        ("scenario / policy / seed", f"{s['scenario']} / {s['policy']} / {s['seed']}"),
        ("days run", f"{s['days_run']} ({s['ended_by']})"),
        ("net worth", money(s["net_worth_cents"])),
        ("bank", money(s["bank_cents"])),
        ("cash in machine", money(s["machine_cash_cents"])),
        ("card, unsettled", money(s["card_pending_cents"])),
        ("inventory at cost", money(s["inventory_value_cents"])),
        ("units sold", f"{s['units_sold']:,}"),
        ("days until sales stop", str(s["days_until_sales_stop"])),
        ("bankrupt", "yes" if s["bankrupt"] else "no"),
        ("tool calls (errors)", f"{s['tool_calls']:,} ({s['tool_errors']})"),
        ("guardrail refusals", ", ".join(f"{k} {v}" for k, v in s["guardrail_refusals"].items()) or "none"),
        *llm_rows(s),
        ("report", s["run_dir"]),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


if __name__ == "__main__":
    raise SystemExit(main())
