"""`vend gate --store URL`: the gate's audit of the books on an existing store. A breach planted in a
live store is found (exit 1, named, on its local day); a real simulated run's store is clean (exit 0);
a store that is missing or is not one is a one-line error (exit 2) and is not created or changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge import events as ev
from bridge.cli import main
from bridge.ledger import Ledger
from bridge.store import Store

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


def gate_file(tmp_path: Path) -> Path:
    path = tmp_path / "gate.toml"
    path.write_text(f'guardrails = "{ROOT / "ops" / "guardrails.toml"}"\n[[scenarios]]\nname = "vb1"\n')
    return path


def audit(tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, *extra: str) -> tuple[int, dict | None, str]:
    rc = main(["gate", "--config", str(gate_file(tmp_path)), "--store", url, "--json", *extra])
    out, err = capsys.readouterr()
    return rc, json.loads(out) if out.strip() else None, err


def live_store(path: Path, *, order_cents: int) -> str:
    """A live shop's books: a run in Chicago, capital, and two days of supplier payments."""
    url = f"sqlite:///{path}"
    store = Store(url=url)
    store.upsert("run_info", {"run_id": "live-1", "shop": "main", "started_at": T0, "mode": "live", "scenario": "",
                              "policy": "baseline", "seed": 0,
                              "settings_json": json.dumps({"bridge": {"tz": "America/Chicago"}})})
    led = Ledger(shop="main", store=store)
    led.record(ev.CapitalIn(id="cap", ts=T0, amount_cents=500_000))
    led.record(ev.SupplierPaid(id="p1", ts=T0, order_id="po1", supplier="s", amount_cents=20_000))
    led.record(ev.SupplierPaid(id="p2", ts=T0 + timedelta(days=1), order_id="po2", supplier="s",
                               amount_cents=order_cents))
    store.flush()
    store.engine.dispose()
    return url


def test_a_breach_planted_in_a_live_store_is_found_on_its_day(tmp_path, capsys) -> None:
    url = live_store(tmp_path / "live.db", order_cents=120_000)  # above ops/guardrails.toml's per-order cap
    rc, report, err = audit(tmp_path, capsys, url)
    assert rc == 1 and report is not None and err.strip()
    assert report["passed"] is False and report["breaches"] == 1 and report["tz"] == "America/Chicago"
    assert [(b["rule"], b["day"]) for b in report["breach_list"]] == [("order_cap", 2)]
    assert "po2" in report["breach_list"][0]["detail"]


def test_clean_books_pass(tmp_path, capsys) -> None:
    rc, report, _ = audit(tmp_path, capsys, live_store(tmp_path / "live.db", order_cents=30_000))
    assert rc == 0 and report is not None and report["breaches"] == 0 and report["passed"] is True


def test_a_real_simulated_run_is_clean(tmp_path, capsys) -> None:
    assert main(["sim", "--days", "5", "--seed", "3", "--out", str(tmp_path), "--name", "r", "--no-charts",
                 "--guardrails", str(ROOT / "ops" / "guardrails.toml"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["units_sold"] > 0
    rc, report, _ = audit(tmp_path, capsys, f"sqlite:///{tmp_path / 'r' / 'vend.db'}", "--tz", "America/Los_Angeles")
    assert rc == 0 and report is not None and report["breaches"] == 0 and report["tz"] == "America/Los_Angeles"


def test_a_store_that_is_missing_or_not_one_is_a_one_line_error(tmp_path, capsys) -> None:
    not_a_store = tmp_path / "other.db"
    import sqlite3

    sqlite3.connect(not_a_store).execute("CREATE TABLE t (x)").connection.close()
    before = not_a_store.read_bytes()
    for url in (f"sqlite:///{tmp_path / 'missing.db'}", "not a url", "nosuchdialect://x/y", f"sqlite:///{not_a_store}"):
        rc, report, err = audit(tmp_path, capsys, url)
        assert rc == 2 and report is None and len(err.strip().splitlines()) == 1, (url, err)
    assert not (tmp_path / "missing.db").exists() and not_a_store.read_bytes() == before
    url = live_store(tmp_path / "live.db", order_cents=1)
    rc, _, err = audit(tmp_path, capsys, url, "--tz", "Mars/Olympus")
    assert rc == 2 and len(err.strip().splitlines()) == 1
