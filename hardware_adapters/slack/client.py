"""The Web API client: slack_sdk's WebClient with 429 retries, and calls that raise project errors."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bridge.errors import AdapterError


def web_client(*, token: str, base_url: str, max_retries: int = 3, timeout: int = 10) -> WebClient:
    """A WebClient whose 429 answers are retried after the Retry-After the server sends."""
    client = WebClient(token=token, base_url=base_url, timeout=timeout)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=max_retries))
    return client


def call(client: WebClient, method: str, **params: Any) -> dict[str, Any]:
    """Call a Web API method by its slack_sdk name; Slack errors become AdapterError."""
    try:
        response = getattr(client, method)(**params)
    except SlackApiError as err:
        raise AdapterError(f"Slack {method}: {err.response.get('error', 'error')}") from None
    except (SlackClientError, OSError) as err:
        raise AdapterError(f"Slack {method}: {err}") from None
    data = response.data
    return data if isinstance(data, dict) else {}


class OpsGroup:
    """Who may act on tasks and approvals: members of one Slack user group, asked each time (no
    cache to go stale after someone leaves the group). Any failure to ask means no."""

    def __init__(self, *, client: WebClient, usergroup: str) -> None:
        self.client = client
        self.usergroup = usergroup

    def is_member(self, user_id: str) -> bool:
        try:
            users = call(self.client, "usergroups_users_list", usergroup=self.usergroup).get("users", [])
        except AdapterError:
            return False
        return bool(user_id) and user_id in users
