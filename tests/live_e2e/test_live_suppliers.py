"""The live config's Slack suppliers become the shop's purchasing through ops."""

from pathlib import Path

from bridge.live.config import LiveConfig
from hardware_adapters.slack.procurement import suppliers_from_config

EXAMPLE = Path(__file__).parents[2] / "ops" / "live.example.toml"


def test_the_example_config_names_suppliers_ops_buy_from() -> None:
    config = LiveConfig.load(EXAMPLE)
    assert config.slack is not None
    directory = suppliers_from_config(config.slack.suppliers)
    assert [s.supplier for s in directory] == ["pacific-bev"]
    assert directory[0].lead_time_days == 2 and "coke-12oz" in directory[0].skus
