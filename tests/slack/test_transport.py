"""How Slack reaches the app and the app reaches Slack: signed requests (HTTP and dispatch), Socket
Mode, 429s with Retry-After, the App Home and daily report, and the manifest."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.socket_mode.request import SocketModeRequest

from bridge import events as ev
from bridge.errors import AdapterError
from bridge.live.http_app import build_http_app
from hardware_adapters.doubles.slack_inbound import sign
from hardware_adapters.slack.client import call, web_client
from hardware_adapters.slack.manifest import BOT_EVENTS, EVENT_SCOPES, METHOD_SCOPES, SCOPES, render
from tests.slack.http_server import serve
from tests.slack.rig import ALICE, NOW, OLGA, OPS_CH, SECRET, Rig

ROOT = Path(__file__).resolve().parents[2]


def test_forged_and_stale_requests_are_refused_with_401(rig: Rig) -> None:
    with serve(build_http_app(routes=[rig.slack.http_route()])) as url:
        envelope = rig.inbound.message_im(user=ALICE, channel=rig.fake.dm_channel_for(ALICE), text="hi", at=NOW)
        body, good = rig.inbound.event_request(envelope, timestamp=int(time.time()))
        forged = {**good, **sign(body, signing_secret="not-the-secret", timestamp=int(time.time()))}
        stale = {**good, **sign(body, signing_secret=SECRET, timestamp=int(time.time()) - 600)}
        tampered = body.replace(b'"hi"', b'"approve everything"')
        for headers, content in ((forged, body), (stale, body), (good, tampered), ({"Content-Type": "application/json"},
                                                                                  body)):
            assert httpx.post(f"{url}/slack/events", content=content, headers=headers).status_code == 401
        assert rig.slack.events.pending() == 0
        click = rig.inbound.block_actions(user=OLGA, channel=OPS_CH, message_ts="1.1", action_id="task_done",
                                          value="x", at=NOW)
        ibody, iheaders = rig.inbound.interactive_request(click, timestamp=int(time.time()) - 600)
        assert httpx.post(f"{url}/slack/events", content=ibody, headers=iheaders).status_code == 401
        assert rig.fake.calls_to("usergroups.users.list") == []  # refused before any listener ran
        assert httpx.post(f"{url}/slack/events", content=body, headers=good).status_code == 200
        assert rig.slack.events.pending() == 1
    # the bolt app itself, without the HTTP server, refuses the same way
    assert rig.dispatch(body, forged).status == 401


def test_a_429_is_retried_after_retry_after(rig: Rig) -> None:
    rig.fake.rate_limit("chat.postMessage", 1, retry_after=1)
    t0 = time.monotonic()
    rig.slack.chat.send(conversation=ALICE, text="Your order is in.")
    assert time.monotonic() - t0 >= 1.0
    calls = rig.fake.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert rig.fake.history(rig.fake.dm_channel_for(ALICE))[-1]["text"] == "Your order is in."


def test_a_429_that_does_not_stop_becomes_an_adapter_error(rig: Rig) -> None:
    client = web_client(token="xoxb-test", base_url=rig.fake.api_url, max_retries=1)
    rig.fake.rate_limit("chat.postMessage", 5, retry_after=0)
    with pytest.raises(AdapterError, match="ratelimited"):
        call(client, "chat_postMessage", channel=OPS_CH, text="x")
    assert len(rig.fake.calls_to("chat.postMessage")) == 2


class _SocketClient:
    """Stands in for the WebSocket side of slack_sdk's SocketModeClient: records the acks sent."""

    def __init__(self, logger: Any) -> None:
        self.logger = logger
        self.sent: list[Any] = []

    def send_socket_mode_response(self, response: Any) -> None:
        self.sent.append(response)


def test_socket_mode_delivers_the_same_events(rig: Rig) -> None:
    handler = rig.slack.socket_mode()
    ws = _SocketClient(handler.client.logger)
    envelope = rig.inbound.message_im(user=ALICE, channel=rig.fake.dm_channel_for(ALICE), text="hi there", at=NOW)
    handler.handle(ws, SocketModeRequest(type="events_api", envelope_id="env-1", payload=envelope))
    assert [r.envelope_id for r in ws.sent] == ["env-1"]  # acknowledged over the socket (no signature there)
    got = rig.ingest()
    assert [(type(e), e.text) for e in got if isinstance(e, ev.MessageReceived)] == [(ev.MessageReceived, "hi there")]
    rig.toolbox.call("collect_cash", {})
    ts = rig.ops_messages()[-1]["ts"]
    task_id = next(iter(rig.slack.parts.board.tasks))
    click = rig.inbound.block_actions(user=OLGA, channel=OPS_CH, message_ts=ts, action_id="task_done", value=task_id,
                                      at=NOW)
    handler.handle(ws, SocketModeRequest(type="interactive", envelope_id="env-2", payload=click))
    assert rig.last_modal()["callback_id"] == "cash_count"


def test_app_home_dashboard_and_daily_report(rig: Rig) -> None:
    rig.ledger.record(ev.CapitalIn(id="cap", ts=NOW, amount_cents=50_000))
    rig.ledger.record(ev.DeliveryReceived(id="d1", ts=NOW, order_id="po", supplier="acme", sku="cola", quantity=10,
                                          unit_cost_cents=60))
    rig.ledger.record(ev.Sale(id="s1", ts=NOW, machine="m1", slot="A1", sku="cola", units=3, unit_price_cents=150,
                              payment=ev.Payment.CASH))
    rig.toolbox.call("collect_cash", {})
    rig.event(rig.inbound.envelope({"type": "app_home_opened", "user": OLGA, "channel": "D0OLGA0001", "tab": "home",
                                    "event_ts": "1772442000.000100"}, at=NOW))
    home = str(rig.fake.home_views[OLGA]["blocks"])
    for shown in ("3 sold, $4.50", "$500.00", "Cash in machines*\\n$4.50", "`A1` cola: 2/10 at $1.50", "collect_cash m1"):
        assert shown in home, shown
    file_id = rig.slack.dashboard.post_daily_report()
    upload = rig.fake.files[file_id]
    assert upload.completed and upload.channel_id == OPS_CH and upload.data is not None
    assert upload.data.startswith(b"\x89PNG") and "3 sold for $4.50" in (upload.initial_comment or "")


def test_the_manifest_has_exactly_what_the_app_uses(rig: Rig) -> None:
    assert (ROOT / "ops" / "slack-manifest.yaml").read_text() == render()
    # every event the manifest subscribes to has a listener; one it does not is unhandled (404)
    dm = rig.fake.dm_channel_for(ALICE)
    samples = {
        "app_home_opened": {"type": "app_home_opened", "user": OLGA, "channel": "D0OLGA0001", "tab": "home",
                            "event_ts": "1.1"},
        "app_mention": rig.inbound.app_mention(user=ALICE, channel="C0SHOP00001", text="hi", at=NOW)["event"],
        "message.im": rig.inbound.message_im(user=ALICE, channel=dm, text="hi", at=NOW)["event"],
        "message.channels": {"type": "message", "channel": OPS_CH, "user": OLGA, "text": "hi", "ts": "1.2",
                             "channel_type": "channel", "event_ts": "1.2"},
    }
    assert set(samples) == set(BOT_EVENTS)
    for event in samples.values():
        assert rig.event(rig.inbound.envelope(event, at=NOW)).status == 200
    other = {"type": "reaction_added", "user": ALICE, "reaction": "+1", "event_ts": "1.3",
             "item": {"type": "message", "channel": OPS_CH, "ts": "1.2"}}
    assert rig.event(rig.inbound.envelope(other, at=NOW)).status == 404
    # the scopes are those of the methods the app calls and the events it hears, no more
    rig.slack.chat.send(conversation=ALICE, text="hi")
    rig.toolbox.call("collect_cash", {})
    rig.toolbox.call("request_approval", {"action": "refund", "ref": "pi_1", "amount_cents": 900, "summary": "s"})
    ts, task_id = rig.ops_messages()[-2]["ts"], next(iter(rig.slack.parts.board.tasks))
    rig.click(ALICE, "task_done", task_id, message_ts=ts)
    rig.click(OLGA, "task_done", task_id, message_ts=ts)
    rig.submit(OLGA, rig.last_modal(), {"amount": {"amount": {"type": "number_input", "value": "0"}}})
    rig.slack.dashboard.post_daily_report()
    called = {c.method for c in rig.fake.calls} - {"upload"}
    assert called == set(METHOD_SCOPES)
    assert set(SCOPES) == {s for s in (*(METHOD_SCOPES[m] for m in called), *EVENT_SCOPES.values()) if s}
