"""DEX/UCS audits: CRC, hand-written sample, generate -> parse round trip, reconciliation."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware_adapters.dex import check_crc, crc16_arc, format_dex, parse_dex
from hardware_adapters.dex_reconcile import DexCounterReset, reconcile
from hardware_adapters.dex_records import (
    DexAudit,
    DexCrcError,
    DexError,
    DexEvent,
    SalesCounters,
    SelectionCounters,
)

SAMPLE = Path(__file__).parent / "data" / "sample_audit.dex"
NY = ZoneInfo("America/New_York")


def test_crc16_arc_catalogue_check_value() -> None:
    assert crc16_arc(b"123456789") == 0xBB3D  # CRC-16/ARC check value (reveng catalogue)


def test_hand_written_sample_parses() -> None:
    audit = parse_dex(SAMPLE.read_bytes().decode("ascii"), tz=NY)
    assert audit.communication_id == "VB00000042"
    assert audit.machine_serial == "FRIDGE-0042"
    assert (audit.model, audit.location, audit.asset_number) == ("VB-12", "Office 3F", "A-17")
    assert audit.paid == SalesCounters(
        value_cents=12450, count=61, value_since_reset_cents=1250, count_since_reset=6
    )
    assert audit.cash == SalesCounters(
        value_cents=4000, count=20, value_since_reset_cents=500, count_since_reset=2
    )
    assert audit.cashless is not None and audit.cashless.value_cents == 8450 and audit.cashless.count == 41
    assert audit.selection_vends == {"A1": 30, "A2": 20, "B1": 11, "B2": 0}
    assert audit.selection("B1") == SelectionCounters(
        selection="B1",
        price_cents=350,
        vends=11,
        value_cents=3950,
        vends_since_reset=1,
        value_since_reset_cents=350,
    )
    assert audit.selection("B2") is not None and audit.selection("B2").price_cents == 275  # type: ignore[union-attr]
    assert audit.events == (
        DexEvent(code="EGS", at=datetime(2025, 3, 1, 8, 15, tzinfo=NY)),
        DexEvent(code="EGS", count_since_reset=3, count=57, active=False),
        DexEvent(code="EJJ", count_since_reset=0, count=2, active=True),
    )
    # Totals agree with the per-selection counters in this sample.
    assert sum(s.vends for s in audit.selections) == audit.paid.count
    assert sum(s.value_cents for s in audit.selections) == audit.paid.value_cents


def test_crc_survives_stripped_carriage_returns_but_not_corruption() -> None:
    text = SAMPLE.read_bytes().decode("ascii")
    check_crc(text)
    check_crc(text.replace("\r\n", "\n"))
    for corrupt in (text.replace("PA2*30*4500", "PA2*31*4500"), text.replace("G85*7ADB", "G85*7ADC")):
        with pytest.raises(DexCrcError):
            check_crc(corrupt)
        with pytest.raises(DexCrcError):
            parse_dex(corrupt, tz=NY)
    # verify_crc=False reads a damaged file on purpose (forensics), with the damaged number.
    assert (
        parse_dex(text.replace("PA2*30*4500", "PA2*31*4500"), tz=NY, verify_crc=False).selection_vends["A1"]
        == 31
    )


def test_every_single_byte_corruption_of_the_checked_scope_is_detected() -> None:
    text = SAMPLE.read_bytes().decode("ascii")
    start, end = text.index("ST*"), text.index("G85*")
    rng = random.Random(7)
    for _ in range(200):
        i = rng.randrange(start, end)
        if text[i] in "\r\n":
            continue
        replacement = rng.choice([c for c in "0123456789*ABC" if c != text[i]])
        with pytest.raises(DexError):
            parse_dex(text[:i] + replacement + text[i + 1 :], tz=NY)


def test_framing_errors() -> None:
    text = SAMPLE.read_bytes().decode("ascii")
    with pytest.raises(DexError, match="SE counts"):
        body = text.replace("MA5*TEMP*4*C\r\n", "")
        parse_dex(body, tz=NY, verify_crc=False)
    with pytest.raises(DexError, match="DXS"):
        parse_dex(text.split("\r\n", 1)[1], tz=NY)


counters = st.integers(min_value=0, max_value=10**7)
selection_st = st.builds(
    SelectionCounters,
    selection=st.sampled_from(["A1", "A2", "A3", "B1", "B2", "C1", "D3", "010"]),
    price_cents=st.integers(min_value=0, max_value=99_999),
    vends=counters,
    value_cents=counters,
    vends_since_reset=counters,
    value_since_reset_cents=counters,
)
sales_st = st.builds(
    SalesCounters,
    value_cents=counters,
    count=counters,
    value_since_reset_cents=counters,
    count_since_reset=counters,
)
# hypothesis bounds are naive by its API; the values get UTC. EA1 years are YYMMDD: 2000-2068.
minute = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2068, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda d: d.replace(second=0, microsecond=0))
event_st = st.one_of(
    st.builds(DexEvent, code=st.sampled_from(["EGS", "EJJ", "EAR"]), at=minute),
    st.builds(
        DexEvent,
        code=st.sampled_from(["EGS", "EJJ"]),
        count_since_reset=counters,
        count=counters,
        active=st.booleans(),
    ),
)
ident = st.text(alphabet="ABCDEFGHJKMNPQRSTUVWXYZ0123456789-", min_size=1, max_size=16)


@given(
    audit=st.builds(
        DexAudit,
        communication_id=ident,
        machine_serial=ident,
        model=ident,
        location=st.sampled_from(["", "Office 3F", "Lobby"]),
        asset_number=st.sampled_from(["", "A-17"]),
        paid=sales_st,
        cash=st.none() | sales_st,
        cashless=st.none() | sales_st,
        selections=st.lists(selection_st, max_size=12, unique_by=lambda s: s.selection).map(tuple),
        events=st.lists(event_st, max_size=5).map(tuple),
    )
)
def test_generate_then_parse_round_trips(audit: DexAudit) -> None:
    text = format_dex(audit)
    assert text.startswith("DXS*") and text.endswith("DXE*1*1\r\n")
    check_crc(text)
    assert parse_dex(text, tz=UTC) == audit


def _audit(vends: dict[str, int], *, price: int = 150, cash_share: float = 0.5) -> DexAudit:
    total = sum(vends.values())
    value = total * price
    cash_value = int(value * cash_share)
    return DexAudit(
        communication_id="VB1",
        machine_serial="M1",
        paid=SalesCounters(value_cents=value, count=total),
        cash=SalesCounters(value_cents=cash_value, count=0),
        cashless=SalesCounters(value_cents=value - cash_value, count=0),
        selections=tuple(
            SelectionCounters(selection=s, price_cents=price, vends=n, value_cents=n * price)
            for s, n in vends.items()
        ),
    )


def test_reconciliation_finds_planted_lost_events_and_phantoms() -> None:
    before = parse_dex(format_dex(_audit({"A1": 10, "A2": 5, "B1": 0})), tz=UTC)
    after = parse_dex(format_dex(_audit({"A1": 17, "A2": 9, "B1": 3, "C1": 2})), tz=UTC)
    # Machine counted A1 +7, A2 +4, B1 +3, C1 +2 (new selection). The ledger lost 2 A1 vends and all of C1,
    # and has one A2 vend too many plus a vend in a selection the machine does not have.
    ledger = {"A1": 5, "A2": 5, "B1": 3, "D9": 1}
    result = reconcile(before, after, ledger, ledger_value_cents=14 * 150)
    found = {(d.selection, d.audit_vends, d.ledger_vends, d.kind) for d in result.discrepancies}
    assert found == {
        ("A1", 7, 5, "lost_events"),
        ("A2", 4, 5, "phantom"),
        ("C1", 2, 0, "lost_events"),
        ("D9", 0, 1, "phantom"),
    }
    assert (result.audit_vends, result.audit_value_cents) == (16, 16 * 150)
    assert result.ledger_vends == 14
    assert result.value_difference_cents == 2 * 150
    assert result.audit_cash_value_cents == 1200 and result.audit_cashless_value_cents == 1200
    assert not result.clean


def test_reconciliation_of_matching_ledger_is_clean() -> None:
    before, after = _audit({"A1": 3}), _audit({"A1": 8})
    result = reconcile(before, after, {"A1": 5}, ledger_value_cents=750)
    assert result.clean and result.discrepancies == ()


def test_counter_reset_and_machine_mismatch_are_refused() -> None:
    with pytest.raises(DexCounterReset):
        reconcile(_audit({"A1": 9}), _audit({"A1": 2}), {})
    other = _audit({"A1": 9})
    with pytest.raises(DexError, match="different machines"):
        reconcile(_audit({"A1": 1}), DexAudit(**{**_fields(other), "machine_serial": "M2"}), {})


def _fields(audit: DexAudit) -> dict[str, object]:
    return {name: getattr(audit, name) for name in DexAudit.__slots__}  # type: ignore[attr-defined]
