"""Argument types for the command lines (`vend` and `vend emulate-machine`): each refuses what is out of
range with argparse's own error (one line, exit 2). One place, so every command says it the same way."""

from __future__ import annotations

import argparse
import math


def whole(value: str, *, least: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if n < least:
        raise argparse.ArgumentTypeError(f"must be positive: {value}" if least == 1 else f"must be zero or more: {value}")
    return n


def positive(value: str) -> int:
    """A whole number of 1 or more."""
    return whole(value, least=1)


def zero_or_more(value: str) -> int:
    return whole(value, least=0)


def above_zero(value: str) -> float:
    """A finite number above zero."""
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not x > 0 or not math.isfinite(x):
        raise argparse.ArgumentTypeError(f"must be above zero: {value}")
    return x
