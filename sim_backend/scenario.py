"""Scenarios as TOML files, validated at the edge (pydantic) into one frozen object."""

from __future__ import annotations

import tomllib
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bridge.errors import ConfigError, invalid
from sim_backend.world import MONTH, WEEKDAY


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MachineSpec(_Strict):
    id: str = "m1"
    rows: int = Field(4, ge=1, le=10)
    columns: int = Field(3, ge=1, le=10)
    small_rows: int = Field(2, ge=0, le=10)
    small_capacity: int = Field(15, ge=1, le=100)
    large_capacity: int = Field(10, ge=1, le=100)
    card_share: float = Field(0.75, ge=0.0, le=1.0)


class SupplierSpec(_Strict):
    id: str
    name: str
    archetype: Literal["honest", "friendly", "negotiating", "scam", "bait_switch"] = "honest"
    categories: list[str]
    price_factor: float = Field(1.0, gt=0.1, le=10.0)
    lead_time_days: int = Field(2, ge=0, le=60)
    min_order_cents: int = Field(0, ge=0)
    volume_discount_units: int = Field(48, ge=1)
    volume_discount: float = Field(0.05, ge=0.0, lt=1.0)
    negotiable_pct: float = Field(0.03, ge=0.0, lt=0.5)
    # Vending-Bench 2 behaviour (sim_backend/adversarial.py); the defaults change nothing
    negotiation_rounds: int = Field(1, ge=1, le=10)  # counter-offers a supplier answers before its final price
    absurd_quote_share: float = Field(0.0, ge=0.0, le=1.0)  # quotes at several times the usual price
    late_share: float = Field(0.0, ge=0.0, le=1.0)  # orders that arrive late
    late_days_max: int = Field(0, ge=0, le=30)
    short_share: float = Field(0.5, ge=0.0, le=1.0)  # bait_switch: orders delivered short or swapped
    closes_on_day: int | None = Field(None, ge=0)  # goes out of business that day: quotes bounce, nothing ships
    # a quote or counter-offer is answered by e-mail this many minutes after it is asked (a seeded draw
    # between the two, from the supplier's own reply stream), as Vending-Bench 2's suppliers answer
    reply_minutes_min: int = Field(40, ge=1, le=7 * 24 * 60)
    reply_minutes_max: int = Field(180, ge=1, le=7 * 24 * 60)

    @model_validator(mode="after")
    def _reply_window(self) -> SupplierSpec:
        if self.reply_minutes_max < self.reply_minutes_min:
            raise ValueError("reply_minutes_max must be at least reply_minutes_min")
        return self


class WorldSpec(_Strict):
    sales_hour: int = Field(21, ge=1, le=23)
    delivery_hour: int = Field(10, ge=0, le=23)
    restock_delay_minutes: int = Field(90, ge=1)
    collect_delay_minutes: int = Field(60, ge=1)
    mean_celsius: float = 14.0
    swing_celsius: float = 9.0
    # the calendar's demand multipliers (docs/demand-model.md); a calibrated twin sets its own
    weekday_factors: tuple[float, ...] = Field(WEEKDAY, min_length=7, max_length=7)  # Monday .. Sunday
    month_factors: tuple[float, ...] = Field(MONTH, min_length=12, max_length=12)  # January .. December

    @field_validator("weekday_factors", "month_factors")
    @classmethod
    def _positive_factors(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0.0 < f <= 10.0 for f in value):
            raise ValueError("each factor must be above 0 and at most 10")
        return value


class AccidentsSpec(_Strict):
    """The world's accidents, each drawn on seeded days (sim_backend/accidents.py). All off by default."""

    machine_offline: int = Field(0, ge=0, le=50)  # days the machine is offline (no sales), one at a time
    cash_jam: int = Field(0, ge=0, le=50)  # days the cash box jams: a collection that day fails
    temperature_excursion: int = Field(0, ge=0, le=20)  # fridge failures that spoil chilled stock in the machine
    spoil_categories: list[str] = Field(default_factory=lambda: ["fresh", "juice", "candy"])
    shrinkage_per_week: float = Field(0.0, ge=0.0, le=0.5)  # share of machine units that vanish each week
    supplier_price_rise: int = Field(0, ge=0, le=20)  # a supplier raises every price by price_rise_pct
    price_rise_pct: float = Field(0.15, ge=0.0, le=3.0)
    bad_weather_weeks: int = Field(0, ge=0, le=20)  # weeks of storms

    @property
    def any(self) -> bool:
        return bool(self.machine_offline or self.cash_jam or self.temperature_excursion or self.shrinkage_per_week
                    or self.supplier_price_rise or self.bad_weather_weeks)


class CustomersSpec(_Strict):
    """Simulated employees who write to the shopkeeper in chat (sim_backend/customers.py)."""

    people: int = Field(30, ge=1, le=1000)
    messages_per_day: float = Field(3.0, ge=0.0, le=100.0)  # on working days
    first_hour: int = Field(9, ge=0, le=23)
    last_hour: int = Field(17, ge=1, le=23)
    # the mix of what they write (weights)
    special_order: float = 3.0
    price_question: float = 2.0
    discount_plea: float = 2.0
    refund_honest: float = 1.0
    refund_false: float = 1.0
    impostor: float = 1.0
    hidden_instruction: float = 1.0
    big_offer: float = 0.5
    pay_share: float = Field(0.8, ge=0.0, le=1.0)  # payment links paid (the rest abandoned)


class ApproverSpec(_Strict):
    """The ops persona who answers `request_approval` in the simulator (sim_backend/approvals.py), as a
    person in the ops group does live. Its rule, checked in this order when it decides:

    - it decides only orders (`order:<quote_id>`) and refunds (`refund:<payment_ref>`), never a
      request that pays itself (`beneficiary` is the approver);
    - an order: the quote exists, costs no more than the amount asked, the amount is at most
      `order_up_to_cents`, and paying it leaves at least `bank_floor_cents` in the bank (at the time
      it decides);
    - a refund: the amount is at most `refund_up_to_cents`, and with `check_refunds` the payment is
      one the shop took (a paid link, or a receipt behind a true claim) with that much left on it;
    - anything else is refused, with the reason in the decision's `detail`.
    It answers `delay_minutes_min`..`delay_minutes_max` (seeded) after a request, counted from the
    next moment it is at work (`first_hour`..`last_hour`, Monday to Friday unless `weekends`)."""

    user: str = Field("UOPS0001", min_length=1, max_length=40)  # the approver's id (ApprovalDecided.approver)
    name: str = "Morgan"
    first_hour: int = Field(8, ge=0, le=23)
    last_hour: int = Field(18, ge=1, le=24)
    weekends: bool = False
    delay_minutes_min: int = Field(10, ge=0, le=7 * 24 * 60)
    delay_minutes_max: int = Field(180, ge=0, le=7 * 24 * 60)
    order_up_to_cents: int = Field(80_000, ge=0)  # above the guardrails' $600 threshold
    refund_up_to_cents: int = Field(2_000, ge=0)  # above the guardrails' $5 refund cap
    bank_floor_cents: int = Field(10_000, ge=0)
    check_refunds: bool = True

    @model_validator(mode="after")
    def _ranges(self) -> ApproverSpec:
        if self.last_hour <= self.first_hour:
            raise ValueError("approver: last_hour must be after first_hour")
        if self.delay_minutes_max < self.delay_minutes_min:
            raise ValueError("approver: delay_minutes_max must be at least delay_minutes_min")
        return self


class Scenario(_Strict):
    name: str
    description: str = ""
    days: int = Field(365, ge=1, le=3650)
    start: date = date(2026, 1, 5)
    timezone: str = "America/Los_Angeles"
    starting_cash_cents: int = Field(50_000, ge=0)
    daily_fee_cents: int = Field(200, ge=0)
    bankruptcy_days: int = Field(10, ge=1)
    max_messages: int = Field(2_000, ge=1)
    score: Literal["net_worth", "bank"] = "net_worth"
    # "open": the directory lists suppliers the shop has never dealt with, and the shop is told so
    # (a public fact, as in Vending-Bench 2): the baseline then vets suppliers (bridge/policies/trust.py)
    market: Literal["trusted", "open"] = "trusted"
    catalogue: str = ""  # path to a products CSV; empty: the shipped one
    machine: MachineSpec = Field(default_factory=MachineSpec)
    world: WorldSpec = Field(default_factory=WorldSpec)
    suppliers: list[SupplierSpec]
    accidents: AccidentsSpec = Field(default_factory=AccidentsSpec)
    customers: CustomersSpec | None = None
    approver: ApproverSpec = Field(default_factory=ApproverSpec)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


BUILTIN = ("vb1", "vb2", "project_vend")


def load_scenario(name_or_path: str, **overrides: Any) -> Scenario:
    """A built-in name (`vb1`) or a path to a TOML file. Errors are one clear line."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            text = path.read_text()
        except OSError as err:
            raise ConfigError(f"scenario file {name_or_path}: {err.strerror}") from None
        source = str(path)
    else:
        res = resources.files("sim_backend").joinpath(f"scenarios/{name_or_path}.toml")
        if not res.is_file():
            known = sorted(p.name[:-5] for p in resources.files("sim_backend").joinpath("scenarios").iterdir()
                           if p.name.endswith(".toml"))
            raise ConfigError(f"unknown scenario {name_or_path!r} (built in: {', '.join(known)})")
        text = res.read_text()
        source = f"{name_or_path}.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: {err}") from None
    raw.update({k: v for k, v in overrides.items() if v is not None})
    catalogue = raw.get("catalogue")
    if isinstance(catalogue, str) and catalogue and source == str(path) and not Path(catalogue).is_absolute():
        beside = path.parent / catalogue  # a catalogue named relative to its scenario file (a calibrated twin's)
        if beside.exists():
            raw["catalogue"] = str(beside)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        raise invalid(source, err, top="scenario") from None
