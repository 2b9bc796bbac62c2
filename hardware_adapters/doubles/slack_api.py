"""A loopback fake of Slack's Web API, for the SlackChat adapter's tests.

Serves `/api/<method>` (POST form or JSON, and GET query, as slack_sdk uses both) the way Slack
does: Bearer token auth, HTTP 200 with `ok` on every answer except rate limiting (429 with
`Retry-After`), and the three calls of `files_upload_v2` (the upload URL points back here).
Every call is recorded, state is kept (messages by channel and ts, home views by user, modals,
ephemerals, files), and each request and response is checked against Slack's published API
description (`slack_spec`); problems land in `violations` instead of failing the request.

    with FakeSlack(users=[SlackUser(id="U0ALICE01", name="alice")]) as slack:
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hardware_adapters.doubles.loopback import JsonHandler, LoopbackServer
from hardware_adapters.doubles.slack_methods import METHODS
from hardware_adapters.doubles.slack_objects import (
    RecordedCall,
    SlackChannel,
    SlackError,
    SlackUser,
    UploadedFile,
)
from hardware_adapters.doubles.slack_spec import SlackSpec, default_spec

_UPLOAD_PATH = re.compile(r"^/upload/v1/(?P<file_id>F[0-9A-Z]+)$")


class FakeSlack:
    """State and server of the fake Slack workspace. Thread-safe; start it or use `with`."""

    def __init__(
        self,
        *,
        users: Iterable[SlackUser] = (),
        channels: Iterable[SlackChannel] = (),
        usergroups: Mapping[str, Iterable[str]] | None = None,
        tokens: Iterable[str] = ("xoxb-test",),
        team_id: str = "T0VENDTEAM",
        team_name: str = "vendbridge",
        bot_user_id: str = "U0VENDBOT1",
        bot_id: str = "B0VENDBOT1",
        app_id: str = "A0VENDAPP1",
        now: Callable[[], datetime] | None = None,
        spec: SlackSpec | None = None,
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.tokens = frozenset(tokens)
        self.users: dict[str, SlackUser] = {u.id: u for u in users}
        self.users.setdefault(bot_user_id, SlackUser(id=bot_user_id, name="shopkeeper", is_bot=True))
        self.channels: dict[str, SlackChannel] = {c.id: c for c in channels}
        self.usergroups: dict[str, list[str]] = {k: list(v) for k, v in (usergroups or {}).items()}
        self.spec = spec or default_spec()
        self._now = now or (lambda: datetime.now(UTC))
        self.lock = threading.RLock()
        self.calls: list[RecordedCall] = []
        self.violations: list[str] = []
        self.messages: dict[str, dict[str, dict[str, Any]]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.home_views: dict[str, dict[str, Any]] = {}
        self.modals: dict[str, dict[str, Any]] = {}
        self.files: dict[str, UploadedFile] = {}
        self.dm_channels: dict[str, str] = {}
        self._rate_limits: dict[str, list[int]] = {}
        self._tamper: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self._seq = 0
        self._server = LoopbackServer(_SlackHandler, state=self)

    # ----- server -----
    @property
    def url(self) -> str:
        return self._server.url

    @property
    def api_url(self) -> str:
        """The `base_url` for `slack_sdk.WebClient` (ends with a slash)."""
        return self._server.url + "/api/"

    def start(self) -> FakeSlack:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- test controls -----
    def rate_limit(self, method: str, times: int = 1, *, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 429 and `Retry-After`."""
        with self.lock:
            self._rate_limits[method] = [times, retry_after]

    def tamper(self, method: str, mutate: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Pass the next response of `method` through `mutate` before it is checked and sent."""
        with self.lock:
            self._tamper[method] = mutate

    def add_user(self, user: SlackUser) -> None:
        with self.lock:
            self.users[user.id] = user

    def dm_channel_for(self, user_id: str) -> str:
        """The DM channel id between the bot and `user_id` (opened on first use, as Slack does)."""
        with self.lock:
            if user_id not in self.dm_channels:
                self.dm_channels[user_id] = f"D{len(self.dm_channels) + 1:09d}"
            return self.dm_channels[user_id]

    def add_message(
        self, channel: str, *, user: str, text: str, thread_ts: str | None = None, ts: str | None = None
    ) -> dict[str, Any]:
        """Put a message from someone else into a channel's history (what a user said; `ts`: its own)."""
        with self.lock:
            return self.store_message(channel, {"type": "message", "user": user, "text": text}, thread_ts, ts)

    # ----- inspection -----
    def calls_to(self, method: str) -> list[RecordedCall]:
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def history(self, channel: str) -> list[dict[str, Any]]:
        """All messages in a channel (thread replies included), oldest first."""
        with self.lock:
            return [dict(m) for m in self.messages.get(channel, {}).values()]

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.messages[channel][ts])

    # ----- used by the method implementations (under the lock) -----
    def next_ts(self) -> str:
        self._seq += 1
        return f"{int(self._now().timestamp()):010d}.{self._seq % 1_000_000:06d}"

    def next_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:010d}"

    def epoch(self) -> int:
        return int(self._now().timestamp())

    def resolve_channel(self, channel: str) -> str:
        """A channel id the bot can post to; a user id means that user's DM, as in Slack."""
        if channel[:1] in {"U", "W"} and channel in self.users:
            return self.dm_channel_for(channel)
        if channel in self.channels or channel in self.dm_channels.values():
            return channel
        raise SlackError("channel_not_found")

    def dm_user(self, channel: str) -> str | None:
        return next((u for u, c in self.dm_channels.items() if c == channel), None)

    def store_message(self, channel: str, message: dict[str, Any], thread_ts: str | None,
                      ts: str | None = None) -> dict[str, Any]:
        ts = ts or self.next_ts()
        stored = {**message, "ts": ts, "team": self.team_id}
        box = self.messages.setdefault(channel, {})
        if thread_ts:
            parent = box.get(thread_ts)
            if parent is None:
                raise SlackError("thread_not_found")
            stored["thread_ts"] = thread_ts
            stored["parent_user_id"] = parent["user"]
            parent["thread_ts"] = thread_ts
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            repliers = parent.setdefault("reply_users", [])
            if stored["user"] not in repliers:
                repliers.append(stored["user"])
            parent["reply_users_count"] = len(repliers)
            parent["latest_reply"] = ts
        box[ts] = stored
        return stored

    # ----- request handling -----
    def handle_api(
        self,
        method: str,
        params: dict[str, Any],
        headers: dict[str, str],
        http_method: str,
        *,
        json_body: bool,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.lock:
            limit = self._rate_limits.get(method)
            if limit and limit[0] > 0:
                limit[0] -= 1
                body = {"ok": False, "error": "ratelimited"}
                self._record(method, params, headers, http_method, 429, body)
                return 429, body, {"Retry-After": str(limit[1])}
            try:
                self._authenticate(params, headers)
                self.violations.extend(self.spec.check_params(method, params, json_body=json_body))
                impl = METHODS.get(method)
                if impl is None:
                    self.violations.append(f"{method}: not implemented by the fake")
                    raise SlackError("unknown_method")
                payload = {"ok": True, **impl(self, params)}
            except SlackError as err:
                payload = {"ok": False, "error": err.code}
            mutate = self._tamper.pop(method, None)
            if mutate is not None:
                payload = mutate(payload)
            self.violations.extend(self.spec.check_response(method, payload))
            self._record(method, params, headers, http_method, 200, payload)
            return 200, payload, {}

    def handle_upload(self, file_id: str, data: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            self._record("upload", {"file_id": file_id, "bytes": len(data)}, headers, "POST", 200, {})
            upload = self.files.get(file_id)
            if upload is None or upload.data is not None:
                return 404
            upload.data = data
            return 200

    def _authenticate(self, params: dict[str, Any], headers: dict[str, str]) -> None:
        auth = headers.get("authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else params.get("token")
        if not token:
            raise SlackError("not_authed")
        if token not in self.tokens:
            raise SlackError("invalid_auth")

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        headers: dict[str, str],
        http_method: str,
        status: int,
        response: dict[str, Any],
    ) -> None:
        self.calls.append(
            RecordedCall(
                method=method,
                params=params,
                headers=headers,
                http_method=http_method,
                status=status,
                response=response,
            )
        )


class _SlackHandler(JsonHandler):
    @property
    def fake(self) -> FakeSlack:
        return self.state

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self._api(url.path, dict(parse_qsl(url.query, keep_blank_values=True)), json_body=False)

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self.read_body()
        upload = _UPLOAD_PATH.match(url.path)
        if upload:
            status = self.fake.handle_upload(upload["file_id"], body, self._headers())
            self._send_text(status, f"OK - {len(body)}" if status == 200 else "Not Found")
            return
        params: dict[str, Any] = dict(parse_qsl(url.query, keep_blank_values=True))
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        json_body = ctype == "application/json"
        if json_body:
            try:
                parsed = json.loads(body or b"{}")
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                self.send_json(200, {"ok": False, "error": "invalid_json"})
                return
            params.update(parsed)
        else:
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        self._api(url.path, params, json_body=json_body)

    def _api(self, path: str, params: dict[str, Any], *, json_body: bool) -> None:
        if not path.startswith("/api/"):
            self._send_text(404, "Not Found")
            return
        method = path[len("/api/") :]
        status, payload, headers = self.fake.handle_api(
            method, params, self._headers(), self.command, json_body=json_body
        )
        self.send_json(status, payload, headers)

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _send_text(self, status: int, text: str) -> None:
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
