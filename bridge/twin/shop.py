"""The shadow twin of a shop: the shop's own tool groups over twin ports (bridge/twin/ports.py) and a
twin of the books, so a shadow run's WRITE calls are answered by the very tool code the real run uses,
with results of the real shape (ids, statuses, due times), while nothing real changes.

The twin's books start as the real books and record every event the real books record (the shop's
tools pass each one on), plus what the twin's tools book themselves (orders placed, tasks opened): they
are what the books would be had the shadow shopkeeper's calls been made. They live in a private store
that is thrown away with the twin. The twin's tools are also what the guardrails ask in a shadow run
(its quotes, its spend today, its messages sent), so each WRITE is judged as it would have been.

    twin = ShadowTwin(backend=backend, ledger=ledger, tools=tools, products=products, tz=tz,
                      tool_groups=lambda tools: [tools, ServiceTools(shop=tools)])
    toolbox = Toolbox(..., context=twin.tools, shadow=True, twin=twin.groups)
    twin.follow(toolbox)  # once the toolbox's after_call is set (the runtime sets it)
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Mapping
from datetime import tzinfo
from pathlib import Path

from bridge import events as ev
from bridge.domain import Product
from bridge.ledger import Ledger
from bridge.ports import Backend
from bridge.store import Store
from bridge.tools.executor import Toolbox
from bridge.tools.shop import ShopTools
from bridge.twin.ports import (
    TwinApprovals,
    TwinChat,
    TwinLog,
    TwinMachine,
    TwinPayments,
    TwinPhysicalWork,
    TwinProcurement,
)

log = logging.getLogger("vendbridge.twin")
FLUSH_EVERY = 500  # events the twin's books buffer before they are written to its store


class ShadowTwin:
    def __init__(self, *, backend: Backend, ledger: Ledger, tools: ShopTools, products: Mapping[str, Product],
                 tz: tzinfo, tool_groups: Callable[[ShopTools], list[object]], prefix: str = "shadow") -> None:
        """`backend`, `ledger`, `tools`: the real shop's (the twin follows every event its tools see);
        `tool_groups`: the shop's tool groups built over given tools (the same function builds the real ones)."""
        self.shop_tools = tools
        self._told: list[ev.Event] = []
        self._dir = tempfile.TemporaryDirectory(prefix="vend-twin-")  # removed by close(), else when collected
        # a fresh store: event ids are claimed in memory (the real books have deduplicated every event the
        # twin sees, so it needs no look-up in its own database per event; ~100 bytes an event held)
        self.store = Store(url=f"sqlite:///{Path(self._dir.name) / 'twin.db'}", fresh=True)
        try:
            self.ledger = Ledger.load(shop=ledger.shop, store=ledger.store, tz=tz, into=self.store)
            self.log = TwinLog(prefix=prefix)
            self.backend = Backend(
                shop=backend.shop, clock=backend.clock,
                machines={mid: TwinMachine(real=m, log=self.log) for mid, m in backend.machines.items()},
                payments=TwinPayments(real=backend.payments, log=self.log), chat=TwinChat(log=self.log),
                procurement=TwinProcurement(real=backend.procurement, clock=backend.clock, log=self.log,
                                            unit_cost=self.ledger.last_cost.get,
                                            reference_price={s: p.reference_price_cents for s, p in products.items()},
                                            tell=self.tell),
                physical=TwinPhysicalWork(clock=backend.clock, log=self.log), events=backend.events,
                approvals=TwinApprovals(log=self.log))
            self.tools = ShopTools(backend=self.backend, ledger=self.ledger, products=products, tz=tz)
            self.groups = tool_groups(self.tools)
        except BaseException:
            self.close()
            raise
        self._unflushed = 0
        tools.listeners.append(self.observe)

    def tell(self, event: ev.Event) -> None:
        """An event of the twin's own world (a twin supplier's answer to a quote request), told after the
        call that caused it (`deliver`): the shopkeeper hears of it as of any event (the shop's tools
        observe it: its inbox; the twin follows them), while the real books never record it."""
        self._told.append(event)

    def deliver(self) -> None:
        """Tell what the twin's world has to tell (after each tool call, as events are ingested)."""
        while self._told:
            self.shop_tools.observe(self._told.pop(0))

    def follow(self, toolbox: Toolbox) -> None:
        """Deliver the twin world's events after each of the toolbox's calls, before its own `after_call`."""
        after = toolbox.after_call

        def deliver_then_ingest() -> None:
            self.deliver()
            if after is not None:
                after()

        toolbox.after_call = deliver_then_ingest

    def observe(self, event: ev.Event) -> None:
        """An event the real books recorded: the twin's books record it too, and its tools follow it
        (messages excepted: the real inbox is the one the shopkeeper reads)."""
        self.ledger.record(event)
        if not isinstance(event, ev.MessageReceived):
            self.tools.observe(event)
        self._unflushed += 1
        if self._unflushed >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Write the twin's books to its store (a failure there never stops the real shop)."""
        self._unflushed = 0
        del self.ledger.anomalies[:-100]  # as the live ingest keeps the real books' (a long run would grow it)
        try:
            self.store.flush()
        except Exception:  # the twin is a shadow's aid: the shop goes on without its store
            log.exception("the shadow twin's books could not be written")
            self.store.discard()

    def close(self) -> None:
        store = getattr(self, "store", None)
        try:
            if store is not None:
                store.close()
        finally:
            self._dir.cleanup()
