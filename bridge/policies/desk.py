"""Customer handling for the heuristic baseline (placeholder until the chat customers land)."""

from __future__ import annotations

from typing import Any

from bridge.guardrails import GuardrailPolicy


class CustomerDesk:
    def __init__(self, *, guard: GuardrailPolicy) -> None:
        self.guard = guard

    def handle(self, call: Any, shop: Any) -> int:
        return 0
