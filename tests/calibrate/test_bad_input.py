"""`vend calibrate` on input it cannot use: one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.store import Store

ROOT = Path(__file__).parents[2]


def vend(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bridge.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def _assert_refused(out: subprocess.CompletedProcess[str]) -> None:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_a_store_with_no_sales(tmp_path: Path) -> None:
    store = Store(url=f"sqlite:///{tmp_path / 'empty.db'}")  # a store: the schema, and nothing sold
    store.close()
    out = vend("calibrate", "--db", f"sqlite:///{tmp_path / 'empty.db'}", "--out", "twin.toml", cwd=tmp_path)
    _assert_refused(out)
    assert not (tmp_path / "twin.toml").exists()
    _assert_refused(vend("calibrate", "--check", "--db", f"sqlite:///{tmp_path / 'empty.db'}", cwd=tmp_path))


@pytest.mark.parametrize("content", [b"these are not the books\n", b"", b"SQLite format 3\x00" + b"\x00" * 80])
def test_a_file_that_is_not_a_store(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(content)
    _assert_refused(vend("calibrate", "--db", f"sqlite:///{path}", "--out", "twin.toml", cwd=tmp_path))
    assert path.read_bytes() == content  # read, never written
    assert not (tmp_path / "twin.toml").exists()


def test_other_bad_input(tmp_path: Path) -> None:
    for args in (["calibrate", "--db", f"sqlite:///{tmp_path / 'missing.db'}", "--out", "t.toml"],
                 ["calibrate", "--db", "not a url", "--out", "t.toml"],
                 ["calibrate", "--db", f"sqlite:///{tmp_path / 'x.db'}"],  # neither --out nor --check
                 ["calibrate", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--out", "t.csv"],
                 ["calibrate", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--out", "t.toml", "--base", "nope"],
                 ["calibrate", "--check", "--db", "x", "--holdout-weeks", "0"]):
        _assert_refused(vend(*args, cwd=tmp_path))
    assert not (tmp_path / "missing.db").exists()
