from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import stripe

from bridge.live.http_app import build_http_app
from hardware_adapters.doubles.stripe_api import FakeStripe
from hardware_adapters.stripe.client import stripe_client
from hardware_adapters.stripe.payments import StripePayments
from hardware_adapters.stripe.webhooks import StripeEvents, webhook_route
from tests.stripe.rig import SECRET, Books, Clock, serve


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake(clock: Clock) -> Iterator[FakeStripe]:
    with FakeStripe(seed=11, clock=clock, api_key="sk_test_vendbridge") as server:
        yield server
    assert server.internal_errors == []


@pytest.fixture
def client(fake: FakeStripe) -> stripe.StripeClient:
    return stripe_client(api_key="sk_test_vendbridge", api_base=fake.url, max_network_retries=2)


@pytest.fixture
def payments(client: stripe.StripeClient) -> StripePayments:
    return StripePayments(client=client, shop="main")


@pytest.fixture
def books(tmp_path: Path) -> Iterator[Books]:
    b = Books(tmp_path / "books.db")
    yield b
    b.store.close()


@pytest.fixture
def endpoint(client: stripe.StripeClient, books: Books) -> Iterator[str]:
    """The bridge's HTTP app with the Stripe webhook route, running; yields the webhook URL."""
    app = build_http_app(routes=[webhook_route(secret=SECRET, events=StripeEvents(shop="main", client=client),
                                               sink=books.queue.put)])
    with serve(app) as base:
        yield f"{base}/stripe/webhook"
