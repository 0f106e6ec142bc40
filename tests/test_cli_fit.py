"""krr fit, driven as a user drives it."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.kernel_ridge import KernelRidge as SkKernelRidge

from krrcli import load_model

from .conftest import SAMPLE, make_regression, write_csv

DEMO_TRAIN = [0.3037, 0.8967, 0.4012, 0.7975]
DEMO_NEW = 0.4097


def test_reference_demo(krr, tmp_path):
    model = tmp_path / "demo.joblib"
    res = krr("fit", SAMPLE / "demo.csv", "--gamma", "1", "--alpha", "0.001", "-o", model)
    assert res.exit_code == 0, res.stderr
    train = krr("predict", model, SAMPLE / "demo.csv")
    assert [round(float(v), 4) for v in train.stdout.split()[1:]] == DEMO_TRAIN
    new = krr("predict", model, SAMPLE / "demo_new.csv")
    assert new.stdout.splitlines()[0] == "y_pred"
    assert round(float(new.stdout.splitlines()[1]), 4) == DEMO_NEW


def test_human_report(krr, train_csv, tmp_path):
    res = krr("fit", train_csv, "-g", "0.5", "-a", "0.1", "-o", tmp_path / "m.joblib")
    assert res.exit_code == 0
    assert "Fitted rbf kernel ridge on 60 rows x 3 feature(s)" in res.stdout
    assert "gamma 0.5, alpha 0.1" in res.stdout
    assert "effective dof" in res.stdout
    assert res.stderr == ""


def test_json_summary_keys_and_values(krr, train_csv, tmp_path):
    res = krr("fit", train_csv, "--json", "-o", tmp_path / "m.joblib", "--alpha", "0.5")
    s = json.loads(res.stdout)
    for key in (
        "model",
        "kernel",
        "gamma",
        "alpha",
        "degree",
        "coef0",
        "standardize",
        "n_samples",
        "n_features",
        "features",
        "targets",
        "train",
        "effective_dof",
        "seconds",
        "read_seconds",
    ):
        assert key in s
    assert s["seconds"] > 0 and s["read_seconds"] > 0
    assert s["gamma"] == pytest.approx(1 / 3)  # resolved default
    assert s["features"] == ["a", "b", "c"] and s["targets"] == ["y"]
    assert s["n_samples"] == 60 and s["n_features"] == 3
    assert set(s["train"]) >= {"rmse", "mae", "r2"}
    df = pd.read_csv(train_csv)
    ref = SkKernelRidge(kernel="rbf", alpha=0.5).fit(df[["a", "b", "c"]], df["y"])
    resid = df["y"] - ref.predict(df[["a", "b", "c"]])
    assert s["train"]["rmse"] == pytest.approx(float(np.sqrt(np.mean(resid**2))), rel=1e-9)


def test_linear_kernel_reports_null_gamma(krr, train_csv, tmp_path):
    s = json.loads(krr("fit", train_csv, "-k", "linear", "--json", "-o", tmp_path / "m.joblib").stdout)
    assert s["gamma"] is None and s["solver"] == "primal"


@pytest.mark.parametrize("n_targets", [1, 2])
@pytest.mark.parametrize("kernel", ["rbf", "laplacian", "polynomial", "linear", "sigmoid", "cosine"])
def test_cli_predictions_match_sklearn(krr, tmp_path, kernel, n_targets):
    X, Y = make_regression(50, 3, 2, seed=31)
    Y = Y[:, :n_targets]
    names = ["t1", "t2"][:n_targets]
    data = write_csv(tmp_path / "d.csv", ["p", "q", "r", *names], np.column_stack([X, Y]))
    X_new = np.random.default_rng(32).normal(size=(9, 3))
    new = write_csv(tmp_path / "new.csv", ["r", "p", "q"], X_new[:, [2, 0, 1]])  # columns in another order
    model = tmp_path / "m.joblib"
    args = ["fit", data, *[a for t in names for a in ("-t", t)], "-k", kernel, "-a", "0.3", "-o", model]
    if kernel in ("rbf", "laplacian", "polynomial", "sigmoid"):
        args += ["-g", "0.2"]
    assert krr(*args).exit_code == 0
    out = krr("predict", model, new)
    assert out.exit_code == 0, out.stderr
    pred = pd.read_csv(pd.io.common.StringIO(out.stdout))
    assert list(pred.columns) == [f"{t}_pred" for t in names]
    kw = {"gamma": 0.2} if kernel in ("rbf", "laplacian", "polynomial", "sigmoid") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SkKernelRidge(kernel=kernel, alpha=0.3, **kw).fit(X, Y if n_targets > 1 else Y[:, 0]).predict(X_new)
    ref = ref.reshape(len(X_new), n_targets)
    err = np.max(np.abs(pred.to_numpy() - ref)) / np.max(np.abs(ref))
    assert err < 1e-8


def test_features_and_target_options(krr, tmp_path):
    X, Y = make_regression(30, 3, seed=33)
    data = write_csv(tmp_path / "d.csv", ["y", "a", "b", "c"], np.column_stack([Y, X]))
    res = krr("fit", data, "-t", "y", "-f", "c,a", "--json", "-o", tmp_path / "m.joblib")
    s = json.loads(res.stdout)
    assert s["features"] == ["c", "a"] and s["targets"] == ["y"] and s["n_features"] == 2
    # repeated -f adds up, like -t
    res = krr("fit", data, "-t", "y", "-f", "c", "-f", "a,b", "--json", "-o", tmp_path / "m.joblib")
    assert json.loads(res.stdout)["features"] == ["c", "a", "b"]
    res = krr("fit", data, "-f", "c", "-f", "c", "-o", tmp_path / "m.joblib")
    assert res.exit_code == 2 and "--features names c more than once" in res.stderr


def test_standardize_is_stored_and_applied(krr, tmp_path):
    X, Y = make_regression(40, 2, seed=34)
    X = X * [1000.0, 0.001]
    data = write_csv(tmp_path / "d.csv", ["a", "b", "y"], np.column_stack([X, Y]))
    model = tmp_path / "m.joblib"
    assert krr("fit", data, "--standardize", "-g", "0.5", "-o", model).exit_code == 0
    m = load_model(model)
    assert m.standardize and m.mean_ is not None
    Xs = (X - X.mean(0)) / X.std(0)
    ref = SkKernelRidge(kernel="rbf", gamma=0.5).fit(Xs, Y[:, 0])
    np.testing.assert_allclose(m.predict(X), ref.predict(Xs), rtol=1e-9)


def test_stdin_and_separator(krr, tmp_path):
    text = (SAMPLE / "demo.csv").read_text().replace(",", ";")
    model = tmp_path / "m.joblib"
    res = krr("fit", "-", "--sep", ";", "-g", "1", "-a", "0.001", "-o", model, stdin=text)
    assert res.exit_code == 0, res.stderr
    out = krr("predict", model, SAMPLE / "demo_new.csv")
    assert round(float(out.stdout.split()[1]), 4) == DEMO_NEW


def test_alpha_zero_warns_once_on_stderr(krr, tmp_path):
    rows = [[0.0, 1.0], [0.0, 1.0], [1.0, 2.0], [2.0, 0.5]]  # a duplicated row: K is singular
    data = write_csv(tmp_path / "d.csv", ["x", "y"], rows)
    res = krr("fit", data, "-a", "0", "-o", tmp_path / "m.joblib", "--json")
    assert res.exit_code == 0
    assert res.stderr.count("krr: warning:") == 1
    assert json.loads(res.stdout)["solver"] == "eigh"


def test_poly_names_the_polynomial_kernel_on_the_command_line(krr, train_csv, tmp_path):
    res = krr("fit", train_csv, "--kernel", "poly", "--degree", "2", "-o", tmp_path / "m.joblib", "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["kernel"] == "polynomial"
    same = krr("fit", train_csv, "--kernel", "polynomial", "--degree", "2", "-o", tmp_path / "p.joblib")
    assert same.exit_code == 0
    np.testing.assert_array_equal(
        load_model(str(tmp_path / "m.joblib")).dual_coef_, load_model(str(tmp_path / "p.joblib")).dual_coef_
    )
    res = krr("fit", train_csv, "--kernel", "polly", "-o", tmp_path / "x.joblib")
    assert res.exit_code == 2 and "unknown kernel 'polly'" in res.stderr
