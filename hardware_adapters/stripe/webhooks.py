"""Stripe webhooks: `POST /stripe/webhook` on the bridge's one HTTP app.

The signature is checked on the raw body with the endpoint secret (STRIPE_WEBHOOK_SECRET) by the
SDK; a forged or stale request gets 400, is logged, and changes nothing. A verified event becomes
project events whose ids derive from the Stripe objects, not from the delivery
(`stripe:pay:<payment intent>`, `stripe:refund:<refund>`, `stripe:fee:<balance transaction>`, ...),
so a replayed delivery, or two event types telling of one payment (checkout.session.completed and
payment_intent.succeeded), book it once: the ledger is idempotent on event ids. Bookings are
commutative, so any order of arrival (a refund before its payment) ends in the same books. Live, a
delivery is committed to the inbox table (hardware_adapters/stripe/inbox.py) before the 200, so a
crash after the answer loses nothing.

The accounts (see bridge/ledger.py): card_pending is the money Stripe holds for the shop. A special
order's payment: card_pending / customer_deposits. A fridge capture moves nothing (the basket's Sale
events booked card_pending / revenue). Stripe's fee: fees / card_pending. A refund: refunds /
card_pending. A dispute: losses / card_pending (and its fee). A payout that reached the bank:
bank / card_pending.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import stripe
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bridge import events as ev
from bridge.errors import AdapterError
from hardware_adapters import edge
from hardware_adapters.stripe.client import call
from hardware_adapters.stripe.inbox import StripeInbox
from hardware_adapters.stripe.payments import FRIDGE

log = logging.getLogger("vendbridge.stripe")
CARD = "card_pending"
Obj = dict[str, Any]
CREATED = (946_684_800, 4_102_444_800)  # an event's `created`: 2000-01-01 .. 2100-01-01 (UTC seconds)
MAX_INT = 2**53  # any whole number an event carries (cents, counts): JSON-safe, and far inside BIGINT


def read_event(body: bytes) -> tuple[Obj | None, str]:
    """A verified body as an event, or why not. Checks before any parsing that can fail: depth, JSON,
    every string (control characters, U+0000, lone surrogates), the envelope's shape and time."""
    if not edge.json_depth_ok(body, 32):
        return None, "JSON nested deeper than 32"
    try:
        event = json.loads(body)
    except (ValueError, RecursionError) as err:
        return None, f"bad JSON: {err}"
    if not isinstance(event, dict):
        return None, "not an event object"
    where = edge.bad_text(event)
    if where is not None:
        return None, f"bad text in {where}: control character, U+0000 or lone surrogate"
    data = event.get("data")
    created = event.get("created")
    if not (isinstance(event.get("id"), str) and isinstance(event.get("type"), str) and isinstance(data, dict)
            and isinstance(data.get("object"), dict)):
        return None, "not a Stripe event: id, type and data.object are required"
    if not (isinstance(created, int) and not isinstance(created, bool) and CREATED[0] <= created < CREATED[1]):
        return None, "created is not a time between 2000 and 2100"
    return event, ""


def check_bounds(found: list[ev.Event]) -> None:
    """Refuse events whose whole numbers no store could keep (a signed but absurd amount)."""
    for e in found:
        for f in dataclasses.fields(e):
            value = getattr(e, f.name)
            if isinstance(value, int) and not isinstance(value, bool) and not -MAX_INT < value < MAX_INT:
                raise ValueError(f"{e.kind} {f.name} out of range")


def _ref(value: Any) -> str:
    """An expandable field: an id string, or the expanded object."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


class StripeEvents:
    """Turns verified Stripe events into project events. `client` (optional) looks up what an event
    does not carry: the Stripe fee on a charge, the refunds of a charge."""

    def __init__(self, *, shop: str, client: stripe.StripeClient | None = None) -> None:
        self.shop = shop
        self.client = client

    def translate(self, event: Obj) -> list[ev.Event]:
        obj: Obj = event["data"]["object"]
        ts = datetime.fromtimestamp(int(event["created"]), UTC)
        handler = getattr(self, "_" + event["type"].replace(".", "_"), None)
        return list(handler(obj, ts, event)) if handler is not None else []

    def _new(self, cls: type[ev.Event], event_id: str, ts: datetime, **fields: Any) -> ev.Event:
        return cls(id=event_id, ts=ts, shop=self.shop, **fields)

    # --- payments ---------------------------------------------------------------------------------
    def _checkout_session_completed(self, obj: Obj, ts: datetime, event: Obj) -> list[ev.Event]:
        pi = _ref(obj.get("payment_intent"))
        if obj.get("payment_status") != "paid" or not pi:
            return []  # an asynchronous method: payment_intent.succeeded tells when it is paid
        meta = obj.get("metadata") or {}
        out = [self._new(ev.PaymentReceived, f"stripe:pay:{pi}", ts, payment_ref=pi,
                         amount_cents=int(obj["amount_total"]),
                         order_ref=meta.get("order_ref") or obj.get("client_reference_id") or "",
                         customer=meta.get("customer", ""))]
        return out + self._fees_of_intent(pi, ts)

    def _payment_intent_succeeded(self, obj: Obj, ts: datetime, event: Obj) -> list[ev.Event]:
        pi, meta = obj["id"], obj.get("metadata") or {}
        amount = int(obj.get("amount_received") or obj["amount"])
        out: list[ev.Event]
        if meta.get("kind") == FRIDGE:
            out = [self._new(ev.CardCaptured, f"stripe:capture:{pi}", ts, payment_ref=pi,
                             session=meta.get("session", ""), amount_cents=amount)]
        else:
            out = [self._new(ev.PaymentReceived, f"stripe:pay:{pi}", ts, payment_ref=pi, amount_cents=amount,
                             order_ref=meta.get("order_ref", ""), customer=meta.get("customer", ""))]
        return out + self._fees_of_intent(pi, ts, charge=_ref(obj.get("latest_charge")))

    def _payment_intent_payment_failed(self, obj: Obj, ts: datetime, event: Obj) -> list[ev.Event]:
        error = obj.get("last_payment_error") or {}
        attempt = _ref(error.get("charge")) or event["id"]
        return [self._new(ev.PaymentStatus, f"stripe:failed:{attempt}", ts, payment_ref=obj["id"], status="failed",
                          order_ref=(obj.get("metadata") or {}).get("order_ref", ""),
                          detail=str(error.get("message") or error.get("code") or ""))]

    def _payment_intent_canceled(self, obj: Obj, ts: datetime, event: Obj) -> list[ev.Event]:
        return [self._new(ev.PaymentStatus, f"stripe:canceled:{obj['id']}", ts, payment_ref=obj["id"],
                          status="canceled", order_ref=(obj.get("metadata") or {}).get("order_ref", ""),
                          detail=str(obj.get("cancellation_reason") or ""))]

    def _fees_of_intent(self, pi: str, ts: datetime, charge: str = "") -> list[ev.Event]:
        """Stripe's fee on the payment's charge (from its balance transaction, looked up)."""
        if self.client is None:
            return []
        client = self.client
        if not charge:
            intent = call("payment lookup", lambda: client.v1.payment_intents.retrieve(pi))
            charge = _ref(intent.latest_charge)
        if not charge:
            return []
        ch = call("charge lookup", lambda: client.v1.charges.retrieve(
            charge, params={"expand": ["balance_transaction"]}))
        txn = ch.balance_transaction
        if txn is None or isinstance(txn, str) or not int(txn.fee):
            return []  # not settled into the balance yet: reconciliation reports a fee still missing
        return [self._new(ev.FeeCharged, f"stripe:fee:{txn.id}", ts, amount_cents=int(txn.fee), reason="card_fees",
                          paid_from=CARD)]

    # --- refunds, disputes, payouts --------------------------------------------------------------
    def _charge_refunded(self, obj: Obj, ts: datetime, event: Obj) -> list[ev.Event]:
        refunds = (obj.get("refunds") or {}).get("data")
        if refunds is None or (obj.get("refunds") or {}).get("has_more"):
            if self.client is None:
                raise AdapterError("charge.refunded without its refunds, and no Stripe client to list them")
            client, charge = self.client, obj["id"]
            page = call("refunds lookup", lambda: client.v1.refunds.list(params={"charge": charge, "limit": 100}))
            refunds = [r.to_dict() for r in page.data]
        payment = _ref(obj.get("payment_intent")) or obj["id"]
        return [self._new(ev.RefundIssued, f"stripe:refund:{r['id']}", ts, payment_ref=payment,
                          amount_cents=int(r["amount"]), reason=(r.get("metadata") or {}).get("reason")
                          or str(r.get("reason") or ""), paid_from=CARD)
                for r in refunds if r.get("status") in ("succeeded", "pending")]

    def _charge_dispute_created(self, obj: Obj, ts: datetime, event: Obj) -> list[ev.Event]:
        payment = _ref(obj.get("payment_intent")) or _ref(obj.get("charge"))
        out: list[ev.Event] = [self._new(ev.DisputeOpened, f"stripe:dispute:{obj['id']}", ts, dispute_ref=obj["id"],
                                         payment_ref=payment, amount_cents=int(obj["amount"]),
                                         reason=str(obj.get("reason") or ""))]
        for txn in obj.get("balance_transactions") or ():
            if isinstance(txn, dict) and int(txn.get("fee") or 0):
                out.append(self._new(ev.FeeCharged, f"stripe:fee:{txn['id']}", ts, amount_cents=int(txn["fee"]),
                                     reason="dispute_fee", paid_from=CARD))
        return out

    def _payout_paid(self, obj: Obj, ts: datetime, event: Obj) -> list[ev.Event]:
        return [self._new(ev.CardSettled, f"stripe:payout:{obj['id']}", ts, amount_cents=int(obj["amount"]))]


def webhook_route(*, secret: str, events: StripeEvents, sink: Callable[[ev.Event], None] | None = None,
                  inbox: StripeInbox | None = None, tolerance_s: int = 300, path: str = "/stripe/webhook") -> Route:
    """The `POST /stripe/webhook` route. With `inbox` (live), a verified delivery is committed to the
    inbox table before the 200 and the core books it from there; without, its events go to `sink`."""
    if (sink is None) == (inbox is None):
        raise ValueError("webhook_route needs exactly one of sink and inbox")

    def dead(body: bytes, reason: str) -> JSONResponse:
        """A signed delivery the bridge cannot book: a dead letter (once: its id is the bytes' digest)
        and a 400, so it is not mistaken for one that was booked."""
        letter = edge.dead_letter(source="stripe", topic=path, raw=body, reason=reason,
                                  received_at=datetime.now(UTC))
        if inbox is not None:
            inbox.keep({"id": letter.id, "type": "dead_letter"}, body, [letter])
        elif sink is not None:
            sink(letter)
        log.warning("stripe webhook dead-lettered: %s", letter.reason, extra={"id": letter.id})
        return JSONResponse({"error": "invalid payload"}, status_code=400)

    async def endpoint(request: Request) -> JSONResponse:
        body = await request.body()  # the raw bytes (bounded by the app's BodyLimit): the signature covers them
        try:  # the signature first, on the bytes: nothing is parsed for an unsigned request
            stripe.WebhookSignature.verify_header(body, request.headers.get("stripe-signature"), secret,
                                                  tolerance_s)
        except stripe.SignatureVerificationError as err:
            log.warning("stripe webhook refused from %s: %s", request.client.host if request.client else "?", err)
            return JSONResponse({"error": "invalid signature"}, status_code=400)
        except ValueError:  # not UTF-8: unsigned as far as anyone can tell
            log.warning("stripe webhook refused: body is not text")
            return JSONResponse({"error": "invalid payload"}, status_code=400)
        event, why = read_event(body)
        if event is None:
            return await run_in_threadpool(dead, body, why)
        try:
            found = await run_in_threadpool(events.translate, event)
            check_bounds(found)
        except AdapterError as err:  # Stripe retries the delivery later; nothing was passed on
            log.warning("stripe webhook %s (%s) not processed: %s", event.get("id"), event.get("type"), err)
            return JSONResponse({"error": "try again"}, status_code=503)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as err:  # signed, but not bookable
            return await run_in_threadpool(dead, body, f"{event['type']}: {type(err).__name__}: {err}")
        if inbox is not None:
            try:
                await run_in_threadpool(inbox.keep, event, body, found)
            except SQLAlchemyError as err:  # not kept: no 200, so Stripe delivers it again later
                log.error("stripe webhook %s not kept: %s", event.get("id"), err)
                return JSONResponse({"error": "try again"}, status_code=503)
        elif sink is not None:
            for e in found:
                sink(e)
        log.info("stripe webhook %s %s: %d event(s)", event.get("id"), event.get("type"), len(found))
        return JSONResponse({"received": True, "events": [e.id for e in found]})

    return Route(path, endpoint, methods=["POST"])
