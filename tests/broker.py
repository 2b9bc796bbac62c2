"""The tests' mosquitto (hardware_adapters/doubles/mosquitto.py): a missing mosquitto FAILS when env
CI=true (a missing part is a defect), else the test is skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hardware_adapters.doubles import mosquitto as _m
from hardware_adapters.doubles.mosquitto import (  # noqa: F401 (the tests' names)
    ACL,
    CONF,
    DEFAULT_USERS,
    OVERRIDDEN_KEYS,
    REPO,
    START_DEADLINE_S,
    BrokerUnavailable,
    free_port,
    project_config,
)


def find_tool(name: str) -> str:
    try:
        return _m.which_tool(name)
    except BrokerUnavailable as err:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(str(err))
        pytest.skip(str(err))


class MosquittoBroker(_m.MosquittoBroker):
    def __init__(self, *, workdir: Path, users: tuple[str, ...] = DEFAULT_USERS) -> None:
        super().__init__(workdir=workdir, users=users, find_tool=find_tool)
