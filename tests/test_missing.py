"""--missing: what fit, cv and predict do with a row that has a missing value, driven through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from krrcli import load_model
from krrcli.errors import EXIT_DATA, EXIT_USAGE

from .conftest import make_regression, write_csv

DATA = Path(__file__).parent / "data"
HEADER = ["a", "b", "c", "y"]
pytestmark = pytest.mark.usefixtures("both_parsers")  # every test with either CSV parser
MISSING = ["", "NA", "NaN", "nan", "null", "  NA ", '""']
NOT_MISSING = ["N/A", "None", "NAN", "-nan", "NULL", "na", "#N/A"]


def _rows(n=40, seed=3):
    X, Y = make_regression(n, 3, seed=seed)
    return np.column_stack([X, Y])


def _text(A: np.ndarray) -> list[list[str]]:
    return [[repr(float(v)) for v in row] for row in A]


def _write(path: Path, header: list[str], cells: list[list[str]]) -> Path:
    path.write_text(",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in cells))
    return path


def _holes(A, at, cell=""):
    """The rows of ``A`` as text with ``cell`` at each (row, column) of ``at``."""
    cells = _text(A)
    for i, j in at:
        cells[i][j] = cell
    return cells


def _predictions(text: str) -> np.ndarray:
    lines = text.strip("\n").split("\n")[1:]
    return np.array([float(v) for v in lines])


# -- fit and cv: error (the default) and drop ------------------------------------------------------


@pytest.mark.parametrize("cell", MISSING)
def test_fit_names_a_missing_cell_by_default(krr, tmp_path, cell):
    data = _write(tmp_path / "d.csv", HEADER, _holes(_rows(), [(5, 1)], cell))
    res = krr("fit", data, "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_DATA
    shown = " (NaN)" if cell in ("NaN", "nan") else ""  # the message is the one from before --missing
    line = f"krr: error: {data}: line 7, column 'b': missing value{shown}; every feature and target cell needs a number"
    assert res.stderr == line + "\n"
    assert not (tmp_path / "m.joblib").exists()


@pytest.mark.parametrize("solver", ["cholesky", "eigh", "nystrom"])
@pytest.mark.parametrize("cell", MISSING)
def test_drop_fits_exactly_the_file_without_those_rows(krr, tmp_path, cell, solver):
    A = _rows()
    at = [(0, 0), (5, 1), (6, 3), (30, 2)]  # a feature, a feature, the target, a feature
    holes = _write(tmp_path / "holes.csv", HEADER, _holes(A, at, cell))
    clean = write_csv(tmp_path / "clean.csv", HEADER, np.delete(A, [0, 5, 6, 30], axis=0))
    args = ["-g", "0.3", "-a", "0.1", "--solver", solver] + (["--centers", "20"] if solver == "nystrom" else [])
    res = krr("fit", holes, *args, "--missing", "drop", "-o", tmp_path / "h.joblib", "--json")
    assert res.exit_code == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["rows_dropped"] == 4 and summary["rows_dropped_lines"] == [2, 7, 8, 32]
    assert summary["rows_dropped_files"] == [str(holes)] * 4
    assert summary["n_samples"] == 36
    assert "dropped 4 row(s) with a missing value (--missing drop); line(s) 2, 7, 8, 32" in res.stderr
    assert krr("fit", clean, *args, "-o", tmp_path / "c.joblib").exit_code == 0
    new = write_csv(tmp_path / "new.csv", HEADER[:3], _rows(15, seed=9)[:, :3])
    got = krr("predict", tmp_path / "h.joblib", new).stdout
    assert got == krr("predict", tmp_path / "c.joblib", new).stdout


def test_drop_matches_scikit_learn_on_the_rows_kept(krr, tmp_path):
    from sklearn.kernel_ridge import KernelRidge

    A = _rows(60)
    holes = _write(tmp_path / "d.csv", HEADER, _holes(A, [(3, 0), (10, 3), (11, 2)], "NA"))
    res = krr("fit", holes, "-g", "0.5", "-a", "0.01", "--missing", "drop", "-o", tmp_path / "m.joblib")
    assert res.exit_code == 0, res.stderr
    keep = np.delete(A, [3, 10, 11], axis=0)
    ref = KernelRidge(kernel="rbf", gamma=0.5, alpha=0.01).fit(keep[:, :3], keep[:, 3])
    Xn = _rows(20, seed=4)[:, :3]
    np.testing.assert_allclose(load_model(str(tmp_path / "m.joblib")).predict(Xn), ref.predict(Xn), rtol=1e-9)


def test_drop_keeps_a_row_missing_only_an_unused_column(krr, tmp_path):
    A = _rows()
    data = _write(tmp_path / "d.csv", HEADER, _holes(A, [(4, 2), (9, 2)]))  # column c, not a feature here
    res = krr("fit", data, "-f", "a,b", "--missing", "drop", "-o", tmp_path / "m.joblib", "--json")
    assert res.exit_code == 0, res.stderr
    s = json.loads(res.stdout)
    assert s["rows_dropped"] == 0 and s["n_samples"] == 40 and s["rows_dropped_lines"] == []
    assert "dropped" not in res.stderr
    # and without --missing drop too: an unused column is not read
    assert krr("fit", data, "-f", "a,b", "-o", tmp_path / "m2.joblib").exit_code == 0


def test_drop_leaves_out_a_row_with_a_missing_weight(krr, tmp_path):
    A = np.column_stack([_rows(), np.linspace(0.5, 2, 40)])
    data = _write(tmp_path / "d.csv", [*HEADER, "w"], _holes(A, [(7, 4)], "null"))
    res = krr("fit", data, "-t", "y", "-f", "a,b,c", "-w", "w", "--missing", "drop", "-o", tmp_path / "m.joblib",
              "--json")  # fmt: skip
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["rows_dropped"] == 1 and json.loads(res.stdout)["n_samples"] == 39


def test_drop_of_every_row_is_a_data_error_and_writes_nothing(krr, tmp_path):
    A = _rows(5)
    data = _write(tmp_path / "d.csv", HEADER, _holes(A, [(i, 3) for i in range(5)]))
    for command in ("fit", "cv"):
        res = krr(command, data, "--missing", "drop", "-o", tmp_path / "m.joblib")
        assert res.exit_code == EXIT_DATA, res.stderr
        assert "every one of its 5 data row(s) has a missing value" in res.stderr
        assert not (tmp_path / "m.joblib").exists()
    one_left = _write(tmp_path / "one.csv", HEADER, _holes(A, [(i, 0) for i in range(4)]))
    res = krr("fit", one_left, "--missing", "drop", "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_DATA
    assert "1 data row(s) left after dropping 4 with a missing value; need at least 2" in res.stderr
    three_left = _write(tmp_path / "three.csv", HEADER, _holes(A, [(0, 1), (1, 2)]))
    res = krr("cv", three_left, "--missing", "drop", "--folds", "4")
    assert res.exit_code == EXIT_DATA
    assert "has 3 data rows left after dropping 2 with a missing value, too few for 4 folds" in res.stderr


def test_drop_names_the_first_five_lines_and_counts_them_all(krr, tmp_path):
    data = _write(tmp_path / "d.csv", HEADER, _holes(_rows(), [(i, 1) for i in range(0, 40, 5)]))
    res = krr("fit", data, "--missing", "drop", "-o", tmp_path / "m.joblib")
    assert res.exit_code == 0, res.stderr
    assert "dropped 8 row(s) with a missing value (--missing drop); line(s) 2, 7, 12, 17, 22, ..." in res.stderr
    assert "8 row(s) with a missing value left out (line(s) 2, 7, 12, 17, 22, ...)" in res.stdout
    info = json.loads(krr("inspect", tmp_path / "m.joblib", "--json").stdout)
    assert info["rows_dropped"] == 8 and info["rows_dropped_lines"] == [2, 7, 12, 17, 22]
    assert "8 row(s) with a missing value left out" in krr("inspect", tmp_path / "m.joblib").stdout


def test_drop_reads_stdin_and_several_files(krr, tmp_path):
    A = _rows()
    cells = _holes(A, [(2, 0), (25, 3)], "NaN")
    text = ",".join(HEADER) + "\n" + "".join(",".join(r) + "\n" for r in cells)
    res = krr("fit", "-", "--missing", "drop", "-o", tmp_path / "s.joblib", "--json", stdin=text)
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["rows_dropped"] == 2
    _write(tmp_path / "p-0.csv", HEADER, cells[:20])
    _write(tmp_path / "p-1.csv", HEADER, cells[20:])
    res = krr("fit", str(tmp_path / "p-*.csv"), "--missing", "drop", "-o", tmp_path / "p.joblib", "--json")
    s = json.loads(res.stdout)
    assert s["rows_dropped"] == 2 and s["rows_dropped_lines"] == [4, 7] and s["n_samples"] == 38
    assert s["rows_dropped_files"] == [str(tmp_path / "p-0.csv"), str(tmp_path / "p-1.csv")]
    where = f"{tmp_path / 'p-0.csv'} line 4, {tmp_path / 'p-1.csv'} line 7"  # each line with its file
    assert where in res.stderr
    assert f"2 row(s) with a missing value left out ({where})" in krr("inspect", tmp_path / "p.joblib").stdout


@pytest.mark.parametrize("cell", NOT_MISSING)
@pytest.mark.parametrize("policy", ["error", "drop"])
def test_other_spellings_are_not_numbers_under_every_policy(krr, tmp_path, cell, policy):
    data = _write(tmp_path / "d.csv", HEADER, _holes(_rows(), [(3, 2)], cell))
    res = krr("fit", data, "--missing", policy, "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_DATA
    assert f"line 5, column 'c': {cell!r} is not a number" in res.stderr
    assert "a missing value is written as an empty cell, NA, NaN, nan or null" in res.stderr
    assert not (tmp_path / "m.joblib").exists()


@pytest.mark.parametrize("cell", ["inf", "-inf", "1e999", "x"])
def test_infinite_and_text_cells_stay_errors_with_drop(krr, tmp_path, cell):
    data = _write(tmp_path / "d.csv", HEADER, _holes(_rows(), [(3, 1), (8, 0)], cell))
    data.write_text(data.read_text().replace("\n,", "\nNA,", 1))  # and a missing cell before them
    res = krr("fit", data, "--missing", "drop", "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_DATA
    assert "line 5, column 'b'" in res.stderr
    assert ("infinite value" in res.stderr) == (cell != "x")


def test_cv_drop_scores_the_rows_kept(krr, tmp_path):
    A = _rows(50)
    holes = _write(tmp_path / "h.csv", HEADER, _holes(A, [(1, 1), (20, 3)]))
    clean = write_csv(tmp_path / "c.csv", HEADER, np.delete(A, [1, 20], axis=0))
    grid = ["-g", "0.1,1", "-a", "0.01,1", "--json"]
    res = krr("cv", holes, *grid, "--missing", "drop", "-o", tmp_path / "best.joblib")
    assert res.exit_code == 0, res.stderr
    got, ref = json.loads(res.stdout), json.loads(krr("cv", clean, *grid).stdout)
    assert got["rows_dropped"] == 2 and got["rows_dropped_lines"] == [3, 22] and got["n_samples"] == 48
    assert [r["rmse"] for r in got["results"]] == [r["rmse"] for r in ref["results"]]
    assert load_model(str(tmp_path / "best.joblib")).rows_dropped_ == 2
    assert "(2 with a missing value left out)" in krr("cv", holes, "-g", "1", "--missing", "drop").stdout


def test_the_policy_is_checked(krr, tmp_path):
    data = write_csv(tmp_path / "d.csv", HEADER, _rows())
    for command, policy in (("fit", "skip"), ("cv", "impute"), ("fit", "empty")):
        res = krr(command, data, "--missing", policy, "-o", tmp_path / "m.joblib")
        assert res.exit_code == EXIT_USAGE and "--missing must be error or drop" in res.stderr
    assert krr("fit", data, "-o", tmp_path / "m.joblib").exit_code == 0
    res = krr("predict", tmp_path / "m.joblib", data, "--missing", "drop")
    assert res.exit_code == EXIT_USAGE and "--missing must be error, empty or impute" in res.stderr


# -- predict: error, empty, impute -------------------------------------------------------------------


@pytest.fixture
def fitted(krr, tmp_path):
    data = write_csv(tmp_path / "train.csv", HEADER, _rows(60))
    assert krr("fit", data, "-g", "0.4", "-a", "0.05", "--standardize", "-o", tmp_path / "m.joblib").exit_code == 0
    return tmp_path / "m.joblib"


def test_predict_names_a_missing_cell_by_default_and_writes_nothing(krr, tmp_path, fitted):
    new = _write(tmp_path / "new.csv", HEADER[:3], _holes(_rows(10)[:, :3], [(6, 2)], "NA"))
    res = krr("predict", fitted, new, "-o", tmp_path / "out.csv")
    assert res.exit_code == EXIT_DATA
    assert "new.csv: line 8, column 'c': missing value" in res.stderr
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("chunk", ["10000", "3"])
def test_predict_empty_keeps_the_rows_aligned(krr, tmp_path, fitted, chunk):
    X = _rows(12)[:, :3]
    holes = [(0, 1), (4, 0), (5, 2), (11, 0)]
    new = _write(tmp_path / "new.csv", HEADER[:3], _holes(X, holes))
    clean = write_csv(tmp_path / "clean.csv", HEADER[:3], X)
    res = krr("predict", fitted, new, "--missing", "empty", "--chunk-size", chunk)
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.split("\n")
    assert lines[0] == "y_pred" and len(lines) == 14 and lines[-1] == ""
    ref = krr("predict", fitted, clean, "--chunk-size", chunk).stdout.split("\n")
    for i in range(12):
        assert lines[1 + i] == ('""' if i in (0, 4, 5, 11) else ref[1 + i])
    assert "4 of 12 row(s) had a missing value: their predictions are left empty (--missing empty)" in res.stderr
    import io

    import pandas as pd

    back = pd.read_csv(io.StringIO(res.stdout))  # (a reader keeps every row: none is a blank line)
    assert len(back) == 12 and back["y_pred"].isna().sum() == 4


def test_predict_empty_with_input_keeps_the_input_line(krr, tmp_path, fitted):
    X = _rows(6)[:, :3]
    cells = _holes(X, [(2, 1)], "NA")
    new = _write(tmp_path / "new.csv", ["id", *HEADER[:3]], [[f"r{i}", *row] for i, row in enumerate(cells)])
    res = krr("predict", fitted, new, "--missing", "empty", "--with-input", "-o", tmp_path / "out.csv")
    assert res.exit_code == 0, res.stderr
    out = (tmp_path / "out.csv").read_text().split("\n")
    assert out[0] == "id,a,b,c,y_pred"
    assert out[3] == "r2," + ",".join(cells[2]) + ","
    assert all(line.startswith(f"r{i},") and not line.endswith(",") for i, line in enumerate(out[1:7]) if i != 2)


def test_predict_empty_leaves_every_output_column_empty(krr, tmp_path):
    A = np.column_stack([_rows(50), _rows(50, seed=8)[:, 3]])
    data = write_csv(tmp_path / "t.csv", [*HEADER, "z"], A)
    model = tmp_path / "k.joblib"
    assert krr("fit", data, "-t", "y", "-t", "z", "-g", "0.5", "--keep-factor", "-o", model).exit_code == 0
    new = _write(tmp_path / "new.csv", HEADER[:3], _holes(_rows(4)[:, :3], [(1, 0)]))
    res = krr("predict", model, new, "--missing", "empty", "--std", "--effects")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.split("\n")
    width = len(lines[0].split(","))
    assert width == 2 + 2 + 6
    assert lines[2] == "," * (width - 1)
    assert all(len(line.split(",")) == width and "" not in line.split(",") for line in (lines[1], lines[3], lines[4]))


def test_predict_impute_fills_the_training_means(krr, tmp_path, fitted):
    model = load_model(str(fitted))
    train = _rows(60)[:, :3]
    np.testing.assert_allclose(model.feature_means_, train.mean(axis=0), rtol=1e-12)
    X = _rows(8, seed=11)[:, :3]
    new = _write(tmp_path / "new.csv", HEADER[:3], _holes(X, [(2, 0), (2, 2), (6, 1)], "nan"))
    res = krr("predict", fitted, new, "--missing", "impute")
    assert res.exit_code == 0, res.stderr
    filled = X.copy()
    filled[2, 0], filled[2, 2], filled[6, 1] = model.feature_means_[0], model.feature_means_[2], model.feature_means_[1]
    np.testing.assert_allclose(_predictions(res.stdout), model.predict(filled), rtol=1e-12, atol=1e-14)
    assert "2 of 8 row(s) had a missing value: filled in with the training means (--missing impute)" in res.stderr


def test_predict_impute_on_an_old_model_says_it_needs_a_newer_one(krr, tmp_path):
    new = _write(tmp_path / "new.csv", ["a", "b", "c"], [["1", "", "2"], ["0", "1", "2"]])
    for old in ("model_v3.joblib", "model_v2.joblib", "model_v1.joblib"):
        res = krr("predict", DATA / old, new, "--missing", "impute", "-o", tmp_path / "out.csv")
        assert res.exit_code == EXIT_USAGE, res.stderr
        assert "holds no training means (it was written by an older krr)" in res.stderr
        assert "refit it, or use --missing empty" in res.stderr
        assert not (tmp_path / "out.csv").exists()
        res = krr("predict", DATA / old, new, "--missing", "empty")
        assert res.exit_code == 0 and res.stdout.split("\n")[1] == '""'


def test_predict_a_header_only_input_with_every_policy(krr, tmp_path, fitted):
    new = tmp_path / "new.csv"
    new.write_text("a,b,c\n")
    for policy in ("error", "empty", "impute"):
        res = krr("predict", fitted, new, "--missing", policy)
        assert res.exit_code == 0 and res.stdout == "y_pred\n" and "missing" not in res.stderr


def test_a_lone_column_keeps_a_row_for_every_line(krr, tmp_path):
    """In a file of one column a blank line is that column's empty cell when missing values are allowed (so
    predictions stay aligned with the lines), and a blank line, skipped, otherwise."""
    train = write_csv(tmp_path / "t.csv", ["x", "y"], np.column_stack([np.arange(8.0), np.sin(np.arange(8.0))]))
    model = tmp_path / "m.joblib"
    assert krr("fit", train, "-g", "0.5", "-o", model).exit_code == 0
    new = tmp_path / "new.csv"
    new.write_text("x\n1\n\n3\n  \nNA\n5\n")
    res = krr("predict", model, new, "--missing", "empty", "--with-input")
    assert res.exit_code == 0, res.stderr
    out = res.stdout.split("\n")
    assert len(out) == 8 and [line.endswith(",") for line in out[1:7]] == [False, True, False, True, True, False]
    assert "3 of 6 row(s) had a missing value" in res.stderr
    imputed = krr("predict", model, new, "--missing", "impute", "--chunk-size", "2")
    assert imputed.exit_code == 0 and len(imputed.stdout.split("\n")) == 8
    plain = krr("predict", model, new)  # blank lines skipped, NA refused
    assert plain.exit_code == EXIT_DATA and "line 6, column 'x': missing value" in plain.stderr
    new.write_text("x\n1\n  \n3\n")
    res = krr("predict", model, new)
    assert res.exit_code == 0 and len(res.stdout.split("\n")) == 4  # (a white-space line is a blank line)


def test_predict_keeps_infinite_and_text_cells_errors(krr, tmp_path, fitted):
    for cell in ("inf", "N/A", "x"):
        new = _write(tmp_path / "new.csv", HEADER[:3], _holes(_rows(5)[:, :3], [(3, 1)], cell))
        for policy in ("empty", "impute"):
            res = krr("predict", fitted, new, "--missing", policy)
            assert res.exit_code == EXIT_DATA and "line 5, column 'b'" in res.stderr


# -- categorical columns -----------------------------------------------------------------------------


def _categorical(n=60, seed=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.choice(["p", "q", "r"], size=n)
    y = np.sin(x) + (g == "q") * 0.5
    return [[repr(float(a)), str(b), repr(float(c))] for a, b, c in zip(x, g, y, strict=True)]


def test_categorical_missing_cells_drop_and_predict(krr, tmp_path):
    cells = _categorical()
    cells[4][1] = "NA"
    cells[9][1] = ""
    data = _write(tmp_path / "d.csv", ["x", "g", "y"], cells)
    res = krr("fit", data, "--categorical", "g", "-o", tmp_path / "m.joblib", "--json")
    assert res.exit_code == EXIT_DATA and "line 6, column 'g': missing value" in res.stderr
    res = krr("fit", data, "--categorical", "g", "--missing", "drop", "-o", tmp_path / "m.joblib", "--json")
    assert res.exit_code == 0, res.stderr
    s = json.loads(res.stdout)
    assert s["rows_dropped"] == 2 and s["categorical"] == {"g": ["p", "q", "r"]}
    model = load_model(str(tmp_path / "m.joblib"))
    kept = [r for i, r in enumerate(cells) if i not in (4, 9)]
    freq = [np.mean([r[1] == v for r in kept]) for v in "pqr"]
    np.testing.assert_allclose(model.feature_means_[1:], freq, rtol=1e-12)
    new = _write(tmp_path / "new.csv", ["x", "g"], [["0.5", "q"], ["0.5", "NA"], ["", "p"]])
    res = krr("predict", tmp_path / "m.joblib", new, "--missing", "empty")
    assert res.stdout.split("\n")[1:4] == [res.stdout.split("\n")[1], '""', '""'] and res.stdout.split("\n")[1] != '""'
    res = krr("predict", tmp_path / "m.joblib", new, "--missing", "impute")
    assert res.exit_code == 0, res.stderr
    filled = np.array([[0.5, 0, 1, 0], [0.5, *freq], [model.feature_means_[0], 1, 0, 0]])
    np.testing.assert_allclose(_predictions(res.stdout), model.predict(filled), rtol=1e-12, atol=1e-14)


# -- the Python API ----------------------------------------------------------------------------------


def test_python_api_takes_the_policies(tmp_path):
    import io

    import krrcli

    A = _rows()
    data = _write(tmp_path / "d.csv", HEADER, _holes(A, [(3, 0)]))
    with pytest.warns(krrcli.KrrWarning, match="dropped 1 row"):
        s = krrcli.fit_csv(str(data), str(tmp_path / "m.joblib"), missing="drop", gamma=0.5)
    assert s["rows_dropped"] == 1
    buf = io.StringIO()
    with pytest.warns(krrcli.KrrWarning, match="1 of 40 row"):
        n = krrcli.predict_csv(str(tmp_path / "m.joblib"), str(data), missing="empty", stdout=buf)
    assert n == 40 and buf.getvalue().split("\n")[4] == '""'
    with pytest.raises(krrcli.DataError, match="missing value"):
        krrcli.predict_csv(str(tmp_path / "m.joblib"), str(data), stdout=io.StringIO())


def test_a_version_3_file_loads_and_refuses_version_4_entries(krr, tmp_path):
    """tests/data/model_v3.joblib: written by format 3 (`krr fit v1_train.csv --standardize -g 0.5 -a 0.01`),
    before the missing-value entries."""
    import joblib

    from krrcli.errors import EXIT_MODEL_FILE

    old = load_model(str(DATA / "model_v3.joblib"))
    assert old.feature_means_ is None and old.rows_dropped_ == 0
    train = np.loadtxt(DATA / "v1_train.csv", delimiter=",", skiprows=1)
    from krrcli import KernelRidge

    new = KernelRidge(gamma=0.5, alpha=0.01, standardize=True).fit(train[:, :3], train[:, 3])
    np.testing.assert_allclose(old.predict(train[:, :3]), new.predict(train[:, :3]), rtol=1e-12, atol=1e-12)
    record = joblib.load(DATA / "model_v3.joblib")
    assert record["format_version"] == 3
    joblib.dump({**record, "feature_means": np.zeros(3)}, tmp_path / "v3_plus.joblib")
    res = krr("predict", tmp_path / "v3_plus.joblib", DATA / "v1_train.csv")
    assert res.exit_code == EXIT_MODEL_FILE and "entry 'feature_means' is not part of" in res.stderr


@pytest.mark.parametrize(
    "entry, value, fragment",
    [
        ("feature_means", np.zeros(2), "entry 'feature_means' (shape (2,)) does not match the 3 feature(s)"),
        ("feature_means", np.array([0.0, np.nan, 1.0]), "entry 'feature_means' holds NaN or infinite values"),
        ("rows_dropped", -1, "entry 'rows_dropped' is -1"),
        ("rows_dropped_lines", [0], "entry 'rows_dropped_lines' is a list of 1 items"),
        ("feature_means", "0,0,0", "entry 'feature_means' is '0,0,0'"),
    ],
)
def test_a_damaged_missing_value_entry_is_named(krr, tmp_path, fitted, entry, value, fragment):
    import joblib

    from krrcli.errors import EXIT_MODEL_FILE
    from krrcli.persist import read_model_record

    record = read_model_record(str(fitted))
    joblib.dump({**record, entry: value}, tmp_path / "bad.joblib")
    new = write_csv(tmp_path / "new.csv", HEADER[:3], _rows(3)[:, :3])
    res = krr("predict", tmp_path / "bad.joblib", new, "--missing", "impute")
    assert res.exit_code == EXIT_MODEL_FILE and fragment in res.stderr, res.stderr


@pytest.mark.parametrize("blank", ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\xa0", "\u2003"])
def test_white_space_python_strips_is_no_blank_here(krr, tmp_path, fitted, blank):
    """float() strips these around a number, and so would numpy's parser; krr reads them as pandas' parser
    always has, under either parser: a vertical tab or form feed is stripped, the others make no number."""
    new = tmp_path / "new.csv"
    new.write_text(f"a,b,c\n1,2,3\n1,{blank}2,3\n", encoding="utf-8")
    res = krr("predict", fitted, new, "--missing", "empty")
    if blank in "\x0b\x0c":
        assert res.exit_code == 0 and res.stdout.split("\n")[1] == res.stdout.split("\n")[2]
    else:
        assert res.exit_code == EXIT_DATA and "line 3, column 'b'" in res.stderr and "is not a number" in res.stderr


def test_an_unterminated_quote_is_an_error_under_either_parser(krr, tmp_path):
    train = write_csv(tmp_path / "t.csv", ["x", "y"], np.column_stack([np.arange(6.0), np.arange(6.0) ** 2]))
    assert krr("fit", train, "-o", tmp_path / "m.joblib").exit_code == 0
    for text in ('x\n"1\n', 'x\n"1,5"\n'):
        (tmp_path / "new.csv").write_text(text)
        res = krr("predict", tmp_path / "m.joblib", tmp_path / "new.csv")
        assert res.exit_code == EXIT_DATA and "new.csv" in res.stderr and res.stdout == ""


def test_a_carriage_return_inside_a_line_reads_as_before_under_either_parser(krr, tmp_path, fitted):
    new = tmp_path / "new.csv"
    new.write_bytes(b"a,b,c\n1,2,3\r\n3,4,5\r\r\n\r1,1,1\n")
    res = krr("predict", fitted, new)
    assert res.exit_code == 0, res.stderr
    assert len(res.stdout.split("\n")) == 5  # three rows: a lone carriage return ends a (blank) line
