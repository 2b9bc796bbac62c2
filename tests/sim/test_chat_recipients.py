"""Where the simulated shop may send a message: only where someone is, as live Slack refuses a
conversation that does not exist. The customers (their DM or user id), ops, the suppliers and any
conversation a message came from are reached; anything else is a ToolError and nothing is sent."""

from __future__ import annotations

import pytest

from bridge import events as ev
from bridge.errors import ToolError
from sim_backend.backend import SimChat
from sim_backend.catalogue import load_catalogue
from sim_backend.engine import SimWorld
from sim_backend.scenario import load_scenario


def _world() -> SimWorld:
    return SimWorld(scenario=load_scenario("project_vend", days=5), catalogue=load_catalogue(None), seed=3)


def test_the_shops_people_are_reached() -> None:
    world = _world()
    chat = SimChat(world)
    supplier = world.suppliers.directory()[0]
    to = ["ops", "U0001", "D0001", f"supplier:{supplier.supplier}", f"email:{supplier.supplier}", supplier.contact]
    for conversation in to:
        assert chat.send(conversation=conversation, text="hello")
    assert [c for _, c, _ in world.sent_messages] == to


@pytest.mark.parametrize("conversation", ["C0NOBODY01", "D9999", "supplier:nobody", "", "shop:p2"])
def test_a_conversation_nobody_is_in_is_refused(conversation: str) -> None:
    world = _world()
    with pytest.raises(ToolError):
        SimChat(world).send(conversation=conversation, text="hello?")
    assert world.sent_messages == []


def test_a_conversation_a_message_came_from_may_be_answered() -> None:
    world = _world()
    chat = SimChat(world)
    with pytest.raises(ToolError):
        chat.send(conversation="C0GUEST01", text="hi")
    world.emit(ev.MessageReceived, conversation="C0GUEST01", sender="U0GUEST", role="customer", text="anyone?")
    assert chat.send(conversation="C0GUEST01", text="yes") and world.sent_messages[-1][1] == "C0GUEST01"
