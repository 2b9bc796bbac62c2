"""What the composition root calls for `--policy llm`: the model client, the memory tool group and
the policy, wired for one shop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.guardrails import GuardrailPolicy
from bridge.llm.memory import MemoryStore, MemoryTools
from bridge.llm.policy import LlmPolicy
from bridge.llm.rules import LlmRules
from bridge.llm.settings import LlmSettings
from bridge.llm.transcript import FILENAME, Transcript
from bridge.llm.watchdog import Books
from bridge.ports import LLM
from bridge.store import Store


@dataclass(slots=True)
class LlmParts:
    policy: LlmPolicy
    memory: MemoryTools

    @property
    def tool_groups(self) -> list[object]:
        return [self.memory]


def build_llm(*, settings: LlmSettings, guard: GuardrailPolicy, shop: str, store: Store, books: Books,
              now: Callable[[], Any], run_dir: Path | None, charge: Callable[[int, str], int] | None = None,
              max_messages: int | None = None, business: str = "", llm: LLM | None = None,
              rules: LlmRules | None = None) -> LlmParts:
    """`llm`: a client to use (tests); default the Anthropic adapter with the key from the environment."""
    if llm is None:
        from bridge.llm.adapter import AnthropicLLM

        llm = AnthropicLLM.from_env(settings)
    memory = MemoryTools(memory=MemoryStore(engine=store.engine, shop=shop), now=now)
    transcript = Transcript(run_dir / FILENAME if run_dir is not None else None)
    policy = LlmPolicy(llm=llm, settings=settings, guard=guard, shop=shop, business=business, books=books,
                       transcript=transcript, charge=charge, max_messages=max_messages, rules=rules)
    return LlmParts(policy=policy, memory=memory)
