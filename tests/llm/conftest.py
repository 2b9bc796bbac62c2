"""Fixtures of the LLM shopkeeper's tests: one fake Messages API per module (stopping one takes up
to half a second), reset for each test, and the API key the adapter reads from the environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.anthropic_api import FakeAnthropic


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as running:
        yield running


@pytest.fixture
def fake(fake_server: FakeAnthropic, monkeypatch: pytest.MonkeyPatch) -> FakeAnthropic:
    fake_server.reset()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    return fake_server
