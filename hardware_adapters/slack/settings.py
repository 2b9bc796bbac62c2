"""Slack settings: secrets from the environment only, ids of the channels and the ops group."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackSettings:
    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    ops_channel: str  # channel id where tasks, approvals and supplier relays are posted
    shop_channel: str  # channel id where customers mention the shopkeeper
    ops_usergroup: str  # user group id whose members may act on tasks and approvals
    app_token: str = field(default="", repr=False)  # xapp- token, Socket Mode only
    base_url: str = "https://slack.com/api/"
    shop: str = "main"
    max_retries: int = 3  # 429s retried after Retry-After
    task_due_minutes: int = 240  # ops' promise: a task posted is done within this (its receipt's due_at)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **ids: str) -> SlackSettings:
        """Tokens from SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET / SLACK_APP_TOKEN; channel and group ids
        from keyword arguments or SLACK_OPS_CHANNEL / SLACK_SHOP_CHANNEL / SLACK_OPS_USERGROUP."""
        env = os.environ if env is None else env

        def need(name: str, key: str) -> str:
            value = ids.get(key) or env.get(name, "")
            if not value:
                raise ConfigError(f"Slack: {name} is not set")
            return value

        return cls(bot_token=need("SLACK_BOT_TOKEN", "bot_token"),
                   signing_secret=need("SLACK_SIGNING_SECRET", "signing_secret"),
                   app_token=ids.get("app_token") or env.get("SLACK_APP_TOKEN", ""),
                   ops_channel=need("SLACK_OPS_CHANNEL", "ops_channel"),
                   shop_channel=need("SLACK_SHOP_CHANNEL", "shop_channel"),
                   ops_usergroup=need("SLACK_OPS_USERGROUP", "ops_usergroup"),
                   base_url=ids.get("base_url") or env.get("SLACK_API_URL", "https://slack.com/api/"),
                   shop=ids.get("shop") or env.get("VEND_SHOP", "main"))
