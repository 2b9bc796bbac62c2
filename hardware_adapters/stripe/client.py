"""The Stripe SDK client and the one place Stripe's errors become project errors.

Declines, bad requests and reused idempotency keys are the agent's to handle (ToolError); network
failures, rate limits, Stripe's 5xx and a refused API key are outages (AdapterError). The SDK retries
transient failures itself, resending the same `Idempotency-Key`, so a retry never executes twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import stripe

from bridge.errors import AdapterError, ConfigError, ToolError

T = TypeVar("T")
API_KEY_ENV = "STRIPE_API_KEY"
WEBHOOK_SECRET_ENV = "STRIPE_WEBHOOK_SECRET"


def secret_from_env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(f"stripe: set the secret in the environment variable {name}")
    return value


def stripe_client(*, api_key: str | None = None, api_base: str | None = None,
                  max_network_retries: int = 2) -> stripe.StripeClient:
    """A StripeClient with the key from STRIPE_API_KEY (unless given); `api_base` points it elsewhere
    (a loopback fake in tests)."""
    key = api_key if api_key is not None else secret_from_env(API_KEY_ENV)
    if api_base:
        return stripe.StripeClient(api_key=key, base_addresses={"api": api_base},
                                   max_network_retries=max_network_retries)
    return stripe.StripeClient(api_key=key, max_network_retries=max_network_retries)


def _message(err: stripe.StripeError) -> str:
    return (err.user_message or str(err._message or err) or type(err).__name__).strip()


@contextmanager
def vendor_errors(what: str) -> Iterator[None]:
    """Run a Stripe call; its errors come out as ToolError or AdapterError saying what failed."""
    try:
        yield
    except stripe.CardError as err:
        raise ToolError(f"{what}: card declined ({err.code or 'declined'}): {_message(err)}") from None
    except stripe.IdempotencyError:
        raise ToolError(f"{what}: this reference was already used for a different request") from None
    except stripe.InvalidRequestError as err:
        if err.http_status is not None and err.http_status >= 500:
            raise AdapterError(f"{what}: Stripe failed ({err.http_status})") from None
        raise ToolError(f"{what}: {_message(err)}") from None
    except (stripe.AuthenticationError, stripe.PermissionError) as err:
        raise AdapterError(f"{what}: Stripe refused the API key ({err.http_status})") from None
    except stripe.RateLimitError:
        raise AdapterError(f"{what}: Stripe rate limit; try again later") from None
    except stripe.APIConnectionError:
        raise AdapterError(f"{what}: Stripe unreachable") from None
    except stripe.StripeError as err:  # APIError (5xx) and anything newer
        raise AdapterError(f"{what}: Stripe error {err.http_status}: {_message(err)}") from None


def call(what: str, fn: Callable[[], T]) -> T:
    with vendor_errors(what):
        return fn()
