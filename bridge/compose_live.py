"""The live half of the composition root: wires the configured adapters to the store and the ingest loop.

With bridge/compose.py, the only module of `bridge` that imports `hardware_adapters` (and so paho).
Sections of the config that are absent are adapters left out; Slack, Stripe and the LLM join here
from their own issues.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bridge import events as ev
from bridge.ledger import Ledger
from bridge.live import IngestLoop, MachineBook, status_report
from bridge.live_config import LiveConfig
from bridge.store import Store


@dataclass(slots=True)
class LiveBridge:
    config: LiveConfig
    store: Store
    ledger: Ledger
    book: MachineBook
    fleet: Any  # hardware_adapters.mqtt_machine.MqttFleet, or None without machines
    loop: IngestLoop | None

    def run(self, stop: threading.Event) -> None:
        if self.loop is None:
            stop.wait()
            return
        self.loop.run(stop)

    def close(self) -> None:
        if self.loop is not None:
            self.loop.commit()
        if self.fleet is not None:
            self.fleet.stop()
        self.store.close()


def build_live(config: LiveConfig, *, on_commit: Callable[[Sequence[ev.Event], float], None] | None = None,
               start: bool = True) -> LiveBridge:
    """Wire the live bridge; `start` connects to the broker (in the background: a broker that is down
    is retried, never fatal)."""
    b = config.bridge
    store = Store(url=b.db)
    now = datetime.now(UTC)
    store.upsert("run_info", {"run_id": f"live-{now:%Y%m%dT%H%M%S%f}", "shop": b.shop, "started_at": now,
                              "mode": "live", "scenario": "", "policy": "", "seed": 0,
                              "settings_json": config.model_dump_json(include={"bridge", "machines"})})
    ledger = Ledger.load(shop=b.shop, store=store, tz=ZoneInfo(b.tz))  # the books so far, after a restart
    book = MachineBook(shop=b.shop, store=store)
    for m in config.machines:
        book.register(m.id)
    store.flush()
    fleet = loop = None
    if config.mqtt is not None and config.machines:
        from hardware_adapters.mqtt_link import MqttLink
        from hardware_adapters.mqtt_machine import MqttFleet

        q = config.mqtt
        link = MqttLink(host=q.host, port=q.port, username=q.username, password=q.password(),
                        client_id=q.client_id, session_expiry_s=q.session_expiry_s,
                        receive_maximum=q.receive_maximum, reconnect_delay_s=(1, q.reconnect_max_s))
        fleet = MqttFleet(link=link, machines={m.id: m.planogram for m in config.machines}, shop=b.shop,
                          command_timeout_s=q.command_timeout_s, max_payload_bytes=q.max_payload_bytes,
                          slot_capacity=max(m.slot_capacity for m in config.machines))
        for m in config.machines:
            fleet.seed(m.id, {slot: (r["count"], r["price_cents"], r["snapshot_at"])
                              for (mid, slot), r in book.slots.items() if mid == m.id})
        loop = IngestLoop(source=fleet, ledger=ledger, store=store, book=book, max_batch=b.max_batch,
                          max_delay_s=b.max_delay_ms / 1000, on_commit=on_commit)
        if start:
            fleet.start()
    return LiveBridge(config=config, store=store, ledger=ledger, book=book, fleet=fleet, loop=loop)


def run_live(path: Path, *, out: Any = sys.stderr) -> int:
    """`vend live`: run until SIGTERM or SIGINT, then commit, disconnect (the broker keeps the session) and exit 0."""
    config = LiveConfig.load(path)
    stop = threading.Event()

    def _stop(_sig: int, _frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    bridge = build_live(config)
    try:
        where = f"{config.mqtt.host}:{config.mqtt.port}" if config.mqtt else "no broker"
        print(f"vend live: {len(config.machines)} machine(s) via {where}, store {config.bridge.db}", file=out,
              flush=True)
        bridge.run(stop)
    finally:
        bridge.close()
        for s, h in previous.items():
            signal.signal(s, h)
    loop = bridge.loop
    if loop is not None:
        print(f"vend live: stopped; {loop.recorded} events recorded ({loop.dead_letters} dead letters, "
              f"{loop.duplicates} repeats ignored)", file=out, flush=True)
    return 0


def live_status(db_url: str, *, shop: str = "main") -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    from bridge.errors import ConfigError

    try:
        url = make_url(db_url)
    except Exception:
        raise ConfigError(f"not a database URL: {db_url!r}") from None
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise ConfigError(f"no store at {url.database}")
    store = Store(url=db_url)
    try:
        return status_report(store, shop=shop)
    finally:
        store.engine.dispose()


def bench_ingest(*, rate: int, seconds: float, machines: int, latency_rate: int,
                 latency_seconds: float) -> dict[str, Any]:
    """`vend bench ingest` (see hardware_adapters/ingest_bench.py): figures as one dict."""
    from hardware_adapters.ingest_bench import run

    return run(rate=rate, seconds=seconds, machines=machines, latency_rate=latency_rate,
               latency_seconds=latency_seconds)
