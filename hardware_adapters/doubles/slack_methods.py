"""The Web API methods the fake Slack implements: `METHODS[name](fake, params) -> response`.

Each runs under the fake's lock, reads Slack's parameters (strings from forms, or JSON values),
changes the fake's state and returns the response without `ok` (added by the caller). Errors are
raised as `SlackError(code)` with Slack's error codes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hardware_adapters.doubles.slack_objects import (
    SlackError,
    UploadedFile,
    conversation_object,
    file_object,
    reply_view,
    user_object,
)

if TYPE_CHECKING:
    from hardware_adapters.doubles.slack_api import FakeSlack

Params = dict[str, Any]


def _arg(p: Params, name: str, error: str = "invalid_arguments") -> str:
    value = p.get(name)
    if value is None or value == "":
        raise SlackError(error)
    return str(value)


def _json_arg(value: Any, error: str = "invalid_arguments") -> Any:
    """Slack takes blocks, views and file lists as JSON strings (forms) or JSON values (JSON bodies)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise SlackError(error) from exc
    return value


def auth_test(fake: FakeSlack, p: Params) -> Params:
    return {
        "url": f"https://{fake.team_name}.slack.com/",
        "team": fake.team_name,
        "user": fake.users[fake.bot_user_id].name,
        "team_id": fake.team_id,
        "user_id": fake.bot_user_id,
        "bot_id": fake.bot_id,
        "is_enterprise_install": False,
    }


def chat_post_message(fake: FakeSlack, p: Params) -> Params:
    channel = fake.resolve_channel(_arg(p, "channel", "channel_not_found"))
    text = p.get("text") or ""
    blocks = _json_arg(p.get("blocks"), "invalid_blocks") if p.get("blocks") else None
    if not text and not blocks and not p.get("attachments"):
        raise SlackError("no_text")
    message: Params = {"type": "message", "user": fake.bot_user_id, "bot_id": fake.bot_id, "text": text}
    if blocks:
        message["blocks"] = blocks
    stored = fake.store_message(channel, message, p.get("thread_ts") or None)
    return {"channel": channel, "ts": stored["ts"], "message": dict(stored)}


def chat_update(fake: FakeSlack, p: Params) -> Params:
    channel = fake.resolve_channel(_arg(p, "channel", "channel_not_found"))
    ts = _arg(p, "ts", "message_not_found")
    message = fake.messages.get(channel, {}).get(ts)
    if message is None:
        raise SlackError("message_not_found")
    if message.get("user") != fake.bot_user_id:
        raise SlackError("cant_update_message")
    if "text" in p:
        message["text"] = p["text"] or ""
    if p.get("blocks"):
        message["blocks"] = _json_arg(p["blocks"], "invalid_blocks")
    elif "blocks" in p:
        message.pop("blocks", None)
    reply = {"type": "message", "user": fake.bot_user_id, "bot_id": fake.bot_id, "text": message["text"]}
    return {"channel": channel, "ts": ts, "text": message["text"], "message": reply}


def chat_post_ephemeral(fake: FakeSlack, p: Params) -> Params:
    channel = fake.resolve_channel(_arg(p, "channel", "channel_not_found"))
    user = _arg(p, "user", "user_not_in_channel")
    known = fake.channels.get(channel)
    if known is not None and known.members and user not in known.members:
        raise SlackError("user_not_in_channel")
    if fake.dm_user(channel) not in {None, user}:
        raise SlackError("user_not_in_channel")
    blocks = _json_arg(p.get("blocks"), "invalid_blocks") if p.get("blocks") else None
    if not p.get("text") and not blocks and not p.get("attachments"):
        raise SlackError("no_text")
    ts = fake.next_ts()
    fake.ephemerals.append(
        {
            "channel": channel,
            "user": user,
            "text": p.get("text") or "",
            "blocks": blocks,
            "message_ts": ts,
            "thread_ts": p.get("thread_ts"),
        }
    )
    return {"message_ts": ts}


def _view_object(fake: FakeSlack, view: Any, *, view_id: str, root_view_id: str | None = None) -> Params:
    if not isinstance(view, dict) or "type" not in view:
        raise SlackError("invalid_arguments")
    fake_hash = f"{fake.epoch()}.{fake.next_id('h')[1:]}"
    return {
        "id": view_id,
        "team_id": fake.team_id,
        "type": view["type"],
        "blocks": view.get("blocks", []),
        "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""),
        "state": {"values": {}},
        "hash": fake_hash,
        "title": view.get("title"),
        "close": view.get("close"),
        "submit": view.get("submit"),
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "external_id": view.get("external_id", ""),
        "root_view_id": root_view_id or view_id,
        "previous_view_id": None,
        "app_id": fake.app_id,
        "bot_id": fake.bot_id,
    }


def views_open(fake: FakeSlack, p: Params) -> Params:
    trigger_id = _arg(p, "trigger_id")
    view = _view_object(fake, _json_arg(p.get("view")), view_id=fake.next_id("V"))
    if view["type"] != "modal":
        raise SlackError("invalid_arguments")
    fake.modals[view["id"]] = {**view, "trigger_id": trigger_id}
    return {"view": view}


def views_update(fake: FakeSlack, p: Params) -> Params:
    view_id = p.get("view_id")
    if not view_id and p.get("external_id"):
        view_id = next((k for k, v in fake.modals.items() if v["external_id"] == p["external_id"]), None)
    current = fake.modals.get(view_id or "")
    if current is None:
        raise SlackError("not_found")
    if p.get("hash") and p["hash"] != current["hash"]:
        raise SlackError("hash_conflict")
    view = _view_object(
        fake, _json_arg(p.get("view")), view_id=current["id"], root_view_id=current["root_view_id"]
    )
    fake.modals[current["id"]] = {**view, "trigger_id": current["trigger_id"]}
    return {"view": view}


def views_publish(fake: FakeSlack, p: Params) -> Params:
    user_id = _arg(p, "user_id")
    if user_id not in fake.users:
        raise SlackError("user_not_found")
    existing = fake.home_views.get(user_id)
    if existing and p.get("hash") and p["hash"] != existing["hash"]:
        raise SlackError("hash_conflict")
    view_id = existing["id"] if existing else fake.next_id("V")
    view = _view_object(fake, _json_arg(p.get("view")), view_id=view_id)
    if view["type"] != "home":
        raise SlackError("invalid_arguments")
    fake.home_views[user_id] = view
    return {"view": view}


def users_info(fake: FakeSlack, p: Params) -> Params:
    user = fake.users.get(str(p.get("user", "")))
    if user is None:
        raise SlackError("user_not_found")
    return {"user": user_object(user, team_id=fake.team_id)}


def usergroups_users_list(fake: FakeSlack, p: Params) -> Params:
    members = fake.usergroups.get(str(p.get("usergroup", "")))
    if members is None:
        raise SlackError("no_such_subteam")  # Slack's real code; absent from the 2021 spec's list
    return {"users": list(members)}


def conversations_open(fake: FakeSlack, p: Params) -> Params:
    if p.get("channel"):
        return {"channel": {"id": fake.resolve_channel(str(p["channel"]))}}
    users = [u for u in str(p.get("users") or "").split(",") if u]
    if not users:
        raise SlackError("users_list_not_supplied")
    if len(users) > 1:
        raise SlackError("method_not_supported_for_channel_type")  # group DMs are not modelled
    if users[0] not in fake.users:
        raise SlackError("user_not_found")
    already = users[0] in fake.dm_channels
    channel: Params = {"id": fake.dm_channel_for(users[0])}
    if str(p.get("return_im", "")).lower() in {"1", "true"}:
        channel.update({"is_im": True, "is_open": True, "user": users[0]})
    return {"no_op": already, "already_open": already, "channel": channel}


def _known_channel(fake: FakeSlack, p: Params) -> str:
    channel = str(p.get("channel") or "")
    if channel not in fake.channels and channel not in fake.dm_channels.values():
        raise SlackError("channel_not_found")
    return channel


def conversations_history(fake: FakeSlack, p: Params) -> Params:
    channel = _known_channel(fake, p)
    inclusive = str(p.get("inclusive", "")).lower() in {"1", "true"}
    oldest, latest = float(p.get("oldest") or 0), float(p.get("latest") or "inf")
    top = [m for m in fake.messages.get(channel, {}).values() if m.get("thread_ts", m["ts"]) == m["ts"]]

    def in_range(ts: float) -> bool:
        return (oldest <= ts <= latest) if inclusive else (oldest < ts < latest)

    picked = [dict(m) for m in reversed(top) if in_range(float(m["ts"]))]
    limit = int(p.get("limit") or 100)
    return {
        "messages": picked[:limit],
        "has_more": len(picked) > limit,
        "pin_count": 0,
        "channel_actions_ts": None,
        "channel_actions_count": 0,
    }


def conversations_replies(fake: FakeSlack, p: Params) -> Params:
    channel = _known_channel(fake, p)
    box = fake.messages.get(channel, {})
    parent = box.get(str(p.get("ts") or ""))
    if parent is None:
        raise SlackError("thread_not_found")
    replies = [m for m in box.values() if m.get("thread_ts") == parent["ts"] and m["ts"] != parent["ts"]]
    messages = [reply_view(parent, parent=True)] + [reply_view(m, parent=False) for m in replies]
    return {"messages": messages, "has_more": False}


def conversations_info(fake: FakeSlack, p: Params) -> Params:
    channel = _known_channel(fake, p)
    dm_user = fake.dm_user(channel)
    if dm_user is not None:
        conv = conversation_object(
            channel_id=channel,
            name=dm_user,
            creator=fake.bot_user_id,
            is_im=True,
            is_private=True,
            dm_user=dm_user,
        )
    else:
        known = fake.channels[channel]
        conv = conversation_object(
            channel_id=channel,
            name=known.name,
            creator=fake.bot_user_id,
            is_im=False,
            is_private=known.is_private,
        )
    return {"channel": conv}


def conversations_members(fake: FakeSlack, p: Params) -> Params:
    channel = _known_channel(fake, p)
    dm_user = fake.dm_user(channel)
    members = [dm_user, fake.bot_user_id] if dm_user else list(fake.channels[channel].members)
    return {"members": members, "response_metadata": {"next_cursor": ""}}


def files_get_upload_url_external(fake: FakeSlack, p: Params) -> Params:
    filename = _arg(p, "filename")
    try:
        length = int(_arg(p, "length"))
    except ValueError as exc:
        raise SlackError("invalid_arguments") from exc
    file_id = fake.next_id("F")
    fake.files[file_id] = UploadedFile(id=file_id, filename=filename, length=length)
    return {"upload_url": f"{fake.url}/upload/v1/{file_id}", "file_id": file_id}


def files_complete_upload_external(fake: FakeSlack, p: Params) -> Params:
    wanted = _json_arg(_arg(p, "files"))
    if not isinstance(wanted, list) or not wanted:
        raise SlackError("invalid_arguments")
    target = p.get("channel_id") or (str(p.get("channels") or "").split(",")[0] or None)
    channel = fake.resolve_channel(str(target)) if target else None
    uploads: list[UploadedFile] = []
    for item in wanted:
        upload = fake.files.get(str(item.get("id", "")))
        if upload is None or upload.data is None or upload.completed:
            raise SlackError("file_not_found")
        upload.title = item.get("title") or upload.filename
        upload.channel_id, upload.initial_comment = channel, p.get("initial_comment")
        upload.thread_ts, upload.completed = p.get("thread_ts") or None, True
        uploads.append(upload)
    if channel is not None:
        files = [file_object(u, user=fake.bot_user_id, created=fake.epoch()) for u in uploads]
        message = {
            "type": "message",
            "user": fake.bot_user_id,
            "bot_id": fake.bot_id,
            "text": p.get("initial_comment") or "",
            "files": files,
            "upload": True,
        }
        fake.store_message(channel, message, p.get("thread_ts") or None)
    return {"files": [{"id": u.id, "title": u.title} for u in uploads]}


METHODS: dict[str, Callable[[FakeSlack, Params], Params]] = {
    "auth.test": auth_test,
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "views.open": views_open,
    "views.update": views_update,
    "views.publish": views_publish,
    "users.info": users_info,
    "usergroups.users.list": usergroups_users_list,
    "conversations.open": conversations_open,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "conversations.info": conversations_info,
    "conversations.members": conversations_members,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
}
