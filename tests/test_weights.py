"""Sample weights: minimize sum_i w_i (y_i - f(x_i))^2 + alpha ||f||^2, with every solver, the API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge as SkKernelRidge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

import krrcli
from krrcli import DataError, KernelRidge, load_model
from krrcli.kernels import KernelSpec

from .conftest import make_regression, write_csv

DATA = Path(__file__).resolve().parent / "data"


def _weighted(n=150, seed=0, zeros=7):
    X, Y = make_regression(n, 3, targets=2, seed=seed)
    w = np.random.default_rng(seed).uniform(0.05, 3.0, size=n)
    w[:zeros] = 0.0
    return X, Y, w


@pytest.mark.parametrize(
    ("kernel", "solver", "dtype", "rtol"),
    [
        ("rbf", "cholesky", "float64", 1e-10),
        ("laplacian", "eigh", "float64", 1e-10),
        ("polynomial", "cholesky", "float64", 1e-10),
        ("linear", "primal", "float64", 1e-10),
        ("rbf", "nystrom", "float64", 1e-8),  # M = n: exact KRR, by CG to 1e-12
        ("rbf", "cholesky", "float32", 1e-4),
    ],
)
def test_weighted_fits_are_scikit_learns(kernel, solver, dtype, rtol):
    X, Y, w = _weighted()
    opts = {"tol": 1e-12, "max_iter": 500} if solver == "nystrom" else {}
    ours = KernelRidge(kernel=kernel, gamma=0.4, alpha=0.05, solver=solver, dtype=dtype, **opts)
    ours.fit(X, Y, sample_weight=w)
    theirs = SkKernelRidge(kernel=kernel, gamma=0.4, alpha=0.05).fit(X, Y, sample_weight=w)
    P = theirs.predict(X)
    np.testing.assert_allclose(ours.predict(X), P, rtol=rtol, atol=rtol * np.abs(P).max())
    assert ours.n_samples_fit_ == 143 and ours.rows_zero_weight_ == 7 and ours.sample_weights_ == "sample_weight"
    # training scores weighted as scikit-learn's metrics weight them (rows of weight 0 count for nothing)
    keep = w > 0
    Pk, Yk, wk = ours.predict(X[keep]), Y[keep], w[keep]
    tol = dict(rel=1e-9) if dtype == "float64" else dict(rel=1e-3)
    rmse = np.mean([np.sqrt(mean_squared_error(Yk[:, j], Pk[:, j], sample_weight=wk)) for j in range(2)])
    assert ours.train_scores_["rmse"] == pytest.approx(rmse, **tol)
    assert ours.train_scores_["mae"] == pytest.approx(mean_absolute_error(Yk, Pk, sample_weight=wk), **tol)
    assert ours.train_scores_["r2"] == pytest.approx(r2_score(Yk, Pk, sample_weight=wk), **tol)


def test_weighted_nystrom_solves_its_normal_equations():
    """With M < n: b = (K_Mn W K_nM + alpha K_MM)^-1 K_Mn W y, on the centers the fit drew."""
    X, Y, w = _weighted(400, seed=3, zeros=0)
    model = KernelRidge(gamma=0.5, alpha=0.2, solver="nystrom", n_centers=60, tol=1e-12, max_iter=500)
    model.fit(X, Y, sample_weight=w)
    C = model.centers_
    spec = KernelSpec("rbf", 0.5, 3.0, 1.0)
    from krrcli.kernels import KernelMap

    K_nM = KernelMap(spec, C).block(X)
    K_MM = spec.gram(C)
    b = np.linalg.solve(K_nM.T @ (w[:, None] * K_nM) + 0.2 * K_MM, K_nM.T @ (w[:, None] * Y))
    np.testing.assert_allclose(model.dual_coef_, b, rtol=1e-6, atol=1e-8 * np.abs(b).max())
    fitted = K_nM @ b
    resid = Y - fitted
    rmse = np.mean(np.sqrt((w @ resid**2) / w.sum()))
    assert model.train_scores_["rmse"] == pytest.approx(rmse, rel=1e-8)


def test_weight_zero_is_a_row_left_out_and_weight_two_a_row_twice():
    X, Y, w = _weighted(80, seed=5, zeros=10)
    model = KernelRidge(gamma=0.5, alpha=0.1)
    a = model.fit(X, Y, sample_weight=w).predict(X)
    b = KernelRidge(gamma=0.5, alpha=0.1).fit(X[10:], Y[10:], sample_weight=w[10:]).predict(X)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    twice = np.ones(80)
    twice[:20] = 2.0
    c = KernelRidge(gamma=0.5, alpha=0.1).fit(X, Y, sample_weight=twice).predict(X)
    Xd, Yd = np.vstack([X, X[:20]]), np.vstack([Y, Y[:20]])
    d = KernelRidge(gamma=0.5, alpha=0.1).fit(Xd, Yd).predict(X)
    np.testing.assert_allclose(c, d, rtol=1e-9, atol=1e-10)
    ones = KernelRidge(gamma=0.5, alpha=0.1).fit(X, Y, sample_weight=np.ones(80)).predict(X)
    np.testing.assert_allclose(ones, KernelRidge(gamma=0.5, alpha=0.1).fit(X, Y).predict(X), rtol=1e-12)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (np.full(30, -1.0), "sample_weight must be finite and >= 0"),
        (np.zeros(30), "sample_weight is zero for every row"),
        (np.ones(29), r"sample_weight must have shape \(30,\)"),
        (np.full(30, np.nan), "sample_weight must be finite and >= 0"),
    ],
)
def test_bad_weights_are_data_errors(weights, message):
    X, Y = make_regression(30, 2)
    with pytest.raises(DataError, match=message):
        KernelRidge().fit(X, Y[:, 0], sample_weight=weights)


@pytest.fixture
def weighted_csv(tmp_path):
    X, Y, w = _weighted(120, seed=8)
    rows = np.column_stack([X[:, 0], w, X[:, 1:], Y[:, 0]])
    return write_csv(tmp_path / "w.csv", ["a", "wt", "b", "c", "y"], rows), X, Y[:, 0], w


def test_krr_fit_weights_column(krr, tmp_path, weighted_csv):
    path, X, y, w = weighted_csv
    res = krr("fit", path, "--weights", "wt", "--gamma", "0.4", "--alpha", "0.05", "-o", tmp_path / "m.joblib")
    assert res.exit_code == 0, res.stderr
    assert "  weights        column wt (7 row(s) of weight 0 left out)\n" in res.stdout
    assert "on 113 rows x 3 feature(s)" in res.stdout
    model = load_model(str(tmp_path / "m.joblib"))
    assert model.feature_names_in_ == ["a", "b", "c"]  # the weights column is not a feature
    theirs = SkKernelRidge(kernel="rbf", gamma=0.4, alpha=0.05).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(model.predict(X), theirs.predict(X), rtol=1e-10, atol=1e-12)
    info = json.loads(krr("inspect", tmp_path / "m.joblib", "--json").stdout)
    assert info["sample_weights"] == "wt" and info["rows_zero_weight"] == 7 and info["n_samples"] == 113
    assert info["format_version"] == 4
    # predict reads the features by name: a file with the weights column (or without it) predicts the same
    pred = krr("predict", tmp_path / "m.joblib", path)
    assert pred.exit_code == 0, pred.stderr
    np.testing.assert_allclose(np.loadtxt(pred.stdout.splitlines()[1:]), theirs.predict(X), rtol=1e-10)


def test_bad_weights_columns_are_named(krr, tmp_path, weighted_csv):
    path, *_ = weighted_csv
    lines = path.read_text().splitlines()
    cells = lines[5].split(",")
    cells[1] = "-0.5"
    lines[5] = ",".join(cells)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    out = tmp_path / "m.joblib"
    res = krr("fit", bad, "--weights", "wt", "-o", out)
    assert res.exit_code == 3
    assert (
        res.stderr.strip() == f"krr: error: {bad}, line 6, column 'wt': weight -0.5 is negative; weights must be >= 0"
    )
    res = krr("fit", path, "--weights", "nope", "-o", out)
    assert res.exit_code == 3 and "weights column 'nope' not found; columns are: a, wt, b, c, y" in res.stderr
    res = krr("fit", path, "--weights", "y", "-o", out)
    assert res.exit_code == 2 and "column 'y' is given both as the weights and as a target" in res.stderr
    res = krr("fit", path, "--weights", "wt", "-f", "a,wt", "-o", out)
    assert res.exit_code == 2 and "column 'wt' is given both as the weights and as a feature" in res.stderr
    zero = tmp_path / "zero.csv"
    zero.write_text("a,wt,y\n1,0,2\n2,0,3\n3,0,1\n")
    res = krr("fit", zero, "--weights", "wt", "-o", out)
    assert res.exit_code == 3 and f"{zero}: column 'wt' (--weights) is 0 on every row" in res.stderr
    res = krr("fit", path, "--weights", "wt", "--engine", "dask", "-o", out)
    assert res.exit_code == 2 and "--weights is not supported with --engine dask yet" in res.stderr
    assert not out.exists()


def test_a_version_2_file_still_loads(tmp_path):
    """tests/data/model_v2.joblib: written by format 2 (`krr fit v1_train.csv --standardize -g 0.5 -a 0.01`)."""
    old = load_model(str(DATA / "model_v2.joblib"))
    assert old.sample_weights_ is None and old.rows_zero_weight_ == 0
    train = np.loadtxt(DATA / "v1_train.csv", delimiter=",", skiprows=1)
    new = KernelRidge(gamma=0.5, alpha=0.01, standardize=True).fit(train[:, :3], train[:, 3])
    np.testing.assert_allclose(old.predict(train[:, :3]), new.predict(train[:, :3]), rtol=1e-12, atol=1e-12)
    import joblib

    record = joblib.load(DATA / "model_v2.joblib")
    record["sample_weights"] = "w"  # a version-3 entry in a version-2 file
    path = tmp_path / "v2_plus.joblib"
    joblib.dump(record, path)
    with pytest.raises(krrcli.ModelFileError, match="entry 'sample_weights' is not part of the krr model format"):
        load_model(str(path))


# -- cv with weights: the closed forms against weighted refits ---------------------------------------------
def _weighted_brute_force(X, Y, w, gamma, alpha, splits, **model):
    """Pooled weighted held-out scores of refits on each split's training rows (weighted)."""
    E = np.empty_like(Y)
    for test in splits:
        train = np.setdiff1d(np.arange(len(Y)), test)
        fit = KernelRidge(gamma=gamma, alpha=alpha, **model).fit(X[train], Y[train], sample_weight=w[train])
        E[test] = Y[test] - fit.predict(X[test]).reshape(len(test), -1)
    rmse = np.mean(np.sqrt((w @ E**2) / w.sum()))
    mae = np.mean((w @ np.abs(E)) / w.sum())
    r2 = np.mean(1 - (w @ E**2) / (w @ (Y - (w @ Y) / w.sum()) ** 2))
    return rmse, mae, r2


@pytest.mark.parametrize("folds", [None, 4])
def test_weighted_cv_closed_forms_equal_weighted_refits(folds):
    from krrcli.selection import cross_validate, kfold_indices

    X, Y, w = _weighted(60, seed=11, zeros=5)
    report = cross_validate(
        X, Y, "rbf", [0.3, 1.0], [1e-2, 1.0], folds=folds, seed=2, sample_weight=w, refine=False, jobs=1
    )
    keep = w > 0
    Xk, Yk, wk = X[keep], Y[keep], w[keep]
    splits = [np.array([i]) for i in range(55)] if folds is None else kfold_indices(55, folds, 2)
    assert report.n_samples == 55
    for r in report.results:
        rmse, mae, r2 = _weighted_brute_force(Xk, Yk, wk, r.gamma, r.alpha, splits)
        assert r.rmse == pytest.approx(rmse, rel=1e-8) and r.mae == pytest.approx(mae, rel=1e-8)
        assert r.r2 == pytest.approx(r2, rel=1e-8)
    # weights change the scores (so the test above tests something)
    plain = cross_validate(X, Y, "rbf", [0.3, 1.0], [1e-2, 1.0], folds=folds, seed=2, refine=False, jobs=1)
    assert abs(plain.results[0].rmse - report.results[0].rmse) > 1e-4


def test_krr_cv_weights_column_and_refit(krr, tmp_path, weighted_csv):
    path, X, y, w = weighted_csv
    res = krr("cv", path, "--weights", "wt", "-g", "0.4", "-a", "0.05,0.5", "--json", "-o", tmp_path / "m.joblib")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["sample_weights"] == "wt" and report["n_samples"] == 113
    assert report["features"] == ["a", "b", "c"]
    model = load_model(str(tmp_path / "m.joblib"))
    assert model.sample_weights_ == "wt" and model.rows_zero_weight_ == 7
    best = report["refined"] or report["best"]
    theirs = SkKernelRidge(kernel="rbf", gamma=0.4, alpha=best["alpha"]).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(model.predict(X), theirs.predict(X), rtol=1e-9, atol=1e-11)
    text = krr("cv", path, "--weights", "wt", "-g", "0.4", "-a", "0.05,0.5")
    assert text.exit_code == 0 and "rmse by leave-one-out, rbf kernel, 113 rows, weighted by wt" in text.stdout
