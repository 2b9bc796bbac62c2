"""A loopback fake of the Anthropic Messages API that plays a script, for the real `anthropic` SDK.

Serves `POST /v1/messages` (JSON, or SSE when `stream` is true) and `POST /v1/messages/count_tokens`
in the real wire format. Each valid request plays the next scripted step (a `Reply` or an
`ApiError`, see `anthropic_script`), or asks a responder callable when the script is used up.
Every request is recorded with its headers, JSON and the rules it broke; a request that breaks a
rule gets the real API's error answer and plays no step. Usage models prompt caching: the prefix
up to the last `cache_control` breakpoint is created the first time it is seen and read after.

    with FakeAnthropic(script=[reply(tool_use("restock", {"slot": "A1"})), reply("done")]) as fake:
        client = anthropic.Anthropic(base_url=fake.url, api_key="test", max_retries=2)
        ...
    assert fake.violations == []
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hardware_adapters.doubles.loopback import JsonHandler, LoopbackServer
from tests.fakes.anthropic_checks import (
    Segment,
    Violation,
    check_headers,
    check_request,
    estimate_tokens,
    segments,
)
from tests.fakes.anthropic_script import (
    ApiError,
    Reply,
    Responder,
    Step,
    api_error,
    invalid_request,
    overloaded,
    rate_limited,
    reply,
    text,
    tool_use,
)

__all__ = [
    "ApiError",
    "FakeAnthropic",
    "RecordedRequest",
    "Reply",
    "Violation",
    "api_error",
    "invalid_request",
    "overloaded",
    "rate_limited",
    "reply",
    "text",
    "tool_use",
]

MESSAGES = "/v1/messages"
COUNT_TOKENS = "/v1/messages/count_tokens"


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedRequest:
    """One request as received. `step` is what it played (None when rejected or not a message)."""

    index: int
    path: str
    headers: Mapping[str, str]  # lower-cased names
    json: Any
    violations: tuple[Violation, ...]
    step: Step | None
    request_id: str


class FakeAnthropic:
    """The fake API server. Keyword-only; use as a context manager or `start()`/`stop()`.

    `script`: steps played in order; `responder(request_json) -> step` answers once the script
    is used up (or always, with no script). `min_cache_tokens`: a breakpoint prefix shorter than
    this is not cached (the real API's minimum is 1024 or more, depending on the model).
    """

    def __init__(
        self,
        *,
        script: Iterable[Step] = (),
        responder: Responder | None = None,
        min_cache_tokens: int = 0,
    ) -> None:
        self._lock = threading.Lock()
        self._script: deque[Step] = deque(script)
        self._responder = responder
        self._min_cache_tokens = min_cache_tokens
        self._cache: set[str] = set()
        self._requests: list[RecordedRequest] = []
        self._served = 0
        self._server = LoopbackServer(_Handler, state=self)

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> FakeAnthropic:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting and inspection --------------------------------------------------------
    def add(self, *steps: Step) -> None:
        """Append steps to the script."""
        with self._lock:
            self._script.extend(steps)

    @property
    def remaining(self) -> int:
        """Scripted steps not yet played."""
        with self._lock:
            return len(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, in order (including rejected and count_tokens ones)."""
        with self._lock:
            return list(self._requests)

    @property
    def message_requests(self) -> list[RecordedRequest]:
        """Only the `POST /v1/messages` requests."""
        return [r for r in self.requests if r.path == MESSAGES]

    @property
    def violations(self) -> list[Violation]:
        """Every broken rule of every request, plus script problems (exhausted, responder crashed)."""
        return [v for r in self.requests for v in r.violations]

    def reset(self, *, script: Iterable[Step] = (), responder: Responder | None = None) -> None:
        """Start over on the same server: new script and responder; no requests, no cache."""
        with self._lock:
            self._script = deque(script)
            self._responder = responder
            self._cache.clear()
            self._requests.clear()
            self._served = 0

    def forget_cache(self) -> None:
        """Drop every cached prefix, as if the cache TTL had passed."""
        with self._lock:
            self._cache.clear()

    # -- serving (called by the handler thread) ---------------------------------------------
    def handle(
        self, path: str, headers: Mapping[str, str], raw: bytes
    ) -> tuple[RecordedRequest, dict[str, Any] | None]:
        """Record a request and decide its answer: (record, success payload or None for an error)."""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        found = check_headers(headers)
        if path not in (MESSAGES, COUNT_TOKENS):
            found.append(
                Violation(rule="path", message=f"Not found: {path}", status=404, error_type="not_found_error")
            )
        else:
            found += check_request(body, count_tokens=path == COUNT_TOKENS)
        with self._lock:
            self._served += 1
            n = self._served
            step: Step | None = None
            payload: dict[str, Any] | None = None
            if not found and path == COUNT_TOKENS:
                payload = {"input_tokens": sum(s.tokens for s in segments(body))}
            elif not found:
                step, problem = self._next_step(body)
                if problem is not None:
                    found.append(problem)
                elif isinstance(step, Reply):
                    payload = self._message(step, body, n)
            record = RecordedRequest(
                index=len(self._requests),
                path=path,
                headers=dict(headers),
                json=body,
                violations=tuple(found),
                step=step,
                request_id=f"req_fake{n:08d}",
            )
            self._requests.append(record)
        return record, payload

    def _next_step(self, body: Any) -> tuple[Step | None, Violation | None]:
        if self._script:
            return self._script.popleft(), None
        if self._responder is None:
            return None, Violation(
                rule="script_exhausted",
                message="the fake's script is used up and it has no responder",
                status=500,
                error_type="api_error",
            )
        try:
            return self._responder(body), None
        except Exception as err:  # a broken test responder must show up, not hang the client
            return None, Violation(
                rule="responder_error", message=repr(err), status=500, error_type="api_error"
            )

    def _message(self, step: Reply, body: Mapping[str, Any], n: int) -> dict[str, Any]:
        content = []
        for i, block in enumerate(step.content):
            if block["type"] == "tool_use" and "id" not in block:
                block = {**block, "id": f"toolu_fake{n:06d}{i:02d}"}
            content.append(dict(block))
        usage = self._usage(segments(body), str(body["model"]))
        usage["output_tokens"] = estimate_tokens(content) if content else 1
        usage.update(step.usage)
        stop_sequence = step.stop_sequence
        if step.effective_stop_reason == "stop_sequence" and stop_sequence is None:
            stop_sequence = next(iter(body.get("stop_sequences") or []), None)
        return {
            "id": f"msg_fake{n:08d}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": step.effective_stop_reason,
            "stop_sequence": stop_sequence,
            "usage": usage,
        }

    def _usage(self, segs: list[Segment], model: str) -> dict[str, Any]:
        total = sum(s.tokens for s in segs)
        digest = hashlib.sha256(model.encode())
        prefixes: list[tuple[str, int, str]] = []  # (key, tokens up to and with this breakpoint, ttl)
        running = 0
        for seg in segs:
            digest.update(b"\n" + seg.key.encode())
            running += seg.tokens
            if seg.breakpoint and running >= self._min_cache_tokens:
                prefixes.append((digest.hexdigest(), running, seg.ttl or "5m"))
        read = next((tokens for key, tokens, _ in reversed(prefixes) if key in self._cache), 0)
        cached_to = prefixes[-1][1] if prefixes else 0
        created = cached_to - read
        self._cache.update(key for key, _, _ in prefixes)
        ttl = prefixes[-1][2] if prefixes else "5m"
        return {
            "input_tokens": total - cached_to,
            "cache_creation_input_tokens": created,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": created if ttl != "1h" else 0,
                "ephemeral_1h_input_tokens": created if ttl == "1h" else 0,
            },
            "service_tier": "standard",
        }


class _Handler(JsonHandler):
    def do_POST(self) -> None:
        fake: FakeAnthropic = self.state
        headers = {k.lower(): v for k, v in self.headers.items()}
        record, payload = fake.handle(self.path.split("?", 1)[0], headers, self.read_body())
        ids = {"request-id": record.request_id}
        stream = isinstance(record.json, dict) and record.json.get("stream") is True
        if record.violations:
            v = record.violations[0]
            extra = {"x-should-retry": "false"} if v.rule in ("script_exhausted", "responder_error") else {}
            body = {"type": "error", "error": {"type": v.error_type, "message": v.message}}
            self.send_json(v.status, body, {**ids, **extra})
        elif isinstance(record.step, ApiError):
            err = record.step
            if stream and err.mid_stream:
                self._send_sse(
                    [
                        _start_event(record, usage={"input_tokens": 0, "output_tokens": 0}),
                        ("error", err.body()),
                    ],
                    ids,
                )
            else:
                extra = {"retry-after": err.retry_after} if err.retry_after is not None else {}
                self.send_json(err.status, err.body(), {**ids, **extra})
        elif payload is not None and stream and record.path == MESSAGES:
            self._send_sse(_message_events(record, payload), ids)
        else:
            self.send_json(200, payload, ids)

    def _send_sse(self, events: Iterable[tuple[str, dict[str, Any]]], headers: Mapping[str, str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        for name, data in events:
            chunk = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


def _start_event(record: RecordedRequest, *, usage: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    model = record.json.get("model") if isinstance(record.json, dict) else None
    message: dict[str, Any] = {
        "id": f"msg_fake{record.index:08d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": dict(usage),
    }
    return "message_start", {"type": "message_start", "message": message}


def _pieces(value: str, size: int) -> list[str]:
    return [value[i : i + size] for i in range(0, len(value), size)] or [""]


def _message_events(record: RecordedRequest, payload: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The real event sequence: message_start, per block start/delta.../stop, message_delta, message_stop."""
    usage = payload["usage"]
    name, start = _start_event(record, usage={**usage, "output_tokens": 1})
    start["message"]["id"] = payload["id"]
    yield name, start
    for i, block in enumerate(payload["content"]):
        if block["type"] == "text":
            empty: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in _pieces(block["text"], 12)]
        else:
            empty = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [
                {"type": "input_json_delta", "partial_json": p}
                for p in _pieces(json.dumps(block["input"]), 10)
            ]
        yield "content_block_start", {"type": "content_block_start", "index": i, "content_block": empty}
        if i == 0:
            yield "ping", {"type": "ping"}
        for delta in deltas:
            yield "content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": i}
    final_usage = {
        k: usage[k]
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens")
    }
    delta = {"stop_reason": payload["stop_reason"], "stop_sequence": payload["stop_sequence"]}
    yield "message_delta", {"type": "message_delta", "delta": delta, "usage": final_usage}
    yield "message_stop", {"type": "message_stop"}
