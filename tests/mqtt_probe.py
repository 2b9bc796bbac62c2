"""A plain paho-mqtt 2.x client for tests: records messages, PUBACK/SUBACK reason codes, waits on conditions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from tests.broker import MosquittoBroker

NOT_AUTHORIZED = 135


class MqttProbe:
    """Connect as `user`; `messages` is every (topic, payload, retain) received, in order."""

    def __init__(
        self,
        broker: MosquittoBroker,
        user: str,
        *,
        client_id: str | None = None,
        password: str | None = None,
        clean_start: bool = True,
        session_expiry_s: int = 0,
    ) -> None:
        self._cond = threading.Condition()
        self.messages: list[tuple[str, bytes, bool]] = []
        self.puback: dict[int, int] = {}
        self.suback: dict[int, list[int]] = {}
        self.connect_rc: int | None = None
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"probe-{user}",
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(user, broker.credentials.get(user, "") if password is None else password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = session_expiry_s
        self.client.connect(broker.host, broker.port, keepalive=30, clean_start=clean_start, properties=props)
        self.client.loop_start()

    def _notify(self, change: Callable[[], None]) -> None:
        with self._cond:
            change()
            self._cond.notify_all()

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self._notify(lambda: setattr(self, "connect_rc", rc.value))

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._notify(lambda: self.messages.append((msg.topic, msg.payload, bool(msg.retain))))

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        self._notify(lambda: self.puback.__setitem__(mid, rc.value))

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, rcs: list[ReasonCode], _p: Any) -> None:
        self._notify(lambda: self.suback.__setitem__(mid, [r.value for r in rcs]))

    def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait until `condition()` (evaluated under the lock, after each callback) or the deadline."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def connected(self, timeout: float = 5.0) -> int | None:
        """The CONNACK reason code (0 = accepted), or None if none came before the deadline."""
        self.wait_for(lambda: self.connect_rc is not None, timeout)
        return self.connect_rc

    def subscribe(self, topic: str, qos: int = 1) -> list[int]:
        _rc, mid = self.client.subscribe(topic, qos)
        assert self.wait_for(lambda: mid in self.suback), f"no SUBACK for {topic}"
        return self.suback[mid]

    def publish(self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False) -> int:
        """Publish and return the PUBACK reason code (0 success, 135 not authorized)."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        assert self.wait_for(lambda: info.mid in self.puback), f"no PUBACK for {topic}"
        return self.puback[info.mid]

    def received(self, topic: str) -> list[bytes]:
        with self._cond:
            return [p for t, p, _r in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
