"""The bridge's one inbound HTTP server: a Starlette app that adapters add routes to
(`POST /slack/events`, `POST /stripe/webhook`, ...), with `GET /healthz` and, when an admin token
is set, `POST /jobs/{name}` to run a scheduled job now (ops: "close the day now"; tests)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

Health = Callable[[], dict[str, Any]]
RunJob = Callable[[str, date | None], dict[str, Any]]


def _always_ok() -> dict[str, Any]:
    return {"ok": True}


def build_http_app(*, routes: Sequence[BaseRoute] = (), health: Health | None = None) -> Starlette:
    """`health()` returns each adapter's state and `ok`; /healthz answers 200 when ok, else 503."""
    probe = health or _always_ok

    async def healthz(request: Request) -> JSONResponse:
        report = await run_in_threadpool(probe)
        return JSONResponse(report, status_code=200 if report.get("ok") else 503)

    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"]), *routes])


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
