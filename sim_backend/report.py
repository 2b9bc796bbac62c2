"""Run charts as in the Vending-Bench paper: net worth, money balance, units sold (cumulative)
and daily tool usage. matplotlib's object API with the Agg canvas (no pyplot: it is the slow part
of importing matplotlib); imported only when a report is written."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.runtime import DayRecord


def write_charts(run_dir: Path, days: Sequence[DayRecord], *, title: str) -> list[Path]:
    from matplotlib.figure import Figure

    x = list(range(1, len(days) + 1))
    paths = []

    def chart(name: str, heading: str, ylabel: str) -> tuple[Any, Any]:
        fig = Figure(figsize=(7, 3.5), dpi=80)
        ax = fig.add_subplot()
        ax.set(title=heading, xlabel="day", ylabel=ylabel)
        paths.append(run_dir / name)
        return fig, ax

    fig, ax = chart("net_worth.png", f"Net worth ($) - {title}", "$")
    ax.plot(x, [d.net_worth_cents / 100 for d in days], color="tab:blue")
    if days:
        ax.axhline(days[0].net_worth_cents / 100, color="grey", lw=0.8, ls="--")
    _save(fig, paths[-1])

    fig, ax = chart("money_balance.png", "Money balance ($)", "$")
    ax.plot(x, [d.bank_cents / 100 for d in days], label="bank")
    ax.plot(x, [d.machine_cash_cents / 100 for d in days], label="cash in machine")
    ax.plot(x, [d.card_pending_cents / 100 for d in days], label="card, unsettled")
    ax.plot(x, [d.inventory_value_cents / 100 for d in days], label="inventory at cost")
    ax.legend(fontsize=8)
    _save(fig, paths[-1])

    fig, ax = chart("units_sold.png", "Units sold (cumulative)", "units")
    ax.plot(x, [d.units_sold_total for d in days], color="tab:green")
    _save(fig, paths[-1])

    fig, ax = chart("tool_usage.png", "Daily tool usage (7-day average)", "calls a day")
    totals: Counter[str] = Counter()
    for d in days:
        totals.update(d.tool_calls)
    names = [n for n, _ in totals.most_common(8)]
    if names:
        ax.stackplot(x, *[_rolling([d.tool_calls.get(n, 0) for d in days], 7) for n in names], labels=names)
        ax.legend(fontsize=7, ncol=2, loc="upper right")
    _save(fig, paths[-1])
    return paths


def _rolling(values: list[int], window: int) -> list[float]:
    out, total = [], 0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path)
