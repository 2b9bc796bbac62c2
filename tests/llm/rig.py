"""A small shop for the policy tests: the vb1 simulator behind the ports, the shop's tools, the
customer-service tools and the memory tools in one Toolbox under the real guardrails, and the
LLM policy on the real SDK pointed at the fake Messages API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.guardrails import GuardrailPolicy, Guardrails
from bridge.ledger import Ledger
from bridge.llm.adapter import AnthropicLLM
from bridge.llm.memory import MemoryStore, MemoryTools
from bridge.llm.policy import LlmPolicy
from bridge.llm.settings import LlmSettings
from bridge.llm.transcript import Transcript
from bridge.ports import LLM
from bridge.store import Store
from bridge.tools.executor import Toolbox
from bridge.tools.service import ServiceTools
from bridge.tools.shop import ShopTools
from sim_backend.backend import sim_backend
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.scenario import load_scenario

MODEL = "claude-sonnet-4-6"


@dataclass
class Shop:
    world: SimWorld
    store: Store
    ledger: Ledger
    tools: ShopTools
    toolbox: Toolbox
    policy: LlmPolicy

    def ingest(self) -> None:
        for event in self.world.drain():
            if self.ledger.record(event):
                self.tools.observe(event)


def make_shop(tmp_path: Path, *, base_url: str = "", llm: LLM | None = None, guard: GuardrailPolicy | None = None,
              settings: LlmSettings | None = None, seed: int = 1, service: bool = True) -> Shop:
    scenario = load_scenario("vb1", days=30)
    catalogue = load_catalogue(None)
    world = SimWorld(scenario=scenario, catalogue=catalogue, seed=seed)
    backend = sim_backend(world)
    store = Store(url=f"sqlite:///{tmp_path / 'shop.db'}", fresh=True)
    ledger = Ledger(shop=world.shop, store=store, tz=scenario.tz)
    tools = ShopTools(backend=backend, ledger=ledger, products={k: v.product for k, v in catalogue.items()},
                      tz=scenario.tz)
    guard = guard or GuardrailPolicy()
    groups: list[Any] = [tools, MemoryTools(memory=MemoryStore(engine=store.engine, shop=world.shop),
                                            now=lambda: world.now)]
    if service:
        groups.append(ServiceTools(shop=tools))
    toolbox = Toolbox(tools=groups, context=tools, guardrails=Guardrails(guard), clock=backend.clock, store=store,
                      shop=world.shop, run_id="test")
    settings = settings or LlmSettings(model=MODEL, base_url=base_url, max_retries=3, timeout_s=10)
    if llm is None:
        llm = AnthropicLLM(settings=settings, api_key="sk-test")
    policy = LlmPolicy(llm=llm, settings=settings, guard=guard, shop=world.shop, books=ledger,
                       transcript=Transcript(tmp_path / "transcript.jsonl"))
    shop = Shop(world=world, store=store, ledger=ledger, tools=tools, toolbox=toolbox, policy=policy)
    toolbox.after_call = shop.ingest
    return shop
