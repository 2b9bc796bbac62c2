"""The live config's [http] and [stripe] sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.errors import ConfigError
from bridge.live.config import LiveConfig


def test_stripe_and_http_sections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "live.toml"
    path.write_text('[http]\nport = 9090\n\n[stripe]\ncurrency = "eur"\nfridge_hold_cents = 1500\n')
    config = LiveConfig.load(path)
    assert config.http is not None and (config.http.host, config.http.port) == ("127.0.0.1", 9090)
    assert config.stripe is not None and (config.stripe.currency, config.stripe.fridge_hold_cents) == ("eur", 1500)
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="STRIPE_API_KEY"):
        config.stripe.api_key()
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_x")
    assert config.stripe.webhook_secret() == "whsec_x"


@pytest.mark.parametrize(("text", "message"), [
    ('[http]\n[stripe]\ncurrency = "EURO"\n', "stripe.currency"),
    ('[http]\n[stripe]\napi_key = "sk_live_oops"\n', "stripe.api_key"),  # secrets never sit in the file
])
def test_bad_sections_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "live.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        LiveConfig.load(path)
