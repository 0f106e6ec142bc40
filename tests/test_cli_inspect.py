"""krr inspect: the report and its JSON."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from krrcli.persist import FORMAT_VERSION


def test_inspect_json_has_fit_keys(krr, model_file, train_csv, tmp_path):
    info = json.loads(krr("inspect", model_file, "--json").stdout)
    fit = json.loads(krr("fit", train_csv, "-g", "0.5", "-a", "0.1", "--json", "-o", tmp_path / "again.joblib").stdout)
    assert set(fit) <= set(info)
    assert info["read_seconds"] > 0 and info["seconds"] > 0
    for key in ("kernel", "gamma", "alpha", "n_samples", "features", "targets", "effective_dof"):
        assert info[key] == fit[key]
    assert info["train"] == fit["train"]
    assert info["format_version"] == FORMAT_VERSION and info["krr_version"]
    assert info["file_size"] == model_file.stat().st_size
    assert info["training_sha256"] == hashlib.sha256(train_csv.read_bytes()).hexdigest()
    assert info["created"].startswith("20")


def test_inspect_report(krr, model_file):
    res = krr("inspect", model_file)
    assert res.exit_code == 0
    for text in (
        "rbf kernel ridge on 60 rows",
        "gamma 0.5, alpha 0.1",
        "features       a, b, c",
        f"format         krr-model version {FORMAT_VERSION}",
        "file size",
        "created",
    ):
        assert text in res.stdout


def test_spectrum_of_an_indefinite_kernel_agrees_with_the_fit(krr, tmp_path):
    """A sigmoid kernel matrix has negative eigenvalues; the spectrum's dof is still the fit's own."""
    from sklearn.metrics.pairwise import sigmoid_kernel

    from .conftest import make_regression, write_csv

    X, Y = make_regression(80, 3, seed=5)
    data = write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))
    model = tmp_path / "s.joblib"
    fit = json.loads(krr("fit", data, "-k", "sigmoid", "-g", "0.5", "-a", "0.5", "--json", "-o", model).stdout)
    spec = json.loads(krr("inspect", model, "--spectrum", "--json").stdout)
    d = np.linalg.eigvalsh(sigmoid_kernel(X, gamma=0.5, coef0=1))
    assert np.sum(d < -1e-8) == spec["negative"] > 0
    assert spec["effective_dof"] == pytest.approx(np.sum(d / (d + 0.5)), rel=1e-8)
    assert spec["effective_dof"] == pytest.approx(fit["effective_dof"], rel=1e-8)
    assert spec["gamma"] == 0.5
    text = krr("inspect", model, "--spectrum").stdout
    assert f"{spec['negative']} negative eigenvalues" in text and "gamma 0.5" in text


def test_spectrum_of_a_positive_kernel_has_no_negative_eigenvalues(krr, model_file):
    spec = json.loads(krr("inspect", model_file, "--spectrum", "--json").stdout)
    assert spec["negative"] == 0 and spec["gamma"] == 0.5
    assert all(0 <= f <= 1 for f in spec["shrinkage"])
    assert "indefinite" not in krr("inspect", model_file, "--spectrum").stdout
