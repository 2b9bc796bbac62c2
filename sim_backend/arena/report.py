"""A round's report: the table (per participant, averaged over the seeded runs, as the Arena page
reports them) and its charts (net worth per participant; the price of a shared product)."""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path
from typing import Any


def round_table(results: list[dict[str, Any]]) -> dict[str, Any]:
    shops = [p["shop"] for p in results[0]["participants"]]
    rows = []
    for i, shop in enumerate(shops):
        ps = [r["participants"][i] for r in results]

        def mean(key: str, ps: list[dict[str, Any]] = ps) -> float:
            return float(statistics.mean(p[key] for p in ps))

        rows.append({
            "shop": shop, "policy": ps[0]["policy"], "team": ps[0]["team"], "runs": len(ps),
            "mean_bank_cents": round(mean("bank_cents")), "mean_net_worth_cents": round(mean("net_worth_cents")),
            "min_net_worth_cents": min(p["net_worth_cents"] for p in ps), "mean_units_sold": mean("units_sold"),
            "mean_money_sent_cents": round(mean("money_sent_cents")),
            "mean_money_received_cents": round(mean("money_received_cents")),
            "mean_goods_sold_units": mean("goods_sold_units"), "mean_goods_bought_units": mean("goods_bought_units"),
            "bankrupt": sum(1 for p in ps if p["bankrupt"]),
        })
    teams: dict[str, list[int]] = {}
    for r in results:
        for team, cents in r["team_net_worth_cents"].items():
            teams.setdefault(team, []).append(cents)
    flags: Counter[str] = Counter(f["flag"] for r in results for f in r["conduct_flags"])
    return {
        "scenario": results[0]["scenario"], "seeds": [r["seed"] for r in results], "participants": rows,
        "teams": {t: round(statistics.mean(v)) for t, v in sorted(teams.items())},
        "mean_money_exchanged_cents": round(statistics.mean(r["money_exchanged_cents"] for r in results)),
        "mean_goods_exchanged_units": statistics.mean(r["goods_exchanged_units"] for r in results),
        "mean_goods_exchanged_cents": round(statistics.mean(r["goods_exchanged_cents"] for r in results)),
        "mean_messages_between_shops": statistics.mean(r["messages_between_shops"] for r in results),
        "mean_customers_sent_next_door": statistics.mean(r["customers_sent_next_door"] for r in results),
        "conduct_flags": dict(flags), "shared_product": shared_product(results),
    }


def format_table(t: dict[str, Any], seconds: float) -> str:
    def usd(c: float) -> str:
        return f"${c / 100:,.2f}"

    lines = [f"arena round: {t['scenario']}, {len(t['seeds'])} seeds {t['seeds']}, {seconds:.1f} s",
             f"{'shop':5s} {'policy':10s} {'team':6s} {'mean bank':>12s} {'mean net worth':>15s} "
             f"{'min net worth':>14s} {'units sold':>10s} {'money out/in':>17s} {'goods out/in':>12s} {'bankrupt':>8s}"]
    for r in t["participants"]:
        lines.append(f"{r['shop']:5s} {r['policy'][:10]:10s} {(r['team'] or '-'):6s} {usd(r['mean_bank_cents']):>12s} "
                     f"{usd(r['mean_net_worth_cents']):>15s} {usd(r['min_net_worth_cents']):>14s} "
                     f"{r['mean_units_sold']:>10,.0f} "
                     f"{usd(r['mean_money_sent_cents']) + '/' + usd(r['mean_money_received_cents']):>17s} "
                     f"{r['mean_goods_sold_units']:>5.0f}/{r['mean_goods_bought_units']:<6.0f} {r['bankrupt']:>8d}")
    for team, cents in t["teams"].items():
        lines.append(f"team {team}: mean net worth {usd(cents)}")
    lines.append(f"exchanged per run (mean): money {usd(t['mean_money_exchanged_cents'])}, goods "
                 f"{t['mean_goods_exchanged_units']:,.0f} units ({usd(t['mean_goods_exchanged_cents'])}), "
                 f"{t['mean_messages_between_shops']:,.0f} messages between shops; customers sent next door by a "
                 f"sold-out machine: {t['mean_customers_sent_next_door']:,.0f}")
    flags = ", ".join(f"{k} {v}" for k, v in sorted(t["conduct_flags"].items())) or "none"
    lines.append(f"market conduct flags: {flags}")
    return "\n".join(lines)


def shared_product(results: list[dict[str, Any]]) -> str | None:
    """The product the most shops offered on the most days (the one whose price is charted)."""
    count: Counter[str] = Counter()
    for r in results:
        for d in r["days"]:
            for prices in d["prices"].values():
                count.update(prices.keys())
    return min(count, key=lambda s: (-count[s], s)) if count else None


def write_round_charts(out: Path, results: list[dict[str, Any]], *, title: str) -> list[Path]:
    from matplotlib.figure import Figure

    shops = [p["shop"] for p in results[0]["participants"]]
    label = {p["shop"]: f"{p['shop']} ({p['policy'][:20]})" for p in results[0]["participants"]}
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:grey"]
    paths = []

    fig = Figure(figsize=(8, 4), dpi=80)
    ax = fig.add_subplot()
    ax.set(title=f"Net worth ($), mean of {len(results)} runs - {title}", xlabel="day", ylabel="$")
    for i, shop in enumerate(shops):
        c = colors[i % len(colors)]
        series = [[d["net_worth"][shop] / 100 for d in r["days"]] for r in results]
        n = min(len(s) for s in series)
        for s in series:
            ax.plot(range(1, len(s) + 1), s, color=c, lw=0.4, alpha=0.35)
        ax.plot(range(1, n + 1), [statistics.mean(s[k] for s in series) for k in range(n)], color=c, lw=1.6,
                label=label[shop])
    ax.legend(loc="upper left", fontsize=8)
    paths.append(out / "net_worth.png")
    fig.savefig(paths[-1])

    sku = shared_product(results)
    fig = Figure(figsize=(8, 4), dpi=80)
    ax = fig.add_subplot()
    ax.set(title=f"Price of {sku} (c), seed {results[0]['seed']} - {title}", xlabel="day", ylabel="cents")
    for i, shop in enumerate(shops):
        pts = [(d["day"] + 1, d["prices"].get(shop, {}).get(sku)) for d in results[0]["days"]]
        xs = [x for x, p in pts if p is not None]
        ax.plot(xs, [p for _, p in pts if p is not None], ".", ms=2.5, color=colors[i % len(colors)],
                label=label[shop])
    ax.legend(loc="upper left", fontsize=8)
    paths.append(out / "shared_price.png")
    fig.savefig(paths[-1])
    return paths
