"""A 30-day Project Vend month with a scripted model on the fake Messages API, where the other side
answers: a customer persuades the shop over three turns, a supplier answers a question, ops answer
an approval, a customer pays a payment link."""

from __future__ import annotations

from pathlib import Path

from bridge import events as ev
from bridge.compose.sim import build_sim
from bridge.llm.settings import LlmSettings
from bridge.settings import SimSettings
from tests.fakes.anthropic_api import FakeAnthropic
from tests.llm.office_keeper import SUPPLIER, OfficeKeeper


def test_a_project_vend_month_where_counterparties_answer(fake: FakeAnthropic, tmp_path: Path) -> None:
    keeper = OfficeKeeper()
    fake.reset(responder=keeper)
    sim = build_sim(SimSettings(scenario="project_vend", days=30, seed=3, policy="llm", out_dir=tmp_path,
                                run_name="office", charts=False, events_log=True,
                                llm=LlmSettings(model="claude-sonnet-4-6", base_url=fake.url)))
    sim.run()
    summary = sim.summary()
    assert fake.violations == [] and summary["days_run"] == 30 and summary["crashes"] == []
    events = sim.events
    # the supplier answered the question, on its own conversation, and the shop read it
    answers = [e for e in events if isinstance(e, ev.MessageReceived) and e.role == "supplier"]
    assert [e.conversation for e in answers] == [SUPPLIER]
    assert any(i.get("conversation") == SUPPLIER for i in keeper.seen)
    # ops answered the approval request
    decided = [e for e in events if isinstance(e, ev.ApprovalDecided)]
    assert len(decided) == 1 and any("approval" in i for i in keeper.seen)
    # a customer refused twice pleaded a third time and accepted the discount
    talks = sim.world.extras.customers.talks
    assert keeper.conceded and 3 in talks.truth.persuaded_turns
    persuaded = [t for t in talks.talks.values() if t.status == "accepted" and t.kind == "discount_plea"]
    assert {t.conversation for t in persuaded} <= set(keeper.conceded) and persuaded
    # a payment link was paid by the customer who asked for the goods
    links = [args for name, args in keeper.done if name == "create_payment_link"]
    paid = [e for e in events if isinstance(e, ev.PaymentReceived)]
    assert links and paid and {p.customer for p in paid} <= {a["customer"] for a in links}
