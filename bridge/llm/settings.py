"""LLM settings: model, endpoint, limits and the price table. One frozen object, built at the
composition root; the API key is not here (it is read from ANTHROPIC_API_KEY by the adapter)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from bridge.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class Price:
    """US dollars per million tokens."""

    input: float
    cache_write: float
    cache_read: float
    output: float


# Anthropic's published prices (US dollars per million tokens; cache writes are the 5-minute ones).
# The longest model-name prefix that matches wins; a model the table does not know is refused unless
# its price is configured (`LlmSettings.price_override`); a model served from this machine (a base URL
# on localhost) costs nothing unless a price is configured.
PRICES: Mapping[str, Price] = MappingProxyType({
    "claude-opus-4-6": Price(input=5.0, cache_write=6.25, cache_read=0.50, output=25.0),
    "claude-opus-4-5": Price(input=5.0, cache_write=6.25, cache_read=0.50, output=25.0),
    "claude-opus-4-1": Price(input=15.0, cache_write=18.75, cache_read=1.50, output=75.0),
    "claude-opus-4": Price(input=15.0, cache_write=18.75, cache_read=1.50, output=75.0),
    "claude-sonnet-4-6": Price(input=3.0, cache_write=3.75, cache_read=0.30, output=15.0),
    "claude-sonnet-4-5": Price(input=3.0, cache_write=3.75, cache_read=0.30, output=15.0),
    "claude-sonnet-4": Price(input=3.0, cache_write=3.75, cache_read=0.30, output=15.0),
    "claude-3-7-sonnet": Price(input=3.0, cache_write=3.75, cache_read=0.30, output=15.0),
    "claude-haiku-4-5": Price(input=1.0, cache_write=1.25, cache_read=0.10, output=5.0),
    "claude-3-5-haiku": Price(input=0.80, cache_write=1.0, cache_read=0.08, output=4.0),
})
FREE = Price(input=0.0, cache_write=0.0, cache_read=0.0, output=0.0)
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")

# The fewest tokens a prefix must hold before a cache breakpoint caches it (Anthropic's prompt caching
# docs); shorter prefixes are processed uncached, so a breakpoint there is wasted.
MIN_CACHEABLE: Mapping[str, int] = MappingProxyType({
    "claude-opus-4-6": 4_096, "claude-opus-4-5": 4_096, "claude-haiku-4-5": 4_096,
    "claude-opus-4": 1_024, "claude-sonnet-4": 1_024, "claude-3-7-sonnet": 1_024, "claude-3-5-haiku": 2_048,
})


def is_local(base_url: str) -> bool:
    """A base URL on this machine (a local model server)."""
    from urllib.parse import urlsplit

    if not base_url:
        return False
    host = (urlsplit(base_url if "//" in base_url else f"//{base_url}").hostname or "").lower()
    return host in LOCAL_HOSTS


def _prefix(model: str, table: Mapping[str, object]) -> str:
    return max((k for k in table if model.startswith(k)), key=len, default="")


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmSettings:
    model: str = "claude-sonnet-4-6"
    base_url: str = ""  # empty: ANTHROPIC_BASE_URL, else the SDK's default endpoint
    max_tokens: int = 4_096  # per reply
    context_budget_tokens: int = 30_000  # system + tools + recent history
    max_messages: int = 2_000  # assistant messages per run; the run ends there
    max_turns_per_session: int = 40  # a session that never waits is cut here
    timeout_s: float = 120.0
    max_retries: int = 4  # the SDK's, with exponential backoff on 408/409/429/5xx/529
    max_consecutive_api_errors: int = 3  # requests failing in a row (after the retries) end the run
    max_result_chars: int = 6_000  # one tool result, as the model sees it
    charge_output_tokens: bool = False  # Vending-Bench 2: output tokens billed to the shop weekly
    output_token_cents_per_million: int = 10_000  # $100 per million
    prices: Mapping[str, Price] = field(default_factory=lambda: PRICES)
    price_override: Price | None = None  # this model's price, configured (a model the table does not know)

    def price(self, *, base_url: str = "") -> Price:
        """The model's price: configured, else free on a local server, else from the table; a model the
        table does not know is refused (a one-line ConfigError)."""
        if self.price_override is not None:
            return self.price_override
        if is_local(base_url or self.base_url):
            return FREE
        best = _prefix(self.model, self.prices)
        if not best:
            raise ConfigError(f"no price known for model {self.model!r}: configure its price per million tokens "
                              f"(input, output, cache_write, cache_read), or use one of {', '.join(self.prices)}")
        return self.prices[best]

    def min_cacheable_tokens(self) -> int:
        """The fewest tokens a cached prefix needs for this model (1,024 when the table does not know it)."""
        best = _prefix(self.model, MIN_CACHEABLE)
        return MIN_CACHEABLE[best] if best else 1_024
