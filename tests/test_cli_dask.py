"""--engine dask: fit and predict on a Dask cluster give the local engine's numbers; its failures are one line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from krrcli import load_model
from krrcli.errors import EXIT_CLUSTER, EXIT_DATA, EXIT_USAGE

from .conftest import make_regression, write_csv

distributed = pytest.importorskip("distributed")  # (the test extra installs it: see pyproject.toml)

HEADER = ["a", "b", "c", "y"]


@pytest.fixture(scope="module")
def scheduler():
    """An in-process cluster of two single-threaded workers, shared by the module's tests."""
    import logging

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None, silence_logs=logging.CRITICAL
    )
    yield cluster.scheduler_address
    cluster.close()


def _parts(tmp_path, sizes=(700, 500, 600), targets=1, seed=5):
    X, Y = make_regression(sum(sizes), 3, targets=targets, seed=seed)
    header = HEADER[:3] + (["y"] if targets == 1 else [f"y{j}" for j in range(targets)])
    A = np.column_stack([X, Y])
    (tmp_path / "parts").mkdir(exist_ok=True)
    paths, start = [], 0
    for k, m in enumerate(sizes):
        paths.append(write_csv(tmp_path / "parts" / f"part-{k}.csv", header, A[start : start + m]))
        start += m
    return str(tmp_path / "parts" / "part-*.csv"), X, Y


def _fit_both(krr, tmp_path, scheduler, *args):
    pattern, X, _ = _parts(tmp_path, targets=2 if "-t" in args else 1)
    local = krr("fit", pattern, *args, "-o", tmp_path / "local.joblib", "--json")
    assert local.exit_code == 0, local.stderr
    dask = krr(
        "fit", pattern, *args, "--engine", "dask", "--scheduler", scheduler, "-o", tmp_path / "dask.joblib", "--json"
    )
    assert dask.exit_code == 0, dask.stderr
    return json.loads(local.stdout), json.loads(dask.stdout), local, dask, X


@pytest.mark.parametrize(
    "args",
    [
        ("--centers", "150", "--gamma", "0.5", "--alpha", "0.1"),
        ("--centers", "120", "--standardize"),
        ("--centers", "100", "-t", "y0", "-t", "y1", "--kernel", "laplacian"),
    ],
    ids=["nystrom", "standardized", "two-targets"],
)
def test_a_nystrom_fit_on_the_cluster_is_the_local_fit(krr, tmp_path, scheduler, args):
    """The same solve: the cluster adds the blocks' sums in another order, so two runs stopped at CG's
    default tolerance differ at that tolerance; run to 1e-12 they agree to 1e-10."""
    ls, ds, _, _, X = _fit_both(krr, tmp_path, scheduler, "--solver", "nystrom", "--tol", "1e-12", *args)
    local, dask = load_model(str(tmp_path / "local.joblib")), load_model(str(tmp_path / "dask.joblib"))
    # the same centers, by global row number (standardized: by a scaler merged from the partitions')
    np.testing.assert_allclose(local.centers_, dask.centers_, rtol=1e-13, atol=1e-13)
    expected = local.predict(X)
    np.testing.assert_allclose(dask.predict(X), expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max())
    for key in ("rmse", "mae", "r2"):
        assert ds["train"][key] == pytest.approx(ls["train"][key], rel=1e-10)
    # (the dof divides by K_MM's small eigenvalues: rounding in K_Mn K_nM shows from the 8th digit)
    assert ds["effective_dof"] == pytest.approx(ls["effective_dof"], rel=1e-6) and ds["effective_dof_exact"]
    assert ds["n_samples"] == 1800 and ds["solver"] == "nystrom"
    assert ds["solver_info"]["converged"] and ds["solver_info"]["residual"] <= 1e-12
    # (near the tolerance the order of the sums may cost or save a few iterations)
    iterations = ls["solver_info"]["iterations"]
    assert abs(ds["solver_info"]["iterations"] - iterations) <= max(2, 0.05 * iterations)


def test_at_the_default_tolerance_the_fits_agree_to_it(krr, tmp_path, scheduler):
    ls, ds, _, _, X = _fit_both(krr, tmp_path, scheduler, "--solver", "nystrom", "--centers", "150", "--alpha", "0.01")
    local, dask = load_model(str(tmp_path / "local.joblib")), load_model(str(tmp_path / "dask.joblib"))
    expected = local.predict(X)
    assert 0 < np.max(np.abs(dask.predict(X) - expected)) <= 1e-4 * np.abs(expected).max()
    assert ds["train"]["rmse"] == pytest.approx(ls["train"]["rmse"], rel=1e-6)


def test_a_small_fit_is_gathered_and_fitted_exactly_here(krr, tmp_path, scheduler):
    ls, ds, _, dask, X = _fit_both(krr, tmp_path, scheduler, "--alpha", "0.1")
    assert "small enough for the exact fit; gathering them from the cluster" in dask.stderr
    local, remote = load_model(str(tmp_path / "local.joblib")), load_model(str(tmp_path / "dask.joblib"))
    assert ds["solver"] == ls["solver"] == "cholesky"
    np.testing.assert_array_equal(remote.dual_coef_, local.dual_coef_)


def _cv_both(krr, tmp_path, scheduler, *args):
    pattern, X, Y = _parts(tmp_path, targets=2 if "-t" in args else 1)
    local = krr("cv", pattern, *args, "-o", tmp_path / "local.joblib", "--json")
    assert local.exit_code == 0, local.stderr
    dask = krr(
        "cv", pattern, *args, "--engine", "dask", "--scheduler", scheduler, "-o", tmp_path / "dask.joblib", "--json"
    )
    assert dask.exit_code == 0, dask.stderr
    return json.loads(local.stdout), json.loads(dask.stdout), dask, X


@pytest.mark.parametrize(
    "args",
    [
        ("--folds", "4", "--seed", "3"),
        ("--gcv", "--standardize"),
        ("--folds", "3", "--metric", "r2", "-t", "y0", "-t", "y1", "--kernel", "laplacian", "-g", "0.1,0.5"),
    ],
    ids=["kfold", "gcv-standardized", "two-targets"],
)
def test_nystrom_cv_on_the_cluster_is_the_local_cv(krr, tmp_path, scheduler, args):
    """The closed forms' sums come from the partitions (the fold of each row by its global number):
    every score the local engine's to 1e-10, the same best pair and the same refitted model. (The sums
    are added in another order, so the agreement is rounding times the M x M systems' condition: on
    this data two local runs with other block sizes differ by 6e-4 at gamma 0.1, alpha 0.1, and by
    2e-11 at most on this grid.)"""
    grid = ("--solver", "nystrom", "--centers", "120", "-g", "1,2", "-a", "0.1:10:3")
    ls, ds, _, X = _cv_both(krr, tmp_path, scheduler, *grid, *args)
    assert ds["n_samples"] == ls["n_samples"] == 1800 and ds["solver"] == "nystrom"
    assert (ds["method"], ds["folds"], ds["gammas"], ds["alphas"]) == (
        ls["method"],
        ls["folds"],
        ls["gammas"],
        ls["alphas"],
    )
    assert len(ds["results"]) == 6
    for mine, theirs in zip(ds["results"], ls["results"], strict=True):
        assert mine.keys() == theirs.keys()
        for key in ("rmse", "mae", "r2", "effective_dof", "gcv"):
            if key in theirs:
                assert mine[key] == pytest.approx(theirs[key], rel=1e-10), key
        if "rmse_folds" in theirs:
            np.testing.assert_allclose(mine["rmse_folds"], theirs["rmse_folds"], rtol=1e-10)
    assert (ds["best"]["gamma"], ds["best"]["alpha"]) == (ls["best"]["gamma"], ls["best"]["alpha"])
    local, dask = load_model(str(tmp_path / "local.joblib")), load_model(str(tmp_path / "dask.joblib"))
    # the same centers (standardized: by a scaler merged from the partitions')
    np.testing.assert_allclose(dask.centers_, local.centers_, rtol=1e-13, atol=1e-13)
    expected = local.predict(X)
    np.testing.assert_allclose(dask.predict(X), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_default_gammas_on_the_cluster_are_the_local_ones(krr, tmp_path, scheduler):
    ls, ds, _, _ = _cv_both(krr, tmp_path, scheduler, "--solver", "nystrom", "--centers", "80", "-a", "1,10")
    assert len(ds["gammas"]) == 7
    np.testing.assert_allclose(ds["gammas"], ls["gammas"], rtol=1e-13)
    # (the grid's smallest gammas make the M x M systems ill-conditioned: there the order of the sums shows
    # from the 7th digit, as between two local runs with other block sizes)
    np.testing.assert_allclose([r["rmse"] for r in ds["results"]], [r["rmse"] for r in ls["results"]], rtol=1e-6)


def test_a_small_cv_is_gathered_and_run_exactly_here(krr, tmp_path, scheduler):
    ls, ds, dask, _ = _cv_both(krr, tmp_path, scheduler, "-g", "0.5", "-a", "1e-2:1:3")
    assert "small enough for exact cross-validation; gathering them from the cluster" in dask.stderr
    assert ds["solver"] == ls["solver"] == "exact"
    assert [r["rmse"] for r in ds["results"]] == [r["rmse"] for r in ls["results"]]
    assert ds["refined"] == ls["refined"]


def test_a_cell_the_closed_form_fails_is_refitted_on_the_cluster(tmp_path, scheduler, monkeypatch):
    from krrcli import cv_csv
    from krrcli.errors import KrrWarning
    from krrcli.selection import nystrom_cv

    pattern, _, _ = _parts(tmp_path)
    args = dict(solver="nystrom", n_centers=60, gammas="1", alphas="0.1,1", folds=3)
    local = cv_csv(pattern, **args)
    monkeypatch.setattr(nystrom_cv, "CLOSED_FORM_MAX_ERROR", 0.0)  # every cell refitted by CG
    with pytest.warns(KrrWarning, match="6 \\(fold, alpha\\) cell\\(s\\); they were refitted"):
        dask = cv_csv(pattern, engine="dask", scheduler=scheduler, **args)
    # (CG to its default tolerance 1e-8, on the fold's rows gathered into new partitions)
    np.testing.assert_allclose([r["rmse"] for r in dask["results"]], [r["rmse"] for r in local["results"]], rtol=1e-6)


def test_predict_on_the_cluster_writes_the_local_output(krr, tmp_path, scheduler):
    pattern, _, _ = _parts(tmp_path)
    assert krr("fit", pattern, "--alpha", "0.1", "-o", tmp_path / "m.joblib").exit_code == 0
    local = krr("predict", tmp_path / "m.joblib", pattern, "--with-input")
    dask = krr("predict", tmp_path / "m.joblib", pattern, "--with-input", "--engine", "dask", "--scheduler", scheduler)
    assert dask.exit_code == 0, dask.stderr
    assert dask.stdout == local.stdout  # one header, the rows in input order, the same digits
    assert dask.stdout.count("a,b,c,y,y_pred") == 1 and len(dask.stdout.splitlines()) == 1801


def _with_holes(pattern, at):
    """Blank the cells ``at`` ((file, data row, column)) of the parts."""
    import glob

    files = sorted(glob.glob(pattern))
    for k, i, j in at:
        lines = open(files[k]).read().split("\n")
        cells = lines[1 + i].split(",")
        cells[j] = "NA"
        lines[1 + i] = ",".join(cells)
        open(files[k], "w").write("\n".join(lines))


def test_missing_values_on_the_cluster_as_locally(krr, tmp_path, scheduler):
    """--missing drop on the workers drops the rows the local engine drops (counted, first lines named in
    file order), and predict --missing empty/impute writes the local output, the rows counted on stderr."""
    pattern, _, _ = _parts(tmp_path)
    _with_holes(pattern, [(0, 3, 0), (1, 0, 3), (1, 10, 1), (2, 599, 2)])
    args = ("--solver", "nystrom", "--centers", "100", "--gamma", "1", "--alpha", "0.1", "--tol", "1e-12", "--json")
    local = krr("fit", pattern, *args, "--missing", "drop", "-o", tmp_path / "l.joblib")
    assert local.exit_code == 0, local.stderr
    dask = krr("fit", pattern, *args, "--missing", "drop", "--engine", "dask", "--scheduler", scheduler,
               "-o", tmp_path / "d.joblib")  # fmt: skip
    assert dask.exit_code == 0, dask.stderr
    lo, da = json.loads(local.stdout), json.loads(dask.stdout)
    assert lo["rows_dropped"] == da["rows_dropped"] == 4 and lo["n_samples"] == da["n_samples"] == 1796
    assert da["rows_dropped_lines"] == [5, 2, 12, 601]  # (each file's own line numbers)
    assert "dropped 4 row(s) with a missing value" in dask.stderr
    assert da["train"]["rmse"] == pytest.approx(lo["train"]["rmse"], rel=1e-9)
    np.testing.assert_allclose(load_model(str(tmp_path / "d.joblib")).feature_means_,
                               load_model(str(tmp_path / "l.joblib")).feature_means_, rtol=1e-12)  # fmt: skip
    assert krr("fit", pattern, "--engine", "dask", "--scheduler", scheduler, "-o", tmp_path / "e.joblib").exit_code == 3
    for policy in ("empty", "impute"):
        here = krr("predict", tmp_path / "l.joblib", pattern, "--missing", policy, "--with-input")
        there = krr("predict", tmp_path / "l.joblib", pattern, "--missing", policy, "--with-input", "--engine", "dask",
                    "--scheduler", scheduler)  # fmt: skip
        assert there.exit_code == 0, there.stderr
        assert there.stdout == here.stdout and len(there.stdout.splitlines()) == 1801
        assert "3 of 1,800 row(s) had a missing value" in there.stderr  # (the fourth is in y, not read)


def test_files_named_by_url_are_read_through_fsspec_by_either_engine(krr, tmp_path, scheduler):
    """A URL pattern (here file://, as s3:// or gs:// with their fsspec packages) is expanded on the client
    and each file read where the work runs; the fit is the one from the plain paths."""
    pattern, _, _ = _parts(tmp_path)
    url = "file://" + pattern
    args = ("--solver", "nystrom", "--centers", "100", "--gamma", "1", "--alpha", "0.1", "--tol", "1e-12", "--json")
    plain = json.loads(krr("fit", pattern, *args, "-o", tmp_path / "p.joblib").stdout)
    for engine in (("--engine", "local"), ("--engine", "dask", "--scheduler", scheduler)):
        res = krr("fit", url, *args, *engine, "-o", tmp_path / "u.joblib")
        assert res.exit_code == 0, res.stderr
        assert json.loads(res.stdout)["train"]["rmse"] == pytest.approx(plain["train"]["rmse"], rel=1e-10)
    missing = krr("fit", "file://" + str(tmp_path / "none-*.csv"), "--engine", "dask", "--scheduler", scheduler)
    assert missing.exit_code == EXIT_DATA and "no file matches" in missing.stderr
    unknown = krr("fit", "nosuchscheme://bucket/a.csv", "--engine", "dask", "--scheduler", scheduler)
    assert unknown.exit_code == EXIT_DATA and "nosuchscheme://bucket/a.csv" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1


def test_predict_writes_one_file_per_partition(krr, tmp_path, scheduler):
    pattern, _, _ = _parts(tmp_path)
    assert krr("fit", pattern, "--alpha", "0.1", "-o", tmp_path / "m.joblib").exit_code == 0
    (tmp_path / "out").mkdir()
    res = krr(
        "predict", tmp_path / "m.joblib", pattern, "-o", str(tmp_path / "out" / "part-*.csv"), "--engine", "dask",
        "--scheduler", scheduler, "--float-format", "%.6g",
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["part-0.csv", "part-1.csv", "part-2.csv"]
    whole = krr("predict", tmp_path / "m.joblib", pattern, "--float-format", "%.6g").stdout.splitlines()
    rows = []
    for name in written:
        lines = (tmp_path / "out" / name).read_text().splitlines()
        assert lines[0] == "y_pred"
        rows += lines[1:]
    assert [whole[0], *rows] == whole
    assert [len((tmp_path / "out" / n).read_text().splitlines()) - 1 for n in written] == [700, 500, 600]


def test_a_bad_cell_in_one_partition_is_named_and_no_file_is_written(krr, tmp_path, scheduler):
    pattern, _, _ = _parts(tmp_path)
    bad = tmp_path / "parts" / "part-1.csv"
    lines = bad.read_text().splitlines()
    lines[42] = "1.0,x,2.0,3.0"
    bad.write_text("\n".join(lines) + "\n")
    res = krr("fit", pattern, "--engine", "dask", "--scheduler", scheduler, "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_DATA
    assert res.stderr.strip() == f"krr: error: {bad}: line 43, column 'b': 'x' is not a number"
    assert not (tmp_path / "m.joblib").exists()
    assert krr("fit", pattern, "--alpha", "0.1", "-o", tmp_path / "m.joblib").exit_code == EXIT_DATA  # as locally
    (tmp_path / "out").mkdir()
    write_csv(tmp_path / "good.csv", HEADER, np.ones((5, 4)))
    assert krr("fit", tmp_path / "good.csv", "-o", tmp_path / "g.joblib").exit_code == 0
    res = krr(
        "predict", tmp_path / "g.joblib", pattern, "-o", str(tmp_path / "out" / "p-*.csv"), "--engine", "dask",
        "--scheduler", scheduler,
    )  # fmt: skip
    assert res.exit_code == EXIT_DATA and "line 43" in res.stderr
    assert list((tmp_path / "out").iterdir()) == []  # the good partitions' files are not left either


def test_a_header_that_differs_names_both_files(krr, tmp_path, scheduler):
    pattern, _, _ = _parts(tmp_path)
    odd = tmp_path / "parts" / "part-2.csv"
    text = odd.read_text().split("\n", 1)
    odd.write_text("b,a,c,y\n" + text[1])
    res = krr("fit", pattern, "--engine", "dask", "--scheduler", scheduler, "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_DATA
    first = tmp_path / "parts" / "part-0.csv"
    assert res.stderr.startswith(f"krr: error: {odd}: line 1: its header differs from {first}'s")
    local = krr("fit", pattern, "-o", tmp_path / "m.joblib")
    assert local.stderr == res.stderr


def test_an_unreachable_scheduler_is_one_line_and_exit_7(krr, tmp_path):
    pattern, _, _ = _parts(tmp_path)
    res = krr("fit", pattern, "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9", "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_CLUSTER
    assert res.stderr.startswith("krr: error: cannot reach the Dask scheduler at tcp://127.0.0.1:9: ")
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert not (tmp_path / "m.joblib").exists()


def test_progress_counts_the_partitions_read_the_iterations_and_the_partitions_predicted(tmp_path, scheduler):
    import io

    from krrcli import progress
    from krrcli.api import fit_csv, predict_csv

    pattern, _, _ = _parts(tmp_path)
    events = []
    with progress.listening(lambda *event: events.append(event)):
        summary = fit_csv(
            pattern, str(tmp_path / "m.joblib"), solver="nystrom", n_centers=60, alpha=1e-3, gamma=0.5,
            tol=1e-12, engine="dask", scheduler=scheduler,
        )  # fmt: skip
        predict_csv(str(tmp_path / "m.joblib"), pattern, stdout=io.StringIO(), engine="dask", scheduler=scheduler)
    reading = [e for e in events if e[0] == "dask: reading partitions"]
    assert [e[1] for e in reading] == [1, 2, 3, -1] and reading[0][2] == 3 and reading[-2][3] == "3 of 3 files"
    cg = [e for e in events if e[0] == "nystrom: conjugate gradient"]
    assert summary["solver_info"]["iterations"] > 0
    assert [e[1] for e in cg][-2:] == [summary["solver_info"]["iterations"], -1]
    assert cg[-2][3].startswith("residual ")
    predicting = [e for e in events if e[0] == "dask: predicting partitions"]
    assert [e[1] for e in predicting] == [1, 2, 3, -1]


def test_stdin_is_refused_by_the_dask_engine_as_a_usage_error(krr, tmp_path, scheduler):
    pattern, _, _ = _parts(tmp_path)
    text = (tmp_path / "parts" / "part-0.csv").read_text()
    res = krr("fit", "-", "--engine", "dask", "--scheduler", scheduler, "-o", tmp_path / "m.joblib", stdin=text)
    assert res.exit_code == EXIT_USAGE
    assert res.stderr.strip() == (
        "krr: error: standard input ('-') cannot be read by a cluster's workers; give files or URLs"
    )
    assert not (tmp_path / "m.joblib").exists()
    assert krr("fit", pattern, "--centers", "50", "--gamma", "0.5", "-o", tmp_path / "m.joblib").exit_code == 0
    res = krr("predict", tmp_path / "m.joblib", "-", "--engine", "dask", "--scheduler", scheduler, stdin=text)
    assert res.exit_code == EXIT_USAGE and "cannot be read by a cluster's workers" in res.stderr
    assert res.stdout == ""


def test_engine_options_are_checked_before_any_work(krr, tmp_path, monkeypatch):
    pattern, _, _ = _parts(tmp_path)
    res = krr("fit", pattern, "--scheduler", "tcp://127.0.0.1:9", "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_USAGE and "--scheduler is for --engine dask" in res.stderr
    res = krr("fit", pattern, "--engine", "spark", "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_USAGE and "--engine must be local or dask, got 'spark'" in res.stderr
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the dask extra were not installed
    res = krr("predict", tmp_path / "none.joblib", pattern, "--engine", "dask")
    assert res.exit_code == EXIT_USAGE
    assert res.stderr.strip() == (
        "krr: error: --engine dask needs Dask, which is not installed: pip install 'krrcli[dask]' "
        "(it brings dask[dataframe] and distributed)"
    )


def test_the_local_engine_never_imports_dask(tmp_path):
    pattern, _, _ = _parts(tmp_path)
    code = (
        "import sys\nfrom krrcli.cli import main\n"
        f"assert main(['fit', {pattern!r}, '-o', {str(tmp_path / 'm.joblib')!r}]) == 0\n"
        f"assert main(['predict', {str(tmp_path / 'm.joblib')!r}, {pattern!r}, "
        f"'-o', {str(tmp_path / 'p.csv')!r}]) == 0\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'fsspec')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"  # (after fit's report)


def test_worker_processes_give_the_same_fit(tmp_path):
    """A local cluster of worker processes (started by krr, as without --scheduler): every task and its
    arguments cross a process boundary."""
    from krrcli import fit_csv

    pattern, X, _ = _parts(tmp_path)
    args = dict(solver="nystrom", n_centers=100, gamma=0.5, alpha=0.1, tol=1e-12)
    fit_csv(pattern, str(tmp_path / "l.joblib"), **args)
    summary = fit_csv(pattern, str(tmp_path / "d.joblib"), engine="dask", **args)
    assert summary["n_samples"] == 1800
    local, dask = load_model(str(tmp_path / "l.joblib")), load_model(str(tmp_path / "d.joblib"))
    expected = local.predict(X)
    np.testing.assert_allclose(dask.predict(X), expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max())


def test_a_cluster_started_for_the_command_says_nothing_when_port_8787_is_busy(krr, tmp_path):
    """Without --scheduler krr starts its own cluster; another cluster's dashboard on the default port
    is no concern of the user's, so stderr stays empty and stdout is the local output."""
    import socket

    pattern, _, _ = _parts(tmp_path, sizes=(200, 150))
    assert krr("fit", pattern, "--alpha", "0.1", "-o", tmp_path / "m.joblib").exit_code == 0
    busy = socket.socket()
    try:
        busy.bind(("", 8787))
        busy.listen()
    except OSError:
        pass  # (already taken by something else: busy either way)
    try:
        res = krr("predict", tmp_path / "m.joblib", pattern, "--engine", "dask")
    finally:
        busy.close()
    assert res.exit_code == 0 and res.stderr == ""
    assert res.stdout == krr("predict", tmp_path / "m.joblib", pattern).stdout
