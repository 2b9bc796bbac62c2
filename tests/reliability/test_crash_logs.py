"""Logs are JSON from the first line to the last, a crash included (main thread and other threads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.broker import REPO

SCRIPT = """
import logging, threading
from bridge.live.jsonlog import setup_logging
setup_logging(secret_env_names=["CRASH_SECRET"])
logging.getLogger("x").info("started")
t = threading.Thread(target=lambda: 1 / 0, name="worker")
t.start(); t.join()
raise RuntimeError("boom " + __import__("os").environ["CRASH_SECRET"])
"""


def test_a_crash_is_a_json_line_with_its_traceback_and_no_secret() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "CRASH_SECRET": "s3cr3t-value-123"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # every line parses
    assert [r["level"] for r in lines] == ["info", "critical", "critical"]
    assert lines[1]["thread_name"] == "worker" and "ZeroDivisionError" in lines[1]["error"]
    assert "RuntimeError" in lines[2]["error"] and "s3cr3t-value-123" not in done.stderr
