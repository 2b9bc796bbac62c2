"""The simulated approver: a seeded ops persona who answers `request_approval` by the scenario's rule.

Live, an approval request is a message to the ops channel and a member of the ops group presses
Approve or Reject (hardware_adapters/slack/ops.py): the decision arrives later as an
`ApprovalDecided` event. Here one persona (`[approver]` in the scenario, `ApproverSpec`) does the
same: it reads the request at work, a seeded while later decides by its stated rule, and the
decision arrives as the same event, with the reason for a refusal in its `detail`. The delays
come from the run seed's "approver" stream, so the same seed and the same requests give the same
decisions at the same times.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from bridge import events as ev
from bridge.errors import ToolError
from sim_backend.rng import rng_for
from sim_backend.scenario import ApproverSpec

if TYPE_CHECKING:
    from sim_backend.engine import SimWorld


@dataclass(slots=True)
class Asked:
    approval_id: str
    subject: str
    amount_cents: int
    summary: str
    beneficiary: str
    due: datetime
    status: str = "pending"  # pending, approved, rejected
    reason: str = ""


def _money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


class SimApprover:
    """The persona: keeps every request, decides each at its due time, emits the decision."""

    def __init__(self, *, world: SimWorld, spec: ApproverSpec) -> None:
        self.world = world
        self.spec = spec
        self.rng = rng_for(world.seed, "approver")
        self.asked: dict[str, Asked] = {}

    def request(self, *, subject: str, amount_cents: int, summary: str, beneficiary: str) -> str:
        if amount_cents <= 0:
            raise ToolError("amount_cents must be positive")
        w, s = self.world, self.spec
        approval_id = f"approval-{len(self.asked) + 1:05d}"
        start = self.at_work(w.now)
        due = start + timedelta(minutes=self.rng.randint(s.delay_minutes_min, s.delay_minutes_max))
        if due > self._closing(start):  # not done today: first thing on the next working day
            due = self.at_work(due)
        self.asked[approval_id] = Asked(approval_id=approval_id, subject=subject, amount_cents=amount_cents,
                                        summary=summary, beneficiary=beneficiary, due=due)
        w.schedule(due, self.decide, approval_id)
        return approval_id

    # --- the working day ----------------------------------------------------------------------
    def _works_on(self, when: datetime) -> bool:
        return self.spec.weekends or when.weekday() < 5

    def _opening(self, when: datetime) -> datetime:
        return datetime.combine(when.date(), time(self.spec.first_hour), self.world.tz)

    def _closing(self, when: datetime) -> datetime:
        local = when.astimezone(self.world.tz)
        return datetime.combine(local.date(), time(0), self.world.tz) + timedelta(hours=self.spec.last_hour)

    def at_work(self, when: datetime) -> datetime:
        """`when` if the approver is at work then; else the start of its next working day."""
        local = when.astimezone(self.world.tz)
        if self._works_on(local) and self._opening(local) <= local < self._closing(local):
            return when
        day = local if self._works_on(local) and local < self._opening(local) else local + timedelta(days=1)
        while not self._works_on(day):
            day += timedelta(days=1)
        return self._opening(day)

    # --- the rule -----------------------------------------------------------------------------
    def decide(self, approval_id: str) -> None:
        a = self.asked[approval_id]
        a.reason = self.refusal(a)
        a.status = "rejected" if a.reason else "approved"
        user = self.spec.user
        detail = f"{a.status} by {user}" + (f": {a.reason}" if a.reason else "")
        self.world.emit(ev.ApprovalDecided, approval_id=approval_id, subject=a.subject, approved=not a.reason,
                        approver=user, amount_cents=a.amount_cents, detail=detail)

    def refusal(self, a: Asked) -> str:
        """Why the rule refuses the request; "" when it approves it."""
        action, _, ref = a.subject.partition(":")
        if a.beneficiary and a.beneficiary == self.spec.user:
            return "I cannot decide on a request that pays me"
        if action == "order" and ref:
            return self._order(ref, a.amount_cents)
        if action == "refund" and ref:
            return self._refund(ref, a.amount_cents)
        return f"I approve only orders and refunds, not {a.subject!r}"

    def _order(self, quote_id: str, amount: int) -> str:
        s, w = self.spec, self.world
        quote = w.suppliers.quotes.get(quote_id)
        if quote is None:
            return f"there is no quote {quote_id}"
        if quote.valid_until < w.now:
            return f"quote {quote_id} has expired"
        if quote.total_cents > amount:
            return f"quote {quote_id} costs {_money(quote.total_cents)}, more than the {_money(amount)} asked"
        if amount > s.order_up_to_cents:
            return f"{_money(amount)} is above the {_money(s.order_up_to_cents)} I may approve for an order"
        if w.bank - amount < s.bank_floor_cents:
            return (f"paying {_money(amount)} would leave {_money(w.bank - amount)} in the bank, below the "
                    f"{_money(s.bank_floor_cents)} floor")
        return ""

    def _refund(self, payment_ref: str, amount: int) -> str:
        s = self.spec
        if amount > s.refund_up_to_cents:
            return f"{_money(amount)} is above the {_money(s.refund_up_to_cents)} I may approve for a refund"
        if not s.check_refunds:
            return ""
        extras = self.world.extras
        customers = extras.customers if extras is not None else None
        left = customers.refundable.get(payment_ref) if customers is not None else None
        if customers is None or left is None or not customers.claims.get(payment_ref, (0, True))[1]:
            return f"I find no payment {payment_ref} in the records"
        if amount > left:
            return f"{payment_ref} has only {_money(left)} left to refund"
        return ""

    def state(self) -> dict[str, Any]:
        """What the state hash covers: the stream and every request's outcome."""
        return {"rng": hashlib.sha256(repr(self.rng.getstate()).encode()).hexdigest()[:16],
                "asked": [[a.approval_id, a.subject, a.amount_cents, a.status, a.due.isoformat()]
                          for a in self.asked.values()]}


class SimApprovals:
    """The Approvals port over the world's approver."""

    def __init__(self, world: SimWorld) -> None:
        self.approver = world.approver

    def request_approval(self, *, subject: str, amount_cents: int, summary: str, beneficiary: str = "") -> str:
        return self.approver.request(subject=subject, amount_cents=amount_cents, summary=summary,
                                     beneficiary=beneficiary)


__all__ = ["SimApprovals", "SimApprover"]
