"""The live wiring of Slack's PhysicalWork (bridge/compose/live.py): ops are asked only for what the
shop's catalogue can put in a slot, and every task's receipt is due after [slack] task_due_minutes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bridge.compose.live import _slack
from bridge.domain import RestockLine
from bridge.errors import ToolError
from bridge.ledger import Ledger
from bridge.live.config import LiveConfig
from bridge.store import Store
from hardware_adapters.live import EventQueue
from tests.slack.rig import OPS_CH, OPS_GROUP, SHOP_CH, FakeMachine, FixedClock, fake_slack


def test_live_slack_knows_the_catalogue_and_says_when_a_task_is_due(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("W_SLACK_BOT", "xoxb-test")
    monkeypatch.setenv("W_SLACK_SIGNING", "wiring-signing-secret")
    (tmp_path / "products.csv").write_text(
        "sku,name,category,size,wholesale_cost_cents,reference_price_cents,elasticity,base_daily_sales,"
        "perishable_days\ncola,Cola can,soda,small,60,150,1.6,4.5,270\nbig-cola,Cola 2 l,soda,large,90,300,1.5,1,270\n")
    store = Store(url=f"sqlite:///{tmp_path / 'vend.db'}")
    clock, machine = FixedClock(), FakeMachine()
    with fake_slack() as fake:
        (tmp_path / "live.toml").write_text(f"""
[bridge]
shop = "main"
db = "sqlite:///{tmp_path / 'vend.db'}"
[policy]
catalogue = "products.csv"
[mqtt]
password_env = "W_MQTT_PW"
[[machines]]
id = "m1"
planogram = {{ A1 = "cola" }}
[slack]
ops_channel = "{OPS_CH}"
shop_channel = "{SHOP_CH}"
ops_usergroup = "{OPS_GROUP}"
bot_token_env = "W_SLACK_BOT"
signing_secret_env = "W_SLACK_SIGNING"
base_url = "{fake.api_url}"
task_due_minutes = 45
""")
        config = LiveConfig.load(tmp_path / "live.toml")
        try:
            slack = _slack(config, clock=clock, ledger=Ledger(shop="main", store=store), inbox=EventQueue(),
                           machines={"m1": machine})
            physical = slack.physical
            for sku in ("no-such-product", "big-cola"):  # unknown; large for small slot A1
                with pytest.raises(ToolError):
                    physical.request_restock(machine="m1", lines=(RestockLine(slot="A1", sku=sku, count=2),))
            assert fake.history(OPS_CH) == []  # nobody was asked
            due = clock.now() + timedelta(minutes=45)
            receipts = [physical.request_restock(machine="m1", lines=(RestockLine(slot="C1", sku="big-cola", count=2),)),
                        physical.request_cash_collection(machine="m1"),
                        physical.request_handover(sku="cola", quantity=2, customer="U0ALICE01", payment_ref="pl_1",
                                                  amount_cents=300)]
            assert [(r.kind, r.due_at) for r in receipts] == [("restock", due), ("collect_cash", due),
                                                               ("handover", due)]
            assert len(fake.history(OPS_CH)) == 3
            assert fake.violations == []
        finally:
            store.close()
