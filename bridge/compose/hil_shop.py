"""The shop of `vend hil --faults` as its own OS process, so the outside can SIGKILL it and start it again.

    python -m bridge.compose.hil_shop FD [RUN/hil]

FD is this process's end of a socket pair to `vend hil` (JSON lines); the run's folder names the process
(for `ps`, and for tests that check none is left). The process imports the shop's
modules and waits (a standby: `vend hil` starts the next one ahead) for {"op": "spec", "spec": ...}: the
live config (`vend live`'s LiveConfig, as JSON), the run id, the limits and where the virtual clock
starts. The shop
is `build_live(config, clock=VirtualClock(...))`, as in one process: the clock's mover is the control
channel. When the shop's runtime waits for time to pass it sends {"op": "advance", "to": ISO,
"between": BOOL} (between: no job is running) and, until the parent answers "advanced", serves the
parent's requests in the runtime's own thread: how many device messages the MQTT link received, let the
adapters take them in (quiet), move the clock as the world steps, book events the parent hands over.
Nothing runs in another thread that did not in one process.

The shop's events as booked are appended to EVENTS (JSON lines) each time the books are committed (the
runtime commits after every job, before it waits); at the end it sends {"op": "done", "summary": ...}
and waits for "exit". A killed process leaves its store (the books and the runtime's memory, see
bridge/resume.py) and its events file; the next one carries on from them.
"""

from __future__ import annotations

import base64
import json
import pickle
import socket
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

START_S = 30.0


class Channel:
    """JSON lines over a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def send(self, msg: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(msg, default=str).encode() + b"\n")

    def recv(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("vend hil closed the channel")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        out: dict[str, Any] = json.loads(line)
        return out


def pack(obj: Any) -> str:
    """Events handed between the two processes of one run (trusted: the parent made them)."""
    return base64.b64encode(pickle.dumps(obj)).decode()


def unpack(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))  # from the parent process of this run only


class ChildShop:
    def __init__(self, spec: dict[str, Any], chan: Channel) -> None:
        from bridge.compose.live import build_live
        from bridge.live.config import LiveConfig
        from bridge.runtime import RunLimits
        from hardware_adapters.live import VirtualClock

        self.chan = chan
        self.events_path = Path(spec["events"])
        self.fresh: list[str] = []
        self.clock = VirtualClock(start=datetime.fromisoformat(spec["start"]))
        config = LiveConfig.model_validate_json(spec["config"])
        self.live = build_live(config, clock=self.clock, run_id=spec["run_id"], limits=RunLimits(**spec["limits"]),
                               shadow=bool(spec.get("shadow")),
                               run_info={**spec["run_info"], "started_at": datetime.fromisoformat(spec["started_at"])})
        self.machine = config.machines[0].id
        live = self.live
        runtime = live.runtime
        assert runtime is not None and runtime.resume is not None and live.fleet is not None
        self.runtime = runtime
        before = live.loop.on_event

        def observe(e: Any) -> None:
            if before is not None:
                before(e)
            self.fresh.append(json.dumps(e.to_json(), default=str))

        live.loop.on_event = observe
        commit = runtime.resume.commit

        def commit_and_log() -> None:
            commit()
            self.write_events()

        runtime.resume.commit = commit_and_log
        self.clock.mover = self.advance

    def write_events(self) -> None:
        if self.fresh:
            with self.events_path.open("a") as fh:
                fh.write("\n".join(self.fresh) + "\n")
            self.fresh = []

    def start(self) -> None:
        from bridge.compose.outside.links import wait_subscribed

        live = self.live
        port = live.start_http()
        wait_subscribed(live, live.fleet.link, time.monotonic() + START_S)
        resume = self.runtime.resume
        self.chan.send({"op": "ready", "http_port": port, "restored": resume is not None and resume.restored})

    # --- the parent's requests ---------------------------------------------------------------------
    def serve(self, until: tuple[str, ...]) -> dict[str, Any]:
        """Answer the parent's requests until one of `until` comes; that message."""
        live = self.live
        while True:
            msg = self.chan.recv()
            op = msg["op"]
            if op in until:
                return msg
            if op == "counts":
                got = live.fleet.link.received
                self.chan.send({"events": got["events"], "inventory": got["inventory"], "status": got["status"],
                               "connected": live.fleet.link.connected.is_set()})
                continue
            if op == "quiet":
                live.fleet.drain_into_backlog()
            elif op == "clock":
                self.clock.set(datetime.fromisoformat(msg["to"]))
            elif op == "put":
                for e in unpack(msg["events"]):
                    live.inbox.put(e)
            else:
                raise RuntimeError(f"unknown request {op!r}")
            self.chan.send({"ok": True})

    def advance(self, when: datetime) -> None:
        """The clock's mover: the parent plays the world to `when`."""
        from bridge.errors import AdapterError

        self.chan.send({"op": "advance", "to": when.isoformat(), "between": self.runtime.between_jobs})
        msg = self.serve(("advanced", "failed"))
        if msg["op"] == "failed":
            self.runtime.outcome.ended_by = "outside_failed"
            raise AdapterError(f"the simulated outside failed: {msg['error']}")

    def run(self) -> None:
        self.serve(("run",))
        outcome = self.runtime.run()
        self.live.loop.commit()
        self.write_events()
        self.chan.send({"op": "done", "summary": self.summary(outcome)})
        self.serve(("exit",))

    def summary(self, outcome: Any) -> dict[str, Any]:
        from bridge.ledger import INVENTORY
        from bridge.resume import outcome_json

        live = self.live
        assert live.tools is not None and live.toolbox is not None and live.fleet is not None
        return {"outcome": outcome_json(outcome), "balance": live.tools.check_balance(),
                "inventory_value_cents": live.ledger.balance(INVENTORY), "units_sold": live.ledger.units_sold_total,
                "tool_calls": sum(live.toolbox.counts.values()), "tool_errors": live.toolbox.errors,
                "guardrail_refusals": dict(live.toolbox.refusals), "shop_duplicates": live.loop.duplicates,
                "slots": [[v.slot, v.sku, v.count, v.price_cents] for v in live.fleet.view(self.machine).slots]}

    def close(self) -> None:
        self.live.stop_http()
        self.live.close()


def _imports() -> None:
    """The modules a shop is built of (the interpreter's start and these imports are most of a start)."""
    import bridge.compose.live
    import bridge.compose.policies
    import bridge.policies.baseline
    import bridge.policies.scripted  # noqa: F401
    import hardware_adapters.live
    import hardware_adapters.mqtt_link
    import hardware_adapters.mqtt_machine
    import hardware_adapters.slack.app
    import hardware_adapters.stripe.wiring  # noqa: F401
    import sim_backend.catalogue  # noqa: F401


def main(argv: list[str]) -> int:
    import logging

    logging.getLogger("vendbridge").setLevel(logging.WARNING)
    chan = Channel(socket.socket(fileno=int(argv[0])))
    _imports()  # while it waits: a standby
    try:
        msg = chan.recv()
    except EOFError:  # not needed: vend hil ended
        return 0
    if msg.get("op") != "spec":
        raise RuntimeError(f"expected the shop's spec, got {msg.get('op')!r}")
    shop = ChildShop(msg["spec"], chan)
    try:
        shop.start()
        shop.run()
    finally:
        shop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
