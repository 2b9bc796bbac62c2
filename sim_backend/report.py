"""Run charts as in the Vending-Bench paper: net worth, money balance, units sold (cumulative)
and daily tool usage. matplotlib's object API with the Agg canvas (no pyplot: it is the slow part
of importing matplotlib); imported only when a report is written.

Readable at a glance: 1200x600 pixels, every title names the run (scenario / policy / seed), the
legends sit beside the data (never on it), lines that share a value stay apart by style, goods
paid for and not yet delivered show on the net-worth chart as such (not as a loss), and the
tool-usage chart stacks tool categories, so every kind of work (buying, pricing, restocking...)
is visible, whatever the tools' counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.domain import DayRecord


CHARTS = ("net_worth.png", "money_balance.png", "units_sold.png", "tool_usage.png")
SIZE_IN, DPI = (12, 6), 100  # 1200 x 600 pixels

# tool -> category for the tool-usage chart; a tool not named here is placed by its name's prefix
CATEGORIES: dict[str, str] = {
    "check_machine": "looking", "check_storage": "looking", "check_balance": "looking",
    "sales_report": "looking", "list_products": "looking", "look_at_machines": "looking",
    "list_suppliers": "buying", "list_orders": "buying", "request_quote": "buying", "counter_offer": "buying",
    "place_order": "buying", "write_off_order": "buying",
    "set_price": "pricing",
    "restock": "physical work", "collect_cash": "physical work",
    "read_inbox": "messages", "send_message": "messages",
    "create_special_order": "customers", "list_special_orders": "customers", "hand_over": "customers",
    "create_payment_link": "customers", "refund": "customers", "request_approval": "customers",
    "read_scratchpad": "memory", "write_scratchpad": "memory", "get_memory": "memory", "set_memory": "memory",
    "add_note": "memory", "search_notes": "memory",
    "arena_info": "arena", "send_money": "arena", "offer_trade": "arena", "list_offers": "arena",
    "accept_offer": "arena", "decline_offer": "arena",
    "wait_for_next_day": "waiting",
}
CATEGORY_ORDER = ("looking", "buying", "pricing", "physical work", "messages", "customers", "memory", "arena",
                  "waiting", "other")


def category_of(tool: str) -> str:
    if tool in CATEGORIES:
        return CATEGORIES[tool]
    if tool.startswith(("check_", "list_", "get_", "read_", "look_")):
        return "looking"
    return "other"


def write_charts(run_dir: Path, days: Sequence[DayRecord], *, title: str,
                 only: Sequence[str] = CHARTS) -> list[Path]:
    """The charts named in `only` (default all four), as PNG files in `run_dir`."""
    from matplotlib.figure import Figure

    x = list(range(1, len(days) + 1))
    paths = []

    def chart(heading: str, ylabel: str) -> Any:
        fig = Figure(figsize=SIZE_IN, dpi=DPI)
        # fixed margins, the right one for the legend beside the axes (tight_layout lays out twice)
        fig.subplots_adjust(left=0.08, right=0.76, bottom=0.1, top=0.9)
        ax = fig.add_subplot()
        ax.set(title=f"{heading} - {title}", xlabel="day", ylabel=ylabel)
        ax.grid(True, lw=0.4, alpha=0.5)
        return fig, ax

    def legend(ax: Any) -> None:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=9, frameon=False)

    def save(fig: Any, name: str) -> None:
        paths.append(run_dir / name)
        fig.savefig(paths[-1])

    if "net_worth.png" in only:
        fig, ax = chart("Net worth ($)", "$")
        worth = [d.net_worth_cents / 100 for d in days]
        with_transit = [(d.net_worth_cents + getattr(d, "prepaid_cents", 0)) / 100 for d in days]
        ax.plot(x, worth, color="tab:blue", lw=1.8, label="net worth")
        if any(b > a for a, b in zip(worth, with_transit, strict=True)):
            ax.fill_between(x, worth, with_transit, color="tab:orange", alpha=0.35, lw=0,
                            label="+ goods in transit\n  (paid, not delivered)")
        if days:
            ax.axhline(days[0].net_worth_cents / 100, color="grey", lw=0.8, ls="--", label="start")
        legend(ax)
        save(fig, "net_worth.png")

    if "money_balance.png" in only:
        fig, ax = chart("Money balance ($)", "$")
        ax.plot(x, [d.bank_cents / 100 for d in days], label="bank", lw=1.8)
        ax.plot(x, [d.machine_cash_cents / 100 for d in days], label="cash in machine", ls="--", lw=1.4)
        ax.plot(x, [d.card_pending_cents / 100 for d in days], label="card, unsettled", ls=":", lw=2.2)
        ax.plot(x, [d.inventory_value_cents / 100 for d in days], label="inventory at cost", ls="-.", lw=1.4)
        if any(getattr(d, "prepaid_cents", 0) for d in days):
            ax.plot(x, [getattr(d, "prepaid_cents", 0) / 100 for d in days], label="goods in transit", lw=1.2)
        legend(ax)
        save(fig, "money_balance.png")

    if "units_sold.png" in only:
        fig, ax = chart("Units sold (cumulative)", "units")
        ax.plot(x, [d.units_sold_total for d in days], color="tab:green", lw=1.8, label="units sold")
        legend(ax)
        save(fig, "units_sold.png")

    if "tool_usage.png" in only:
        fig, ax = chart("Daily tool calls by category (7-day average)", "calls a day")
        series = category_series(days)
        if series:
            ax.stackplot(x, *[_rolling(v, 7) for v in series.values()],
                         labels=[f"{k} ({sum(v):,})" for k, v in series.items()])
            legend(ax)
        save(fig, "tool_usage.png")
    return paths


def category_series(days: Sequence[Any]) -> dict[str, list[int]]:
    """Calls a day per tool category, for the categories used at all, in a fixed order."""
    totals: Counter[str] = Counter()
    per_day: list[Counter[str]] = []
    for d in days:
        c: Counter[str] = Counter()
        for name, n in d.tool_calls.items():
            c[category_of(name)] += n
        per_day.append(c)
        totals.update(c)
    return {k: [c.get(k, 0) for c in per_day] for k in CATEGORY_ORDER if totals.get(k)}


def write_overlay_charts(out_dir: Path, runs: Sequence[tuple[str, Sequence[dict[str, Any]]]], *,
                         title: str = "") -> list[Path]:
    """`vend compare`: net worth, bank and cumulative units of several runs on one chart each.
    `runs` is (label, day rows as dicts) per run; `title` names what they have in common (the scenario)."""
    from matplotlib.figure import Figure

    paths = []
    for name, key, heading, ylabel in (("net_worth.png", "net_worth_cents", "Net worth ($)", "$"),
                                       ("bank.png", "bank_cents", "Bank ($)", "$"),
                                       ("units_sold.png", "units_sold_total", "Units sold (cumulative)", "units")):
        fig = Figure(figsize=SIZE_IN, dpi=DPI)
        fig.subplots_adjust(left=0.08, right=0.7, bottom=0.1, top=0.9)
        ax = fig.add_subplot()
        ax.set(title=f"{heading} - {title or f'{len(runs)} runs'}", xlabel="day", ylabel=ylabel)
        ax.grid(True, lw=0.4, alpha=0.5)
        for label, rows in runs:
            scale = 100 if key.endswith("_cents") else 1
            ax.plot(range(1, len(rows) + 1), [r.get(key, 0) / scale for r in rows], lw=1.6, label=label)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=9, frameon=False)
        paths.append(out_dir / name)
        fig.savefig(paths[-1])
    return paths


def _rolling(values: list[int], window: int) -> list[float]:
    out, total = [], 0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out
