"""The fake Slack's configuration records and the Slack-shaped objects it answers with.

Shapes follow Slack's published Web API description (see `slack_spec`), so that responses
pass its schemas: ids match its patterns (`C`/`D` + 8 or more, `U` + 2 or more, `T` + 8 or more).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class SlackError(Exception):
    """Raised inside a method implementation: answered as `{"ok": false, "error": code}`."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackUser:
    """One person (or bot) in the fake workspace's directory, as `users.info` returns them."""

    id: str
    name: str
    real_name: str = ""
    email: str | None = None
    is_bot: bool = False
    is_admin: bool = False
    deleted: bool = False
    tz: str = "Europe/Berlin"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlackChannel:
    """A public or private channel that exists before the test starts."""

    id: str
    name: str
    members: tuple[str, ...] = ()
    is_private: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedCall:
    """One request the fake received: Web API method (or "upload"), parsed params, headers."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    http_method: str
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class UploadedFile:
    """A file going through files_upload_v2's three steps."""

    id: str
    filename: str
    length: int
    data: bytes | None = None
    title: str | None = None
    channel_id: str | None = None
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False


def user_object(user: SlackUser, *, team_id: str) -> dict[str, Any]:
    real_name = user.real_name or user.name
    profile: dict[str, Any] = {
        "real_name": real_name,
        "real_name_normalized": real_name,
        "display_name": user.name,
        "display_name_normalized": user.name,
        "avatar_hash": "g0000000000",
        "title": "",
        "phone": "",
        "skype": "",
        "status_text": "",
        "status_emoji": "",
        "fields": None,
        "team": team_id,
    }
    if user.email is not None:
        profile["email"] = user.email
    return {
        "id": user.id,
        "team_id": team_id,
        "name": user.name,
        "deleted": user.deleted,
        "real_name": real_name,
        "tz": user.tz,
        "tz_label": user.tz,
        "tz_offset": 0,
        "profile": profile,
        "is_admin": user.is_admin,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": 1_700_000_000,
    }


def conversation_object(
    *, channel_id: str, name: str, creator: str, is_im: bool, is_private: bool, dm_user: str | None = None
) -> dict[str, Any]:
    topic = {"value": "", "creator": "", "last_set": 0}
    conv: dict[str, Any] = {
        "id": channel_id,
        "name": name,
        "name_normalized": name,
        "created": 1_700_000_000,
        "creator": creator,
        "is_archived": False,
        "is_channel": not is_im and not is_private,
        "is_general": False,
        "is_mpim": False,
        "is_group": is_private and not is_im,
        "is_im": is_im,
        "is_org_shared": False,
        "is_shared": False,
        "is_private": is_private or is_im,
        "topic": topic,
        "purpose": dict(topic),
    }
    if dm_user is not None:
        conv["user"] = dm_user
    return conv


def file_object(upload: UploadedFile, *, user: str, created: int) -> dict[str, Any]:
    return {
        "id": upload.id,
        "name": upload.filename,
        "title": upload.title or upload.filename,
        "mimetype": "application/octet-stream",
        "filetype": "binary",
        "pretty_type": "Binary",
        "size": upload.length,
        "user": user,
        "created": created,
        "timestamp": created,
        "mode": "hosted",
        "is_external": False,
        "is_public": False,
        "channels": [upload.channel_id] if upload.channel_id and upload.channel_id[0] == "C" else [],
        "groups": [],
        "ims": [upload.channel_id] if upload.channel_id and upload.channel_id[0] == "D" else [],
    }


# conversations.replies lists the parent and the replies with fewer fields than history does.
_PARENT_FIELDS = (
    "type",
    "user",
    "text",
    "thread_ts",
    "reply_count",
    "reply_users",
    "reply_users_count",
    "latest_reply",
    "subscribed",
    "ts",
    "team",
)
_REPLY_FIELDS = ("type", "user", "text", "thread_ts", "parent_user_id", "ts", "team")


def reply_view(message: dict[str, Any], *, parent: bool) -> dict[str, Any]:
    if parent:
        out = {k: message[k] for k in _PARENT_FIELDS if k in message}
        out.setdefault("thread_ts", message["ts"])
        out.setdefault("reply_count", 0)
        out.setdefault("subscribed", False)
        return out
    return {k: message[k] for k in _REPLY_FIELDS if k in message}
