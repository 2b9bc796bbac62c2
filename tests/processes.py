"""Processes a test started and must see gone: found by a folder their command line names."""

from __future__ import annotations

from pathlib import Path


def processes_naming(folder: Path) -> list[str]:
    """Command lines of running processes that name `folder` (a broker or shop process a command started
    under its run folder)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in cmd:
            found.append(cmd)
    return found
