"""`vend live` with `[policy] name = "llm"`: the real Anthropic SDK pointed (by the config's [llm] base_url)
at the loopback fake, whose scripted replies reach the tools in the live process: a price under the floor is
refused by the guardrails, an allowed one becomes a command the emulated machine applies."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from hardware_adapters.emulator import Slot
from tests.broker import REPO, MosquittoBroker, free_port
from tests.fakes.anthropic_api import FakeAnthropic, reply, tool_use
from tests.gate_verdicts import pass_gate
from tests.live_e2e.kit import (
    Books,
    LiveProcess,
    device,
    emulator_commands,
    live_env,
    noon_zone,
    opening_books,
    wait_for,
    write_config,
)
from tests.slack.rig import fake_slack

KEY = "sk-ant-e2e-3f9a1c7e5b2d4f6a8c0e"


def llm_section(url: str) -> str:
    return f'\n[llm]\nmodel = "claude-haiku-4-5"\nbase_url = "{url}"\nmax_tokens = 1024\nmax_retries = 0\n'


def test_a_scripted_model_reply_reaches_the_machine_through_the_guardrails(
        mosquitto_broker: MosquittoBroker, tmp_path: Path) -> None:
    broker = mosquitto_broker
    tz = noon_zone(datetime.now(UTC))
    today = datetime.now(ZoneInfo(tz)).date().isoformat()
    db = tmp_path / "live.db"
    opening_books(db, tz=tz, loads={"A1": ("cola", 10), "A2": ("chips", 20)}, storage={"cola": 50, "chips": 20})
    books = Books(db)
    script = [reply("Cola sells; but first a cheap test.", tool_use("set_price", {"slot": "A1", "price_cents": 50})),
              reply(tool_use("set_price", {"slot": "A1", "price_cents": 175})),
              reply(tool_use("wait_for_next_day", {}))]
    with fake_slack() as fake, FakeAnthropic(script=script) as model:
        port = free_port()
        config = write_config(tmp_path / "live.toml", db=db, broker=broker, fake=fake, http_port=port, tz=tz,
                              policy="llm", extra=llm_section(model.url))
        env = {k: v for k, v in live_env(broker).items() if k != "ANTHROPIC_BASE_URL"} | {"ANTHROPIC_API_KEY": KEY}
        live = LiveProcess(config=config, env=env, port=port)
        dev = device(broker, tmp_path, {"A1": Slot(count=10, price_cents=150), "A2": Slot(count=20, price_cents=125)})
        try:
            live.start()
            assert live.health()["policy"]["name"] == "llm"
            dev.start()
            dev.publish_inventory()
            wait_for("the machine's first snapshot", lambda: books.slot_telemetry("A1"), lambda n: n == 10)

            assert live.job("open_day", today)["ran"] is True  # the session: three model replies
            assert model.remaining == 0
            calls = wait_for("the model's tool calls in the audit log", lambda: books.store.rows(
                "audit_log", tool="set_price"), lambda rows: len(rows) == 2)
            verdicts = {json.loads(r["args_json"])["price_cents"]: (r["verdict"], r["ok"]) for r in calls}
            assert verdicts == {50: ("refused:price_floor", False), 175: ("allowed", True)}
            assert calls[0]["input_tokens"] > 0  # the model's usage is kept with its calls
            assert emulator_commands(tmp_path) == 1  # the refused price never left the bridge
            assert dev.inventory()["A1"]["price_cents"] == 175
            dev.vend("A1", "card")
            wait_for("a sale at the new price", lambda: books.count(
                "SELECT COUNT(*) FROM ledger_line WHERE credit = 'revenue' AND amount_cents = 175"), lambda n: n == 1)
            assert live.terminate() == 0
        finally:
            live.stop_quietly()
            dev.stop()
        requests = model.message_requests
        assert len(requests) == 3 and model.violations == []
        assert all(KEY in (r.headers.get("x-api-key", ""), r.headers.get("authorization", "").removeprefix("Bearer "))
                   and r.json["model"] == "claude-haiku-4-5" and r.json["max_tokens"] == 1024 for r in requests)
        refusal = [b for b in requests[1].json["messages"][-1]["content"] if b.get("type") == "tool_result"]
        assert refusal and "floor" in json.dumps(refusal[0])  # the model is told why
        assert {t["name"] for t in requests[0].json["tools"]} >= {"set_price", "restock", "set_memory", "add_note"}
    assert all(KEY not in text for text in live.logs)
    books.close()


def test_the_llm_policy_without_a_key_is_a_one_line_error(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    cfg = tmp_path / "live.toml"
    cfg.write_text(f'[bridge]\ndb = "sqlite:///{db}"\n[policy]\nname = "llm"\n{llm_section("http://127.0.0.1:9")}')
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "bridge.cli", "live", "--config", str(cfg),
                           "--verdicts", str(pass_gate(cfg))], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == \
        "vend: error: the llm policy needs an Anthropic API key: set ANTHROPIC_API_KEY"
    assert not db.exists()  # nothing was opened
