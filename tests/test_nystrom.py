"""The nystrom solver: exact at M = n, scikit-learn's Nystroem pipeline with the same centers,
convergence reported, bad options refused before any work."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import Ridge

import krrcli
from krrcli import KernelRidge
from krrcli.errors import EXIT_USAGE, KrrWarning
from krrcli.solvers.nystrom import default_centers

from .conftest import make_regression, write_csv


@pytest.mark.parametrize("kernel, params", [("rbf", dict(gamma=0.3)), ("laplacian", dict(gamma=0.2)), ("linear", {})])
@pytest.mark.parametrize("targets", [1, 2])
def test_with_every_row_a_center_it_is_exact_krr(kernel, params, targets):
    X, Y = make_regression(120, 3, targets, seed=4)
    y = Y[:, 0] if targets == 1 else Y
    ny = KernelRidge(kernel=kernel, alpha=0.05, solver="nystrom", n_centers=120, tol=1e-12, **params).fit(X, y)
    ex = KernelRidge(kernel=kernel, alpha=0.05, solver="cholesky", **params).fit(X, y)
    X_new = np.random.default_rng(5).normal(size=(30, 3))
    np.testing.assert_allclose(ny.predict(X_new), ex.predict(X_new), rtol=1e-8, atol=1e-10)
    assert ny.solver_info_["converged"] and ny.n_samples_fit_ == 120


def test_same_centers_as_scikit_learns_nystroem_pipeline():
    X, Y = make_regression(400, 4, seed=6)
    model = KernelRidge(gamma=0.4, alpha=0.1, solver="nystrom", n_centers=80, tol=1e-12, seed=3).fit(X, Y[:, 0])
    idx = np.sort(np.random.default_rng(3).choice(400, 80, replace=False))
    assert np.array_equal(model.centers_, X[idx])
    features = Nystroem(gamma=0.4, n_components=80).fit(X[idx])  # all 80 rows as components
    ridge = Ridge(alpha=0.1, fit_intercept=False).fit(features.transform(X), Y[:, 0])
    X_new = np.random.default_rng(7).normal(size=(40, 4))
    np.testing.assert_allclose(model.predict(X_new), ridge.predict(features.transform(X_new)), rtol=1e-6, atol=1e-8)
    assert model.n_samples_fit_ == 400 and model.centers_.shape == (80, 4)


def test_default_number_of_centers():
    assert default_centers(500) == 500
    assert default_centers(50_000) == 2236
    assert default_centers(10**9) == 10_000
    X, Y = make_regression(300, 2)
    assert KernelRidge(solver="nystrom", alpha=0.1).fit(X, Y[:, 0]).solver_info_["n_centers"] == 300


def test_not_converging_is_a_warning_and_is_recorded(monkeypatch):
    import krrcli.solvers.nystrom

    monkeypatch.setattr(krrcli.solvers.nystrom, "NORMAL_EQ_MAX_CENTERS", 0)  # CG from zero
    X, Y = make_regression(300, 3)
    with pytest.warns(KrrWarning, match="stopped after 2 iterations"):
        model = KernelRidge(gamma=1.0, alpha=1e-6, solver="nystrom", n_centers=100, max_iter=2).fit(X, Y[:, 0])
    info = model.solver_info_
    assert info["iterations"] == 2 and not info["converged"] and info["residual"] > info["tol"]


def test_duplicated_rows_as_centers_give_a_finite_model():
    """Repeated rows make K_MM singular: the jitter keeps the factorization going, no NaN is saved."""
    X = np.repeat(np.random.default_rng(0).normal(size=(20, 2)), 5, axis=0)
    y = np.sin(X[:, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KrrWarning)
        model = KernelRidge(gamma=0.5, alpha=0.01, solver="nystrom", n_centers=60).fit(X, y)
    assert np.all(np.isfinite(model.dual_coef_)) and np.all(np.isfinite(model.predict(X)))


def test_through_the_cli_model_file_and_inspect(krr, tmp_path):
    X, Y = make_regression(500, 3, seed=8)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))
    dest = tmp_path / "ny.joblib"
    res = krr("fit", data, "--solver", "nystrom", "--centers", "50", "--alpha", "0.1", "-o", dest, "--json")
    assert res.exit_code == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["solver"] == "nystrom" and summary["n_samples"] == 500
    assert summary["solver_info"]["n_centers"] == 50 and summary["solver_info"]["converged"] is True
    model = krrcli.load_model(str(dest))
    assert model.centers_.shape == (50, 3) and model.n_samples_fit_ == 500
    report = krr("inspect", dest)
    assert "nystrom (float64), 50 centers (given)" in report.stdout and "CG iterations" in report.stdout
    pred = krr("predict", dest, data)
    assert pred.exit_code == 0 and len(pred.stdout.splitlines()) == 501


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--centers", "0"], "--centers must be an integer >= 1"),
        (["--centers", "501"], "more than the 500 training rows"),
        (["--tol", "0"], "--tol must be between 0 and 1"),
        (["--tol", "1.5"], "--tol must be between 0 and 1"),
        (["--max-iter", "0"], "--max-iter must be an integer >= 1"),
        (["--alpha", "0"], "the nystrom solver needs alpha > 0"),
    ],
)
def test_bad_options_are_usage_errors_and_write_nothing(krr, tmp_path, args, fragment):
    X, Y = make_regression(500, 3, seed=9)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))
    dest = tmp_path / "ny.joblib"
    res = krr("fit", data, "--solver", "nystrom", *args, "-o", dest)
    assert res.exit_code == EXIT_USAGE, res.stderr
    assert fragment in res.stderr and "Traceback" not in res.stderr
    assert not dest.exists()


# -- auto: exact while it fits and is quick, else nystrom ------------------------------------
def test_auto_stays_exact_under_the_bound():
    X, Y = make_regression(1500, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert KernelRidge(alpha=0.1).fit(X, Y[:, 0]).solver_ == "cholesky"


def test_auto_uses_nystrom_beyond_the_row_bound(monkeypatch):
    import krrcli.estimator

    monkeypatch.setattr(krrcli.estimator, "EXACT_AUTO_MAX_ROWS", 1000)
    X, Y = make_regression(1500, 3)
    with pytest.warns(
        KrrWarning, match=r"1,500 rows: the exact fit would take over a minute .*using nystrom with 1,000 centers"
    ):
        model = KernelRidge(alpha=0.1).fit(X, Y[:, 0])
    assert model.solver_ == "nystrom" and model.solver_info_["n_centers"] == 1000
    # an explicit solver is never switched
    assert KernelRidge(alpha=0.1, solver="cholesky").fit(X, Y[:, 0]).solver_ == "cholesky"


def test_auto_uses_nystrom_when_the_exact_fit_does_not_fit_in_memory(krr, tmp_path, monkeypatch):
    X, Y = make_regression(3000, 3, seed=2)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))
    monkeypatch.setenv("KRR_MEMORY_LIMIT", "100M")  # the exact fit needs 134 MiB, nystrom about 70
    dest = tmp_path / "m.joblib"
    res = krr("fit", data, "--alpha", "0.1", "-o", dest)
    assert res.exit_code == 0, res.stderr
    assert res.stderr.strip().splitlines() == [
        "krr: warning: 3,000 rows: the exact fit needs 133.5 MiB; using nystrom with 1,000 centers"
    ]
    assert "nystrom (float64), 1,000 centers" in res.stdout
    # with an explicit exact solver the preflight refuses, as before
    res = krr("fit", data, "--alpha", "0.1", "--solver", "cholesky", "-o", tmp_path / "e.joblib")
    assert res.exit_code == 6 and "random sample of at most" in res.stderr


@pytest.mark.parametrize("start", ["normal equations", "zero"])
def test_streamed_rows_give_the_same_model(monkeypatch, start):
    """K_nM not kept (several blocks per pass): CG from zero or from the one-pass normal equations."""
    import krrcli.solvers.nystrom as ny

    X, Y = make_regression(400, 3, 2, seed=11)
    kept = KernelRidge(gamma=0.3, alpha=0.05, solver="nystrom", n_centers=60, tol=1e-12).fit(X, Y)
    monkeypatch.setattr(ny, "KNM_CACHE_BYTES", 0)
    monkeypatch.setattr(ny, "BLOCK_BYTES", 8 * 60 * 70)  # 70 rows a block for K_Mn K_nM
    monkeypatch.setattr(ny, "PASS_BLOCK_BYTES", 8 * 60 * 33)  # 33 for the passes of CG
    if start == "zero":
        monkeypatch.setattr(ny, "NORMAL_EQ_MAX_CENTERS", 0)
    streamed = KernelRidge(gamma=0.3, alpha=0.05, solver="nystrom", n_centers=60, tol=1e-12).fit(X, Y)
    assert streamed.solver_info_["knm_kept"] is False
    assert streamed.solver_info_["method"].startswith("normal" if start != "zero" else "preconditioned")
    X_new = np.random.default_rng(12).normal(size=(25, 3))
    np.testing.assert_allclose(streamed.predict(X_new), kept.predict(X_new), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(streamed.effective_dof_, kept.effective_dof_, rtol=1e-8)


def test_spectrum_of_a_nystrom_model_says_what_it_shows(krr, tmp_path):
    X, Y = make_regression(300, 3, seed=13)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))
    dest = tmp_path / "ny.joblib"
    assert krr("fit", data, "--solver", "nystrom", "--centers", "40", "--alpha", "0.1", "-o", dest).exit_code == 0
    res = krr("inspect", dest, "--spectrum")
    assert res.exit_code == 0 and "on the model's 40 centers (K_MM; of 300 training rows)" in res.stdout
    spec = json.loads(krr("inspect", dest, "--spectrum", "--json").stdout)
    assert spec["n_samples"] == 40 and spec["n_samples_fit"] == 300 and len(spec["eigenvalues"]) == 40


@pytest.mark.parametrize("kept", [True, False])
def test_training_scores_are_those_of_the_final_model(monkeypatch, kept):
    """CG carries the fitted values along its steps instead of a last pass: they must be the model's."""
    import krrcli.solvers.nystrom as ny
    from krrcli.metrics import regression_scores

    monkeypatch.setattr(ny, "NORMAL_EQ_MAX_CENTERS", 0)  # CG from zero: many steps to add up
    if not kept:
        monkeypatch.setattr(ny, "KNM_CACHE_BYTES", 0)
        monkeypatch.setattr(ny, "PASS_BLOCK_BYTES", 8 * 50 * 17)
    X, Y = make_regression(300, 3, 2, seed=21)
    model = KernelRidge(gamma=0.5, alpha=0.01, solver="nystrom", n_centers=50, tol=1e-10).fit(X, Y)
    assert model.solver_info_["iterations"] > 10
    direct = regression_scores(Y, model.predict(X))
    for key in ("rmse", "mae", "r2"):
        np.testing.assert_allclose(model.train_scores_[key], direct[key], rtol=1e-9)


def test_progress_of_reading_and_iterations_reaches_a_listener(tmp_path):
    from krrcli import progress
    from krrcli.api import fit_csv

    X, Y = make_regression(500, 3, seed=22)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))
    events = []
    with progress.listening(lambda *event: events.append(event)):
        summary = fit_csv(str(data), str(tmp_path / "m.joblib"), solver="nystrom", n_centers=40, alpha=0.1)
    reading = [e for e in events if e[0] == f"reading {data}"]
    assert reading[-2][1:3] == (500, None) and reading[-2][3] == "500 rows" and reading[-1][1] == -1
    cg = [e for e in events if e[0] == "nystrom: conjugate gradient"]
    iterations = summary["solver_info"]["iterations"]
    assert [e[1] for e in cg] == list(range(iterations + 1)) + [-1]
    assert cg[0][2] == 200 and cg[-2][3].startswith("residual ")
    gram = [e for e in events if e[0] == "nystrom: K_nM"]  # kept in memory: built once
    assert gram[-2][1:4] == (500, 500, "500 of 500 rows") and gram[-1][1] == -1
    # (and the pass for the exact dof, K_Mn K_nM); nothing listens outside the block
    labels = {e[0] for e in events}
    assert labels == {f"reading {data}", "nystrom: conjugate gradient", "nystrom: K_nM", "nystrom: K_Mn K_nM"}
    seen = len(events)
    fit_csv(str(data), str(tmp_path / "m2.joblib"), solver="nystrom", n_centers=40, alpha=0.1)
    assert len(events) == seen


def test_progress_of_the_normal_equations_pass_when_rows_are_streamed(monkeypatch):
    import krrcli.solvers.nystrom as ny
    from krrcli import progress

    monkeypatch.setattr(ny, "KNM_CACHE_BYTES", 0)
    monkeypatch.setattr(ny, "BLOCK_BYTES", 8 * 40 * 100)  # 100 rows a block
    X, Y = make_regression(450, 3, seed=30)
    events = []
    with progress.listening(lambda *event: events.append(event)):
        KernelRidge(solver="nystrom", n_centers=40, alpha=0.1).fit(X, Y[:, 0])
    gram = [e[1] for e in events if e[0] == "nystrom: K_Mn K_nM"]
    assert gram == [100, 200, 300, 400, 450, -1]


def test_standardize_in_place_only_on_arrays_krr_read_itself(tmp_path):
    from krrcli.api import fit_csv, load_model
    from krrcli.data import ArrayRows

    X, Y = make_regression(300, 3, seed=23)
    X = X * [1.0, 100.0, 0.01] + [5.0, -200.0, 0.0]
    data = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))
    fit_csv(str(data), str(tmp_path / "m.joblib"), solver="nystrom", n_centers=50, alpha=0.1, standardize=True)
    from_csv = load_model(str(tmp_path / "m.joblib"))
    kept = X.copy()
    rows = ArrayRows(X, Y, features=["a", "b", "c"], targets=["y"])
    model = KernelRidge(solver="nystrom", n_centers=50, alpha=0.1, standardize=True).fit_rows(rows)
    assert np.array_equal(X, kept)  # the caller's arrays are left alone
    X_new = np.random.default_rng(24).normal(size=(20, 3)) * [1.0, 100.0, 0.01]
    np.testing.assert_allclose(from_csv.predict(X_new), model.predict(X_new), rtol=1e-10)
    np.testing.assert_allclose(from_csv.mean_, X.mean(axis=0), rtol=1e-12)


def test_centers_too_many_for_memory_are_refused_before_any_work(krr, tmp_path, monkeypatch):
    X, Y = make_regression(3000, 3, seed=25)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))
    dest = tmp_path / "ny.joblib"
    monkeypatch.setenv("KRR_MEMORY_LIMIT", "100M")  # 2,500 centers: five 2,500 x 2,500 matrices are 250 MB
    res = krr("fit", data, "--solver", "nystrom", "--centers", "2500", "--alpha", "0.1", "-o", dest)
    assert res.exit_code == 6 and "Traceback" not in res.stderr
    assert "fitting 3,000 rows (2,500 centers, 2,500 x 2,500 matrices)" in res.stderr
    assert not dest.exists()


@pytest.mark.parametrize("alpha", [1e-3, 1e-6, 1e-9])
def test_small_alpha_converges_to_exact_krr_or_says_it_did_not(alpha):
    """Small alpha: the normal equations lose accuracy (their start's residual shows it) and CG has
    a harder system; either the solve reaches the tolerance and is exact KRR at M = n, or it warns."""
    X, Y = make_regression(200, 3, seed=26)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", KrrWarning)
        ny = KernelRidge(gamma=0.5, alpha=alpha, solver="nystrom", n_centers=200, max_iter=500).fit(X, Y[:, 0])
    info = ny.solver_info_
    assert np.all(np.isfinite(ny.dual_coef_))
    if info["converged"]:
        assert not caught
        ex = KernelRidge(gamma=0.5, alpha=alpha, solver="eigh").fit(X, Y[:, 0])
        X_new = np.random.default_rng(27).normal(size=(30, 3))
        scale = np.abs(ex.predict(X_new)).max()
        assert np.abs(ny.predict(X_new) - ex.predict(X_new)).max() <= 1e-4 * scale
    else:
        assert any("stopped after 500 iterations" in str(w.message) for w in caught)
    if alpha == 1e-3:
        assert info["converged"]


def test_interrupted_fit_leaves_no_model_and_no_temporary_file(tmp_path):
    """Ctrl-C while a nystrom fit reads a pipe: exit 130, one line, nothing in the output folder or TMPDIR."""
    import os
    import signal
    import subprocess
    import sys
    import time

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    args = [
        sys.executable,
        "-m",
        "krrcli",
        "fit",
        "-",
        "--solver",
        "nystrom",
        "--centers",
        "20",
        "-o",
        out / "m.joblib",
    ]
    proc = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    rows = "".join(f"{i % 7},{i % 5},{i % 3}\n" for i in range(60_000))
    proc.stdin.write("a,b,y\n" + rows)
    proc.stdin.flush()
    time.sleep(1.5)  # reading: the pipe is still open
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["krr: interrupted (SIGINT)"]
    assert not list(out.iterdir()) and not list(tmp.iterdir())


@pytest.mark.parametrize("kept", [True, False])
def test_float32_rounds_the_kernel_only_and_checks_its_residual_in_float64(monkeypatch, kept):
    import krrcli.solvers.nystrom as ny

    if not kept:
        monkeypatch.setattr(ny, "KNM_CACHE_BYTES", 0)
    X, Y = make_regression(1500, 4, 2, seed=28)
    X_new = np.random.default_rng(29).normal(size=(100, 4))
    m64 = KernelRidge(gamma=0.2, alpha=0.1, solver="nystrom", n_centers=200).fit(X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", KrrWarning)
        m32 = KernelRidge(gamma=0.2, alpha=0.1, solver="nystrom", n_centers=200, dtype="float32").fit(X, Y)
    assert m32.dtype_ == "float32" and m32.solver_info_["knm_kept"] is kept
    assert m32.solver_info_["converged"] and m32.solver_info_["residual"] <= ny.FLOAT32_TOL
    ref = m64.predict(X_new)
    assert np.abs(m32.predict(X_new) - ref).max() <= 1e-3 * np.abs(ref).max()  # as float32 does for the exact fit
    assert not m32.effective_dof_exact_ and m32.effective_dof_ == pytest.approx(m64.effective_dof_, rel=1e-4)
    # a residual above the bound: refitted in float64, said and recorded
    monkeypatch.setattr(ny, "FLOAT32_MAX_RESIDUAL", 0.0)
    with pytest.warns(KrrWarning, match="float32 nystrom solve's relative residual .* solving in float64 instead"):
        again = KernelRidge(gamma=0.2, alpha=0.1, solver="nystrom", n_centers=200, dtype="float32").fit(X, Y)
    assert again.dtype_ == "float64" and again.fallbacks_[0].startswith("float32 -> float64")
    np.testing.assert_allclose(again.predict(X_new), ref, rtol=1e-10)


@pytest.mark.parametrize("kept", [True, False])
def test_beyond_the_exact_bound_the_dof_is_a_marked_hutchinson_estimate(krr, tmp_path, monkeypatch, kept):
    import krrcli.solvers.nystrom as ny

    X, Y = make_regression(3000, 3, seed=34)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))
    args = ["--solver", "nystrom", "--centers", "300", "--alpha", "0.01", "--gamma", "1", "--json"]
    if not kept:
        monkeypatch.setattr(ny, "KNM_CACHE_BYTES", 0)
        monkeypatch.setattr(ny, "NORMAL_EQ_MAX_CENTERS", 0)  # streamed and from zero: no K_Mn K_nM at hand
    exact = json.loads(krr("fit", data, *args, "-o", tmp_path / "a.joblib").stdout)
    assert exact["effective_dof_exact"] and "dof_stderr" not in exact["solver_info"]
    monkeypatch.setattr(ny, "DOF_EXACT_MAX_FLOPS", 0)
    est = json.loads(krr("fit", data, *args, "-o", tmp_path / "b.joblib").stdout)
    assert not est["effective_dof_exact"]
    err = est["solver_info"]["dof_stderr"]
    # within four standard errors of the exact value; the error is about what S's spectrum in [0, 1]
    # allows, sqrt(2 dof / probes) at most (the probes' sample spread is itself within ~25% of the truth)
    assert abs(est["effective_dof"] - exact["effective_dof"]) <= 4 * err
    assert 0 < err <= 1.5 * np.sqrt(2 * exact["effective_dof"] / ny.DOF_PROBES)
    # the same data and seed give the same estimate; the model itself is the same
    again = json.loads(krr("fit", data, *args, "-o", tmp_path / "c.joblib").stdout)
    assert again["effective_dof"] == est["effective_dof"]
    assert est["train"] == exact["train"]
    res = krr("fit", data, *args[:-1], "-o", tmp_path / "d.joblib")
    assert f"(Hutchinson estimate, standard error {err:.4g})" in res.stdout, res.stdout
    assert "Hutchinson estimate, standard error" in krr("inspect", tmp_path / "d.joblib").stdout


def test_float32_kernel_values_that_overflow_are_refitted_in_float64(monkeypatch):
    """Rows far from the origin: float32's exponent overflows; the fit is redone in float64, never saved as NaN."""
    import krrcli.solvers.nystrom as ny

    monkeypatch.setattr(ny, "KNM_CACHE_BYTES", 0)  # streamed: the normal equations' pass sees it first
    rng = np.random.default_rng(35)
    X, y = 1e5 + rng.normal(size=(600, 20)), rng.normal(size=600)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.warns(KrrWarning, match="float32 kernel values are not finite .* solving in float64 instead"):
            model = KernelRidge(gamma=0.05, solver="nystrom", n_centers=50, dtype="float32").fit(X, y)
    assert model.dtype_ == "float64" and np.isfinite(model.dual_coef_).all()
