"""The end-to-end rig: `vend live` as a subprocess with every adapter pointed at loopback (a real
mosquitto, the fake Slack), a device emulator, signed Slack requests, and reads of the shop's store."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bridge import events as ev
from bridge.ledger import Ledger
from bridge.store import Store
from hardware_adapters.doubles.slack_api import FakeSlack
from hardware_adapters.doubles.slack_inbound import SlackInbound
from hardware_adapters.emulator import DeviceEmulator, Slot
from tests.broker import REPO, MosquittoBroker
from tests.gate_verdicts import pass_gate
from tests.slack.rig import OPS_CH, OPS_GROUP, SECRET, SHOP_CH

BOT_TOKEN = "xoxb-test"  # the fake's token; the two secrets below are unique strings the logs must never show
ADMIN_TOKEN = "admin-e2e-7c1f0a9d4b2e4e6f8a3b5c7d9e1f2a4b"
SIGNING_SECRET = SECRET
SECRETS = (SIGNING_SECRET, ADMIN_TOKEN)
DEADLINE_S = 60.0  # every wait is on a condition; a deadline only bounds a failure


def wait_for(what: str, probe: Callable[[], Any], ok: Callable[[Any], bool] = bool,
             timeout: float = DEADLINE_S) -> Any:
    """Poll `probe()` until `ok(value)` or the deadline (then fail, saying what was awaited)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value {value!r}")
        time.sleep(0.02)  # polling interval of a condition with a deadline


def noon_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon now: the day's open (08:00) has passed and its close
    (23:55) is hours away, so the scheduler fires nothing by itself during the test and 'today' is one date."""
    offset = 12 - now.astimezone(UTC).hour  # -11 .. 12
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


def opening_books(db: Path, *, tz: str, loads: dict[str, tuple[str, int]], storage: dict[str, int]) -> None:
    """What ops book when they hand the shop to the bridge: capital, the storeroom, the machine's slots."""
    store = Store(url=f"sqlite:///{db}")
    led = Ledger(shop="main", store=store)
    at = datetime.now(UTC)
    led.record(ev.CapitalIn(id="opening:capital", ts=at, amount_cents=50_000))
    for sku, units in storage.items():
        led.record(ev.DeliveryReceived(id=f"opening:{sku}", ts=at, order_id="opening", supplier="opening", sku=sku,
                                       quantity=units, unit_cost_cents=60))
    for slot, (sku, units) in loads.items():
        led.record(ev.Restocked(id=f"opening:m1:{slot}", ts=at, machine="m1", slot=slot, sku=sku, count=units))
    store.flush()
    store.close()


CATALOGUE = """sku,name,category,size,wholesale_cost_cents,reference_price_cents,elasticity,base_daily_sales,perishable_days
cola,Cola 12 oz can,soda,small,60,150,1.6,4.5,270
chips,Potato chips 1 oz,chips,small,60,125,1.4,3.0,120
water,Still water 16.9 oz bottle,water,small,30,125,1.2,2.0,365
"""


def write_config(path: Path, *, db: Path, broker: MosquittoBroker, fake: FakeSlack, http_port: int, tz: str,
                 script: Path | None = None, policy: str = "", extra: str = "") -> Path:
    """`policy` defaults to the script; `extra` is appended (more sections). The shop's catalogue
    (products.csv beside the config, CATALOGUE) holds what the tests load: cola, chips and water."""
    policy = policy or f"scripted:{script.name if script else ''}"
    (path.parent / "products.csv").write_text(CATALOGUE)
    path.write_text(f"""
[bridge]
shop = "main"
db = "sqlite:///{db}"
tz = "{tz}"
max_delay_ms = 5

[http]
host = "127.0.0.1"
port = {http_port}
admin_token_env = "E2E_ADMIN_TOKEN"

[policy]
name = "{policy}"
catalogue = "products.csv"

[scheduler]
open_hour = 8
close_hour = 23
close_minute = 55

[mqtt]
host = "{broker.host}"
port = {broker.port}
password_env = "E2E_MQTT_PW"
reconnect_max_s = 1

[[machines]]
id = "m1"
planogram = {{ A1 = "cola", A2 = "chips" }}

[slack]
mode = "http"
ops_channel = "{OPS_CH}"
shop_channel = "{SHOP_CH}"
ops_usergroup = "{OPS_GROUP}"
bot_token_env = "E2E_SLACK_BOT"
signing_secret_env = "E2E_SLACK_SIGNING"
base_url = "{fake.api_url}"
{extra}
""")
    return path


@dataclass
class LiveProcess:
    """`vend live` in a subprocess; its stderr (JSON log lines) is kept per run."""

    config: Path
    env: dict[str, str]
    port: int
    logs: list[str] = field(default_factory=list)
    proc: subprocess.Popen[str] | None = None
    args: tuple[str, ...] = ()  # more options for `vend live`, e.g. ("--shadow",)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveProcess:
        args = self.args
        if "--shadow" not in args and "--verdicts" not in args and "--no-gate-verdict" not in args:
            args += ("--verdicts", str(pass_gate(self.config)))  # the gate is not what these tests are about
        self.proc = subprocess.Popen([sys.executable, "-m", "bridge.cli", "live", "--config", str(self.config), *args],
                                     cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            # generous: a cold start imports the SDKs and opens every adapter, and CI machines vary
            wait_for("vend live to report healthy", self._healthy, timeout=90)
        except AssertionError as err:
            self.proc.kill()
            _out, logs = self.proc.communicate(timeout=10)
            raise AssertionError(f"{err}\n--- vend live's log ---\n{logs[-6000:]}") from None
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"vend live exited {self.proc.returncode}: {self.proc.stderr.read() if self.proc.stderr else ''}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/healthz", timeout=5).json())

    def job(self, name: str, day: str) -> dict[str, Any]:
        r = httpx.post(f"{self.url}/jobs/{name}", json={"day": day}, timeout=30,
                       headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert r.status_code == 200, r.text
        return dict(r.json())

    def slack(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{self.url}/slack/events", content=body,
                          headers={**headers, "Content-Type": "application/x-www-form-urlencoded"}, timeout=10)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self._collect()
        assert self.proc.returncode == -9

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        self._collect()
        return int(self.proc.returncode)

    def _collect(self) -> None:
        assert self.proc is not None
        _out, err = self.proc.communicate(timeout=30)
        self.logs.append(err)

    def stop_quietly(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


def live_env(broker: MosquittoBroker) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "E2E_MQTT_PW": broker.password("bridge"),
            "E2E_SLACK_BOT": BOT_TOKEN, "E2E_SLACK_SIGNING": SIGNING_SECRET, "E2E_ADMIN_TOKEN": ADMIN_TOKEN}


def device(broker: MosquittoBroker, tmp: Path, slots: dict[str, Slot]) -> DeviceEmulator:
    return DeviceEmulator(machine_id="m1", host=broker.host, port=broker.port, password=broker.password("m1"),
                          outbox_path=tmp / "m1-outbox.db", slots=slots, seed=5, inventory_interval_s=None,
                          dex_interval_s=None)


class Books:
    """Reads of the shop's store (written by the other process)."""

    def __init__(self, db: Path) -> None:
        self.store = Store(url=f"sqlite:///{db}")

    def count(self, sql: str, **params: Any) -> int:
        return int(self.store.scalar(sql, **params) or 0)

    def events(self, kind: str) -> int:
        return self.count("SELECT COUNT(*) FROM processed_event WHERE kind = :k", k=kind)

    def stock(self, location: str, sku: str) -> int:
        return self.count("SELECT count FROM stock_level WHERE location = :l AND sku = :s", l=location, s=sku)

    def slot_telemetry(self, slot: str) -> int:
        return self.count("SELECT count FROM slot_telemetry WHERE machine_id = 'm1' AND slot = :s", s=slot)

    def close(self) -> None:
        self.store.engine.dispose()


def task_messages(fake: FakeSlack) -> list[dict[str, Any]]:
    """The bot's task messages in the ops channel (those with a Done button)."""
    out = []
    for m in fake.history(OPS_CH):
        actions = [b for b in m.get("blocks", []) if b.get("type") == "actions"]
        if m.get("user") == fake.bot_user_id and actions and actions[0]["elements"][0]["action_id"] == "task_done":
            out.append(m)
    return out


def confirm_restock(live: LiveProcess, fake: FakeSlack, inbound: SlackInbound, *, user: str, message: dict[str, Any],
                    counts: dict[str, int]) -> None:
    """Ops press Done on the task message, then submit the counts in the modal Slack opened."""
    task_id = next(b for b in message["blocks"] if b["type"] == "actions")["elements"][0]["value"]
    now = datetime.now(UTC)
    modals_before = len(fake.modals)
    r = live.slack(*inbound.interactive_request(inbound.block_actions(
        user=user, channel=OPS_CH, message_ts=message["ts"], action_id="task_done", value=task_id, at=now),
        timestamp=int(time.time())))
    assert r.status_code == 200, r.text
    modal = wait_for("the counts modal", lambda: len(fake.modals) > modals_before and list(fake.modals.values())[-1])
    assert modal["callback_id"] == "restock_counts" and modal["private_metadata"] == task_id
    values = {f"slot:{slot}": {"count": {"type": "number_input", "value": str(n)}} for slot, n in counts.items()}
    r = live.slack(*inbound.interactive_request(inbound.view_submission(
        user=user, view_id=modal["id"], callback_id=modal["callback_id"], values=values, at=now,
        private_metadata=modal["private_metadata"]), timestamp=int(time.time())))
    assert r.status_code == 200 and "errors" not in r.text, r.text


def emulator_commands(tmp: Path) -> int:
    """Commands the device emulator received (its outbox keeps each one's result)."""
    conn = sqlite3.connect(f"file:{tmp / 'm1-outbox.db'}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM commands").fetchone()[0])
    finally:
        conn.close()


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]
