"""The Slack side of the bridge, wired: one bolt App, its listeners, the ports it implements, and
the two ways Slack reaches it (HTTP at POST /slack/events, or Socket Mode).

    slack = SlackBridge(settings=SlackSettings.from_env(), clock=clock, ledger=ledger, machines=machines,
                        suppliers=suppliers_from_config(rows))
    backend = Backend(..., chat=slack.chat, physical=slack.physical, approvals=slack.approvals,
                      procurement=slack.procurement, ...)
    http_app = build_http_app(routes=[slack.http_route()])      # HTTP mode
    slack.socket_mode().start()                                   # or Socket Mode

Tasks, approvals, relays and quotes live in the store (the ledger's by default) and are read back
when a SlackBridge starts; confirmations the books had not recorded when the process stopped are
queued again (`self.requeued`), so nothing a person confirmed is lost or booked twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bridge.domain import Product, SupplierInfo
from bridge.ledger import Ledger
from bridge.ports import Clock, Machine
from bridge.store import Store
from hardware_adapters import edge
from hardware_adapters.live import EventQueue
from hardware_adapters.slack.board import Board
from hardware_adapters.slack.client import OpsGroup, web_client
from hardware_adapters.slack.customers import ConversationHandlers, SlackChat
from hardware_adapters.slack.home import Dashboard
from hardware_adapters.slack.ops import OpsHandlers, SlackApprovals, SlackPhysicalWork
from hardware_adapters.slack.parts import SlackParts
from hardware_adapters.slack.procurement import PurchaseHandlers, SlackProcurement
from hardware_adapters.slack.settings import SlackSettings

EVENTS_PATH = "/slack/events"
log = logging.getLogger("vendbridge.slack")


def signed_by_slack(body: bytes, timestamp: str, signature: str, secret: str, *, tolerance_s: int = 300) -> bool:
    """Slack's request signature (`v0=HMAC_SHA256(secret, "v0:{ts}:{body}")`) on the raw bytes, whatever
    they hold (slack_sdk's verifier decodes them first, and fails on a body that is not UTF-8)."""
    if not timestamp.isdigit() or len(timestamp) > 12 or abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"v0={mac}".encode(), signature.encode("utf-8", "replace"))


def read_body(body: bytes, content_type: str) -> str | None:
    """Why a signed Slack body cannot be handed to bolt (None: it can). Checks before any parsing that
    can fail: UTF-8, the JSON's depth, then every string (control characters, U+0000, lone surrogates)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "body is not UTF-8"
    docs: list[str] = []
    if content_type.startswith("application/json"):
        docs.append(text)
    else:
        try:
            form = parse_qs(text, strict_parsing=False, max_num_fields=100)
        except ValueError as err:
            return f"bad form body: {err}"
        if edge.bad_text(form):
            return "bad text in the form: control character, U+0000 or lone surrogate"
        docs += form.get("payload", [])
    for doc in docs:
        if not edge.json_depth_ok(doc.encode("utf-8", "surrogatepass")):
            return f"JSON nested deeper than {edge.MAX_JSON_DEPTH}"
        try:
            data = json.loads(doc)
        except ValueError as err:
            return f"bad JSON: {err}"
        where = edge.bad_text(data)
        if where is not None:
            return f"bad text in {where}: control character, U+0000 or lone surrogate"
    return None


class SlackBridge:
    def __init__(self, *, settings: SlackSettings, clock: Clock, ledger: Ledger,
                 machines: Mapping[str, Machine] | None = None, events: EventQueue | None = None,
                 client: WebClient | None = None, process_before_response: bool = True,
                 store: Store | None = None, suppliers: Sequence[SupplierInfo] = (),
                 products: Mapping[str, Product] | None = None) -> None:
        """`process_before_response`: run listeners before answering Slack (they are quick; tests
        see their effects when the request returns). `events`: where Slack's events go. `store`:
        where the board is kept (default: the ledger's). `suppliers`: the purchasing directory.
        `products`: the shop's catalogue, so ops are never asked to load what cannot go in a slot."""
        self.settings = settings
        self.clock = clock
        self.client = client or web_client(token=settings.bot_token, base_url=settings.base_url,
                                           max_retries=settings.max_retries)
        self.events = events if events is not None else EventQueue()
        board = Board(store=store or ledger.store, shop=settings.shop, now=clock.now)
        board.load()
        self.parts = SlackParts(settings=settings, client=self.client, board=board,
                                ops=OpsGroup(client=self.client, usergroup=settings.ops_usergroup), clock=clock,
                                events=self.events, machines=dict(machines or {}), ledger=ledger)
        self.chat = SlackChat(parts=self.parts)
        self.physical = SlackPhysicalWork(parts=self.parts, products=products)
        self.approvals = SlackApprovals(parts=self.parts)
        self.procurement = SlackProcurement(parts=self.parts, suppliers=suppliers)
        self.dashboard = Dashboard(parts=self.parts, ledger=ledger)
        self.app = App(client=self.client, signing_secret=settings.signing_secret,
                       process_before_response=process_before_response)
        self._register()
        self.requeued = board.unrecorded()  # confirmed before a stop, not yet in the books
        self.parts.emit_all(self.requeued)

    def _register(self) -> None:
        app = self.app
        talk = ConversationHandlers(parts=self.parts)
        ops = OpsHandlers(parts=self.parts)
        buy = PurchaseHandlers(parts=self.parts)
        app.event("message")(talk.message)
        app.event("app_mention")(talk.app_mention)
        app.event("app_home_opened")(self.dashboard.app_home_opened)
        app.action("task_done")(ops.task_done)
        app.action("task_cant")(ops.task_cant)
        app.action("handover_picked_up")(ops.picked_up)
        app.action("approval_approve")(ops.approve)
        app.action("approval_reject")(ops.reject)
        app.action("relay_paste")(talk.relay_paste)
        app.view("restock_counts")(ops.restock_counts)
        app.view("cash_count")(ops.cash_count)
        app.view("task_cant")(ops.task_cant_reason)
        app.view("relay_reply")(talk.relay_reply)
        app.action("quote_enter")(buy.quote_enter)
        app.action("purchase_paid")(buy.purchase_paid)
        app.action("purchase_delivered")(buy.purchase_delivered)
        app.view("quote_entry")(buy.quote_entry)
        app.view("purchase_paid")(buy.paid_submitted)
        app.view("purchase_delivery")(buy.delivery_submitted)

    # --- HTTP mode ----------------------------------------------------------------------------------
    def http_route(self) -> Route:
        """`POST /slack/events` for the bridge's one HTTP app: Events API and interactivity. The
        signature and its timestamp (5 minutes) are checked on the raw bytes first (401 otherwise), then
        the body (`read_body`: a signed body that fails is a dead letter, once, and a 400); only then
        does bolt see it."""
        app = self.app

        async def slack_events(request: Request) -> Response:
            body = await request.body()  # bounded by the app's BodyLimit
            if not signed_by_slack(body, request.headers.get("x-slack-request-timestamp", ""),
                                   request.headers.get("x-slack-signature", ""), self.settings.signing_secret):
                log.warning("slack request refused: bad or missing signature",
                            extra={"client": request.client.host if request.client else "?"})
                return JSONResponse({"error": "invalid signature"}, status_code=401)
            why = read_body(body, request.headers.get("content-type", ""))
            if why is not None:
                letter = edge.dead_letter(source="slack", topic=EVENTS_PATH, raw=body, reason=why,
                                          received_at=self.clock.now())
                self.events.put(letter)
                log.warning("slack request dead-lettered", extra={"reason": letter.reason, "id": letter.id})
                return JSONResponse({"error": "malformed request"}, status_code=400)
            bolt_req = BoltRequest(body=body.decode("utf-8"), query=dict(request.query_params),
                                   headers={k: [v] for k, v in request.headers.items()})
            resp = await run_in_threadpool(app.dispatch, bolt_req)
            return Response(status_code=resp.status, content=resp.body,
                            headers=resp.first_headers_without_set_cookie())

        return Route(EVENTS_PATH, slack_events, methods=["POST"])

    # --- Socket Mode --------------------------------------------------------------------------------
    def socket_mode(self, **options: Any) -> Any:
        """A Socket Mode handler (slack_bolt's builtin client); `.start()` blocks, `.connect()` doesn't."""
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        if not self.settings.app_token:
            from bridge.errors import ConfigError

            raise ConfigError("Slack Socket Mode needs SLACK_APP_TOKEN (an xapp- app-level token)")
        return SocketModeHandler(self.app, app_token=self.settings.app_token, web_client=self.client, **options)
