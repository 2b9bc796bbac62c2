"""Card-present fridge sessions from the machines' door events (the CardSessions port).

A machine configured as a fridge reports `door` events with a session id (and the reader's card token)
and its vends with that session as their `txn`. Door open: hold `hold_cents` on the card. Vends of the
session: its basket. Door closed: charge the basket (at most the hold), or release the hold when the
basket is empty. Idempotent on the session id: a session is authorised once and settled once however
often its door events arrive (and the port's idempotency keys, derived from the session, make a call
repeated after a crash a replay at the card processor).

Runs on the core thread as the ingest loop's observer, so it sees a session's vends before its close
in the order the device sent them. Failures (a declined card, the processor unreachable) are an Alarm
for the shopkeeper and ops; the books are not touched (a capture's money comes by webhook).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from bridge import events as ev
from bridge.domain import Payment
from bridge.errors import AdapterError, ToolError
from bridge.ports import CardSessions

log = logging.getLogger("vendbridge.fridge")


@dataclass(slots=True)
class FridgeSession:
    session: str
    machine: str
    payment_ref: str = ""
    held_cents: int = 0
    basket_cents: int = 0
    status: str = "open"  # open, authorised, captured, canceled, failed


class FridgeSessions:
    def __init__(self, *, cards: CardSessions, machines: frozenset[str], hold_cents: int,
                 alarm: Callable[[ev.Event], None]) -> None:
        self.cards = cards
        self.machines = machines
        self.hold_cents = hold_cents
        self.alarm = alarm
        self.sessions: dict[str, FridgeSession] = {}

    def observe(self, e: ev.Event) -> None:
        if getattr(e, "machine", None) not in self.machines:
            return
        if isinstance(e, ev.DoorChanged) and e.session:
            if e.open:
                self._open(e)
            else:
                self._close(e)
        elif isinstance(e, ev.Sale) and e.txn and e.payment == Payment.CARD:
            s = self.sessions.get(e.txn)
            if s is not None and s.status == "authorised":
                s.basket_cents += e.units * e.unit_price_cents

    def _open(self, e: ev.DoorChanged) -> None:
        if e.session in self.sessions:
            return  # told again: the hold was asked for once
        s = self.sessions[e.session] = FridgeSession(session=e.session, machine=e.machine)
        try:
            hold = self.cards.authorise(session=e.session, machine=e.machine, hold_cents=self.hold_cents,
                                        card=e.card)
        except (ToolError, AdapterError) as err:
            s.status = "failed"
            self._alarm(e, "fridge_hold_failed", f"session {e.session}: {err}")
            return
        s.payment_ref, s.held_cents, s.status = hold.payment_ref, hold.held_cents, "authorised"

    def _close(self, e: ev.DoorChanged) -> None:
        s = self.sessions.get(e.session)
        if s is None or s.status != "authorised":
            return  # never held (unknown, failed) or already settled
        amount = min(s.basket_cents, s.held_cents)
        try:
            if amount:
                self.cards.capture(session=s.session, payment_ref=s.payment_ref, amount_cents=amount)
            else:
                self.cards.cancel(session=s.session, payment_ref=s.payment_ref)
        except (ToolError, AdapterError) as err:
            self._alarm(e, "fridge_capture_failed", f"session {e.session}: {err}")
            return
        s.status = "captured" if amount else "canceled"
        if s.basket_cents > s.held_cents:
            self._alarm(e, "fridge_basket_over_hold", f"session {e.session}: basket {s.basket_cents} cents, "
                                                      f"held {s.held_cents}; {s.basket_cents - amount} not charged")

    def _alarm(self, e: ev.DoorChanged, code: str, detail: str) -> None:
        log.error("fridge session problem", extra={"code": code, "detail": detail})
        self.alarm(ev.Alarm(id=f"fridge:{code}:{e.session}", ts=e.ts, shop=e.shop, source=e.machine, code=code,
                            detail=detail))
