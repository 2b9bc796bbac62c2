"""`vend hil --faults`: the shop in its own OS process (bridge/compose/hil_shop.py), SIGKILLed on the
seeded schedule and started again on the same config and store.

The parent keeps the outside (broker, emulated device, Slack and Stripe doubles, ops, payouts, world)
and answers the child's clock: each {"op": "advance"} is the world played to that time
(bridge/compose/outside/world.py), with the child's counts and quiet asked over the channel. A kill
(`ShopProcess.kill_and_restart`) comes only while the child's runtime waits between two jobs (it saved
its memory and committed its books first, bridge/resume.py), at a point where something is in flight:
device messages published and not yet taken in, a Slack request or a Stripe webhook the shop is
answering. What the dead shop did not acknowledge comes again: the broker redelivers its persistent
session's messages, ops retry a Slack request that got no answer, Stripe retries an unanswered webhook.
The new child starts at the world's time, from the store; once it is connected, a report from the
device marks the end of what the broker redelivered (as after a broker restart).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bridge.compose.hil import HilRun
from bridge.compose.hil_shop import Channel, pack
from bridge.errors import AdapterError, ConfigError
from bridge.resume import outcome_from_json

READY_S = 60.0
QUIET_S = 30.0
KILL_GAP = timedelta(hours=12)  # at most one kill in this much simulated time


class ShopProcess:
    """The child running the shop; requests over the channel; SIGKILL and a new child. A standby process
    (Python started and the shop's modules imported, nothing built, no state) waits for the next start,
    so a restart costs the shop's own start (the store opened, the broker connected), not the
    interpreter's."""

    def __init__(self, *, spec: dict[str, Any], work: Path) -> None:
        self.spec = spec
        self.work = work
        self.proc: subprocess.Popen[bytes] | None = None
        self.chan: Channel | None = None
        self.sock: socket.socket | None = None
        self.log = work / "shop-1.log"
        self.standby: tuple[subprocess.Popen[bytes], socket.socket, Path] | None = None
        self.spawned = 0
        self.pids: list[int] = []  # every process started (shops and standbys), for the run's end
        self.generation = 0  # shops started
        self.between = True  # the child's runtime waits between two jobs (or has not been told to run)
        self.http_port = 0
        self.restored = False

    # --- the process ---------------------------------------------------------------------------
    def _spawn(self) -> tuple[subprocess.Popen[bytes], socket.socket, Path]:
        self.spawned += 1
        parent, child = socket.socketpair()
        log_path = self.work / f"shop-{self.spawned}.log"
        log = log_path.open("wb")
        try:
            proc = subprocess.Popen([sys.executable, "-m", "bridge.compose.hil_shop", str(child.fileno()), str(self.work)],
                                    pass_fds=(child.fileno(),), stdout=log, stderr=log, close_fds=True)
        finally:
            child.close()
            log.close()
        self.pids.append(proc.pid)
        parent.settimeout(1.0)
        return proc, parent, log_path

    def start(self, at: datetime) -> None:
        """A shop at `at` (the world's time) from the config and the store: the standby gets its spec."""
        self.generation += 1
        proc, sock, log = self.standby if self.standby is not None else self._spawn()
        self.standby = None
        self.proc, self.sock, self.chan, self.log = proc, sock, Channel(sock), log
        spec = {**self.spec, "start": at.isoformat()}
        (self.work / f"shop-{self.generation}.json").write_text(json.dumps(spec))
        self.between = True
        self.send({"op": "spec", "spec": spec})
        ready = self.recv(deadline=READY_S)
        if ready.get("op") != "ready":
            raise AdapterError(f"the shop process said {ready!r} instead of ready")
        self.http_port, self.restored = int(ready["http_port"]), bool(ready["restored"])
        self.standby = self._spawn()  # for the next start

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL (no chance to save or say anything), and reap it."""
        if self.proc is not None:
            if self.proc.poll() is None:
                os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.sock is not None:
            self.sock.close()
        self.proc = self.chan = self.sock = None

    def close(self) -> None:
        """The child told to exit, else killed, and the standby ended; neither is left behind."""
        if self.proc is not None and self.proc.poll() is None and self.chan is not None:
            try:
                self.chan.send({"op": "exit"})
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()
        if self.standby is not None:
            proc, sock, _ = self.standby
            self.standby = None
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            sock.close()

    # --- the channel ----------------------------------------------------------------------------
    def send(self, msg: dict[str, Any]) -> None:
        assert self.chan is not None
        self.chan.send(msg)

    def recv(self, *, deadline: float | None = None) -> dict[str, Any]:
        """The child's next message; a child that died is an AdapterError with the end of its log."""
        assert self.chan is not None and self.proc is not None
        end = time.monotonic() + deadline if deadline is not None else None
        while True:
            try:
                return self.chan.recv()
            except TimeoutError:
                pass
            except (EOFError, OSError):
                self.proc.wait(timeout=10)
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace").strip()
                raise AdapterError(f"the shop process exited ({self.proc.returncode}): "
                                   f"{tail.splitlines()[-1] if tail else 'no output'}")
            if end is not None and time.monotonic() > end:
                raise AdapterError("the shop process did not answer in time")

    def request(self, op: str, **args: Any) -> dict[str, Any]:
        self.send({"op": op, **args})
        return self.recv(deadline=QUIET_S)

    def counts(self) -> dict[str, int]:
        return self.request("counts")

    def received(self) -> int:
        return int(self.counts()["events"])

    def received_reports(self) -> int:
        return int(self.counts()["inventory"])

    def quiet(self) -> None:
        self.request("quiet")


class ChildClock:
    """The outside's clock (the doubles' and the devices'), and the shop's moved with it."""

    def __init__(self, clock: Any, shop: ShopProcess) -> None:
        self.clock = clock
        self.shop = shop

    def now(self) -> datetime:
        now: datetime = self.clock.now()
        return now

    def set(self, when: datetime) -> None:
        before = self.clock.now()
        self.clock.set(when)
        if self.clock.now() != before:
            self.shop.request("clock", to=self.clock.now().isoformat())


class ShopKiller:
    """The seeded shop kills: `chance(where)` says whether to kill now (only while the child waits
    between jobs, at most one in KILL_GAP of simulated time); `kill_and_restart()` kills it and has a new
    one taking in what is owed; `during(send)` kills it while `send` (a request to it) is under way."""

    def __init__(self, *, shop: ShopProcess, faults: Any, clock: Any, device: Any, opening: list[Any],
                 on_restart: Callable[[int], None]) -> None:
        self.shop = shop
        self.faults = faults
        self.clock = clock
        self.device = device
        self.opening = opening
        self.on_restart = on_restart  # the new shop's HTTP port to the door, the payouts, the card desk
        self.outside: Any = None
        self.last: datetime | None = None
        self.kills: list[dict[str, Any]] = []  # each kill: when (the world's time), where, what was in flight

    def chance(self, where: str) -> bool:
        now = self.clock.now()
        if not self.shop.between or (self.last is not None and now - self.last < KILL_GAP):
            return False
        if not self.faults.roll_kill(where):
            return False
        self.last = now
        return True

    def kill_and_restart(self) -> None:
        """Kill it with device messages in flight (published, not all taken in by the shop)."""
        outside = self.outside
        owed = outside.base + outside.published - self.shop.received() if outside is not None else 0
        self.shop.kill()
        self.kills.append({"at": self.clock.now().isoformat(), "where": "mqtt", "in_flight": owed})
        self.restart()

    def during(self, send: Callable[[], Any], where: str) -> Any:
        """Kill the shop while `send` is under way; what `send` got (an answer, or the error)."""
        got: list[Any] = []
        started = threading.Event()

        def go() -> None:
            started.set()
            try:
                got.append(send())
            except Exception as err:
                got.append(err)

        t = threading.Thread(target=go, name="hil-in-flight", daemon=True)
        t.start()
        started.wait()
        time.sleep(self.faults.kill_delay())  # a seeded moment of the request's way (0-3 ms)
        self.shop.kill()
        t.join(timeout=60)
        out = got[0] if got else AdapterError("the request did not end")
        self.kills.append({"at": self.clock.now().isoformat(), "where": where,
                           "in_flight": "no answer" if isinstance(out, Exception) else "answered"})
        self.restart()
        return out

    def restart(self) -> None:
        """A new shop at the world's time, from the store; the opening events handed over again (booked
        once); the device's report marks the end of what the broker redelivered."""
        shop, outside = self.shop, self.outside
        shop.start(self.clock.now())
        self.on_restart(shop.http_port)
        start(shop, self.device, self.opening)
        if outside is not None:
            counts = shop.counts()
            outside.base = counts["events"] - outside.published
            outside.reports_base = counts["inventory"] - outside.reports


def start(shop: ShopProcess, device: Any, opening: list[Any]) -> None:
    """The shop has the opening events and the machine's first report in hand (wait_started's child
    version): ready means connected and subscribed."""
    if opening:
        shop.request("put", events=pack(opening))
    before = shop.counts()
    device.publish_inventory()
    deadline = time.monotonic() + QUIET_S
    while True:
        counts = shop.counts()
        if counts["inventory"] > before["inventory"] and counts["status"] >= 1:
            break
        if time.monotonic() > deadline:
            raise AdapterError(f"the emulated machine {device.machine_id} did not report to the new shop")
        time.sleep(0.002)
    shop.quiet()


@dataclass(slots=True)
class ChildHilRun(HilRun):
    """HilRun with the shop in a child process: `run()` answers the child's clock until it is done."""

    shop: Any = None
    killer: Any = None
    done: dict[str, Any] | None = None

    def run(self) -> Any:
        t0 = time.perf_counter()
        shop, outside = self.shop, self.outside
        shop.send({"op": "run"})
        while True:
            msg = shop.recv()
            if msg["op"] == "done":
                self.done = msg["summary"]
                break
            if msg["op"] != "advance":
                raise AdapterError(f"the shop process said {msg!r}")
            generation = shop.generation
            shop.between = bool(msg["between"])
            try:
                outside.advance_to(datetime.fromisoformat(msg["to"]))
            except Exception:
                shop.kill()
                raise AdapterError(f"the simulated outside failed: {outside.failure!r}") from None
            if shop.generation != generation:  # killed and started again: the new one runs from its store
                shop.send({"op": "run"})
            else:
                shop.send({"op": "advanced"})
            shop.between = False
        shop.close()
        self.outcome = outcome_from_json(self.done["outcome"])
        self.events = read_events(self.run_dir / "hil" / "shop-events.jsonl")
        self.run_seconds = time.perf_counter() - t0
        return self.outcome

    def summary(self) -> dict[str, Any]:
        from sim_backend.scoring import days_until_sales_stop

        assert self.outcome is not None and self.done is not None, "run() first"
        out, d, fields = self.outcome, self.done, self.done["balance"]
        score = fields["bank_cents"] if self.scenario.score == "bank" else fields["net_worth_cents"]
        faults = dict(self.outside.faults.done) if self.outside.faults is not None else None
        return {
            "scenario": self.scenario.name, "policy": self.settings.policy, "seed": self.settings.seed,
            "mode": self.settings.mode,
            "score": self.scenario.score, "score_cents": score,
            "net_worth_cents": fields["net_worth_cents"], "bank_cents": fields["bank_cents"],
            "card_pending_cents": fields["card_pending_cents"], "machine_cash_cents": fields["machine_cash_cents"],
            "inventory_value_cents": d["inventory_value_cents"], "units_sold": d["units_sold"],
            "days_run": out.days_run, "days_until_sales_stop": days_until_sales_stop(out.days),
            "bankrupt": out.bankrupt, "ended_by": out.ended_by, "messages": out.messages,
            "tool_calls": d["tool_calls"], "tool_errors": d["tool_errors"],
            "guardrail_refusals": d["guardrail_refusals"], "crashes": out.crashes,
            "world_state_hash": self.world.state_hash(), "world_bank_cents": self.world.bank,
            "world_steps": self.outside.steps, "device_messages": self.outside.published,
            "slack_requests": self.outside.ops.door.requests, "unplayed": dict(self.outside.unplayed),
            "ops_unanswered": self.outside.ops.unanswered[:20], "faults": faults,
            "shop_duplicates": d["shop_duplicates"], "shop_processes": self.shop.generation,
            "shop_kills": self.killer.kills,
            "shadow_writes": self._shadow_writes() if self.settings.shadow else None,
            "run_seconds": round(self.run_seconds, 3), "run_dir": str(self.run_dir),
        }

    def _shadow_writes(self) -> int:
        from sqlalchemy import create_engine, text

        engine = create_engine(f"sqlite:///{self.run_dir / 'vend.db'}")
        try:
            with engine.connect() as c:
                return int(c.execute(text("SELECT COUNT(*) FROM audit_log WHERE shop = :s AND verdict = 'shadow'"),
                                     {"s": self.world.shop}).scalar() or 0)
        finally:
            engine.dispose()

    def slots(self) -> dict[str, tuple[str, int, int]]:
        """The shop's view of the machine at the end: slot -> (sku, count, price)."""
        assert self.done is not None
        return {slot: (sku, count, price) for slot, sku, count, price in self.done["slots"]}


class LoggedEvent:
    """An event as the shop's process logged it (its JSON), for the run folder's events log."""

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", ""))

    def to_json(self) -> dict[str, Any]:
        return self.data


def read_events(path: Path) -> list[Any]:
    if not path.exists():
        return []
    return [LoggedEvent(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def wire_child(settings: Any, *, scenario: Any, world: Any, run_dir: Path, name: str, config: Any, clock: Any,
               broker: Any, slack: Any, stripe: Any, faults: Any, env: dict[str, str], stack: Any, host: str,
               port: int, work: Path) -> ChildHilRun:
    """`_wire` of bridge/compose/hil.py from the live config on: the shop as a child process."""
    from bridge.compose.outside.cards import CardDesk
    from bridge.compose.outside.links import Payouts, start_device
    from bridge.compose.outside.ops import OpsTeam, SlackDoor
    from bridge.compose.outside.world import Outside
    from hardware_adapters.doubles.slack_inbound import SlackInbound

    if settings.pace is not None or settings.on_event is not None or settings.on_day is not None:
        raise ConfigError("--faults runs the shop in a process of its own: not with vend demo's pacing and feed")
    machine = scenario.machine.id
    (work / "shop-events.jsonl").unlink(missing_ok=True)
    spec = {"config": config.model_dump_json(), "run_id": name, "events": str(work / "shop-events.jsonl"),
            "limits": {"days": scenario.days, "max_messages": scenario.max_messages,
                       "bankruptcy_days": scenario.bankruptcy_days},
            "run_info": {"mode": settings.mode, "scenario": scenario.name, "seed": settings.seed},
            "started_at": world.now.isoformat(), "shadow": settings.shadow}
    shop = ShopProcess(spec=spec, work=work)
    stack.callback(shop.close)
    shop.start(clock.now())
    device = start_device(world, host=host, port=port, password=os.environ[env["device"]], work=work,
                          seed=settings.seed, clock=clock, stack=stack)
    opening = world.drain()  # the opening balance: the owner's deposit, handed to every shop process (booked once)
    start(shop, device, opening)
    door = SlackDoor(url=f"http://127.0.0.1:{shop.http_port}/slack/events", slack=slack,
                     inbound=SlackInbound(signing_secret=os.environ[env["slack_secret"]]),
                     retry=lambda: faults.roll("slack_retry"))
    stack.callback(door.close)
    ops = OpsTeam(world=world, slack=slack, door=door, devices={machine: device})
    payouts = Payouts(url=f"http://127.0.0.1:{shop.http_port}/stripe/webhook", secret=os.environ[env["stripe_hook"]],
                      faults=faults)
    cards = CardDesk(world=world, stripe=stripe, webhook_url=payouts.url, secret=payouts.secret)

    def on_restart(http_port: int) -> None:
        door.url = f"http://127.0.0.1:{http_port}/slack/events"
        payouts.url = cards.url = f"http://127.0.0.1:{http_port}/stripe/webhook"

    killer = ShopKiller(shop=shop, faults=faults, clock=clock, device=device, opening=opening, on_restart=on_restart)
    door.killer = payouts.killer = killer
    restart = None
    if broker is not None:
        own = broker

        def restart() -> None:
            restart_broker(own, shop, device)

    outside = Outside(world=world, clock=ChildClock(clock, shop), devices={machine: device}, ops=ops,
                      received=shop.received, received_reports=shop.received_reports, quiet=shop.quiet,
                      payout=payouts.send, faults=faults, restart_broker=restart, cards=cards, killer=killer)
    killer.outside = outside
    outside.start()
    return ChildHilRun(settings=settings, run_dir=run_dir, world=world, scenario=scenario, live=None,
                       outside=outside, stack=stack, shop=shop, killer=killer)


def restart_broker(broker: Any, shop: ShopProcess, device: Any) -> None:
    """links.restart_broker with the shop in its own process: its link's state asked over the channel."""
    broker.stop()
    deadline = time.monotonic() + QUIET_S
    while shop.counts()["connected"] or device.connected:
        if time.monotonic() > deadline:
            raise AdapterError("the shop did not notice the broker stop")
        time.sleep(0.01)
    broker.start()
    while not (shop.counts()["connected"] and device.connected):
        if time.monotonic() > deadline:
            raise AdapterError("the shop or the device did not reconnect after the broker restarted")
        time.sleep(0.01)
    shop.quiet()
