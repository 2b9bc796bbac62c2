"""`vend bench ingest`: vends from emulated machines through a real mosquitto into the ledger.

One broker (the project's config and ACL, on a free loopback port, in a temporary folder) serves every
phase of the run, and the same fixed-rate publisher (hardware_adapters.emulator.flood, a subprocess)
feeds each phase:
  raw      a plain paho subscriber (QoS 1, auto-ack) counts what the broker delivers: the ceiling;
  ingest   the bridge (MqttFleet + IngestLoop + SQLite store, as `vend live` wires it) records the vends;
  latency  the bridge at a low rate: publish-to-commit latency;
and the raw and ingest phases again unpaced, for the capacity of each.
"""

from __future__ import annotations

import getpass
import json
import os
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from bridge import events as ev
from bridge.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
OVERRIDDEN = {"listener", "password_file", "acl_file", "persistence_location", "log_dest", "user", "pid_file",
              "persistence"}


def _tool(name: str) -> str:
    found = shutil.which(name) or next((str(p) for d in ("/usr/sbin", "/usr/local/sbin")
                                        if (p := Path(d) / name).is_file()), None)
    if found is None:
        raise ConfigError(f"{name} is not installed (apt-get install mosquitto mosquitto-clients)")
    return found


class BenchBroker:
    def __init__(self, workdir: Path, users: Sequence[str]) -> None:
        self.workdir = workdir
        self.host = "127.0.0.1"
        self.passwords = {u: f"bench-{u}" for u in users}
        passwd = workdir / "passwd"
        passwd.write_text("")
        for u, pw in self.passwords.items():
            subprocess.run([_tool("mosquitto_passwd"), "-b", str(passwd), u, pw], check=True, capture_output=True)
        with socket.socket() as s:
            s.bind((self.host, 0))
            self.port = int(s.getsockname()[1])
        conf_dir = REPO / "ops" / "mosquitto"
        # the bench's listener in the deployed one's place: the options after it are the listener's own
        kept = [f"listener {self.port} {self.host}" if ln.split()[:1] == ["listener"] else ln
                for ln in (conf_dir / "mosquitto.conf").read_text().splitlines()
                if not ln.strip() or ln.lstrip().startswith("#") or ln.split()[0] not in OVERRIDDEN - {"listener"}]
        conf = workdir / "mosquitto.conf"
        conf.write_text("\n".join([*kept, f"user {getpass.getuser()}",
                                   f"password_file {passwd}", f"acl_file {conf_dir / 'acl'}",
                                   "persistence false", f"log_dest file {workdir / 'mosquitto.log'}", ""]))
        self.proc = subprocess.Popen([_tool("mosquitto"), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise ConfigError("mosquitto did not start for the bench") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def _flood(broker: BenchBroker, machines: Sequence[str], rate: float, count: int, tag: str) -> subprocess.Popen[str]:
    env = {**os.environ, "VEND_FLOOD_PASSWORDS": json.dumps(broker.passwords),
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "hardware_adapters.emulator.flood", "--port", str(broker.port),
                             "--machines", ",".join(machines), "--rate", str(rate), "--count", str(count),
                             "--tag", tag], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"publisher failed: {err.strip()[-500:]}")
    return dict(json.loads(out.strip().splitlines()[-1]))


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    name: str
    offered_rate: float  # 0: unpaced
    events: int
    seconds: float  # first publish to last arrival (raw) or last commit (ingest)
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def raw_phase(broker: BenchBroker, machines: Sequence[str], rate: float, count: int, tag: str) -> Phase:
    arrivals: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
    done = threading.Event()
    got = [0]

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        arrivals.put((time.time(), bytes(msg.payload)))
        got[0] += 1
        if got[0] >= count:
            done.set()

    sub = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"raw-{tag}",
                      protocol=mqtt.MQTTv5)
    sub.username_pw_set("bridge", broker.passwords["bridge"])
    sub.on_message = on_message
    subscribed = threading.Event()
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.connect(broker.host, broker.port, keepalive=30)
    sub.loop_start()
    sub.subscribe("vend/+/events", qos=1)
    if not subscribed.wait(10):
        raise RuntimeError("raw subscriber could not subscribe")
    pub = _flood(broker, machines, rate, count, tag)
    done.wait(120)
    _finish(pub)
    sub.disconnect()
    sub.loop_stop()
    lat, first, last = [], float("inf"), 0.0
    while not arrivals.empty():
        at, payload = arrivals.get()
        sent = _ts(json.loads(payload)["ts"])
        lat.append(at - sent)
        first, last = min(first, sent), max(last, at)
    return _phase(tag, rate, lat, first, last)


def ingest_phase(machines: Sequence[str], broker: BenchBroker, workdir: Path, rate: float, count: int,
                 tag: str) -> Phase:
    from bridge.compose.live import build_live
    from bridge.live.config import LiveConfig

    os.environ["VEND_BENCH_MQTT_PW"] = broker.passwords["bridge"]
    config = LiveConfig.model_validate({
        "bridge": {"db": f"sqlite:///{workdir / f'{tag}.db'}", "max_delay_ms": 20},
        "mqtt": {"host": broker.host, "port": broker.port, "password_env": "VEND_BENCH_MQTT_PW",
                 "client_id": f"bridge-{tag}", "session_expiry_s": 1},  # gone soon after its phase
        "machines": [{"id": m} for m in machines]})
    lat: list[float] = []
    first, last = [float("inf")], [0.0]
    stop = threading.Event()

    def on_commit(events: Sequence[ev.Event], at: float) -> None:
        for e in events:
            if isinstance(e, ev.Sale):
                sent = e.ts.timestamp()
                lat.append(at - sent)
                first[0] = min(first[0], sent)
        last[0] = at
        if len(lat) >= count:
            stop.set()

    bridge = build_live(config, on_commit=on_commit)
    try:
        if not bridge.fleet.wait_subscribed(10):
            raise RuntimeError("the bridge could not subscribe")
        pub = _flood(broker, machines, rate, count, tag)
        timer = threading.Timer(120, stop.set)
        timer.start()
        bridge.run(stop)
        timer.cancel()
        _finish(pub)
    finally:
        bridge.close()
    if len(lat) != count:
        raise RuntimeError(f"the bridge recorded {len(lat)} of {count} vends")
    return _phase(tag, rate, lat, first[0], last[0])


def _ts(value: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(value).timestamp()


def _phase(name: str, rate: float, lat: list[float], first: float, last: float) -> Phase:
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    return Phase(name=name, offered_rate=rate, events=len(lat), seconds=last - first,
                 p50_ms=q[49] * 1000, p99_ms=q[98] * 1000)


def run(*, rate: int, seconds: float, machines: int, latency_rate: int, latency_seconds: float) -> dict[str, Any]:
    ids = [f"m{i + 1}" for i in range(machines)]
    work = Path(tempfile.mkdtemp(prefix="vend-bench-ingest-"))
    broker = BenchBroker(work, ["bridge", *ids])
    try:
        n = int(rate * seconds)
        raw = raw_phase(broker, ids, rate, n, "raw")
        ingest = ingest_phase(ids, broker, work, rate, n, "ingest")
        low = ingest_phase(ids, broker, work, latency_rate, int(latency_rate * latency_seconds), "latency")
        raw_max = raw_phase(broker, ids, 0, n, "rawmax")
        ingest_max = ingest_phase(ids, broker, work, 0, n, "ingestmax")
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    return {"phases": [{**_asdict(p), "rate": p.rate} for p in (raw, ingest, low, raw_max, ingest_max)],
            "ratio_fixed": ingest.rate / raw.rate, "ratio_unpaced": ingest_max.rate / raw_max.rate,
            "machines": machines}


def _asdict(p: Phase) -> dict[str, Any]:
    return {"name": p.name, "offered_rate": p.offered_rate, "events": p.events, "seconds": p.seconds,
            "p50_ms": p.p50_ms, "p99_ms": p.p99_ms}
