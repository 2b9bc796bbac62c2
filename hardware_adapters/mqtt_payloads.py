"""The MQTT device contract at the edge: validate a device's message and turn it into project events.

pydantic models check each payload (types, required fields, timezone-aware times, no unknown event
types); anything that fails becomes a `DeadLettered` event carrying the reason and the raw bytes, so
bad input is kept, never raised. Event ids are namespaced by machine (`mqtt:m1:<device id>`): one device
cannot collide with, or overwrite, another's events.

Bounds before any parsing that could fail: the size, the JSON nesting depth (a bracket scan, so a deeply
nested document is refused before `json.loads` could recurse), then every string (no control characters,
no U+0000, which PostgreSQL cannot store, no lone surrogates). A device's time far from the bridge's clock
(`DEVICE_TIME_WINDOW`) is booked at the time of receipt and flagged with a `device_clock` Alarm that keeps the
device's time (docs/device-contract.md); it never reaches the ledger or the store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from bridge import events as ev
from bridge.domain import Payment
from hardware_adapters import edge
from hardware_adapters.dex import parse_dex
from hardware_adapters.edge import MAX_JSON_DEPTH

LEAVES = ("events", "inventory", "status", "dex", "ack")
MAX_PAYLOAD_BYTES = 64 * 1024
# A device's time is trusted from this long before the bridge's clock to this long after it.
DEVICE_TIME_WINDOW = (timedelta(days=1096), timedelta(days=1))
_BAD_DEX = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SlotName = Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,8}$")]
Cents = Annotated[int, Field(ge=0, le=10_000_000, strict=True)]
Id = Annotated[str, Field(min_length=1, max_length=200)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Base(_Model):
    id: Id
    ts: AwareDatetime


class VendMsg(_Base):
    type: Literal["vend"]
    slot: SlotName
    price_cents: Cents
    payment: Payment
    txn: Annotated[str, Field(max_length=200)] | None = None


class DoorMsg(_Base):
    type: Literal["door"]
    state: Literal["open", "closed"]
    session: Annotated[str, Field(max_length=200)] = ""
    card: Annotated[str, Field(max_length=200)] = ""  # a fridge's card reader: the payment method token


class RestockedMsg(_Base):
    type: Literal["restocked"]
    slot: SlotName
    count: Annotated[int, Field(gt=0, le=10_000, strict=True)]


class CashCollectedMsg(_Base):
    type: Literal["cash_collected"]
    amount_cents: Cents


class TemperatureMsg(_Base):
    type: Literal["temperature"]
    celsius: Annotated[float, Field(ge=-100, le=200, allow_inf_nan=False)]


class FaultMsg(_Base):
    type: Literal["fault"]
    code: Annotated[str, Field(min_length=1, max_length=64)]
    detail: Annotated[str, Field(max_length=2000)] = ""


DeviceEvent = Annotated[
    VendMsg | DoorMsg | RestockedMsg | CashCollectedMsg | TemperatureMsg | FaultMsg, Field(discriminator="type")
]
_EVENT = TypeAdapter(DeviceEvent)


class SlotMsg(_Model):
    count: Annotated[int, Field(ge=0, le=10_000, strict=True)]
    price_cents: Cents
    sku: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")] | None = None  # the product it holds
    capacity: Annotated[int, Field(gt=0, le=10_000, strict=True)] | None = None


class InventoryMsg(_Base):
    slots: Annotated[dict[SlotName, SlotMsg], Field(max_length=200)]


class StatusMsg(_Model):
    online: Annotated[bool, Field(strict=True)]
    ts: AwareDatetime | None = None


class AckMsg(_Model):
    cmd_id: Id
    ok: Annotated[bool, Field(strict=True)]
    error: Annotated[str, Field(max_length=2000)] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandAck:
    """A device's answer to a command (not an event: it settles a waiting command)."""

    machine: str
    cmd_id: str
    ok: bool
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Translated:
    """What one MQTT message means: events to record, and/or a command acknowledgement."""

    events: tuple[ev.Event, ...] = ()
    ack: CommandAck | None = None


class Reject(Exception):
    """The message fails the contract; the text is the dead letter's reason."""


def dead_letter(*, topic: str, raw: bytes, reason: str, received_at: datetime) -> ev.DeadLettered:
    return edge.dead_letter(source="mqtt", topic=topic, raw=raw, reason=reason, received_at=received_at)


def check_text(data: Any) -> None:
    where = edge.bad_text(data)
    if where is not None:
        raise Reject(f"bad text in {where}: control character, U+0000 or lone surrogate")


def in_window(ts: datetime, received_at: datetime) -> bool:
    """A device's time is plausible: within DEVICE_TIME_WINDOW of the bridge's clock (no overflow:
    aware datetimes subtract through their offsets, without building a datetime out of range)."""
    skew = ts - received_at
    return -DEVICE_TIME_WINDOW[0] <= skew <= DEVICE_TIME_WINDOW[1]


def sane_times(events: tuple[ev.Event, ...], received_at: datetime, machine: str,
               shop: str) -> tuple[ev.Event, ...]:
    """The clock policy: an event stamped outside the window is booked at `received_at`, and a
    `device_clock` Alarm keeps the device's own time (its id follows the event's, so a redelivery is
    the same Alarm)."""
    out: list[ev.Event] = []
    for e in events:
        if in_window(e.ts, received_at):
            out.append(e)
            continue
        out.append(dataclasses.replace(e, ts=received_at))
        out.append(ev.Alarm(id=f"{e.id}:clock", ts=received_at, shop=shop, source=machine, code="device_clock",
                            detail=f"{e.kind} {e.id} stamped {e.ts.isoformat()} by the device; booked at receipt"))
    return tuple(out)


def translate(topic: str, raw: bytes, *, received_at: datetime, machines: Mapping[str, Mapping[str, str]],
              shop: str = "main", max_bytes: int = MAX_PAYLOAD_BYTES) -> Translated:
    """Turn one message into events. Never raises: bad input comes back as a `DeadLettered` event.

    `machines` maps each configured machine id to its planogram (slot -> sku)."""
    try:
        return _translate(topic, raw, received_at=received_at, machines=machines, shop=shop, max_bytes=max_bytes)
    except Reject as why:
        reason = str(why)
    except ValidationError as err:
        reason = _reason(err)
    except Exception as err:  # a gap in the checks above: still a dead letter, never a crash
        reason = f"could not read: {type(err).__name__}: {err}"
    return Translated(events=(dead_letter(topic=topic, raw=raw, reason=reason, received_at=received_at),))


def _reason(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    return f"invalid {where}: {first['msg']}" + (f" ({err.error_count()} errors)" if err.error_count() > 1 else "")


def _translate(topic: str, raw: bytes, *, received_at: datetime, machines: Mapping[str, Mapping[str, str]],
               shop: str, max_bytes: int) -> Translated:
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != "vend" or parts[2] not in LEAVES:
        raise Reject(f"not a device topic: {topic!r}")
    machine, leaf = parts[1], parts[2]
    if machine not in machines:
        raise Reject(f"unknown machine {machine!r}")
    if len(raw) > max_bytes:
        raise Reject(f"too large: {len(raw)} bytes > {max_bytes}")
    if leaf == "dex":
        return Translated(events=(_dex(machine, raw, received_at, shop),))
    if not edge.json_depth_ok(raw):
        raise Reject(f"bad JSON: nested deeper than {MAX_JSON_DEPTH}")
    try:
        data: Any = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise Reject(f"bad JSON: {err}") from None
    if not isinstance(data, dict):
        raise Reject("bad JSON: not an object")
    check_text(data)
    ns = f"mqtt:{machine}:"
    if leaf == "events":
        if "type" in data and data["type"] not in ("vend", "door", "restocked", "cash_collected", "temperature",
                                                   "fault"):
            raise Reject(f"unknown event type {str(data['type'])[:40]!r}")
        msg = _EVENT.validate_python(data)
        return Translated(events=sane_times((_event(msg, machine, ns + msg.id, shop, machines[machine]),),
                                            received_at, machine, shop))
    if leaf == "inventory":
        inv = InventoryMsg.model_validate(data)
        slots = tuple(ev.SlotCount(slot=k, count=v.count, price_cents=v.price_cents, sku=v.sku or "",
                                   capacity=v.capacity or 0)
                      for k, v in sorted(inv.slots.items()))
        return Translated(events=sane_times((ev.InventorySnapshot(id=ns + inv.id, ts=inv.ts, shop=shop,
                                                                   machine=machine, slots=slots),),
                                            received_at, machine, shop))
    if leaf == "status":
        st = StatusMsg.model_validate(data)
        when = st.ts or received_at
        # a status cannot come from the future: stamped later than its receipt, it is the receipt's (a
        # later real status must not lose to it); the id keeps the device's time (a redelivery is a repeat)
        at = received_at if in_window(when, received_at) and when > received_at else when
        status = ev.MachineStatus(id=f"{ns}status:{int(st.online)}:{when.isoformat()}", ts=at, shop=shop,
                                  machine=machine, online=st.online)
        return Translated(events=sane_times((status,), received_at, machine, shop))
    ack = AckMsg.model_validate(data)
    return Translated(ack=CommandAck(machine=machine, cmd_id=ack.cmd_id, ok=ack.ok, error=ack.error or ""))


def _event(msg: Any, machine: str, eid: str, shop: str, planogram: Mapping[str, str]) -> ev.Event:
    if isinstance(msg, VendMsg):
        return ev.Sale(id=eid, ts=msg.ts, shop=shop, machine=machine, slot=msg.slot,
                       sku=planogram.get(msg.slot, f"{machine}:{msg.slot}"), units=1,
                       unit_price_cents=msg.price_cents, payment=msg.payment, txn=msg.txn or "")
    if isinstance(msg, DoorMsg):
        return ev.DoorChanged(id=eid, ts=msg.ts, shop=shop, machine=machine, open=msg.state == "open",
                              session=msg.session, card=msg.card)
    if isinstance(msg, RestockedMsg):
        return ev.Restocked(id=eid, ts=msg.ts, shop=shop, machine=machine, slot=msg.slot,
                            sku=planogram.get(msg.slot, f"{machine}:{msg.slot}"), count=msg.count)
    if isinstance(msg, CashCollectedMsg):
        return ev.CashCollected(id=eid, ts=msg.ts, shop=shop, machine=machine, amount_cents=msg.amount_cents)
    if isinstance(msg, TemperatureMsg):
        return ev.TemperatureReading(id=eid, ts=msg.ts, shop=shop, machine=machine, celsius=msg.celsius)
    assert isinstance(msg, FaultMsg)
    return ev.Alarm(id=eid, ts=msg.ts, shop=shop, source=machine, code=msg.code, detail=msg.detail)


def _dex(machine: str, raw: bytes, received_at: datetime, shop: str) -> ev.Event:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise Reject("DEX audit is not ASCII text") from None
    if _BAD_DEX.search(raw):
        raise Reject("DEX audit holds control characters")
    tz = received_at.tzinfo
    assert tz is not None
    try:
        audit = parse_dex(text, tz=tz)
    except Exception as err:  # the parser's own errors: the audit is kept as a dead letter
        raise Reject(f"bad DEX audit: {err}") from None
    digest = hashlib.sha256(raw).hexdigest()[:24]
    return ev.DexAuditReceived(
        id=f"mqtt:{machine}:dex:{digest}", ts=received_at, shop=shop, machine=machine,
        paid_vends=audit.paid.count, paid_value_cents=audit.paid.value_cents,
        selection_vends=tuple(sorted(audit.selection_vends.items())), text=text)
