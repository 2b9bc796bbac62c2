"""The golden: summaries and state hashes of fixed runs, and a digest of every table of each run's store.

A behaviour-preserving refactor leaves this output identical; `tests/golden/test_golden.py` checks it.
A change that alters behaviour on purpose regenerates it in the same commit, saying why:

    .venv/bin/python -m tests.golden.golden --write
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

RUNS = [(scenario, policy) for scenario in ("vb1", "vb2", "project_vend") for policy in ("baseline", "oracle")]
DAYS = 60
SEED = 3
GOLDEN = Path(__file__).with_name("golden.json")
VOLATILE = {"run_seconds", "run_dir"}
# columns that hold wall-clock times or run-folder names, not behaviour
VOLATILE_COLUMNS = {"run_id", "started_at", "settings_json", "elapsed_ms", "duration_ms"}


def _canonical(value: Any) -> Any:
    """A JSON text with its keys sorted: a policy may build a dict from a set, whose order follows
    the process's string hashing, not the run's behaviour."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    return value


def _table_digests(db: Path) -> dict[str, str]:
    import sqlite3

    out: dict[str, str] = {}
    con = sqlite3.connect(db)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        for name in names:
            if name.startswith("alembic") or name.startswith("sqlite_"):
                continue
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{name}")')]
            keep = [c for c in cols if c not in VOLATILE_COLUMNS]
            if not keep:
                continue
            rows = sorted(json.dumps([_canonical(v) for v in r], default=str) for r in
                          con.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in keep)} FROM "{name}"'))
            if rows:
                out[name] = f"{len(rows)}:" + hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
    finally:
        con.close()
    return out


def one(scenario: str, policy: str, out_dir: Path) -> dict[str, Any]:
    from bridge.compose.sim import build_sim
    from bridge.settings import SimSettings

    sim = build_sim(SimSettings(scenario=scenario, policy=policy, seed=SEED, days=DAYS, out_dir=out_dir,
                                run_name=f"{scenario}-{policy}", charts=False, events_log=False))
    sim.run()
    summary = {k: v for k, v in sim.summary().items() if k not in VOLATILE}
    sim.store.close()
    return {"summary": json.loads(json.dumps(summary, default=str)),
            "tables": _table_digests(sim.run_dir / "vend.db")}


ARENA = ("baseline", "oracle", "baseline")


def arena(out_dir: Path) -> dict[str, Any]:
    """An arena of three shops for 40 days: its summary (with each participant's state hash)."""
    from bridge.compose.arena import ArenaSettings, build_arena

    run = build_arena(ArenaSettings(policies=ARENA, seed=SEED, days=40, out_dir=out_dir, run_name="arena"))
    run.run()
    summary = {k: v for k, v in run.summary().items() if k not in VOLATILE}
    for p in run.participants:
        p.store.close()
    return {"summary": json.loads(json.dumps(summary, default=str))}


def generate() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vend-golden-") as tmp:
        out = {f"{s}/{p}": one(s, p, Path(tmp)) for s, p in RUNS}
        out["arena/" + ",".join(ARENA)] = arena(Path(tmp))
        return out


def main(argv: list[str]) -> int:
    got = generate()
    if "--write" in argv:
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"wrote {GOLDEN}")
        return 0
    want = json.loads(GOLDEN.read_text())
    diff = [k for k in sorted(set(want) | set(got)) if want.get(k) != got.get(k)]
    print("identical" if not diff else f"differs: {', '.join(diff)}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
