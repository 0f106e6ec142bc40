"""The local executor: threads over row blocks, worker processes over tasks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class LocalExecutor:
    """Runs on this machine's cores."""

    def map_blocks(self, n_rows: int, step: int, fn: Callable[[int, int], None]) -> None:
        """Call ``fn(start, stop)`` over blocks of ``step`` rows, on all cores (numpy releases the GIL)."""
        spans = [(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]
        workers = min(len(spans), os.cpu_count() or 1)
        if workers <= 1:  # no thread pool for work too small to share
            for a, b in spans:
                fn(a, b)
            return
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for f in [pool.submit(fn, a, b) for a, b in spans]:
                f.result()

    def map_tasks(self, fn: Callable[[Any], Any], tasks: Iterable[Any], *, jobs: int) -> Iterator[Any]:
        """``fn(task)`` for each task, in order; with ``jobs > 1`` in worker processes whose BLAS
        threads are capped so that workers x threads does not exceed the cores."""
        tasks = list(tasks)
        if jobs <= 1 or len(tasks) <= 1:
            for task in tasks:
                yield fn(task)
            return
        from joblib import Parallel, delayed, parallel_config

        threads = max(1, (os.cpu_count() or 1) // jobs)
        with parallel_config(backend="loky", inner_max_num_threads=threads):
            yield from Parallel(n_jobs=jobs, return_as="generator")(delayed(fn)(task) for task in tasks)
