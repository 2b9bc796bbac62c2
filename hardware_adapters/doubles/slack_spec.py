"""Slack's published API descriptions as jsonschema validators, for checking the fake Slack.

The Web API description (`slack_web_openapi_v2_without_examples.json`, Swagger 2.0, 2021) is
turned into JSON Schema draft 4: `x-` extensions are dropped and `#/definitions/...` refs resolve
against the spec's own definitions. Two documented interpretations of that spec:

- The generator that wrote it used `"items": [A, B]` on schemas that are not arrays to mean
  "one of A or B" (e.g. `objs_user`, `objs_conversation`, `bot_id`: `[bot id, null]`). Read
  literally in draft 4 that keyword is a no-op on non-arrays, so it is read as `anyOf: [A, B]`.
- `ERRATA` relaxes the few places where Slack itself answers outside its own description.

Parameters are checked the way Slack reads them: form and query values are strings, so a value
declared boolean/integer/number is converted first ("1"/"true" -> true); JSON bodies may carry
`blocks`, `view`, `attachments` as JSON structures where the spec declares a JSON-encoded string.

Methods newer than the spec (`EXEMPT_METHODS`) are not checked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, Draft7Validator, ValidationError
from jsonschema.exceptions import best_match

EXEMPT_METHODS = frozenset({"files.getUploadURLExternal", "files.completeUploadExternal"})

# (method, JSON pointer inside the 200 response schema, key, new value): Slack's real answers
# that its 2021 description forbids.
ERRATA: tuple[tuple[str, tuple[str, ...], str, Any], ...] = (
    # An empty channel's history is `"messages": []`; the spec says minItems 1.
    ("conversations.history", ("properties", "messages"), "minItems", 0),
)

WEB_SPEC = "slack/slack_web_openapi_v2_without_examples.json"
EVENT_WRAPPER_SPEC = "slack/slack_common_event_wrapper_schema.json"


def specs_dir() -> Path:
    """`$VENDBRIDGE_SPECS_DIR`, else the nearest `shared/specs` above this checkout."""
    env = os.environ.get("VENDBRIDGE_SPECS_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "specs"
        if (candidate / WEB_SPEC).is_file():
            return candidate
    raise FileNotFoundError(
        "Slack specs not found: set VENDBRIDGE_SPECS_DIR or place them at <ancestor>/shared/specs"
    )


def _to_draft4(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_draft4(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _to_draft4(value) for key, value in node.items() if not key.startswith("x-")}
    if isinstance(out.get("items"), list) and out.get("type") != "array":
        out["anyOf"] = out.pop("items")
    return out


def _form_value(declared: str | None, value: Any) -> Any:
    """Convert a form/query string to the declared Swagger type, as Slack parses it."""
    if not isinstance(value, str):
        return value
    try:
        if declared == "boolean" and value.lower() in {"true", "false", "1", "0"}:
            return value.lower() in {"true", "1"}
        if declared == "integer":
            return int(value)
        if declared == "number":
            return float(value)
    except ValueError:
        return value
    return value


def _json_value(declared: str | None, value: Any) -> Any:
    if declared == "string" and isinstance(value, dict | list):
        return json.dumps(value)
    return value


class SlackSpec:
    """Validators for the Web API methods' parameters and responses, and the Events API envelope."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root or specs_dir()
        raw = json.loads((self._root / WEB_SPEC).read_text())
        self._definitions = _to_draft4(raw["definitions"])
        self._operations: dict[str, dict[str, Any]] = {}
        for path, verbs in raw["paths"].items():
            op = next(iter(verbs.values()))
            self._operations[path.lstrip("/")] = op
        self._response_validators: dict[tuple[str, str], Draft4Validator] = {}
        self._param_validators: dict[str, Draft4Validator] = {}
        wrapper = json.loads((self._root / EVENT_WRAPPER_SPEC).read_text())
        self._wrapper = Draft7Validator(wrapper)

    def knows(self, method: str) -> bool:
        return method in self._operations

    def _param_types(self, method: str) -> dict[str, str | None]:
        params = self._operations[method].get("parameters", [])
        return {p["name"]: p.get("type") for p in params if p["in"] != "header" and p["name"] != "token"}

    def _params_validator(self, method: str) -> Draft4Validator:
        if method not in self._param_validators:
            props: dict[str, Any] = {}
            required: list[str] = []
            for p in self._operations[method].get("parameters", []):
                if p["in"] == "header" or p["name"] == "token":
                    continue
                props[p["name"]] = {k: p[k] for k in ("type", "enum") if k in p}
                if p.get("required"):
                    required.append(p["name"])
            schema: dict[str, Any] = {"type": "object", "properties": props}
            if required:
                schema["required"] = required
            self._param_validators[method] = Draft4Validator(schema)
        return self._param_validators[method]

    def _response_validator(self, method: str, kind: str) -> Draft4Validator:
        key = (method, kind)
        if key not in self._response_validators:
            schema = _to_draft4(self._operations[method]["responses"][kind]["schema"])
            for erratum_method, pointer, field, value in ERRATA:
                if erratum_method == method and kind == "200":
                    target = schema
                    for step in pointer:
                        target = target[step]
                    target[field] = value
            root = {**schema, "definitions": self._definitions}
            self._response_validators[key] = Draft4Validator(
                root, format_checker=Draft4Validator.FORMAT_CHECKER
            )
        return self._response_validators[key]

    def check_params(self, method: str, params: Mapping[str, Any], *, json_body: bool) -> list[str]:
        """Problems with a request's parameters (token excluded); [] when fine or exempt."""
        if method in EXEMPT_METHODS:
            return []
        if not self.knows(method):
            return [f"{method}: not in the Web API description"]
        types = self._param_types(method)
        convert = _json_value if json_body else _form_value
        typed = {key: convert(types.get(key), value) for key, value in params.items() if key != "token"}
        return [_describe(method, "params", e) for e in self._params_validator(method).iter_errors(typed)]

    def check_response(self, method: str, payload: Mapping[str, Any]) -> list[str]:
        """Problems with a response body against the method's success or error schema."""
        if method in EXEMPT_METHODS or not self.knows(method):
            return []
        kind = "200" if payload.get("ok") is True else "default"
        validator = self._response_validator(method, kind)
        return [_describe(method, f"response {kind}", e) for e in validator.iter_errors(dict(payload))]

    def check_event_envelope(self, envelope: Mapping[str, Any]) -> list[str]:
        return [_describe("events", "envelope", e) for e in self._wrapper.iter_errors(dict(envelope))]


def _describe(method: str, where: str, error: ValidationError) -> str:
    path = "/".join(str(p) for p in error.absolute_path) or "<root>"
    text = error.message
    if error.context:  # anyOf: name the closest alternative's problem too
        closest = best_match(error.context)
        text = f"{text[:200]}; closest: {closest.message[:300]}"
    return f"{method} {where} at {path}: {text}"


@cache
def default_spec() -> SlackSpec:
    """One parsed spec per test process (the Web API description is 1 MB of JSON)."""
    return SlackSpec()
