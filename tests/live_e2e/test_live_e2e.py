"""The whole live composition on loopback, end to end.

`vend live` runs as a subprocess with every adapter on loopback: the device emulator on a real mosquitto
(the project's ACL), the fake Slack, a scripted shopkeeper, the scheduler and the HTTP server. A customer
buys, stock runs low, the shopkeeper asks ops to restock in Slack, ops confirm counts (signed requests to
the running /slack/events), the books follow, the day closes and its report is posted; the process is
SIGKILLed mid-stream and restarted, and nothing is lost or doubled. The jobs are run through the
scheduler's exactly-once claims by POST /jobs/{name} (no waiting for the clock); every wait is a
condition with a deadline.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hardware_adapters.doubles.slack_inbound import SlackInbound
from hardware_adapters.emulator import Slot
from tests.broker import MosquittoBroker, free_port
from tests.live_e2e.kit import (
    SECRETS,
    SIGNING_SECRET,
    Books,
    LiveProcess,
    confirm_restock,
    device,
    json_lines,
    live_env,
    noon_zone,
    opening_books,
    task_messages,
    wait_for,
    write_config,
)
from tests.slack.rig import OLGA, OPS_CH, fake_slack

SCRIPT = """
name = "e2e-shopkeeper"
[[days]]
day = 1
calls = [ { tool = "restock", args = { slots = [ { slot = "A1", sku = "cola", count = 8 } ] } } ]
[[days]]
day = 2
calls = [ { tool = "restock", args = { slots = [ { slot = "A1", sku = "cola", count = 6 } ] } } ]
"""


def test_the_live_shop_end_to_end_survives_a_sigkill(mosquitto_broker: MosquittoBroker, tmp_path: Path) -> None:
    broker = mosquitto_broker
    tz = noon_zone(datetime.now(UTC))
    today = datetime.now(ZoneInfo(tz)).date().isoformat()
    db = tmp_path / "live.db"
    opening_books(db, tz=tz, loads={"A1": ("cola", 10), "A2": ("chips", 20)}, storage={"cola": 50, "chips": 20})  # 40 colas left in storage
    (tmp_path / "shopkeeper.toml").write_text(SCRIPT)
    inbound = SlackInbound(signing_secret=SIGNING_SECRET)
    books = Books(db)
    with fake_slack() as fake:
        port = free_port()
        config = write_config(tmp_path / "live.toml", db=db, broker=broker, fake=fake, http_port=port, tz=tz,
                              script=tmp_path / "shopkeeper.toml")
        live = LiveProcess(config=config, env=live_env(broker), port=port)
        dev = device(broker, tmp_path, {"A1": Slot(count=10, price_cents=150), "A2": Slot(count=20, price_cents=125)})
        try:
            live.start()
            health = live.health()
            assert health["ok"] and health["mqtt"]["ok"] and health["slack"]["auth"].startswith("ok")
            assert health["scheduler"]["running"] and health["stripe"] == {"ok": True, "configured": False}
            assert health["scheduler"]["next"]["close_day"].startswith(today)  # tonight's close is still to come

            # a customer buys: 7 colas, and stock runs low (3 left)
            dev.start()
            dev.publish_inventory()  # the machine's own counts, which its later reports move
            wait_for("the machine's first snapshot", lambda: books.slot_telemetry("A1"), lambda n: n == 10)
            for _ in range(7):
                dev.vend("A1", "card")
            wait_for("7 sales in the books", lambda: books.events("sale"), lambda n: n == 7)
            assert books.stock("m1:A1", "cola") == 3
            assert live.health()["ingest"]["last_event_age_s"] is not None

            # the shopkeeper's session: it asks ops to restock in Slack
            assert live.job("open_day", today)["ran"] is True
            task = wait_for("the restock task in the ops channel", lambda: task_messages(fake))[-1]
            assert "A1" in task["text"] or "A1" in str(task["blocks"])
            assert books.stock("m1:A1", "cola") == 3  # asked is not done

            # ops load the machine (the device reports it: telemetry) and confirm the counts in Slack
            dev.restock("A1", 8)
            wait_for("the machine's own restock report", lambda: books.slot_telemetry("A1"), lambda n: n == 11)
            confirm_restock(live, fake, inbound, user=OLGA, message=task, counts={"A1": 8})
            wait_for("the confirmed restock in the books", lambda: books.stock("m1:A1", "cola"), lambda n: n == 11)
            assert books.stock("storage", "cola") == 32
            assert books.events("machine_restocked") == 1  # the device's report is telemetry ...
            assert books.events("restocked") == 3  # ... the books took the person's count (plus 2 opening loads)
            assert books.events("alarm") == 0  # the counts agree with the machine's telemetry
            assert books.count("SELECT COUNT(*) FROM task WHERE status = 'done'") == 1

            # the day closes: booked under today, the report (a chart) posted to the ops channel
            assert live.job("close_day", today)["ran"] is True
            close = books.store.rows("day_close", day=today)
            assert len(close) == 1 and close[0]["units_sold"] == 7 and close[0]["revenue_cents"] == 7 * 150
            reports = [f for f in fake.files.values() if f.completed and f.channel_id == OPS_CH]
            assert len(reports) == 1 and reports[0].data is not None and reports[0].data.startswith(b"\x89PNG")

            # customers keep buying while the process is SIGKILLed and restarted
            sold: list[str] = []
            buyer = threading.Thread(target=lambda: sold.extend(dev.vend(s, "cash") for s in ["A1", "A2"] * 9))
            buyer.start()
            wait_for("some of the next sales", lambda: books.events("sale"), lambda n: n >= 9)
            live.kill()
            buyer.join(timeout=20)
            assert len(sold) == 18
            live.start()
            wait_for("every vend in the books", lambda: books.events("sale"), lambda n: n >= 25, timeout=60)
            assert dev.wait_drained(timeout=10)

            # the close of today already ran: asking again changes nothing (and posts no second report)
            assert live.job("close_day", today)["ran"] is False
            assert len([f for f in fake.files.values() if f.completed]) == 1

            # after the restart a new restock task gets a new id, and its confirmation books once more
            tomorrow = (datetime.now(ZoneInfo(tz)) + timedelta(days=1)).date().isoformat()
            # the shopkeeper remembers its first session across the SIGKILL (bridge/resume.py): this is its second
            assert live.job("open_day", tomorrow)["ran"] is True
            assert books.count("SELECT COUNT(*) FROM runtime_state") == 1
            second = wait_for("a second task", lambda: [m for m in task_messages(fake) if m["ts"] != task["ts"]])[-1]
            assert task_messages(fake) == [second]  # the first one is done: its buttons are gone
            assert "add 6 x cola" in str(second["blocks"])  # session 2's restock, not session 1's again
            dev.restock("A1", 6)
            confirm_restock(live, fake, inbound, user=OLGA, message=second, counts={"A1": 6})
            wait_for("the second restock in the books", lambda: books.events("restocked"), lambda n: n == 4)
            assert live.terminate() == 0  # SIGTERM: a clean stop
        finally:
            live.stop_quietly()
            dev.stop()
            # every request and response exchanged with the fake Slack matched Slack's published spec
            assert fake.violations == []

    # nothing lost, nothing doubled: every vend the device made is one sale, once; each restock once
    assert books.events("sale") == 25
    lines = books.store.rows("ledger_line", credit="revenue")
    assert len(lines) == 25 and len({r["event_id"] for r in lines}) == 25
    took = sum(c.value_cents for c in dev._state.payment_counters.values())
    assert sum(r["amount_cents"] for r in lines) == took
    sold_a1 = 7 + 9
    assert books.stock("m1:A1", "cola") == 10 - sold_a1 + 8 + 6
    assert books.stock("m1:A2", "chips") == 20 - 9
    assert books.stock("storage", "cola") == 40 - 14
    assert books.events("restocked") == 4 and books.events("machine_restocked") == 2
    task_ids = [r["task_id"] for r in books.store.rows("task")]
    assert len(task_ids) == len(set(task_ids)) == 2
    assert len(books.store.rows("day_close")) == 1
    assert books.count("SELECT COUNT(*) FROM scheduler_run WHERE job = 'close_day' AND status = 'done'") == 1
    books.close()

    # structured logs, and not one secret in them
    for text in live.logs:
        records = json_lines(text)
        assert records and all({"ts", "level", "logger", "msg"} <= r.keys() for r in records)
        for secret in SECRETS:
            assert secret not in text
    assert any(r["msg"] == "vend live stopped" for r in json_lines(live.logs[-1]))
