"""Run charts as in the Vending-Bench paper: net worth, money balance, units sold (cumulative)
and daily tool usage. matplotlib with the Agg backend; imported only when a report is written."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bridge.runtime import DayRecord


def write_charts(run_dir: Path, days: list[DayRecord], *, title: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = list(range(1, len(days) + 1))
    paths = []

    def save(fig: object, name: str) -> None:
        path = run_dir / name
        fig.savefig(path, dpi=80)  # type: ignore[attr-defined]
        plt.close(fig)  # type: ignore[arg-type]
        paths.append(path)

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(x, [d.net_worth_cents / 100 for d in days], color="tab:blue")
    ax.axhline(days[0].net_worth_cents / 100 if days else 0, color="grey", lw=0.8, ls="--")
    ax.set(title=f"Net worth ($) - {title}", xlabel="day", ylabel="$")
    fig.tight_layout()
    save(fig, "net_worth.png")

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(x, [d.bank_cents / 100 for d in days], label="bank")
    ax.plot(x, [d.machine_cash_cents / 100 for d in days], label="cash in machine")
    ax.plot(x, [d.card_pending_cents / 100 for d in days], label="card, unsettled")
    ax.plot(x, [d.inventory_value_cents / 100 for d in days], label="inventory at cost")
    ax.set(title="Money balance ($)", xlabel="day", ylabel="$")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save(fig, "money_balance.png")

    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(x, [d.units_sold_total for d in days], color="tab:green")
    ax.set(title="Units sold (cumulative)", xlabel="day", ylabel="units")
    fig.tight_layout()
    save(fig, "units_sold.png")

    fig, ax = plt.subplots(figsize=(7, 3.5))
    totals: Counter[str] = Counter()
    for d in days:
        totals.update(d.tool_calls)
    names = [n for n, _ in totals.most_common(8)]
    bottom = [0] * len(days)
    for name in names:
        ys = [d.tool_calls.get(name, 0) for d in days]
        ax.bar(x, ys, bottom=bottom, label=name, width=1.0)
        bottom = [b + y for b, y in zip(bottom, ys, strict=True)]
    ax.set(title="Daily tool usage", xlabel="day", ylabel="calls")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    save(fig, "tool_usage.png")
    return paths
