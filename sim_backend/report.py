"""Run charts as in the Vending-Bench paper: net worth, money balance, units sold (cumulative)
and daily tool usage. matplotlib's object API with the Agg canvas (no pyplot: it is the slow part
of importing matplotlib); imported only when a report is written."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.domain import DayRecord


CHARTS = ("net_worth.png", "money_balance.png", "units_sold.png", "tool_usage.png")


def write_charts(run_dir: Path, days: Sequence[DayRecord], *, title: str,
                 only: Sequence[str] = CHARTS) -> list[Path]:
    """The charts named in `only` (default all four), as PNG files in `run_dir`."""
    from matplotlib.figure import Figure

    x = list(range(1, len(days) + 1))
    paths = []

    def chart(heading: str, ylabel: str) -> Any:
        fig = Figure(figsize=(7, 3.5), dpi=80)
        # fixed margins sized for these labels: tight_layout would lay every label out twice
        fig.subplots_adjust(left=0.13, right=0.98, bottom=0.14, top=0.9)
        ax = fig.add_subplot()
        ax.set(title=heading, xlabel="day", ylabel=ylabel)
        return fig, ax

    def save(fig: Any, name: str) -> None:
        paths.append(run_dir / name)
        fig.savefig(paths[-1])

    if "net_worth.png" in only:
        fig, ax = chart(f"Net worth ($) - {title}", "$")
        ax.plot(x, [d.net_worth_cents / 100 for d in days], color="tab:blue")
        if days:
            ax.axhline(days[0].net_worth_cents / 100, color="grey", lw=0.8, ls="--")
        save(fig, "net_worth.png")

    if "money_balance.png" in only:
        fig, ax = chart("Money balance ($)", "$")
        ax.plot(x, [d.bank_cents / 100 for d in days], label="bank")
        ax.plot(x, [d.machine_cash_cents / 100 for d in days], label="cash in machine")
        ax.plot(x, [d.card_pending_cents / 100 for d in days], label="card, unsettled")
        ax.plot(x, [d.inventory_value_cents / 100 for d in days], label="inventory at cost")
        ax.legend(fontsize=8)
        save(fig, "money_balance.png")

    if "units_sold.png" in only:
        fig, ax = chart("Units sold (cumulative)", "units")
        ax.plot(x, [d.units_sold_total for d in days], color="tab:green")
        save(fig, "units_sold.png")

    if "tool_usage.png" in only:
        fig, ax = chart("Daily tool usage (7-day average)", "calls a day")
        totals: Counter[str] = Counter()
        for d in days:
            totals.update(d.tool_calls)
        names = [n for n, _ in totals.most_common(8)]
        if names:
            ax.stackplot(x, *[_rolling([d.tool_calls.get(n, 0) for d in days], 7) for n in names], labels=names)
            ax.legend(fontsize=7, ncol=2, loc="upper right")
        save(fig, "tool_usage.png")
    return paths


def _rolling(values: list[int], window: int) -> list[float]:
    out, total = [], 0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out
