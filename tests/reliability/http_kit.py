"""The bridge's HTTP app (Slack and Stripe routes, the body limit) served by uvicorn on a loopback port
in this process, over a store on any URL; the events it takes are booked by a real ingest loop."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from bridge.ledger import Ledger
from bridge.live.core import MergedSource
from bridge.live.http_app import build_http_app
from bridge.live.ingest import IngestLoop, MachineBook
from bridge.store import Store
from hardware_adapters.live import EventQueue
from hardware_adapters.slack.app import SlackBridge
from hardware_adapters.stripe.webhooks import StripeEvents, webhook_route
from tests.slack.rig import FakeMachine, FixedClock, fake_slack, settings_for

STRIPE_SECRET = "whsec_reliability_0123456789"
MAX_BODY = 1024 * 1024


@dataclass
class HttpShop:
    url: str
    store: Store
    loop: IngestLoop
    queue: EventQueue

    def book(self) -> None:
        self.loop.pump()


@contextmanager
def http_shop(db_url: str, tmp_path: Path) -> Iterator[HttpShop]:
    with fake_slack() as fake:
        store = Store(url=db_url)
        ledger = Ledger.load(shop="main", store=store)
        queue = EventQueue()
        slack = SlackBridge(settings=settings_for(fake), clock=FixedClock(), ledger=ledger,
                            machines={"m1": FakeMachine()}, events=queue)
        stripe_route = webhook_route(secret=STRIPE_SECRET, events=StripeEvents(shop="main"), sink=queue.put)
        app = build_http_app(routes=[slack.http_route(), stripe_route], max_body_bytes=MAX_BODY)
        loop = IngestLoop(source=MergedSource(inbox=queue), ledger=ledger, store=store,
                          book=MachineBook(shop="main", store=store))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off", access_log=False))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.01)  # polling a condition with a deadline
        try:
            yield HttpShop(url=f"http://127.0.0.1:{port}", store=store, loop=loop, queue=queue)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
            store.close(flush=loop.broken is None)


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def raw_post(url: str, path: str, *, chunks: Any, headers: dict[str, str]) -> int:
    """POST a body from an iterator of chunks (chunked transfer encoding, or a declared length) over a
    plain socket and return the status; stops sending as soon as the server answers."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        head = [f"POST {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
        chunked = "Content-Length" not in headers
        if chunked:
            head.append("Transfer-Encoding: chunked")
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        s.setblocking(False)
        answer = b""
        try:
            for chunk in chunks:
                try:
                    got = s.recv(65536)
                    if got:
                        answer += got
                        break
                except BlockingIOError:
                    pass
                data = (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") if chunked else chunk
                s.setblocking(True)
                s.sendall(data)
                s.setblocking(False)
            else:
                if chunked:
                    s.setblocking(True)
                    s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.setblocking(True)
        s.settimeout(10)
        while b"\r\n" not in answer:
            got = s.recv(65536)
            if not got:
                break
            answer += got
    return int(answer.split(b" ", 2)[1]) if answer else 0
