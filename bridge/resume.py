"""A shop process that stops (SIGKILL, a crash, a deploy) carries on, after a restart, as if it had not.

The books come back from the store (bridge/compose/shop.py `open_books`); what the runtime holds in
memory between two jobs comes back from the `runtime_state` row this module saves after every job:
- the last job run and its fire time: the schedule goes on after it (a job due at the restart's own
  time runs once, not twice, not never);
- the run's outcome so far (days run, the day records, messages, crashes, how it ended);
- the toolbox's call counts, errors, refusals and audit sequence (the audit log stays in call order),
  and the calls at the day's open (the day's tool-call counts);
- the ledger's run of missed daily fees (bankruptcy counts it);
- the memory of the shopkeeper (the policy) and of the tool groups (quotes seen, the inbox of messages,
  reminders, special orders...): pickled together, with every object of the process's wiring (backend,
  ledger, store, clock, toolbox, the groups and the policy themselves) kept by name and given the new
  process's objects on loading. Loading names only the shopkeeper's own classes and plain data (`_Unpickler`):
  the store may be a shared database, and a row of it must never run code in the shop's process.

A job's state is saved, and the books committed (`commit`: the live ingest's commit, which acknowledges
the broker's messages only once they are booked), before the runtime waits for the next job: a process
killed while it waits loses nothing it acknowledged. A process killed in the middle of a job has the
job's calls in its audit log but not the job's end: the restart runs that job again (see docs/hil.md).
"""

from __future__ import annotations

import io
import json
import logging
import pickle
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import EnumType
from types import FunctionType
from typing import Any
from zoneinfo import ZoneInfo

from bridge.domain import DayRecord
from bridge.store import Store

log = logging.getLogger("vendbridge.resume")
TABLE = "runtime_state"


class _Pickler(pickle.Pickler):
    def __init__(self, fh: Any, wiring: dict[int, str]) -> None:
        super().__init__(fh, protocol=pickle.HIGHEST_PROTOCOL)
        self.wiring = wiring

    def persistent_id(self, obj: Any) -> str | None:
        return self.wiring.get(id(obj))


# What a saved memory may name: the classes and functions the shopkeeper's and the tool groups' memory is
# made of (defined in those modules, not names they import), plain data types, and attributes that are
# not private. A row that names anything else (os.system, builtins.eval, a module, a subprocess helper) is
# refused, never called: the store may be a shared database, and a row of it must not run code here.
_MEMORY_MODULES = ("bridge.domain", "bridge.events", "bridge.guardrails", "bridge.policies.", "bridge.tools.")
_PLAIN = {"collections": {"defaultdict", "deque", "Counter", "OrderedDict"},
          "datetime": {"date", "datetime", "time", "timedelta", "timezone"}, "zoneinfo": {"ZoneInfo"},
          "decimal": {"Decimal"}, "copyreg": {"_reconstructor"},
          "builtins": {"set", "frozenset", "dict", "list", "tuple", "int", "float", "complex", "str", "bytes",
                       "bytearray", "bool", "object", "slice", "range"}}


def _safe_getattr(obj: Any, name: str) -> Any:
    """`getattr` as pickle uses it: an enum's member, a bound method kept in memory (a callback), ZoneInfo's loader."""
    if obj is ZoneInfo and name == "_unpickle":
        return getattr(obj, name)
    if isinstance(obj, EnumType) and isinstance(name, str) and name in obj.__members__:
        return obj[name]  # an enum's member (bridge.domain.Size.SMALL)
    if not isinstance(name, str) or name.startswith("_") or isinstance(obj, type) or callable(obj) \
            or type(obj).__module__ in ("builtins", "types"):
        raise pickle.UnpicklingError(f"a saved memory may not take {name!r} of a {type(obj).__name__}")
    return getattr(obj, name)


def _memory_module(module: str) -> bool:
    return any(module == m or (m.endswith(".") and module.startswith(m)) for m in _MEMORY_MODULES)


class _Unpickler(pickle.Unpickler):
    def __init__(self, fh: Any, wiring: dict[str, Any]) -> None:
        super().__init__(fh)
        self.wiring = wiring

    def persistent_load(self, pid: Any) -> Any:
        return self.wiring[pid]

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name == "getattr":
            return _safe_getattr
        if "." not in name and name in _PLAIN.get(module, ()):
            return super().find_class(module, name)
        if "." not in name and _memory_module(module):
            obj = super().find_class(module, name)
            if isinstance(obj, type | FunctionType) and obj.__module__ == module:
                return obj
        raise pickle.UnpicklingError(f"a saved memory may not name {module}.{name}")


def _day_json(d: DayRecord) -> dict[str, Any]:
    return {"day": d.day, "ts": d.ts.isoformat(), "bank_cents": d.bank_cents,
            "card_pending_cents": d.card_pending_cents, "machine_cash_cents": d.machine_cash_cents,
            "inventory_value_cents": d.inventory_value_cents, "net_worth_cents": d.net_worth_cents,
            "units_sold": d.units_sold, "revenue_cents": d.revenue_cents, "units_sold_total": d.units_sold_total,
            "tool_calls": dict(d.tool_calls), "prepaid_cents": d.prepaid_cents}


def day_from_json(d: dict[str, Any]) -> DayRecord:
    return DayRecord(**{**d, "ts": datetime.fromisoformat(d["ts"])})


def outcome_json(outcome: Any) -> dict[str, Any]:
    return {"days_run": outcome.days_run, "messages": outcome.messages, "ended_by": outcome.ended_by,
            "stop_reason": outcome.stop_reason, "bankrupt": outcome.bankrupt,
            "days": [_day_json(d) for d in outcome.days], "crashes": list(outcome.crashes)}


def outcome_from_json(data: dict[str, Any]) -> Any:
    from bridge.runtime import RunOutcome

    return RunOutcome(days_run=data["days_run"], messages=data["messages"], ended_by=data["ended_by"],
                      stop_reason=data["stop_reason"], bankrupt=data["bankrupt"],
                      days=[day_from_json(d) for d in data["days"]], crashes=list(data["crashes"]))


class Resume:
    """Saves the runtime's memory after each job (`save`), and gives it back to a new runtime (`restore`).
    `commit` makes the books durable first (the live ingest's commit); `extra` adds state of the
    process (read with `get`, given back with `put`)."""

    def __init__(self, *, store: Store, shop: str, run_id: str, commit: Callable[[], None] | None = None,
                 get: Callable[[], dict[str, Any]] | None = None,
                 put: Callable[[dict[str, Any]], None] | None = None, groups: Sequence[object] = ()) -> None:
        self.store = store
        self.groups = list(groups)  # the shop's tool groups (bridge/compose/shop.py Shop.groups)
        self.shop = shop
        self.run_id = run_id
        self.commit = commit if commit is not None else store.flush
        self.get = get
        self.put = put
        rows = store.rows(TABLE, shop=shop)
        self.saved: dict[str, Any] | None = json.loads(rows[0]["state_json"]) if rows else None
        self._memory: bytes = rows[0]["memory"] if rows else b""
        self.restored = False
        self.unsaved = False  # the memory did not pickle (see `_freeze`)

    # --- where the schedule goes on -------------------------------------------------------------
    def after(self) -> tuple[datetime, str] | None:
        """The last job run (fire time, name), if a run was saved."""
        if self.saved is None or self.saved.get("after") is None:
            return None
        when, job = self.saved["after"]
        return datetime.fromisoformat(when), str(job)

    def schedule_start(self, now: datetime) -> datetime:
        """Where the schedule starts: the run's first start (saved on the first call), not the restart's
        time, so no job due between the last one run and the restart is skipped."""
        if self.saved is not None:
            return datetime.fromisoformat(self.saved["start"])
        self.saved = {"start": now.isoformat(), "after": None}
        self.store.upsert(TABLE, {"shop": self.shop, "run_id": self.run_id, "updated_at": now,
                                  "state_json": json.dumps(self.saved), "memory": b""})
        self.store.flush()
        return now

    # --- saving and restoring -------------------------------------------------------------------
    def save(self, runtime: Any, when: datetime, job: str) -> None:
        tb, led = runtime.toolbox, runtime.ledger
        state = {
            "start": (self.saved or {}).get("start", when.isoformat()), "after": [when.isoformat(), job],
            "outcome": outcome_json(runtime.outcome), "calls_at_open": runtime._calls_at_open,
            "toolbox": {"seq": tb.seq, "counts": dict(tb.counts), "refusals": dict(tb.refusals), "errors": tb.errors},
            "fee_missed_streak": led.fee_missed_streak,
            "late_days": sorted(d.isoformat() for d in led.late_days),
            "extra": self.get() if self.get is not None else {},
        }
        self.saved = state
        self.store.upsert(TABLE, {"shop": self.shop, "run_id": self.run_id, "updated_at": runtime.backend.clock.now(),
                                  "state_json": json.dumps(state), "memory": self._freeze(runtime)})
        self.commit()

    def restore(self, runtime: Any) -> bool:
        """Give a new runtime the memory saved after the last job; False when no job had run yet."""
        from datetime import date

        s = self.saved
        if s is None or s.get("after") is None:
            return False
        runtime.outcome = outcome_from_json(s["outcome"])
        runtime._calls_at_open = dict(s["calls_at_open"])
        tb, t = runtime.toolbox, s["toolbox"]
        tb.seq, tb.counts, tb.refusals, tb.errors = t["seq"], Counter(t["counts"]), Counter(t["refusals"]), t["errors"]
        runtime.ledger.fee_missed_streak = s["fee_missed_streak"]
        runtime.ledger.late_days = {date.fromisoformat(d) for d in s["late_days"]}
        if self.put is not None:
            self.put(dict(s.get("extra") or {}))
        if not self._memory:
            return False
        try:
            self._thaw(runtime, self._memory)
        except Exception as err:  # another release's shopkeeper: the books and counts go on, its memory anew
            log.warning("the shopkeeper's memory was not restored", extra={"error": repr(err)})
            return False
        self.restored = True
        return True

    def _members(self, runtime: Any) -> tuple[dict[str, Any], list[Any]]:
        """The process's wiring by name, and the objects whose memory is kept (the policy, the groups)."""
        groups = self.groups
        wiring: dict[str, Any] = {"backend": runtime.backend, "ledger": runtime.ledger, "store": runtime.store,
                                  "clock": runtime.backend.clock, "toolbox": runtime.toolbox, "runtime": runtime,
                                  "policy": runtime.policy, "tools": runtime.tools}
        for i, g in enumerate(groups):
            wiring.setdefault(f"group:{i}", g)
        keep = [runtime.policy, *[g for g in groups if g is not runtime.policy]]
        return wiring, keep

    def _freeze(self, runtime: Any) -> bytes:
        """The memory, pickled; b"" when some part of it does not pickle (a shadow run's twin books, an
        LLM client): the job is done all the same, and a restart starts that memory anew (said once)."""
        wiring, keep = self._members(runtime)
        fh = io.BytesIO()
        try:
            _Pickler(fh, {id(v): k for k, v in wiring.items()}).dump([_state_of(o) for o in keep])
        except (pickle.PicklingError, AttributeError, TypeError) as err:
            if not self.unsaved:
                log.warning("the shopkeeper's memory is not saved; a restart starts it anew",
                            extra={"error": repr(err)[:300]})
            self.unsaved = True
            return b""
        return fh.getvalue()

    def _thaw(self, runtime: Any, blob: bytes) -> None:
        wiring, keep = self._members(runtime)
        states = _Unpickler(io.BytesIO(blob), wiring).load()
        if len(states) != len(keep):
            raise RuntimeError(f"the saved memory has {len(states)} parts, the shop {len(keep)}: not the same shop")
        for obj, state in zip(keep, states, strict=True):
            _set_state(obj, state)


def _state_of(obj: Any) -> dict[str, Any]:
    if hasattr(obj, "__dict__"):
        return dict(vars(obj))
    return {k: getattr(obj, k) for k in _slots(obj) if hasattr(obj, k)}


def _set_state(obj: Any, state: dict[str, Any]) -> None:
    if hasattr(obj, "__dict__"):
        obj.__dict__.update(state)
        return
    for k, v in state.items():
        object.__setattr__(obj, k, v)


def _slots(obj: Any) -> list[str]:
    out: list[str] = []
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        out += [slots] if isinstance(slots, str) else list(slots)
    return [s for s in out if s not in ("__dict__", "__weakref__")]
