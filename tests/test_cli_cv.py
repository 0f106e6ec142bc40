"""krr cv through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.kernel_ridge import KernelRidge as SkKernelRidge

from krrcli import load_model, selection

from .conftest import make_regression, write_csv


@pytest.fixture
def data(tmp_path):
    X, Y = make_regression(45, 3, seed=51)
    return write_csv(tmp_path / "d.csv", ["a", "b", "c", "y"], np.column_stack([X, Y]))


def test_loo_json_contract(krr, data):
    res = krr("cv", data, "--gamma", "0.1,1", "--alpha", "1e-3:1e1:5", "--json")
    assert res.exit_code == 0, res.stderr
    r = json.loads(res.stdout)
    assert r["method"] == "loo" and r["folds"] == 45 and r["metric"] == "rmse"
    assert len(r["results"]) == 10
    assert {"gamma", "alpha", "rmse", "mae", "r2"} <= set(r["results"][0])
    assert r["best"]["rmse"] == min(x["rmse"] for x in r["results"])
    assert [x["alpha"] for x in r["results"][:5]] == [1e-3, 1e-2, 0.1, 1.0, 10.0]


def test_kfold_scores_equal_explicit_refits(krr, data):
    res = krr("cv", data, "-g", "0.5", "-a", "0.01,1", "--folds", "3", "--seed", "7", "--json")
    r = json.loads(res.stdout)
    assert r["method"] == "kfold" and r["folds"] == 3
    df = pd.read_csv(data)
    X, y = df[["a", "b", "c"]].to_numpy(), df["y"].to_numpy()
    for res_ in r["results"]:
        pred = np.empty_like(y)
        for test in selection.kfold_indices(len(y), 3, seed=7):
            train = np.setdiff1d(np.arange(len(y)), test)
            m = SkKernelRidge(kernel="rbf", gamma=0.5, alpha=res_["alpha"]).fit(X[train], y[train])
            pred[test] = m.predict(X[test])
        assert res_["rmse"] == pytest.approx(np.sqrt(np.mean((y - pred) ** 2)), rel=1e-8)


def test_human_table_and_best_line(krr, data):
    res = krr("cv", data, "-g", "0.1,1", "-a", "0.01,1")
    assert res.exit_code == 0
    assert "rmse by leave-one-out" in res.stdout
    assert "best: gamma" in res.stdout
    assert res.stdout.count("\n") > 4


def test_default_grid_sizes(krr, data):
    r = json.loads(krr("cv", data, "--json").stdout)
    assert len(r["gammas"]) == 7 and len(r["alphas"]) == 9 and len(r["results"]) == 63
    r = json.loads(krr("cv", data, "-k", "linear", "--json").stdout)
    assert r["gammas"] == [None] and len(r["results"]) == 9


def test_output_refits_best(krr, data, tmp_path):
    out = tmp_path / "best.joblib"
    res = krr("cv", data, "-g", "0.1,1", "-a", "0.01,1", "--metric", "r2", "--no-refine", "-o", out, "--json")
    r = json.loads(res.stdout)
    m = load_model(out)
    assert m.gamma_ == r["best"]["gamma"] and m.alpha == r["best"]["alpha"]
    assert r["best"]["r2"] == max(x["r2"] for x in r["results"])


def test_no_file_without_output(krr, data, tmp_path):
    before = set(tmp_path.iterdir())
    assert krr("cv", data, "-g", "1", "-a", "1", cwd=tmp_path).exit_code == 0
    assert set(tmp_path.iterdir()) == before


def test_loo_and_folds_conflict(krr, data):
    res = krr("cv", data, "--loo", "--folds", "3")
    assert res.exit_code == 2 and "exclude each other" in res.stderr


def test_table_in_a_narrow_terminal_is_split_not_truncated(krr, data, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    res = krr("cv", data, "-g", "0.1,1", "-a", "1e-4:1e2:7")
    assert res.exit_code == 0
    assert "…" not in res.stdout
    assert all(len(line.rstrip()) <= 40 for line in res.stdout.splitlines() if line.startswith(" "))  # table rows
    assert "100" in res.stdout and "0.0001" in res.stdout  # every alpha column is shown


def test_colours_follow_force_color_and_no_color(krr, data, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    coloured = krr("cv", data, "-g", "0.1,1", "-a", "0.01,1").stdout
    assert "\x1b[" in coloured and "32m" in coloured  # green for the best cells
    monkeypatch.setenv("NO_COLOR", "1")
    plain = krr("cv", data, "-g", "0.1,1", "-a", "0.01,1").stdout
    assert "32m" not in plain and "31m" not in plain


def test_progress_bar_on_a_terminal(krr, train_csv, monkeypatch):
    """On a terminal, stderr shows the bar with gammas done out of the total, never a missing total."""
    import sys

    from rich.console import Console

    import krrcli.cli.cv as cv_module

    monkeypatch.setattr(cv_module, "err", lambda: Console(file=sys.stderr, force_terminal=True, width=120))
    res = krr("cv", train_csv, "-g", "0.1,1", "-a", "0.01,1")
    assert res.exit_code == 0, res.stderr
    assert "cross-validating" in res.stderr and "2/2 gamma(s)" in res.stderr
    assert "None" not in res.stderr


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_edge_notes_go_to_stderr_one_line_each(krr, data, json_flag):
    res = krr("cv", data, "-g", "0.5", "-a", "10,100,1000", *json_flag)
    assert res.exit_code == 0, res.stderr
    notes = [line for line in res.stderr.splitlines() if line.startswith("krr: note: ")]
    assert any("best alpha is the smallest tried: extend the grid below 10" in n for n in notes), res.stderr
    assert "note" not in res.stdout.replace('"notes"', "")


def test_interpolating_grid_points_raise_no_numpy_warnings(krr, tmp_path):
    """A kernel that interpolates (dof = n) has an infinite GCV: no raw numpy warning on stderr."""
    data = tmp_path / "p.csv"
    data.write_text("a,b,y\n1,2,3\n2,3,1\n3,1,2\n4,4,4\n")
    res = krr("cv", data, "-k", "polynomial", "--degree", "20", "--json")
    assert res.exit_code == 0, res.stderr
    assert "warning" not in res.stderr, res.stderr
