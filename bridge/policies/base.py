"""What a policy is: something that acts through the tools when woken, for a reason."""

from __future__ import annotations

from typing import Protocol

from bridge.tools.executor import Toolbox


class Policy(Protocol):
    name: str

    def act(self, tools: Toolbox, *, reason: str) -> int:
        """Work until done or until `wait_for_next_day`; returns the agent messages it used
        (an LLM's assistant turns; one per session for a programmatic policy)."""
        ...
