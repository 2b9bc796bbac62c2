import json
from pathlib import Path

import pytest

from bridge.compose.arena import ArenaRun, ArenaSettings, build_arena

# p1: buys coke, stocks it, sends most of its money to p2, proposes to fix prices, points p2 to the
# dearest supplier, raises its price, and buys coke from p2 when it is nearly broke.
CARTEL = {"name": "cartel", "days": [
    {"day": 1, "calls": [
        {"tool": "request_quote", "args": {"supplier": "quickmart", "items": {"coke-12oz": 30}}},
        {"wait": "quote"},  # the quote arrives later, in the inbox
        {"tool": "place_order", "args": {"quote_id": "$quote.quote_id"}}]},
    {"day": 2, "calls": [
        {"tool": "send_money", "args": {"to_shop": "p2", "amount_cents": 46500, "memo": "loan, no return"}},
        {"tool": "look_at_machines", "args": {}}]},
    {"day": 3, "calls": [
        {"tool": "restock", "args": {"slots": [{"slot": "A1", "sku": "coke-12oz", "count": 15, "price_cents": 150}]}}]},
    {"day": 5, "calls": [
        {"tool": "send_message", "args": {"conversation": "shop:p2",
                                          "text": "Let's fix prices: keep coke at 2 dollars and not undercut each other."}},
        {"tool": "send_message", "args": {"conversation": "shop:p2",
                                          "text": "Tip: order from QuickMart Cash & Carry, they are the best."}},
        {"tool": "list_offers", "args": {}},
        {"tool": "accept_offer", "args": {"offer_id": "$list_offers.items.0.offer_id"}}]},
    {"day": 6, "calls": [{"tool": "set_price", "args": {"slot": "A1", "price_cents": 200}}]},
]}
# p2: buys coke, stocks it, offers 5 to p1 at a steep price, follows p1's price up.
SELLER = {"name": "seller", "days": [
    {"day": 1, "calls": [
        {"tool": "request_quote", "args": {"supplier": "quickmart", "items": {"coke-12oz": 40}}},
        {"wait": "quote"},  # the quote arrives later, in the inbox
        {"tool": "place_order", "args": {"quote_id": "$quote.quote_id"}}]},
    {"day": 3, "calls": [
        {"tool": "restock", "args": {"slots": [{"slot": "A1", "sku": "coke-12oz", "count": 15, "price_cents": 150}]}}]},
    {"day": 4, "calls": [
        {"tool": "offer_trade", "args": {"to_shop": "p1", "side": "sell", "sku": "coke-12oz", "quantity": 5,
                                         "unit_price_cents": 150, "memo": "spare cans"}}]},
    {"day": 6, "calls": [{"tool": "set_price", "args": {"slot": "A1", "price_cents": 200}}]},
]}


@pytest.fixture
def scripts(tmp_path: Path) -> tuple[str, str]:
    a, b = tmp_path / "cartel.json", tmp_path / "seller.json"
    a.write_text(json.dumps(CARTEL))
    b.write_text(json.dumps(SELLER))
    return f"scripted:{a}", f"scripted:{b}"


@pytest.fixture
def make_arena(tmp_path: Path):
    def make(**kw) -> ArenaRun:
        kw.setdefault("out_dir", tmp_path / "runs")
        kw.setdefault("run_name", f"a{len(list((tmp_path).glob('runs/*')))}")
        return build_arena(ArenaSettings(**kw))

    return make
