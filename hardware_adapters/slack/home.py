"""The App Home dashboard (views.publish) and the daily report with a chart (files_upload_v2).

Figures come from the books (the ledger) and the machines' telemetry; open tasks from the books
and from the Slack board. matplotlib is imported only when a chart is drawn.
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

from bridge.ledger import BANK, CARD_PENDING, MACHINE_CASH, Ledger
from hardware_adapters.slack.blocks import Block, escape, money
from hardware_adapters.slack.parts import SlackParts


class Dashboard:
    def __init__(self, *, parts: SlackParts, ledger: Ledger) -> None:
        self.parts = parts
        self.ledger = ledger

    def _today(self) -> date:
        return self.parts.clock.now().astimezone(self.ledger.tz).date()

    def sales(self, since: date, until: date) -> tuple[int, int]:
        """(units, revenue cents) sold from `since` to `until`, both included."""
        units = revenue = 0
        d = since
        while d <= until:
            for u, r in self.ledger.daily.get(d, {}).values():
                units, revenue = units + u, revenue + r
            d += timedelta(days=1)
        return units, revenue

    def figures(self, day: date | None = None) -> dict[str, Any]:
        """The figures of `day` (default: today) and of its week so far; balances and tasks as they are now."""
        today = day or self._today()
        week_start = today - timedelta(days=today.weekday())
        led = self.ledger
        tasks = {t.task_id: f"{t.kind} {t.machine}" for t in self.parts.board.open_tasks()}
        for task_id, (kind, _, payload) in led.open_tasks().items():
            tasks.setdefault(task_id, f"{kind} {payload.get('machine', '')}".strip())
        return {"today": self.sales(today, today), "week": self.sales(week_start, today),
                "bank_cents": led.balance(BANK), "card_pending_cents": led.balance(CARD_PENDING),
                "machine_cash_cents": led.balance(MACHINE_CASH), "open_tasks": tasks,
                "machines": {mid: m.view() for mid, m in self.parts.machines.items()}}

    def view(self) -> Block:
        f = self.figures()
        (tu, tr), (wu, wr) = f["today"], f["week"]
        out: list[Block] = [
            {"type": "header", "text": {"type": "plain_text", "text": f"Shop {self.parts.shop}"}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": f"*Today*\n{tu} sold, {money(tr)}"},
                {"type": "mrkdwn", "text": f"*This week*\n{wu} sold, {money(wr)}"},
                {"type": "mrkdwn", "text": f"*Bank*\n{money(f['bank_cents'])} (+{money(f['card_pending_cents'])} "
                                           "card pending)"},
                {"type": "mrkdwn", "text": f"*Cash in machines*\n{money(f['machine_cash_cents'])}"}]},
        ]
        for mid, v in f["machines"].items():
            rows = [f"`{s.slot}` {escape(s.sku or '(empty)')}: {s.count}/{s.capacity} at {money(s.price_cents)}"
                    for s in v.slots]
            state = "online" if v.online else "OFFLINE"
            out += [{"type": "divider"},
                    {"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(mid)}* ({state}, cash box "
                                                                           f"{money(v.cash_cents)})\n" + "\n".join(rows)}}]
        tasks = "\n".join(f"• {escape(k)}: {escape(v)}" for k, v in sorted(f["open_tasks"].items())) or "none"
        out += [{"type": "divider"}, {"type": "section", "text": {"type": "mrkdwn", "text": f"*Open tasks*\n{tasks}"}}]
        return {"type": "home", "blocks": out[:100]}

    def publish(self, user_id: str) -> None:
        self.parts.api("views_publish", user_id=user_id, view=self.view())

    def app_home_opened(self, event: dict[str, Any]) -> None:
        if event.get("tab", "home") == "home" and event.get("user"):
            self.publish(str(event["user"]))

    # --- the daily report --------------------------------------------------------------------------
    def chart_png(self, days: int = 7, *, until: date | None = None) -> bytes:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        today = until or self._today()
        span = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
        revenue = [self.sales(d, d)[1] / 100 for d in span]
        fig = Figure(figsize=(6, 3), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.bar([d.strftime("%a %d") for d in span], revenue, color="#2b7bb9")
        ax.set_ylabel("sales ($)")
        ax.set_title(f"{self.parts.shop}: sales, last {days} days")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()

    def post_daily_report(self, day: date | None = None) -> str:
        """Post the figures of `day` (the day closed; default: today) and a 7-day sales chart to the ops
        channel; returns the file id."""
        day = day or self._today()
        f = self.figures(day)
        (tu, tr), (wu, wr) = f["today"], f["week"]
        text = (f"Daily report {day.isoformat()}: today {tu} sold for {money(tr)}, this week {wu} "
                f"for {money(wr)}; bank {money(f['bank_cents'])}, cash in machines "
                f"{money(f['machine_cash_cents'])}; {len(f['open_tasks'])} open task(s).")
        sent = self.parts.api("files_upload_v2", channel=self.parts.settings.ops_channel,
                              file=self.chart_png(until=day), filename=f"sales-{day.isoformat()}.png", title="Sales, last 7 days",
                              initial_comment=text)
        file = sent.get("file") or (sent.get("files") or [{}])[0]
        return str(file.get("id", ""))
