"""The ONE policy factory: every policy (baseline, oracle, llm, scripted) for every entry point (sim,
arena, gate, hil, live) is built here, from the same inputs. What differs between the worlds is data
(is the supplier market open, do customers ask the shop for things, the simulator's hidden truth for
the oracle), never a branch on "live"."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError
from bridge.guardrails import GuardrailPolicy
from bridge.policies.base import Policy
from bridge.store import Store

POLICIES = ("baseline", "oracle", "llm", "scripted:FILE")


def check_policy_name(name: str) -> None:
    """Refuse an unknown policy before anything is opened (a one-line ConfigError)."""
    if name in ("baseline", "oracle", "llm") or (name.startswith("scripted:") and len(name) > len("scripted:")):
        return
    raise ConfigError(f"unknown policy {name!r} (choose from {', '.join(POLICIES)})")


def check_script_file(name: str) -> None:
    """A `scripted:FILE` policy named on the command line (a path from the working folder): the file is
    there. (A live config's script path is read from the config's folder: not checked here.)"""
    if name.startswith("scripted:"):
        path = Path(name[len("scripted:"):])
        if not path.is_file():
            raise ConfigError(f"script file {path}: {'a folder' if path.is_dir() else 'No such file or directory'}")


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmInputs:
    """What the LLM shopkeeper is built with: its settings, the shop's books and clock, where its
    transcript goes, what its tokens are billed to (Vending-Bench 2 bills output tokens to the shop),
    and the model client (None: the Anthropic adapter with the key from the environment)."""

    settings: Any  # bridge.llm.settings.LlmSettings
    shop: str
    store: Store
    books: Any  # bridge.ledger.Ledger
    now: Callable[[], Any]
    run_dir: Path | None = None
    charge: Callable[[int, str], int] | None = None
    max_messages: int | None = None
    client: Any = None  # bridge.ports.LLM
    rules: Any = None  # bridge.llm.rules.LlmRules: the scenario's (sim) or the live config's; None: defaults


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyInputs:
    """The world as the policy factory sees it, the same fields in sim and live."""

    guard: GuardrailPolicy
    open_market: bool = True  # suppliers may cheat or bait: the baseline vets them (SupplierTrust)
    customers: bool = True  # customers write to the shop (special orders, refunds): the baseline's desk
    truth: Mapping[str, Any] | None = None  # the simulator's catalogue with its hidden demand: the oracle only
    # the simulator's truth about suppliers: the ids that ship what they are paid for (the oracle only;
    # None: all of them, as in a market with no scam or bait-and-switch suppliers)
    honest_suppliers: frozenset[str] | None = None
    resolve: Callable[[str], Path] = Path  # a script's path as written (relative to a config file, say)
    llm: LlmInputs | None = None


@dataclass(slots=True)
class BuiltPolicy:
    policy: Policy
    tool_groups: list[object]  # tool groups the policy brings with it (the LLM's memory)
    llm: Any = None  # bridge.llm.wiring.LlmParts for the llm policy


def build_policy(name: str, inputs: PolicyInputs) -> BuiltPolicy:
    check_policy_name(name)
    guard = inputs.guard
    floor, ceiling, markup = guard.price_floor_markup, guard.price_ceiling_cents, guard.price_ceiling_markup
    if name == "baseline":
        from bridge.policies.baseline import BaselinePolicy
        from bridge.policies.desk import CustomerDesk
        from bridge.policies.trust import SupplierTrust

        trust = SupplierTrust() if inputs.open_market else None
        desk = CustomerDesk(guard=guard) if inputs.customers else None
        return BuiltPolicy(policy=BaselinePolicy(floor_markup=floor, ceiling_cents=ceiling, ceiling_markup=markup,
                                                 trust=trust, desk=desk), tool_groups=[])
    if name == "oracle":
        if inputs.truth is None:
            raise ConfigError("the oracle reads the simulator's hidden demand: it runs in simulation only")
        from bridge.policies.trust import SupplierTrust
        from sim_backend.oracle import OraclePolicy

        # knowing the honest suppliers, it still haggles with a negotiator and drops one that bounces
        trust = SupplierTrust() if inputs.open_market and inputs.honest_suppliers is not None else None
        return BuiltPolicy(policy=OraclePolicy(catalogue=inputs.truth, floor_markup=floor, ceiling_cents=ceiling,
                                               ceiling_markup=markup, honest=inputs.honest_suppliers, trust=trust),
                           tool_groups=[])
    if name.startswith("scripted:"):
        from bridge.policies.scripted import ScriptedPolicy

        return BuiltPolicy(policy=ScriptedPolicy.from_file(inputs.resolve(name.removeprefix("scripted:"))),
                           tool_groups=[])
    # llm
    llm = inputs.llm
    if llm is None:
        raise ConfigError("the llm policy is built with the shop's store, books and clock")
    from bridge.llm.wiring import build_llm

    parts = build_llm(settings=llm.settings, guard=guard, shop=llm.shop, store=llm.store, books=llm.books,
                      now=llm.now, run_dir=llm.run_dir, charge=llm.charge, max_messages=llm.max_messages,
                      llm=llm.client, rules=llm.rules)
    return BuiltPolicy(policy=parts.policy, tool_groups=list(parts.tool_groups), llm=parts)
