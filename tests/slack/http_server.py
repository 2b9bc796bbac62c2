"""The bridge's HTTP app served by uvicorn on a free loopback port (shared helper)."""

from tests.fakes.loopback import serve_asgi as serve

__all__ = ["serve"]
