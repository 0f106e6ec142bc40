"""The local executor: blocks shared among the cores, BLAS kept off the cores krr's threads use."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from krrcli.execution import executor
from krrcli.execution.blas import _openblas, blas_threads, cores


def test_sum_blocks_is_the_sum_over_every_block_once():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(10_007, 5))
    seen = []

    def fn(a, b, scratch):
        scratch.setdefault("calls", 0)
        scratch["calls"] += 1
        seen.append((a, b))
        return X[a:b].T @ X[a:b], X[a:b].sum(axis=0)

    G, s = executor().sum_blocks(X.shape[0], 300, fn)
    assert sorted(seen) == [(a, min(a + 300, 10_007)) for a in range(0, 10_007, 300)]
    np.testing.assert_allclose(G, X.T @ X, rtol=1e-12)
    np.testing.assert_allclose(s, X.sum(axis=0), rtol=1e-12, atol=1e-9)
    # the same machine gives the same sums, bit for bit
    again = executor().sum_blocks(X.shape[0], 300, lambda a, b, _: (X[a:b].T @ X[a:b], X[a:b].sum(axis=0)))
    assert np.array_equal(again[0], G) and np.array_equal(again[1], s)
    assert executor().sum_blocks(0, 300, fn) == ()


@pytest.mark.skipif(cores() < 2 or _openblas() is None, reason="needs 2 cores and numpy's OpenBLAS")
def test_blocks_run_on_every_core_with_blas_on_one_thread_each():
    getter = _openblas()[1]
    before = getter()
    threads, blas = set(), set()
    barrier = threading.Barrier(2, timeout=10)

    def fn(a, b, scratch):
        threads.add(threading.get_ident())
        blas.add(getter())
        if "met" not in scratch:  # two workers at once: each waits for the other once
            scratch["met"] = barrier.wait()
        return (np.ones(1),)

    (total,) = executor().sum_blocks(100, 10, fn)
    assert total[0] == 10 and len(threads) == 2 and blas == {1}
    assert getter() == before  # restored afterwards
    with blas_threads(1) as capped:
        assert capped and getter() == 1
    assert getter() == before
