"""Where work runs: one small interface, the local implementation behind it.

An executor does two things numerics need:

- ``map_blocks(n_rows, step, fn)``: call ``fn(start, stop)`` over blocks of rows, in parallel
  where that pays (numpy releases the GIL), for work that writes into shared arrays;
- ``sum_blocks(n_rows, step, fn)``: the sum of ``fn(start, stop, scratch)`` (a tuple of arrays)
  over blocks of rows, the blocks shared among workers that each keep their own sum and scratch
  buffers (a pass over the rows that reduces to small arrays, as ``K_Mn (K_nM v)``);
- ``map_tasks(fn, tasks, jobs=)``: ``fn(task)`` for each task, in order, in worker processes
  when ``jobs > 1`` (each worker's BLAS capped so that workers x threads fits the cores).

The kernels use the first, the nystrom solver's passes the second, model selection the third.
A distributed engine implements the same three calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import numpy as np

from .local import LocalExecutor, add_sums


class Executor(Protocol):
    def map_blocks(self, n_rows: int, step: int, fn: Callable[[int, int], None]) -> None: ...

    def sum_blocks(
        self, n_rows: int, step: int, fn: Callable[[int, int, dict], tuple[np.ndarray, ...]]
    ) -> tuple[np.ndarray, ...]: ...

    def map_tasks(self, fn: Callable[[Any], Any], tasks: Iterable[Any], *, jobs: int) -> Iterator[Any]: ...


_current: Executor = LocalExecutor()


def executor() -> Executor:
    """The executor in use (the local one unless another was installed)."""
    return _current


def use(new: Executor) -> Executor:
    """Install ``new`` as the executor; return the one it replaces."""
    global _current
    old, _current = _current, new
    return old


__all__ = ["Executor", "LocalExecutor", "add_sums", "executor", "use"]
