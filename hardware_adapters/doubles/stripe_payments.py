"""PaymentIntents, charges, refunds and payouts of the fake Stripe, with their ledger effects.

Test card payment methods behave as in Stripe's test mode: `pm_card_chargeDeclined` and
`pm_card_chargeDeclinedInsufficientFunds` are declined (402 card_error); any other `pm_...` succeeds.
"""

from __future__ import annotations

import copy
from typing import Any

from hardware_adapters.doubles.stripe_state import Obj, StripeState, unexpected_state
from hardware_adapters.doubles.stripe_wire import (
    StripeError,
    as_bool,
    as_int,
    bad_param,
    check_known,
    fixture,
    from_fixture,
    metadata,
    money,
    require,
)

DECLINES = {
    "pm_card_chargeDeclined": ("generic_decline", "Your card was declined."),
    "pm_card_chargeDeclinedInsufficientFunds": ("insufficient_funds", "Your card has insufficient funds."),
}
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing")
MIN_AMOUNT = 50

PI_CREATE = {"amount", "currency", "capture_method", "confirm", "payment_method", "payment_method_types",
             "metadata", "description", "customer", "receipt_email", "statement_descriptor_suffix"}


def create_payment_intent(state: StripeState, params: Obj) -> Obj:
    check_known(params, PI_CREATE)
    amount = as_int(params, "amount", required=True)
    assert amount is not None
    currency = str(require(params, "currency")).lower()
    if amount < MIN_AMOUNT:
        raise StripeError(400, f"Amount must be at least {money(MIN_AMOUNT)} {currency}", code="amount_too_small",
                          param="amount", saved=False)
    capture_method = params.get("capture_method", "automatic_async")
    if capture_method not in ("automatic", "automatic_async", "manual"):
        raise bad_param("Invalid capture_method: must be one of automatic, automatic_async, or manual",
                        "capture_method")
    pm_types = params.get("payment_method_types")
    pi_id = state.new_id("pi_3")
    pi = state.add(from_fixture(
        "payment_intent",
        id=pi_id, amount=amount, amount_capturable=0, amount_received=0,
        automatic_payment_methods=None if pm_types else {"enabled": True},
        canceled_at=None, cancellation_reason=None, capture_method=capture_method,
        client_secret=f"{pi_id}_secret_{state.new_id('', 25)}", created=state.now(), currency=currency,
        customer=params.get("customer"), description=params.get("description"), last_payment_error=None,
        latest_charge=None, metadata=metadata(params), next_action=None, payment_method=None,
        payment_method_configuration_details=None if pm_types else {"id": "pmc_fake_default", "parent": None},
        payment_method_types=pm_types or ["card"], processing=None, receipt_email=params.get("receipt_email"),
        shipping=None, statement_descriptor_suffix=params.get("statement_descriptor_suffix"),
        status="requires_payment_method", transfer_data=None, managed_payments=None,
    ))
    state.emit("payment_intent.created", pi)
    if params.get("payment_method"):
        pi["payment_method"] = params["payment_method"]
        pi["status"] = "requires_confirmation"
    if as_bool(params, "confirm"):
        return confirm_payment_intent(state, pi_id, {})
    return pi


def confirm_payment_intent(state: StripeState, pi_id: str, params: Obj) -> Obj:
    check_known(params, {"payment_method", "capture_method", "return_url", "receipt_email"})
    pi = state.get("payment_intent", pi_id, "intent")
    if pi["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
        raise unexpected_state(
            f"This PaymentIntent's status is {pi['status']}, but it must be one of requires_payment_method, "
            "requires_confirmation, or requires_action to be confirmed.", "payment_intent", pi)
    if params.get("capture_method"):
        pi["capture_method"] = params["capture_method"]
    if params.get("payment_method"):
        pi["payment_method"] = params["payment_method"]
    pm = pi["payment_method"]
    if not pm:
        raise unexpected_state(
            "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm "
            "this PaymentIntent, either provide a payment_method or attach one first.", "payment_intent", pi)
    if pm in DECLINES:
        decline_code, message = DECLINES[pm]
        charge = _new_charge(state, pi, captured=False, decline=(decline_code, message))
        error = {"type": "card_error", "code": "card_declined", "decline_code": decline_code, "message": message,
                 "charge": charge["id"], "param": None}
        pi.update(status="requires_payment_method", latest_charge=charge["id"], payment_method=None,
                  last_payment_error=error)
        state.emit("charge.failed", charge)
        state.emit("payment_intent.payment_failed", pi)
        raise StripeError(402, message, type="card_error", code="card_declined", decline_code=decline_code,
                          charge=charge["id"], payment_intent=copy.deepcopy(pi))
    manual = pi["capture_method"] == "manual"
    charge = _new_charge(state, pi, captured=not manual)
    pi.update(latest_charge=charge["id"], last_payment_error=None)
    state.emit("charge.succeeded", charge)
    if manual:
        pi.update(status="requires_capture", amount_capturable=pi["amount"])
        state.emit("payment_intent.amount_capturable_updated", pi)
    else:
        pi.update(status="succeeded", amount_received=pi["amount"])
        state.emit("payment_intent.succeeded", pi)
    return pi


def _new_charge(state: StripeState, pi: Obj, *, captured: bool, decline: tuple[str, str] | None = None) -> Obj:
    ch_id = state.new_id("ch_3")
    amount = pi["amount"]
    details = fixture("charge")["payment_method_details"]
    details["card"].update(amount_authorized=None if decline else amount, wallet=None,
                           network_transaction_id=state.new_id("", 15))
    details["card"]["overcapture"]["maximum_amount_capturable"] = amount
    outcome = {"advice_code": None, "network_advice_code": None, "network_decline_code": None,
               "network_status": "approved_by_network", "reason": None,
               "seller_message": "Payment complete.", "type": "authorized"}
    if decline:
        outcome.update(network_status="declined_by_network", reason=decline[0], type="issuer_declined",
                       seller_message="The bank did not return any further details with this decline.")
    charge = state.add(from_fixture(
        "charge",
        id=ch_id, amount=amount, amount_captured=amount if captured else 0, amount_refunded=0,
        balance_transaction=None, calculated_statement_descriptor="VENDBRIDGE", captured=captured,
        created=state.now(), currency=pi["currency"], customer=pi["customer"], description=pi["description"],
        failure_code="card_declined" if decline else None, failure_message=decline[1] if decline else None,
        metadata=dict(pi["metadata"]), outcome=outcome, paid=decline is None, payment_intent=pi["id"],
        payment_method=state.new_id("pm_1"), payment_method_details=details,
        receipt_url=f"https://pay.stripe.com/receipts/payment/{state.new_id('', 40)}",
        refunds={"data": [], "has_more": False, "object": "list", "url": f"/v1/charges/{ch_id}/refunds"},
        shipping=None, source=None, status="failed" if decline else "succeeded", transfer_data=None,
    ))
    if captured:
        _settle_charge(state, charge, amount)
    return charge


def _settle_charge(state: StripeState, charge: Obj, amount: int) -> None:
    txn = state.balance_transaction(
        amount=amount, fee=state.fee_for(amount), kind="charge", category="charge", source=charge["id"],
        description=charge["description"], settles=True)
    charge["balance_transaction"] = txn["id"]


def capture_payment_intent(state: StripeState, pi_id: str, params: Obj) -> Obj:
    check_known(params, {"amount_to_capture", "metadata", "final_capture"})
    pi = state.get("payment_intent", pi_id, "intent")
    if pi["status"] != "requires_capture":
        raise unexpected_state(
            f"This PaymentIntent could not be captured because it has a status of {pi['status']}. Only a "
            "PaymentIntent with one of the following statuses may be captured: requires_capture.",
            "payment_intent", pi)
    amount = as_int(params, "amount_to_capture", minimum=1)
    amount = pi["amount_capturable"] if amount is None else amount
    if amount > pi["amount_capturable"]:
        raise StripeError(
            400, f"The amount to capture ({amount}) must be less than or equal to the amount capturable "
            f"({pi['amount_capturable']}).", code="amount_too_large", param="amount_to_capture")
    charge = state.objects[pi["latest_charge"]]
    # The uncaptured remainder is released, which Stripe reports as refunded on the charge.
    charge.update(captured=True, amount_captured=amount, amount_refunded=charge["amount"] - amount)
    _settle_charge(state, charge, amount)
    pi.update(status="succeeded", amount_received=amount, amount_capturable=0, metadata=metadata(params, pi["metadata"]))
    state.emit("charge.captured", charge)
    state.emit("payment_intent.succeeded", pi)
    return pi


def cancel_payment_intent(state: StripeState, pi_id: str, params: Obj) -> Obj:
    check_known(params, {"cancellation_reason"})
    pi = state.get("payment_intent", pi_id, "intent")
    if pi["status"] not in CANCELABLE:
        raise unexpected_state(
            f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. Only a "
            f"PaymentIntent with one of the following statuses may be canceled: {', '.join(CANCELABLE)}.",
            "payment_intent", pi)
    if pi["status"] == "requires_capture":  # the authorisation is released
        charge = state.objects[pi["latest_charge"]]
        charge.update(amount_refunded=charge["amount"], refunded=True)
    pi.update(status="canceled", canceled_at=state.now(), amount_capturable=0,
              cancellation_reason=params.get("cancellation_reason"))
    state.emit("payment_intent.canceled", pi)
    return pi


def create_refund(state: StripeState, params: Obj) -> Obj:
    check_known(params, {"payment_intent", "charge", "amount", "reason", "metadata"})
    if params.get("charge"):
        charge = state.get("charge", params["charge"], "charge")
    elif params.get("payment_intent"):
        pi = state.get("payment_intent", params["payment_intent"], "payment_intent")
        if pi["status"] != "succeeded":
            raise unexpected_state(f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
                                   "payment_intent", pi)
        charge = state.objects[pi["latest_charge"]]
    else:
        raise bad_param("One of the following params should be provided for this request: payment_intent or "
                        "charge.", "charge", "parameter_missing")
    if not charge["captured"] or charge["status"] != "succeeded":
        raise StripeError(400, f"Charge {charge['id']} has not been captured or did not succeed.",
                          code="charge_not_refundable", param="charge")
    refunded = sum(state.objects[r]["amount"] for r in _refund_ids(state, charge["id"]))
    left = charge["amount_captured"] - refunded
    if left <= 0:
        raise StripeError(400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded",
                          param="charge")
    amount = as_int(params, "amount", minimum=1)
    amount = left if amount is None else amount
    if amount > left:
        what = f"charge amount ({money(charge['amount_captured'])})" if not refunded else \
            f"unrefunded amount on charge ({money(left)})"
        raise StripeError(400, f"Refund amount ({money(amount)}) is greater than {what}", code="amount_too_large",
                          param="amount")
    reason = params.get("reason")
    if reason not in (None, "duplicate", "fraudulent", "requested_by_customer"):
        raise bad_param("Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer", "reason")
    re_id = state.new_id("re_3")
    txn = state.balance_transaction(amount=-amount, fee=0, kind="refund", category="refund", source=re_id,
                                    description="REFUND FOR CHARGE", settles=False)
    refund = state.add(from_fixture(
        "refund",
        id=re_id, amount=amount, balance_transaction=txn["id"], charge=charge["id"], created=state.now(),
        currency=charge["currency"], metadata=metadata(params), payment_intent=charge["payment_intent"],
        reason=reason, receipt_number=None, status="succeeded", customer=charge["customer"],
        payment_method=charge["payment_method"],
        destination_details={"card": {"type": "refund"}, "type": "card"},
    ))
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = refunded + amount == charge["amount_captured"]
    charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
    state.emit("refund.created", refund)
    state.emit("charge.refunded", charge, previous)
    return refund


def _refund_ids(state: StripeState, charge_id: str) -> list[str]:
    return [r["id"] for r in state.all("refund") if r["charge"] == charge_id and r["status"] == "succeeded"]


def create_payout(state: StripeState, params: Obj) -> Obj:
    check_known(params, {"amount", "currency", "description", "metadata", "statement_descriptor", "method"})
    amount = as_int(params, "amount", required=True, minimum=1)
    assert amount is not None
    return payout(state, amount, description=params.get("description"), meta=metadata(params))


def payout(state: StripeState, amount: int, *, description: str | None = None, meta: dict[str, Any] | None = None
           ) -> Obj:
    available, _ = state.balance_amounts()
    if amount > available:
        raise StripeError(
            400, "You have insufficient funds in your Stripe account for this transfer. Your card balance is too "
            "low.  You can use the /v1/balance endpoint to view your Stripe balance (for more details, see "
            "stripe.com/docs/api#balance).", code="balance_insufficient", param="amount")
    po_id = state.new_id("po_1")
    txn = state.balance_transaction(amount=-amount, fee=0, kind="payout", category="payout", source=po_id,
                                    description=description or "STRIPE PAYOUT", settles=False)
    po = state.add(from_fixture(
        "payout",
        id=po_id, amount=amount, arrival_date=state.now() + int(state.settle_after.total_seconds()),
        balance_transaction=txn["id"], created=state.now(), currency=state.currency,
        description=description or "STRIPE PAYOUT", destination="ba_1FakeVendbridgeBank0000",
        metadata=meta or {}, status="in_transit", trace_id={"status": "pending", "value": None},
    ))
    state.emit("payout.created", po)
    return po
