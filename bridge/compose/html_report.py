"""A run folder's `report.html`: one self-contained page (no file or network beside it) with the
run's summary, its charts embedded as PNG data, the scenario and settings, the guardrail refusals,
and, for an LLM run, the transcript grouped by day (one folding section a day)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

REPORT = "report.html"
MAX_REFUSALS = 300  # listed one by one; the counts cover all
MAX_TRANSCRIPT_TEXT = 2_000  # characters of one text or result shown

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1260px;color:#222}
h1{font-size:1.6em;margin-bottom:.2em} h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0} td,th{padding:.25em .8em;border-bottom:1px solid #eee;
text-align:left;vertical-align:top} td.n{text-align:right;font-variant-numeric:tabular-nums}
.outcome{font-size:1.2em;padding:.5em .8em;border-radius:6px;display:inline-block}
.ok{background:#e8f5e9}.bad{background:#ffebee}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.5em;font-size:.85em}
details{margin:.3em 0}summary{cursor:pointer;font-weight:600}
.turn{margin:.4em 0 .4em 1em}.refused{color:#b71c1c}.tool{color:#0d47a1}
"""


def write_html_report(run_dir: Path, *, summary: Mapping[str, Any], outcome: str, settings: Mapping[str, Any],
                      scenario: Mapping[str, Any], refusals: Sequence[Mapping[str, Any]],
                      charts: Sequence[str] = (), transcript: Iterable[Mapping[str, Any]] | None = None) -> Path:
    title = f"{summary.get('scenario')} / {summary.get('policy')} / seed {summary.get('seed')}"
    normal = summary.get("ended_by") == "days" and not summary.get("crashes")
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>vend run: {escape(title)}"
             f"</title><style>{STYLE}</style></head><body>",
             f"<h1>Run {escape(title)}</h1>",
             f"<p class='outcome {'ok' if normal else 'bad'}' id='outcome'>{escape(outcome)}</p>",
             "<h2>Summary</h2>", _summary_table(summary)]
    parts.append("<h2>Charts</h2>")
    for name in charts:
        path = run_dir / name
        if path.exists():
            data = base64.b64encode(path.read_bytes()).decode()
            parts.append(f"<figure><img alt='{escape(name)}' src='data:image/png;base64,{data}'></figure>")
    if not charts:
        parts.append("<p>No charts (the run was made with --no-charts).</p>")
    parts += ["<h2>Guardrail refusals</h2>", _refusals(summary, refusals)]
    parts += ["<h2>Scenario and settings</h2>", _kv_table(settings), "<details><summary>scenario</summary><pre>",
              escape(json.dumps(scenario, indent=2, default=str)), "</pre></details>"]
    if transcript is not None:
        parts += ["<h2>Transcript, by day</h2>", _transcript(transcript)]
    parts.append("</body></html>\n")
    out = run_dir / REPORT
    out.write_text("".join(parts), encoding="utf-8")
    return out


def _money(cents: Any) -> str:
    return f"${int(cents) / 100:,.2f}"


SUMMARY_ROWS = (
    ("net worth", "net_worth_cents", _money), ("bank", "bank_cents", _money),
    ("cash in machine", "machine_cash_cents", _money), ("card, unsettled", "card_pending_cents", _money),
    ("inventory at cost", "inventory_value_cents", _money), ("score", "score_cents", _money),
    ("units sold", "units_sold", lambda v: f"{int(v):,}"), ("days run", "days_run", str),
    ("ended by", "ended_by", str), ("bankrupt", "bankrupt", lambda v: "yes" if v else "no"),
    ("days until sales stop", "days_until_sales_stop", str), ("tool calls", "tool_calls", lambda v: f"{int(v):,}"),
    ("tool errors", "tool_errors", str), ("messages", "messages", str), ("state hash", "state_hash", str),
)


def _summary_table(s: Mapping[str, Any]) -> str:
    rows = [(label, fmt(s[key]), key) for label, key, fmt in SUMMARY_ROWS if key in s]
    rows += [(k, str(v), k) for k, v in s.items() if k.startswith("llm_") and not isinstance(v, dict)]
    cells = "".join(f"<tr id='s-{escape(k)}'><th>{escape(label)}</th><td class='n'>{escape(v)}</td></tr>"
                    for label, v, k in rows)
    return f"<table>{cells}</table>"


def _kv_table(d: Mapping[str, Any]) -> str:
    cells = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in d.items())
    return f"<table>{cells}</table>"


def _refusals(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    counts = summary.get("guardrail_refusals") or {}
    if not counts and not rows:
        return "<p>None: no tool call was refused.</p>"
    out = [_kv_table(counts)] if counts else []
    if rows:
        cells = "".join(
            f"<tr><td>{escape(str(r.get('ts', ''))[:19])}</td><td class='tool'>{escape(str(r.get('tool', '')))}</td>"
            f"<td>{escape(str(r.get('verdict', '')))}</td><td>{escape(_short(r.get('args_json', ''), 200))}</td>"
            f"<td>{escape(_short(r.get('result_json', ''), 300))}</td></tr>" for r in rows[:MAX_REFUSALS])
        more = f"<p>and {len(rows) - MAX_REFUSALS} more</p>" if len(rows) > MAX_REFUSALS else ""
        out.append(f"<table><tr><th>time</th><th>tool</th><th>verdict</th><th>arguments</th><th>answer</th></tr>"
                   f"{cells}</table>{more}")
    return "".join(out)


def _short(value: Any, limit: int) -> str:
    s = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _transcript(records: Iterable[Mapping[str, Any]]) -> str:
    days: dict[str, list[str]] = {}
    day = "before the first session"
    for r in records:
        kind = r.get("type")
        ts = str(r.get("ts") or "")
        if kind == "session":
            day = ts[:10] or day
            days.setdefault(day, []).append(f"<h4>session {escape(str(r.get('session')))} "
                                            f"({escape(str(r.get('reason')))}) {escape(ts[11:19])}</h4>")
            continue
        lines = days.setdefault(day, [])
        if kind == "turn":
            for b in r.get("content", []):
                if b.get("type") == "text":
                    lines.append(f"<div class='turn'>says: {escape(_short(b.get('text', ''), MAX_TRANSCRIPT_TEXT))}"
                                 "</div>")
                elif b.get("type") == "tool_use":
                    lines.append(f"<div class='turn tool'>calls {escape(str(b.get('name')))}"
                                 f"({escape(_short(b.get('input', {}), 400))})</div>")
        elif kind == "tool_result":
            verdict = str(r.get("verdict", ""))
            cls = "turn refused" if verdict.startswith(("refused", "approval")) else "turn"
            body = r.get("result") if r.get("ok") else r.get("error")
            lines.append(f"<div class='{cls}'>&rarr; {escape(str(r.get('tool')))} {escape(verdict)}: "
                         f"{escape(_short(body or '', MAX_TRANSCRIPT_TEXT))}</div>")
        elif kind == "event":
            lines.append(f"<div class='turn'>[{escape(str(r.get('event')))}] "
                         f"{escape(_short(r.get('detail', ''), 400))}</div>")
    if not days:
        return "<p>The transcript is empty.</p>"
    return "".join(f"<details class='day'><summary>{escape(d)} ({len(lines)} lines)</summary>{''.join(lines)}"
                   "</details>" for d, lines in days.items())
