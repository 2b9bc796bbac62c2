"""Print the bad-input table of tests/cli/test_bad_input.py as markdown: every row's command line, its
exit code and the one line it printed on stderr (regenerates the table of the note; the test asserts
the same rows: exit 2, one line, no traceback, nothing left behind).

    .venv/bin/python scripts/bad_input_table.py [--only demo,chat]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cli.test_bad_input import TABLE, _one


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated commands (default: all)")
    args = parser.parse_args()
    only = {c.strip() for c in args.only.split(",") if c.strip()}
    unknown = only - set(TABLE)
    if unknown:
        print(f"bad_input_table: error: no rows for {sorted(unknown)}", file=sys.stderr)
        return 2
    rows = [(c, a) for c, table in TABLE.items() if not only or c in only for a in table]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda nr: _one(nr[1], Path(tmp), nr[0]), enumerate(rows)))
        print("| command | input | exit | the line on stderr |")
        print("| --- | --- | --- | --- |")
        bad = 0
        for command, argv, rc, err, left in results:
            shown = re.sub(r"DIR/row\d+", "DIR", " ".join(argv[len(command.split()):]).replace(tmp, "DIR"))
            line = re.sub(r"DIR/row\d+", "DIR", err.strip().replace(tmp, "DIR")).replace("|", "\\|")
            lines = len(err.splitlines())
            bad += rc != 2 or lines != 1 or bool(left)
            print(f"| vend {command} | `{shown}` | {rc} | {line}{'' if lines == 1 else f' ({lines} lines)'} |")
    print(f"\n{len(results)} rows, {bad} not one line with exit 2")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
