"""Run one function over many jobs (seeded simulations) in parallel, results in job order.

Backends: `process` (a ProcessPoolExecutor over this machine's cores; always there), and for
sweeps larger than one machine `ray` or `dask` (the optional extra `vendbridge[sweep]`), each
optionally with a cluster address: `ray://head:10001`, `dask://scheduler:8786`. Without an
address Ray and Dask start a local cluster. `fn` must be a module-level function (picklable).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

from bridge.errors import ConfigError

J = TypeVar("J")
R = TypeVar("R")
BACKENDS = ("process", "ray", "dask")
EXTRA_HINT = "install the optional extra: pip install 'vendbridge[sweep]'"


def split_backend(spec: str) -> tuple[str, str]:
    """`ray://host:10001` -> ("ray", "ray://host:10001"); `dask://h:8786` -> ("dask", "tcp://h:8786")."""
    kind, sep, rest = spec.partition("://")
    if kind not in BACKENDS:
        raise ConfigError(f"unknown sweep backend {spec!r} (choose from {', '.join(BACKENDS)}, "
                          f"optionally with an address: ray://host:port, dask://host:port)")
    if not sep:
        return kind, ""
    if kind == "process":
        raise ConfigError("the process backend takes no address")
    return kind, (spec if kind == "ray" else f"tcp://{rest}")


def check_backend(spec: str) -> None:
    """Fail early, with one line, when a backend's package is missing."""
    kind, _ = split_backend(spec)
    if kind == "ray":
        _need("ray", "ray")
    elif kind == "dask":
        _need("dask", "distributed")


def _need(backend: str, module: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise ConfigError(f"the {backend} sweep backend needs the {module!r} package, which is not installed; "
                          f"{EXTRA_HINT} (or use --backend process)")


def parallel_map(fn: Callable[[J], R], jobs: Sequence[J], *, workers: int, backend: str = "process",
                 on_done: Callable[[R], None] | None = None) -> list[R]:
    check_backend(backend)
    kind, address = split_backend(backend)
    if kind == "ray":
        return _ray(fn, jobs, address, on_done)
    if kind == "dask":
        return _dask(fn, jobs, address, workers, on_done)
    return _process(fn, jobs, workers, on_done)


def _process(fn: Callable[[J], R], jobs: Sequence[J], workers: int, on_done: Callable[[R], None] | None) -> list[R]:
    results: list[Any] = [None] * len(jobs)
    if workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            results[i] = fn(job)
            if on_done is not None:
                on_done(results[i])
        return results
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
        futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            if on_done is not None:
                on_done(results[futures[fut]])
    return results


def _ray(fn: Callable[[J], R], jobs: Sequence[J], address: str, on_done: Callable[[R], None] | None) -> list[R]:
    import ray

    ray.init(address=address or None, ignore_reinit_error=True, log_to_driver=False)
    remote = ray.remote(fn)
    refs = [remote.remote(job) for job in jobs]
    pending = list(refs)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        if on_done is not None:
            on_done(ray.get(done[0]))
    return list(ray.get(refs))


def _dask(fn: Callable[[J], R], jobs: Sequence[J], address: str, workers: int,
          on_done: Callable[[R], None] | None) -> list[R]:
    from distributed import Client, LocalCluster
    from distributed import as_completed as dask_completed

    cluster = None if address else LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                                 dashboard_address=None)
    client = Client(address or cluster)
    try:
        futures = client.map(fn, list(jobs), pure=False)
        for fut in dask_completed(futures):
            if on_done is not None:
                on_done(fut.result())
        return list(client.gather(futures))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
