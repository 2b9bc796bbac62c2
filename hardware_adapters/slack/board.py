"""What the Slack side has asked people to do and what they answered: tasks, approvals, relays.

Kept in memory under one lock (handlers run on Slack's threads); the books hold the durable side
(tasks are opened in the ledger by the tools, and every answer becomes an event).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from bridge.domain import RestockLine


@dataclass(slots=True, kw_only=True)
class SlackTask:
    task_id: str
    kind: str  # "restock" or "collect_cash"
    machine: str
    lines: tuple[RestockLine, ...] = ()
    note: str = ""
    channel: str = ""
    ts: str = ""
    status: str = "open"  # open, done, failed
    done_by: str = ""
    telemetry_before: dict[str, int] = field(default_factory=dict)  # slot -> count when asked
    cash_expected: int | None = None  # machine cash box telemetry, cents


@dataclass(slots=True, kw_only=True)
class SlackApproval:
    approval_id: str
    subject: str
    amount_cents: int
    summary: str
    beneficiary: str = ""
    channel: str = ""
    ts: str = ""
    status: str = "pending"  # pending, approved, rejected
    decided_by: str = ""


@dataclass(slots=True, kw_only=True)
class SupplierRelay:
    relay_id: str
    supplier: str
    text: str
    channel: str = ""
    ts: str = ""


class Board:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.tasks: dict[str, SlackTask] = {}
        self.approvals: dict[str, SlackApproval] = {}
        self.relays: dict[str, SupplierRelay] = {}
        self._seq = 0

    def next_id(self, prefix: str) -> str:
        with self.lock:
            self._seq += 1
            return f"{prefix}-{self._seq:05d}"

    def resume(self, *, tasks: Iterable[SlackTask], seq: int) -> None:
        """After a restart: tasks still open in the books, and ids continuing after `seq` (a reused id
        would make a new confirmation look like one already recorded)."""
        with self.lock:
            for t in tasks:
                self.tasks.setdefault(t.task_id, t)
            self._seq = max(self._seq, seq)

    def relay_by_ts(self, channel: str, ts: str) -> SupplierRelay | None:
        with self.lock:
            return next((r for r in self.relays.values() if r.channel == channel and r.ts == ts), None)

    def open_tasks(self) -> list[SlackTask]:
        with self.lock:
            return [t for t in self.tasks.values() if t.status == "open"]
