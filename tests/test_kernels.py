"""Kernels match scikit-learn's pairwise kernels, built blockwise or not."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics.pairwise import pairwise_kernels

from krrcli import kernels
from krrcli.errors import UsageError

PARAMS = {
    "rbf": {"gamma": 0.7},
    "laplacian": {"gamma": 0.3},
    "polynomial": {"gamma": 0.5, "degree": 3, "coef0": 1.5},
    "linear": {},
    "sigmoid": {"gamma": 0.2, "coef0": -0.3},
    "cosine": {},
}


def _ours(kernel, **p):
    return {"gamma": p.get("gamma"), "degree": p.get("degree", 3), "coef0": p.get("coef0", 1)}


@pytest.mark.parametrize("kernel", list(kernels.KERNELS))
def test_gram_matches_sklearn(kernel):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 4))
    X[3] = 0.0  # a zero row (cosine must give 0, not NaN)
    K = kernels.gram_matrix(X, kernel, **_ours(kernel, **PARAMS[kernel]))
    ref = pairwise_kernels(X, metric=kernel, **PARAMS[kernel])
    np.testing.assert_allclose(K, ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kernel", list(kernels.KERNELS))
def test_cross_kernel_matches_sklearn(kernel):
    rng = np.random.default_rng(2)
    X, Y = rng.normal(size=(17, 3)), rng.normal(size=(23, 3))
    Yp = kernels.prepare(Y, kernel)
    K = kernels.cross_kernel(X, Yp, kernel, **_ours(kernel, **PARAMS[kernel]))
    ref = pairwise_kernels(X, Y, metric=kernel, **PARAMS[kernel])
    np.testing.assert_allclose(K, ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kernel", ["rbf", "laplacian", "polynomial"])
def test_blockwise_build_equals_single_block(kernel, monkeypatch):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 5))
    whole = kernels.gram_matrix(X, kernel, 0.4)
    monkeypatch.setattr(kernels.dense, "BLOCK_BYTES", 8 * 50 * 3)  # 3 rows per block
    blocked = kernels.gram_matrix(X, kernel, 0.4)
    np.testing.assert_allclose(blocked, whole, rtol=1e-14, atol=0)


def test_gram_is_written_into_the_given_buffer():
    X = np.random.default_rng(4).normal(size=(10, 2))
    buf = np.empty((10, 10))
    K = kernels.gram_matrix(X, "rbf", 1.0, out=buf)
    assert K is buf
    assert np.all(np.diag(K) == 1.0)


def test_default_gamma_is_one_over_n_features():
    assert kernels.resolve_gamma("rbf", None, 4) == 0.25
    assert kernels.resolve_gamma("linear", 3.0, 4) is None
    X = np.random.default_rng(5).normal(size=(8, 4))
    np.testing.assert_allclose(kernels.gram_matrix(X, "rbf"), pairwise_kernels(X, metric="rbf"), rtol=1e-12)


def test_unknown_kernel_lists_choices():
    with pytest.raises(UsageError, match="unknown kernel 'gauss'; choose one of: rbf, laplacian"):
        kernels.get_kernel("gauss")


def test_base_matrix_derives_every_gamma():
    X = np.random.default_rng(6).normal(size=(30, 3))
    B = kernels.base_matrix(X, "rbf")
    for g in (0.01, 1.0, 30.0):
        K = B.copy()
        kernels.apply_kernel(K, "rbf", g, 3, 1)
        np.testing.assert_allclose(K, kernels.gram_matrix(X, "rbf", g), rtol=0, atol=0)
