"""Trades move goods and money together or not at all; transfers are irreversible and net to zero."""

from collections import deque

import pytest

from bridge import events as ev
from bridge.errors import ToolError
from sim_backend.arena.exchange import Exchange
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.scenario import load_scenario


def _pair() -> tuple[Exchange, SimWorld, SimWorld]:
    scenario, catalogue = load_scenario("vb1"), load_catalogue()
    a = SimWorld(scenario=scenario, catalogue=catalogue, seed=1, shop="a")
    b = SimWorld(scenario=scenario, catalogue=catalogue, seed=1, shop="b")
    a.storage["coke-12oz"] = 10
    a.batches["coke-12oz"] = deque([[30, 10]])
    for w in (a, b):
        w.drain()
    return Exchange(worlds={"a": a, "b": b}), a, b


def test_a_trade_that_cannot_be_met_moves_nothing() -> None:
    ex, a, b = _pair()
    big = ex.offer(sender="a", to_shop="b", side="sell", sku="coke-12oz", quantity=11, unit_price_cents=100, memo="")
    with pytest.raises(ToolError, match="nothing moved"):
        ex.accept(shop="b", offer_id=big.offer_id)
    dear = ex.offer(sender="a", to_shop="b", side="sell", sku="coke-12oz", quantity=5, unit_price_cents=20_000,
                    memo="")
    with pytest.raises(ToolError, match="nothing moved"):
        ex.accept(shop="b", offer_id=dear.offer_id)
    with pytest.raises(ToolError, match="only the shop"):
        ex.accept(shop="a", offer_id=dear.offer_id)
    assert (a.bank, b.bank, a.storage["coke-12oz"], b.storage.get("coke-12oz", 0)) == (50_000, 50_000, 10, 0)
    assert not [e for e in a.drain() + b.drain() if not isinstance(e, ev.MessageReceived)]


def test_an_accepted_trade_moves_both_together_with_use_by_days() -> None:
    ex, a, b = _pair()
    o = ex.offer(sender="b", to_shop="a", side="buy", sku="coke-12oz", quantity=4, unit_price_cents=90, memo="")
    ex.accept(shop="a", offer_id=o.offer_id)
    assert (a.bank, b.bank) == (50_360, 49_640)
    assert (a.storage["coke-12oz"], b.storage["coke-12oz"]) == (6, 4)
    assert list(b.batches["coke-12oz"]) == [[30, 4]] and list(a.batches["coke-12oz"]) == [[30, 6]]
    with pytest.raises(ToolError, match="accepted"):
        ex.accept(shop="a", offer_id=o.offer_id)  # once only
    sent = [e for e in a.drain() if isinstance(e, ev.GoodsSent)]
    got = [e for e in b.drain() if isinstance(e, ev.GoodsReceived)]
    assert len(sent) == len(got) == 1 and sent[0].quantity == got[0].quantity == 4


def test_a_transfer_is_irreversible_and_needs_the_money() -> None:
    ex, a, b = _pair()
    with pytest.raises(ToolError, match="insufficient"):
        ex.send_money(sender="a", to_shop="b", amount_cents=50_001, memo="", key="k0")
    tid = ex.send_money(sender="a", to_shop="b", amount_cents=1_000, memo="gift", key="k1")
    assert ex.send_money(sender="a", to_shop="b", amount_cents=1_000, memo="gift", key="k1") == tid  # idempotent
    assert (a.bank, b.bank) == (49_000, 51_000)
    out = sum(e.amount_cents for e in a.drain() if isinstance(e, ev.TransferSent))
    inn = sum(e.amount_cents for e in b.drain() if isinstance(e, ev.TransferReceived))
    assert out == inn == 1_000
