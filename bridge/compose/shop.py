"""The ONE shop assembly: for any backend (the simulator, an arena seat, the live adapters), the same
books, tool groups, toolbox, guardrails, policy and runtime, built in the same order by this module.
The entry points (`sim.py`, `arena.py`, `live.py`) decide only what differs: the backend, the store's
URL, the schedule and the limits.

    store, ledger = open_books(url=..., shop=..., tz=..., run_info={...})
    shop = assemble_shop(backend=backend, store=store, ledger=ledger, spec=ShopSpec(...))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from bridge import events as ev
from bridge.compose.policies import BuiltPolicy, PolicyInputs, build_policy
from bridge.domain import Product
from bridge.guardrails import Guardrails
from bridge.ledger import Ledger
from bridge.policies.base import Policy
from bridge.ports import Backend
from bridge.runtime import DayRecord, RunLimits, Runtime, Schedule
from bridge.store import Store
from bridge.tools.briefing import BriefingTools
from bridge.tools.executor import Toolbox
from bridge.tools.shop import ShopTools
from bridge.tools.spec import collect_specs

if TYPE_CHECKING:
    from bridge.twin.shop import ShadowTwin


def open_books(*, url: str, shop: str, tz: tzinfo, run_info: Mapping[str, Any], fresh: bool = False,
               background: bool = False) -> tuple[Store, Ledger]:
    """The store and the ledger. `fresh`: a new store (a simulation); else the books so far are loaded
    (a live shop after a restart). The run is recorded in `run_info`."""
    store = Store(url=url, fresh=fresh, background=background)
    try:
        store.upsert("run_info", dict(run_info))
        ledger = Ledger(shop=shop, store=store, tz=tz) if fresh else Ledger.load(shop=shop, store=store, tz=tz)
    except BaseException:
        store.close()
        raise
    return store, ledger


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopSpec:
    """What differs between one shop and another, as data."""

    run_id: str
    tz: tzinfo
    products: Mapping[str, Product]
    policy: str  # baseline, oracle, llm, scripted:FILE
    policy_inputs: PolicyInputs
    customers: bool  # customers write to the shop: the special-order and hand-over tools
    service: bool | None = None  # payment links and refunds (card payments or customers); None: as `customers`
    schedule: Callable[[Policy], Schedule]  # given the policy (a simulation schedules only its wake-ups)
    limits: RunLimits
    shadow: bool = False  # WRITEs answered by a twin, recorded, never done
    guardrails: Callable[[Any], Guardrails] = Guardrails  # the rules' judge (the arena adds its own rules)
    extra_groups: Sequence[object] = ()  # tool groups of the setting (the arena's marketplace)
    running_costs: tuple[tuple[str, int], ...] = ()  # (name, cents a day) the close books (live: [site])
    on_event: Callable[[ev.Event], None] | None = None
    on_day: Callable[[DayRecord], None] | None = None
    flush_every_days: int = 1


@dataclass(slots=True)
class Shop:
    backend: Backend
    store: Store
    ledger: Ledger
    tools: ShopTools
    groups: tuple[object, ...]
    toolbox: Toolbox
    built: BuiltPolicy
    runtime: Runtime
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def policy(self) -> Policy:
        return self.built.policy


def tool_groups(tools: ShopTools, *, customers: bool, service: bool, bankruptcy_days: int = 10) -> list[object]:
    """The shop's own tool groups: the same on both sides for the same shop features. Every shop has
    the morning briefing and reminders."""
    groups: list[object] = [tools, BriefingTools(shop=tools, bankruptcy_days=bankruptcy_days)]
    if service:
        from bridge.tools.service import ServiceTools

        groups.append(ServiceTools(shop=tools))
    if customers:
        from bridge.tools.customers import CustomerTools

        groups.append(CustomerTools(shop=tools))
    return groups


def assemble_shop(*, backend: Backend, store: Store, ledger: Ledger, spec: ShopSpec) -> Shop:
    tools = ShopTools(backend=backend, ledger=ledger, products=spec.products, tz=spec.tz)
    service = spec.customers if spec.service is None else spec.service
    own = tool_groups(tools, customers=spec.customers, service=service, bankruptcy_days=spec.limits.bankruptcy_days)
    groups = own + list(spec.extra_groups)
    built = build_policy(spec.policy, spec.policy_inputs)
    groups += built.tool_groups
    briefing = next((g for g in own if isinstance(g, BriefingTools)), None)
    attach = getattr(built.policy, "attach_briefing", None)
    if briefing is not None and attach is not None:
        attach(briefing)  # the LLM's first message of the day is the briefing
    # reminders and memory touch nothing outside the shopkeeper: a shadow run keeps them
    exempt = [n for g in [*built.tool_groups, *([briefing] if briefing else [])] for n in collect_specs(g)]
    twin = _twin(backend=backend, ledger=ledger, tools=tools, spec=spec, service=service) if spec.shadow else None
    toolbox = Toolbox(tools=groups, context=twin.tools if twin else tools,
                      guardrails=spec.guardrails(spec.policy_inputs.guard), clock=backend.clock, store=store,
                      shop=backend.shop, run_id=spec.run_id, shadow=spec.shadow, shadow_exempt=exempt,
                      twin=twin.groups if twin else ())
    runtime = Runtime(backend=backend, ledger=ledger, store=store, tools=tools, toolbox=toolbox, policy=built.policy,
                      schedule=spec.schedule(built.policy), limits=spec.limits, on_event=spec.on_event,
                      on_day=spec.on_day, flush_every_days=spec.flush_every_days,
                      running_costs=spec.running_costs)
    if twin is not None:
        twin.follow(toolbox)  # the twin's suppliers answer after each call, as the runtime ingests events
    return Shop(backend=backend, store=store, ledger=ledger, tools=tools, groups=tuple(groups), toolbox=toolbox,
                built=built, runtime=runtime, extras={"twin": twin} if twin else {})


def _twin(*, backend: Backend, ledger: Ledger, tools: ShopTools, spec: ShopSpec, service: bool) -> ShadowTwin:
    """Shadow mode: the shop's own tool groups over twin ports and a twin of the books answer the WRITE
    calls (bridge/twin); the twin follows every event the shop's tools see."""
    from bridge.twin.shop import ShadowTwin

    return ShadowTwin(backend=backend, ledger=ledger, tools=tools, products=spec.products, tz=spec.tz,
                      tool_groups=lambda twin_tools: tool_groups(twin_tools, customers=spec.customers,
                                                                 service=service))
