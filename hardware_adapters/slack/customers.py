"""Conversations in Slack: customers (DM or a mention in the shop channel), ops staff (a mention in
the ops channel) and, relayed by ops, suppliers.

Whatever people write becomes a `MessageReceived` event and nothing else: the adapter never reads
commands out of message text, so a customer cannot approve, confirm or instruct anything by
typing it. `SlackChat` (the Chat port) answers in the thread; a message to `supplier:<id>` goes to
the ops channel for a person to send, and the reply they paste back (in that thread, or with the
"Paste reply" modal) reaches the shopkeeper as MessageReceived(role="supplier").
"""

from __future__ import annotations

import re
from typing import Any

from bridge import events as ev
from hardware_adapters.slack import blocks
from hardware_adapters.slack.board import SupplierRelay
from hardware_adapters.slack.ops import NOT_OPS
from hardware_adapters.slack.parts import SlackParts

SUPPLIER = "supplier:"
_MENTION = re.compile(r"^\s*<@[A-Z0-9]+>\s*")


class SlackChat:
    """Chat port: `send` posts in a customer's conversation (in the thread), or relays to a supplier."""

    def __init__(self, *, parts: SlackParts) -> None:
        self.parts = parts

    def send(self, *, conversation: str, text: str, thread: str = "") -> str:
        p = self.parts
        if conversation.startswith(SUPPLIER):
            return self._relay(conversation.removeprefix(SUPPLIER), text)
        params: dict[str, Any] = {"channel": conversation, "text": blocks.escape(text)}
        if thread:
            params["thread_ts"] = thread
        sent = p.api("chat_postMessage", **params)
        return f"{sent['channel']}/{sent['ts']}"

    def _relay(self, supplier: str, text: str) -> str:
        p = self.parts
        relay = SupplierRelay(relay_id=p.board.next_id("relay"), supplier=supplier, text=text)
        sent = p.api("chat_postMessage", channel=p.settings.ops_channel,
                     text=f"To send to supplier {supplier}: {blocks.escape(text)}", blocks=blocks.relay_message(relay))
        relay.channel, relay.ts = sent["channel"], sent["ts"]
        p.board.add_relay(relay, now=p.clock.now())
        return f"{sent['channel']}/{sent['ts']}"


class ConversationHandlers:
    """Bolt listeners for `message` (DMs, ops-channel thread replies) and `app_mention`."""

    def __init__(self, *, parts: SlackParts) -> None:
        self.parts = parts

    def _received(self, event: dict[str, Any], *, role: str, conversation: str, sender: str, thread: str) -> None:
        p = self.parts
        text = _MENTION.sub("", str(event.get("text") or ""))
        now = p.clock.now()
        received = ev.MessageReceived(id=f"slack:msg:{event['channel']}:{event['ts']}", ts=now, shop=p.shop,
                                      conversation=conversation, sender=sender, role=role, text=text, thread=thread)
        p.board.keep(received, now=now)  # before Slack's 200: a stop before the books commit it loses nothing
        p.emit(received)

    def message(self, event: dict[str, Any]) -> None:
        if event.get("subtype") or event.get("bot_id") or not event.get("user"):
            return  # edits, joins, bots (ourselves included): not someone talking to the shop
        channel, user = str(event["channel"]), str(event["user"])
        thread = str(event.get("thread_ts") or event["ts"])
        if event.get("channel_type") == "im":
            self._received(event, role="customer", conversation=channel, sender=user, thread=thread)
        elif channel == self.parts.settings.ops_channel and event.get("thread_ts"):
            relay = self.parts.board.relay_by_ts(channel, str(event["thread_ts"]))
            if relay is not None:
                self._supplier_reply(event, relay, user)

    def _supplier_reply(self, event: dict[str, Any], relay: SupplierRelay, user: str) -> None:
        p = self.parts
        if not p.ops.is_member(user):
            p.refuse(channel=str(event["channel"]), user=user, text=NOT_OPS)
            return
        self._received(event, role="supplier", conversation=SUPPLIER + relay.supplier, sender=relay.supplier,
                       thread="")

    def app_mention(self, event: dict[str, Any]) -> None:
        if event.get("bot_id") or not event.get("user"):
            return
        channel, user = str(event["channel"]), str(event["user"])
        thread = str(event.get("thread_ts") or event["ts"])
        if channel == self.parts.settings.shop_channel:
            self._received(event, role="customer", conversation=channel, sender=user, thread=thread)
        elif channel == self.parts.settings.ops_channel and self.parts.ops.is_member(user):
            self._received(event, role="ops", conversation=channel, sender=user, thread=thread)

    # --- the "Paste reply" button and modal ---------------------------------------------------------
    def relay_paste(self, ack: Any, body: dict[str, Any]) -> None:
        ack()
        p = self.parts
        user, relay_id = body["user"]["id"], str(body["actions"][0].get("value", ""))
        channel = (body.get("channel") or {}).get("id", "")
        if not p.ops.is_member(user):
            p.refuse(channel=channel, user=user, text=NOT_OPS)
            return
        relay = p.board.relays.get(relay_id)
        if relay is not None:
            p.api("views_open", trigger_id=body["trigger_id"], view=blocks.relay_modal(relay))

    def relay_reply(self, ack: Any, body: dict[str, Any]) -> None:
        p = self.parts
        user, relay_id = body["user"]["id"], body["view"]["private_metadata"]
        relay = p.board.relays.get(relay_id)
        if relay is None or not p.ops.is_member(user):
            ack(response_action="errors", errors={"reply": NOT_OPS if relay else "Unknown relay."})
            return
        text = str(body["view"]["state"]["values"].get("reply", {}).get("reply", {}).get("value") or "").strip()
        if not text:
            ack(response_action="errors", errors={"reply": "Paste what the supplier answered."})
            return
        now = p.clock.now()
        received = ev.MessageReceived(id=f"slack:relay:{relay_id}:{body['view']['id']}", ts=now, shop=p.shop,
                                      conversation=SUPPLIER + relay.supplier, sender=relay.supplier, role="supplier",
                                      text=text, thread="")
        p.board.keep(received, now=now)  # before the answer (Bolt sends it when the listener returns)
        ack()
        p.emit(received)
