"""Wires the optional parts of the world that a scenario switches on: accidents and chat customers.
`install` returns None for a scenario with neither (vb1), so they cost nothing there."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim_backend import accidents

if TYPE_CHECKING:
    from sim_backend.accidents import Accidents
    from sim_backend.customers import Customers
    from sim_backend.engine import SimWorld


@dataclass(slots=True)
class Extras:
    world: SimWorld
    accidents: Accidents | None = None
    customers: Customers | None = None

    def state(self) -> dict[str, Any]:
        """What the state hash covers beyond the core world: the extra seeded streams and truths."""
        out: dict[str, Any] = {"suppliers": {sid: _h(r) for sid, r in sorted(self.world.suppliers.rngs.items())}}
        if self.accidents is not None:
            out["accidents"] = [_h(self.accidents.rng), self.accidents.log]
        if self.customers is not None:
            out["customers"] = self.customers.state()
        return out


def _h(rng: Any) -> str:
    return hashlib.sha256(repr(rng.getstate()).encode()).hexdigest()[:16]


def install(world: SimWorld) -> Extras | None:
    sc = world.scenario
    if not sc.accidents.any and sc.customers is None and not world.suppliers.rngs:
        return None
    extras = Extras(world=world, accidents=accidents.install(world, sc.accidents))
    if sc.customers is not None:
        from sim_backend.customers import Customers

        extras.customers = Customers(world, sc.customers)
        extras.customers.install()
    return extras
