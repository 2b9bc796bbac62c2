"""What every Slack piece shares: the Web API client, settings, the board, the ops group, the clock,
the event queue events go to, the machines whose telemetry confirmations are checked against, and
the books (read only: units sold from a slot while a restock was under way)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient

from bridge.errors import AdapterError
from bridge.events import Event
from bridge.ledger import Ledger
from bridge.ports import Clock, Machine
from hardware_adapters.live import EventQueue
from hardware_adapters.slack.board import Board
from hardware_adapters.slack.client import OpsGroup, call
from hardware_adapters.slack.settings import SlackSettings


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackParts:
    settings: SlackSettings
    client: WebClient
    board: Board
    ops: OpsGroup
    clock: Clock
    events: EventQueue
    machines: Mapping[str, Machine]
    ledger: Ledger

    @property
    def shop(self) -> str:
        return self.settings.shop

    def emit(self, event: Event) -> None:
        self.events.put(event)

    def emit_all(self, events: list[Event]) -> None:
        for e in events:
            self.events.put(e)

    def api(self, method: str, **params: Any) -> dict[str, Any]:
        return call(self.client, method, **params)

    def refuse(self, *, channel: str, user: str, text: str) -> None:
        """An ephemeral note only `user` sees (a refusal); best effort."""
        try:
            self.api("chat_postEphemeral", channel=channel, user=user, text=text)
        except AdapterError:  # a refusal that cannot be shown still refuses
            return
