"""`python -m hardware_adapters.emulator.flood`: many machines' vends at a fixed rate, for benchmarks.

A light emulated device: contract-conforming `vend` events over MQTT 5 at QoS 1 from one client per
machine, paced to a fixed total rate (0: as fast as it can), each stamped with its publish time in `ts`
(so a subscriber measures publish-to-X latency). No on-disk outbox: that belongs to DeviceEmulator, whose
fsync per event would make the benchmark measure the device's disk rather than the bridge.
Passwords come in env VEND_FLOOD_PASSWORDS as JSON {machine: password}. Prints one JSON line of stats.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hardware_adapters.emulator.flood")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--machines", required=True, help="comma-separated machine ids")
    p.add_argument("--rate", type=float, required=True, help="events per second in total (0: unpaced)")
    p.add_argument("--count", type=int, required=True, help="events in total")
    p.add_argument("--tag", default="b", help="id prefix (unique per run)")
    args = p.parse_args(argv)
    passwords = json.loads(os.environ.get("VEND_FLOOD_PASSWORDS", "{}"))
    machines = args.machines.split(",")
    acked = threading.Semaphore(0)
    failures: list[int] = []

    def on_publish(_c: mqtt.Client, _u: object, _mid: int, rc: ReasonCode, _p: object) -> None:
        if rc.is_failure:
            failures.append(rc.value)
        acked.release()

    clients = []
    for m in machines:
        c = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"flood-{m}",
                        protocol=mqtt.MQTTv5)
        c.username_pw_set(m, passwords.get(m, ""))
        c.on_publish = on_publish
        c.max_queued_messages_set(0)
        c.connect(args.host, args.port, keepalive=30)
        c.loop_start()
        clients.append(c)
    for c in clients:
        deadline = time.monotonic() + 10
        while not c.is_connected():
            if time.monotonic() > deadline:
                print(json.dumps({"error": "could not connect"}))
                return 1
            time.sleep(0.005)
    prices = (150, 175, 275)
    t0 = time.perf_counter()
    for i in range(args.count):
        if args.rate > 0:
            gap = t0 + i / args.rate - time.perf_counter()
            if gap > 0:
                time.sleep(gap)
        m = i % len(machines)
        body = {"id": f"{args.tag}-{i}", "type": "vend", "ts": datetime.now(UTC).isoformat(),
                "slot": f"A{1 + i % 3}", "price_cents": prices[i % 3], "payment": "card" if i % 4 else "cash",
                "txn": f"t{i}"}
        clients[m].publish(f"vend/{machines[m]}/events", json.dumps(body), qos=1)
    sent_s = time.perf_counter() - t0
    for _ in range(args.count):
        if not acked.acquire(timeout=30):
            break
    acked_s = time.perf_counter() - t0
    for c in clients:
        c.disconnect()
        c.loop_stop()
    print(json.dumps({"sent": args.count, "send_seconds": sent_s, "acked_seconds": acked_s,
                      "refused": len(failures)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
