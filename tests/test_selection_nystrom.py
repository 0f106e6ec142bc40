"""Cross-validation of the Nystrom model: the closed forms against brute-force refits on the same
centers, the accuracy check's fallback, `krr cv --solver nystrom` and auto's switch to it."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from krrcli import load_model
from krrcli.errors import EXIT_USAGE, KrrWarning
from krrcli.kernels import KernelMap, KernelSpec
from krrcli.metrics import residual_scores
from krrcli.selection import kfold_indices
from krrcli.selection import nystrom_cv as ncv
from krrcli.solvers.nystrom import LocalRows, NystromOptions, solve_nystrom

from .conftest import make_regression, write_csv

ALPHAS = np.array([1e-3, 1e-1, 10.0])


def _setting(n=90, m=20, kernel="rbf"):
    X, Y = make_regression(n, 3, 2, seed=31)
    spec = KernelSpec(kernel, 0.3, 2.0, 1.0)
    return X, Y, spec, ncv.nystrom_centers(LocalRows(X, Y), m, 0)


def _refit(X, Y, spec, alpha, centers):
    options = NystromOptions(n_centers=centers.shape[0], tol=1e-13, max_iter=5000)
    return solve_nystrom(X, Y, alpha, spec, options, centers)


@pytest.mark.parametrize("kernel", ["rbf", "laplacian", "polynomial"])
def test_kfold_closed_form_equals_refits_on_each_fold(kernel):
    X, Y, spec, C = _setting(kernel=kernel)
    folds = kfold_indices(X.shape[0], 4, 0)
    out, refits = ncv.score_nystrom_gamma(LocalRows(X, Y), spec, ALPHAS, C, folds, 0)
    E = np.empty((len(ALPHAS),) + Y.shape)
    for a, alpha in enumerate(ALPHAS):
        for test in folds:
            train = np.setdiff1d(np.arange(X.shape[0]), test)
            sol = _refit(X[train], Y[train], spec, alpha, C)
            E[a, test] = Y[test] - KernelMap(spec, C).block(X[test]) @ sol.dual_coef
    rmse, mae, r2 = residual_scores(Y, E)
    assert refits == 0
    np.testing.assert_allclose(out["rmse"], rmse, rtol=1e-7)
    np.testing.assert_allclose(out["mae"], mae, rtol=1e-7)
    np.testing.assert_allclose(out["r2"], r2, rtol=1e-6)
    full = [_refit(X, Y, spec, alpha, C).effective_dof for alpha in ALPHAS]
    np.testing.assert_allclose(out["dof"], full, rtol=1e-7)


def test_leave_one_out_and_gcv_equal_refits():
    X, Y, spec, C = _setting(n=50, m=12)
    out, _ = ncv.score_nystrom_gamma(LocalRows(X, Y), spec, ALPHAS, C, None, 0)
    n = X.shape[0]
    E = np.empty((len(ALPHAS),) + Y.shape)
    gcv = []
    for a, alpha in enumerate(ALPHAS):
        for i in range(n):
            rest = np.delete(np.arange(n), i)
            E[a, i] = Y[i] - KernelMap(spec, C).block(X[i : i + 1]) @ _refit(X[rest], Y[rest], spec, alpha, C).dual_coef
        full = _refit(X, Y, spec, alpha, C)
        gcv.append((np.sum((Y - full.fitted) ** 2, axis=0) / n).mean() / (1 - full.effective_dof / n) ** 2)
    np.testing.assert_allclose(out["rmse"], residual_scores(Y, E)[0], rtol=1e-7)
    np.testing.assert_allclose(out["gcv"], gcv, rtol=1e-7)


def test_inaccurate_cells_are_refitted_and_said(monkeypatch):
    X, Y, spec, C = _setting()
    folds = kfold_indices(X.shape[0], 3, 0)
    closed, _ = ncv.score_nystrom_gamma(LocalRows(X, Y), spec, ALPHAS, C, folds, 0)
    monkeypatch.setattr(ncv, "CLOSED_FORM_MAX_ERROR", 0.0)  # every cell fails the check
    refitted, refits = ncv.score_nystrom_gamma(LocalRows(X, Y), spec, ALPHAS, C, folds, 0)
    assert refits == len(ALPHAS) * len(folds)
    np.testing.assert_allclose(refitted["rmse"], closed["rmse"], rtol=1e-6)
    from krrcli.selection import cross_validate

    with pytest.warns(
        KrrWarning,
        match=r"failed its accuracy check for 9 \(fold, alpha\) cell\(s\); they were refitted by the nystrom solver",
    ):
        cross_validate(X, Y, gammas=[0.3], alphas=list(ALPHAS), folds=3, solver="nystrom", n_centers=20)


@pytest.fixture
def data(tmp_path):
    X, Y = make_regression(400, 3, seed=32)
    return write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))


def test_cli_cv_with_nystrom_and_the_refit_on_the_same_centers(krr, data, tmp_path):
    dest = tmp_path / "best.joblib"
    args = ["cv", data, "--solver", "nystrom", "--centers", "50", "--folds", "3", "-g", "0.1,0.5", "-a", "1e-3:1:4"]
    res = krr(*args, "-o", dest, "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["solver"] == "nystrom" and report["n_centers"] == 50 and report["strategy"] == "nystrom"
    assert len(report["results"]) == 8 and report["refined"] is None
    model = load_model(str(dest))
    assert model.solver_ == "nystrom" and model.centers_.shape == (50, 3)
    X = np.loadtxt(data, delimiter=",", skiprows=1)[:, :3]
    assert np.array_equal(model.centers_, ncv.nystrom_centers(LocalRows(X, X[:, :1]), 50, 0))
    table = krr(*args)
    assert table.exit_code == 0 and "3-fold (seed 0), rbf kernel, 400 rows, nystrom with 50 centers" in table.stdout
    loo = json.loads(krr("cv", data, "--solver", "nystrom", "--centers", "50", "-g", "0.5", "--gcv", "--json").stdout)
    assert loo["method"] == "gcv" and all(r["gcv"] is not None for r in loo["results"])


def test_auto_uses_nystrom_beyond_the_exact_range(krr, tmp_path, monkeypatch):
    import krrcli.selection as selection

    X, Y = make_regression(1200, 3, seed=33)
    data = write_csv(tmp_path / "big.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))
    res = krr("cv", data, "-g", "0.5", "-a", "0.1,1", "--json")
    assert json.loads(res.stdout)["solver"] == "exact" and "using nystrom" not in res.stderr
    monkeypatch.setattr(selection, "CV_EXACT_AUTO_MAX_ROWS", 1000)
    res = krr("cv", data, "-g", "0.5", "-a", "0.1,1", "--json")
    assert res.exit_code == 0
    report = json.loads(res.stdout)
    assert report["solver"] == "nystrom" and report["n_centers"] == 1000
    assert (
        "krr: warning: 1,200 rows: exact cross-validation would take minutes per gamma (more than 1,000 rows); "
        "using nystrom with 1,000 centers" in res.stderr
    )
    # with as many centers as rows the nystrom model is the exact one: auto keeps exact
    small = write_csv(tmp_path / "small.csv", ["a", "b", "c", "y"], np.column_stack([X, Y])[:900])
    monkeypatch.setattr(selection, "CV_EXACT_AUTO_MAX_ROWS", 500)
    assert json.loads(krr("cv", small, "-g", "0.5", "-a", "0.1,1", "--json").stdout)["solver"] == "exact"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--solver", "exact", "--centers", "10"], "--centers applies to the nystrom solver"),
        (["--solver", "nystrom", "--centers", "0"], "--centers must be an integer >= 1"),
        (["--solver", "nystrom", "--centers", "401"], "--centers 401 is more than the 400 rows"),
        (["--solver", "lsqr"], "unknown cv solver 'lsqr'"),
    ],
)
def test_bad_cv_solver_options_are_usage_errors(krr, data, tmp_path, extra, message):
    dest = tmp_path / "m.joblib"
    res = krr("cv", data, "-g", "0.5", *extra, "-o", dest)
    assert res.exit_code == EXIT_USAGE and message in res.stderr and "Traceback" not in res.stderr
    assert not dest.exists()


def test_a_kernel_that_cannot_be_scored_is_skipped():
    X, Y, _, _ = _setting()
    from krrcli.selection import cross_validate

    X = X * 1e200  # the polynomial kernel overflows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KrrWarning)
        with pytest.raises(Exception, match="no grid point could be scored"):
            cross_validate(
                X, Y, kernel="polynomial", gammas=[1.0], alphas=[0.1], folds=3, solver="nystrom", n_centers=10
            )


def test_a_leave_one_out_cell_that_fails_its_check_has_no_score_at_all(monkeypatch):
    X, Y, spec, C = _setting(n=60, m=15)
    monkeypatch.setattr(ncv, "CLOSED_FORM_MAX_ERROR", 0.0)
    out, bad = ncv.score_nystrom_gamma(LocalRows(X, Y), spec, ALPHAS, C, None, 0)
    assert bad == len(ALPHAS)
    assert np.isnan(out["rmse"]).all() and np.isnan(out["gcv"]).all() and np.isnan(out["dof"]).all()
