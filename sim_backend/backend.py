"""The simulator behind the ports: thin adapters over `SimWorld`, so a policy cannot tell it from live."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bridge.domain import (
    MachineView,
    OrderReceipt,
    QuoteRequested,
    RestockLine,
    SlotView,
    SupplierInfo,
    TaskReceipt,
)
from bridge.due import task_due
from bridge.errors import ToolError
from bridge.events import Event
from bridge.ports import Backend, Balance, PaymentLink
from sim_backend.approvals import SimApprovals
from sim_backend.customers import Customers
from sim_backend.engine import SimWorld
from sim_backend.mail import SupplierMail


class SimClock:
    def __init__(self, world: SimWorld) -> None:
        self.world = world
        # the world's own method, not one that calls it: every tool call spends time, ~4,600 a year
        self.spend: Callable[[float], None] = world.spend

    def now(self) -> datetime:
        return self.world.now


class SimMachine:
    def __init__(self, world: SimWorld) -> None:
        self.world = world
        self.machine_id = world.machine_id
        self.display_text = ""

    @property
    def locked(self) -> bool:
        """Kept in the world: the simulated customers find the machine locked too."""
        return self.world.machine_locked

    def view(self) -> MachineView:
        w = self.world
        return MachineView(machine=self.machine_id, online=w.machine_online, cash_cents=w.cash_box, locked=self.locked,
                           slots=tuple(SlotView(slot=s.slot, size=s.size, capacity=s.capacity, sku=s.sku,
                                                count=s.count, price_cents=s.price_cents)
                                       for s in w.slots.values()))

    def view_json(self) -> dict[str, Any]:
        """`view().to_json()`, read straight from the world: a reader that wants the view as data (the
        check_machine tool, every simulated morning) is spared twelve frozen SlotViews taken apart again."""
        w = self.world
        return {"machine": self.machine_id, "online": w.machine_online,
                "slots": [{"slot": s.slot, "size": str(s.size), "capacity": s.capacity, "sku": s.sku,
                           "count": s.count, "price_cents": s.price_cents} for s in w.slots.values()],
                "cash_cents": w.cash_box, "locked": self.locked}

    def slot_prices(self) -> dict[str, int]:
        """Each slot's price (what `view` says of them, without building the rest)."""
        return {name: s.price_cents for name, s in self.world.slots.items()}

    def set_price(self, slot: str, price_cents: int) -> None:
        s = self.world.slots.get(slot)
        if s is None:
            raise ToolError(f"no slot {slot!r} (slots are {', '.join(self.world.slots)})")
        if price_cents <= 0:  # as a machine refuses it live
            raise ToolError("price_cents must be positive")
        s.price_cents = price_cents

    def lock(self) -> None:
        self.world.machine_locked = self.world.lock_used = True

    def unlock(self) -> None:
        self.world.machine_locked = False

    def display(self, text: str) -> None:
        self.display_text = text


def _customers(world: SimWorld) -> Customers | None:
    return world.extras.customers if world.extras is not None else None


class SimPayments:
    def __init__(self, world: SimWorld) -> None:
        self.world = world
        self.refunds: dict[str, str] = {}

    def balance(self) -> Balance:
        return Balance(available_cents=self.world.bank, pending_cents=self.world.card_unsettled)

    def create_payment_link(self, *, order_ref: str, amount_cents: int, description: str,
                            customer: str) -> PaymentLink:
        """As live (a one-shot Stripe Checkout Session per order): the same order asked again is the
        same link; a different amount for it is refused. Simulated customers pay it or abandon it."""
        if amount_cents <= 0:
            raise ToolError("amount_cents must be positive")
        for link_id, (amount, ref) in self.world.payment_links.items():
            if ref == order_ref:
                if amount != amount_cents:
                    raise ToolError(f"payment link for {order_ref}: this reference was already used for a "
                                    "different request")
                return PaymentLink(link_id=link_id, url=f"https://pay.sim/{link_id}", amount_cents=amount,
                                   order_ref=order_ref)
        link_id = f"plink-{len(self.world.payment_links) + 1:05d}"
        self.world.payment_links[link_id] = (amount_cents, order_ref)
        customers = _customers(self.world)
        if customers is not None:
            customers.link_created(link_id, amount_cents, order_ref, customer, description)
        return PaymentLink(link_id=link_id, url=f"https://pay.sim/{link_id}", amount_cents=amount_cents,
                           order_ref=order_ref)

    def refund(self, *, payment_ref: str, amount_cents: int, reason: str, idempotency_key: str) -> str:
        if amount_cents <= 0:
            raise ToolError("amount_cents must be positive")
        customers = _customers(self.world)
        if customers is None:
            raise ToolError(f"no card payment {payment_ref!r} to refund")
        done = self.refunds.get(idempotency_key)
        if done is None:
            customers.refund(payment_ref, amount_cents, reason)
            done = self.refunds[idempotency_key] = f"re-{len(self.refunds) + 1:05d}"
        return done


class SimChat:
    """As Slack refuses a conversation that does not exist, a message goes only where someone is: a
    conversation the shop heard from, a customer (their DM or user id), "ops", a supplier
    ("supplier:<id>", "email:<id>" or its contact address). A supplier answers later
    (sim_backend/mail.py); a customer in a talk reads the reply and goes on (sim_backend/talk.py)."""

    def __init__(self, world: SimWorld) -> None:
        self.world = world
        self._people: frozenset[str] | None = None
        self.mail = SupplierMail(world)  # a supplier answers later (sim_backend/mail.py)

    def _known(self, conversation: str) -> bool:
        if conversation in self.world.heard:
            return True
        if self._people is None:  # the shop's people do not change during a run
            known = {"ops"}
            customers = _customers(self.world)
            for p in customers.people if customers is not None else ():
                known.update((p.uid, f"D{p.uid[1:]}"))
            self._people = frozenset(known)
        if conversation in self._people:
            return True
        return any(conversation in (f"supplier:{s.supplier}", f"email:{s.supplier}", s.contact)
                   for s in self.world.suppliers.directory())  # as the directory is now

    def send(self, *, conversation: str, text: str, thread: str = "") -> str:
        if not self._known(conversation):
            raise ToolError(f"no conversation {conversation!r}: nobody there to read it")
        self.world.sent_messages.append((self.world.now, conversation, text))
        if not self.mail.receive(conversation, text, thread):
            customers = _customers(self.world)
            if customers is not None:
                customers.heard(conversation, text)
        return f"msg-{len(self.world.sent_messages):06d}"


class SimProcurement:
    def __init__(self, world: SimWorld) -> None:
        self.world = world

    def suppliers(self) -> Sequence[SupplierInfo]:
        return self.world.suppliers.directory()

    def request_quote(self, *, supplier: str, items: Mapping[str, int]) -> QuoteRequested:
        """Mails the supplier; its answer comes after a seeded delay as a QuoteReceived event."""
        return self.world.request_quote(supplier=supplier, items=items)

    def counter_offer(self, *, quote_id: str, unit_costs_cents: Mapping[str, int]) -> QuoteRequested:
        return self.world.counter_offer(quote_id=quote_id, unit_costs_cents=unit_costs_cents)

    def place_order(self, *, quote_id: str, idempotency_key: str) -> OrderReceipt:
        receipt: OrderReceipt = self.world.place_order(quote_id=quote_id, idempotency_key=idempotency_key)
        return receipt


class SimPhysical:
    """The simulated restocker: does the work after a delay, and says so with events."""

    def __init__(self, world: SimWorld) -> None:
        self.world = world

    def request_restock(self, *, machine: str, lines: Sequence[RestockLine], note: str = "") -> TaskReceipt:
        w = self.world
        if machine != w.machine_id:
            raise ToolError(f"no machine {machine!r}")
        if not lines:
            raise ToolError("a restock names at least one slot")
        if len({ln.slot for ln in lines}) != len(lines):
            raise ToolError("each slot may appear once in a restock")
        for ln in lines:
            slot, sku, count = ln.slot, ln.sku, ln.count
            if slot not in w.slots:
                raise ToolError(f"no slot {slot!r}")
            if sku not in w.catalogue:
                raise ToolError(f"unknown product {sku!r}")
            if w.catalogue[sku].product.size is not w.slots[slot].size and w.slots[slot].size.value == "small":
                raise ToolError(f"{sku} is a large item and does not fit small slot {slot}")
            if count <= 0:
                raise ToolError(f"count for {slot} must be positive")
        task_id = w.new_task()
        due = task_due(w.now, w.scenario.world.restock_delay_minutes)
        assert due is not None
        w.schedule(due, w.restock, task_id, tuple(lines))
        return TaskReceipt(task_id=task_id, kind="restock", due_at=due)

    def request_handover(self, *, sku: str, quantity: int, customer: str, payment_ref: str,
                         amount_cents: int) -> TaskReceipt:
        w = self.world
        customers = _customers(w)
        if customers is None:
            raise ToolError("there is nobody to hand goods to in this shop")
        if quantity <= 0:
            raise ToolError("quantity must be positive")
        task_id = w.new_task()
        due = w.now + timedelta(minutes=w.scenario.world.restock_delay_minutes)
        w.schedule(due, customers.hand_over, task_id, sku, quantity, customer, payment_ref, amount_cents)
        return TaskReceipt(task_id=task_id, kind="handover", due_at=due)

    def request_cash_collection(self, *, machine: str) -> TaskReceipt:
        w = self.world
        if machine != w.machine_id:
            raise ToolError(f"no machine {machine!r}")
        task_id = w.new_task()
        due = task_due(w.now, w.scenario.world.collect_delay_minutes)
        assert due is not None
        w.schedule(due, w.collect_cash, task_id)
        return TaskReceipt(task_id=task_id, kind="collect_cash", due_at=due)


class SimEvents:
    def __init__(self, world: SimWorld) -> None:
        self.world = world
        # the world's own method: the runtime drains after every tool call, ~4,900 times a year
        self.drain: Callable[[], list[Event]] = world.drain

    def wait_until(self, when: datetime) -> list[Event]:
        self.world.advance_to(when)
        return self.world.drain()


def sim_backend(world: SimWorld) -> Backend:
    return Backend(shop=world.shop, clock=SimClock(world), machines={world.machine_id: SimMachine(world)},
                   payments=SimPayments(world), chat=SimChat(world), procurement=SimProcurement(world),
                   physical=SimPhysical(world), events=SimEvents(world), approvals=SimApprovals(world))
