"""A recording proxy in front of the model server: every request is forwarded as is and logged on
the server's side of the wire (path, status, how many tools the request carried, the usage the
server answered), so a test can hold the run's summary and transcript against what was really sent."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Logged:
    method: str
    path: str
    status: int
    tools: int
    usage: dict[str, Any]
    error: str


class RecordingProxy:
    def __init__(self, upstream: str) -> None:
        u = urlsplit(upstream)
        self.host, self.port_up = u.hostname or "127.0.0.1", u.port or 80
        self.log: list[Logged] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(n) if n else None
                conn = http.client.HTTPConnection(proxy.host, proxy.port_up, timeout=3_600)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                proxy._record(self.command, self.path, resp.status, body, data)
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = _forward
            do_POST = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _record(self, method: str, path: str, status: int, body: bytes | None, data: bytes) -> None:
        tools, usage, error = 0, {}, ""
        try:
            req = json.loads(body) if body else {}
            tools = len(req.get("tools") or []) if isinstance(req, dict) else 0
        except ValueError:
            pass
        try:
            got = json.loads(data)
            if isinstance(got, dict):
                usage = got.get("usage") or {}
                error = json.dumps(got.get("error")) if got.get("error") else ""
        except ValueError:
            pass
        with self._lock:
            self.log.append(Logged(method=method, path=path.split("?")[0], status=status, tools=tools, usage=usage,
                                   error=error))

    def messages(self) -> list[Logged]:
        with self._lock:
            return [x for x in self.log if x.method == "POST" and x.path == "/v1/messages"]

    def __enter__(self) -> RecordingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
