"""One contract for the Approvals port, run over the simulator's SimApprovals (the scenario's seeded ops
persona) and the live SlackApprovals (the fake Slack workspace; a member of the ops group presses
Approve or Reject through signed requests): what a policy can observe is the same.

Each harness asks for an approval that its approver will grant or refuse (sim: a request inside or
outside the scenario's rule; live: the ops member's choice), lets the approver answer (sim: time
passes; live: the click), and yields the ApprovalDecided events the backend delivers, once each.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import pytest

from bridge import events as ev
from bridge.domain import Quote, QuoteLine
from bridge.errors import ToolError
from bridge.ports import Approvals
from sim_backend.backend import sim_backend
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.scenario import load_scenario
from tests.slack.rig import OLGA, Rig, make_rig


class Harness(Protocol):
    approvals: Approvals

    def ask(self, *, grant: bool, amount: int) -> tuple[str, str]:
        """Ask for an approval the approver will grant (or refuse); returns (approval_id, subject)."""
        ...

    def ask_paying_the_approver(self) -> str:
        """Ask for an approval the approver would grant, but whose beneficiary is the approver."""
        ...

    def answer(self) -> None:
        """The approver answers what is open."""
        ...

    def decisions(self) -> list[ev.ApprovalDecided]: ...


class SimHarness:
    def __init__(self) -> None:
        self.world = SimWorld(scenario=load_scenario("vb1", days=30), catalogue=load_catalogue(None), seed=5)
        self.world.bank = 500_000
        self.approvals: Approvals = sim_backend(self.world).approvals
        self.world.advance_to(self.world.at(0, 9))
        self.world.drain()
        self.quotes = 0

    def ask(self, *, grant: bool, amount: int, beneficiary: str = "") -> tuple[str, str]:
        """An order the rule approves (a quote in the books, within the limit) or refuses (above it)."""
        rule = self.world.scenario.approver
        cost = amount if grant else rule.order_up_to_cents + amount
        assert not grant or cost <= rule.order_up_to_cents
        self.quotes += 1
        quote_id = f"q-{self.quotes}"
        self.world.suppliers.quotes[quote_id] = Quote(
            quote_id=quote_id, supplier="pacific-bev", lead_time_days=2, valid_until=self.world.now + timedelta(days=7),
            lines=(QuoteLine(sku="coke-12oz", quantity=1, unit_cost_cents=cost),))
        subject = f"order:{quote_id}"
        return self.approvals.request_approval(subject=subject, amount_cents=cost, summary="stock up",
                                               beneficiary=beneficiary), subject

    def ask_paying_the_approver(self) -> str:
        return self.ask(grant=True, amount=2_000, beneficiary=self.world.scenario.approver.user)[0]

    def answer(self) -> None:
        self.world.advance_to(self.world.now + timedelta(days=3))

    def decisions(self) -> list[ev.ApprovalDecided]:
        return [e for e in self.world.drain() if isinstance(e, ev.ApprovalDecided)]


class SlackHarness:
    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.approvals: Approvals = rig.slack.approvals
        self.open: list[tuple[str, str, bool]] = []  # approval id, its message's ts, grant

    def ask(self, *, grant: bool, amount: int) -> tuple[str, str]:
        subject = f"order:q-{len(self.open) + 1}"
        approval_id = self.approvals.request_approval(subject=subject, amount_cents=amount, summary="stock up")
        self.open.append((approval_id, self.rig.ops_messages()[-1]["ts"], grant))
        return approval_id, subject

    def ask_paying_the_approver(self) -> str:
        approval_id = self.approvals.request_approval(subject="refund:pi_1", amount_cents=2_000, summary="refund",
                                                      beneficiary=OLGA)
        self.open.append((approval_id, self.rig.ops_messages()[-1]["ts"], True))
        return approval_id

    def answer(self) -> None:
        for approval_id, ts, grant in self.open:
            resp = self.rig.click(OLGA, "approval_approve" if grant else "approval_reject", approval_id,
                                  message_ts=ts)
            assert resp.status == 200
        self.open.clear()

    def decisions(self) -> list[ev.ApprovalDecided]:
        return [e for e in self.rig.ingest() if isinstance(e, ev.ApprovalDecided)]


@pytest.fixture(params=["sim", "slack"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "sim":
        yield SimHarness()
        return
    with make_rig(tmp_path) as rig:
        yield SlackHarness(rig)
        assert rig.fake.violations == []


def test_a_request_returns_its_own_id_and_nothing_is_decided_until_the_approver_answers(harness: Harness) -> None:
    first, _ = harness.ask(grant=True, amount=10_000)
    second, _ = harness.ask(grant=True, amount=10_000)
    assert isinstance(first, str) and first and second and first != second
    assert harness.decisions() == []


def test_a_granted_request_is_decided_once_for_what_was_asked(harness: Harness) -> None:
    approval_id, subject = harness.ask(grant=True, amount=12_000)
    harness.answer()
    got = harness.decisions()
    assert [(d.approval_id, d.subject, d.amount_cents, d.approved) for d in got] == [
        (approval_id, subject, 12_000, True)]
    assert got[0].approver and got[0].shop == "main"
    harness.answer()
    assert harness.decisions() == []  # decided is decided


def test_a_refused_request_says_who_refused_it(harness: Harness) -> None:
    approval_id, subject = harness.ask(grant=False, amount=5_000)
    harness.answer()
    got = harness.decisions()
    assert [(d.approval_id, d.subject, d.approved) for d in got] == [(approval_id, subject, False)]
    assert got[0].approver and got[0].detail


def test_each_decision_answers_its_own_request(harness: Harness) -> None:
    yes, yes_subject = harness.ask(grant=True, amount=3_000)
    no, no_subject = harness.ask(grant=False, amount=3_000)
    harness.answer()
    got = {d.approval_id: (d.subject, d.approved) for d in harness.decisions()}
    assert got == {yes: (yes_subject, True), no: (no_subject, False)}


def test_the_beneficiary_of_a_request_never_approves_it(harness: Harness) -> None:
    approval_id = harness.ask_paying_the_approver()
    harness.answer()
    assert not [d for d in harness.decisions() if d.approval_id == approval_id and d.approved]


@pytest.mark.parametrize("amount", [0, -500])
def test_an_amount_that_is_not_positive_is_refused(harness: Harness, amount: int) -> None:
    with pytest.raises(ToolError):
        harness.approvals.request_approval(subject="order:q-1", amount_cents=amount, summary="stock up")
    harness.answer()
    assert harness.decisions() == []
