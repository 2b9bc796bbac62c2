"""A Slack test rig: the fake Web API, the real SlackBridge on slack_bolt and slack_sdk pointed at it,
signed inbound requests, and the shop's books (real SQLite store, ledger, tools, runtime)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slack_bolt import BoltRequest, BoltResponse

from bridge import events as ev
from bridge.domain import (
    MachineView,
    OrderReceipt,
    Product,
    Quote,
    QuoteLine,
    QuoteRequested,
    Size,
    SlotView,
    SupplierInfo,
)
from bridge.events import Event
from bridge.guardrails import GuardrailPolicy, Guardrails
from bridge.ledger import Ledger
from bridge.ports import Backend, Balance, PaymentLink
from bridge.runtime import RunLimits, Runtime
from bridge.store import Store
from bridge.tools.executor import Toolbox
from bridge.tools.service import ServiceTools
from bridge.tools.shop import ShopTools
from hardware_adapters.doubles.slack_api import FakeSlack
from hardware_adapters.doubles.slack_inbound import SlackInbound
from hardware_adapters.doubles.slack_objects import SlackChannel, SlackUser
from hardware_adapters.live import EventQueue
from hardware_adapters.slack.app import SlackBridge
from hardware_adapters.slack.settings import SlackSettings

SECRET = "test-signing-secret-0123456789abcdef"
SHOP_CH = "C0SHOP00001"
OPS_CH = "C0OPS000001"
OPS_GROUP = "S0OPSGRP01"
ALICE, BOB = "U0ALICE01", "U0BOB0001"  # customers
OLGA, OMAR = "U0OLGA001", "U0OMAR001"  # ops staff
MALLORY = "U0MALLORY1"  # a colleague in the ops channel, not in the ops group
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def deadline_wait(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.01)


class FixedClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.t = now

    def now(self) -> datetime:
        return self.t

    def spend(self, minutes: float) -> None:
        return None


class FakeMachine:
    """Telemetry as a test sets it."""

    def __init__(self, machine_id: str = "m1") -> None:
        self.machine_id = machine_id
        self.counts = {"A1": 2, "A2": 0, "C1": 5}
        self.skus: dict[str, str | None] = {"A1": "cola", "A2": None, "C1": "chips"}
        self.prices = {"A1": 150, "A2": 0, "C1": 200}
        self.cash_cents = 0

    def view(self) -> MachineView:
        return MachineView(machine=self.machine_id, online=True, cash_cents=self.cash_cents, slots=tuple(
            SlotView(slot=s, size=Size.SMALL if s[0] in "AB" else Size.LARGE, capacity=10, sku=self.skus[s],
                     count=self.counts[s], price_cents=self.prices[s]) for s in self.counts))

    def set_price(self, slot: str, price_cents: int) -> None:
        self.prices[slot] = price_cents

    def lock(self) -> None: ...

    def unlock(self) -> None: ...

    def display(self, text: str) -> None: ...


class FakePayments:
    def __init__(self) -> None:
        self.links: list[PaymentLink] = []
        self.refunds: list[tuple[str, int]] = []

    def balance(self) -> Balance:
        return Balance(available_cents=0, pending_cents=0)

    def create_payment_link(self, *, order_ref: str, amount_cents: int, description: str,
                            customer: str) -> PaymentLink:
        link = PaymentLink(link_id=f"plink_{len(self.links) + 1}", url=f"https://pay.test/{order_ref}",
                           amount_cents=amount_cents, order_ref=order_ref)
        self.links.append(link)
        return link

    def refund(self, *, payment_ref: str, amount_cents: int, reason: str, idempotency_key: str) -> str:
        self.refunds.append((payment_ref, amount_cents))
        return f"re_{len(self.refunds)}"


class FakeProcurement:
    """A supplier that answers every quote request at once (still as an event, as the port says)."""

    def __init__(self, now: datetime, *, events: EventQueue) -> None:
        self.quotes = {"q-big": Quote(quote_id="q-big", supplier="acme", lead_time_days=2, valid_until=now,
                                      lines=(QuoteLine(sku="cola", quantity=1000, unit_cost_cents=70),))}
        self.orders: list[str] = []
        self.events = events
        self.now = now

    def suppliers(self) -> list[SupplierInfo]:
        return [SupplierInfo(supplier="acme", name="Acme", contact="sales@acme.test", lead_time_days=2,
                             skus=("cola",))]

    def _answer(self, quote_id: str, counter_of: str = "") -> QuoteRequested:
        q = self.quotes[quote_id]
        self.events.put(ev.QuoteReceived(id=f"fake:{quote_id}:{len(self.orders)}", ts=self.now, shop="main",
                                         quote_id=q.quote_id, supplier=q.supplier, lines=q.lines,
                                         lead_time_days=q.lead_time_days, valid_until=q.valid_until,
                                         counter_of=counter_of))
        return QuoteRequested(quote_id=quote_id, supplier=q.supplier, expected_by=self.now, counter_of=counter_of)

    def request_quote(self, *, supplier: str, items: Any) -> QuoteRequested:
        return self._answer("q-big")

    def counter_offer(self, *, quote_id: str, unit_costs_cents: Any) -> QuoteRequested:
        return self._answer(quote_id, counter_of=quote_id)

    def place_order(self, *, quote_id: str, idempotency_key: str) -> OrderReceipt:
        self.orders.append(quote_id)
        q = self.quotes[quote_id]
        return OrderReceipt(order_id=f"po-{len(self.orders)}", supplier=q.supplier, total_cents=q.total_cents,
                            expected_at=q.valid_until, lines=q.lines)


class _NoSchedule:
    def pop(self) -> tuple[datetime, str]:
        raise AssertionError("the tests drive the runtime's jobs directly")


def fake_slack() -> FakeSlack:
    users = [SlackUser(id=u, name=n) for u, n in ((ALICE, "alice"), (BOB, "bob"), (OLGA, "olga"), (OMAR, "omar"),
                                                    (MALLORY, "mallory"))]
    return FakeSlack(users=users, channels=[
        SlackChannel(id=SHOP_CH, name="snacks", members=(ALICE, BOB, OLGA, OMAR, MALLORY)),
        SlackChannel(id=OPS_CH, name="shop-ops", members=(OLGA, OMAR, MALLORY, ALICE))],
        usergroups={OPS_GROUP: [OLGA, OMAR]})


def settings_for(fake: FakeSlack) -> SlackSettings:
    return SlackSettings.from_env({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
                                   "SLACK_APP_TOKEN": "xapp-test"},
                                  ops_channel=OPS_CH, shop_channel=SHOP_CH, ops_usergroup=OPS_GROUP,
                                  base_url=fake.api_url)


@dataclass
class Rig:
    fake: FakeSlack
    slack: SlackBridge
    inbound: SlackInbound
    store: Store
    ledger: Ledger
    machine: FakeMachine
    payments: FakePayments
    procurement: FakeProcurement
    shop: ShopTools
    toolbox: Toolbox
    runtime: Runtime
    clock: FixedClock
    seen: list[Event] = field(default_factory=list)

    # --- Slack calling the app -------------------------------------------------------------------
    def dispatch(self, body: bytes, headers: dict[str, str]) -> BoltResponse:
        return self.slack.app.dispatch(BoltRequest(body=body.decode(), headers={k: [v] for k, v in headers.items()}))

    def event(self, envelope: dict[str, Any]) -> BoltResponse:
        return self.dispatch(*self.inbound.event_request(envelope, timestamp=int(time.time())))

    def interact(self, payload: dict[str, Any]) -> BoltResponse:
        return self.dispatch(*self.inbound.interactive_request(payload, timestamp=int(time.time())))

    def dm(self, user: str, text: str) -> BoltResponse:
        channel = self.fake.dm_channel_for(user)
        return self.event(self.inbound.message_im(user=user, channel=channel, text=text, at=NOW))

    def typed_dm(self, user: str, text: str) -> dict[str, Any]:
        """What a user typed in their DM with the app: kept in the fake's history, and its event."""
        channel = self.fake.dm_channel_for(user)
        stored = self.fake.add_message(channel, user=user, text=text)
        envelope = self.inbound.message_im(user=user, channel=channel, text=text, at=NOW)
        envelope["event"]["ts"] = envelope["event"]["event_ts"] = stored["ts"]
        return envelope

    def click(self, user: str, action_id: str, value: str, *, message_ts: str, channel: str = OPS_CH) -> BoltResponse:
        return self.interact(self.inbound.block_actions(user=user, channel=channel, message_ts=message_ts,
                                                        action_id=action_id, value=value, at=NOW))

    def submit(self, user: str, view: dict[str, Any], values: dict[str, dict[str, dict[str, Any]]]) -> BoltResponse:
        return self.interact(self.inbound.view_submission(
            user=user, view_id=view["id"], callback_id=view["callback_id"], values=values, at=NOW,
            private_metadata=view["private_metadata"]))

    def last_modal(self) -> dict[str, Any]:
        return list(self.fake.modals.values())[-1]

    def ops_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.fake.history(OPS_CH) if m.get("user") == self.fake.bot_user_id]

    # --- the books -------------------------------------------------------------------------------
    def ingest(self) -> list[Event]:
        """The runtime records what Slack queued (once each) and shows it to the tools."""
        before = len(self.seen)
        self.runtime.ingest()
        return self.seen[before:]

    def ephemerals_for(self, user: str) -> list[dict[str, Any]]:
        return [e for e in self.fake.ephemerals if e["user"] == user]


SUPPLIERS = (SupplierInfo(supplier="acme", name="Acme Wholesale", contact="orders@acme.test", lead_time_days=3,
                          skus=("cola", "chips", "gum")),)


@contextmanager
def make_rig(tmp_path: Path, *, policy: Any = None, guard: GuardrailPolicy | None = None,
             fake: FakeSlack | None = None, restart: bool = False, live_procurement: bool = False,
             machine: FakeMachine | None = None, clock: FixedClock | None = None,
             products: Mapping[str, Product] | None = None) -> Iterator[Rig]:
    """A shop on the fake Slack. `restart=True`: a new process on the database an earlier rig left
    (the books and the Slack board read back from it); pass that rig's `fake` (Slack outlives us).
    `products`: the shop's catalogue (default: cola, chips and gum, all small)."""
    with (nullcontext(fake) if fake is not None else fake_slack()) as fake:
        clock = clock or FixedClock()
        store = Store(url=f"sqlite:///{tmp_path / 'vend.db'}", fresh=not restart)
        ledger = Ledger.load(shop="main", store=store) if restart else Ledger(shop="main", store=store)
        machine = machine or FakeMachine()
        queue = EventQueue()
        products = dict(products) if products is not None else {
            s: Product(sku=s, name=s, category="snack", size=Size.SMALL, reference_price_cents=150)
            for s in ("cola", "chips", "gum")}
        slack = SlackBridge(settings=settings_for(fake), clock=clock, ledger=ledger, machines={"m1": machine},
                            events=queue, suppliers=SUPPLIERS, products=products)
        payments = FakePayments()
        procurement = FakeProcurement(NOW, events=queue)
        backend = Backend(shop="main", clock=clock, machines={"m1": machine}, payments=payments, chat=slack.chat,
                          procurement=slack.procurement if live_procurement else procurement,
                          physical=slack.physical, events=queue, approvals=slack.approvals)
        shop = ShopTools(backend=backend, ledger=ledger, products=products, tz=UTC)
        toolbox = Toolbox(tools=[shop, ServiceTools(shop=shop)], guardrails=Guardrails(guard or GuardrailPolicy()),
                          clock=clock, store=store, shop="main", run_id="slack-test", context=shop)
        seen: list[Event] = []
        runtime = Runtime(backend=replace(backend), on_event=seen.append, ledger=ledger, store=store, tools=shop, toolbox=toolbox,
                          policy=policy, schedule=_NoSchedule(), limits=RunLimits(days=1, max_messages=1000,
                                                                                    bankruptcy_days=5))
        try:
            yield Rig(fake=fake, slack=slack, inbound=SlackInbound(signing_secret=SECRET), store=store,
                      ledger=ledger, machine=machine, payments=payments, procurement=procurement, shop=shop,
                      toolbox=toolbox, runtime=runtime, clock=clock, seen=seen)
        finally:
            store.engine.dispose()  # the process is gone: what was not flushed is lost
