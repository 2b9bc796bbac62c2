from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.slack.rig import Rig, make_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with make_rig(tmp_path) as r:
        yield r
        assert r.fake.violations == []  # every request and response the app exchanged matches Slack's spec
