"""The sweep's backends: processes always; Ray and Dask only with the optional extra, else one clear line."""

from __future__ import annotations

import importlib.util

import pytest

from bridge.cli import main
from bridge.errors import ConfigError
from bridge.sweep import parallel_map, split_backend


def square(x: int) -> int:
    return x * x


def test_process_backend_keeps_job_order_and_reports_each_run() -> None:
    seen: list[int] = []
    assert parallel_map(square, list(range(7)), workers=3, on_done=seen.append) == [x * x for x in range(7)]
    assert sorted(seen) == [x * x for x in range(7)]


def test_backend_names_and_addresses() -> None:
    assert split_backend("process") == ("process", "")
    assert split_backend("ray://head:10001") == ("ray", "ray://head:10001")
    assert split_backend("dask://sched:8786") == ("dask", "tcp://sched:8786")
    with pytest.raises(ConfigError, match="unknown sweep backend"):
        split_backend("spark")


@pytest.mark.parametrize(("backend", "module"), [("ray", "ray"), ("dask", "distributed")])
def test_a_backend_without_its_package_says_which_extra_to_install(capsys, backend, module) -> None:
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here; this test is about its absence")
    rc = main(["bench", "policy", "--seeds", "1", "--days", "3", "--backend", backend])
    err = capsys.readouterr().err
    assert rc == 2
    assert "vendbridge[sweep]" in err and err.count("\n") == 1
