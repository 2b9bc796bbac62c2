"""A loopback fake of Stripe's v1 API for the StripePayments adapter's tests.

    with FakeStripe(seed=1) as fake:
        client = stripe.StripeClient(api_key="sk_test_x", base_addresses={"api": fake.url},
                                     max_network_retries=2)
        pi = client.v1.payment_intents.create(params={...})

Wire format as Stripe: form-encoded bracket-notation bodies and queries, JSON replies, Bearer
auth, `Request-Id` and echoed `Stripe-Version` headers, error objects with Stripe's status codes,
`Idempotency-Key` replay (`Idempotent-Replayed: true`) and mismatch (400 idempotency_error).
`fail_next` injects faults; `requests` records every request. Objects, balances and events live in
`fake.state` (see stripe_state.py); resource logic is in stripe_payments.py / stripe_checkout.py.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from hardware_adapters.doubles import stripe_checkout as co
from hardware_adapters.doubles import stripe_payments as pay
from hardware_adapters.doubles.loopback import JsonHandler, LoopbackServer
from hardware_adapters.doubles.stripe_state import Obj, RequestContext, StripeState
from hardware_adapters.doubles.stripe_webhooks import post_event
from hardware_adapters.doubles.stripe_wire import API_VERSION, StripeError, decode_form

Route = tuple[str, re.Pattern[str], Callable[[StripeState, re.Match[str], Obj], Obj]]


def _get(kind: str, param: str = "id") -> Callable[[StripeState, re.Match[str], Obj], Obj]:
    return lambda s, m, p: s.get(kind, m[1], param)


def _list(kind: str, url: str, *filters: str) -> Callable[[StripeState, re.Match[str], Obj], Obj]:
    def run(s: StripeState, m: re.Match[str], p: Obj) -> Obj:
        wanted = {f: p[f] for f in filters if p.get(f)}
        return s.list_page(kind, p, url, lambda o: all(o.get(f) == v for f, v in wanted.items()))
    return run


ID = r"([A-Za-z0-9_]+)"
ROUTES: list[Route] = [
    (method, re.compile(f"^/v1/{pattern}$"), func) for method, pattern, func in [
        ("POST", "payment_intents", lambda s, m, p: pay.create_payment_intent(s, p)),
        ("GET", "payment_intents", _list("payment_intent", "/v1/payment_intents", "customer")),
        ("GET", f"payment_intents/{ID}", _get("payment_intent", "intent")),
        ("POST", f"payment_intents/{ID}/confirm", lambda s, m, p: pay.confirm_payment_intent(s, m[1], p)),
        ("POST", f"payment_intents/{ID}/capture", lambda s, m, p: pay.capture_payment_intent(s, m[1], p)),
        ("POST", f"payment_intents/{ID}/cancel", lambda s, m, p: pay.cancel_payment_intent(s, m[1], p)),
        ("GET", "charges", _list("charge", "/v1/charges", "payment_intent", "customer")),
        ("GET", f"charges/{ID}", _get("charge", "charge")),
        ("POST", "refunds", lambda s, m, p: pay.create_refund(s, p)),
        ("GET", "refunds", _list("refund", "/v1/refunds", "payment_intent", "charge")),
        ("GET", f"refunds/{ID}", _get("refund", "refund")),
        ("GET", "balance", lambda s, m, p: s.balance()),
        ("GET", "balance_transactions", _list("balance_transaction", "/v1/balance_transactions", "type", "source")),
        ("GET", f"balance_transactions/{ID}", _get("balance_transaction")),
        ("POST", "payouts", lambda s, m, p: pay.create_payout(s, p)),
        ("GET", "payouts", _list("payout", "/v1/payouts", "status")),
        ("GET", f"payouts/{ID}", _get("payout", "payout")),
        ("GET", "events", _list("event", "/v1/events", "type")),
        ("GET", f"events/{ID}", _get("event")),
        ("POST", "products", lambda s, m, p: co.create_product(s, p)),
        ("GET", f"products/{ID}", _get("product")),
        ("POST", "prices", lambda s, m, p: co.create_price(s, p)),
        ("GET", f"prices/{ID}", _get("price", "price")),
        ("POST", "checkout/sessions", lambda s, m, p: co.create_checkout_session(s, p)),
        ("GET", "checkout/sessions", _list("checkout.session", "/v1/checkout/sessions", "payment_intent",
                                           "payment_link", "status")),
        ("GET", f"checkout/sessions/{ID}", _get("checkout.session", "session")),
        ("GET", f"checkout/sessions/{ID}/line_items",
         lambda s, m, p: co.list_line_items(s, s.get("checkout.session", m[1], "session")["id"], m.string)),
        ("POST", f"checkout/sessions/{ID}/expire", lambda s, m, p: co.expire_checkout_session(s, m[1], p)),
        ("POST", "payment_links", lambda s, m, p: co.create_payment_link(s, p)),
        ("GET", f"payment_links/{ID}", _get("payment_link", "payment_link")),
        ("POST", f"payment_links/{ID}", lambda s, m, p: co.update_payment_link(s, m[1], p)),
        ("GET", f"payment_links/{ID}/line_items",
         lambda s, m, p: co.list_line_items(s, s.get("payment_link", m[1], "payment_link")["id"], m.string)),
    ]
]

FAULT_ERRORS = {
    500: ("api_error", None, "Sorry, something went wrong. We've already been notified of the problem."),
    409: ("invalid_request_error", "lock_timeout", "This object cannot be accessed right now because another API "
          "request or Stripe process is currently accessing it."),
    429: ("invalid_request_error", "rate_limit", "Request rate limit exceeded. Learn more about rate limits here "
          "https://stripe.com/docs/rate-limits."),
    402: ("card_error", "card_declined", "Your card was declined."),
    400: ("invalid_request_error", None, "Injected invalid request."),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedRequest:
    request_id: str
    method: str
    path: str
    params: Obj
    headers: dict[str, str]
    idempotency_key: str | None
    status: int | None  # None: the connection was dropped, the client got no response
    response: Obj | None
    replayed: bool = False
    fault: str | None = None


@dataclass(slots=True, kw_only=True)
class Fault:
    method: str
    path: str  # exact path or fnmatch pattern, e.g. "/v1/payment_intents/*/capture"
    mode: str  # "error" | "drop" | "drop_after_commit"
    status: int
    remaining: int


@dataclass(slots=True)
class _Saved:
    fingerprint: str
    status: int
    body: Obj
    request_id: str


@dataclass(slots=True, kw_only=True)
class _Reply:
    status: int | None
    body: Obj | None
    headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False


class StripeHandler(JsonHandler):
    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        fake: FakeStripe = self.state
        url = urlsplit(self.path)
        body = self.read_body()
        reply, _record = fake.handle(method, url.path, url.query if method == "GET" else body.decode(),
                                    dict(self.headers.items()))
        if reply.status is None:
            self.close_connection = True  # no response: the client sees the connection drop
            return
        assert reply.body is not None
        self.send_json(reply.status, reply.body, reply.headers)


class FakeStripe:
    """The fake Stripe account and its loopback server. See the module docstring."""

    def __init__(
        self, *, seed: int = 0, clock: Callable[[], datetime] | None = None, api_key: str | None = None,
        settle_after: timedelta = timedelta(days=1), fee_rate_per_mille: int = 29, fee_fixed_cents: int = 30,
    ) -> None:
        self.state = StripeState(seed=seed, clock=clock, settle_after=settle_after,
                                 fee_rate_per_mille=fee_rate_per_mille, fee_fixed_cents=fee_fixed_cents)
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._saved: dict[str, _Saved] = {}
        self._delivered: set[str] = set()
        self.internal_errors: list[str] = []  # tracebacks of bugs in the fake; tests assert it stays empty
        self._lock = self.state.lock
        self._server = LoopbackServer(StripeHandler, state=self)

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> FakeStripe:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- failure injection and inspection -------------------------------------------------------
    def fail_next(self, path: str, *, times: int = 1, mode: str = "error", status: int = 500,
                  method: str = "POST") -> None:
        """Fail the next `times` requests matching `method` and `path` (exact or fnmatch pattern).

        mode "error": reply `status` (500, 409, 429, 402 or 400) with Stripe's error body, nothing executed;
        "drop": close the connection without executing; "drop_after_commit": execute and store the
        result (under the idempotency key too), then close the connection without replying.
        """
        if mode not in ("error", "drop", "drop_after_commit") or status not in FAULT_ERRORS:
            raise ValueError(f"unsupported fault {mode}/{status}")
        with self._lock:
            self._faults.append(Fault(method=method, path=path, mode=mode, status=status, remaining=times))

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests
                    if fnmatch.fnmatchcase(r.path, path) and (method is None or r.method == method)]

    def objects(self, kind: str) -> list[Obj]:
        """Copies of every stored object of `kind` ("payment_intent", "charge", "checkout.session", ...)."""
        with self._lock:
            self.state.refresh()
            return copy.deepcopy(self.state.all(kind))

    def get(self, obj_id: str) -> Obj:
        with self._lock:
            self.state.refresh()
            return copy.deepcopy(self.state.objects[obj_id])

    def balance_amounts(self) -> tuple[int, int]:
        """(available, pending) cents."""
        with self._lock:
            return self.state.balance_amounts()

    def events(self, event_type: str | None = None) -> list[Obj]:
        with self._lock:
            events = [self.state.objects[e] for e in self.state.events]
            return copy.deepcopy([e for e in events if event_type in (None, e["type"])])

    # -- what customers and Stripe do outside the API -------------------------------------------
    def complete_checkout_session(self, session_id: str, *, payment_method: str = "pm_card_visa",
                                  email: str = "customer@example.com") -> Obj:
        with self._lock:
            self.state.context = RequestContext()
            return copy.deepcopy(co.complete_checkout_session(self.state, session_id,
                                                              payment_method=payment_method, email=email))

    def complete_payment_link(self, link_id: str, *, payment_method: str = "pm_card_visa",
                              email: str = "customer@example.com") -> Obj:
        with self._lock:
            self.state.context = RequestContext()
            return copy.deepcopy(co.complete_payment_link(self.state, link_id, payment_method=payment_method,
                                                          email=email))

    def payout_available(self) -> Obj | None:
        """Stripe's automatic payout: send the whole available balance to the bank (None if nothing)."""
        with self._lock:
            self.state.context = RequestContext()
            available, _ = self.state.balance_amounts()
            return copy.deepcopy(pay.payout(self.state, available)) if available > 0 else None

    def deliver_events(self, url: str, secret: str) -> list[tuple[str, int]]:
        """POST every not yet delivered event, signed, in order; returns (event id, HTTP status)."""
        with self._lock:
            pending = [self.state.objects[e] for e in self.state.events if e not in self._delivered]
            pending = copy.deepcopy(pending)
        results = []
        for event in pending:
            status, _ = post_event(url, event, secret)
            results.append((event["id"], status))
            if 200 <= status < 300:
                with self._lock:
                    self._delivered.add(event["id"])
        return results

    # -- the request pipeline ---------------------------------------------------------------------
    def handle(self, method: str, path: str, raw: str, headers: dict[str, str]
               ) -> tuple[_Reply, RecordedRequest]:
        with self._lock:
            reply, params, fault = self._handle(method, path, raw, headers)
            request_id = reply.headers["Request-Id"]
            key = headers.get("Idempotency-Key") if method == "POST" else None
            record = RecordedRequest(
                request_id=request_id, method=method, path=path, params=params, headers=headers,
                idempotency_key=key, status=reply.status, response=reply.body, replayed=reply.replayed,
                fault=fault)
            self.requests.append(record)
            return reply, record

    def _handle(self, method: str, path: str, raw: str, headers: dict[str, str]
                ) -> tuple[_Reply, Obj, str | None]:
        request_id = self.state.new_id("req_", 14)
        out = {"Request-Id": request_id, "Stripe-Version": headers.get("Stripe-Version") or API_VERSION}
        try:
            params = decode_form(raw)
        except ValueError:
            params = {}
        auth = headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            err = StripeError(401, "You did not provide an API key. You need to provide your API key in the "
                              "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').")
            return _Reply(status=401, body=err.body(request_id), headers=out), params, None
        api_key = auth[7:].strip()
        if (self.api_key and api_key != self.api_key) or not api_key.startswith(("sk_test_", "rk_test_")):
            err = StripeError(401, f"Invalid API Key provided: {api_key[:8]}{'*' * 12}{api_key[-4:]}",
                              code="api_key_invalid")
            return _Reply(status=401, body=err.body(request_id), headers=out), params, None
        fault = self._take_fault(method, path)
        if fault and fault.mode == "error":
            kind, code, message = FAULT_ERRORS[fault.status]
            err = StripeError(fault.status, message, type=kind, code=code)
            return _Reply(status=fault.status, body=err.body(request_id), headers=out), params, "error"
        if fault and fault.mode == "drop":
            return _Reply(status=None, body=None, headers=out), params, "drop"
        key = headers.get("Idempotency-Key") if method == "POST" else None
        fingerprint = json.dumps([method, path, params], sort_keys=True)
        if key and key in self._saved:
            saved = self._saved[key]
            if saved.fingerprint != fingerprint:
                err = StripeError(400, "Keys for idempotent requests can only be used with the same parameters "
                                  f"they were first used with. Try using a key other than '{key}' if you meant "
                                  "to execute a different request.", type="idempotency_error")
                return _Reply(status=400, body=err.body(request_id), headers=out), params, None
            out.update({"Idempotent-Replayed": "true", "Original-Request": saved.request_id})
            return _Reply(status=saved.status, body=copy.deepcopy(saved.body), headers=out, replayed=True), params, None
        status, body, saved_ok = self._execute(method, path, params, request_id, key)
        if key and saved_ok:
            self._saved[key] = _Saved(fingerprint, status, copy.deepcopy(body), request_id)
        if key:
            out["Idempotency-Key"] = key
        if fault and fault.mode == "drop_after_commit":
            return _Reply(status=None, body=None, headers=out), params, "drop_after_commit"
        return _Reply(status=status, body=body, headers=out), params, None

    def _execute(self, method: str, path: str, params: Obj, request_id: str, key: str | None
                 ) -> tuple[int, Obj, bool]:
        self.state.refresh()
        self.state.context = RequestContext(request_id=request_id, idempotency_key=key)
        try:
            for route_method, pattern, func in ROUTES:
                match = pattern.match(path)
                if match and route_method == method:
                    result = func(self.state, match, params)
                    return 200, self.state.expand(result, params.get("expand")), True
            if any(p.match(path) for _, p, _ in ROUTES):
                raise StripeError(405, f"Unrecognized request URL ({method}: {path}).", saved=False)
            raise StripeError(404, f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs "
                              "or we can help at https://support.stripe.com/.", saved=False)
        except StripeError as err:
            return err.status, err.body(request_id), err.saved
        except Exception:  # a bug in the fake: answer like Stripe's 500 and keep it for the test to see
            self.internal_errors.append(traceback.format_exc())
            bug = StripeError(500, "Sorry, something went wrong (a bug in the fake).", type="api_error", saved=False)
            return 500, bug.body(request_id), False
        finally:
            self.state.context = RequestContext()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.method == method and fnmatch.fnmatchcase(path, fault.path):
                fault.remaining -= 1
                return fault
        return None
