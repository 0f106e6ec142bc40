"""The local executor: threads over row blocks, worker processes over tasks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .blas import blas_threads, cores

Sums = tuple[np.ndarray, ...]


def add_sums(total: Sums | None, part: Sums | None) -> Sums | None:
    """Elementwise sum of two tuples of arrays (None: nothing yet)."""
    if total is None or part is None:
        return part if total is None else total
    return tuple(t + p for t, p in zip(total, part, strict=True))


class LocalExecutor:
    """Runs on this machine's cores."""

    def map_blocks(self, n_rows: int, step: int, fn: Callable[[int, int], None]) -> None:
        """Call ``fn(start, stop)`` over blocks of ``step`` rows, on all cores (numpy releases the GIL)."""
        spans = [(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]
        workers = min(len(spans), cores())
        if workers <= 1:  # no thread pool for work too small to share
            for a, b in spans:
                fn(a, b)
            return
        with blas_threads(1), ThreadPoolExecutor(max_workers=workers) as pool:  # BLAS in a block: its own core
            for f in [pool.submit(fn, a, b) for a, b in spans]:
                f.result()

    def sum_blocks(
        self, n_rows: int, step: int, fn: Callable[[int, int, dict], tuple[np.ndarray, ...]]
    ) -> tuple[np.ndarray, ...]:
        """The sum over blocks of ``step`` rows of ``fn(start, stop, scratch)`` (a tuple of arrays).

        One thread per core takes every w-th block and sums its own results (``scratch`` is a dict
        it keeps between its calls, for buffers); the partial sums are added in worker order, so a
        machine gives the same sums every time. BLAS is capped to one thread per worker meanwhile.
        Without a BLAS whose threads can be set, or for a single block, one thread does it all.
        """
        starts = list(range(0, n_rows, step))
        workers = min(len(starts), cores())

        def run(k: int, w: int) -> tuple[np.ndarray, ...] | None:
            total, scratch = None, {}
            for a in starts[k::w]:
                part = fn(a, min(a + step, n_rows), scratch)
                total = add_sums(total, part)
            return total

        if workers > 1:
            with blas_threads(1) as capped:
                if capped:
                    with ThreadPoolExecutor(max_workers=workers) as pool:
                        parts = list(pool.map(run, range(workers), [workers] * workers))
                    total = None
                    for part in parts:
                        total = add_sums(total, part)
                    return total or ()
        return run(0, 1) or ()

    def map_tasks(self, fn: Callable[[Any], Any], tasks: Iterable[Any], *, jobs: int) -> Iterator[Any]:
        """``fn(task)`` for each task, in order; with ``jobs > 1`` in worker processes whose BLAS
        threads are capped so that workers x threads does not exceed the cores."""
        tasks = list(tasks)
        if jobs <= 1 or len(tasks) <= 1:
            for task in tasks:
                yield fn(task)
            return
        from joblib import Parallel, delayed, parallel_config

        threads = max(1, cores() // jobs)
        with parallel_config(backend="loky", inner_max_num_threads=threads):
            yield from Parallel(n_jobs=jobs, return_as="generator")(delayed(fn)(task) for task in tasks)
