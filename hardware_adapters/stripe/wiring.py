"""Wiring the Stripe side from its config section: the adapter, the webhook route and its inbox, the daily job."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

import stripe
from starlette.routing import Route

from bridge import events as ev
from bridge.live.config import StripeSection
from bridge.store import Store
from hardware_adapters.stripe.client import stripe_client
from hardware_adapters.stripe.inbox import StripeInbox
from hardware_adapters.stripe.payments import StripePayments
from hardware_adapters.stripe.reconcile import Reconciliation, reconcile_day
from hardware_adapters.stripe.webhooks import StripeEvents, webhook_route

log = logging.getLogger("vendbridge.stripe")


@dataclass(slots=True)
class StripeSide:
    client: stripe.StripeClient
    payments: StripePayments
    route: Route
    reconciler: StripeReconciler
    inbox: StripeInbox  # a LiveEventSource for the core: the webhook's deliveries, kept before their 200


class StripeReconciler:
    """The daily reconciliation as a job: `reconcile_payments(at)` checks the day before; a difference raises
    an Alarm event (to the agent and ops) and the whole report goes to the log."""

    def __init__(self, *, client: stripe.StripeClient, store: Store, shop: str, tz: tzinfo = UTC,
                 sink: Callable[[ev.Event], None] | None = None, now: Callable[[], datetime] | None = None) -> None:
        self.client, self.store, self.shop, self.tz, self.sink = client, store, shop, tz, sink
        self.now = now or (lambda: datetime.now(UTC))
        self.last: Reconciliation | None = None

    def reconcile(self, day: date) -> Reconciliation:
        report = reconcile_day(client=self.client, store=self.store, shop=self.shop, day=day, tz=self.tz)
        self.last = report
        log.info("stripe reconciliation %s: %s", day, json.dumps(report.to_json()))
        if not report.ok and self.sink is not None:
            kinds = sorted({d.kind for d in report.differences})
            self.sink(ev.Alarm(id=f"stripe:reconcile:{day.isoformat()}", ts=self.now(), shop=self.shop,
                               source="stripe", code="reconciliation",
                               detail=f"{len(report.differences)} difference(s) on {day}: {', '.join(kinds)}"))
        return report

    def reconcile_payments(self, at: datetime | None = None) -> Reconciliation:
        """PaymentsJobHost method (scheduler.jobs.payment_jobs): the books of the day before `at`'s day
        (default: now) against Stripe."""
        return self.reconcile((at or self.now()).astimezone(self.tz).date() - timedelta(days=1))


def build_stripe(section: StripeSection, *, shop: str, store: Store, sink: Callable[[ev.Event], None],
                 tz: tzinfo = UTC, now: Callable[[], datetime] | None = None) -> StripeSide:
    client = stripe_client(api_key=section.api_key(), api_base=section.api_url() or None,
                           max_network_retries=section.max_network_retries)
    payments = StripePayments(client=client, shop=shop, currency=section.currency, success_url=section.success_url)
    inbox = StripeInbox(store=store, shop=shop, now=now)
    inbox.recover()  # deliveries a previous process answered and did not book
    route = webhook_route(secret=section.webhook_secret(), events=StripeEvents(shop=shop, client=client),
                          inbox=inbox, tolerance_s=section.webhook_tolerance_s)
    return StripeSide(client=client, payments=payments, route=route, inbox=inbox,
                      reconciler=StripeReconciler(client=client, store=store, shop=shop, tz=tz, sink=sink,
                                                         now=now))
