"""Slack's side of inbound traffic, for tests that play Slack calling the app.

`sign()` signs a raw body with Slack's v0 scheme; `SlackInbound` builds Events API envelopes
(`event_callback` for `message` in a DM and `app_mention`) and interactive payloads
(`block_actions`, `view_submission`, form-encoded as `payload=<json>`) the way Slack sends them.
Times are passed in (timezone-aware); ids come from a counter, so output is deterministic.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode


def sign(body: bytes | str, *, signing_secret: str, timestamp: int) -> dict[str, str]:
    """Headers Slack sends with a request: `v0=HMAC_SHA256(secret, "v0:{ts}:{body}")`."""
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


def _ts(at: datetime, seq: int) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware time")
    return f"{int(at.timestamp()):010d}.{seq % 1_000_000:06d}"


@dataclass(slots=True, kw_only=True)
class SlackInbound:
    """Builds what Slack posts to the app's Request URLs, for one workspace and app."""

    signing_secret: str
    team_id: str = "T0VENDTEAM"
    team_domain: str = "vendbridge"
    api_app_id: str = "A0VENDAPP1"
    bot_user_id: str = "U0VENDBOT1"
    bot_id: str = "B0VENDBOT1"
    verification_token: str = "legacy-verification-token"
    _seq: int = field(default=0, init=False)

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    # ----- Events API -----
    def envelope(self, event: dict[str, Any], *, at: datetime) -> dict[str, Any]:
        """An `event_callback` envelope around `event`, as POSTed to the events Request URL."""
        seq = self._next()
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{seq:010d}",
            "event_time": int(at.timestamp()),
            "authed_users": [self.bot_user_id],
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-event-{seq}",
        }

    def message_im(
        self, *, user: str, channel: str, text: str, at: datetime, thread_ts: str | None = None
    ) -> dict[str, Any]:
        """A person's direct message to the app (`message` event, `channel_type: im`)."""
        ts = _ts(at, self._next())
        event: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "event_ts": ts,
            "channel_type": "im",
            "team": self.team_id,
            "client_msg_id": f"00000000-0000-4000-8000-{self._seq:012d}",
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        return self.envelope(event, at=at)

    def app_mention(self, *, user: str, channel: str, text: str, at: datetime) -> dict[str, Any]:
        """A mention of the app in a channel; `text` gets the `<@BOT>` prefix Slack puts there."""
        ts = _ts(at, self._next())
        event = {
            "type": "app_mention",
            "user": user,
            "text": f"<@{self.bot_user_id}> {text}",
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
            "team": self.team_id,
        }
        return self.envelope(event, at=at)

    def event_request(self, envelope: dict[str, Any], *, timestamp: int) -> tuple[bytes, dict[str, str]]:
        """The JSON body and the signed headers of an Events API POST."""
        body = json.dumps(envelope).encode()
        return body, {"Content-Type": "application/json", **self.sign(body, timestamp=timestamp)}

    # ----- interactivity -----
    def _who(self, user: str) -> dict[str, Any]:
        return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": self.team_id}

    def block_actions(
        self,
        *,
        user: str,
        channel: str,
        message_ts: str,
        action_id: str,
        value: str,
        at: datetime,
        block_id: str = "actions",
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A button click on a message the app posted."""
        seq = self._next()
        action_ts = _ts(at, seq)
        return {
            "type": "block_actions",
            "user": self._who(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "container": {
                "type": "message",
                "message_ts": message_ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },
            "trigger_id": f"{seq}.{int(at.timestamp())}.trigger",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel, "name": channel.lower()},
            "message": message or {"type": "message", "ts": message_ts, "user": self.bot_user_id, "text": ""},
            "state": {"values": {}},
            "response_url": f"https://hooks.slack.com/actions/{self.team_id}/{seq}/response",
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": block_id,
                    "value": value,
                    "type": "button",
                    "text": {"type": "plain_text", "text": value, "emoji": True},
                    "action_ts": action_ts,
                }
            ],
        }

    def view_submission(
        self,
        *,
        user: str,
        view_id: str,
        callback_id: str,
        values: dict[str, dict[str, dict[str, Any]]],
        at: datetime,
        private_metadata: str = "",
    ) -> dict[str, Any]:
        """A modal's submit; `values` is `state.values` ({block_id: {action_id: {type, value}}})."""
        seq = self._next()
        return {
            "type": "view_submission",
            "team": {"id": self.team_id, "domain": self.team_domain},
            "user": self._who(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": f"{seq}.{int(at.timestamp())}.trigger",
            "view": {
                "id": view_id,
                "team_id": self.team_id,
                "type": "modal",
                "blocks": [],
                "private_metadata": private_metadata,
                "callback_id": callback_id,
                "state": {"values": values},
                "hash": f"{int(at.timestamp())}.{seq}",
                "title": {"type": "plain_text", "text": "Form"},
                "clear_on_close": False,
                "notify_on_close": False,
                "root_view_id": view_id,
                "previous_view_id": None,
                "app_id": self.api_app_id,
                "external_id": "",
                "bot_id": self.bot_id,
            },
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }

    def interactive_request(self, payload: dict[str, Any], *, timestamp: int) -> tuple[bytes, dict[str, str]]:
        """The form body (`payload=<json>`) and signed headers of an interactivity POST."""
        body = urlencode({"payload": json.dumps(payload)}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return body, {**headers, **self.sign(body, timestamp=timestamp)}

    def sign(self, body: bytes | str, *, timestamp: int) -> dict[str, str]:
        return sign(body, signing_secret=self.signing_secret, timestamp=timestamp)
