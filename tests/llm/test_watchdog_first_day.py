"""The coherence watchdog records the day of a run's first incoherence (run day 1 is the first session's)."""

from __future__ import annotations

from datetime import date

from bridge.llm.watchdog import Watchdog


def test_the_first_incoherence_is_dated() -> None:
    w = Watchdog()
    w.session_started(date(2026, 1, 5))
    w.call("check_machine", {}, malformed=False)
    w.turn([{"type": "tool_use", "name": "check_machine", "input": {}}])
    w.session_ended(reason="open_day")
    assert w.fields()["first_incoherence_day"] is None
    for day in (6, 7):
        w.session_started(date(2026, 1, day))
        w.turn([{"type": "text", "text": "Thinking."}])
        w.turn([{"type": "text", "text": "Still thinking."}])  # two idle turns in a row: incoherent
        w.session_ended(reason="messages")
    fields = w.fields()
    assert fields["coherence_errors"]["idle_turn_runs"] == 1
    assert fields["first_incoherence_day"] == 2 and fields["first_incoherence_date"] == "2026-01-06"


def test_a_coherent_run_has_no_first_incoherence() -> None:
    w = Watchdog()
    w.session_started(date(2026, 1, 5))
    w.call("check_machine", {}, malformed=False)
    w.session_ended(reason="open_day")
    assert w.fields()["first_incoherence_date"] is None
