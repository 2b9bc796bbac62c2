"""The morning briefing and reminders: a tool group every policy has.

The briefing is what a shopkeeper learns first thing: yesterday's sales, the unread mail, the alarms
since the last briefing (storm warning, temperature, offline, cash jam), stock lost, fees missed and
the days left before bankruptcy, and the reminders due. The LLM shopkeeper gets it as the day's first
user message; any policy can read it with `morning_briefing`.

A reminder is set for a date (or a date and time) with a text; it comes back in the briefing of that
day (or in the first session after its time), once. Reminders live in memory for the run (a live
shop's restart forgets them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from bridge import events as ev
from bridge.errors import ToolError
from bridge.ledger import BANK
from bridge.tools.paging import page_of
from bridge.tools.shop import ShopTools
from bridge.tools.spec import Kind, tool

MAX_REMINDERS = 200
MAX_REMINDER_TEXT = 500
MAX_KEPT = 50  # alarms and losses kept between two briefings


@dataclass(slots=True)
class Reminder:
    reminder_id: str
    at: datetime
    text: str
    set_at: datetime
    delivered: bool = False
    morning: bool = False  # set for a date only: it comes back in that day's morning briefing

    def to_json(self) -> dict[str, Any]:
        return {"reminder_id": self.reminder_id, "at": self.at.isoformat(), "text": self.text,
                "delivered": self.delivered}


class BriefingTools:
    def __init__(self, *, shop: ShopTools, bankruptcy_days: int) -> None:
        self.shop = shop
        self.bankruptcy_days = bankruptcy_days
        self.reminders: dict[str, Reminder] = {}
        self.alarms: list[dict[str, Any]] = []
        self.lost: list[dict[str, Any]] = []
        self.daily_fee_cents = 0
        self.offline: set[str] = set()
        self._seq = 0
        shop.listeners.append(self.observe)

    def observe(self, event: ev.Event) -> None:
        kind = type(event)
        if kind is ev.Sale:  # the most common event, and none of these
            return
        if kind is ev.Alarm:
            assert isinstance(event, ev.Alarm)
            self._keep(self.alarms, {"code": event.code, "source": event.source, "detail": event.detail,
                                     "at": event.ts.isoformat()})
        elif kind is ev.MachineStatus:
            assert isinstance(event, ev.MachineStatus)
            (self.offline.discard if event.online else self.offline.add)(event.machine)
        elif kind is ev.StockLost:
            assert isinstance(event, ev.StockLost)
            self._keep(self.lost, {"sku": event.sku, "quantity": event.quantity, "location": event.location,
                                   "reason": event.reason})
        elif kind is ev.FeeCharged:
            assert isinstance(event, ev.FeeCharged)
            if event.reason == "daily_fee":
                self.daily_fee_cents = event.amount_cents
        elif kind is ev.FeeMissed:
            assert isinstance(event, ev.FeeMissed)
            if event.reason == "daily_fee":
                self.daily_fee_cents = event.amount_cents

    @staticmethod
    def _keep(into: list[dict[str, Any]], item: dict[str, Any]) -> None:
        if len(into) < MAX_KEPT:
            into.append(item)

    # --- what the policy reads --------------------------------------------------------------------
    def briefing(self) -> dict[str, Any]:
        """This morning's briefing; the alarms, losses and due reminders in it are not repeated."""
        shop = self.shop
        today = shop.today()
        yesterday = today - timedelta(days=1)
        sold = shop.ledger.daily.get(yesterday, {})
        top = sorted(sold.items(), key=lambda kv: (-kv[1][1], kv[0]))[:5]
        roles: dict[str, int] = {}
        for m in shop.inbox:
            roles[m.role] = roles.get(m.role, 0) + 1
        streak = int(shop.ledger.fee_missed_streak)
        bank = shop.ledger.balance(BANK)
        out: dict[str, Any] = {
            "date": today.isoformat(),
            "yesterday": {"date": yesterday.isoformat(), "units": sum(u for u, _ in sold.values()),
                          "revenue_cents": sum(r for _, r in sold.values()),
                          "best_sellers": [{"sku": k, "units": u, "revenue_cents": r} for k, (u, r) in top]},
            "new_mail": {"messages": len(shop.inbox), "by_role": roles, "tasks_done": len(shop.task_results),
                         "notices": len(shop.notices)},
            "alarms": self.alarms, "machines_offline": sorted(self.offline), "stock_lost": self.lost,
            "bank_cents": bank, "daily_fee_cents": self.daily_fee_cents,
            "fees_missed_in_a_row": streak,
            "days_left_before_bankruptcy": self.bankruptcy_days - streak if streak else None,
            "reminders": self.due(in_briefing=True),
        }
        self.alarms, self.lost = [], []
        return out

    def due(self, *, in_briefing: bool = False) -> list[dict[str, Any]]:
        """Reminders whose time has come and that were not given yet (now given). A reminder set for a
        date only waits for that day's briefing: a session before it (a message at night) does not take
        it; after that day it comes in any session (a briefing missed)."""
        now = self.shop.now()
        today = self.shop.today()
        out = []
        for r in sorted(self.reminders.values(), key=lambda r: (r.at, r.reminder_id)):
            if r.morning and not in_briefing and r.at.date() >= today:
                continue
            if not r.delivered and r.at <= now:
                r.delivered = True
                out.append({"reminder_id": r.reminder_id, "at": r.at.isoformat(), "text": r.text})
        return out

    # --- the tools ---------------------------------------------------------------------------------
    @tool(Kind.READ, minutes=2)
    def morning_briefing(self) -> dict[str, Any]:
        """This morning's briefing: yesterday's sales, unread mail, alarms and stock lost since the last
        briefing, fees missed and days left before bankruptcy, reminders due."""
        return self.briefing()

    @tool(Kind.WRITE, minutes=1, guard="allow")
    def set_reminder(self, when: str, text: str) -> dict[str, Any]:
        """Set a reminder: on its day it comes back in the morning briefing (with a time, in the first
        session after that time).

        Args:
            when: a date YYYY-MM-DD, or a date and time YYYY-MM-DDTHH:MM (the shop's time zone).
            text: what to remind yourself of.
        """
        if not text.strip() or len(text) > MAX_REMINDER_TEXT:
            raise ToolError(f"text must be 1 to {MAX_REMINDER_TEXT} characters")
        if sum(1 for r in self.reminders.values() if not r.delivered) >= MAX_REMINDERS:
            raise ToolError(f"at most {MAX_REMINDERS} reminders may wait; cancel some")
        at = self._when(when)
        self._seq += 1
        rid = f"rem-{self._seq}"
        self.reminders[rid] = Reminder(reminder_id=rid, at=at, text=text.strip(), set_at=self.shop.now(),
                                       morning="T" not in when and " " not in when.strip())
        return self.reminders[rid].to_json()

    @tool(Kind.READ, minutes=1)
    def list_reminders(self, include_delivered: bool = False, page: int = 1, per_page: int = 20) -> dict[str, Any]:
        """Your reminders, soonest first. Paged.

        Args:
            include_delivered: also those already given.
            page: which page, from 1.
            per_page: reminders per page, 1 to 1000.
        """
        items = [r.to_json() for r in sorted(self.reminders.values(), key=lambda r: (r.at, r.reminder_id))
                 if include_delivered or not r.delivered]
        return page_of(items, page=page, per_page=per_page)

    @tool(Kind.WRITE, minutes=1, guard="allow")
    def cancel_reminder(self, reminder_id: str) -> dict[str, Any]:
        """Cancel a reminder.

        Args:
            reminder_id: from set_reminder or list_reminders.
        """
        if self.reminders.pop(reminder_id, None) is None:
            raise ToolError(f"no reminder {reminder_id!r}")
        return {"reminder_id": reminder_id, "cancelled": True}

    def _when(self, when: str) -> datetime:
        tz = self.shop.tz
        try:
            if "T" in when or " " in when.strip():
                at = datetime.fromisoformat(when.strip())
                return at.replace(tzinfo=tz) if at.tzinfo is None else at
            day = date.fromisoformat(when.strip())
        except ValueError:
            raise ToolError("when must be YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
        return datetime.combine(day, time.min, tz)
