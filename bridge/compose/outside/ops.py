"""The simulated ops team of `vend hil`: a person in the shop's ops channel of the loopback Slack
workspace who reads what the shopkeeper posts (quote requests, purchase tasks, restock and cash tasks,
approvals), lets the scenario's world decide the answer (the supplier engine, the simulated restocker,
the approver persona, through the simulator's own adapters), and answers as a person would: buttons and
modals, signed requests to the shop's real /slack/events endpoint.

The ops person reads only Slack messages (never the shop's books or board). Each request is answered
at the simulated time the world's answer falls due, so a simulated year of ops work is played in order.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from bridge import events as ev
from bridge.domain import Quote, RestockLine
from bridge.errors import AdapterError, ToolError
from hardware_adapters.doubles.slack_objects import SlackUser

OPS_USER = "U0OPSHIL01"
OPS_GROUP = "S0OPSHIL01"
OPS_CH = "C0OPSHIL001"
SHOP_CH = "C0SHOPHIL01"

_QTY = re.compile(r"(\d+) x ([A-Za-z0-9_.\-]+)")
_OFFER = re.compile(r"([A-Za-z0-9_.\-]+) at \$([\d,]+\.\d\d)")
_RESTOCK_LINE = re.compile(r"`([A-Za-z0-9]+)`: add (\d+) x ([A-Za-z0-9_.\-]+)(?: at \$([\d,]+\.\d\d))?")
_PURCHASE = re.compile(r"\((?P<task>[^,()]+), quote (?P<quote>[^)]+)\)")
_TASK_ID = re.compile(r"\(([^()]+)\)")
_MACHINE = re.compile(r"(?:Restock|Collect the cash from) (\S+) \(")
_HANDOVER = re.compile(r"^Hand (?P<n>\d+) x (?P<sku>\S+) from storage to customer (?P<customer>\S+) \([^;]+; "
                       r"paid \$(?P<amount>[\d,]+\.\d\d), (?P<ref>[^)]+)\)")
_APPROVAL = re.compile(r"\*Approval (?P<id>\S+)\*: `(?P<subject>.*)` up to \$(?P<amount>[\d,]+\.\d\d)")


def _cents(text: str) -> int:
    whole, frac = text.replace(",", "").split(".")
    return int(whole) * 100 + int(frac)


def _dollars(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class SlackDoor:
    """Signed requests to the shop's /slack/events, as Slack sends them; the modals the shop opens are
    read back from the loopback workspace."""

    def __init__(self, *, url: str, slack: Any, inbound: Any, retry: Callable[[], bool] | None = None) -> None:
        self.url = url
        self.retry = retry  # whether Slack sends this request again (--faults: as after a slow answer)
        self.retries = 0
        self.killer: Any = None  # --faults: the shop may be killed while it answers (bridge/compose/hil_process.py)
        self.slack = slack
        self.inbound = inbound
        self.http = httpx.Client(timeout=30.0)
        self.requests = 0

    def close(self) -> None:
        self.http.close()

    def _send(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST to the shop; with --faults the shop may be killed while it answers: a request that got
        no answer is sent again, as Slack retries one (the shop started again, at its new address)."""
        if self.killer is not None and self.killer.chance("slack"):
            got = self.killer.during(lambda: self.http.post(self.url, content=body, headers=headers), "slack")
            if isinstance(got, httpx.Response) and got.status_code == 200:
                return got
            self.retries += 1
            headers = {**headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
        return self.http.post(self.url, content=body, headers=headers)

    def _post(self, payload: dict[str, Any]) -> httpx.Response:
        body, headers = self.inbound.interactive_request(payload, timestamp=int(time.time()))
        self.requests += 1
        r = self._send(body, headers)
        if r.status_code != 200:
            raise AdapterError(f"/slack/events answered {r.status_code}: {r.text[:200]}")
        if self.retry is not None and self.retry():
            self.retries += 1
            again = self.http.post(self.url, content=body, headers={
                **headers, "X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
            if again.status_code != 200:
                raise AdapterError(f"/slack/events answered a retry {again.status_code}: {again.text[:200]}")
        return r

    def event(self, envelope: dict[str, Any]) -> None:
        """An Events API delivery (a message someone wrote)."""
        body, headers = self.inbound.event_request(envelope, timestamp=int(time.time()))
        self.requests += 1
        r = self._send(body, headers)
        if r.status_code != 200:
            raise AdapterError(f"/slack/events answered {r.status_code}: {r.text[:200]}")

    def click(self, *, user: str, action_id: str, value: str, message_ts: str, at: datetime) -> dict[str, Any] | None:
        """Press a button; the modal it opened, if any."""
        before = len(self.slack.modals)
        self._post(self.inbound.block_actions(user=user, channel=OPS_CH, message_ts=message_ts, action_id=action_id,
                                              value=value, at=at))
        with self.slack.lock:
            views = list(self.slack.modals.values())
        return views[-1] if len(views) > before else None

    def submit(self, *, user: str, modal: dict[str, Any], values: dict[str, dict[str, dict[str, Any]]],
               at: datetime) -> str:
        """Submit a modal; "" when the shop took it, else the errors it showed."""
        r = self._post(self.inbound.view_submission(user=user, view_id=modal["id"], callback_id=modal["callback_id"],
                                                    values=values, at=at, private_metadata=modal["private_metadata"]))
        return r.text if "errors" in r.text else ""


def _number(value: str | int) -> dict[str, Any]:
    return {"type": "number_input", "value": str(value)}


def _text(value: str) -> dict[str, Any]:
    return {"type": "plain_text_input", "value": value}


@dataclass(slots=True)
class _Task:
    slack_id: str
    ts: str
    kind: str  # restock, collect_cash, purchase, handover
    machine: str = ""
    lines: tuple[RestockLine, ...] = ()
    skus: tuple[str, ...] = ()
    placed: dict[str, int] = field(default_factory=dict)


class OpsTeam:
    """One ops person; `intake()` reads the shopkeeper's new posts, `play(events)` answers for what the
    world did. `devices` are the emulated machines the person restocks and empties (machine -> device)."""

    def __init__(self, *, world: Any, slack: Any, door: SlackDoor, devices: dict[str, Any]) -> None:
        from sim_backend.backend import SimPhysical, SimProcurement

        self.world = world
        self.slack = slack
        self.door = door
        self.devices = devices
        self.physical = SimPhysical(world)
        self.procurement = SimProcurement(world)  # the supplier engine, asked as the simulated shop asks it
        self.seen: set[str] = set()
        self.quotes: dict[str, str] = {}  # the shop's quote id -> the supplier engine's
        self.asked: dict[str, tuple[str, str]] = {}  # the engine's quote id not entered yet -> (shop's id, ts)
        self.orders: dict[str, _Task] = {}  # the world's order id -> the purchase task
        self.tasks: dict[str, _Task] = {}  # the world's task id -> the Slack task
        self.approvals: dict[str, tuple[str, str]] = {}  # the world's approval id -> (Slack id, message ts)
        self.unanswered: list[str] = []  # requests the world would not answer (why)
        self.keyed = 0  # prices keyed in at a machine (inventory reports, not events)
        self.wrote = 0  # customers' messages delivered
        # by hand (`vend chat --as ops`): the shop's requests are kept in `held` for a person to answer
        # (`answer`), not answered here; what the world does for an answer given is still confirmed here
        self.by_hand = False
        self.held: list[tuple[str, str, dict[str, Any], str]] = []  # (action, value, message, text)

    @property
    def now(self) -> datetime:
        now: datetime = self.world.now
        return now

    # --- reading the channel -------------------------------------------------------------------
    def intake(self) -> None:
        self._replies()
        bot = self.slack.bot_user_id
        for m in self.slack.history(OPS_CH):
            if m.get("user") != bot or m["ts"] in self.seen:
                continue
            self.seen.add(m["ts"])
            actions = [b for b in m.get("blocks", []) if b.get("type") == "actions"]
            if not actions:
                continue
            first = actions[0]["elements"][0]
            kind, value = first["action_id"], first.get("value", "")
            text = _unescape(m.get("text", ""))
            if self.by_hand:
                self.held.append((kind, value, m, text))
            else:
                self.answer(kind, value, m, text)

    def answer(self, kind: str, value: str, m: dict[str, Any], text: str) -> None:
        """Answer one request of the shop's (the first button of its post: `kind`, `value`) as the world
        decides: the supplier quotes, the order is placed and paid, the restocker or the approver is asked."""
        if kind == "quote_enter":
            self._quote_asked(value, m, text)
        elif kind == "purchase_paid":
            self._purchase(value, m, text)
        elif kind == "task_done":
            self._task(value, m, text)
        elif kind == "approval_approve":
            self._approval(value, m)

    def _replies(self) -> None:
        """The shop's replies in customers' DMs reach the customers, as the simulator's chat delivers them:
        one in a talk (sim_backend/talk.py) reads the reply and answers later, in the same DM."""
        bot = self.slack.bot_user_id
        with self.slack.lock:
            channels = sorted(set(self.slack.dm_channels.values()))
        new = [m | {"channel": c} for c in channels for m in self.slack.history(c)
               if m.get("user") == bot and m["ts"] not in self.seen]
        customers = getattr(getattr(self.world, "extras", None), "customers", None)
        for m in sorted(new, key=lambda m: m["ts"]):  # in the order the shop wrote them
            self.seen.add(m["ts"])
            text = _unescape(m.get("text", ""))
            self.world.sent_messages.append((self.now, m["channel"], text))
            if customers is not None:
                customers.heard(m["channel"], text)

    def _quote_asked(self, quote_id: str, m: dict[str, Any], text: str) -> None:
        """Ask the simulated supplier as the shop asked; a quote answered at once is entered now, one the
        supplier answers later (a QuoteReceived from the world) is entered when it comes."""
        try:
            if "Counter-offer on " in text:
                base = text.split("Counter-offer on ", 1)[1].split(":", 1)[0].strip()
                offers = {sku: _cents(c) for sku, c in _OFFER.findall(text)}
                got = self.procurement.counter_offer(quote_id=self.quotes[base], unit_costs_cents=offers)
            else:
                supplier = m["blocks"][0]["text"]["text"].split("`")[1]
                items = {sku: int(n) for n, sku in _QTY.findall(text.split(":", 1)[1])}
                got = self.procurement.request_quote(supplier=_unescape(supplier), items=items)
        except (ToolError, KeyError, IndexError) as err:
            self.unanswered.append(f"quote {quote_id}: {err}")
            return
        self.quotes[quote_id] = got.quote_id
        self.asked[got.quote_id] = (quote_id, m["ts"])
        if isinstance(got, Quote):
            self._enter_quote(got)

    def customers_write(self, events: list[ev.Event]) -> None:
        """Customers' direct messages to the shop (the world's MessageReceived from a customer): the person
        and the DM exist in the workspace, the message is in its history, and Slack delivers the event,
        with the DM's id and the message's ts the simulator gave them."""
        for e in events:
            if not (isinstance(e, ev.MessageReceived) and e.role == "customer" and e.conversation.startswith("D")):
                continue
            with self.slack.lock:
                if e.sender not in self.slack.users:
                    self.slack.add_user(SlackUser(id=e.sender, name=e.sender.lower()))
                self.slack.dm_channels[e.sender] = e.conversation
                # a customer going on in a talk (sim_backend/talk.py) writes in the thread they opened
                follow_up = bool(e.thread) and e.thread in self.slack.messages.get(e.conversation, {})
            if follow_up:
                m = self.slack.add_message(e.conversation, user=e.sender, text=e.text, thread_ts=e.thread)
                envelope = self.door.inbound.message_im(user=e.sender, channel=e.conversation, text=e.text,
                                                        at=self.now, thread_ts=e.thread)
                envelope["event"]["ts"] = envelope["event"]["event_ts"] = m["ts"]
            else:
                self.slack.add_message(e.conversation, user=e.sender, text=e.text, ts=e.thread or None)
                envelope = self.door.inbound.message_im(user=e.sender, channel=e.conversation, text=e.text,
                                                        at=self.now)
                if e.thread:
                    envelope["event"]["ts"] = envelope["event"]["event_ts"] = e.thread
            self.door.event(envelope)
            self.wrote += 1

    def _enter_quote(self, q: Quote) -> None:
        quote_id, ts = self.asked.pop(q.quote_id)
        modal = self.door.click(user=OPS_USER, action_id="quote_enter", value=quote_id, message_ts=ts, at=self.now)
        if modal is None:
            self.unanswered.append(f"quote {quote_id}: no modal")
            return
        costs = {ln.sku: ln.unit_cost_cents for ln in q.lines}
        values: dict[str, dict[str, dict[str, Any]]] = {}
        for block in modal["blocks"]:
            bid = block.get("block_id", "")
            if bid.startswith("cost:"):
                values[bid] = {"cost": _number(_dollars(costs.get(bid[5:], 0)))}
        values["lead"] = {"days": _number(q.lead_time_days)}
        values["note"] = {"note": _text(f"quoted as {q.quote_id}")}
        errors = self.door.submit(user=OPS_USER, modal=modal, values=values, at=self.now)
        if errors:
            self.unanswered.append(f"quote {quote_id}: {errors[:200]}")

    def _purchase(self, task_id: str, m: dict[str, Any], text: str) -> None:
        found = _PURCHASE.search(text)
        if found is None or found["quote"] not in self.quotes:
            self._cant(task_id, m["ts"], "no such quote from the supplier")
            return
        try:
            receipt = self.procurement.place_order(quote_id=self.quotes[found["quote"]], idempotency_key=task_id)
        except ToolError as err:
            self._cant(task_id, m["ts"], str(err))
            return
        task = _Task(slack_id=task_id, ts=m["ts"], kind="purchase", skus=tuple(ln.sku for ln in receipt.lines))
        self.orders[receipt.order_id] = task
        modal = self.door.click(user=OPS_USER, action_id="purchase_paid", value=task_id, message_ts=m["ts"], at=self.now)
        if modal is not None:
            self.door.submit(user=OPS_USER, modal=modal, at=self.now,
                             values={"amount": {"amount": _number(_dollars(receipt.total_cents))}})

    def _task(self, task_id: str, m: dict[str, Any], text: str) -> None:
        handover = _HANDOVER.search(text)
        if handover is not None:  # the simulated staff take the goods from the world's storage when due
            try:
                receipt = self.physical.request_handover(
                    sku=handover["sku"], quantity=int(handover["n"]), customer=handover["customer"],
                    payment_ref=handover["ref"], amount_cents=_cents(handover["amount"]))
            except ToolError as err:
                self._cant(task_id, m["ts"], str(err))
                return
            self.tasks[receipt.task_id] = _Task(slack_id=task_id, ts=m["ts"], kind="handover")
            return
        machine = _MACHINE.search(text)
        if machine is None:
            return
        try:
            if text.startswith("Restock"):
                body = _unescape(m["blocks"][0]["text"]["text"])
                lines = tuple(RestockLine(slot=slot, sku=sku, count=int(n), price_cents=_cents(p) if p else 0)
                              for slot, n, sku, p in _RESTOCK_LINE.findall(body))
                receipt = self.physical.request_restock(machine=machine[1], lines=lines)
                self.tasks[receipt.task_id] = _Task(slack_id=task_id, ts=m["ts"], kind="restock", machine=machine[1],
                                                    lines=lines)
            else:
                receipt = self.physical.request_cash_collection(machine=machine[1])
                self.tasks[receipt.task_id] = _Task(slack_id=task_id, ts=m["ts"], kind="collect_cash",
                                                    machine=machine[1])
        except ToolError as err:
            self._cant(task_id, m["ts"], str(err))

    def _approval(self, approval_id: str, m: dict[str, Any]) -> None:
        head = _APPROVAL.search(_unescape(m["blocks"][0]["text"]["text"]))
        summary = ""
        if len(m["blocks"]) > 1 and m["blocks"][1].get("type") == "context":
            summary = _unescape(m["blocks"][1]["elements"][0].get("text", ""))
        if head is None:
            return
        try:
            sim_id = self.world.approver.request(subject=head["subject"], amount_cents=_cents(head["amount"]),
                                                 summary=summary, beneficiary="")
        except ToolError as err:
            self.door.click(user=OPS_USER, action_id="approval_reject", value=approval_id, message_ts=m["ts"],
                            at=self.now)
            self.unanswered.append(f"approval {approval_id}: {err}")
            return
        self.approvals[sim_id] = (approval_id, m["ts"])

    def cant(self, task_id: str, ts: str, reason: str) -> None:
        """Press "Can't" on the shop's request (posted at `ts`) and give the reason in its modal."""
        self._cant(task_id, ts, reason)

    def _cant(self, task_id: str, ts: str, reason: str) -> None:
        modal = self.door.click(user=OPS_USER, action_id="task_cant", value=task_id, message_ts=ts, at=self.now)
        if modal is not None:
            self.door.submit(user=OPS_USER, modal=modal, at=self.now, values={"reason": {"reason": _text(reason)}})

    # --- answering for what the world did ------------------------------------------------------------
    def physical_work(self, events: list[ev.Event]) -> int:
        """The hands-on part, before anyone confirms: what the restocker put in the machines and the cash
        taken out, done on the emulated devices (their telemetry goes over MQTT). Returns the messages sent;
        inventory reports the devices sent are counted in `keyed`."""
        sent = 0
        unloaded: set[tuple[str, str]] = set()  # slots the restocker emptied for another product
        for e in events:
            if isinstance(e, ev.Unloaded) and e.task_id in self.tasks:
                unloaded.add((e.machine, e.slot))
            elif isinstance(e, ev.Restocked) and e.task_id in self.tasks:
                t = self.tasks[e.task_id]
                sent += self._restock(self.devices[e.machine], e, emptied=(e.machine, e.slot) in unloaded)
                unloaded.discard((e.machine, e.slot))
                t.placed[e.slot] = t.placed.get(e.slot, 0) + e.count
            elif isinstance(e, ev.CashCollected) and e.task_id in self.tasks:
                self.devices[e.machine].collect_cash()
                sent += 1
        for machine, slot in sorted(unloaded):  # emptied, and nothing of the new product to put in
            device = self.devices[machine]
            device.load(slot, sku=self.world.slots[slot].sku or "", count=0)
            device.publish_inventory()
            self.keyed += 1
        return sent

    def _restock(self, device: Any, e: ev.Restocked, *, emptied: bool) -> int:
        """The restocker's work on the device: another product after the old one was taken out is a load
        the device tells in an inventory report; the same product, or a first product in an empty slot,
        a restock it tells as an event. A new product's price is keyed in at the machine."""
        sent = 0
        if emptied:
            device.load(e.slot, sku=e.sku, count=e.count)
            device.publish_inventory()
            self.keyed += 1
        else:
            if device.inventory()[e.slot].get("sku", "") != e.sku:  # empty, so the product is all that changes
                device.load(e.slot, sku=e.sku, count=device.inventory()[e.slot]["count"])
            device.restock(e.slot, e.count)
            sent = 1
        price = self.world.slots[e.slot].price_cents
        if device.inventory()[e.slot]["price_cents"] != price:  # a new product's price, keyed in
            device.keypad_price(e.slot, price)
            self.keyed += 1
        return sent

    def confirm(self, events: list[ev.Event]) -> None:
        """The confirmations in Slack: counts placed, cash counted, goods delivered, approvals decided."""
        cash: dict[str, int] = {}
        delivered: dict[str, dict[str, int]] = {}
        for e in events:
            if isinstance(e, ev.CashCollected) and e.task_id in self.tasks:
                cash[e.task_id] = cash.get(e.task_id, 0) + e.amount_cents
            elif isinstance(e, ev.DeliveryReceived) and e.order_id in self.orders:
                got = delivered.setdefault(e.order_id, {})
                got[e.sku] = got.get(e.sku, 0) + e.quantity
            elif isinstance(e, ev.TaskCompleted) and e.task_id in self.tasks:
                self._task_done(e, cash.get(e.task_id, 0))
            elif isinstance(e, ev.QuoteReceived) and e.quote_id in self.asked:
                self._enter_quote(e.quote())
            elif isinstance(e, ev.ApprovalDecided) and e.approval_id in self.approvals:
                slack_id, ts = self.approvals.pop(e.approval_id)
                self.door.click(user=OPS_USER, action_id="approval_approve" if e.approved else "approval_reject",
                                value=slack_id, message_ts=ts, at=self.now)
        for order_id, counts in delivered.items():
            task = self.orders.pop(order_id)
            modal = self.door.click(user=OPS_USER, action_id="purchase_delivered", value=task.slack_id,
                                    message_ts=task.ts, at=self.now)
            if modal is not None:
                self.door.submit(user=OPS_USER, modal=modal, at=self.now,
                                 values={f"sku:{sku}": {"count": _number(counts.get(sku, 0))} for sku in task.skus})

    def _task_done(self, e: ev.TaskCompleted, cash_cents: int) -> None:
        task = self.tasks.pop(e.task_id)
        if task.kind in ("collect_cash", "handover") and not e.ok:
            self._cant(task.slack_id, task.ts, e.detail)
            return
        modal = self.door.click(user=OPS_USER, action_id="task_done", value=task.slack_id, message_ts=task.ts,
                                at=self.now)
        if modal is None:
            return
        if task.kind == "restock":
            values = {f"slot:{ln.slot}": {"count": _number(task.placed.get(ln.slot, 0))} for ln in task.lines}
        else:
            values = {"amount": {"amount": _number(_dollars(cash_cents))}}
        self.door.submit(user=OPS_USER, modal=modal, values=values, at=self.now)
