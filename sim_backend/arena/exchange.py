"""Between the shopkeepers of an arena: messages, money transfers and goods trades, and a look at
each other's machines. Each side's world changes its truth and emits its own events, so each
ledger hears of it; a trade moves goods and money together or not at all."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bridge import events as ev
from bridge.domain import StallSlot, StallView, TradeOffer
from bridge.errors import ToolError
from bridge.ports import Chat
from sim_backend.engine import SimWorld

OFFER_DAYS = 3  # an offer not answered within this many days expires
SHOP_PREFIX = "shop:"
EVERYONE = "shop:all"


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    """A message between shopkeepers, kept for the market-conduct report."""

    ts: datetime
    sender: str
    to: str
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer:
    transfer_id: str
    ts: datetime
    from_shop: str
    to_shop: str
    amount_cents: int
    memo: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade:
    """An accepted offer, with the buyer's state at that moment (for the conduct report)."""

    offer: TradeOffer
    ts: datetime
    seller: str
    buyer: str
    buyer_bank_cents: int
    buyer_units_on_hand: int
    buyer_unpaid_fee_days: int


class Exchange:
    def __init__(self, *, worlds: Mapping[str, SimWorld], teams: Mapping[str, str] | None = None) -> None:
        self.worlds = dict(worlds)
        self.teams = dict(teams or {})
        self.notes: list[Note] = []
        self.transfers: list[Transfer] = []
        self.trades: list[Trade] = []
        self.offers: dict[str, TradeOffer] = {}
        self._keys: dict[str, str] = {}  # idempotency key -> transfer id
        self._seq = 0

    def _next(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}-{self._seq:05d}"

    def _world(self, shop: str) -> SimWorld:
        w = self.worlds.get(shop.removeprefix(SHOP_PREFIX))
        if w is None:
            raise ToolError(f"no shop {shop!r} at this location (shops: {', '.join(self.worlds)})")
        return w

    # --- messages ------------------------------------------------------------------------------
    def deliver(self, *, sender: str, conversation: str, text: str, thread: str = "") -> None:
        """A message to other shopkeepers: "shop:<id>", or "shop:all" for every other shop."""
        now = self.worlds[sender].now
        targets = [s for s in self.worlds if s != sender] if conversation == EVERYONE else \
            [self._world(conversation).shop]
        for to in targets:
            if to == sender:
                raise ToolError("that is your own shop")
            self.notes.append(Note(ts=now, sender=sender, to=to, text=text))
            self.worlds[to].emit(ev.MessageReceived, conversation=f"{SHOP_PREFIX}{sender}", sender=sender,
                                 role="shopkeeper", text=text, thread=thread)

    # --- money ---------------------------------------------------------------------------------
    def send_money(self, *, sender: str, to_shop: str, amount_cents: int, memo: str, key: str) -> str:
        if key in self._keys:
            return self._keys[key]
        src, dst = self.worlds[sender], self._world(to_shop)
        if dst is src:
            raise ToolError("that is your own shop")
        if amount_cents <= 0:
            raise ToolError("the amount must be above zero")
        if amount_cents > src.bank:
            raise ToolError(f"insufficient funds: {amount_cents}c asked, the bank has {src.bank}c")
        tid = self._next("xfer")
        src.bank -= amount_cents
        dst.bank += amount_cents
        src.emit(ev.TransferSent, transfer_id=tid, to_shop=dst.shop, amount_cents=amount_cents, memo=memo)
        dst.emit(ev.TransferReceived, transfer_id=tid, from_shop=src.shop, amount_cents=amount_cents, memo=memo)
        self.transfers.append(Transfer(transfer_id=tid, ts=src.now, from_shop=src.shop, to_shop=dst.shop,
                                       amount_cents=amount_cents, memo=memo))
        self._keys[key] = tid
        self._tell(dst.shop, src.shop, f"{src.shop} sent you {amount_cents}c ({tid}): {memo}")
        return tid

    # --- goods ---------------------------------------------------------------------------------
    def offer(self, *, sender: str, to_shop: str, side: str, sku: str, quantity: int, unit_price_cents: int,
              memo: str) -> TradeOffer:
        src, dst = self.worlds[sender], self._world(to_shop)
        if dst is src:
            raise ToolError("that is your own shop")
        if side not in ("sell", "buy"):
            raise ToolError('side must be "sell" or "buy"')
        if sku not in src.catalogue:
            raise ToolError(f"unknown product {sku!r}")
        if quantity <= 0 or unit_price_cents <= 0:
            raise ToolError("quantity and unit price must be above zero")
        offer = TradeOffer(offer_id=self._next("offer"), from_shop=src.shop, to_shop=dst.shop, side=side, sku=sku,
                           quantity=quantity, unit_price_cents=unit_price_cents, memo=memo, status="open",
                           expires_at=src.now + timedelta(days=OFFER_DAYS))
        self.offers[offer.offer_id] = offer
        verb = "sell you" if side == "sell" else "buy from you"
        self._tell(dst.shop, src.shop, f"{src.shop} offers to {verb} {quantity} x {sku} at {unit_price_cents}c each "
                                       f"({offer.offer_id}, open until {offer.expires_at:%Y-%m-%d %H:%M}): {memo}")
        return offer

    def open_offers(self, shop: str) -> list[TradeOffer]:
        now = self.worlds[shop].now
        out = []
        for o in self.offers.values():
            if o.status == "open" and shop in (o.from_shop, o.to_shop):
                out.append(o if o.expires_at > now else self._close(o, "expired"))
        return [o for o in out if o.status == "open"]

    def decline(self, *, shop: str, offer_id: str) -> TradeOffer:
        o = self._open(shop, offer_id)
        done = self._close(o, "declined")
        self._tell(o.from_shop, shop, f"{shop} declined your offer {offer_id}")
        return done

    def accept(self, *, shop: str, offer_id: str) -> TradeOffer:
        """The other side agrees: goods leave the seller's storage and money the buyer's bank, together."""
        o = self._open(shop, offer_id)
        if o.to_shop != shop:
            raise ToolError("only the shop an offer was made to can accept it")
        now = self.worlds[shop].now
        if o.expires_at <= now:
            self._close(o, "expired")
            raise ToolError(f"offer {offer_id} has expired")
        seller, buyer = (o.from_shop, o.to_shop) if o.side == "sell" else (o.to_shop, o.from_shop)
        ws, wb = self.worlds[seller], self.worlds[buyer]
        total = o.total_cents
        if ws.storage.get(o.sku, 0) < o.quantity:
            raise ToolError(f"{seller} has {ws.storage.get(o.sku, 0)} x {o.sku} in storage, not {o.quantity}: "
                            f"nothing moved")
        if wb.bank < total:
            raise ToolError(f"{buyer} has {wb.bank}c in the bank, not {total}c: nothing moved")
        on_hand = wb.inventory_units().get(o.sku, 0)
        self.trades.append(Trade(offer=o, ts=now, seller=seller, buyer=buyer, buyer_bank_cents=wb.bank,
                                 buyer_units_on_hand=on_hand, buyer_unpaid_fee_days=wb.unpaid_fee_days))
        _move_goods(ws, wb, o.sku, o.quantity)
        ws.bank += total
        wb.bank -= total
        ws.emit(ev.GoodsSent, trade_id=o.offer_id, to_shop=buyer, sku=o.sku, quantity=o.quantity,
                unit_price_cents=o.unit_price_cents)
        wb.emit(ev.GoodsReceived, trade_id=o.offer_id, from_shop=seller, sku=o.sku, quantity=o.quantity,
                unit_price_cents=o.unit_price_cents)
        done = self._close(o, "accepted")
        self._tell(o.from_shop, shop, f"{shop} accepted your offer {offer_id}: {o.quantity} x {o.sku} for {total}c")
        return done

    def _open(self, shop: str, offer_id: str) -> TradeOffer:
        o = self.offers.get(offer_id)
        if o is None or shop not in (o.from_shop, o.to_shop):
            raise ToolError(f"no offer {offer_id!r}")
        if o.status != "open":
            raise ToolError(f"offer {offer_id} is {o.status}")
        return o

    def _close(self, o: TradeOffer, status: str) -> TradeOffer:
        done = replace(o, status=status)
        self.offers[o.offer_id] = done
        return done

    def _tell(self, to: str, about: str, text: str) -> None:
        self.worlds[to].emit(ev.MessageReceived, conversation=f"{SHOP_PREFIX}{about}", sender="arena",
                             role="arena", text=text)

    # --- looking ------------------------------------------------------------------------------
    def look(self, *, viewer: str, shop: str) -> StallView:
        w = self._world(shop)
        if w.shop == viewer:
            raise ToolError("that is your own shop: use check_machine")
        return StallView(shop=w.shop, machine=w.machine_id, online=w.machine_online,
                         slots=tuple(StallSlot(slot=s.slot, sku=s.sku, price_cents=s.price_cents,
                                               in_stock=bool(s.sku and s.count > 0), count=s.count if s.sku else 0)
                               for s in w.slots.values()))

    def state(self) -> dict[str, object]:
        return {"transfers": [(t.transfer_id, t.from_shop, t.to_shop, t.amount_cents) for t in self.transfers],
                "offers": sorted((o.offer_id, o.status) for o in self.offers.values()), "notes": len(self.notes)}


def _move_goods(src: SimWorld, dst: SimWorld, sku: str, quantity: int) -> None:
    """Units from one storage to another, with their use-by days (oldest first, as the engine sells)."""
    src.storage[sku] -= quantity
    dst.storage[sku] = dst.storage.get(sku, 0) + quantity
    batches = src.batches.get(sku, deque())
    moved: list[list[int]] = []
    left = quantity
    while left and batches:
        take = min(left, batches[0][1])
        moved.append([batches[0][0], take])
        batches[0][1] -= take
        left -= take
        if batches[0][1] == 0:
            batches.popleft()
    merged = sorted([*dst.batches.get(sku, deque()), *moved], key=lambda b: b[0])
    dst.batches[sku] = deque(merged)


class SimMarketplace:
    """The `Marketplace` port for one shop of an arena."""

    def __init__(self, exchange: Exchange, shop: str) -> None:
        self.exchange = exchange
        self.shop = shop

    def shops(self) -> Sequence[str]:
        return [s for s in self.exchange.worlds if s != self.shop]

    def teammates(self) -> int:
        team = self.exchange.teams.get(self.shop)
        return 0 if team is None else sum(1 for s, t in self.exchange.teams.items() if t == team and s != self.shop)

    def look(self, shop: str) -> StallView:
        return self.exchange.look(viewer=self.shop, shop=shop)

    def send_money(self, *, to_shop: str, amount_cents: int, memo: str, idempotency_key: str) -> str:
        return self.exchange.send_money(sender=self.shop, to_shop=to_shop, amount_cents=amount_cents, memo=memo,
                                        key=idempotency_key)

    def offer(self, *, to_shop: str, side: str, sku: str, quantity: int, unit_price_cents: int,
              memo: str) -> TradeOffer:
        return self.exchange.offer(sender=self.shop, to_shop=to_shop, side=side, sku=sku, quantity=quantity,
                                   unit_price_cents=unit_price_cents, memo=memo)

    def accept(self, offer_id: str) -> TradeOffer:
        return self.exchange.accept(shop=self.shop, offer_id=offer_id)

    def decline(self, offer_id: str) -> TradeOffer:
        return self.exchange.decline(shop=self.shop, offer_id=offer_id)

    def offers(self) -> Sequence[TradeOffer]:
        return self.exchange.open_offers(self.shop)


class ArenaChat:
    """The Chat port of an arena shop: "shop:<id>" and "shop:all" reach the other shopkeepers;
    anything else goes where the plain simulator sends it."""

    def __init__(self, exchange: Exchange, shop: str, inner: Chat) -> None:
        self.exchange = exchange
        self.shop = shop
        self.inner = inner

    def send(self, *, conversation: str, text: str, thread: str = "") -> str:
        if not conversation.startswith(SHOP_PREFIX):
            return self.inner.send(conversation=conversation, text=text, thread=thread)
        self.exchange.deliver(sender=self.shop, conversation=conversation, text=text, thread=thread)
        w = self.exchange.worlds[self.shop]
        w.sent_messages.append((w.now, conversation, text))
        return f"msg-{len(w.sent_messages):06d}"
