"""Checks every input from outside passes before it is parsed further (MQTT, Stripe, Slack).

Cheap and total: none of these raises on any input. `json_depth_ok` refuses a document nested deeper
than a bound before `json.loads` could recurse on it; `bad_text` finds strings (keys or values) no store
should keep (control characters, U+0000 that PostgreSQL refuses, lone surrogates that UTF-8 cannot
encode); `printable` escapes them in text the bridge writes itself (a dead letter's topic or reason).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from bridge import events as ev

MAX_JSON_DEPTH = 16
# Control characters (tab, newline and carriage return aside), DEL, and UTF-16 surrogates (lone ones are
# all json.loads can produce).
BAD_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def printable(text: str, limit: int = 500) -> str:
    """`text` (cut to `limit`) with the characters of BAD_TEXT escaped: safe to store anywhere."""
    return BAD_TEXT.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"),
                        text[:limit])


def json_depth_ok(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """False if the JSON text nests arrays/objects deeper than `limit` (brackets inside strings aside).
    Only a document with more than `limit` opening brackets is scanned at all."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return True
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def bad_text(data: Any, where: str = "payload") -> str | None:
    """Where a parsed document holds a string with a BAD_TEXT character (None: nowhere)."""
    if isinstance(data, str):
        return where if BAD_TEXT.search(data) else None
    if isinstance(data, dict):
        for k, v in data.items():
            found = bad_text(k, where) or bad_text(v, f"{where}.{printable(str(k), 40)}")
            if found:
                return found
    elif isinstance(data, list):
        for v in data:
            found = bad_text(v, where)
            if found:
                return found
    return None


def dead_letter(*, source: str, topic: str, raw: bytes, reason: str, received_at: datetime) -> ev.DeadLettered:
    """Bad input kept with its reason; the id derives from the source, topic and bytes, so a redelivery
    of the same bad input is kept once."""
    key = b"" if source == "mqtt" else source.encode() + b"\0"
    digest = hashlib.sha256(key + topic.encode("utf-8", "surrogatepass") + b"\0" + raw).hexdigest()[:24]
    return ev.DeadLettered(id=f"dead:{digest}", ts=received_at, source=source, topic=printable(topic, 300),
                           reason=printable(reason), raw=raw)
