"""An unpenalized intercept (fit_intercept / --intercept) with every solver, the API and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics.pairwise import pairwise_kernels

from krrcli import DataError, KernelRidge, load_model

from .conftest import make_regression, write_csv


def _data(n=120, seed=0, offset=40.0):
    X, Y = make_regression(n, 3, targets=2, seed=seed)
    Y = Y + np.array([offset, -offset / 2])
    w = np.random.default_rng(seed).uniform(0.2, 2.0, size=n)
    return X, Y, w


def _reference(X, Y, w, gamma, alpha, kernel="rbf"):
    """min sum w (y - K c - b)^2 + alpha c^T K c, by the augmented normal equations (least squares)."""
    K = pairwise_kernels(X, X, metric=kernel, gamma=gamma)
    n = len(X)
    A = np.block([[K @ (w[:, None] * K) + alpha * K, (K @ w)[:, None]], [(w @ K)[None, :], np.array([[w.sum()]])]])
    rhs = np.vstack([K @ (w[:, None] * Y), (w @ Y)[None, :]])
    sol = np.linalg.lstsq(A, rhs, rcond=None)[0]
    return K @ sol[:n] + sol[n], sol[n]


@pytest.mark.parametrize("solver", ["cholesky", "eigh", "nystrom"])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_intercept_is_the_penalized_least_squares_constant(solver, weighted):
    X, Y, w = _data()
    w = w if weighted else np.ones(len(X))
    opts = {"tol": 1e-13, "max_iter": 2000} if solver == "nystrom" else {}
    model = KernelRidge(gamma=0.5, alpha=0.1, solver=solver, fit_intercept=True, **opts)
    model.fit(X, Y, sample_weight=w if weighted else None)
    P, b = _reference(X, Y, w, 0.5, 0.1)
    np.testing.assert_allclose(model.intercept_, b, rtol=1e-8)
    np.testing.assert_allclose(model.predict(X), P, rtol=1e-8, atol=1e-8 * np.abs(P).max())
    # the residuals' weighted sum is zero (the intercept's equation), and the training scores are the model's
    np.testing.assert_allclose(w @ (Y - model.predict(X)), 0.0, atol=1e-7 * np.abs(Y).max() * w.sum())


def test_with_the_linear_kernel_it_is_ridge_regression_with_an_intercept():
    X, Y, w = _data(seed=2)
    ours = KernelRidge(kernel="linear", alpha=0.3, fit_intercept=True).fit(X, Y, sample_weight=w)
    theirs = Ridge(alpha=0.3).fit(X, Y, sample_weight=w)
    assert ours.solver_ == "primal"
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-10)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10)
    cholesky = KernelRidge(kernel="linear", alpha=0.3, fit_intercept=True, solver="cholesky").fit(X, Y, sample_weight=w)
    np.testing.assert_allclose(cholesky.predict(X), theirs.predict(X), rtol=1e-9)


def test_dof_counts_the_intercept():
    """tr(H) of the smoother with the intercept, against the hat matrix built by brute force."""
    X, Y, w = _data(60, seed=4)
    model = KernelRidge(gamma=0.5, alpha=0.2, fit_intercept=True).fit(X, Y[:, 0], sample_weight=w)
    cols = []
    for i in range(60):  # the smoother is linear in y: its columns are the fits of unit vectors
        e = np.zeros(60)
        e[i] = 1.0
        cols.append(KernelRidge(gamma=0.5, alpha=0.2, fit_intercept=True).fit(X, e, sample_weight=w).predict(X))
    assert model.effective_dof_ == pytest.approx(np.trace(np.column_stack(cols)), rel=1e-9)
    plain = KernelRidge(gamma=0.5, alpha=0.2).fit(X, Y[:, 0], sample_weight=w)
    assert 0 < model.effective_dof_ - plain.effective_dof_ <= 1 + 1e-9


def test_an_intercept_that_is_not_determined_is_refused():
    X, Y, _ = _data(30)
    with pytest.raises(DataError, match="the intercept is not determined"):
        KernelRidge(gamma=0.5, alpha=0.0, fit_intercept=True, solver="cholesky").fit(X, Y)


def test_krr_fit_intercept(krr, tmp_path):
    X, Y, _ = _data(80, seed=6)
    path = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y[:, 0]]))
    res = krr("fit", path, "--intercept", "-g", "0.5", "-a", "0.1", "-o", tmp_path / "m.joblib", "--json")
    assert res.exit_code == 0, res.stderr
    summary = json.loads(res.stdout)
    P, b = _reference(X, Y[:, :1], np.ones(80), 0.5, 0.1)
    assert summary["intercept"] == pytest.approx([b[0]], rel=1e-9)
    model = load_model(str(tmp_path / "m.joblib"))
    assert model.fit_intercept and model.intercept_.shape == (1,)
    pred = krr("predict", tmp_path / "m.joblib", path)
    np.testing.assert_allclose(np.loadtxt(pred.stdout.splitlines()[1:]), P[:, 0], rtol=1e-9)
    text = krr("inspect", tmp_path / "m.joblib")
    assert f"  intercept      {b[0]:.4g}" in text.stdout
    plain = krr("fit", path, "-g", "0.5", "-a", "0.1", "-o", tmp_path / "p.joblib", "--json")
    assert json.loads(plain.stdout)["intercept"] is None
    res = krr("fit", path, "--intercept", "--engine", "dask", "-o", tmp_path / "x.joblib")
    assert res.exit_code == 2 and "--intercept is not supported with --engine dask yet" in res.stderr


# -- cv with an intercept: the closed forms against refits ---------------------------------------------------
def _refit_scores(X, Y, w, gamma, alpha, splits, **model):
    E = np.empty_like(Y)
    for test in splits:
        train = np.setdiff1d(np.arange(len(Y)), test)
        fit = KernelRidge(gamma=gamma, alpha=alpha, fit_intercept=True, **model)
        fit.fit(X[train], Y[train], sample_weight=None if w is None else w[train])
        E[test] = Y[test] - fit.predict(X[test]).reshape(len(test), -1)
    w = np.ones(len(Y)) if w is None else w
    return np.mean(np.sqrt((w @ E**2) / w.sum())), np.mean((w @ np.abs(E)) / w.sum())


@pytest.mark.parametrize("folds", [None, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_cv_closed_forms_with_an_intercept_equal_refits(folds, weighted):
    from krrcli.selection import cross_validate, kfold_indices

    X, Y, w = _data(50, seed=8)
    w = w if weighted else None
    report = cross_validate(
        X, Y, "rbf", [0.3, 1.0], [1e-2, 1.0], folds=folds, seed=1, refine=False, jobs=1, sample_weight=w,
        fit_intercept=True,
    )  # fmt: skip
    splits = [np.array([i]) for i in range(50)] if folds is None else kfold_indices(50, folds, 1)
    for r in report.results:
        rmse, mae = _refit_scores(X, Y, w, r.gamma, r.alpha, splits)
        assert r.rmse == pytest.approx(rmse, rel=1e-8) and r.mae == pytest.approx(mae, rel=1e-8)
        full = KernelRidge(gamma=r.gamma, alpha=r.alpha, fit_intercept=True).fit(X, Y, sample_weight=w)
        assert r.effective_dof == pytest.approx(full.effective_dof_, rel=1e-9)
    plain = cross_validate(X, Y, "rbf", [0.3, 1.0], [1e-2, 1.0], folds=folds, seed=1, refine=False, jobs=1)
    assert plain.results[0].rmse > 2 * report.results[0].rmse  # (targets far from 0: the intercept matters)


@pytest.mark.parametrize("folds", [None, 3])
@pytest.mark.parametrize(("weighted", "intercept"), [(False, True), (True, True), (True, False)])
def test_nystrom_cv_weighted_or_with_an_intercept_equals_refits_on_its_centers(folds, weighted, intercept):
    """cv keeps the full data's centers in every fold: refits on those centers give its scores."""
    from krrcli.kernels import KernelMap, KernelSpec
    from krrcli.selection import cross_validate, kfold_indices
    from krrcli.solvers.intercept import split_intercept, with_ones
    from krrcli.solvers.nystrom import NystromOptions, center_rows, solve_nystrom

    n = 90
    X, Y, w = _data(n, seed=9)
    w = w if weighted else None
    report = cross_validate(
        X, Y, "rbf", [0.5], [1e-2, 1.0], folds=folds, seed=4, solver="nystrom", n_centers=30, jobs=1,
        sample_weight=w, fit_intercept=intercept,
    )  # fmt: skip
    C = X[center_rows(n, 30, 4)]  # the centers a fit with the same seed and M draws, and cv uses
    splits = [np.array([i]) for i in range(n)] if folds is None else kfold_indices(n, folds, 4)
    ww = np.ones(n) if w is None else w
    for r in report.results:
        spec = KernelSpec("rbf", r.gamma, 3.0, 1.0)
        E = np.empty_like(Y)
        for test in splits:
            train = np.setdiff1d(np.arange(n), test)
            options = NystromOptions(n_centers=30, tol=1e-13, max_iter=2000)
            targets = with_ones(Y[train]) if intercept else Y[train]
            sol = solve_nystrom(X[train], targets, r.alpha, spec, options, centers=C, weights=ww[train])
            sol, b = split_intercept(sol, Y[train], ww[train]) if intercept else (sol, 0.0)
            E[test] = Y[test] - KernelMap(spec, C).block(X[test]) @ sol.dual_coef - b
        rmse = np.mean(np.sqrt((ww @ E**2) / ww.sum()))
        mae = np.mean((ww @ np.abs(E)) / ww.sum())
        r2 = np.mean(1 - (ww @ E**2) / (ww @ (Y - (ww @ Y) / ww.sum()) ** 2))
        assert r.rmse == pytest.approx(rmse, rel=1e-6) and r.mae == pytest.approx(mae, rel=1e-6)
        assert r.r2 == pytest.approx(r2, rel=1e-6)
        full = KernelRidge(
            gamma=r.gamma, alpha=r.alpha, solver="nystrom", n_centers=30, seed=4, fit_intercept=intercept
        )
        full.fit(X, Y, sample_weight=w)
        assert r.effective_dof == pytest.approx(full.effective_dof_, rel=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_gcv_with_an_intercept_is_its_formula_on_the_full_fit(weighted):
    from krrcli.selection import cross_validate

    X, Y, w = _data(70, seed=10)
    w = w if weighted else None
    report = cross_validate(X, Y, "rbf", [0.5], [1e-2, 1.0], method="gcv", refine=False, jobs=1, sample_weight=w,
                            fit_intercept=True)  # fmt: skip
    ww = np.ones(70) if w is None else w
    for r in report.results:
        full = KernelRidge(gamma=0.5, alpha=r.alpha, fit_intercept=True).fit(X, Y, sample_weight=w)
        R = Y - full.predict(X)
        expected = np.mean((ww @ R**2) / ww.sum()) / (1 - full.effective_dof_ / 70) ** 2
        assert r.gcv == pytest.approx(expected, rel=1e-9)


def test_krr_cv_intercept_scores_and_refits_it(krr, tmp_path):
    X, Y, _ = _data(80, seed=12)
    path = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y[:, 0]]))
    res = krr("cv", path, "--intercept", "-g", "0.5", "-a", "0.01,1", "--json", "-o", tmp_path / "m.joblib")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["intercept"] is True
    model = load_model(str(tmp_path / "m.joblib"))
    best = report["refined"] or report["best"]
    again = KernelRidge(gamma=0.5, alpha=best["alpha"], fit_intercept=True).fit(X, Y[:, 0])
    np.testing.assert_allclose(model.intercept_, again.intercept_, rtol=1e-10)
    plain = json.loads(krr("cv", path, "-g", "0.5", "-a", "0.01,1", "--json").stdout)
    assert plain["intercept"] is False and plain["best"]["rmse"] > 2 * report["best"]["rmse"]
    text = krr("cv", path, "--intercept", "-g", "0.5", "-a", "0.01,1")
    assert "rmse by leave-one-out, rbf kernel, 80 rows, with an intercept" in text.stdout
