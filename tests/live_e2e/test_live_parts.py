"""The live process's parts on their own: a close caught up after midnight, logs that never show a
secret, the jobs endpoint's checks and /healthz's verdict, and policy/config errors."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge import events as ev
from bridge.errors import ConfigError
from bridge.guardrails import GuardrailPolicy
from bridge.live.config import LiveConfig
from bridge.live.http_app import build_http_app, jobs_route
from bridge.live.jsonlog import setup_logging
from tests.slack.http_server import serve
from tests.slack.rig import make_rig


def test_a_close_caught_up_after_midnight_books_the_day_it_was_due(tmp_path: Path) -> None:
    with make_rig(tmp_path) as rig:
        yesterday = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
        rig.ledger.record(ev.Sale(id="s1", ts=yesterday, machine="m1", slot="A1", sku="cola", units=2,
                                  unit_price_cents=150, payment=ev.Payment.CARD))
        rig.clock.t = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # the process came back after midnight
        rig.runtime.close_day(at=datetime(2026, 3, 1, 23, 55, tzinfo=UTC))  # the close that was due
        rig.store.flush()
        rows = rig.store.rows("day_close")
        assert [(r["day"], r["units_sold"], r["revenue_cents"]) for r in rows] == [("2026-03-01", 2, 300)]
        rig.runtime.close_day()  # without a period: the clock's day
        rig.store.flush()
        assert sorted(r["day"] for r in rig.store.rows("day_close")) == ["2026-03-01", "2026-03-02"]


def test_logs_are_json_lines_and_never_show_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "xoxb-0123456789-very-secret"
    monkeypatch.setenv("T_SLACK_TOKEN", secret)
    out = io.StringIO()
    handler = setup_logging(secret_env_names=["T_SLACK_TOKEN", "T_UNSET"], stream=out)
    log = logging.getLogger("vendbridge.test")
    try:
        log.info("calling with %s", secret, extra={"url": f"https://x.test/?token={secret}"})
        try:
            raise RuntimeError(f"bad token {secret}")
        except RuntimeError:
            log.exception("failed")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["msg"] for r in lines] == ["calling with ***", "failed"]
    assert lines[0]["url"] == "https://x.test/?token=***" and "RuntimeError: bad token ***" in lines[1]["error"]
    assert secret not in out.getvalue()


def test_the_jobs_endpoint_needs_the_token_and_a_known_job() -> None:
    ran: list[tuple[str, date | None]] = []

    def run(name: str, day: date | None) -> dict[str, Any]:
        ran.append((name, day))
        return {"ran": True}

    def health() -> dict[str, Any]:
        return {"ok": False, "mqtt": {"ok": False}}

    app = build_http_app(routes=[jobs_route(run=run, token="tok-123456", jobs=("close_day",))], health=health)
    with serve(app) as url:
        auth = {"Authorization": "Bearer tok-123456"}
        assert httpx.post(f"{url}/jobs/close_day").status_code == 401
        assert httpx.post(f"{url}/jobs/close_day", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert httpx.post(f"{url}/jobs/drop_tables", headers=auth).status_code == 404
        assert httpx.post(f"{url}/jobs/close_day", headers=auth, content=b"{\"day\": \"soon\"}").status_code == 400
        r = httpx.post(f"{url}/jobs/close_day", headers=auth, json={"day": "2026-03-01"})
        assert r.status_code == 200 and r.json() == {"job": "close_day", "ran": True}
        assert ran == [("close_day", date(2026, 3, 1))]
        h = httpx.get(f"{url}/healthz")
        assert h.status_code == 503 and h.json()["mqtt"] == {"ok": False}


def test_the_config_names_its_policy_and_resolves_paths_from_its_folder(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from bridge.compose.live import build_live_policy

    cfg = tmp_path / "live.toml"
    cfg.write_text('[policy]\nname = "scripted:script.toml"\n')
    (tmp_path / "script.toml").write_text('name = "s"\n')
    config = LiveConfig.load(cfg)
    policy, groups = build_live_policy(config, guard=GuardrailPolicy())
    assert policy.name == "s" and groups == []
    cfg.write_text('[policy]\nname = "llm"\n[llm]\nmodel = "claude-haiku-4-5"\nmax_tokens = 512\n')
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="set ANTHROPIC_API_KEY"):
        build_live_policy(LiveConfig.load(cfg), guard=GuardrailPolicy())
    llm = LiveConfig.load(cfg).llm
    assert llm is not None and llm.settings().model == "claude-haiku-4-5" and llm.settings().max_tokens == 512
    cfg.write_text('[policy]\nname = "llm"\n[llm]\napi_key = "sk-in-the-file"\n')
    with pytest.raises(ConfigError, match=r"llm\.api_key"):  # the key is never in the file
        LiveConfig.load(cfg)
    cfg.write_text('[policy]\nname = "oracle"\n')
    with pytest.raises(ConfigError, match="unknown policy"):
        LiveConfig.load(cfg)


def test_the_example_live_config_loads_and_shows_every_section() -> None:
    path = Path(__file__).resolve().parents[2] / "ops" / "live.example.toml"
    config = LiveConfig.load(path)
    assert config.slack is not None and config.mqtt is not None and len(config.machines) == 2
    assert config.policy.name == "baseline" and config.path(config.policy.guardrails).exists()
    text = path.read_text()
    for section in ("[bridge]", "[policy]", "[scheduler]", "[site]", "[http]", "[mqtt]", "[[machines]]", "[slack]", "[stripe]",
                    "[llm]"):
        assert section in text, section
