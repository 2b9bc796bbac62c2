"""The bridge's one inbound HTTP server: a Starlette app that adapters add routes to
(`POST /slack/events`, `POST /stripe/webhook`, ...), with `GET /healthz`."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def build_http_app(*, routes: Sequence[BaseRoute] = ()) -> Starlette:
    return Starlette(routes=[Route("/healthz", healthz, methods=["GET"]), *routes])
