"""The running live process: one shop's threads and their orderly stop, the HTTP server, health.

Threads: the core thread owns the books (ingest loop, jobs, machine commands; bridge/live/core.py);
paho's network thread; APScheduler's job thread (hands each job to the core); uvicorn's thread (Slack
and Stripe handlers queue events for the core). The main thread waits for SIGTERM/SIGINT, then stops
intake (HTTP), lets a running job finish (scheduler), commits (core), disconnects (MQTT) and exits.
Built by the composition (bridge/compose/live.py), which hands it the adapters.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from typing import Any

from bridge.errors import AdapterError, ConfigError
from bridge.ledger import Ledger
from bridge.live.config import LiveConfig
from bridge.live.core import CoreLoop, LiveHost
from bridge.live.ingest import IngestLoop, MachineBook
from bridge.policies.base import Policy
from bridge.runtime import Runtime
from bridge.store import Store
from bridge.tools.executor import Toolbox
from bridge.tools.shop import ShopTools

log = logging.getLogger("vendbridge.live")


@dataclass(slots=True)
class LiveBridge:
    config: LiveConfig
    store: Store
    ledger: Ledger
    book: MachineBook
    fleet: Any  # hardware_adapters.mqtt_machine.MqttFleet, or None without machines
    loop: IngestLoop
    inbox: Any = None  # hardware_adapters.live.EventQueue: Slack's and Stripe's events
    core: CoreLoop | None = None
    shadow: bool = False
    tools: ShopTools | None = None
    toolbox: Toolbox | None = None
    runtime: Runtime | None = None
    policy: Policy | None = None
    host: LiveHost | None = None
    scheduler: Any = None  # scheduler.live.LiveScheduler
    slack: Any = None  # hardware_adapters.slack.app.SlackBridge
    stripe: Any = None
    reconciler: Any = None  # hardware_adapters.stripe.wiring.StripeReconciler
    fridge: Any = None  # bridge.fridge.FridgeSessions, when a machine is a fridge
    routes: list[Any] = field(default_factory=list)
    slack_auth: str = "not checked"
    http_port: int = 0
    _server: Any = None
    _http_thread: threading.Thread | None = None
    _socket: Any = None

    # --- running -----------------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """The ingest loop on this thread only (no shopkeeper): what the MQTT tests drive."""
        self.loop.run(stop)

    def serve(self, stop: threading.Event) -> None:
        """Everything, until `stop` is set; then the orderly stop (see the module docstring)."""
        assert self.core is not None
        core_stop = threading.Event()
        core_thread = self.core.start(core_stop)
        try:
            self._check_slack()
            if self.scheduler is not None:
                self.scheduler.start()
            self._start_http()
            log.info("vend live started", extra=self._started_fields())
            while not stop.wait(0.5):
                if not core_thread.is_alive():
                    raise RuntimeError("the core loop stopped; see the error above")
        finally:
            log.info("vend live stopping")
            self._stop_http()
            if self._socket is not None:
                self._socket.close()
            if self.scheduler is not None:
                self.scheduler.shutdown(wait=True)  # a running job finishes first
            core_stop.set()
            core_thread.join(timeout=60)

    def _started_fields(self) -> dict[str, Any]:
        return {"machines": [m.id for m in self.config.machines], "policy": self.config.policy.name,
                "shadow": self.shadow, "http": f"{self.config.http.host}:{self.http_port}",
                "slack": self.config.slack.mode if self.config.slack else None,
                "stripe": self.stripe is not None, "store": _masked(self.store.url)}

    def _check_slack(self) -> None:
        if self.slack is None:
            return
        try:
            who = self.slack.client.auth_test()
            self.slack_auth = f"ok ({who.get('team', '')}/{who.get('user', '')})"
        except Exception as err:  # health reports it; the process keeps running (Slack may come back)
            self.slack_auth = f"failed: {type(err).__name__}"
            log.error("slack auth failed", extra={"error": str(err)})
        if self.config.slack is not None and self.config.slack.mode == "socket":
            self._socket = self.slack.socket_mode()
            self._socket.connect()

    def start_http(self) -> int:
        """Serve the HTTP app (Slack, Stripe, health) on its own thread; the port it listens on. `serve()`
        does this itself; `vend hil`, which runs the jobs on its own thread, calls it and `stop_http()`."""
        self._start_http()
        return self.http_port

    def stop_http(self) -> None:
        self._stop_http()

    def _start_http(self) -> None:
        import uvicorn

        from bridge.live.http_app import build_http_app

        app = build_http_app(routes=self.routes, health=self.health, max_body_bytes=self.config.http.max_body_bytes)
        sock = socket.socket(socket.AF_INET6 if ":" in self.config.http.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.config.http.host, self.config.http.port))
        except OSError as err:
            sock.close()
            raise ConfigError(f"http: cannot listen on {self.config.http.host}:{self.config.http.port}: "
                              f"{err.strerror}") from None
        self.http_port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off", access_log=False))
        self._http_thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                             name="vend-http", daemon=True)
        self._http_thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._http_thread.is_alive():
                raise AdapterError("the HTTP server did not start")
            time.sleep(0.01)
        log.info("http listening", extra={"host": self.config.http.host, "port": self.http_port})

    def _stop_http(self) -> None:
        if self._server is not None and self._http_thread is not None:
            self._server.should_exit = True
            self._http_thread.join(timeout=10)

    def close(self) -> None:
        self.loop.commit()  # nothing when the loop is broken: half a batch is neither written nor acked
        if self.fleet is not None:
            self.fleet.stop()
        self.store.close(flush=self.loop.broken is None)

    # --- jobs and health ---------------------------------------------------------------------------
    def run_job(self, name: str, day: date | None = None) -> dict[str, Any]:
        """Run a job now, for the period of `day` (the shop's day; default: the latest due)."""
        if self.scheduler is None:
            raise ConfigError("the scheduler is off ([scheduler] enabled = false)")
        at = None
        if day is not None:
            at = datetime.combine(day, dtime(23, 59, 59), tzinfo=self.ledger.tz)
        ran = self.scheduler.run_job(name, at=at)
        return {"ran": ran, "day": day.isoformat() if day else None}

    def health(self) -> dict[str, Any]:
        parts: dict[str, dict[str, Any]] = {}
        if self.fleet is not None:
            link = self.fleet.link
            parts["mqtt"] = {"ok": link.connected.is_set(), "broker": f"{link.host}:{link.port}",
                             "machines": {m: self.fleet.view(m).online for m in self.fleet.machines}}
        if self.slack is not None:
            assert self.config.slack is not None
            parts["slack"] = {"ok": self.slack_auth.startswith("ok"), "mode": self.config.slack.mode,
                              "auth": self.slack_auth}
        parts["stripe"] = {"ok": True, "configured": self.stripe is not None}
        if self.scheduler is not None:
            sched = self.scheduler.scheduler
            parts["scheduler"] = {"ok": bool(sched.running), "running": bool(sched.running), "next": {
                j: (n.isoformat() if (n := self.scheduler.next_run(j)) else None) for j in self.scheduler.jobs}}
        else:
            parts["scheduler"] = {"ok": True, "running": False, "enabled": False}
        last = self.loop.last_event_at
        parts["ingest"] = {"ok": self.core is not None and self.core.running, "recorded": self.loop.recorded,
                           "duplicates": self.loop.duplicates, "dead_letters": self.loop.dead_letters,
                           "last_event_age_s": round(time.time() - last, 3) if last is not None else None}
        parts["policy"] = {"ok": True, "name": self.config.policy.name, "shadow": self.shadow,
                           "crashes": len(self.runtime.outcome.crashes) if self.runtime else 0}
        return {"ok": all(p["ok"] for p in parts.values()), "shop": self.config.bridge.shop, **parts}


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable URL)"
