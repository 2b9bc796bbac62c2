"""Looking back at runs: how a run ended in words, `vend runs` (the past runs in a folder with their
key figures) and `vend compare` (runs side by side, with their charts overlaid).

A run folder is one with a `summary.json` (written by `vend sim`); its day series is `days.json`,
or, for a folder written before that file existed, the `day_close` table of its `vend.db`."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError

SUMMARY, DAYS = "summary.json", "days.json"


def outcome_of(s: dict[str, Any]) -> str:
    """How the run ended, in words: a run that did not end normally says so first."""
    ended, days = s["ended_by"], s["days_run"]
    if ended == "api_errors":
        text = f"FAILED: stopped on day {days}, {s.get('stop_reason') or 'the LLM API kept failing'}"
    elif s.get("bankrupt") or ended == "bankrupt":
        text = f"BANKRUPT on day {days} (the daily fee went unpaid too long)"
    elif ended == "message_cap":
        text = f"STOPPED on day {days}: the message cap was reached ({s.get('messages', 0):,} messages)"
    elif ended == "days":
        text = f"normal: ran all {days} days"
    else:
        text = f"ended by {ended or 'nothing'} on day {days}"
    crashes = len(s.get("crashes") or [])
    return text + (f"; {crashes} policy crash{'es' if crashes != 1 else ''} (see summary.json)" if crashes else "")


def read_summary(run_dir: Path) -> dict[str, Any]:
    path = run_dir / SUMMARY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no run at {run_dir} (no {SUMMARY}; vend runs lists the runs)") from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"{path}: cannot read: {err}") from None
    if not isinstance(data, dict) or "ended_by" not in data:
        raise ConfigError(f"{path}: not a run summary")
    return data


def read_days(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / DAYS
    if path.exists():
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            raise ConfigError(f"{path}: not JSON") from None
        return [r for r in rows if isinstance(r, dict)]
    db = run_dir / "vend.db"
    if not db.exists():
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("SELECT * FROM day_close ORDER BY day")]
    except sqlite3.Error:
        return []
    finally:
        con.close()


def list_runs(out: Path) -> list[dict[str, Any]]:
    """The runs in `out` (folders with a summary), oldest first, as rows of key figures."""
    if not out.is_dir():
        raise ConfigError(f"no folder {out} (vend sim writes its runs to runs/, or --out)")
    rows = []
    for d in out.iterdir():
        if not (d / SUMMARY).is_file():
            continue
        try:
            s = read_summary(d)
        except ConfigError:
            continue
        rows.append({"run": d.name, "path": str(d), "mtime": (d / SUMMARY).stat().st_mtime, **_figures(s)})
    rows.sort(key=lambda r: (r["mtime"], r["run"]))
    return rows


def _figures(s: dict[str, Any]) -> dict[str, Any]:
    return {"scenario": s.get("scenario"), "policy": s.get("policy"), "seed": s.get("seed"),
            "days": s.get("days_run"), "score_cents": s.get("score_cents", s.get("net_worth_cents")),
            "net_worth_cents": s.get("net_worth_cents"), "units": s.get("units_sold"), "ended_by": s.get("ended_by"),
            "bankrupt": s.get("bankrupt", False)}


def format_runs(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no runs"
    head = ("run", "scenario", "policy", "seed", "days", "score", "units", "ended by")
    table = [head] + [(r["run"], str(r["scenario"]), str(r["policy"]), str(r["seed"]), str(r["days"]),
                       _money(r["score_cents"]), f"{r['units'] or 0:,}", str(r["ended_by"])) for r in rows]
    return _columns(table, right={3, 4, 5, 6})


def resolve_run(name: str, out: Path) -> Path:
    """A run given as its folder, or by its name in `out`."""
    for candidate in (Path(name), out / name):
        if (candidate / SUMMARY).is_file():
            return candidate
    raise ConfigError(f"no run {name!r} (give a run folder, or a name that vend runs --out {out} lists)")


COMPARE_ROWS = (("scenario", "scenario", str), ("policy", "policy", str), ("seed", "seed", str),
                ("days run", "days_run", str), ("ended by", "ended_by", str),
                ("net worth", "net_worth_cents", lambda v: _money(v)), ("bank", "bank_cents", lambda v: _money(v)),
                ("score", "score_cents", lambda v: _money(v)), ("units sold", "units_sold", lambda v: f"{v:,}"),
                ("days until sales stop", "days_until_sales_stop", str), ("bankrupt", "bankrupt",
                                                                          lambda v: "yes" if v else "no"),
                ("tool calls", "tool_calls", lambda v: f"{v:,}"), ("guardrail refusals", "guardrail_refusals",
                                                                  lambda v: str(sum(v.values()) if v else 0)))


def compare(runs: list[Path], *, charts_to: Path | None) -> dict[str, Any]:
    summaries = [read_summary(r) for r in runs]
    labels = _labels(runs, summaries)
    table = [{"row": label, **{lab: (fmt(s[key]) if key in s else "-") for lab, s in zip(labels, summaries,
                                                                                          strict=True)}}
             for label, key, fmt in COMPARE_ROWS]
    charts: list[str] = []
    if charts_to is not None:
        from sim_backend.report import write_overlay_charts

        try:
            charts_to.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(f"--charts {charts_to}: cannot make the folder: {err.strerror or err}") from None
        series = [(lab, read_days(r)) for lab, r in zip(labels, runs, strict=True)]
        scenarios = sorted({str(s.get("scenario")) for s in summaries})
        title = f"{' / '.join(scenarios)}: {' vs '.join(labels)}"
        charts = [str(p) for p in write_overlay_charts(charts_to, series, title=title)]
    return {"runs": [str(r) for r in runs], "labels": labels, "table": table, "charts": charts}


def format_compare(result: dict[str, Any]) -> str:
    labels = result["labels"]
    table = [("", *labels)] + [(row["row"], *(row[lab] for lab in labels)) for row in result["table"]]
    text = _columns(table, right=set(range(1, len(labels) + 1)))
    if result["charts"]:
        text += "\ncharts: " + ", ".join(result["charts"])
    return text


def default_charts_folder(out: Path) -> Path:
    return out / f"compare-{datetime.now().astimezone():%Y%m%d-%H%M%S}"


def _labels(runs: list[Path], summaries: list[dict[str, Any]]) -> list[str]:
    labels = [f"{s.get('policy')} s{s.get('seed')}" for s in summaries]
    if len(set(labels)) < len(labels):  # the same policy and seed twice: the folder names tell them apart
        labels = [r.name for r in runs]
    return labels


def _money(cents: Any) -> str:
    return "-" if cents is None else f"${int(cents) / 100:,.2f}"


def _columns(rows: list[tuple[str, ...]], *, right: set[int]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in
                               enumerate(zip(r, widths, strict=True))).rstrip() for r in rows)
