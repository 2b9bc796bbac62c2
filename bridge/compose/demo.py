"""`vend demo`: the live shop on a laptop in one command.

`vend hil`'s composition (bridge/compose/hil.py: a local mosquitto with the project's config and ACLs,
the emulated machine, `vend live`'s shop with its real HTTP endpoints, the loopback Slack and Stripe
doubles, the simulated ops team and customers), paced to the wall clock: the virtual clock never runs
ahead of the wall time since the start times `speed`. What happens is printed as it happens, one line
each, with the simulated time: the shop's own events (sales, customers' messages, payments, orders,
deliveries, restocks, alarms), what it posts in Slack (tasks for ops and how they were answered, its
replies to customers) and each day's close with the books.

The first Ctrl-C (or SIGTERM) ends the run at the next quiet point (the world plays no further, the job
under way finishes; `ended_by` "interrupted"), the second aborts at once; either way every process,
thread, server and port the demo opened is closed, and checked to be, before it says so.

    vend demo                       # project_vend, baseline, a simulated day in 10 s, until Ctrl-C
    vend demo --duration 60         # stop after a minute of wall time
"""

from __future__ import annotations

import html
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from bridge.errors import AdapterError

SPEED = 8640.0  # simulated seconds a wall second: a simulated day in 10 s (the first sales come on day 4)
SPEED_MIN, SPEED_MAX = 1.0, 86_400.0  # real time .. a simulated day a second (faster: vend hil)
SLICE_S = 0.1  # the longest the pacer waits without looking at the stop flag
FLUSH_S = 0.25  # the longest lines wait to be shown while the world catches up with the wall clock
STOP_DEADLINE_S = 10.0  # for the children to exit and the ports to close after the stop


def parse_speed(text: str) -> float:
    import argparse

    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not SPEED_MIN <= x <= SPEED_MAX:
        raise argparse.ArgumentTypeError(f"{text}: give {SPEED_MIN:g} (real time) to {SPEED_MAX:,.0f} (a simulated "
                                         "day a second) simulated seconds a second")
    return x


def _money(cents: int) -> str:
    return f"-${-cents / 100:,.2f}" if cents < 0 else f"${cents / 100:,.2f}"


def _clip(text: str, width: int = 72) -> str:
    text = " ".join(html.unescape(text).replace("*", "").replace("`", "").split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _answer(text: str) -> str:
    """A post to ops as it reads once answered: "Restock m1 (slack-task-00025): done" (the shop edits the post,
    ending it with the outcome), or the whole text when it is not of that form."""
    ident = re.search(r"\(([^,();]+)", text)
    status = text.rsplit(": ", 1)[1] if ": " in text else ""
    if ident is None or not status or len(status) > 60:
        return _clip(text, 90)
    return f"{text.split(' (', 1)[0]} ({ident[1]}): {_clip(status, 60)}"


# --- the feed -----------------------------------------------------------------------------------------


class Feed:
    """One line per happening, from the shop's events (`event`), its day closes (`day`) and its Slack posts
    (`poll`: the ops channel and the customers' DMs of the loopback workspace)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tz: Any = None
        self.slack: Any = None
        self.ops_channel = ""
        self.ops_user = ""
        self.gone = False  # the reader closed the output
        self.error = ""  # the feed's own failure (the books are not affected)
        self.now: Any = None  # the simulated time (for edits of posts, which carry no time of their own)
        self.day: Any = None
        self.seen: dict[str, str] = {}  # ops post ts -> its text as last shown
        self.delivery: tuple[str, datetime, list[str]] | None = None  # an order's deliveries, to show as one line
        self.pending: list[tuple[datetime, int, str, str]] = []  # lines not shown yet: (time, order, kind, text)
        self.flushed = 0.0  # when lines were last shown (monotonic)
        self.replied: set[str] = set()  # DM post ts shown
        self.counts = {"sales": 0, "revenue_cents": 0, "customer messages": 0, "replies": 0, "tasks": 0,
                       "answered": 0, "closes": 0}

    def guarded(self, show: Callable[[Any], None]) -> Callable[[Any], None]:
        """`show`, never raising: it runs inside the shop's booking of an event (a failure there would
        dead-letter the event). A reader gone (`vend demo | head`) sets `gone`, any other failure `error`;
        the pacer then ends the run, and the books are untouched."""

        def call(x: Any) -> None:
            if self.gone or self.error:
                return
            try:
                show(x)
            except BrokenPipeError:
                self.gone = True
            except Exception as err:
                self.error = f"{type(err).__name__}: {err}"

        return call

    def attach(self, run: Any) -> None:
        from bridge.compose.outside.ops import OPS_CH, OPS_USER

        self.ops_user = OPS_USER
        self.tz = run.scenario.tz
        self.slack = run.outside.ops.slack
        self.ops_channel = OPS_CH
        self.now = lambda: run.world.now

    def line(self, at: datetime, kind: str, text: str) -> None:
        """A line to show; shown by `flush`, with the others since the last, in the order of their times."""
        if self.delivery is not None and kind != "deliv":  # what came before this line
            self._delivered()
        self.pending.append((at, len(self.pending), kind, text))

    def _print(self, at: datetime, kind: str, text: str) -> None:
        local = at.astimezone(self.tz) if self.tz is not None else at
        if local.date() != self.day:
            self.day = local.date()
            print(f"── {local:%A %Y-%m-%d} ──", file=self.out)
        print(f"{local:%H:%M} {kind:<6} {text}", file=self.out)

    def event(self, e: Any) -> None:
        from bridge import events as ev

        self.poll()  # what the shop posted before it
        if isinstance(e, ev.Sale):
            self.counts["sales"] += e.units
            self.counts["revenue_cents"] += e.units * e.unit_price_cents
            units = f"{e.units} x " if e.units != 1 else ""
            self.line(e.ts, "sale", f"{e.machine} {e.slot} {units}{e.sku} {_money(e.unit_price_cents)} "
                                    f"{e.payment.value}")
        elif isinstance(e, ev.MessageReceived):
            if e.role == "customer":
                self.counts["customer messages"] += 1
            self.line(e.ts, "msg", f"{e.role} {e.sender} \"{_clip(e.text)}\"")
        elif isinstance(e, ev.PaymentReceived):
            self.line(e.ts, "paid", f"{e.customer or 'a customer'} paid {_money(e.amount_cents)} by card "
                                    f"({e.order_ref or e.payment_ref})")
        elif isinstance(e, ev.SupplierPaid):
            self.line(e.ts, "order", f"{e.order_id} from {e.supplier}: {_money(e.amount_cents)} paid by ops")
        elif isinstance(e, ev.DeliveryReceived):  # an order's products: one line
            if self.delivery is not None and self.delivery[0] != e.order_id:
                self._delivered()
            if self.delivery is None:
                self.delivery = (e.order_id, e.ts, [])
            self.delivery[2].append(f"{e.quantity} x {e.sku}")
        elif isinstance(e, ev.Restocked):
            self.line(e.ts, "stock", f"{e.machine} {e.slot} +{e.count} {e.sku} (ops)")
        elif isinstance(e, ev.CashCollected):
            self.line(e.ts, "cash", f"{_money(e.amount_cents)} collected from {e.machine} (ops)")
        elif isinstance(e, ev.HandedOver):
            self.line(e.ts, "hand", f"{e.quantity} x {e.sku} handed to {e.customer} (ops)")
        elif isinstance(e, ev.CardSettled):
            self.line(e.ts, "payout", f"{_money(e.amount_cents)} card takings paid out to the bank" if e.amount_cents >= 0
                      else f"{_money(-e.amount_cents)} taken from the bank by the card processor (a refund)")
        elif isinstance(e, ev.RefundIssued):
            self.line(e.ts, "refund", f"{_money(e.amount_cents)} to {e.customer or 'the card'} ({e.payment_ref})")
        elif isinstance(e, ev.Alarm):
            self.line(e.ts, "alarm", f"{e.source} {e.code}: {_clip(e.detail)}")
        elif isinstance(e, ev.CapitalIn):
            self.line(e.ts, "bank", f"{_money(e.amount_cents)} deposited by the owner")
        elif isinstance(e, ev.ApprovalDecided):
            self.line(e.ts, "appr", f"{e.approval_id} {'approved' if e.approved else 'refused'}")

    def _delivered(self) -> None:
        assert self.delivery is not None
        order, at, items = self.delivery
        self.delivery = None
        self.line(at, "deliv", f"{order} delivered: {_clip(', '.join(items), 80)}")

    def day_closed(self, record: Any) -> None:
        self.poll()
        self.counts["closes"] += 1
        self.line(record.ts, "close", f"{record.day} units {record.units_sold} revenue {_money(record.revenue_cents)} "
                                      f"bank {_money(record.bank_cents)} net worth {_money(record.net_worth_cents)}")
        self.flush()

    def poll(self) -> None:
        """The shop's new posts: tasks and requests in the ops channel (and each change to one: answered,
        done, refused), its replies in customers' DMs."""
        slack = self.slack
        if slack is None:
            return
        bot = slack.bot_user_id
        with slack.lock:
            ops = [(ts, m.get("text", "")) for ts, m in slack.messages.get(self.ops_channel, {}).items()
                   if m.get("user") == bot and self.seen.get(ts) != m.get("text", "")]
            dms = sorted((ts, user, m.get("text", "")) for user, c in slack.dm_channels.items()
                         for ts, m in slack.messages.get(c, {}).items() if m.get("user") == bot and ts not in self.replied)
        for ts, text in ops:
            at = datetime.fromtimestamp(float(ts), self.tz)
            if ts not in self.seen:
                self.counts["tasks"] += 1
                self.line(at, "task", _clip(text, 90))
            else:
                self.counts["answered"] += 1
                self.line(self.now(), "ops", _answer(text.replace(self.ops_user, "ops")))
            self.seen[ts] = text
        for ts, user, text in dms:
            self.replied.add(ts)
            self.counts["replies"] += 1
            self.line(datetime.fromtimestamp(float(ts), self.tz), "shop", f"→ {user} \"{_clip(text)}\"")

    def flush(self, _: Any = None) -> None:
        if self.delivery is not None:
            self._delivered()
        # by the minute shown, then as they came (a post's time has seconds, the event it led to may not)
        lines, self.pending = sorted(self.pending, key=lambda p: (p[0].replace(second=0, microsecond=0), p[1])), []
        for at, _, kind, text in lines:
            self._print(at, kind, text)
        self.out.flush()
        self.flushed = time.monotonic()

    def catch_up(self, _: Any = None) -> None:
        self.poll()
        self.flush()

    def totals(self) -> str:
        self.flush()
        c = self.counts
        return (f"{c['sales']} units sold ({_money(c['revenue_cents'])}), {c['customer messages']} customer messages, "
                f"{c['replies']} replies, {c['tasks']} posts to ops ({c['answered']} answered), {c['closes']} day closes")


# --- pacing and stopping --------------------------------------------------------------------------------


class Demo:
    """The pacer (`pace`, HilSettings.pace: the world moves to `when` once the wall clock allows it) and the
    stop: `stop` is set by a signal or when `duration` wall seconds have passed."""

    def __init__(self, *, speed: float, duration: float | None, feed: Feed, err: TextIO = sys.stderr) -> None:
        self.speed = speed
        self.duration = duration
        self.feed = feed
        self.err = err
        self.stop = threading.Event()
        self.why = ""
        self.signals = 0
        self.signal = ""  # the signal that stopped the run ("Ctrl-C", "SIGTERM")
        self.closing = False
        self.run: Any = None
        self.waiting = False  # the runtime waits for its next job: the shop takes in what arrives, as live does
        self.wall0 = 0.0
        self.sim0: datetime | None = None
        self.told = False

    def attach(self, run: Any) -> None:
        """Start the clock; while the runtime waits for its next job, what reaches the shop is booked (and
        shown) as it comes, as `vend live`'s core thread does, not at the next job."""
        self.run = run
        self.feed.attach(run)
        pump = run.live.runtime.backend.events  # the LivePump
        wait = pump.wait_until

        def wait_until(when: datetime) -> list[Any]:
            self.waiting = True
            try:
                result: list[Any] = wait(when)
                return result
            finally:
                self.waiting = False

        pump.wait_until = wait_until
        self.sim0 = run.world.now
        self.wall0 = time.monotonic()

    def on_signal(self, signum: int, _frame: Any) -> None:
        self.signals += 1
        if self.closing:
            return  # closing what was started: let it finish
        if self.signals == 1:
            self.why = self.why or "interrupted"
            self.signal = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
            self.stop.set()
            return
        raise KeyboardInterrupt  # the second: abort at once (what was started is still closed)

    def pace(self, when: datetime) -> bool:
        if self.run is None or self.sim0 is None:
            return not self.stop.is_set()
        took_in = False
        while True:
            elapsed = time.monotonic() - self.wall0
            if self.duration is not None and elapsed >= self.duration and not self.stop.is_set():
                self.why = self.why or "duration"
                self.stop.set()
            if (self.feed.gone or self.feed.error) and not self.stop.is_set():
                self.why = self.why or ("output_closed" if self.feed.gone else "feed_failed")
                self.stop.set()
            if self.stop.is_set():
                return self._end()
            allowed = self.sim0 + timedelta(seconds=elapsed * self.speed)
            if when <= allowed:
                if time.monotonic() - self.feed.flushed > FLUSH_S:  # behind the wall clock: show lines anyway
                    self.feed.guarded(self.feed.flush)(None)
                return True
            if not took_in:  # ahead of the wall clock: book and show what came, then wait
                took_in = True
                if self.waiting:
                    self.run.live.loop.pump()
                self.feed.guarded(self.feed.catch_up)(None)
            self.stop.wait(min(SLICE_S, (when - allowed).total_seconds() / self.speed))

    def _end(self) -> bool:
        outcome = self.run.live.runtime.outcome
        if not outcome.ended_by:
            outcome.ended_by = self.why or "interrupted"
        if not self.told and self.why in ("interrupted", "duration"):
            self.told = True
            what = self.signal if self.signal else f"{self.duration:g} s passed"
            print(f"vend demo: {what}: stopping at the next quiet point"
                  f"{' (again to abort)' if self.signal else ''}", file=self.err, flush=True)
        return False


# --- what was started, and that it is gone -------------------------------------------------------------


def children(pid: int | None = None) -> dict[int, str]:
    """Processes descended from `pid` (default this one), pid -> command name, from /proc (zombies left out:
    they have exited, only their parent has not read the status yet)."""
    root = os.getpid() if pid is None else pid
    table: dict[int, tuple[int, str, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        table[int(entry)] = (int(fields[1]), fields[0], name)
    found: dict[int, str] = {}
    parents = {root}
    while parents:
        kids = {p for p, (ppid, state, _) in table.items() if ppid in parents and state != "Z" and p not in found}
        found.update({p: table[p][2] for p in kids})
        parents = kids
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def ports_of(run: Any) -> dict[str, tuple[str, int]]:
    """What the run listens on: the broker, the shop's HTTP server, the Slack and Stripe doubles."""
    live, ops = run.live, run.outside.ops
    found = {"broker": (live.config.mqtt.host, live.config.mqtt.port)}
    for name, url in (("shop", ops.door.url), ("slack", ops.slack.api_url), ("stripe", run.outside.cards.stripe.url)):
        u = urlsplit(url)
        found[name] = (u.hostname or "127.0.0.1", int(u.port or 80))
    return found


def left_running(pids: dict[int, str], ports: dict[str, tuple[str, int]], *, deadline_s: float) -> list[str]:
    """What is still there (processes, ports, threads) once `deadline_s` has passed; [] when nothing is."""
    deadline = time.monotonic() + deadline_s
    while True:
        left = [f"{name} (pid {pid})" for pid, name in pids.items() if alive(pid)]
        left += [f"{pid} {name}" for pid, name in children().items() if pid not in pids]
        left += [f"port {port} ({what})" for what, (host, port) in ports.items() if listening(host, port)]
        left += [f"thread {t.name}" for t in threading.enumerate() if t is not threading.main_thread()]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


# --- the command -------------------------------------------------------------------------------------


def run_demo(args: Any) -> int:
    import logging

    from bridge.cli import format_summary
    from bridge.compose.hil import HilSettings, write_hil_report
    from bridge.compose.html_report import write_html_report
    from bridge.compose.runs import outcome_of
    from bridge.compose.sim import _refusals

    logging.getLogger("vendbridge").setLevel(logging.ERROR)
    out = sys.stdout
    feed = Feed(out)
    demo = Demo(speed=args.speed, duration=args.duration, feed=feed)
    label = args.policy.replace("/", "_").replace(":", "-")
    name = args.name or f"{Path(args.scenario).stem}-{label}-s{args.seed}-demo-{datetime.now().astimezone():%Y%m%d-%H%M%S}"
    settings = HilSettings(scenario=args.scenario, days=args.days, seed=args.seed, policy=args.policy, out_dir=args.out,
                           run_name=name, charts=not args.no_charts, pace=demo.pace,
                           on_event=feed.guarded(feed.event), on_day=feed.guarded(feed.day_closed))
    previous = {s: signal.signal(s, demo.on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    run = None
    pids: dict[int, str] = {}
    ports: dict[str, tuple[str, int]] = {}
    failure = ""
    aborted = False
    summary: dict[str, Any] | None = None
    refusals: list[dict[str, Any]] = []
    try:
        try:
            run = _build(settings)
            pids, ports = children(), ports_of(run)
            feed.guarded(lambda _: _header(run, args, pids, ports, out))(None)
            demo.attach(run)
            run.run()
            summary = run.summary()
            refusals = _refusals(run.live.store)
        except AdapterError as err:  # the loop itself failed (broker, doubles): one line, exit 1
            failure = str(err)
        except KeyboardInterrupt:
            aborted = True
        finally:
            demo.closing = True  # a signal from now on waits for the closing
            if run is not None:
                run.close()
        if summary is not None and run is not None:
            summary |= {"mode": "demo", "speed": args.speed, "wall_seconds": round(time.monotonic() - demo.wall0, 3)}
            charts = write_hil_report(run, summary)
            write_html_report(run.run_dir, summary=summary, outcome=outcome_of(summary), charts=charts,
                              settings={"scenario": args.scenario, "days": run.scenario.days, "seed": args.seed,
                                        "policy": args.policy, "speed": f"{args.speed:g} simulated s a wall s",
                                        "duration": f"{args.duration:g} s" if args.duration else "until stopped"},
                              scenario=run.scenario.model_dump(mode="json"), refusals=refusals)
            feed.guarded(lambda _: _books(feed, run, summary, format_summary(summary)))(None)
        left = left_running(pids, ports, deadline_s=STOP_DEADLINE_S) if run is not None else []
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if left:
        print(f"vend: error: still running after the stop: {', '.join(left)}", file=sys.stderr)
        return 1
    if failure:
        print(f"vend: error: {failure} (stopped; nothing left running)", file=sys.stderr)
        return 1
    if feed.error:
        print(f"vend: error: the feed failed ({feed.error}); the run folder is written (stopped; nothing left "
              "running)", file=sys.stderr)
        return 1
    gone = ", ".join([f"{n} pid {p}" for p, n in pids.items()] + [f"port {p}" for _, p in ports.values()])
    last = f"aborted; nothing left running ({gone} gone)" if aborted else \
        f"stopped; nothing left running ({gone} gone; no threads)"
    feed.guarded(lambda _: print(last, file=out, flush=True))(None)
    if feed.gone:  # `vend demo | head`: the reader has what it wanted
        from bridge.cli import _quiet_stdout

        _quiet_stdout()
    return 130 if aborted else 0


def _books(feed: Feed, run: Any, summary: dict[str, Any], table: str) -> None:
    feed.poll()
    print(f"\nseen: {feed.totals()}", file=feed.out)
    print(f"the books at {run.world.now.astimezone(run.scenario.tz):%Y-%m-%d %H:%M} (simulated), after "
          f"{summary['wall_seconds']:.0f} s:", file=feed.out)
    print(table, file=feed.out, flush=True)


def _build(settings: Any) -> Any:
    """build_hil with SIGINT blocked: the broker and the threads started here inherit the mask, so a Ctrl-C at
    the terminal (sent to the whole process group) reaches only this process, which stops them in order (a
    broker gone before the shop has what the devices sent would make the stop a failure). A Ctrl-C meanwhile
    is taken when the shop is up."""
    from bridge.compose.hil import build_hil

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return build_hil(settings)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3g} s"
    return f"{seconds / 60:.3g} min" if seconds < 7200 else f"{seconds / 3600:.3g} h"


def _header(run: Any, args: Any, pids: dict[int, str], ports: dict[str, tuple[str, int]], out: TextIO) -> None:
    pace = "real time" if args.speed == 1 else f"{args.speed:,.0f}x real time: a simulated day in " \
        f"{_span(86_400 / args.speed)}"
    broker = next((f"mosquitto pid {p}" for p, n in pids.items() if n == "mosquitto"), "mosquitto")
    h, p = ports["broker"]
    print(f"vend demo: {run.scenario.name} / {args.policy} / seed {args.seed}, {pace}"
          f"{f', for {args.duration:g} s' if args.duration else ''}; Ctrl-C stops", file=out)
    print(f"  broker  {broker} on {h}:{p} (ops/mosquitto config and ACLs), machine {run.scenario.machine.id} emulated",
          file=out)
    print(f"  shop    http://{ports['shop'][0]}:{ports['shop'][1]} (vend live's composition, policy {args.policy})",
          file=out)
    print(f"  slack   loopback double on port {ports['slack'][1]}, ops team simulated; stripe double on port "
          f"{ports['stripe'][1]}", file=out)
    print(f"  run     {run.run_dir}", file=out, flush=True)
