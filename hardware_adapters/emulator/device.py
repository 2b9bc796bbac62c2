"""A device emulator that speaks the MQTT device contract (docs: /work/shared/DESIGN.md, MQTT section).

It is a real paho-mqtt 2.x MQTT 5 client. Outgoing QoS 1 messages (events, inventory, dex, ack) go
through the on-disk `Outbox`: appended and committed first, handed to paho by a pump thread while
connected, deleted on PUBACK (`on_publish` with the mid). Across a reconnect paho itself resends what
it already holds; rows it never held (written while offline, or left in the file by a previous process)
are published by the pump after the next CONNACK. A PUBACK with a failure reason code (>= 128, e.g. 135
Not authorized) moves the row to the outbox's `rejected` table instead of retrying it forever.
"""

from __future__ import annotations

import json
import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from hardware_adapters.dex import format_dex
from hardware_adapters.emulator.machine import MachineError, MachineState, Slot
from hardware_adapters.emulator.outbox import Outbox, OutboxMessage
from hardware_adapters.emulator.purchases import PurchaseSource, RandomPurchases

SESSION_EXPIRY_S = 86_400  # the broker keeps commands for an offline device for a day
RECENT_KEPT = 64


@dataclass(frozen=True, slots=True, kw_only=True)
class EmulatorStats:
    published: int  # PUBLISH packets handed to paho from the outbox (first sends and republishes)
    acked: int  # successful PUBACKs (reason code < 128)
    rejected: int  # failed PUBACKs (reason code >= 128), moved aside
    pending: int  # rows still in the outbox
    vends: int  # purchases made
    refused: int  # purchases the machine refused (locked, sold out)


class DeviceEmulator:
    def __init__(
        self,
        *,
        machine_id: str,
        host: str,
        port: int,
        password: str,
        outbox_path: Path,
        slots: Mapping[str, Slot] | None = None,
        seed: int = 0,
        username: str | None = None,
        purchases: PurchaseSource | None = None,
        inventory_interval_s: float | None = 60.0,
        dex_interval_s: float | None = 3600.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        reconnect_delay_s: tuple[float, float] = (0.1, 2.0),
    ) -> None:
        self.machine_id = machine_id
        self._host, self._port = host, port
        self._clock = clock
        self._state = MachineState.with_slots(slots)
        self._purchases: PurchaseSource = purchases or RandomPurchases(seed=seed)
        self._pace = random.Random(f"{seed}:pace")
        self._intervals = {"inventory": inventory_interval_s, "dex": dex_interval_s}
        self.outbox = Outbox(outbox_path, machine_id=machine_id)
        self._lock = threading.Lock()  # machine state and counters
        self._mids = threading.Lock()  # mid <-> msg_id maps; never held while calling into paho
        self._wake = threading.Condition()
        self._settled = threading.Condition()
        self._stopping = threading.Event()
        self._connected = False
        self._handed: set[str] = set()  # msg_ids paho holds in this process
        self._recent: OrderedDict[str, OutboxMessage] = OrderedDict()  # the last messages sent (redeliver)
        self._by_mid: dict[int, str] = {}
        self._early_acks: dict[int, int] = {}  # PUBACKs that beat publish() returning its mid
        self._counts = {"published": 0, "acked": 0, "rejected": 0, "vends": 0, "refused": 0}
        self._threads: list[threading.Thread] = []
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            protocol=mqtt.MQTTv5,
            client_id=machine_id,
        )
        self.client.username_pw_set(username or machine_id, password)
        self.client.will_set(self._topic("status"), json.dumps({"online": False}), qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=reconnect_delay_s[0], max_delay=reconnect_delay_s[1])  # type: ignore[arg-type]
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> DeviceEmulator:
        """Connect in the background (works while the broker is down) and start pump and timers."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        self.client.connect_async(self._host, self._port, keepalive=15, clean_start=False, properties=props)
        self.client.loop_start()
        self._spawn("pump", self._pump)
        for kind, interval in self._intervals.items():
            if interval:
                self._spawn(kind, self._periodic, kind, interval)
        return self

    def stop(self) -> None:
        """Graceful: publish status offline (retained), disconnect. Unacked rows stay in the outbox."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout=5)
        if self._connected:
            info = self._publish(self._topic("status"), self._status(False), msg_id=None, retain=True)
            info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()
        self.outbox.close()

    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        t = threading.Thread(target=target, args=args, name=f"emulator-{self.machine_id}-{name}", daemon=True)
        self._threads.append(t)
        t.start()

    # ---- the device's behaviour ------------------------------------------------------------------
    def vend(self, slot: str, payment: str) -> str:
        """One purchase; publishes the vend event and returns its id. Raises MachineError if refused."""
        with self._lock:
            try:
                price = self._state.sell(slot, payment)
            except MachineError:
                self._count("refused")
                raise
        self._count("vends")
        return self._event("vend", slot=slot, price_cents=price, payment=payment, txn=None)

    def door(self, state: str, session: str) -> str:
        if state not in ("open", "closed"):
            raise ValueError("door state is open or closed")
        if state == "open":
            with self._lock:
                self._state.door_opens += 1
        return self._event("door", state=state, session=session)

    def restock(self, slot: str, count: int) -> str:
        with self._lock:
            self._state.restock(slot, count)
        return self._event("restocked", slot=slot, count=count)

    def take(self, slot: str, count: int) -> None:
        """Units gone from a slot without a vend (shrinkage): no event; the next inventory report counts it."""
        with self._lock:
            self._state.take(slot, count)

    def keypad_price(self, slot: str, price_cents: int) -> str:
        """A price set at the machine itself (an operator at its keypad, as when a new product is loaded);
        the machine says so in an inventory report, whose id it returns. Raises MachineError if refused."""
        with self._lock:
            self._state.apply({"type": "set_price", "slot": slot, "price_cents": price_cents})
        return self.publish_inventory()

    def collect_cash(self) -> str:
        with self._lock:
            amount = self._state.collect_cash()
        return self._event("cash_collected", amount_cents=amount)

    def temperature(self, celsius: float) -> str:
        return self._event("temperature", celsius=celsius)

    def fault(self, code: str, detail: str) -> str:
        return self._event("fault", code=code, detail=detail)

    def run(self, rate: float, *, duration: float | None = None, count: int | None = None) -> int:
        """Purchases from the purchase source, Poisson-paced at `rate` per second, until `count` vends
        were made, `duration` seconds passed, the machine sold out, or stop(). Returns the vends made."""
        if duration is None and count is None:
            raise ValueError("give a duration or a count")
        made, elapsed = 0, 0.0
        while not self._stopping.is_set() and (count is None or made < count):
            gap = self._pace.expovariate(rate)
            if duration is not None and elapsed + gap > duration:
                break
            elapsed += gap
            if self._stopping.wait(gap):  # pacing that stop() cuts short
                break
            with self._lock:
                in_stock = self._state.in_stock()
                choice = self._purchases(in_stock) if in_stock else None
            if not in_stock:
                break  # sold out: nothing more can sell until a restock
            if choice is None:
                continue
            try:
                self.vend(*choice)
                made += 1
            except MachineError:
                continue
        return made

    def inventory(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return self._state.inventory()

    def load(self, slot: str, *, sku: str, count: int, capacity: int = 0) -> None:
        """Service at the machine: another product in a slot (told in the next inventory report)."""
        with self._lock:
            self._state.load(slot, sku=sku, count=count, capacity=capacity)

    @property
    def connected(self) -> bool:
        with self._wake:
            return self._connected

    @property
    def locked(self) -> bool:
        with self._lock:
            return self._state.locked

    @property
    def display(self) -> str:
        with self._lock:
            return self._state.display

    def publish_inventory(self) -> str:
        msg_id = self.outbox.next_id()
        payload = {"id": msg_id, "ts": self._ts(), "slots": self.inventory()}
        self._enqueue(
            OutboxMessage(msg_id=msg_id, topic=self._topic("inventory"), payload=json.dumps(payload))
        )
        return msg_id

    def publish_dex(self) -> str:
        with self._lock:
            audit = self._state.audit(machine_id=self.machine_id)
        msg_id = self.outbox.next_id()
        self._enqueue(OutboxMessage(msg_id=msg_id, topic=self._topic("dex"), payload=format_dex(audit)))
        return msg_id

    def wait_drained(self, timeout: float) -> bool:
        """Wait until every outbox row was acknowledged (or rejected); False at the deadline."""
        with self._settled:
            return self._settled.wait_for(lambda: len(self.outbox) == 0, timeout)

    def stats(self) -> EmulatorStats:
        with self._mids:
            counts = dict(self._counts)
        return EmulatorStats(pending=len(self.outbox), **counts)

    # ---- outbox plumbing -------------------------------------------------------------------------
    def _topic(self, leaf: str) -> str:
        return f"vend/{self.machine_id}/{leaf}"

    def _ts(self) -> str:
        return self._clock().isoformat()

    def _status(self, online: bool) -> str:
        return json.dumps({"online": online, "ts": self._ts()})

    def _event(self, kind: str, **fields: Any) -> str:
        msg_id = self.outbox.next_id()
        if kind == "vend":
            fields["txn"] = f"txn-{msg_id}"
        payload = {"id": msg_id, "type": kind, "ts": self._ts(), **fields}
        self._enqueue(OutboxMessage(msg_id=msg_id, topic=self._topic("events"), payload=json.dumps(payload)))
        return msg_id

    def redeliver(self, msg_id: str) -> bool:
        """Publish a recent message again under its own id, as a device does that missed the broker's
        PUBACK (a duplicate delivery for the bridge to ignore). False if it is not among the recent ones."""
        with self._mids:
            msg = self._recent.get(msg_id)
        if msg is None or not self._connected:
            return False
        self._publish(msg.topic, msg.payload, msg_id=None)
        return True

    def _enqueue(self, msg: OutboxMessage) -> None:
        with self._mids:
            self._recent[msg.msg_id] = msg
            while len(self._recent) > RECENT_KEPT:
                self._recent.popitem(last=False)
        self.outbox.append(msg)  # committed before anything is sent
        with self._wake:
            self._wake.notify_all()

    def _pump(self) -> None:
        while not self._stopping.is_set():
            with self._wake:
                if not self._connected:
                    self._wake.wait()
                    continue
            for msg in self._unhanded():
                if not self._connected or self._stopping.is_set():
                    break
                with self._mids:
                    self._handed.add(msg.msg_id)
                    self._counts["published"] += 1
                self._publish(msg.topic, msg.payload, msg_id=msg.msg_id)
            with self._wake:
                if self._connected and not self._stopping.is_set() and not self._has_unhanded():
                    self._wake.wait()

    def _unhanded(self) -> list[OutboxMessage]:
        pending = self.outbox.pending()
        with self._mids:
            return [m for m in pending if m.msg_id not in self._handed]

    def _has_unhanded(self) -> bool:
        return bool(self._unhanded())

    def _publish(
        self, topic: str, payload: str, *, msg_id: str | None, retain: bool = False
    ) -> mqtt.MQTTMessageInfo:
        """QoS 1 publish whose PUBACK settles `msg_id` (None: an untracked message such as status).

        The PUBACK can be handled before publish() returns the mid, so an unknown mid's PUBACK is parked
        in `_early_acks` and picked up here; `_mids` is never held across the paho call, because paho
        holds its own message lock while it runs on_publish.
        """
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        with self._mids:
            early = self._early_acks.pop(info.mid, None)
            if early is None:
                self._by_mid[info.mid] = msg_id or ""
        if early is not None and msg_id:
            self._settle(msg_id, early)
        return info

    def _count(self, key: str) -> None:
        with self._mids:
            self._counts[key] += 1

    def _settle(self, msg_id: str, reason_code: int) -> None:
        if reason_code < 128:
            self.outbox.acknowledge(msg_id)
            key = "acked"
        else:
            self.outbox.reject(msg_id, reason_code)
            key = "rejected"
        with self._mids:
            self._counts[key] += 1
            self._handed.discard(msg_id)
        with self._settled:
            self._settled.notify_all()

    def _periodic(self, kind: str, interval: float) -> None:
        publish = self.publish_inventory if kind == "inventory" else self.publish_dex
        while not self._stopping.wait(interval):
            publish()

    # ---- paho callbacks (network thread) ---------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _flags: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            return
        self._publish(self._topic("status"), self._status(True), msg_id=None, retain=True)
        client.subscribe(self._topic("cmd"), qos=1)
        with self._wake:
            self._connected = True
            self._wake.notify_all()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _rc: ReasonCode, _p: Any) -> None:
        with self._wake:
            self._connected = False

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        with self._mids:
            msg_id = self._by_mid.pop(mid, None)
            if msg_id is None:
                self._early_acks[mid] = rc.value
                return
        if msg_id:  # "" marks an untracked publish (status)
            self._settle(msg_id, rc.value)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            command = json.loads(msg.payload)
            if not isinstance(command, dict) or not isinstance(command.get("id"), str):
                raise ValueError
            cmd_id = command["id"]
        except (ValueError, KeyError, TypeError):
            return  # not a command we can acknowledge; the bridge never sends these
        done = self.outbox.command_result(cmd_id)
        if done is None:
            try:
                with self._lock:
                    self._state.apply(command)
                done = (True, None)
            except MachineError as exc:
                done = (False, str(exc))
            self.outbox.record_command(cmd_id, *done)
        ack: dict[str, Any] = {"cmd_id": cmd_id, "ok": done[0]}
        if done[1] is not None:
            ack["error"] = done[1]
        msg_id = self.outbox.next_id()
        self._enqueue(OutboxMessage(msg_id=msg_id, topic=self._topic("ack"), payload=json.dumps(ack)))
