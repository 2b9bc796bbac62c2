"""The bridge's one inbound HTTP server: a Starlette app that adapters add routes to
(`POST /slack/events`, `POST /stripe/webhook`, ...), with `GET /healthz` and, when an admin token
is set, `POST /jobs/{name}` to run a scheduled job now (ops: "close the day now"; tests).

Every request body is bounded while it is read (`BodyLimit`): a declared Content-Length over the limit
is answered 413 before a byte is read, and a body that grows past it (chunked, or a lying header) is
answered 413 as soon as it does; the routes see a body of at most `max_body_bytes`."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Health = Callable[[], dict[str, Any]]
RunJob = Callable[[str, date | None], dict[str, Any]]
MAX_BODY_BYTES = 1024 * 1024  # Stripe's events and Slack's payloads are a few kB; none near 1 MiB


class BodyLimit:
    """ASGI middleware: read the body up to `max_bytes` (no more is ever buffered), then hand it on."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, 400, "bad Content-Length")
                return
            if int(declared) > self.max_bytes:
                await _refuse(send, 413, f"body over {self.max_bytes} bytes")
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _refuse(send, 413, f"body over {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message | None = {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        async def replay() -> Message:
            nonlocal whole
            if whole is not None:
                out, whole = whole, None
                return out
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _always_ok() -> dict[str, Any]:
    return {"ok": True}


def build_http_app(*, routes: Sequence[BaseRoute] = (), health: Health | None = None,
                   max_body_bytes: int = MAX_BODY_BYTES) -> Starlette:
    """`health()` returns each adapter's state and `ok`; /healthz answers 200 when ok, else 503."""
    probe = health or _always_ok

    async def healthz(request: Request) -> JSONResponse:
        report = await run_in_threadpool(probe)
        return JSONResponse(report, status_code=200 if report.get("ok") else 503)

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"]), *routes],
                     middleware=[Middleware(BodyLimit, max_bytes=max_body_bytes)])


def jobs_route(*, run: RunJob, token: str, jobs: Sequence[str]) -> Route:
    """`POST /jobs/{name}` with `Authorization: Bearer <token>` and an optional JSON body
    `{"day": "YYYY-MM-DD"}` (the shop's day whose period the job runs for; default: the latest due).
    The scheduler's exactly-once rule holds: a period already run answers `"ran": false`."""

    async def run_job(request: Request) -> JSONResponse:
        given = request.headers.get("authorization", "")
        if not token or not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        name = request.path_params["name"]
        if name not in jobs:
            return JSONResponse({"error": f"no job {name!r}", "jobs": list(jobs)}, status_code=404)
        day = None
        body = await request.body()
        if body.strip():
            try:
                raw = json.loads(body)
                day = date.fromisoformat(raw["day"]) if raw.get("day") else None
            except (ValueError, TypeError, KeyError, AttributeError):
                return JSONResponse({"error": 'the body is {"day": "YYYY-MM-DD"} or empty'}, status_code=400)
        try:
            result = await run_in_threadpool(run, name, day)
        except Exception as err:  # the job's own failure: recorded by the scheduler, told to the caller
            return JSONResponse({"job": name, "ran": False, "error": f"{type(err).__name__}: {err}"},
                                status_code=500)
        return JSONResponse({"job": name, **result})

    return Route("/jobs/{name}", run_job, methods=["POST"])
