"""The system of record: sqlmodel tables and the batching Store."""

from bridge.store.store import Store

__all__ = ["Store"]
