"""The bridge's HTTP app served by uvicorn on a free loopback port (shared helper)."""

from hardware_adapters.doubles.loopback import serve_asgi as serve

__all__ = ["serve"]
