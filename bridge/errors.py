"""Project errors. Adapters translate vendor errors into these; nothing vendor-shaped escapes."""

from __future__ import annotations

from typing import Any


class VendError(Exception):
    """Base of every project error."""


class ConfigError(VendError):
    """Bad settings, scenario or policy file: a clear one-line message for the user."""


def invalid(source: str, err: Any, *, top: str = "(top level)") -> ConfigError:
    """A pydantic ValidationError from a user's file as one line: where, what, and how many more."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or top
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return ConfigError(f"{source}: {where}: {first['msg']}{more}")


class ToolError(VendError):
    """An error the agent can recover from: it goes back to the agent as the tool's result."""


class GuardrailRefusal(ToolError):
    """A WRITE tool call refused by a guardrail rule; `rule` names it."""

    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(f"refused by guardrail {rule}: {reason}")
        self.rule = rule
        self.reason = reason


class ApprovalRequired(GuardrailRefusal):
    """Above a threshold: a person with the configured role must approve first."""


class AdapterError(VendError):
    """A live adapter failed (network, vendor outage) in a way a retry may cure."""


class RunEnded(VendError):
    """The run is over (day count, message cap, bankruptcy): policies stop acting."""


class RunStopped(RunEnded):
    """A run cannot go on (its LLM API keeps failing): the runtime ends it with `ended_by`, and the
    command reports it as failed, with `str(err)` as the one-line reason."""

    def __init__(self, ended_by: str, reason: str) -> None:
        super().__init__(reason)
        self.ended_by = ended_by
