"""The estimator and its solvers reproduce scikit-learn's KernelRidge."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import linalg
from sklearn.kernel_ridge import KernelRidge as SkKernelRidge
from sklearn.linear_model import Ridge

from krrcli import KernelRidge, kernels, solvers
from krrcli.errors import DataError, UsageError

from .conftest import make_regression

KERNEL_PARAMS = {
    "rbf": {"gamma": 0.5},
    "laplacian": {"gamma": 0.3},
    "polynomial": {"gamma": 0.2, "degree": 2, "coef0": 1.0},
    "linear": {},
    "sigmoid": {"gamma": 0.05, "coef0": 0.1},
    "cosine": {},
}


def _rel_err(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


@pytest.mark.parametrize("kernel", list(KERNEL_PARAMS))
@pytest.mark.parametrize("targets", [1, 3])
@pytest.mark.parametrize("alpha", [0.01, 1.0])
def test_predictions_match_sklearn(kernel, targets, alpha):
    X, Y = make_regression(80, 4, targets, seed=7)
    y = Y[:, 0] if targets == 1 else Y
    X_new = np.random.default_rng(8).normal(size=(25, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = KernelRidge(kernel=kernel, alpha=alpha, **KERNEL_PARAMS[kernel]).fit(X, y)
        ref = SkKernelRidge(kernel=kernel, alpha=alpha, **KERNEL_PARAMS[kernel]).fit(X, y)
    assert ours.predict(X_new).shape == ref.predict(X_new).shape
    assert _rel_err(ours.predict(X_new), ref.predict(X_new)) < 1e-8
    assert ours.dual_coef_.shape == ref.dual_coef_.shape
    np.testing.assert_allclose(ours.X_fit_, ref.X_fit_)
    assert _rel_err(ours.dual_coef_, ref.dual_coef_) < 1e-6


@pytest.mark.parametrize("kernel", ["rbf", "laplacian", "polynomial"])
def test_default_gamma_matches_sklearn(kernel):
    X, Y = make_regression(50, 3, seed=9)
    ours = KernelRidge(kernel=kernel).fit(X, Y[:, 0])
    ref = SkKernelRidge(kernel=kernel).fit(X, Y[:, 0])
    assert ours.gamma_ == pytest.approx(1 / 3)
    assert _rel_err(ours.predict(X), ref.predict(X)) < 1e-8


def test_linear_kernel_uses_primal_and_equals_ridge_without_intercept():
    X, Y = make_regression(200, 5, 2, seed=10)
    m = KernelRidge(kernel="linear", alpha=0.7).fit(X, Y)
    assert m.solver_ == "primal"
    ridge = Ridge(alpha=0.7, fit_intercept=False).fit(X, Y)
    X_new = np.random.default_rng(11).normal(size=(30, 5))
    assert _rel_err(m.predict(X_new), ridge.predict(X_new)) < 1e-10
    dual = KernelRidge(kernel="linear", alpha=0.7, solver="cholesky").fit(X, Y)
    assert _rel_err(m.predict(X_new), dual.predict(X_new)) < 1e-9
    assert _rel_err(m.dual_coef_, dual.dual_coef_) < 1e-8
    assert m.effective_dof_ == pytest.approx(dual.effective_dof_, rel=1e-9)


def test_dual_weights_solve_the_system():
    X, Y = make_regression(70, 3, seed=12)
    m = KernelRidge(gamma=0.4, alpha=0.05).fit(X, Y[:, 0])
    K = kernels.gram_matrix(X, "rbf", 0.4)
    ref = linalg.solve(K + 0.05 * np.eye(70), Y[:, 0], assume_a="pos")
    np.testing.assert_allclose(m.dual_coef_, ref, rtol=1e-9)


def test_effective_dof_exact_and_hutchinson(monkeypatch):
    X, Y = make_regression(300, 3, seed=13)
    K = kernels.gram_matrix(X, "rbf", 0.5)
    d = linalg.eigvalsh(K)
    exact = float(np.sum(d / (d + 0.1)))
    m = KernelRidge(gamma=0.5, alpha=0.1).fit(X, Y)
    assert m.effective_dof_exact_ and m.effective_dof_ == pytest.approx(exact, rel=1e-9)
    monkeypatch.setattr(solvers.direct, "DOF_EXACT_MAX_ROWS", 100)
    est = KernelRidge(gamma=0.5, alpha=0.1).fit(X, Y)
    assert not est.effective_dof_exact_
    assert est.effective_dof_ == pytest.approx(exact, rel=0.05)


def test_alpha_zero_falls_back_with_one_warning():
    X, Y = make_regression(30, 2, seed=14)
    X = np.vstack([X, X[:3]])  # duplicate rows: K is singular
    y = np.concatenate([Y[:, 0], Y[:3, 0]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = KernelRidge(gamma=1.0, alpha=0.0).fit(X, y)
    assert m.solver_ == "eigh"
    assert len([w for w in caught if issubclass(w.category, solvers.KrrWarning)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkKernelRidge(kernel="rbf", gamma=1.0, alpha=0.0).fit(X, y)
    assert _rel_err(m.predict(X), ref.predict(X)) < 1e-6


def test_cholesky_and_eigh_agree():
    X, Y = make_regression(60, 3, 2, seed=15)
    a = KernelRidge(gamma=0.3, alpha=0.2, solver="cholesky").fit(X, Y)
    b = KernelRidge(gamma=0.3, alpha=0.2, solver="eigh").fit(X, Y)
    assert _rel_err(a.dual_coef_, b.dual_coef_) < 1e-9
    assert a.effective_dof_ == pytest.approx(b.effective_dof_, rel=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 40), alpha=st.floats(1e-3, 10.0))
def test_predictions_do_not_depend_on_row_order(seed, n, alpha):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, 3)), rng.normal(size=n)
    perm = rng.permutation(n)
    X_new = rng.normal(size=(7, 3))
    a = KernelRidge(gamma=0.5, alpha=alpha).fit(X, y).predict(X_new)
    b = KernelRidge(gamma=0.5, alpha=alpha).fit(X[perm], y[perm]).predict(X_new)
    np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(3, 30), alpha=st.floats(1e-2, 100.0))
def test_cholesky_and_eigh_paths_agree_property(seed, n, alpha):
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
    a = KernelRidge(kernel="laplacian", gamma=0.7, alpha=alpha, solver="cholesky").fit(X, Y)
    b = KernelRidge(kernel="laplacian", gamma=0.7, alpha=alpha, solver="eigh").fit(X, Y)
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-7, atol=1e-9)


def test_standardize_scales_with_training_statistics():
    X, Y = make_regression(50, 3, seed=16)
    X = X * [1.0, 100.0, 0.01] + [0.0, 5.0, -3.0]
    m = KernelRidge(gamma=0.5, alpha=0.1, standardize=True).fit(X, Y[:, 0])
    Xs = (X - X.mean(0)) / X.std(0)
    ref = SkKernelRidge(kernel="rbf", gamma=0.5, alpha=0.1).fit(Xs, Y[:, 0])
    X_new = X[:5] + 0.1
    assert _rel_err(m.predict(X_new), ref.predict((X_new - X.mean(0)) / X.std(0))) < 1e-10
    np.testing.assert_allclose(m.X_fit_, Xs)


def test_dataframes_keep_names_and_reorder_columns():
    X, Y = make_regression(40, 3, seed=17)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    m = KernelRidge(gamma=0.5).fit(df, pd.Series(Y[:, 0], name="target"))
    assert m.feature_names_in_ == ["a", "b", "c"] and m.target_names_ == ["target"]
    shuffled = df[["c", "a", "b"]]
    np.testing.assert_allclose(m.predict(shuffled), m.predict(X))


def test_predict_in_small_blocks_is_identical():
    X, Y = make_regression(60, 3, 2, seed=18)
    m = KernelRidge(gamma=0.5, alpha=0.1).fit(X, Y)
    X_new = np.random.default_rng(19).normal(size=(101, 3))
    np.testing.assert_allclose(m.predict(X_new, block_bytes=8 * 60 * 7), m.predict(X_new), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"alpha": -1.0}, "alpha must be"),
        ({"gamma": 0.0}, "gamma must be"),
        ({"gamma": -2.0}, "gamma must be"),
        ({"degree": 0.5}, "degree must be"),
        ({"kernel": "nope"}, "unknown kernel"),
    ],
)
def test_bad_parameters(params, message):
    X, Y = make_regression(10, 2)
    with pytest.raises(UsageError, match=message):
        KernelRidge(**params).fit(X, Y)


def test_bad_data():
    with pytest.raises(DataError, match="at least 2 rows"):
        KernelRidge().fit(np.ones((1, 2)), np.ones(1))
    with pytest.raises(DataError, match="NaN"):
        KernelRidge().fit(np.array([[1.0], [np.nan]]), np.ones(2))
    with pytest.raises(UsageError, match="not fitted"):
        KernelRidge().predict(np.ones((1, 2)))


def test_get_set_params_and_repr():
    m = KernelRidge(alpha=2.0)
    assert m.get_params()["alpha"] == 2.0
    assert m.set_params(gamma=0.1) is m and m.gamma == 0.1
    assert "alpha=2.0" in repr(m)


def test_float32_fit_is_close_and_float64_predict_exact_path():
    X, Y = make_regression(300, 4, seed=61)
    f64 = KernelRidge(gamma=0.3, alpha=0.01).fit(X, Y[:, 0])
    f32 = KernelRidge(gamma=0.3, alpha=0.01, dtype="float32").fit(X, Y[:, 0])
    assert f32.solver_ == "cholesky" and f32.dtype == "float32"
    X_new = np.random.default_rng(62).normal(size=(50, 4))
    assert _rel_err(f32.predict(X_new), f64.predict(X_new)) < 1e-3
    assert _rel_err(f64.predict(X_new, dtype="float32"), f64.predict(X_new)) < 1e-4
    assert f32.effective_dof_ == pytest.approx(f64.effective_dof_, rel=1e-3)


def test_float32_with_a_large_residual_is_redone_in_float64(monkeypatch):
    X, Y = make_regression(100, 3, seed=63)
    monkeypatch.setattr(solvers.direct, "FLOAT32_MAX_RESIDUAL", 0.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = KernelRidge(gamma=0.5, alpha=0.1, dtype="float32").fit(X, Y)
    messages = [str(w.message) for w in caught if issubclass(w.category, solvers.KrrWarning)]
    assert len(messages) == 1 and "in float64" in messages[0] and "residual" in messages[0]
    ref = KernelRidge(gamma=0.5, alpha=0.1).fit(X, Y)
    np.testing.assert_array_equal(m.dual_coef_, ref.dual_coef_)


@pytest.mark.parametrize("alpha, reason", [(1e-4, "residual"), (1e-6, "Cholesky factorization failed")])
def test_ill_conditioned_float32_fit_falls_back_to_float64(alpha, reason):
    """A wide rbf kernel with a small alpha is beyond float32; the fit notices and redoes it in float64."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = np.sin(X).sum(axis=1) + 0.1 * rng.normal(size=400)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = KernelRidge(gamma=0.01, alpha=alpha, dtype="float32").fit(X, y)
    messages = [str(w.message) for w in caught if issubclass(w.category, solvers.KrrWarning)]
    assert len(messages) == 1 and reason in messages[0] and "in float64" in messages[0], messages
    ref = KernelRidge(gamma=0.01, alpha=alpha).fit(X, y)
    np.testing.assert_array_equal(m.dual_coef_, ref.dual_coef_)


def test_bad_dtype():
    with pytest.raises(UsageError, match="dtype must be float64 or float32"):
        KernelRidge(dtype="float16").fit(*make_regression(10, 2))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_large_matrix_path_gives_the_same_fit(monkeypatch, dtype):
    """Matrices over 2 GiB go through numpy's 64-bit-integer OpenBLAS; force that path on small data."""
    from krrcli.solvers import lapack64

    if not lapack64.available():
        pytest.fail("numpy's bundled 64-bit-integer OpenBLAS was not found")
    X, Y = make_regression(500, 3, 2, seed=71)
    monkeypatch.setattr(solvers.direct, "DOF_EXACT_MAX_ROWS", 100)  # Hutchinson, through trtrs
    ref = KernelRidge(gamma=0.5, alpha=0.05, dtype=dtype).fit(X, Y)
    monkeypatch.setattr(lapack64, "LARGE_BYTES", 1024)
    monkeypatch.setattr(lapack64, "CHOLESKY_BLOCK", 64)  # several block columns
    big = KernelRidge(gamma=0.5, alpha=0.05, dtype=dtype).fit(X, Y)
    if dtype == "float64":
        np.testing.assert_allclose(big.dual_coef_, ref.dual_coef_, rtol=1e-8, atol=1e-12)
    X_new = np.random.default_rng(72).normal(size=(30, 3))
    assert _rel_err(big.predict(X_new), ref.predict(X_new)) < (1e-10 if dtype == "float64" else 1e-3)
    assert big.effective_dof_ == pytest.approx(ref.effective_dof_, rel=1e-10 if dtype == "float64" else 1e-4)


# -- the estimator's contract -----------------------------------------------------------
def test_get_params_is_exactly_the_constructor_and_clone_works():
    import inspect

    from sklearn.base import clone

    m = KernelRidge(kernel="laplacian", gamma=0.2, alpha=0.5, standardize=True, solver="eigh", dtype="float32")
    assert list(m.get_params()) == list(inspect.signature(KernelRidge.__init__).parameters)[1:]
    c = clone(m)
    assert c.get_params() == m.get_params() and c is not m
    assert m.set_params(dtype="float64").dtype == "float64"
    with pytest.raises(UsageError, match="unknown parameter 'beta'"):
        m.set_params(beta=1)


@pytest.mark.parametrize(
    "check",
    ["check_parameters_default_constructible", "check_do_not_raise_errors_in_init_or_set_params", "check_complex_data"],
)
def test_scikit_learn_estimator_checks(check):
    from sklearn.utils import estimator_checks

    getattr(estimator_checks, check)("KernelRidge", KernelRidge())


def test_complex_input_is_refused():
    X, Y = make_regression(20, 2)
    with pytest.raises(DataError, match="complex numbers"):
        KernelRidge().fit(X + 1j, Y[:, 0])
    model = KernelRidge().fit(X, Y[:, 0])
    with pytest.raises(DataError, match="complex numbers"):
        model.predict(X.astype(complex))
