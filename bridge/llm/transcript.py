"""The run's transcript: one JSON object per line (`transcript.jsonl` in the run folder) for each
session start, assistant turn (content, stop reason, tokens) and tool result (ok, verdict, error),
and `format_transcript` that `vend transcript RUN` prints."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from bridge.errors import ConfigError

FILENAME = "transcript.jsonl"


class Transcript:
    """Appends lines as they happen (a crash keeps what came before); `None` path: memory only."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fh: IO[str] | None = path.open("a", encoding="utf-8") if path is not None else None
        self.lines = 0

    def write(self, record: dict[str, Any]) -> None:
        self.lines += 1
        if self._fh is not None:
            self._fh.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_transcript(run: str | Path) -> Iterator[dict[str, Any]]:
    """A run folder or a transcript file."""
    path = Path(run)
    if path.is_dir():
        path = path / FILENAME
    if not path.exists():
        raise ConfigError(f"no transcript at {path} (runs of the llm policy write one)")
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    raise ConfigError(f"{path}:{n}: not a JSON line") from None


def _short(value: Any, limit: int = 160) -> str:
    s = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def format_transcript(records: Iterable[dict[str, Any]], *, width: int = 160) -> Iterator[str]:
    totals = {"input": 0, "cache_write": 0, "cache_read": 0, "output": 0}
    for r in records:
        kind = r.get("type")
        if kind == "session":
            yield f"=== {r.get('ts', '')} session {r.get('session')} ({r.get('reason')})"
        elif kind == "turn":
            u = r.get("usage", {})
            for k, src in (("input", "input_tokens"), ("cache_write", "cache_creation_input_tokens"),
                           ("cache_read", "cache_read_input_tokens"), ("output", "output_tokens")):
                totals[k] += int(u.get(src, 0))
            yield (f"--- turn {r.get('turn')} stop={r.get('stop_reason')} tokens in={u.get('input_tokens', 0)} "
                   f"cache_write={u.get('cache_creation_input_tokens', 0)} "
                   f"cache_read={u.get('cache_read_input_tokens', 0)} out={u.get('output_tokens', 0)} "
                   f"prompt~{r.get('window_tokens', 0)}")
            for b in r.get("content", []):
                if b.get("type") == "text":
                    yield "  says: " + _short(b.get("text", ""), width)
                elif b.get("type") == "tool_use":
                    yield f"  calls {b.get('name')}({_short(b.get('input', {}), width - 20)})"
            for claim in r.get("false_claims", []):
                yield f"  WATCHDOG: contradicted claim: {claim}"
        elif kind == "tool_result":
            verdict = str(r.get("verdict", ""))
            if verdict.startswith(("refused", "approval")):
                yield f"  REFUSED {r.get('tool')}: {_short(r.get('error', ''), width)}"
            elif r.get("ok"):
                yield f"  -> {r.get('tool')}: {_short(r.get('result', ''), width)}"
            else:
                yield f"  -> {r.get('tool')} ERROR: {_short(r.get('error', ''), width)}"
        elif kind == "event":
            yield f"  [{r.get('event')}] {_short(r.get('detail', ''), width)}"
    yield (f"=== tokens: input {totals['input']:,}, cache writes {totals['cache_write']:,}, "
           f"cache reads {totals['cache_read']:,}, output {totals['output']:,}")
