"""`python -m hardware_adapters.emulator`: run one emulated machine against a broker."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from hardware_adapters.emulator.device import DeviceEmulator


def _broker(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT")
    return host, int(port)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hardware_adapters.emulator", description=__doc__)
    p.add_argument("--machine", required=True, help="machine id: MQTT client id, username and topic level")
    p.add_argument(
        "--broker", type=_broker, default=("127.0.0.1", 1883), help="HOST:PORT (default 127.0.0.1:1883)"
    )
    p.add_argument("--password", default=None, help="MQTT password (default: env VEND_DEVICE_PASSWORD)")
    p.add_argument("--rate", type=float, default=0.1, help="purchases per second (Poisson)")
    p.add_argument("--count", type=int, default=None, help="stop after this many purchases")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument(
        "--outbox", type=Path, default=None, help="outbox SQLite file (default ./<machine>.outbox.db)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--inventory-every", type=float, default=60.0, help="seconds between inventory snapshots")
    p.add_argument("--dex-every", type=float, default=3600.0, help="seconds between DEX audits")
    p.add_argument("--drain-timeout", type=float, default=30.0, help="seconds to wait for PUBACKs at the end")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    password = args.password if args.password is not None else os.environ.get("VEND_DEVICE_PASSWORD")
    if not password:
        print("no password: pass --password or set VEND_DEVICE_PASSWORD", file=sys.stderr)
        return 2
    if args.count is None and args.duration is None:
        print("give --count or --duration", file=sys.stderr)
        return 2
    host, port = args.broker
    emulator = DeviceEmulator(
        machine_id=args.machine,
        host=host,
        port=port,
        password=password,
        outbox_path=args.outbox or Path(f"{args.machine}.outbox.db"),
        seed=args.seed,
        inventory_interval_s=args.inventory_every,
        dex_interval_s=args.dex_every,
    ).start()
    try:
        emulator.run(args.rate, duration=args.duration, count=args.count)
        emulator.publish_inventory()
        emulator.publish_dex()
        drained = emulator.wait_drained(timeout=args.drain_timeout)
    except KeyboardInterrupt:
        drained = False
    finally:
        stats = emulator.stats()
        emulator.stop()
    print(json.dumps(asdict(stats)))
    return 0 if drained else 1
