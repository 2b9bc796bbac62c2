"""A real HTTP server on 127.0.0.1 in a background thread, for the loopback fakes.

Each fake (Stripe, Slack Web API, Anthropic Messages API) subclasses `BaseHTTPRequestHandler`
and is served by `LoopbackServer`, which binds a free port, starts serving before it returns
and shuts down cleanly on exit.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    """Keeps the connections it serves (HTTP/1.1 keeps them open between requests), so that stopping can
    close them: a connection's thread would otherwise wait for the client's next request after the stop."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler_cls: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler_cls)
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away before its answer (a process killed mid-request: `vend hil --faults`)
        is not the double's error: no traceback on stderr. Anything else is reported as before."""
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return
        super().handle_error(request, client_address)

    def close_connections(self, *, timeout: float) -> None:
        """End the open connections and wait (up to `timeout`) until their threads are done with them."""
        with self.lock:
            open_now = list(self.connections)
        for conn in open_now:
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        while self.connections and time.monotonic() < deadline:
            time.sleep(0.005)


class LoopbackServer:
    """Serve `handler_cls` on a free loopback port; `state` is shared with every request."""

    def __init__(self, handler_cls: type[BaseHTTPRequestHandler], *, state: Any = None) -> None:
        self._httpd = _Server(("127.0.0.1", 0), handler_cls)
        self._httpd.state = state  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="loopback", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the port and the connections still open: no thread of it is left."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd.close_connections(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class JsonHandler(BaseHTTPRequestHandler):
    """Helpers shared by the fakes: body reading and JSON replies; quiet logs."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms wait for a delayed ACK

    @property
    def state(self) -> Any:
        return self.server.state  # type: ignore[attr-defined]

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def serve_asgi(app: Any, *, timeout: float = 10.0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yields its base URL once it accepts."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        end = time.monotonic() + timeout
        while not server.started:  # a condition with a deadline, not a fixed sleep
            if time.monotonic() > end or not thread.is_alive():
                raise AssertionError("uvicorn did not start before the deadline")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
