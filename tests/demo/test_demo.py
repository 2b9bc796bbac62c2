"""`vend demo`: vend hil's composition paced to the wall clock, its feed, and its stop (Ctrl-C, SIGTERM, the
terminal's Ctrl-C to the whole process group, --duration) leaving nothing running: run as a real process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

import pytest

from bridge.compose.demo import Demo, Feed, children
from tests.broker import find_tool

VEND = [sys.executable, "-m", "bridge.cli", "demo"]
SALE = re.compile(r"^\d\d:\d\d sale +(\S+) (\S+) (?:(\d+) x )?(\S+) \$[\d,]+\.\d\d (card|cash)$")
CLOSE = re.compile(r"^23:55 close +\d{4}-\d\d-\d\d units \d+ revenue \$[\d,.]+ bank \$[\d,.]+ net worth \$[\d,.]+$")
START_DEADLINE_S = 120.0  # to the first sale (day 4 of project_vend): a few seconds at 86400x on an idle machine
STOP_DEADLINE_S = 20.0


@pytest.fixture(autouse=True)
def _mosquitto() -> None:
    find_tool("mosquitto")  # missing: fails with CI=true, else skips


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*VEND, "--out", str(tmp_path), "--name", "demo", "--no-charts", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _lines_until(stream: IO[str], pattern: re.Pattern[str], *, deadline_s: float) -> list[str]:
    """Lines read until one matches (a reader thread, so the wait has a deadline)."""
    got: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in stream:
            got.append(line.rstrip("\n"))
            if pattern.search(line):
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    assert found.wait(deadline_s), f"no line matching {pattern.pattern!r} within {deadline_s:g} s:\n" + \
        "\n".join(got[-20:])
    return got


def _ports(header: list[str]) -> list[int]:
    text = "\n".join(header[:6])
    return [int(p) for p in re.findall(r"(?:127\.0\.0\.1:|port )(\d+)", text)]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _sales_in_store(run_dir: Path) -> int:
    with sqlite3.connect(run_dir / "vend.db") as db:
        return int(db.execute("select count(*) from processed_event where kind = 'sale'").fetchone()[0])


def test_a_timed_demo_shows_sales_and_closes_and_writes_the_run(tmp_path: Path) -> None:
    """--duration: the feed shows sales and day closes with the books, the clock never ran ahead of the wall
    clock times --speed, and the run folder's store holds the sales it showed."""
    t0 = time.monotonic()
    done = subprocess.run([*VEND, "--duration", "20", "--speed", "86400", "--out", str(tmp_path), "--name", "demo",
                           "--no-charts"], capture_output=True, text=True, timeout=180)
    wall = time.monotonic() - t0
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    sales = [m for line in lines if (m := SALE.match(line))]
    closes = [line for line in lines if CLOSE.match(line)]
    assert sales and closes, done.stdout[-3000:]
    assert any(" task " in line for line in lines) and any(" msg    customer " in line for line in lines)
    assert any(line.startswith("net worth ") for line in lines) and lines[-1].startswith("stopped; nothing left running")
    run_dir = tmp_path / "demo"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["ended_by"] == "duration" and summary["mode"] == "demo"
    assert summary["units_sold"] == sum(int(m[3] or 1) for m in sales)
    assert _sales_in_store(run_dir) == len(sales)
    assert summary["days_run"] == len(closes)
    # paced: 20 s at a simulated day a second is at most 20 simulated days (and the run took the 20 s)
    assert wall >= 20 and summary["days_run"] <= 21
    assert done.stderr.strip() == "vend demo: 20 s passed: stopping at the next quiet point"


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGINT to the process group"])
def test_a_signal_stops_the_demo_with_nothing_left_running(tmp_path: Path, how: str) -> None:
    """After the first sale: the signal ends the run at the next quiet point, the books are printed, and the
    broker it started, every other process under it, its ports and its threads are gone. The terminal's
    Ctrl-C reaches the whole process group: the broker must not die under the shop before it is stopped."""
    proc = _start(tmp_path, "--speed", "86400")
    assert proc.stdout is not None and proc.stderr is not None
    try:
        head = _lines_until(proc.stdout, SALE, deadline_s=START_DEADLINE_S)
        started = children(proc.pid)
        ports = _ports(head)
        assert "mosquitto" in started.values() and len(ports) == 4 and all(_listening(p) for p in ports)
        broker = int(re.search(r"mosquitto pid (\d+)", head[1])[1])  # type: ignore[index]
        assert started[broker] == "mosquitto"
        sent = time.monotonic()
        if how.endswith("group"):
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(getattr(signal, how))
        rest, err = proc.communicate(timeout=STOP_DEADLINE_S)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert took < STOP_DEADLINE_S
    tail = rest.splitlines()
    assert any(line.startswith("net worth ") for line in tail) and any(line.startswith("bank ") for line in tail)
    assert tail[-1].startswith("stopped; nothing left running") and f"mosquitto pid {broker}" in tail[-1]
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["ended_by"] == "interrupted" and summary["units_sold"] >= 1
    said = "SIGTERM" if how == "SIGTERM" else "Ctrl-C"
    assert err.strip() == f"vend demo: {said}: stopping at the next quiet point (again to abort)"
    assert [pid for pid in started if _alive(pid)] == []
    assert [p for p in ports if _listening(p)] == []
    assert "Traceback" not in err


def _stub_run(outcome: Any) -> Any:
    start = datetime(2026, 1, 5, 8, 0).astimezone()
    pump = SimpleNamespace(wait_until=lambda when: [])
    live = SimpleNamespace(runtime=SimpleNamespace(outcome=outcome, backend=SimpleNamespace(events=pump)),
                           loop=SimpleNamespace(pump=lambda: None))
    return SimpleNamespace(world=SimpleNamespace(now=start), live=live, scenario=SimpleNamespace(tz=start.tzinfo),
                           outside=SimpleNamespace(ops=SimpleNamespace(slack=None)))


def test_the_pacer_keeps_the_clock_behind_the_wall_and_a_stop_is_honoured_at_once() -> None:
    outcome = SimpleNamespace(ended_by="")
    with open(os.devnull, "w") as err:
        demo = Demo(speed=36_000.0, duration=None, feed=Feed(err), err=err)
        run = _stub_run(outcome)
        demo.attach(run)
        t0 = time.monotonic()
        assert demo.pace(run.world.now + timedelta(hours=2)) is True  # 7,200 simulated s at 36,000x: 0.2 s
        assert time.monotonic() - t0 >= 0.2
        timer = threading.Timer(0.2, demo.on_signal, args=(signal.SIGINT, None))
        timer.start()
        t1 = time.monotonic()
        assert demo.pace(run.world.now + timedelta(days=30)) is False  # would wait 72 s
        assert time.monotonic() - t1 < 1.0 and outcome.ended_by == "interrupted"
        with pytest.raises(KeyboardInterrupt):
            demo.on_signal(signal.SIGINT, None)  # the second: abort
        demo.closing = True
        demo.on_signal(signal.SIGINT, None)  # closing: the third waits for it


def test_duration_ends_the_run_by_the_wall_clock() -> None:
    outcome = SimpleNamespace(ended_by="")
    with open(os.devnull, "w") as err:
        demo = Demo(speed=1.0, duration=0.3, feed=Feed(err), err=err)
        run = _stub_run(outcome)
        demo.attach(run)
        t0 = time.monotonic()
        assert demo.pace(run.world.now + timedelta(hours=1)) is False
        assert 0.3 <= time.monotonic() - t0 < 1.0 and outcome.ended_by == "duration"


def test_a_reader_that_goes_away_ends_the_demo_quietly(tmp_path: Path) -> None:
    """`vend demo | head`: once the reader has closed the pipe the run ends, exit 0, nothing left running."""
    proc = _start(tmp_path, "--speed", "86400")
    assert proc.stdout is not None and proc.stderr is not None
    try:
        head = _lines_until(proc.stdout, re.compile(r" task "), deadline_s=START_DEADLINE_S)
        started = children(proc.pid)
        proc.stdout.close()
        proc.wait(timeout=STOP_DEADLINE_S)
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0 and err == ""
    assert "mosquitto" in started.values() and [pid for pid in started if _alive(pid)] == []
    assert [p for p in _ports(head) if _listening(p)] == []
    assert json.loads((tmp_path / "demo" / "summary.json").read_text())["ended_by"] == "output_closed"


def test_a_broker_that_does_not_start_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run([*VEND, "--out", str(tmp_path)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "VEND_MOSQUITTO": "/bin/false"})
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("vend: error: the broker did not start") and len(done.stderr.splitlines()) == 1


def test_the_feed_never_raises_into_the_shops_booking() -> None:
    """The feed runs inside the booking of each event: a failure there would dead-letter the event."""

    class Closed:
        def write(self, _: str) -> int:
            raise BrokenPipeError

        def flush(self) -> None:
            raise BrokenPipeError

    feed = Feed(Closed())  # type: ignore[arg-type]
    day = SimpleNamespace(ts=datetime(2026, 1, 5, 23, 55).astimezone(), day="2026-01-05", units_sold=1,
                          revenue_cents=150, bank_cents=1, net_worth_cents=2)
    feed.guarded(feed.day_closed)(day)
    assert feed.gone and not feed.error
    broken = Feed(open(os.devnull, "w"))  # noqa: SIM115 - a file the test never writes to
    broken.guarded(lambda _: 1 / 0)(None)
    assert broken.error.startswith("ZeroDivisionError") and not broken.gone
    broken.out.close()
