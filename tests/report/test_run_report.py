"""Runs to look at: a run folder's report.html renders in a real headless browser (Debian's
chromium) with the run's figures and its charts; an LLM run's transcript is there by day; `vend
runs` lists runs with their figures and `vend compare` puts them side by side with overlaid charts."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from bridge.cli import main

BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is missing (scripts/setup --dev installs it when run as root)")
    pytest.skip("chromium is not installed (scripts/setup --dev installs it when run as root)")


def browse(page: Path, tmp: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([chromium(), *BROWSER_FLAGS, f"--user-data-dir={profile}", *flags, page.as_uri()],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def sim(tmp: Path, name: str, *extra: str) -> dict:
    assert main(["sim", "--days", "30", "--out", str(tmp / "runs"), "--name", name, "--json", *extra]) == 0
    return json.loads((tmp / "runs" / name / "summary.json").read_text())


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_the_html_report_renders_in_a_browser(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = sim(tmp_path, "b")
    capsys.readouterr()
    page = tmp_path / "runs" / "b" / "report.html"
    dom = browse(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-500:]
    html = dom.stdout
    net_worth = f"${summary['net_worth_cents'] / 100:,.2f}"
    units = f"{summary['units_sold']:,}"
    assert f"<td class=\"n\">{net_worth}</td>" in html and f"<td class=\"n\">{units}</td>" in html
    assert html.count("src=\"data:image/png;base64,") == 4  # the four charts, inside the page
    assert "vb1" in html and "baseline" in html
    shot = tmp_path / "report.png"
    done = browse(page, tmp_path, "--window-size=1280,2400", f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr[-500:]
    assert png_size(shot) == (1280, 2400)
    assert shot.stat().st_size > 50_000  # text and charts, not a blank page (a blank one is a few kB)
    keep = os.environ.get("VEND_KEEP_REPORT_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def test_charts_are_large_and_titled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim(tmp_path, "c")
    for name in ("net_worth.png", "money_balance.png", "units_sold.png", "tool_usage.png"):
        assert png_size(tmp_path / "runs" / "c" / name) == (1200, 600)


def test_the_tool_chart_shows_every_category() -> None:
    from types import SimpleNamespace

    from sim_backend.report import category_series

    days = [SimpleNamespace(tool_calls={"check_balance": 40, "place_order": 1, "set_price": 1, "restock": 1,
                                        "send_message": 1, "refund": 1, "add_note": 1, "new_tool": 1})]
    assert set(category_series(days)) == {"looking", "buying", "pricing", "physical work", "messages",
                                          "customers", "memory", "other"}


def test_an_llm_transcript_is_grouped_by_day(tmp_path: Path) -> None:
    from bridge.compose.html_report import write_html_report

    records = []
    for day in ("2026-01-05", "2026-01-06", "2026-01-07"):
        records += [{"type": "session", "session": 1, "reason": "open_day", "ts": f"{day}T08:00:00-08:00"},
                    {"type": "turn", "content": [{"type": "tool_use", "name": "check_balance", "input": {}}]},
                    {"type": "tool_result", "tool": "set_price", "ok": False, "verdict": "refused:max_price",
                     "error": "refused <script>"}]
    summary = {"scenario": "vb1", "policy": "llm", "seed": 1, "ended_by": "days", "days_run": 3}
    page = write_html_report(tmp_path, summary=summary, outcome="normal", settings={"policy": "llm"},
                             scenario={"name": "vb1"}, refusals=[], transcript=records)
    html = page.read_text()
    assert html.count("<details class='day'>") == 3
    assert "<script>" not in html  # text from the run is escaped


def test_runs_lists_and_compare_overlays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = sim(tmp_path, "base", "--no-charts")
    oracle = sim(tmp_path, "orc", "--no-charts", "--policy", "oracle")
    capsys.readouterr()
    assert main(["runs", "--out", str(tmp_path / "runs"), "--json"]) == 0
    listed = {r["run"]: r for r in json.loads(capsys.readouterr().out)["runs"]}
    assert listed.keys() == {"base", "orc"}
    assert listed["orc"]["policy"] == "oracle" and listed["orc"]["units"] == oracle["units_sold"]
    assert listed["base"]["score_cents"] == base["score_cents"] and listed["base"]["ended_by"] == "days"
    charts = tmp_path / "cmp"
    assert main(["compare", "base", "orc", "--out", str(tmp_path / "runs"), "--charts", str(charts), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    row = next(r for r in result["table"] if r["row"] == "units sold")
    assert row[result["labels"][0]] == f"{base['units_sold']:,}" and row[result["labels"][1]] == \
        f"{oracle['units_sold']:,}"
    assert sorted(p.name for p in charts.iterdir()) == ["bank.png", "net_worth.png", "units_sold.png"]
    assert png_size(charts / "net_worth.png") == (1200, 600)
