"""`vend live --shadow` as a subprocess on loopback: the scripted shopkeeper's WRITE calls are recorded
with verdict "shadow" and change nothing in the world (no Slack task, no command to the machine), while the
machine's events still flow into the books; `vend shadow-report` then sets them beside what ops did."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bridge.cli import main
from hardware_adapters.emulator import Slot
from tests.broker import MosquittoBroker, free_port
from tests.live_e2e.kit import (
    Books,
    LiveProcess,
    device,
    emulator_commands,
    json_lines,
    live_env,
    noon_zone,
    opening_books,
    task_messages,
    wait_for,
    write_config,
)
from tests.slack.rig import OPS_CH, fake_slack

SCRIPT = """
name = "shadow-shopkeeper"
[[days]]
day = 1
calls = [
  { tool = "set_price", args = { slot = "A1", price_cents = 175 } },
  { tool = "restock", args = { slots = [ { slot = "A1", sku = "cola", count = 5 } ] } },
]
"""


def test_shadow_mode_records_the_shopkeepers_writes_and_changes_nothing(
        mosquitto_broker: MosquittoBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broker = mosquitto_broker
    tz = noon_zone(datetime.now(UTC))
    today = datetime.now(ZoneInfo(tz)).date().isoformat()
    db = tmp_path / "live.db"
    opening_books(db, tz=tz, loads={"A1": ("cola", 10), "A2": ("chips", 20)}, storage={"cola": 50, "chips": 20})
    (tmp_path / "shopkeeper.toml").write_text(SCRIPT)
    books = Books(db)
    with fake_slack() as fake:
        port = free_port()
        config = write_config(tmp_path / "live.toml", db=db, broker=broker, fake=fake, http_port=port, tz=tz,
                              script=tmp_path / "shopkeeper.toml")
        live = LiveProcess(config=config, env=live_env(broker), port=port, args=("--shadow",))
        dev = device(broker, tmp_path, {"A1": Slot(count=10, price_cents=150), "A2": Slot(count=20, price_cents=125)})
        try:
            live.start()
            assert live.health()["policy"]["shadow"] is True
            dev.start()
            dev.publish_inventory()
            wait_for("the machine's first snapshot", lambda: books.slot_telemetry("A1"), lambda n: n == 10)
            dev.vend("A1", "card")
            wait_for("the first sale in the books", lambda: books.events("sale"), lambda n: n == 1)

            # the shopkeeper's session: both WRITE calls pass the guardrails and are only recorded
            assert live.job("open_day", today)["ran"] is True
            shadow_rows = wait_for("the shadow calls in the audit log", lambda: books.store.rows(
                "audit_log", verdict="shadow"), lambda rows: len(rows) == 2)
            assert sorted(r["tool"] for r in shadow_rows) == ["restock", "set_price"]
            results = {r["tool"]: json.loads(r["result_json"]) for r in shadow_rows if r["ok"]}
            assert results["set_price"] == {"slot": "A1", "price_cents": 175}  # the twin's answer, of the real shape
            assert set(results["restock"]) == {"task_id", "due"} and results["restock"]["task_id"].startswith("shadow-")
            assert books.count("SELECT COUNT(*) FROM audit_log WHERE kind = 'write' AND verdict != 'shadow'") == 0

            # ... and nothing reached the world: no task in Slack, no command to the machine, no open task
            assert task_messages(fake) == []
            assert [m for m in fake.history(OPS_CH) if m.get("user") == fake.bot_user_id] == []
            assert emulator_commands(tmp_path) == 0
            assert dev.inventory()["A1"]["price_cents"] == 150
            assert books.count("SELECT COUNT(*) FROM task") == 0

            # the world's events keep flowing: a sale at the old price, and ops restocking A2 by hand
            dev.vend("A1", "cash")
            dev.restock("A2", 3)
            wait_for("the second sale", lambda: books.events("sale"), lambda n: n == 2)
            wait_for("ops' restock in the books", lambda: books.stock("m1:A2", "chips"), lambda n: n == 23)
            assert books.count("SELECT SUM(amount_cents) FROM ledger_line WHERE credit = 'revenue'") == 300
            assert emulator_commands(tmp_path) == 0
            assert live.terminate() == 0
        finally:
            live.stop_quietly()
            dev.stop()
            assert fake.violations == []

    runs = books.store.rows("run_info")
    assert [r["mode"] for r in runs] == ["shadow"] and runs[0]["run_id"].startswith("shadow-")
    books.close()
    assert main(["shadow-report", "--db", f"sqlite:///{db}", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [d["day"] for d in report["days"]] == [today]
    kinds = report["days"][0]["kinds"]
    assert kinds["set_price"]["agent_only"] == [{"machine": "m1", "slot": "A1", "price_cents": 175}]
    assert kinds["restock"]["agent_only"] == [{"machine": "m1", "slot": "A1", "sku": "cola", "count": 5}]
    assert kinds["restock"]["ops_only"] == [{"machine": "m1", "slot": "A2", "sku": "chips", "count": 3}]


SUPPLIERS = ('suppliers = [ { supplier = "cc", name = "Cash and Carry", lead_time_days = 1, '
             'skus = ["coke-12oz", "pepsi-12oz"] } ]')


def test_the_baseline_runs_shop_days_in_shadow_without_a_crash(mosquitto_broker: MosquittoBroker,
                                                              tmp_path: Path) -> None:
    """`vend live --shadow` with the baseline (the issue's crash: KeyError('lines') on day 1) for four job
    days with customers buying from the emulated machine: no policy crash in the log, its purchases and
    every WRITE it makes answered by the twin and audited as shadow, nothing sent to Slack or the machine.
    (The job days run on the wall clock's day; tests/live_e2e/test_shadow_twin.py runs a week of shop
    days on a stepped clock and requires quotes, orders and restocks.)"""
    broker = mosquitto_broker
    tz = noon_zone(datetime.now(UTC))
    today = datetime.now(ZoneInfo(tz)).date()
    db = tmp_path / "live.db"
    # catalogue products (the baseline buys what the catalogue knows), two of each left in storage
    opening_books(db, tz=tz, loads={"A1": ("coke-12oz", 6), "A2": ("pepsi-12oz", 6)},
                  storage={"coke-12oz": 8, "pepsi-12oz": 8})
    books = Books(db)
    with fake_slack() as fake:
        port = free_port()
        config = write_config(tmp_path / "live.toml", db=db, broker=broker, fake=fake, http_port=port, tz=tz,
                              policy="baseline", extra=SUPPLIERS)
        config.write_text(config.read_text().replace('A1 = "cola", A2 = "chips"', 'A1 = "coke-12oz", A2 = "pepsi-12oz"'))
        live = LiveProcess(config=config, env=live_env(broker), port=port, args=("--shadow",))
        dev = device(broker, tmp_path, {"A1": Slot(count=6, price_cents=150), "A2": Slot(count=6, price_cents=125)})
        try:
            live.start()
            dev.start()
            dev.publish_inventory()
            wait_for("the machine's first snapshot", lambda: books.slot_telemetry("A1"), lambda n: n == 6)
            sold = 0
            for back in range(3, -1, -1):  # four shop days, the oldest first
                day = (today - timedelta(days=back)).isoformat()
                assert live.job("open_day", day)["ran"] is True
                for slot in ("A1", "A2"):
                    dev.vend(slot, "card")
                    sold += 1
                wait_for("the day's sales in the books", lambda: books.events("sale"), lambda n, s=sold: n == s)
                assert live.job("close_day", day)["ran"] is True
            assert live.terminate() == 0
        finally:
            live.stop_quietly()
            dev.stop()
            assert fake.violations == []
    log = json_lines(live.logs[-1])
    assert [line for line in log if line.get("msg") == "policy crashed"] == []
    assert len([line for line in log if line.get("msg") == "job done" and line.get("job") == "open_day"]) == 4
    writes = books.store.rows("audit_log", kind="write")
    assert books.count("SELECT COUNT(*) FROM day_close") == 4
    shadow = [r for r in writes if r["verdict"] == "shadow"]
    assert all(r["verdict"] == "shadow" or r["verdict"].startswith(("refused:", "approval:")) for r in writes)
    assert [r for r in shadow if not r["ok"]] == []
    assert task_messages(fake) == [] and emulator_commands(tmp_path) == 0
    assert books.count("SELECT COUNT(*) FROM purchase_order") == 0
    books.close()
