"""The gate's report: report.md (verdict, each rule with where it failed, every run), verdict.json,
and charts (net worth by day per scenario, score per run against the threshold)."""

from __future__ import annotations

import json
from pathlib import Path

from bridge.gate.config import GateConfig
from bridge.gate.run import GateResult


def write_report(out_dir: Path, cfg: GateConfig, result: GateResult, *, charts: bool = True,
                 fingerprint: str = "") -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    body = {**result.to_json(), **({"fingerprint": fingerprint} if fingerprint else {})}
    (out_dir / "verdict.json").write_text(json.dumps(body, indent=2) + "\n")
    images = _charts(out_dir, cfg, result) if charts else []
    verdict = "PASSED" if result.passed else "FAILED: " + ", ".join(result.failed)
    lines = [
        f"# Rollout gate: {result.policy}",
        "",
        f"**{verdict}**",
        "",
        f"Gate file `{cfg.path}`; {len(cfg.scenarios)} scenario(s) x {len(cfg.seeds)} seed(s) "
        f"({cfg.seeds[0]}..{cfg.seeds[-1]}); {len(result.runs)} runs in {result.seconds:.1f} s.",
        *(["", f"Fingerprint `{fingerprint}` (the verdict `vend live` looks for: `verdicts/{fingerprint}.json`)."]
          if fingerprint else []),
        "",
        "| rule | threshold | measured | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for r in result.rules:
        lines.append(f"| {r.rule} | {r.threshold} | {r.measured} | {'pass' if r.passed else '**FAIL**'} |")
    failed = [r for r in result.rules if not r.passed]
    if failed:
        lines += ["", "## Where the rules failed", ""]
        for r in failed:
            lines.append(f"### {r.rule}")
            lines += [f"- {w}" for w in r.where] or ["- (no detail)"]
            lines.append("")
    lines += ["", "## Runs", "",
              "| scenario | seed | score | bankrupt | days | units | refusals | breaches | coherence | cost/day | error |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for run in result.runs:
        if run["error"]:
            lines.append(f"| {run['scenario']} | {run['seed']} | | | | | | | | | {run['error'].splitlines()[0]} |")
            continue
        lines.append(
            f"| {run['scenario']} | {run['seed']} | ${run['score_cents'] / 100:,.2f} | "
            f"{'yes' if run['bankrupt'] else 'no'} | {run['days_run']} | {run['units_sold']} | "
            f"{sum(run['refusals'].values())} | {run['breaches']} | {run['coherence_errors']} | "
            f"{run['cost_cents'] / max(1, run['days_run']):.2f}c | |")
    if images:
        lines += ["", "## Charts", ""] + [f"![{p.stem}]({p.name})" for p in images]
    path = out_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _charts(out_dir: Path, cfg: GateConfig, result: GateResult) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for s in cfg.scenarios:
        runs = [r for r in result.runs if r["scenario"] == s.name and not r["error"]]
        if not runs:
            continue
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for r in runs:
            ys = [c / 100 for c in r["net_worth_by_day"]]
            ax.plot(range(1, len(ys) + 1), ys, lw=1, label=f"seed {r['seed']}" + (" (bankrupt)" if r["bankrupt"] else ""))
        ax.axhline(s.min_mean_score_cents / 100, color="red", lw=0.8, ls="--", label="min mean score")
        ax.set(title=f"Net worth ($) - {s.name} / {result.policy}", xlabel="day", ylabel="$")
        ax.legend(fontsize=7)
        fig.tight_layout()
        safe = "".join(ch if ch.isalnum() else "_" for ch in Path(s.name).stem)
        path = out_dir / f"net_worth_{safe}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    done = [r for r in result.runs if not r["error"]]
    if done:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        labels = [f"{Path(r['scenario']).stem}/{r['seed']}" for r in done]
        colors = ["tab:red" if r["bankrupt"] or r["breaches"] else "tab:blue" for r in done]
        ax.bar(range(len(done)), [r["score_cents"] / 100 for r in done], color=colors)
        ax.set_xticks(range(len(done)), labels, rotation=60, fontsize=7)
        ax.axhline(cfg.rules.min_mean_score_cents / 100, color="red", lw=0.8, ls="--")
        ax.set(title="Score per run ($; red: bankrupt or a guardrail breach)", ylabel="$")
        fig.tight_layout()
        path = out_dir / "scores.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        paths.append(path)
    return paths
