"""Stripe's wire format for the fake: bracket-notation form decoding, error objects, ids, fixtures.

Objects are built from Stripe's published fixtures (`fixtures3.json` from stripe/openapi):
the resource's fixture is deep-copied and only ids, amounts, statuses, metadata and times are
changed, so every field a real client could read is present with a realistic value.
"""

from __future__ import annotations

import copy
import json
import os
import random
import string
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

FIXTURES = "stripe/fixtures3.json"


def fixtures_path() -> Path:
    """`$VENDBRIDGE_SPECS_DIR/stripe/fixtures3.json`, else the one in the nearest `shared/specs` above
    this checkout (no absolute folder: a clone anywhere beside `shared/` finds it)."""
    env = os.environ.get("VENDBRIDGE_SPECS_DIR")
    if env:
        return Path(env) / FIXTURES
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "shared" / "specs" / FIXTURES
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("Stripe fixtures not found: set VENDBRIDGE_SPECS_DIR or place them at "
                            f"<ancestor>/shared/specs/{FIXTURES}")

API_VERSION = "2026-10-28.endive"

_ALNUM = string.ascii_letters + string.digits


@cache
def _fixtures(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        return dict(json.load(fh)["resources"])


def fixture(resource: str, *, path: Path | None = None) -> dict[str, Any]:
    """A fresh deep copy of Stripe's fixture for `resource` (e.g. "payment_intent", "checkout.session")."""
    return copy.deepcopy(_fixtures(path or fixtures_path())[resource])


def from_fixture(resource: str, **fields: Any) -> dict[str, Any]:
    """The fixture with `fields` replaced; refuses a field the fixture does not have (shape guard)."""
    obj = fixture(resource)
    unknown = sorted(set(fields) - set(obj))
    if unknown:
        raise KeyError(f"{resource} fixture has no field(s) {unknown}")
    obj.update(fields)
    return obj


class IdGen:
    """Stripe-looking ids (`pi_3Q...`), deterministic from a seed."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def new(self, prefix: str, length: int = 24) -> str:
        return prefix + "".join(self._rng.choice(_ALNUM) for _ in range(length))


class StripeError(Exception):
    """An API error as Stripe returns it: HTTP status plus `{"error": {type, code, message, param}}`.

    `saved=False` marks errors raised before the endpoint started executing (parameter
    validation); Stripe does not store those under an idempotency key.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        saved: bool = True,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.saved = saved
        self.extra = extra

    def body(self, request_id: str) -> dict[str, Any]:
        err: dict[str, Any] = {"type": self.type, "code": self.code, "message": self.message, "param": self.param}
        if self.code:
            err["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        err["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        err.update(self.extra)
        return {"error": err}


def missing(resource: str, obj_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {resource}: '{obj_id}'", code="resource_missing", param=param)


def bad_param(message: str, param: str, code: str = "parameter_invalid") -> StripeError:
    return StripeError(400, message, code=code, param=param, saved=False)


def decode_form(body: str) -> dict[str, Any]:
    """Decode `a[b][0][c]=1&expand[0]=x` into nested dicts and lists, as Stripe's servers do."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head, _, rest = key.partition("[")
        parts = [head] + ([p for p in rest.rstrip("]").split("][")] if rest else [])
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":  # `expand[]=x` style: append
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v) for k, v in node.items()}
    if out and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


def as_int(params: dict[str, Any], name: str, *, required: bool = False, minimum: int = 0) -> int | None:
    raw = params.get(name)
    if raw is None:
        if required:
            raise bad_param(f"Missing required param: {name}.", name, "parameter_missing")
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise bad_param("Invalid integer: " + str(raw), name, "parameter_invalid_integer") from None
    if value < minimum:
        raise bad_param(
            f"This value must be greater than or equal to {minimum}.", name, "parameter_invalid_integer"
        )
    return value


def as_bool(params: dict[str, Any], name: str, default: bool = False) -> bool:
    raw = params.get(name)
    if raw is None:
        return default
    if raw not in ("true", "false"):
        raise bad_param(f"Invalid boolean: {raw}", name)
    return bool(raw == "true")


def require(params: dict[str, Any], name: str) -> Any:
    if params.get(name) in (None, ""):
        raise bad_param(f"Missing required param: {name}.", name, "parameter_missing")
    return params[name]


def check_known(params: dict[str, Any], allowed: set[str]) -> None:
    """Stripe refuses unknown top-level parameters; so does the fake (catches adapter typos)."""
    for name in params:
        if name not in allowed and name != "expand":
            raise bad_param(f"Received unknown parameter: {name}", name, "parameter_unknown")


def metadata(params: dict[str, Any], current: dict[str, str] | None = None) -> dict[str, str]:
    """Merge `metadata[...]` params into `current`; an empty value unsets a key, as in Stripe."""
    out = dict(current or {})
    given = params.get("metadata")
    if given in (None, ""):
        return out if given is None else {}
    if not isinstance(given, dict):
        raise bad_param("Invalid hash", "metadata")
    for key, value in given.items():
        if value == "":
            out.pop(key, None)
        else:
            out[key] = str(value)
    return out


def money(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"
