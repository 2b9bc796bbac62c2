"""Stripe webhook events for tests: build from the fixture, sign with Stripe's scheme, post.

`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, f"{t}.{payload}")>`. The receiver checks
it against wall-clock time (the SDK's default tolerance is 300 s), so timestamps here are real
time, not the fake's clock.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

from hardware_adapters.doubles.stripe_wire import API_VERSION, from_fixture

FORGED_SECRET = "whsec_not_the_endpoint_secret"


def build_event(
    event_type: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None,
    previous_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An `event` object (from the fixture) carrying a snapshot of `obj`; the id is derived from the content."""
    data: dict[str, Any] = {"object": copy.deepcopy(obj)}
    if previous_attributes:
        data["previous_attributes"] = previous_attributes
    created = int(time.time()) if created is None else created
    if event_id is None:
        digest = hashlib.sha256(json.dumps([event_type, data, created], sort_keys=True).encode()).hexdigest()
        event_id = "evt_1" + digest[:23]
    return from_fixture(
        "event", id=event_id, api_version=API_VERSION, created=created, data=data, pending_webhooks=1,
        request={"id": None, "idempotency_key": None}, type=event_type,
    )


def encode_event(event: dict[str, Any]) -> bytes:
    """The raw body as Stripe sends it (pretty-printed JSON); sign and post these exact bytes."""
    return json.dumps(event, indent=2).encode()


def signature_header(payload: bytes | str, secret: str, *, timestamp: int | None = None) -> str:
    text = payload.decode() if isinstance(payload, bytes) else payload
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.{text}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def stale_header(payload: bytes | str, secret: str, *, age_seconds: int = 600) -> str:
    """Correctly signed, but `age_seconds` old: outside the SDK's default 300 s tolerance."""
    return signature_header(payload, secret, timestamp=int(time.time()) - age_seconds)


def forged_header(payload: bytes | str, *, timestamp: int | None = None) -> str:
    """Well-formed and fresh, but signed with a secret the endpoint does not have."""
    return signature_header(payload, FORGED_SECRET, timestamp=timestamp)


def post_webhook(url: str, payload: bytes, signature: str, *, timeout: float = 5.0) -> tuple[int, bytes]:
    """POST `payload` with `Stripe-Signature: signature` as Stripe does; returns (status, body)."""
    req = urllib.request.Request(url, data=payload, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": signature,
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    })
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status), bytes(resp.read())
    except urllib.error.HTTPError as err:
        return int(err.code), bytes(err.read())


def post_event(url: str, event: dict[str, Any], secret: str, *, timeout: float = 5.0) -> tuple[int, bytes]:
    payload = encode_event(event)
    return post_webhook(url, payload, signature_header(payload, secret), timeout=timeout)
