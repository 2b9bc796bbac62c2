"""`vend live` with [stripe] schedules the daily reconciliation: the job is on the LiveScheduler at the
configured hour, runs once for a day, checks the day before, and a difference is an Alarm for the core."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bridge import events as ev
from bridge.compose.live import LiveBridge, build_live
from bridge.live.config import LiveConfig
from hardware_adapters.doubles.stripe_api import FakeStripe
from hardware_adapters.stripe.client import stripe_client
from hardware_adapters.stripe.payments import StripePayments
from tests.stripe.rig import SECRET


def _config(tmp_path: Path, stripe: str) -> Path:
    cfg = tmp_path / "live.toml"
    cfg.write_text(f'[bridge]\ndb = "sqlite:///{tmp_path / "live.db"}"\ntz = "UTC"\n\n[http]\nport = 0\n\n'
                   '[mqtt]\nport = 1\n\n[[machines]]\nid = "m1"\n\n' + stripe)
    return cfg


@pytest.fixture
def live_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_vendbridge")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("VEND_MQTT_PASSWORD", "unused")


@pytest.fixture
def live(tmp_path: Path, fake: FakeStripe, live_env: None) -> Iterator[LiveBridge]:
    bridge = build_live(LiveConfig.load(_config(tmp_path, f'[stripe]\nbase_url = "{fake.url}"\nreconcile_hour = 5\n')),
                        start=False)
    yield bridge
    bridge.close()


def test_the_reconciliation_is_scheduled_at_the_configured_hour(live: LiveBridge) -> None:
    job = live.scheduler.jobs["reconcile_payments"]
    assert job.trigger.get_next_fire_time(None, datetime(2025, 3, 3, 0, 0, tzinfo=UTC)) == \
        datetime(2025, 3, 3, 5, 15, tzinfo=UTC)
    assert {"open_day", "close_day", "weekly_review", "reminders"} <= set(live.scheduler.jobs)


def test_without_stripe_there_is_no_reconciliation(tmp_path: Path, live_env: None) -> None:
    bridge = build_live(LiveConfig.load(_config(tmp_path, "")), start=False)
    try:
        assert bridge.scheduler is not None and "reconcile_payments" not in bridge.scheduler.jobs
        assert bridge.host is not None and bridge.host.reconcile is None
    finally:
        bridge.close()


def test_the_job_runs_once_a_day_and_a_difference_is_an_alarm(live: LiveBridge, fake: FakeStripe) -> None:
    payments = StripePayments(client=stripe_client(api_key="sk_test_vendbridge", api_base=fake.url), shop="main")
    link = payments.create_payment_link(order_ref="so-main-00001", amount_cents=2400, description="oat milk",
                                        customer="U7")
    fake.complete_checkout_session(link.link_id)  # paid on 2025-03-03; its webhook never reached the books
    assert live.run_job("reconcile_payments", day=date(2025, 3, 4)) == {"ran": True, "day": "2025-03-04"}
    report = live.reconciler.last
    assert report is not None and report.day == date(2025, 3, 3) and not report.ok
    assert "missing_in_ledger" in {d.kind for d in report.differences}
    alarms = [e for e in live.inbox.drain() if isinstance(e, ev.Alarm)]
    assert [(a.id, a.code) for a in alarms] == [("stripe:reconcile:2025-03-03", "reconciliation")]

    assert live.run_job("reconcile_payments", day=date(2025, 3, 4))["ran"] is False  # that day is done
    assert live.inbox.drain() == []
    runs = [(r["job"], r["status"]) for r in live.scheduler.runs()]
    assert runs == [("reconcile_payments", "done")]
    assert live.run_job("reconcile_payments", day=date(2025, 3, 5))["ran"] is True  # the next day runs
    assert live.reconciler.last.day == date(2025, 3, 4)
