"""Running a sweep: chunks of candidate indices on a process pool or a Dask cluster, with the
table appended as chunks finish, so an interrupted sweep resumes without repeating work.

Executors: `concurrent.futures.ProcessPoolExecutor` by default (all cores), in-process for one
worker, or a `dask.distributed.Client` connected to `scheduler` (its Executor interface:
`submit` and `as_completed`; archspec runs no cluster code of its own). Each worker process
keeps one Analyzer, so its segment cache warms up over the chunks it runs.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import multiprocessing
import multiprocessing.context
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archspec.distribution import DISTRIBUTION
from archspec.errors import ArchspecError
from archspec.sweep.evaluate import Plan, columns, evaluate
from archspec.sweep.figures import Analyzer, Memory
from archspec.sweep.space import Space
from archspec.sweep.table import Table, discard, open_table

CHUNK = 2_000
WINDOW = 3  # chunks in flight per worker
SCHEDULER_TIMEOUT_S = 20
Progress = Callable[[int, int], None]

_ANALYZERS: dict[Memory | None, Analyzer] = {}


class SweepError(ArchspecError):
    """The sweep cannot run as asked (a scheduler missing, an output from another sweep)."""


def run_chunk(space: Space, indices: list[int], memory: Memory | None) -> list[dict[str, Any]]:
    """Evaluate candidates (in a worker); the worker's analyzer persists between chunks."""
    analyzer = _ANALYZERS.get(memory)
    if analyzer is None:
        analyzer = _ANALYZERS[memory] = Analyzer(memory)
    plan = Plan.of(space)
    return [evaluate(space, plan, index, analyzer) for index in indices]


@dataclass(frozen=True)
class RunOptions:
    out: Path
    memory: Memory | None = None
    workers: int | None = None  # None: every core
    scheduler: str | None = None  # a dask.distributed scheduler address
    chunk: int = CHUNK
    restart: bool = False


def run_sweep(space: Space, options: RunOptions, progress: Progress | None = None) -> Table:
    """Evaluate every candidate not yet in the output table; return the finished table.

    Chunks are made as they are needed and at most WINDOW per worker are in flight, so a sweep
    of millions of candidates holds little memory and stops promptly when interrupted.
    """
    if options.restart:
        discard(options.out)
    table = open_table(options.out, columns(space, options.memory), _fingerprint(space, options))
    if progress:
        progress(len(table.done), space.size)
    chunks = _chunks(space.size, set(table.done), options.chunk)
    with _executor(options) as (pool, wait_first, slots):
        pending: set[Any] = set()
        try:
            while True:
                for chunk in itertools.islice(chunks, slots * WINDOW - len(pending)):
                    pending.add(pool.submit(run_chunk, space, chunk, options.memory))
                if not pending:
                    break
                finished, pending = wait_first(pending)
                for future in finished:
                    table.append(future.result())
                if progress:
                    progress(len(table.done), space.size)
        finally:
            for future in pending:
                future.cancel()
    table.finish()
    return table


def _chunks(size: int, done: set[int], chunk: int) -> Iterator[list[int]]:
    batch: list[int] = []
    for index in range(size):
        if index not in done:
            batch.append(index)
            if len(batch) == chunk:
                yield batch
                batch = []
    if batch:
        yield batch


def _fingerprint(space: Space, options: RunOptions) -> dict[str, Any]:
    """What the table's rows depend on; resuming with anything else would mix two sweeps."""
    memory = options.memory
    # Not the sample count: candidate i does not depend on it, so raising it extends a sweep.
    return {
        "space": space.name,
        "sampled": space.samples is not None,
        "seed": space.seed,
        "base": repr(sorted(space.top.items())) + repr(space.rows),
        "axes": [(a.name, repr(a.law)) for a in space.axes],
        "regnet": repr(space.regnet),
        "constraints": [c.text for c in space.constraints],
        "memory": None if memory is None else [memory.batch, memory.dtype],
    }


class _Inline:
    """An executor that runs each call at once, in this process (one worker, tests)."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        future.set_result(fn(*args))
        return future


Waiter = Callable[[set[Any]], tuple[set[Any], set[Any]]]


def _cf_wait(pending: set[Any]) -> tuple[set[Any], set[Any]]:
    finished, rest = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
    return set(finished), set(rest)


@contextmanager
def _executor(options: RunOptions) -> Iterator[tuple[Any, Waiter, int]]:
    """(pool with submit(), wait-for-the-first-finished, worker count)."""
    if options.scheduler is not None:
        with _dask_client(options.scheduler) as triple:
            yield triple
        return
    workers = options.workers or os.cpu_count() or 1
    if workers == 1:
        yield _Inline(), _cf_wait, 1
        return
    with cf.ProcessPoolExecutor(workers, mp_context=_pool_context()) as pool:
        yield pool, _cf_wait, workers


def _pool_context() -> multiprocessing.context.BaseContext:
    """forkserver where the platform has it: forking a process that runs threads (torch's,
    Dask's, a test runner's) can deadlock the child; the server is single-threaded and has
    archspec imported already, so workers still start in milliseconds."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["archspec.sweep.run"])
    return context


@contextmanager
def _dask_client(address: str) -> Iterator[tuple[Any, Waiter, int]]:
    try:
        from dask.distributed import Client, wait  # noqa: PLC0415 - optional extra
    except ImportError:
        raise SweepError(
            "--scheduler needs dask.distributed; install it with: "
            f"pip install '{DISTRIBUTION}[dask]'"
        ) from None
    try:
        client = Client(address, timeout=SCHEDULER_TIMEOUT_S)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:
        raise SweepError(
            f"cannot reach the Dask scheduler at {address!r}: {exc}. Fix: start one "
            "(`dask scheduler`) and pass its address, e.g. tcp://127.0.0.1:8786"
        ) from None

    def wait_first(pending: set[Any]) -> tuple[set[Any], set[Any]]:
        finished, rest = wait(pending, return_when="FIRST_COMPLETED")  # type: ignore[no-untyped-call]
        return set(finished), set(rest)

    with client:
        slots = max(1, sum(client.nthreads().values()))  # type: ignore[no-untyped-call]
        yield _DaskPool(client), wait_first, slots


class _DaskPool:
    """client.submit with pure=False: every chunk is new work, never a cached result."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)
