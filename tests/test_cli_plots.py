"""Figures: cv --plot and inspect --spectrum --plot write real PNGs, or fail before any work."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from .conftest import make_regression, write_csv


@pytest.fixture
def data(tmp_path):
    X, Y = make_regression(40, 3, seed=81)
    return write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))


def _check_png(path, min_width=300):
    import matplotlib.image as mpimg

    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[1] >= min_width and img.shape[0] >= 200
    assert float(np.std(img[..., :3])) > 0.02  # not blank


@pytest.mark.parametrize("gammas", ["0.1,0.5,2", "0.5"])
def test_cv_plot_heatmap_and_curve(krr, data, tmp_path, gammas):
    png = tmp_path / "cv.png"
    res = krr("cv", data, "-g", gammas, "-a", "1e-3:1e1:5", "--plot", png)
    assert res.exit_code == 0, res.stderr
    _check_png(png)


def test_inspect_spectrum_text_json_and_plot(krr, model_file, tmp_path):
    res = krr("inspect", model_file, "--spectrum")
    assert res.exit_code == 0, res.stderr
    assert "Spectrum of the rbf kernel on 60 training rows" in res.stdout
    spec = json.loads(krr("inspect", model_file, "--spectrum", "--json").stdout)
    info = json.loads(krr("inspect", model_file, "--json").stdout)
    assert len(spec["eigenvalues"]) == 60
    assert spec["effective_dof"] == pytest.approx(info["effective_dof"], rel=1e-8)
    assert spec["kept"] + spec["shrunk"] + spec["suppressed"] == 60
    png = tmp_path / "spec.png"
    assert krr("inspect", model_file, "--spectrum", "--plot", png).exit_code == 0
    _check_png(png)


def test_plot_without_matplotlib_fails_before_work(krr, data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "best.joblib"
    res = krr("cv", data, "--plot", tmp_path / "x.png", "-o", out)
    assert res.exit_code == 2
    assert "pip install 'krrcli[plot]'" in res.stderr
    assert not out.exists() and not (tmp_path / "x.png").exists()


def test_cv_gcv_and_refined_json(krr, data, tmp_path):
    out = tmp_path / "m.joblib"
    r = json.loads(krr("cv", data, "--gcv", "-g", "0.5", "-a", "1e-3:1e1:5", "--json", "-o", out).stdout)
    assert r["method"] == "gcv" and r["metric"] == "gcv"
    assert all("gcv" in x and x["effective_dof"] > 0 for x in r["results"])
    assert r["refined"]["gcv"] <= r["best"]["gcv"] + 1e-12
    from krrcli import load_model

    assert load_model(out).alpha == pytest.approx(r["refined"]["alpha"])


def test_kfold_json_has_rmse_folds(krr, data):
    r = json.loads(krr("cv", data, "--folds", "4", "-g", "0.5", "-a", "0.1,1", "--json").stdout)
    assert all(len(x["rmse_folds"]) == 4 for x in r["results"])
    assert r["refined"] is None


def test_spectrum_plot_of_an_indefinite_kernel(krr, data, tmp_path):
    model, png = tmp_path / "s.joblib", tmp_path / "spec.png"
    assert krr("fit", data, "-k", "sigmoid", "-g", "0.5", "-a", "0.5", "-o", model).exit_code == 0
    res = krr("inspect", model, "--spectrum", "--plot", png)
    assert res.exit_code == 0, res.stderr
    assert "negative eigenvalues" in res.stdout
    _check_png(png)
