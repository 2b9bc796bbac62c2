from pathlib import Path

import pytest

from bridge.compose.sim import SimRun, build_sim
from bridge.settings import SimSettings


@pytest.fixture
def make_sim(tmp_path: Path):
    def make(**kw) -> SimRun:
        kw.setdefault("out_dir", tmp_path)
        kw.setdefault("charts", False)
        kw.setdefault("run_name", f"run{len(list(tmp_path.iterdir()))}")
        return build_sim(SimSettings(**kw))

    return make
