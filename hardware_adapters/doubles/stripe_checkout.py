"""Products, prices, Checkout Sessions and Payment Links of the fake Stripe.

A session is paid by the test helper `complete_checkout_session` (what the customer does on
Stripe's hosted page): it creates and confirms the PaymentIntent, so the charge, the ledger
and the events follow exactly as for a direct PaymentIntent.
"""

from __future__ import annotations

import copy

from hardware_adapters.doubles.stripe_payments import create_payment_intent
from hardware_adapters.doubles.stripe_state import Obj, StripeState
from hardware_adapters.doubles.stripe_wire import (
    StripeError,
    as_bool,
    as_int,
    bad_param,
    check_known,
    from_fixture,
    metadata,
    require,
)

NULL_TEXT = {"after_submit": None, "shipping_address": None, "submit": None, "terms_of_service_acceptance": None}
NO_INVOICE = {"enabled": False, "invoice_data": {"account_tax_ids": None, "custom_fields": None, "description": None,
                                                 "footer": None, "issuer": None, "metadata": {},
                                                 "rendering_options": None}}
PI_DATA = {"capture_method", "description", "metadata", "setup_future_usage", "statement_descriptor",
           "statement_descriptor_suffix", "transfer_group"}


def create_product(state: StripeState, params: Obj) -> Obj:
    check_known(params, {"name", "description", "metadata", "active"})
    now = state.now()
    return state.add(from_fixture(
        "product", id=state.new_id("prod_", 14), active=as_bool(params, "active", True), created=now,
        default_price=None, description=params.get("description"), metadata=metadata(params),
        name=require(params, "name"), package_dimensions=None, updated=now,
    ))


def create_price(state: StripeState, params: Obj, *, inline: bool = False) -> Obj:
    check_known(params, {"currency", "unit_amount", "product", "product_data", "metadata", "nickname", "lookup_key"})
    currency = str(require(params, "currency")).lower()
    unit_amount = as_int(params, "unit_amount", required=True)
    if params.get("product"):
        product = state.get("product", params["product"], "product")["id"]
    elif isinstance(params.get("product_data"), dict):
        product = create_product(state, params["product_data"])["id"]
    else:
        raise bad_param("Missing required param: product.", "product", "parameter_missing")
    return state.add(from_fixture(
        "price", id=state.new_id("price_1"), active=not inline, created=state.now(), currency=currency,
        custom_unit_amount=None, lookup_key=params.get("lookup_key"), metadata=metadata(params),
        nickname=params.get("nickname"), product=product, recurring=None, transform_quantity=None,
        type="one_time", unit_amount=unit_amount, unit_amount_decimal=str(unit_amount),
    ))


def _line_items(state: StripeState, params: Obj) -> list[Obj]:
    given = params.get("line_items")
    if not isinstance(given, list) or not given:
        raise bad_param("Missing required param: line_items.", "line_items", "parameter_missing")
    items = []
    for i, item in enumerate(given):
        if not isinstance(item, dict):
            raise bad_param("Invalid array", f"line_items[{i}]")
        if item.get("price"):
            price = state.get("price", item["price"], f"line_items[{i}][price]")
        elif isinstance(item.get("price_data"), dict):
            price = create_price(state, item["price_data"], inline=True)
        else:
            raise bad_param("You must specify either `price` or `price_data` in each line item.",
                            f"line_items[{i}]", "parameter_missing")
        quantity = as_int(item, "quantity", required=True, minimum=1)
        assert quantity is not None
        product = state.objects[price["product"]]
        total = price["unit_amount"] * quantity
        items.append(from_fixture(
            "item", id=state.new_id("li_1"), amount_discount=0, amount_subtotal=total, amount_tax=0,
            amount_total=total, currency=price["currency"], description=product["name"],
            price=copy.deepcopy(price), quantity=quantity, metadata={}, adjustable_quantity=None,
        ))
    if len({it["currency"] for it in items}) > 1:
        raise bad_param("All line items must have the same currency.", "line_items")
    return items


def _pi_data(params: Obj) -> Obj:
    data = params.get("payment_intent_data") or {}
    check_known(data, PI_DATA)
    return {key: (metadata(data) if key == "metadata" else data.get(key)) for key in sorted(PI_DATA)}


def create_checkout_session(state: StripeState, params: Obj) -> Obj:
    check_known(params, {"mode", "line_items", "success_url", "cancel_url", "metadata", "client_reference_id",
                         "customer_email", "payment_intent_data", "expires_at", "payment_method_types",
                         "customer", "ui_mode"})
    if params.get("mode") != "payment":
        raise bad_param("The fake supports mode=payment only.", "mode", "parameter_missing")
    return _new_session(state, params, _line_items(state, params), payment_link=None)


def _new_session(state: StripeState, params: Obj, items: list[Obj], *, payment_link: str | None) -> Obj:
    total = sum(it["amount_total"] for it in items)
    sid = state.new_id("cs_test_a1", 56)
    now = state.now()
    session = state.add(from_fixture(
        "checkout.session",
        id=sid, after_expiration=None, amount_subtotal=total, amount_total=total,
        automatic_tax={"enabled": False, "liability": None, "status": None, "provider": None},
        cancel_url=params.get("cancel_url"), client_reference_id=params.get("client_reference_id"), consent=None,
        consent_collection=None, created=now, currency=items[0]["currency"], custom_text=dict(NULL_TEXT),
        customer=params.get("customer"), customer_creation="if_required", customer_details=None,
        customer_email=params.get("customer_email"),
        expires_at=as_int(params, "expires_at") or now + 24 * 3600, invoice_creation=copy.deepcopy(NO_INVOICE),
        metadata=metadata(params), mode="payment", payment_intent=None, payment_link=payment_link,
        payment_method_collection="if_required", payment_method_types=params.get("payment_method_types") or ["card"],
        payment_method_configuration_details={"id": "pmc_fake_default", "parent": None},
        saved_payment_method_options=None, shipping_address_collection=None, shipping_cost=None,
        success_url=params.get("success_url"), total_details={"amount_discount": 0, "amount_shipping": 0,
                                                               "amount_tax": 0},
        ui_mode=params.get("ui_mode", "hosted"), url=f"https://checkout.stripe.com/c/pay/{sid}",
        adaptive_pricing={"enabled": False}, discounts=[], collected_information=None, permissions=None,
        wallet_options=None, currency_conversion=None, managed_payments=None,
    ))
    state.line_items[sid] = items
    state.pi_data[sid] = _pi_data(params)
    return session


def complete_checkout_session(
    state: StripeState, session_id: str, *, payment_method: str = "pm_card_visa",
    email: str = "customer@example.com", name: str | None = "Test Customer",
) -> Obj:
    """What a customer paying on the hosted page causes; a declined card raises the 402 error."""
    session = state.get("checkout.session", session_id, "session")
    if session["status"] != "open" or session["expires_at"] <= state.now():
        raise StripeError(400, f"Checkout Session {session_id} is not open (status {session['status']}).",
                          code="checkout_session_unexpected_state")
    data = state.pi_data[session_id]
    params: Obj = {"amount": str(session["amount_total"]), "currency": session["currency"],
                   "payment_method": payment_method, "confirm": "true",
                   "capture_method": data["capture_method"] or "automatic_async",
                   "metadata": dict(data["metadata"])}  # set at creation: every event of the intent carries it
    if data["description"]:
        params["description"] = data["description"]
    pi = create_payment_intent(state, params)
    pi["metadata"] = dict(data["metadata"])
    state.objects[pi["latest_charge"]]["metadata"] = dict(data["metadata"])
    address = {"city": None, "country": "US", "line1": None, "line2": None, "postal_code": "94107", "state": None}
    session.update(
        status="complete", payment_status="paid" if pi["status"] == "succeeded" else "unpaid", payment_intent=pi["id"],
        customer_details={"address": address, "email": email, "name": name, "phone": None, "tax_exempt": "none",
                          "tax_ids": [], "business_name": None, "individual_name": None},
    )
    state.emit("checkout.session.completed", session)
    return session


def expire_checkout_session(state: StripeState, session_id: str, params: Obj) -> Obj:
    check_known(params, set())
    session = state.get("checkout.session", session_id, "session")
    if session["status"] != "open":
        raise StripeError(400, 'Only Checkout Sessions with a status in ["open"] can be expired.',
                          code="checkout_session_unexpected_state", param="session")
    session["status"] = "expired"
    state.emit("checkout.session.expired", session)
    return session


def create_payment_link(state: StripeState, params: Obj) -> Obj:
    check_known(params, {"line_items", "metadata", "payment_intent_data", "after_completion", "currency",
                         "payment_method_types", "restrictions", "inactive_message"})
    items = _line_items(state, params)
    pi_data = _pi_data(params) if params.get("payment_intent_data") else None
    link_id = state.new_id("plink_1")
    link = state.add(from_fixture(
        "payment_link",
        id=link_id, automatic_tax={"enabled": False, "liability": None}, consent_collection=None,
        currency=items[0]["currency"], custom_text=dict(NULL_TEXT), inactive_message=params.get("inactive_message"),
        invoice_creation=copy.deepcopy(NO_INVOICE), metadata=metadata(params), payment_intent_data=pi_data,
        payment_method_collection="always", payment_method_types=params.get("payment_method_types"),
        restrictions=None, shipping_address_collection=None, subscription_data=None, transfer_data=None,
        url=f"https://buy.stripe.com/test_{state.new_id('', 14)}", managed_payments=None, payment_method_options=None,
    ))
    state.line_items[link_id] = items
    state.emit("payment_link.created", link)
    return link


def update_payment_link(state: StripeState, link_id: str, params: Obj) -> Obj:
    check_known(params, {"active", "metadata", "inactive_message"})
    link = state.get("payment_link", link_id, "payment_link")
    link.update(active=as_bool(params, "active", link["active"]), metadata=metadata(params, link["metadata"]))
    if "inactive_message" in params:
        link["inactive_message"] = params["inactive_message"]
    state.emit("payment_link.updated", link)
    return link


def complete_payment_link(state: StripeState, link_id: str, **customer: str) -> Obj:
    """A customer opens the link and pays: a session for the link is created and completed."""
    link = state.get("payment_link", link_id, "payment_link")
    if not link["active"]:
        raise StripeError(400, f"Payment link {link_id} is not active.", code="payment_link_inactive")
    params: Obj = {"metadata": dict(link["metadata"]), "payment_intent_data": link["payment_intent_data"] or {}}
    items = [copy.deepcopy(it) for it in state.line_items[link_id]]
    session = _new_session(state, params, items, payment_link=link_id)
    return complete_checkout_session(state, session["id"], **customer)


def list_line_items(state: StripeState, owner_id: str, url: str) -> Obj:
    return {"object": "list", "data": copy.deepcopy(state.line_items[owner_id]), "has_more": False, "url": url}
