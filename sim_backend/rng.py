"""One run seed, split per component: the same seed gives every component the same stream."""

from __future__ import annotations

import hashlib
import math
import random


def child_seed(seed: int, name: str) -> int:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def rng_for(seed: int, name: str) -> random.Random:
    return random.Random(child_seed(seed, name))


def poisson(rng: random.Random, lam: float) -> int:
    """Poisson draw: Knuth's product method for small means, a rounded normal above 30."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit = math.exp(-lam)
    k, p = 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def binomial(rng: random.Random, n: int, p: float) -> int:
    draw = rng.random
    k = 0
    for _ in range(n):
        if draw() < p:
            k += 1
    return k
