"""The bridge's one MQTT connection (paho-mqtt 2.x, MQTT 5, QoS 1, persistent session).

paho runs its network loop in its own thread; every callback only puts a plain tuple on ONE queue,
which the core thread consumes (`MqttFleet`). Messages are acknowledged manually (`manual_ack=True`):
the PUBACK goes to the broker only when the core says the message's effects are committed, so a crash
before the commit makes the broker deliver it again (the idempotency table absorbs the repeat).
Every connect, refusal and disconnect is logged with its reason (`vendbridge.mqtt`); a connect after
the first is a reconnect. The broker binds client ids to usernames (ops/mosquitto/mosquitto.conf), so
no device can take this connection's session over.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from bridge.errors import AdapterError

# Queue items (plain tuples; nothing of paho's crosses the queue):
#   ("msg", topic: str, payload: bytes, mid: int, qos: int, received_at: datetime)
#   ("puback", mid: int, reason_code: int, reason: str)
#   ("up", session_present: bool) / ("down", reason: str) / ("suback", mid, [reason codes])
Item = tuple[Any, ...]
log = logging.getLogger("vendbridge.mqtt")
SUBSCRIBE_LEAVES = ("events", "inventory", "status", "dex", "ack")


class MqttLink:
    def __init__(self, *, host: str, port: int, username: str, password: str, client_id: str,
                 session_expiry_s: int = 7 * 86_400, receive_maximum: int = 1000, keepalive_s: int = 30,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 reconnect_delay_s: tuple[int, int] = (1, 5)) -> None:
        self.host, self.port = host, port
        self.inbox: queue.SimpleQueue[Item] = queue.SimpleQueue()
        # messages received since start, by topic leaf ("events", "inventory", "ack", ...); the network
        # thread counts, others only read
        self.received: Counter[str] = Counter()
        self.connected = threading.Event()
        self._clock = clock
        self._session_expiry_s = session_expiry_s
        self._receive_maximum = receive_maximum
        self._keepalive_s = keepalive_s
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=mqtt.MQTTv5, manual_ack=True)
        self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(min_delay=reconnect_delay_s[0], max_delay=reconnect_delay_s[1])
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.topics = [f"vend/+/{leaf}" for leaf in SUBSCRIBE_LEAVES]
        self.connects = 0  # CONNACKs accepted (more than one: reconnects)
        self.disconnects = 0

    # --- lifecycle (core thread) ---------------------------------------------------------------
    def start(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self._session_expiry_s
        props.ReceiveMaximum = self._receive_maximum
        try:
            self.client.connect_async(self.host, self.port, keepalive=self._keepalive_s, clean_start=False,
                                      properties=props)
        except (OSError, ValueError) as err:
            raise AdapterError(f"cannot reach the MQTT broker at {self.host}:{self.port}: {err}") from err
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: str) -> int:
        info = self.client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise AdapterError(f"could not publish to {topic}: {mqtt.error_string(info.rc)}")
        return int(info.mid)

    def ack(self, acks: Sequence[tuple[int, int]]) -> None:
        """PUBACK these (mid, qos) pairs, in the order the messages were received."""
        for mid, qos in acks:
            self.client.ack(mid, qos)

    # --- paho callbacks (network thread): only put plain tuples on the queue -------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            log.warning("mqtt connection refused", extra={"broker": f"{self.host}:{self.port}", "reason": str(rc),
                                                          "reason_code": rc.value})
            self.inbox.put(("down", f"connection refused: {rc}"))
            return
        self.connects += 1
        log.info("mqtt reconnected" if self.connects > 1 else "mqtt connected",
                 extra={"broker": f"{self.host}:{self.port}", "session_present":
                        bool(getattr(flags, "session_present", False)), "connects": self.connects})
        # Subscriptions live in the persistent session, but a session the broker lost (restart without
        # persistence, expiry) comes back empty: subscribe on every connect.
        _rc, mid = client.subscribe([(t, SubscribeOptions(qos=1, noLocal=True)) for t in self.topics])
        self.connected.set()
        self.inbox.put(("up", bool(getattr(flags, "session_present", False)), mid))

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self.connected.clear()
        self.disconnects += 1
        # a disconnect we asked for is information; anything else (the broker, the network, a session
        # taken over: reason 142) is a warning
        level = logging.INFO if rc.value == 0 else logging.WARNING
        log.log(level, "mqtt disconnected", extra={"broker": f"{self.host}:{self.port}", "reason": str(rc),
                                                   "reason_code": rc.value, "will_retry": rc.value != 0})
        self.inbox.put(("down", str(rc)))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.received[msg.topic.rpartition("/")[2]] += 1
        self.inbox.put(("msg", msg.topic, msg.payload, msg.mid, msg.qos, self._clock()))

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        self.inbox.put(("puback", mid, rc.value, str(rc)))

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, mid: int, rcs: list[ReasonCode], _p: Any) -> None:
        self.inbox.put(("suback", mid, [r.value for r in rcs]))
