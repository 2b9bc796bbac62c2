"""`python -m hardware_adapters.emulator`: run one emulated machine against a broker."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn

from bridge.argtypes import above_zero as _above_zero
from bridge.argtypes import positive as _count
from hardware_adapters.emulator.device import DeviceEmulator


def _broker(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT")
    return host, int(port)


MACHINE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _machine_id(value: str) -> str:
    if not MACHINE_ID.fullmatch(value):
        raise argparse.ArgumentTypeError(f"{value!r} is no machine id (letters, digits, '_', '.', '-'; it is an MQTT "
                                         "topic level, so no '/', '+' or '#')")
    return value


class _OneLine(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser(prog: str = "python -m hardware_adapters.emulator") -> argparse.ArgumentParser:
    p = _OneLine(prog=prog, description=__doc__)
    p.add_argument("--machine", required=True, type=_machine_id,
                   help="machine id: MQTT client id, username and topic level")
    p.add_argument(
        "--broker", type=_broker, default=("127.0.0.1", 1883), help="HOST:PORT (default 127.0.0.1:1883)"
    )
    p.add_argument("--password", default=None, help="MQTT password (default: env VEND_DEVICE_PASSWORD)")
    p.add_argument("--rate", type=_above_zero, default=0.1,
                   help="purchases per second, Poisson (default 0.1: --count 50 takes about 8 minutes)")
    p.add_argument("--count", type=_count, default=None, help="stop after this many purchases")
    p.add_argument("--duration", type=_above_zero, default=None, help="stop after this many seconds")
    p.add_argument(
        "--outbox", type=Path, default=None, help="outbox SQLite file (default ./<machine>.outbox.db)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--inventory-every", type=float, default=60.0, help="seconds between inventory snapshots")
    p.add_argument("--dex-every", type=float, default=3600.0, help="seconds between DEX audits")
    p.add_argument("--drain-timeout", type=float, default=30.0, help="seconds to wait for PUBACKs at the end")
    return p


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m hardware_adapters.emulator") -> int:
    args = build_parser(prog).parse_args(argv)
    password = args.password if args.password is not None else os.environ.get("VEND_DEVICE_PASSWORD")
    if not password:
        print(f"{prog}: error: no password: pass --password or set VEND_DEVICE_PASSWORD", file=sys.stderr)
        return 2
    if args.count is None and args.duration is None:
        print(f"{prog}: error: give --count or --duration (at the default --rate 0.1 a second, --count 50 "
              "takes about 8 minutes)", file=sys.stderr)
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
