"""Where purchases come from: a pluggable, seeded source of (slot, payment) choices."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Protocol


class PurchaseSource(Protocol):
    def __call__(self, in_stock: Sequence[str]) -> tuple[str, str] | None:
        """The next purchase as (slot, payment) among the in-stock slots, or None for no purchase."""
        ...


class RandomPurchases:
    """Uniform over in-stock slots; card with probability `card_share`. Same seed, same sequence."""

    def __init__(self, *, seed: int, card_share: float = 0.7) -> None:
        self._rng = random.Random(seed)
        self._card_share = card_share

    def __call__(self, in_stock: Sequence[str]) -> tuple[str, str] | None:
        if not in_stock:
            return None
        slot = self._rng.choice(sorted(in_stock))
        return slot, "card" if self._rng.random() < self._card_share else "cash"
