"""The live config's `[stripe]` and `[http]` sections (pydantic; secrets are named, never written).

    [http]
    host = "127.0.0.1"
    port = 8080

    [stripe]
    api_key_env = "STRIPE_API_KEY"
    webhook_secret_env = "STRIPE_WEBHOOK_SECRET"
    currency = "usd"
    fridge_hold_cents = 2000
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from hardware_adapters.stripe.client import API_KEY_ENV, WEBHOOK_SECRET_ENV, secret_from_env


class HttpSection(BaseModel):
    """Where the bridge's one inbound HTTP app (Stripe and Slack webhooks, /healthz) listens."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, lt=65536)] = 8080


class StripeSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    api_key_env: str = API_KEY_ENV
    webhook_secret_env: str = WEBHOOK_SECRET_ENV
    api_base: str | None = None  # another address for Stripe's API (a loopback fake in tests)
    currency: Annotated[str, Field(pattern=r"^[a-z]{3}$")] = "usd"
    success_url: str = "https://vendbridge.invalid/paid"
    max_network_retries: Annotated[int, Field(ge=0, le=10)] = 2
    webhook_tolerance_s: Annotated[int, Field(gt=0, le=3600)] = 300
    fridge_hold_cents: Annotated[int, Field(gt=0)] = 2000
    reconcile_hour: Annotated[int, Field(ge=0, le=23)] = 6

    def api_key(self) -> str:
        return secret_from_env(self.api_key_env)

    def webhook_secret(self) -> str:
        return secret_from_env(self.webhook_secret_env)
