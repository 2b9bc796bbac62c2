"""Structured logs for `vend live`: one JSON object per line on stderr, secrets redacted.

Every record is `{"ts", "level", "logger", "msg", ...extra fields}`. The values of the environment
variables the config reads secrets from are replaced by `***` wherever they appear (message, fields,
tracebacks), so a token that ends up in an exception text or a URL is still never written. A crash
is a JSON line too: uncaught exceptions in the main thread and in any other thread (`sys.excepthook`,
`threading.excepthook`) are logged as `critical` records with the traceback in `error`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import traceback
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

# attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
MIN_SECRET_LEN = 6  # shorter values would redact ordinary words


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LEN}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, "***")
        return text

    @classmethod
    def from_env(cls, names: Iterable[str]) -> Redactor:
        return cls(os.environ.get(n, "") for n in names)


class JsonFormatter(logging.Formatter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["error"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return self.redact(json.dumps(out, default=str))


def setup_logging(*, secret_env_names: Iterable[str], stream: TextIO | None = None,
                  level: int = logging.INFO) -> logging.Handler:
    """JSON lines on `stream` (stderr) for the whole process; returns the handler (to remove it)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(Redactor.from_env(secret_env_names)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("apscheduler", "uvicorn.access", "urllib3", "slack_bolt", "slack_sdk", "stripe"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    install_crash_hooks()
    return handler


def install_crash_hooks() -> None:
    """Uncaught exceptions become JSON log records (critical), in every thread."""
    crash = logging.getLogger("vendbridge.crash")

    def main_hook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        crash.critical("uncaught exception", exc_info=(kind, value, tb), extra={"thread_name": "MainThread"})

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        value = args.exc_value if args.exc_value is not None else args.exc_type()
        crash.critical("uncaught exception in a thread", exc_info=(args.exc_type, value, args.exc_traceback),
                       extra={"thread_name": args.thread.name if args.thread else "?"})

    sys.excepthook = main_hook
    threading.excepthook = thread_hook
