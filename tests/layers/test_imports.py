"""The import graph the design asks for, read from the code's own import statements (every import, at
module level or inside a function): one policy factory; no adapter imports a composition root or the
runtime; the simulator imports no runtime; `bridge` outside `bridge/compose/` imports neither backend."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bridge", "sim_backend", "hardware_adapters", "scheduler")


PATHS: dict[str, Path] = {}


def modules() -> dict[str, set[str]]:
    """Module name -> every module it imports."""
    out: dict[str, set[str]] = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT).with_suffix("")
            name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            if "migrations" in rel.parts:
                continue
            PATHS[name] = path
            found: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    found.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    found.add(node.module)
                    found.update(f"{node.module}.{a.name}" for a in node.names)
            out[name] = found
    return out


def importers_of(graph: dict[str, set[str]], prefix: str) -> set[str]:
    return {m for m, imps in graph.items() if any(i == prefix or i.startswith(prefix + ".") for i in imps)}


def test_one_policy_factory() -> None:
    graph = modules()
    builders = {m for m in graph if "def build_policy(" in PATHS[m].read_text()}
    assert builders == {"bridge.compose.policies"}
    # every entry point reaches policies through the one shop assembly (or the factory itself)
    makers = {m for m, imps in graph.items() if imps & {"bridge.policies.baseline.BaselinePolicy",
                                                        "sim_backend.oracle.OraclePolicy",
                                                        "bridge.policies.scripted.ScriptedPolicy",
                                                        "bridge.llm.wiring.build_llm"}}
    assert makers - {"sim_backend.oracle"} == {"bridge.compose.policies"}, makers  # the oracle module defines it


def test_no_adapter_or_backend_imports_a_composition_root_or_the_runtime() -> None:
    graph = modules()
    for root in ("bridge.compose", "bridge.runtime", "bridge.cli", "bridge.live.process", "bridge.live.core",
                 "bridge.live.ingest"):
        offenders = {m for m in importers_of(graph, root) if m.startswith(("hardware_adapters", "sim_backend"))}
        assert not offenders, (root, offenders)


def test_the_backends_do_not_import_each_other() -> None:
    graph = modules()
    assert not {m for m in importers_of(graph, "hardware_adapters") if m.startswith("sim_backend")}
    assert not {m for m in importers_of(graph, "sim_backend") if m.startswith("hardware_adapters")}


def test_bridge_imports_the_backends_only_in_its_composition() -> None:
    graph = modules()
    for backend in ("sim_backend", "hardware_adapters"):
        outside = {m for m in importers_of(graph, backend)
                   if m.startswith("bridge") and not m.startswith("bridge.compose")}
        assert not outside, (backend, outside)
