"""The `vend` parts for the LLM shopkeeper: the transport flags of `vend sim --policy llm`, the LLM
lines of the printed summary, and the local model commands (`vend serve-model`, `vend local-model`)."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from bridge.argtypes import above_zero as _positive_float
from bridge.argtypes import zero_or_more as _count


def _tokens(value: str) -> int:
    n = _count(value)
    if n < 16:
        raise argparse.ArgumentTypeError(f"too few tokens for a reply: {value}")
    return n


def add_llm_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm-timeout", type=_positive_float, default=None,
                   help="--policy llm: seconds one request may take (default 120); a timeout is retried and counted")
    p.add_argument("--llm-retries", type=_count, default=None,
                   help="--policy llm: retries of a request after a timeout, 408/409/429/5xx (default 4), each counted")
    p.add_argument("--llm-session-turns", type=_count, default=None,
                   help="--policy llm: requests a work session may make before it is cut (default 40)")
    p.add_argument("--llm-max-tokens", type=_tokens, default=None,
                   help="--policy llm: most tokens per reply (default 4096; lowered to fit a small window)")


def llm_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The LlmSettings fields the flags set."""
    out: dict[str, Any] = {}
    if getattr(args, "llm_timeout", None) is not None:
        out["timeout_s"] = args.llm_timeout
    if getattr(args, "llm_retries", None) is not None:
        out["max_retries"] = args.llm_retries
    if getattr(args, "llm_session_turns", None):
        out["max_turns_per_session"] = args.llm_session_turns
    if getattr(args, "llm_max_tokens", None) is not None:
        out["max_tokens"] = args.llm_max_tokens
    return out


def llm_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    """The LLM lines of the printed summary (none for other policies)."""
    if "llm_messages" not in s:
        return []
    ends = ", ".join(f"{k} {v}" for k, v in sorted(s.get("llm_session_ends", {}).items())) or "none"
    errs = s.get("coherence_errors", {})
    watch = ", ".join(f"{k} {v}" for k, v in sorted(errs.items()) if v) or "none"
    return [
        ("llm model", f"{s['llm_model']}" + (f" (window {s['llm_context_window']:,})" if s.get("llm_context_window")
                                              else "")),
        ("llm messages / sessions", f"{s['llm_messages']:,} / {s.get('llm_sessions', 0):,} ({ends})"),
        ("llm requests (retries, timeouts)",
         f"{s.get('llm_requests', 0):,} ({s.get('llm_retries', 0)}, {s.get('llm_timeouts', 0)})"),
        ("llm API errors", f"{s.get('llm_api_errors', 0)} (tools dropped {s.get('llm_tools_dropped', 0)})"),
        ("llm context trims (overflows)", f"{s.get('llm_context_trims', 0)} ({s.get('llm_context_overflows', 0)})"),
        ("llm malformed calls (as text)",
         f"{errs.get('malformed_calls', 0)} ({s.get('llm_text_tool_calls', 0)})"),
        ("llm watchdog", watch),
        ("llm tokens in / out", f"{s.get('llm_input_tokens', 0) + s.get('llm_cache_write_tokens', 0) + s.get('llm_cache_read_tokens', 0):,}"
                                f" / {s.get('llm_output_tokens', 0):,} (cache reads {s.get('llm_cache_read_tokens', 0):,})"),
        ("llm cost", f"${s.get('llm_cost_usd', 0.0):,.4f}"),
    ]


def serve_model(args: argparse.Namespace) -> int:
    """`vend serve-model`: the local model server in the foreground until Ctrl-C / SIGTERM."""
    from bridge.llm.local import free_port, serve

    serve(port=args.port or free_port(), n_ctx=args.n_ctx, seed=args.seed, threads=args.threads)
    return 0


def add_local_commands(sub: Any) -> None:
    sm = sub.add_parser("serve-model", help="serve the local model (SmolLM2-135M, llama.cpp) on a loopback port",
                        description="llama.cpp's server (xllamacpp) with SmolLM2-135M-Instruct and a chat template "
                                    "that renders tools; it answers the Anthropic Messages API at /v1/messages. "
                                    "Needs vendbridge[local] (see docs/local-model.md).")
    sm.add_argument("--port", type=_count, default=0, help="loopback port (default: a free one, printed)")
    sm.add_argument("--n-ctx", type=_tokens, default=8_192, help="the model's context window (default 8192)")
    sm.add_argument("--seed", type=_count, default=7)
    sm.add_argument("--threads", type=_count, default=1, help="CPU threads (default 1)")
    lm = sub.add_parser("local-model", help="run vend sim --policy llm against the local model, started for the run",
                        description="Starts `vend serve-model` on a free loopback port, runs the shopkeeper on it "
                                    "(vend sim --policy llm --model smollm2-135m --llm-base-url ...), stops it.")
    lm.add_argument("--n-ctx", type=_tokens, default=8_192, help="the model's context window (default 8192)")
    lm.add_argument("--threads", type=_count, default=1, help="the server's CPU threads (default 1)")
    lm.add_argument("--server-log", default="", help="file for the server's log (default: <out>/model-server.log)")


def run_local_model(args: argparse.Namespace, run_sim: Any) -> int:
    """`vend local-model [vend sim flags]`: the server for the run, then `vend sim` against it."""
    import os
    from pathlib import Path

    from bridge.llm.local import MODEL_NAME, LocalServer

    args.out.mkdir(parents=True, exist_ok=True)
    log = Path(args.server_log) if args.server_log else args.out / "model-server.log"
    with LocalServer(n_ctx=args.n_ctx, seed=args.seed, log=log, threads=max(1, args.threads)) as server:
        print(f"local model {MODEL_NAME} at {server.base_url} (n_ctx {args.n_ctx}, log {log})", flush=True)
        os.environ.setdefault("ANTHROPIC_API_KEY", "local")  # the local server takes any key
        args.policy, args.model, args.llm_base_url = "llm", args.model or MODEL_NAME, server.base_url
        return int(run_sim(args))


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived during a run."""

    def __init__(self, signum: int) -> None:
        import signal

        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.name = signal.Signals(signum).name


class stopping_on_signals:
    """SIGTERM and SIGINT raise `Interrupted` in the main thread while the block runs."""

    def __enter__(self) -> stopping_on_signals:
        import signal
        import threading

        self._old: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._old[sig] = signal.signal(sig, self._raise)
        return self

    @staticmethod
    def _raise(signum: int, _frame: Any) -> None:
        raise Interrupted(signum)

    def __exit__(self, *exc: object) -> None:
        import signal

        for sig, old in self._old.items():
            signal.signal(sig, old)


def stopped_summary(sim: Any, stop: Interrupted) -> dict[str, Any]:
    """The summary of a run stopped by a signal: what ran until then, `stopped` naming the signal."""
    import time

    outcome = sim.runtime.outcome
    outcome.ended_by = f"stopped ({stop.name})"
    sim.outcome = outcome
    sim.run_seconds = sim.run_seconds or 0.0
    with contextlib.suppress(Exception):  # the summary matters more than the last rows
        sim.store.flush()
    summary: dict[str, Any] = sim.summary()
    summary["stopped"] = stop.name
    summary["stopped_at_unix"] = round(time.time(), 3)
    return summary
