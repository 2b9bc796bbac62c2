"""The fingerprint of what the rollout gate judged: a stable hash over the canonical policy spec.

`vend gate` records its verdict under this fingerprint; `vend live` computes it for the policy its
config names and starts (outside shadow mode) only when a passing verdict for it exists.

Covered (a change to any of these is a new fingerprint, so a new gate run):
- the policy's kind: `baseline`, `oracle`, `llm` or `scripted`;
- `scripted:FILE`: the script's bytes (not its path or name);
- `llm`: the model name, the system prompt's text and the tool schemas the model is given (the
  prompt rendered for a placeholder shop, no business text, with every tool group a shop can
  offer: shop, service, customers, memory);
- the guardrails file's bytes, or "built-in" when none is named (the defaults are code, below);
- the code version: the package version and a hash of the Python source of `bridge/`,
  `scheduler/` and the policy modules outside them (`sim_backend/oracle.py`), read from the files
  the running code was imported from, so an edit to the agent's code is a new fingerprint.

Not covered (a change to these keeps the fingerprint): the simulator (`sim_backend/`, but the
oracle), the live adapters (`hardware_adapters/`), installed dependencies and the Python version,
the gate's own config (scenarios, seeds, rules: the verdict records its hash), the live config
beyond the [policy] section's name, guardrails and script (machines, catalogue, Slack, the LLM's
endpoint, token limits and budgets), and the shop's name.

No absolute path, host name or time goes in: the same inputs give the same fingerprint on any
machine, in any folder. Text files are read with CRLF turned into LF (a Windows checkout agrees).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError

FORMAT = 1  # bump when the spec's shape changes: every old verdict then stops matching
LENGTH = 32  # hex digits of sha256 kept (128 bits)
SOURCE_DIRS = ("bridge", "scheduler")
POLICY_MODULES = ("sim_backend/oracle.py",)  # policies that live outside SOURCE_DIRS
PROMPT_SHOP = "<shop>"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _text_bytes(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def file_sha(path: Path, what: str) -> str:
    try:
        return _sha(_text_bytes(path.read_bytes()))
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except OSError as err:
        raise ConfigError(f"{what} {path}: {err.strerror}") from None


def package_root() -> Path:
    """The folder the running code was imported from (a checkout, or site-packages)."""
    import bridge

    return Path(bridge.__file__).resolve().parent.parent


def source_files(root: Path) -> list[Path]:
    files: list[Path] = []
    for d in SOURCE_DIRS:
        files += [p for p in (root / d).rglob("*.py") if "__pycache__" not in p.parts]
    files += [root / m for m in POLICY_MODULES if (root / m).is_file()]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def source_hash(root: Path) -> tuple[str, int]:
    """(sha256 over each file's relative POSIX path and its text, file count)."""
    h = hashlib.sha256()
    files = source_files(root)
    for p in files:
        rel = p.relative_to(root).as_posix().encode()
        body = _text_bytes(p.read_bytes())
        h.update(b"%d:%s:%d:" % (len(rel), rel, len(body)))
        h.update(body)
    return h.hexdigest(), len(files)


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vendbridge")
    except PackageNotFoundError:
        return "unknown"


@cache
def code_version(root: Path | None = None) -> dict[str, Any]:
    """The package version and the source hash; computed once per process and root."""
    digest, count = source_hash(root or package_root())
    return {"version": package_version(), "source_sha256": digest, "files": count}


def tool_specs() -> list[Any]:
    """Every tool a shop can offer the model, from the classes (no shop is built): the specs are
    derived from the methods' signatures and docstrings alone."""
    from bridge.llm.memory import MemoryTools
    from bridge.tools.customers import CustomerTools
    from bridge.tools.service import ServiceTools
    from bridge.tools.shop import ShopTools
    from bridge.tools.spec import collect_specs

    specs: dict[str, Any] = {}
    for cls in (ShopTools, ServiceTools, CustomerTools, MemoryTools):
        specs.update(collect_specs(cls.__new__(cls)))  # collect_specs reads the type only
    return [specs[k] for k in sorted(specs)]


def llm_parts(*, model: str, guardrails: Path | None) -> dict[str, str]:
    from bridge.guardrails import GuardrailPolicy
    from bridge.llm.prompt import system_prompt

    guard = GuardrailPolicy.load(guardrails) if guardrails is not None else GuardrailPolicy()
    specs = tool_specs()
    prompt = system_prompt(shop=PROMPT_SHOP, guard=guard, specs=specs)
    schemas = json.dumps([s.to_anthropic() for s in specs], sort_keys=True, separators=(",", ":"))
    return {"model": model, "prompt_sha256": _sha(prompt.encode()), "tools_sha256": _sha(schemas.encode())}


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicySpec:
    """What a verdict is about, in canonical form (`spec`), and its fingerprint."""

    spec: Mapping[str, Any]
    fingerprint: str
    label: str  # the policy as the user named it, for messages (may hold a path)

    @property
    def kind(self) -> str:
        return str(self.spec["policy"])

    def differs_from(self, other: Mapping[str, Any]) -> list[str]:
        """The spec's top-level parts that differ from another verdict's spec."""
        keys = sorted(set(self.spec) | set(other))
        return [k for k in keys if self.spec.get(k) != other.get(k)]


def policy_spec(policy: str, *, guardrails: Path | None, model: str = "", root: Path | None = None) -> PolicySpec:
    """The spec of `policy` (baseline, oracle, llm or scripted:FILE with FILE already resolved)
    run under the `guardrails` file (None: the built-in defaults)."""
    spec: dict[str, Any] = {"format": FORMAT}
    if policy.startswith("scripted:"):
        spec["policy"] = "scripted"
        spec["script_sha256"] = file_sha(Path(policy.removeprefix("scripted:")), "policy script")
    elif policy == "llm":
        from bridge.llm.settings import LlmSettings

        spec["policy"] = "llm"
        spec["llm"] = llm_parts(model=model or LlmSettings().model, guardrails=guardrails)
    elif policy in ("baseline", "oracle"):
        spec["policy"] = policy
    else:
        raise ConfigError(f"unknown policy {policy!r} (baseline, oracle, llm or scripted:FILE)")
    spec["guardrails"] = file_sha(guardrails, "guardrails file") if guardrails is not None else "built-in"
    spec["code"] = code_version(root)
    return PolicySpec(spec=spec, fingerprint=fingerprint_of(spec), label=policy)


def fingerprint_of(spec: Mapping[str, Any]) -> str:
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return _sha(canonical.encode())[:LENGTH]


def files_sha(paths: Iterable[Path]) -> str:
    """One hash over several files' names and bytes (the gate config and the files it names)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0")
        h.update(_text_bytes(p.read_bytes()) + b"\0")
    return h.hexdigest()
