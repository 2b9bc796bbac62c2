"""`vend live --config FILE`: the live settings, one TOML file validated by pydantic.

Each adapter owns one section; a section the file leaves out is an adapter not wired (add a section:
a model here, a field on `LiveConfig`, its wiring in bridge/compose_live.py). Secrets never sit in the
file: a section names the environment variable that holds them, read by `secret()` at start-up.
Relative paths (guardrails, scripts, catalogue) are taken from the config file's folder.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bridge.errors import ConfigError, invalid

MachineId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def secret(env_name: str, what: str) -> str:
    """A secret from the environment; a missing one is a one-line ConfigError naming the variable."""
    value = os.environ.get(env_name, "")
    if not value:
        raise ConfigError(f"{what}: set the environment variable {env_name}")
    return value


class BridgeSection(_Section):
    shop: str = "main"
    db: str = "sqlite:///vend-live.db"
    db_env: str = "VEND_DB_URL"  # when this variable is set, its URL (which may hold a password) wins over `db`
    tz: str = "UTC"
    max_batch: Annotated[int, Field(gt=0, le=100_000)] = 2000
    max_delay_ms: Annotated[int, Field(ge=0, le=60_000)] = 50

    @field_validator("tz")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v


class MqttSection(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(gt=0, lt=65536)] = 1883
    username: str = "bridge"
    password_env: str = "VEND_MQTT_PASSWORD"
    client_id: str = "vendbridge"
    session_expiry_s: Annotated[int, Field(gt=0)] = 7 * 86_400
    receive_maximum: Annotated[int, Field(gt=0, le=65_535)] = 1000
    command_timeout_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    reconnect_max_s: Annotated[int, Field(gt=0, le=600)] = 5
    max_payload_bytes: Annotated[int, Field(gt=0, le=262_144)] = 64 * 1024

    def password(self) -> str:
        value = os.environ.get(self.password_env, "")
        if not value:
            raise ConfigError(f"mqtt: set the broker password in the environment variable {self.password_env}")
        return value


class MachineSection(_Section):
    id: MachineId
    planogram: dict[str, str] = Field(default_factory=dict)  # slot -> sku
    slot_capacity: Annotated[int, Field(gt=0, le=1000)] = 10
    fridge: bool = False  # card-present sessions: door open holds [stripe] fridge_hold_cents, close charges
    # what the device's inventory counts are: "reported" (a spiral machine's count of its own vends and keyed
    # restocks: never checked against the books) or "physical" (a smart fridge's shelves count what is there:
    # a count short of the books is booked as stock lost at the report's time, as a stocktake would)
    counts: Literal["reported", "physical"] = "reported"


class HttpSection(_Section):
    """The one inbound HTTP server: /healthz, /slack/events, /stripe/webhook, /jobs/{name}."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, lt=65536)] = 8080  # 0: any free port (logged at start)
    admin_token_env: str = "VEND_ADMIN_TOKEN"  # bearer token for POST /jobs/{name}; unset: the endpoint is off
    max_body_bytes: Annotated[int, Field(gt=0, le=64 * 1024 * 1024)] = 1024 * 1024  # larger: 413, never read


class PolicySection(_Section):
    """Who keeps the shop: `baseline`, `scripted:FILE` or `llm`. Roll back by setting `baseline`."""

    name: str = "baseline"
    guardrails: str = ""  # guardrail policy file; empty: the built-in defaults
    catalogue: str = ""  # products CSV (sku, name, category, ...); empty: the built-in catalogue
    # "open": suppliers the shop has not dealt with are vetted (bridge/policies/trust.py); "trusted": the
    # directory's suppliers are known ones (as a simulated scenario's trusted market)
    market: Literal["open", "trusted"] = "open"

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in ("baseline", "llm") and not (v.startswith("scripted:") and len(v) > len("scripted:")):
            raise ValueError(f"unknown policy {v!r} (baseline, llm or scripted:FILE)")
        return v


class SchedulerSection(_Section):
    """The jobs of scheduler/jobs.py on APScheduler, in the shop's time zone ([bridge] tz)."""

    enabled: bool = True
    open_hour: Annotated[int, Field(ge=0, le=23)] = 8
    close_hour: Annotated[int, Field(ge=0, le=23)] = 23
    close_minute: Annotated[int, Field(ge=0, le=59)] = 55


class SlackSection(_Section):
    mode: Literal["http", "socket"] = "http"  # http: POST /slack/events; socket: Socket Mode (no public address)
    ops_channel: str  # channel id for tasks, approvals, relays and the daily report
    shop_channel: str  # channel id where customers mention the shopkeeper
    ops_usergroup: str  # user group id whose members may confirm tasks and approve
    bot_token_env: str = "SLACK_BOT_TOKEN"
    signing_secret_env: str = "SLACK_SIGNING_SECRET"
    app_token_env: str = "SLACK_APP_TOKEN"  # Socket Mode only
    base_url: str = ""  # empty: $SLACK_API_URL, else https://slack.com/api/
    daily_report: bool = True  # post the day's figures and chart at the close
    customers: bool = True  # customers talk to the shopkeeper here (the special-order and hand-over tools)
    # ops' promise for a task (restock, cash collection, hand-over): done within this many minutes;
    # a task's receipt says when it is due, as the simulated staff's delay does
    task_due_minutes: Annotated[int, Field(gt=0, le=7 * 24 * 60)] = 240
    # suppliers ops buy from for the shopkeeper (purchase tasks in the ops channel); each a table:
    # supplier, name, contact, lead_time_days, skus, min_order_cents
    suppliers: list[dict[str, Any]] = Field(default_factory=list)
    # when the shopkeeper is told to expect things (bridge/due.py): a purchase's goods on their day at
    # delivery_hour (local); ops' promise for a restock and a cash collection, in minutes (0: no due time)
    delivery_hour: Annotated[int, Field(ge=0, le=23)] = 10
    restock_due_minutes: Annotated[int, Field(ge=0, le=10_080)] = 0
    collect_due_minutes: Annotated[int, Field(ge=0, le=10_080)] = 0


class StripeSection(_Section):
    """Stripe payments (hardware_adapters/stripe); secrets are named here, read from the environment."""

    api_key_env: str = "STRIPE_API_KEY"
    webhook_secret_env: str = "STRIPE_WEBHOOK_SECRET"
    base_url: str = ""  # empty: $STRIPE_API_URL, else Stripe's own
    currency: Annotated[str, Field(pattern=r"^[a-z]{3}$")] = "usd"
    success_url: str = "https://vendbridge.invalid/paid"  # where Checkout sends a customer who paid
    max_network_retries: Annotated[int, Field(ge=0, le=10)] = 2
    webhook_tolerance_s: Annotated[int, Field(gt=0, le=3600)] = 300  # older signatures are refused
    fridge_hold_cents: Annotated[int, Field(gt=0)] = 2000  # held on the card when the fridge door unlocks
    reconcile_hour: Annotated[int, Field(ge=0, le=23)] = 6  # the daily reconciliation of yesterday

    def api_url(self) -> str:
        return self.base_url or os.environ.get("STRIPE_API_URL", "")

    def api_key(self) -> str:
        return _secret("stripe", self.api_key_env)

    def webhook_secret(self) -> str:
        return _secret("stripe", self.webhook_secret_env)


class LlmPriceSection(_Section):
    """A model's price in US dollars per million tokens (`[llm.price]`): needed for a model Anthropic's
    price table does not know; a model on a local server (base_url on localhost) costs 0 without it."""

    input: Annotated[float, Field(ge=0)]
    output: Annotated[float, Field(ge=0)]
    cache_write: Annotated[float, Field(ge=0)] = 0.0
    cache_read: Annotated[float, Field(ge=0)] = 0.0


class SiteSection(_Section):
    """Where the machines stand: the site's fixed running costs in cents a day (rent, a machine's lease,
    ...), booked by the daily close as the simulator books its scenario's daily fee (fees / bank, or a
    missed fee when the bank cannot pay them all)."""

    daily_costs_cents: dict[Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,40}$")],
                            Annotated[int, Field(ge=0, le=10_000_000, strict=True)]] = Field(default_factory=dict)

    def running_costs(self) -> tuple[tuple[str, int], ...]:
        return tuple(self.daily_costs_cents.items())


class LlmSection(_Section):
    """The LLM shopkeeper (`[policy] name = "llm"`): model, endpoint and limits. The API key is never in
    the file: it is read from ANTHROPIC_API_KEY."""

    model: str = "claude-sonnet-4-6"
    base_url: str = ""  # empty: $ANTHROPIC_BASE_URL, else Anthropic's own
    max_tokens: Annotated[int, Field(gt=0, le=64_000)] = 4_096  # per reply
    context_budget_tokens: Annotated[int, Field(gt=1_000)] = 30_000
    max_messages: Annotated[int, Field(gt=0)] = 2_000  # assistant messages per process run
    max_turns_per_session: Annotated[int, Field(gt=0, le=1_000)] = 40
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 120.0
    max_retries: Annotated[int, Field(ge=0, le=10)] = 4
    max_result_chars: Annotated[int, Field(gt=0)] = 6_000
    transcript_dir: str = ""  # a folder for the transcript (vend transcript); empty: none
    parallel_tool_calls: bool = True  # false: one tool call per reply (tool_choice.disable_parallel_tool_use)
    price: LlmPriceSection | None = None

    def settings(self) -> Any:
        from bridge.llm.settings import LlmSettings, Price

        price = Price(**self.price.model_dump()) if self.price is not None else None
        settings = LlmSettings(**self.model_dump(exclude={"transcript_dir", "parallel_tool_calls", "price"}),
                               price_override=price)
        settings.price()  # a model without a known or configured price is refused here, in one line
        return settings


def _secret(section: str, env: str) -> str:
    value = os.environ.get(env, "")
    if not value:
        raise ConfigError(f"{section}: set the secret in the environment variable {env}")
    return value


class LiveConfig(_Section):
    bridge: BridgeSection = Field(default_factory=BridgeSection)
    http: HttpSection = Field(default_factory=HttpSection)
    policy: PolicySection = Field(default_factory=PolicySection)
    scheduler: SchedulerSection = Field(default_factory=SchedulerSection)
    site: SiteSection = Field(default_factory=SiteSection)
    mqtt: MqttSection | None = None
    machines: list[MachineSection] = Field(default_factory=list)
    slack: SlackSection | None = None
    stripe: StripeSection | None = None
    llm: LlmSection | None = None  # absent: the defaults, when the policy is "llm"
    source: Path | None = Field(default=None, exclude=True)  # the file it was loaded from

    def path(self, value: str) -> Path:
        """A path from the file, relative to the file's folder."""
        p = Path(value)
        return p if p.is_absolute() or self.source is None else self.source.parent / p

    def db_url(self) -> str:
        return os.environ.get(self.bridge.db_env, "") or self.bridge.db

    def secret_env_names(self) -> list[str]:
        """Every environment variable the config reads a secret from (the logs redact their values)."""
        names = [self.bridge.db_env, self.http.admin_token_env]
        if self.mqtt is not None:
            names.append(self.mqtt.password_env)
        if self.slack is not None:
            names += [self.slack.bot_token_env, self.slack.signing_secret_env, self.slack.app_token_env]
        if self.stripe is not None:
            names += [self.stripe.api_key_env, self.stripe.webhook_secret_env]
        return [*names, "ANTHROPIC_API_KEY"]

    @model_validator(mode="after")
    def _machines_need_a_broker(self) -> LiveConfig:
        ids = [m.id for m in self.machines]
        if len(set(ids)) != len(ids):
            raise ValueError("machine ids must be unique")
        if "bridge" in ids:
            raise ValueError("'bridge' is the bridge's own broker user, not a machine id")
        if self.machines and self.mqtt is None:
            raise ValueError("machines need an [mqtt] section")
        fridges = sorted(m.id for m in self.machines if m.fridge)
        if fridges and self.stripe is None:
            raise ValueError(f"fridges ({', '.join(fridges)}) take cards: they need a [stripe] section")
        return self

    @classmethod
    def load(cls, path: str | Path) -> LiveConfig:
        try:
            raw = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from None
        try:
            return cls.model_validate(raw).model_copy(update={"source": Path(path).resolve()})
        except ValidationError as err:
            raise invalid(str(path), err) from None
