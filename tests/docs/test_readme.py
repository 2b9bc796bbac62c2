"""Docs that stay true: the README's command table lists every command the parser knows, and its
figures table is what scripts/readme_figures.py prints, in everything but the timing rows' figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bridge.cli import build_parser
from tests.cli.test_bad_input import commands

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def section(heading: str) -> str:
    text = README.read_text()
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end != -1 else None]


def table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("| ---"):
            rows.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return rows[1:]  # without the header


def test_the_command_table_lists_every_command() -> None:
    firsts = [r[0] for r in table_rows(section("## Commands"))]
    missing = [c for c in commands(build_parser()) if not any(f.startswith(f"`vend {c}") for f in firsts)]
    assert missing == [], f"add README rows for {missing}"


@pytest.mark.slow
def test_the_figures_table_is_what_the_script_prints() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_figures.py"), "--no-timings"],
                          capture_output=True, text=True, timeout=280, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    printed = table_rows(done.stdout)
    readme = table_rows(section("## Figures"))
    assert [r[:2] for r in readme] == [r[:2] for r in printed]  # the same rows, in the same order
    for mine, theirs in zip(readme, printed, strict=True):
        if "(timing" in theirs[2]:
            continue  # a timing: measured on some machine at some moment
        assert mine[2] == theirs[2], f"README row {mine[0]!r} differs from scripts/readme_figures.py"

