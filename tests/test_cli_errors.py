"""Every user mistake ends in one clean line on stderr, a documented exit code and no output file.

The contract (see krrcli/errors.py for the exit codes): the message starts with
``krr: error: ``, says what is wrong and where (file, column, line number as a
user counts lines, header = line 1), there is no Python traceback, and no
output file is created or modified.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

import krrcli.data.source
from krrcli.errors import EXIT_DATA, EXIT_OUTPUT, EXIT_RESOURCES, EXIT_USAGE

from .conftest import deny_open

pytestmark = pytest.mark.usefixtures("both_parsers")  # every test with either CSV parser

HEADER = "a,b,c,y\n"
GOOD_ROWS = "1,2,3,4\n2,3,4,5\n3,1,2,0\n"


# -- helpers ----------------------------------------------------------------
def assert_error(res, code: int, *parts: str) -> None:
    """A KrrError: exactly one ``krr: error:`` line, the exit code, no traceback, the given fragments."""
    assert res.exit_code == code, (res.exit_code, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("krr: error: "), res.stderr
    for part in parts:
        assert part in res.stderr, (part, res.stderr)


def assert_usage(res, *parts: str) -> None:
    """A Typer/Click usage error: exit 2, no traceback, the given fragments."""
    assert res.exit_code == EXIT_USAGE, (res.exit_code, res.stderr)
    assert "Traceback" not in res.stderr
    assert res.stderr.strip(), "a usage error must say something on stderr"
    for part in parts:
        assert part in res.stderr, (part, res.stderr)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def write_rows(path: Path, header: list[str], rows: np.ndarray) -> Path:
    with open(path, "w") as fh:
        fh.write(",".join(header) + "\n")
        for row in rows:
            fh.write(",".join(repr(float(v)) for v in row) + "\n")
    return path


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def no_temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".krr-")]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An output path that must not exist after a failed command."""
    return tmp_path / "result.out"


# -- files that cannot be read ----------------------------------------------
@pytest.mark.parametrize("command", ["fit", "predict", "cv"])
def test_missing_input_file(krr, tmp_path, model_file, out, command):
    data = tmp_path / "nope.csv"
    args = {
        "fit": ["fit", data, "-o", out],
        "predict": ["predict", model_file, data, "-o", out],
        "cv": ["cv", data, "-o", out],
    }[command]
    res = krr(*args)
    assert_error(res, EXIT_DATA, "nope.csv", "no such file")
    assert not out.exists()


@pytest.mark.parametrize("command", ["fit", "predict", "cv"])
def test_folder_as_input(krr, tmp_path, model_file, out, command):
    folder = tmp_path / "data_dir"
    folder.mkdir()
    args = {
        "fit": ["fit", folder, "-o", out],
        "predict": ["predict", model_file, folder, "-o", out],
        "cv": ["cv", folder, "-o", out],
    }[command]
    res = krr(*args)
    assert_error(res, EXIT_DATA, "data_dir", "folder")
    assert not out.exists()


@pytest.mark.parametrize("command", ["fit", "predict"])
def test_unreadable_input_file(krr, tmp_path, model_file, out, monkeypatch, command):
    """chmod 000; as root that does not block reading, so opening is made to fail the same way."""
    secret = write(tmp_path / "secret.csv", HEADER + GOOD_ROWS)
    deny_open(monkeypatch, krrcli.data.source, secret)
    secret.chmod(0)
    try:
        args = ["fit", secret, "-o", out] if command == "fit" else ["predict", model_file, secret, "-o", out]
        res = krr(*args)
    finally:
        secret.chmod(0o644)
    assert_error(res, EXIT_DATA, "secret.csv", "permission denied")
    assert not out.exists()


def test_empty_file(krr, tmp_path, model_file, out):
    empty = write(tmp_path / "empty.csv", "")
    assert_error(krr("fit", empty, "-o", out), EXIT_DATA, "empty.csv", "is empty")
    assert_error(krr("predict", model_file, empty, "-o", out), EXIT_DATA, "empty.csv", "is empty")
    assert_error(krr("cv", empty, "-o", out), EXIT_DATA, "empty.csv", "is empty")
    assert not out.exists()


def test_header_only_fit_and_cv_fail(krr, tmp_path, out):
    data = write(tmp_path / "hdr.csv", HEADER)
    assert_error(krr("fit", data, "-o", out), EXIT_DATA, "hdr.csv", "no data rows")
    assert_error(krr("cv", data, "-o", out), EXIT_DATA, "hdr.csv", "no data rows")
    assert not out.exists()


def test_header_only_predict_gives_header_only_output(krr, tmp_path, model_file):
    data = write(tmp_path / "hdr.csv", "a,b,c\n")
    res = krr("predict", model_file, data)
    assert res.exit_code == 0, res.stderr
    assert res.stdout == "y_pred\n"
    assert res.stderr == ""
    dest = tmp_path / "pred.csv"
    res = krr("predict", model_file, data, "-o", dest)
    assert res.exit_code == 0, res.stderr
    assert dest.read_text() == "y_pred\n"


# -- columns ------------------------------------------------------------------
def test_unknown_target_column(krr, train_csv, out):
    res = krr("fit", train_csv, "-t", "price", "-o", out)
    assert_error(res, EXIT_DATA, "train.csv", "target column 'price' not found", "a, b, c, y")
    assert not out.exists()


def test_unknown_feature_column(krr, train_csv, out):
    res = krr("fit", train_csv, "-f", "a,zz", "-o", out)
    assert_error(res, EXIT_DATA, "train.csv", "feature column 'zz' not found", "a, b, c, y")
    assert not out.exists()


def test_unknown_column_in_cv(krr, train_csv, out):
    res = krr("cv", train_csv, "-t", "price", "-o", out)
    assert_error(res, EXIT_DATA, "target column 'price' not found", "a, b, c, y")
    assert not out.exists()


def test_duplicate_column_names(krr, tmp_path, out):
    data = write(tmp_path / "dup.csv", "a,b,b,y\n" + GOOD_ROWS)
    res = krr("fit", data, "-o", out)
    assert_error(res, EXIT_DATA, "dup.csv", "line 1", "'b'", "twice", "columns 2 and 3")
    assert not out.exists()


def test_predict_model_feature_missing_from_input(krr, tmp_path, model_file, out):
    data = write(tmp_path / "new.csv", "a,c,y\n1,2,3\n")
    res = krr("predict", model_file, data, "-o", out)
    assert_error(res, EXIT_DATA, "new.csv", "'b'", "columns are: a, c, y")
    assert not out.exists()


# -- cells ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "cell, fragment",
    [
        ("x", "'x' is not a number"),
        ("", "missing value"),
        ("NaN", "missing value"),
        ("nan", "missing value"),
        ("inf", "infinite value 'inf'"),
        ("-inf", "infinite value '-inf'"),
        ("1e999", "infinite value '1e999'"),
    ],
)
@pytest.mark.parametrize("command", ["fit", "cv"])
def test_bad_cell_in_training_data(krr, tmp_path, out, cell, fragment, command):
    # line 1 header, lines 2-3 good, line 4 bad in column b, line 6 bad too (must not be the one reported)
    data = write(tmp_path / "bad.csv", HEADER + "1,2,3,4\n2,3,4,5\n" + f"1,{cell},3,4\n" + "4,4,4,4\nzz,1,1,1\n")
    res = krr(command, data, "-o", out)
    assert_error(res, EXIT_DATA, "bad.csv", "line 4", "column 'b'", fragment)
    assert "line 6" not in res.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "cell", ["1_000", "\uff11", "\u00a02", "2\u2003"], ids=["underscore", "fullwidth-digit", "nbsp", "em-space"]
)
def test_cell_python_accepts_but_csv_parser_does_not(krr, tmp_path, out, cell):
    """float() accepts these but the CSV parser does not: the message must still name column and line."""
    data = write(tmp_path / "odd.csv", HEADER + "1,2,3,4\n2,3,4,5\n" + f"1,{cell},3,4\n")
    res = krr("fit", data, "-o", out)
    assert_error(res, EXIT_DATA, "odd.csv", "line 4", "column 'b'")
    assert not out.exists()


def test_bad_cell_in_target_column(krr, tmp_path, out):
    data = write(tmp_path / "bad.csv", HEADER + "1,2,3,4\n2,3,4,5\n3,3,3,3\n1,2,3,oops\n")
    res = krr("fit", data, "-o", out)
    assert_error(res, EXIT_DATA, "line 5", "column 'y'", "'oops' is not a number")
    assert not out.exists()


def test_text_in_an_unused_column_is_fine(krr, tmp_path):
    data = write(tmp_path / "id.csv", "id,a,b,c,y\nr1,1,2,3,4\nr2,2,3,4,5\nr3,1,1,1,1\n")
    dest = tmp_path / "m.joblib"
    res = krr("fit", data, "-f", "a,b,c", "-o", dest)
    assert res.exit_code == 0, res.stderr
    res = krr("predict", dest, data)
    assert res.exit_code == 0, res.stderr
    assert len(res.stdout.splitlines()) == 4


def test_bad_cell_in_predict_input(krr, tmp_path, model_file, out):
    data = write(tmp_path / "new.csv", "a,b,c\n1,2,3\n1,2,3\n1,2,?\n")
    res = krr("predict", model_file, data, "-o", out)
    assert_error(res, EXIT_DATA, "new.csv", "line 4", "column 'c'", "'?' is not a number")
    assert not out.exists()


# -- ragged rows and blank lines ----------------------------------------------
@pytest.mark.parametrize(
    "row, n_fields",
    [("1,2,3,4,5", 5), ("1,2,3,4,", 5), ("1,2,3", 3), ("1", 1)],
    ids=["long", "trailing-comma", "short", "one-field"],
)
def test_ragged_row(krr, tmp_path, out, row, n_fields):
    data = write(tmp_path / "ragged.csv", HEADER + "1,2,3,4\n2,3,4,5\n" + row + "\n5,5,5,5\n")
    res = krr("fit", data, "-o", out)
    assert_error(res, EXIT_DATA, "ragged.csv", "line 4", f"has {n_fields} field(s)", "header has 4")
    assert "missing value" not in res.stderr
    assert not out.exists()


def test_ragged_row_in_predict_input(krr, tmp_path, model_file, out):
    data = write(tmp_path / "new.csv", "a,b,c\n1,2,3\n1,2\n")
    res = krr("predict", model_file, data, "-o", out)
    assert_error(res, EXIT_DATA, "new.csv", "line 3", "has 2 field(s)", "header has 3")
    assert not out.exists()


def test_blank_line_is_skipped_silently(krr, tmp_path, train_csv):
    lines = train_csv.read_text().splitlines(keepends=True)
    with_blank = write(tmp_path / "blank.csv", "".join(lines[:10] + ["\n", "   \n"] + lines[10:]))
    m1, m2 = tmp_path / "m1.joblib", tmp_path / "m2.joblib"
    r1 = krr("fit", train_csv, "--json", "-o", m1)
    r2 = krr("fit", with_blank, "--json", "-o", m2)
    assert r1.exit_code == 0 and r2.exit_code == 0, r2.stderr
    assert r2.stderr == ""
    assert '"n_samples": 60' in r2.stdout
    p1 = krr("predict", m1, train_csv)
    p2 = krr("predict", m1, with_blank)
    assert p2.exit_code == 0 and p2.stderr == ""
    assert p1.stdout == p2.stdout


@pytest.mark.parametrize("command", ["fit", "predict"])
def test_blank_lines_still_count_in_later_line_numbers(krr, tmp_path, model_file, out, command):
    # lines: 1 header, 2 good, 3 blank, 4 blank, 5 good, 6 good, 7 blank, 8 bad
    if command == "fit":
        data = write(tmp_path / "b.csv", HEADER + "1,2,3,4\n\n\n2,3,4,5\n3,3,3,3\n\n1,x,3,4\n")
        res = krr("fit", data, "-o", out)
    else:
        data = write(tmp_path / "b.csv", "a,b,c\n1,2,3\n\n\n2,3,4\n3,3,3\n\n1,x,3\n")
        res = krr("predict", model_file, data, "--chunk-size", "2", "-o", out)
    assert_error(res, EXIT_DATA, "b.csv", "line 8", "column 'b'")
    assert not out.exists()


def test_blank_line_then_ragged_row_line_number(krr, tmp_path, out):
    data = write(tmp_path / "b.csv", HEADER + "1,2,3,4\n\n2,3,4,5\n1,2,3\n")
    res = krr("fit", data, "-o", out)
    assert_error(res, EXIT_DATA, "line 5", "has 3 field(s)")
    assert not out.exists()


# -- too few rows -----------------------------------------------------------
def test_fewer_rows_than_folds(krr, tmp_path, out):
    data = write(tmp_path / "five.csv", "a,y\n1,2\n2,3\n3,4\n4,5\n5,6\n")
    res = krr("cv", data, "--folds", "10", "-o", out)
    assert_error(res, EXIT_DATA, "five.csv has 5 data rows, too few for 10 folds")
    assert not out.exists()


@pytest.mark.parametrize("command", ["fit", "cv"])
def test_fewer_than_two_rows(krr, tmp_path, out, command):
    data = write(tmp_path / "one.csv", "a,y\n1,2\n")
    res = krr(command, data, "-o", out)
    assert_error(res, EXIT_DATA, "one.csv", "1 data row", "at least 2")
    assert not out.exists()


# -- option values ----------------------------------------------------------
@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--alpha", "-1"], "alpha must be a finite number >= 0"),
        (["--alpha", "nan"], "alpha must be a finite number >= 0"),
        (["--gamma", "0"], "gamma must be a finite number > 0"),
        (["--gamma", "-0.5"], "gamma must be a finite number > 0"),
        (["--gamma", "inf"], "gamma must be a finite number > 0"),
        (["--kernel", "polynomial", "--degree", "0.5"], "degree must be >= 1"),
        (["--kernel", "gaussian"], "unknown kernel 'gaussian'"),
        (["--sep", "ab"], "--sep must be one character"),
        (["--dtype", "FLOAT32"], "dtype must be float64 or float32"),
        (["--dtype", "float16"], "dtype must be float64 or float32"),
        (["--dtype", ""], "dtype must be float64 or float32"),
    ],
)
def test_bad_fit_option_value(krr, train_csv, out, args, fragment):
    res = krr("fit", train_csv, *args, "-o", out)
    assert_error(res, EXIT_USAGE, fragment)
    assert not out.exists()


def test_unknown_kernel_lists_choices(krr, train_csv, out):
    res = krr("fit", train_csv, "-k", "gaussian", "-o", out)
    assert_error(res, EXIT_USAGE, "rbf", "laplacian", "polynomial")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--alpha", "1:2"], "cannot read --alpha '1:2'"),
        (["--alpha", "0:1:3"], "cannot read --alpha '0:1:3'"),
        (["--alpha", "1,,abc"], "cannot read --alpha"),
        (["--alpha", "-1"], "--alpha value must be a finite number > 0"),
        (["--gamma", "abc"], "cannot read --gamma 'abc'"),
        (["--gamma", "0"], "--gamma value must be a finite number > 0"),
        (["--gamma", "1:abc:3"], "cannot read --gamma"),
        (["--degree", "0"], "degree must be >= 1"),
        (["--kernel", "gaussian"], "unknown kernel 'gaussian'"),
        (["--folds", "1"], "--folds must be >= 2"),
        (["--metric", "accuracy"], "unknown metric 'accuracy'"),
        (["--loo", "--folds", "3"], "exclude each other"),
        (["--gcv", "--metric", "r2"], "--metric does not apply"),
        (["--seed", "-1"], "--seed must be >= 0"),
        (["--gamma", "1,,2"], "cannot read --gamma '1,,2'"),
        (["--alpha", "0.1,"], "cannot read --alpha '0.1,'"),
        (["--gamma", "1e-3:1:1"], "cannot read --gamma '1e-3:1:1'"),
        (["--jobs", "-100"], "--jobs must be 1 or more"),
        (["--folds", "3", "--refine"], "--refine works with --loo or --gcv"),
    ],
)
def test_bad_cv_option_value(krr, train_csv, out, args, fragment):
    res = krr("cv", train_csv, *args, "-o", out)
    assert_error(res, EXIT_USAGE, fragment)
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--chunk-size", "0"],
        ["--float-format", "%q"],
        ["--float-format", "%.2f\n"],
        ["--float-format", "%.2f%%"],
        ["--float-format", "%d"],
        ["--float-format", "x%g"],
        ["--dtype", "foo"],
    ],
)
def test_bad_predict_option_value(krr, train_csv, model_file, out, args):
    res = krr("predict", model_file, train_csv, *args, "-o", out)
    assert_error(res, EXIT_USAGE, args[0].lstrip("-"))
    assert not out.exists()
    to_stdout = krr("predict", model_file, train_csv, *args)
    assert to_stdout.exit_code == EXIT_USAGE and to_stdout.stdout == ""


# -- Typer usage errors -----------------------------------------------------
@pytest.mark.parametrize(
    "args, fragment",
    [
        (["fit", "{data}", "--bogus"], "No such option: --bogus"),
        (["fit", "{data}", "--alpha", "abc"], "Invalid value for '--alpha'"),
        (["fit", "{data}", "--gamma", "abc"], "Invalid value for '--gamma'"),
        (["cv", "{data}", "--folds", "abc"], "Invalid value for '--folds'"),
        (["predict", "{model}", "{data}", "--chunk-size", "x"], "Invalid value for '--chunk-size'"),
        (["predict", "{model}"], "Missing argument"),
        (["inspect"], "Missing argument"),
        (["frobnicate"], "No such command"),
    ],
)
def test_typer_usage_errors(krr, tmp_path, train_csv, model_file, args, fragment):
    args = [str(a).format(data=train_csv, model=model_file) for a in args]
    res = krr(*args, "-o", tmp_path / "o.joblib") if args[0] in ("fit", "cv") else krr(*args)
    assert_usage(res, fragment)
    assert res.stdout == ""
    assert not (tmp_path / "o.joblib").exists()


# -- output paths -------------------------------------------------------------
@pytest.mark.parametrize("command", ["fit", "predict", "cv"])
def test_output_is_a_folder(krr, tmp_path, train_csv, model_file, command):
    folder = tmp_path / "outdir"
    folder.mkdir()
    args = {"fit": ["fit", train_csv], "predict": ["predict", model_file, train_csv], "cv": ["cv", train_csv]}
    res = krr(*args[command], "-o", folder)
    assert_error(res, EXIT_OUTPUT, "outdir", "is a folder")
    assert list(folder.iterdir()) == []
    assert no_temp_files(tmp_path) == []


@pytest.mark.parametrize("command", ["fit", "predict", "cv"])
def test_output_in_missing_folder(krr, tmp_path, train_csv, model_file, command):
    dest = tmp_path / "no_such_dir" / "out.file"
    args = {"fit": ["fit", train_csv], "predict": ["predict", model_file, train_csv], "cv": ["cv", train_csv]}
    res = krr(*args[command], "-o", dest)
    assert_error(res, EXIT_OUTPUT, "out.file", "does not exist", "no_such_dir")
    assert not dest.parent.exists()


@pytest.mark.parametrize(
    "bad_last_row, fragment",
    [("1,x,3", "column 'b'"), ("1,2", "has 2 field(s)")],
)
def test_predict_keeps_existing_output_when_last_chunk_is_bad(krr, tmp_path, model_file, bad_last_row, fragment):
    rows = "".join(f"{i},{i + 1},{i + 2}\n" for i in range(7))  # lines 2-8
    data = write(tmp_path / "new.csv", "a,b,c\n" + rows + bad_last_row + "\n")  # bad line 9
    dest = write(tmp_path / "pred.csv", "old predictions\n")
    before = snapshot(dest)
    res = krr("predict", model_file, data, "--chunk-size", "2", "-o", dest)
    assert_error(res, EXIT_DATA, "new.csv", "line 9", fragment)
    assert snapshot(dest) == before
    assert no_temp_files(tmp_path) == []
    assert res.stdout == ""


def test_predict_output_not_created_when_last_chunk_is_bad(krr, tmp_path, model_file):
    rows = "".join(f"{i},{i + 1},{i + 2}\n" for i in range(7))
    data = write(tmp_path / "new.csv", "a,b,c\n" + rows + "1,2,inf\n")
    dest = tmp_path / "pred.csv"
    res = krr("predict", model_file, data, "--chunk-size", "2", "-o", dest)
    assert_error(res, EXIT_DATA, "line 9", "column 'c'", "infinite")
    assert not dest.exists()
    assert no_temp_files(tmp_path) == []


@pytest.mark.parametrize("command", ["fit", "cv"])
def test_existing_model_untouched_when_data_is_bad(krr, tmp_path, train_csv, model_file, command):
    bad = write(tmp_path / "bad.csv", HEADER + "1,2,3,4\n2,3,4,5\n1,2,3,x\n")
    before = snapshot(model_file)
    res = krr(command, bad, "-o", model_file)
    assert_error(res, EXIT_DATA, "line 4", "column 'y'")
    assert snapshot(model_file) == before
    assert no_temp_files(tmp_path) == []
    # still a loadable model
    assert krr("inspect", model_file).exit_code == 0


def test_existing_model_untouched_when_option_is_bad(krr, tmp_path, train_csv, model_file):
    before = snapshot(model_file)
    res = krr("fit", train_csv, "--alpha", "-3", "-o", model_file)
    assert_error(res, EXIT_USAGE, "alpha")
    assert snapshot(model_file) == before
    assert no_temp_files(tmp_path) == []


# -- memory preflight -------------------------------------------------------
@pytest.fixture
def big_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 3))
    y = np.sin(X.sum(axis=1)) + 0.1 * rng.normal(size=600)
    return write_rows(tmp_path / "big.csv", ["a", "b", "c", "y"], np.column_stack([X, y]))


def test_memory_preflight_refuses_big_fit(krr, tmp_path, big_csv, monkeypatch):
    monkeypatch.setenv("KRR_MEMORY_LIMIT", "1M")
    dest = tmp_path / "big.joblib"
    res = krr("fit", big_csv, "-o", dest)
    assert_error(res, EXIT_RESOURCES, "needs", "available", "600 rows")
    assert not dest.exists()
    assert no_temp_files(tmp_path) == []


def test_memory_preflight_advice_is_achievable(krr, tmp_path, big_csv, monkeypatch):
    """The refusal suggests a sample size; a sample of that size must then pass the same check."""
    monkeypatch.setenv("KRR_MEMORY_LIMIT", "5M")
    res = krr("fit", big_csv, "-o", tmp_path / "big.joblib")
    assert_error(res, EXIT_RESOURCES, "needs", "available")
    m = re.search(r"at most ([\d,]+) rows", res.stderr)
    if m is None:  # no sample size suggested: nothing to check
        return
    n = int(m.group(1).replace(",", ""))
    assert 2 <= n < 600
    lines = big_csv.read_text().splitlines(keepends=True)
    sample = write(tmp_path / "sample.csv", "".join(lines[: n + 1]))
    dest = tmp_path / "sample.joblib"
    res = krr("fit", sample, "-o", dest)
    assert res.exit_code == 0, f"following the advice ({n} rows) fails too: {res.stderr}"
    assert dest.exists()


def test_bad_memory_limit_variable(krr, tmp_path, train_csv, monkeypatch):
    monkeypatch.setenv("KRR_MEMORY_LIMIT", "lots")
    dest = tmp_path / "m.joblib"
    res = krr("fit", train_csv, "-o", dest)
    assert_error(res, EXIT_USAGE, "'lots'")
    assert not dest.exists()


# -- compressed input, stdin, separators ------------------------------------
def _compress(raw: bytes, path: Path, kind: str) -> Path:
    if kind == "gz":
        path.write_bytes(gzip.compress(raw))
    elif kind == "bz2":
        path.write_bytes(bz2.compress(raw))
    elif kind == "xz":
        path.write_bytes(lzma.compress(raw))
    else:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("train.csv", raw)
    return path


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zip"])
def test_compressed_input_gives_same_predictions(krr, tmp_path, train_csv, model_file, kind):
    packed = _compress(train_csv.read_bytes(), tmp_path / f"train.csv.{kind}", kind)
    plain = krr("predict", model_file, train_csv)
    assert plain.exit_code == 0, plain.stderr
    res = krr("predict", model_file, packed)
    assert res.exit_code == 0, res.stderr
    assert res.stdout == plain.stdout
    # fitting on the compressed file gives the same model
    dest = tmp_path / f"m_{kind}.joblib"
    res = krr("fit", packed, "--gamma", "0.5", "--alpha", "0.1", "-o", dest)
    assert res.exit_code == 0, res.stderr
    assert krr("predict", dest, train_csv).stdout == plain.stdout


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz", "zip"])
def test_damaged_compressed_input(krr, tmp_path, train_csv, kind, out):
    packed = _compress(train_csv.read_bytes(), tmp_path / f"train.csv.{kind}", kind)
    blob = packed.read_bytes()
    packed.write_bytes(blob[: len(blob) // 2])
    res = krr("fit", packed, "-o", out)
    assert_error(res, EXIT_DATA, f"train.csv.{kind}")
    assert not out.exists()


def test_zip_with_two_members(krr, tmp_path, train_csv, out):
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.csv", train_csv.read_bytes())
        zf.writestr("b.csv", train_csv.read_bytes())
    assert_error(krr("fit", path, "-o", out), EXIT_DATA, "two.zip", "exactly one file")
    assert not out.exists()


def test_not_utf8(krr, tmp_path, out):
    path = tmp_path / "latin.csv"
    path.write_bytes((HEADER + "1,2,3,4\n1,2,\xe9,4\n").encode("latin-1"))
    assert_error(krr("fit", path, "-o", out), EXIT_DATA, "latin.csv", "UTF-8", "(line 3)", "0xe9")
    assert not out.exists()
    path.write_bytes(("a,\xe9,c,y\n" + "1,2,3,4\n" * 3).encode("latin-1"))
    assert_error(krr("fit", path, "-o", out), EXIT_DATA, "latin.csv", "(line 1)")
    quoted = tmp_path / "quoted.csv"
    quoted.write_bytes((HEADER + '1,2,3,4\n2,"3",4,5\n\n1,2,\xe9,4\n').encode("latin-1"))
    assert_error(krr("fit", quoted, "-o", out), EXIT_DATA, "quoted.csv", "(line 5)")


def test_stdin_for_fit_and_predict(krr, tmp_path, train_csv, model_file):
    text = train_csv.read_text()
    dest = tmp_path / "stdin.joblib"
    res = krr("fit", "-", "--gamma", "0.5", "--alpha", "0.1", "-o", dest, stdin=text)
    assert res.exit_code == 0, res.stderr
    plain = krr("predict", model_file, train_csv)
    from_stdin = krr("predict", model_file, "-", stdin=text)
    assert from_stdin.exit_code == 0, from_stdin.stderr
    assert from_stdin.stdout == plain.stdout
    assert krr("predict", dest, train_csv).stdout == plain.stdout


def test_stdin_errors_name_stdin(krr, tmp_path, out):
    res = krr("fit", "-", "-o", out, stdin=HEADER + "1,2,3,4\n1,x,3,4\n")
    assert_error(res, EXIT_DATA, "<stdin>", "line 3", "column 'b'")
    assert not out.exists()


def test_semicolon_separator(krr, tmp_path, train_csv, model_file):
    semi = write(tmp_path / "semi.csv", train_csv.read_text().replace(",", ";"))
    dest = tmp_path / "semi.joblib"
    res = krr("fit", semi, "--sep", ";", "--gamma", "0.5", "--alpha", "0.1", "-o", dest)
    assert res.exit_code == 0, res.stderr
    plain = krr("predict", model_file, train_csv).stdout
    res = krr("predict", dest, semi, "--sep", ";")
    assert res.exit_code == 0, res.stderr
    assert res.stdout == plain


def test_wrong_separator_fit(krr, tmp_path, train_csv, out):
    semi = write(tmp_path / "semi.csv", train_csv.read_text().replace(",", ";"))
    res = krr("fit", semi, "-o", out)  # default "," on a ";" file: one column
    assert_error(res, EXIT_DATA, "semi.csv", "two columns", "found 1")
    assert not out.exists()
    res = krr("fit", semi, "-t", "y", "-o", out)
    assert_error(res, EXIT_DATA, "semi.csv", "found 1")
    assert not out.exists()


def test_wrong_separator_predict(krr, tmp_path, train_csv, model_file, out):
    res = krr("predict", model_file, train_csv, "--sep", ";", "-o", out)
    assert_error(res, EXIT_DATA, "train.csv", "'a', 'b', 'c'", 'columns are: "a,b,c,y"')
    assert not out.exists()


# -- found in review: non-finite kernels, odd line endings, blank header line -----
def test_overflowing_kernel_is_a_clear_error(krr, tmp_path, out):
    data = write(tmp_path / "d.csv", "a,b,y\n1,2,3\n4,5,6\n7,8,9\n")
    res = krr("fit", data, "-k", "polynomial", "-g", "1e300", "-o", out)
    assert_error(res, EXIT_DATA, "infinite or undefined", "polynomial")
    assert not out.exists()
    res = krr("fit", data, "-k", "polynomial", "--degree", "2.5", "--coef0", "-50", "-o", out)
    assert_error(res, EXIT_DATA, "infinite or undefined")


def test_cv_skips_a_non_finite_gamma_and_errors_when_none_is_left(krr, tmp_path):
    data = write(tmp_path / "d.csv", "a,b,y\n1,2,3\n4,5,6\n7,8,9\n2,2,2\n")
    res = krr("cv", data, "-k", "polynomial", "-g", "1e300,0.1", "-a", "0.1,1", "--json")
    assert res.exit_code == 0, res.stderr
    assert "skipped gamma=1e+300" in res.stderr
    assert '"gamma": 0.1' in res.stdout.split('"best"')[1]
    res = krr("cv", data, "-k", "polynomial", "-g", "1e300", "-a", "0.1")
    assert_error(res, EXIT_DATA, "no grid point could be scored")


def test_cr_only_line_endings_are_read(krr, tmp_path, out):
    data = tmp_path / "cr.csv"
    data.write_bytes(b"a,b,y\r1,2,3\r4,5,6\r7,8,10\r")
    res = krr("fit", data, "-o", out, "--json")
    assert res.exit_code == 0, res.stderr
    assert '"n_samples": 3' in res.stdout


def test_blank_first_line(krr, tmp_path, out):
    data = write(tmp_path / "b.csv", "\na,b,y\n1,2,3\n4,5,6\n")
    assert_error(krr("fit", data, "-o", out), EXIT_DATA, "line 1 is empty")


def test_empty_zip(krr, tmp_path, out):
    import zipfile

    path = tmp_path / "empty.zip"
    zipfile.ZipFile(path, "w").close()
    assert_error(krr("fit", path, "-o", out), EXIT_DATA, "holds 0")


def test_stray_carriage_return_inside_a_row(krr, tmp_path, out):
    data = tmp_path / "stray.csv"
    data.write_bytes(b"a,b,y\n1,2,3\n4,5\r,6\n7,8,9\n")
    res = krr("fit", data, "-o", out)
    assert res.exit_code == 3 and "Traceback" not in res.stderr and "internal" not in res.stderr


def test_memory_preflight_suggests_float32_when_that_fits(krr, tmp_path, big_csv, monkeypatch, out):
    monkeypatch.setenv("KRR_MEMORY_LIMIT", "6M")
    res = krr("fit", big_csv, "-o", out)
    assert_error(res, EXIT_RESOURCES, "--dtype float32")
    assert not out.exists()
    assert krr("fit", big_csv, "--dtype", "float32", "-o", out).exit_code == 0


# -- signals ----------------------------------------------------------------
@pytest.mark.parametrize("sig, code", [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
def test_signal_while_writing_leaves_the_output_untouched(tmp_path, model_file, sig, code):
    """A cron timeout or a closed terminal: one line, 128 + signal, no temporary file, old output kept."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "pred.csv"
    out.write_text("old\n")
    # predict from a pipe that stays open: krr has opened its temporary output and waits for rows
    proc = subprocess.Popen(
        [sys.executable, "-m", "krrcli", "predict", str(model_file), "-", "-o", str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdin.write("a,b,c\n1,2,3\n")
    proc.stdin.flush()
    deadline = time.time() + 60
    while not list(tmp_path.glob(".krr-*.tmp")) and time.time() < deadline:
        time.sleep(0.05)
    assert list(tmp_path.glob(".krr-*.tmp")), "krr should be writing its temporary file by now"
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=60)
    proc.stdin.close()
    assert proc.returncode == code, err
    assert err.strip().splitlines() == [f"krr: interrupted ({sig})"]
    assert out.read_text() == "old\n"
    assert not list(tmp_path.glob(".krr-*"))


# -- where output goes ------------------------------------------------------
def test_output_through_a_symlink_replaces_the_target(krr, tmp_path, train_csv):
    target = tmp_path / "models" / "real.joblib"
    target.parent.mkdir()
    target.write_bytes(b"old")
    link = tmp_path / "link.joblib"
    link.symlink_to(target)
    assert krr("fit", train_csv, "-o", link).exit_code == 0
    assert link.is_symlink() and target.read_bytes()[:3] != b"old"
    assert not list(target.parent.glob(".krr-*")) and not list(tmp_path.glob(".krr-*"))


def test_output_to_a_device_is_written_through(krr, train_csv, model_file):
    res = krr("predict", model_file, train_csv, "-o", "/dev/null")
    assert res.exit_code == 0, res.stderr
    assert Path("/dev/null").is_char_device()


@pytest.mark.parametrize("command", ["fit", "predict", "cv"])
def test_output_that_is_the_input_is_refused(krr, tmp_path, train_csv, model_file, command):
    before = train_csv.read_bytes()
    args = {"fit": ["fit", train_csv], "predict": ["predict", model_file, train_csv], "cv": ["cv", train_csv]}
    res = krr(*args[command], "-o", train_csv)
    assert_error(res, EXIT_OUTPUT, "it is the input file")
    assert train_csv.read_bytes() == before


def test_predict_output_cannot_replace_its_model(krr, train_csv, model_file):
    before = model_file.read_bytes()
    assert_error(krr("predict", model_file, train_csv, "-o", model_file), EXIT_OUTPUT, "it is the input file")
    assert model_file.read_bytes() == before


def test_dash_output(krr, tmp_path, train_csv, model_file):
    """``-o -`` is stdout for predictions; a model file cannot go there."""
    res = krr("predict", model_file, train_csv, "-o", "-", cwd=tmp_path)
    assert res.exit_code == 0 and res.stdout.startswith("y_pred\n")
    assert_error(krr("fit", train_csv, "-o", "-", cwd=tmp_path), EXIT_OUTPUT, "give a file name")
    assert not (tmp_path / "-").exists()


def test_full_or_closed_stdout_is_an_output_error(train_csv, model_file):
    import subprocess
    import sys

    run = [sys.executable, "-m", "krrcli", "predict", str(model_file), str(train_csv)]
    with open("/dev/full", "w") as full:
        proc = subprocess.run(run, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == EXIT_OUTPUT, proc.stderr
    assert proc.stderr.strip().splitlines() == ["krr: error: cannot write the output: No space left on device"]
    proc = subprocess.run(
        run,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        preexec_fn=lambda: __import__("os").close(1),
    )
    assert proc.returncode == EXIT_OUTPUT, proc.stderr
    assert "standard output is closed" in proc.stderr


def test_debug_shows_the_traceback_and_keeps_the_exit_code(krr, tmp_path, out):
    res = krr("--debug", "fit", tmp_path / "missing.csv", "-o", out)
    assert res.exit_code == EXIT_DATA
    assert "Traceback" in res.stderr and res.stderr.strip().splitlines()[-1].startswith("krr: error: ")


def test_long_text_is_cut_in_error_messages(krr, tmp_path, out):
    """A huge header line (wrong separator) or cell is quoted in part: the error stays one short line."""
    wide = tmp_path / "wide.csv"
    wide.write_text(";".join(f"column{i}" for i in range(100_000)) + "\n" + ";".join(["1"] * 100_000) + "\n")
    res = krr("fit", wide, "-o", out)
    assert_error(res, EXIT_DATA, "wide.csv", "found 1", "characters)", "--sep")
    assert len(res.stderr) < 400
    cell = tmp_path / "cell.csv"
    cell.write_text(HEADER + "1,2,3,4\n2,3,4,5\n1," + "x" * 100_000 + ",3,4\n")
    res = krr("fit", cell, "-o", out)
    assert_error(res, EXIT_DATA, "cell.csv", "line 4", "column 'b'")
    assert len(res.stderr) < 400
    many = tmp_path / "many.csv"
    many.write_text(",".join(f"c{i}" for i in range(500)) + "\n" + ",".join(["1"] * 500) + "\n" + ",".join(["2"] * 500))
    res = krr("fit", many, "-t", "nope", "-o", out)
    assert_error(res, EXIT_DATA, "'nope' not found", "c0, c1", "(500 in all)")
    assert len(res.stderr) < 400


def test_with_input_refuses_to_write_a_column_twice(krr, tmp_path, model_file, out):
    data = write(tmp_path / "has_pred.csv", "a,b,c,y_pred\n1,2,3,4\n")
    res = krr("predict", model_file, data, "--with-input", "-o", out)
    assert_error(res, EXIT_DATA, "has_pred.csv", "line 1", "'y_pred'")
    assert not out.exists()
    assert krr("predict", model_file, data, "-o", out).exit_code == 0  # without --with-input it is fine


# -- options have bounds, checked before any output --------------------------------
@pytest.mark.parametrize("fmt", ["%999999999f", "%99999999999999999999f", "%.18g", "%65f", "%.999e"])
def test_float_format_width_and_precision_are_bounded(krr, model_file, train_csv, out, fmt):
    res = krr("predict", model_file, train_csv, "--float-format", fmt)
    assert_error(res, EXIT_USAGE, fmt, "width may be at most 64", "precision at most 17")
    assert res.stdout == ""  # not even the header
    res = krr("predict", model_file, train_csv, "--float-format", fmt, "-o", out)
    assert_error(res, EXIT_USAGE)
    assert not out.exists()


def test_float_format_at_its_bounds_prints_full_precision(krr, model_file, train_csv):
    res = krr("predict", model_file, train_csv, "--float-format", "%64.17g")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert all(len(v) == 64 for v in lines[1:])
    exact = krr("predict", model_file, train_csv).stdout.splitlines()[1:]
    assert [float(v) for v in lines[1:]] == [float(v) for v in exact]  # 17 digits read back exactly


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["-a", "1e-3:1:10000000"], "asks for 10,000,000 values"),  # the report's example
        (["-g", ",".join(str(0.001 * (i + 1)) for i in range(1001))], "asks for 1,001 values"),
        (["-g", "1e-3:1:11", "-a", "1e-3:1:1000"], "11,000 points"),
    ],
)
def test_cv_grid_is_bounded_before_any_work(krr, tmp_path, train_csv, args, fragment):
    dest = tmp_path / "best.joblib"
    res = krr("cv", train_csv, *args, "-o", dest)
    assert_error(res, EXIT_USAGE, fragment)
    assert res.stdout == "" and not dest.exists()


def test_cv_memory_advice_follows_the_real_job_count(krr, tmp_path, monkeypatch):
    """The refusal counts the workers really used, and its advice, followed, works."""
    X, Y = np.random.default_rng(0).normal(size=(800, 2)), np.random.default_rng(1).normal(size=(800, 1))
    data = write_rows(tmp_path / "d.csv", ["a", "b", "y"], np.column_stack([X, Y]))
    monkeypatch.setenv("KRR_MEMORY_LIMIT", "20M")
    res = krr("cv", data, "--jobs", "1", "-g", "0.1,1", "-a", "0.1,1")
    assert_error(res, EXIT_RESOURCES, "with 1 worker(s)", "5 matrices", "random sample of at most")
    assert "--jobs 1" not in res.stderr  # it was given: advising it would not help
    rows = int(re.search(r"at most ([\d,]+) rows", res.stderr).group(1).replace(",", ""))
    small = write_rows(tmp_path / "s.csv", ["a", "b", "y"], np.column_stack([X, Y])[:rows])
    assert krr("cv", small, "--jobs", "1", "-g", "0.1,1", "-a", "0.1,1").exit_code == 0
    # with two workers and memory for one, the advice is --jobs 1 (when there are two cores to use)
    from krrcli.selection import cv_peak_bytes

    if (__import__("os").cpu_count() or 1) >= 2:
        monkeypatch.setenv("KRR_MEMORY_LIMIT", str(cv_peak_bytes(800, 1, 2, 1) + 2**20))
        res = krr("cv", data, "--jobs", "2", "-g", "0.1,1", "-a", "0.1,1")
        assert_error(res, EXIT_RESOURCES, "with 2 worker(s)", "use --jobs 1")


# -- exit codes do not depend on the state of the standard streams ------------------
def _proc(args: list[str], *, close: tuple[int, ...] = (), stdout=None, stdin=None):
    import os
    import subprocess
    import sys

    def closer() -> None:
        for fd in close:
            os.close(fd)

    return subprocess.run(
        [sys.executable, "-m", "krrcli", *map(str, args)],
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=stdout if stdout is not None else subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        preexec_fn=closer,
    )


@pytest.mark.parametrize("command", ["fit", "predict", "cv"])
def test_closed_stdin_is_a_data_error(tmp_path, model_file, command):
    dest = tmp_path / "x.joblib"
    args = {"fit": ["fit", "-", "-o", dest], "predict": ["predict", model_file, "-"], "cv": ["cv", "-"]}[command]
    proc = _proc(args, close=(0,))
    assert proc.returncode == EXIT_DATA, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "krr: error: cannot read standard input ('-'): it is closed; give a file name, or pipe the data in"
    ]
    assert not dest.exists()


@pytest.mark.parametrize(
    "make, code",
    [
        (lambda d, m: ["fit", write(d / "nan.csv", "a,y\n1,nan\n2,3\n"), "-o", d / "x.joblib"], EXIT_DATA),
        (lambda d, m: ["predict", m, d / "missing.csv"], EXIT_DATA),
        (lambda d, m: ["fit", write(d / "t.csv", HEADER + GOOD_ROWS), "--alpha", "-1", "-o", d / "x.joblib"], 2),
        (lambda d, m: ["inspect", write(d / "bad.joblib", "not a model")], 4),
    ],
)
def test_closed_stderr_keeps_the_exit_code(tmp_path, model_file, make, code):
    proc = _proc(make(tmp_path, model_file), close=(2,))
    assert proc.returncode == code
    assert not (tmp_path / "x.joblib").exists()


def test_closed_stderr_does_not_leak_into_an_output_file(tmp_path, model_file, train_csv):
    """With fd 2 closed, the first file krr opens would get its number: messages must not land in it."""
    out = tmp_path / "pred.csv"
    proc = _proc(["predict", model_file, train_csv, "-o", out], close=(2,))
    assert proc.returncode == 0
    assert out.read_text().splitlines()[0] == "y_pred"
    assert "krr" not in out.read_text()


@pytest.mark.parametrize("big", ["99999999999999999999", "-99999999999999999999", "18446744073709551617"])
def test_integers_beyond_int64_are_numbers(krr, tmp_path, big):
    """The report's example: a column without decimals holding an integer beyond int64."""
    data = write(tmp_path / "big.csv", f"a,y\n1,{big}\n2,3\n3,4\n")
    dest = tmp_path / "m.joblib"
    res = krr("fit", data, "-o", dest, "--json")
    assert res.exit_code == 0, res.stderr
    import json

    with_decimal = write(tmp_path / "dec.csv", f"a,y\n1,{big}\n2,3.0\n3,4\n")
    res2 = krr("fit", with_decimal, "-o", tmp_path / "m2.joblib", "--json")
    # the same value whether or not another row has a decimal point
    assert json.loads(res.stdout)["train"] == json.loads(res2.stdout)["train"]
    from krrcli.data import read_training_csv

    assert read_training_csv(str(data)).Y[0, 0] == float(big)


def test_integer_beyond_int64_next_to_text_names_the_text(krr, tmp_path, out):
    data = write(tmp_path / "mixed.csv", "a,y\n1,-99999999999999999999\n2,3\n3,abc\n")
    assert_error(krr("fit", data, "-o", out), EXIT_DATA, "mixed.csv: line 4, column 'y'", "'abc' is not a number")


# -- a trailing slash means a folder -----------------------------------------------------
@pytest.mark.parametrize("suffix", ["/", "/."])
def test_trailing_slash_on_an_existing_file_is_refused(krr, tmp_path, train_csv, model_file, suffix):
    before = snapshot(model_file)
    res = krr("fit", train_csv, "--alpha", "0.5", "-o", f"{model_file}{suffix}")
    assert_error(res, EXIT_OUTPUT, "means a folder")
    assert snapshot(model_file) == before


@pytest.mark.parametrize("command", ["fit", "predict", "cv"])
def test_trailing_slash_on_a_new_name_creates_nothing(krr, tmp_path, train_csv, model_file, command):
    target = tmp_path / "newdir"
    args = {
        "fit": ["fit", train_csv, "-o", f"{target}/"],
        "predict": ["predict", model_file, train_csv, "-o", f"{target}/"],
        "cv": ["cv", train_csv, "-a", "0.1", "-g", "0.1", "-o", f"{target}/"],
    }[command]
    res = krr(*args)
    assert_error(res, EXIT_OUTPUT, "newdir/", "means a folder")
    assert not target.exists()
    assert no_temp_files(tmp_path) == []


# -- a report that cannot be written after the model was saved -------------------------
@pytest.mark.parametrize("command", ["fit", "cv"])
def test_full_stdout_after_saving_says_the_model_was_saved(tmp_path, train_csv, command):
    dest = tmp_path / "m.joblib"
    args = ["fit", train_csv, "-o", dest] if command == "fit" else ["cv", train_csv, "-a", "0.1,1", "-o", dest]
    with open("/dev/full", "w") as full:
        proc = _proc(args, stdout=full)
    assert proc.returncode == EXIT_OUTPUT
    assert proc.stderr.strip().splitlines() == [
        f"krr: error: the model was saved to {str(dest)!r}, but the report could not be written to stdout: "
        "No space left on device"
    ]
    import krrcli

    assert krrcli.load_model(str(dest)).n_features_in_ == 3  # and it is there, whole


# -- temporary files say what they were for -----------------------------------------------
def test_temporary_file_is_named_after_its_target(tmp_path, train_csv, monkeypatch):
    """A kill -9 can leave one behind: its name says which output it was."""
    import krrcli.persist.output as output

    seen = []
    real = output.tempfile.mkstemp

    def spy(*args, **kwargs):
        fd, name = real(*args, **kwargs)
        seen.append(Path(name).name)
        return fd, name

    monkeypatch.setattr(output.tempfile, "mkstemp", spy)
    from krrcli import fit_csv

    fit_csv(str(train_csv), output=str(tmp_path / "price model.joblib"))
    assert len(seen) == 1
    assert re.fullmatch(r"\.krr-price model\.joblib-[^/]+\.tmp", seen[0]), seen
    assert no_temp_files(tmp_path) == []


def test_temporary_file_left_by_kill_9_can_be_recognised(tmp_path, train_csv):
    """A real SIGKILL in the middle of writing: the leftover is .krr-<target>-XXXX.tmp and the target is untouched."""
    import os
    import signal
    import subprocess
    import sys
    import time

    dest = tmp_path / "pred.csv"
    dest.write_text("old\n")
    X = np.random.default_rng(0).normal(size=(300, 3))
    model = tmp_path / "m.joblib"
    data = write_rows(tmp_path / "t.csv", ["a", "b", "c", "y"], np.column_stack([X, X[:, 0]]))
    assert (
        subprocess.run([sys.executable, "-m", "krrcli", "fit", data, "-o", model], capture_output=True).returncode == 0
    )
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "krrcli", "predict", model, fifo, "-o", dest, "--chunk-size", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with open(fifo, "w") as fh:
        fh.write("a,b,c\n1,2,3\n")
        fh.flush()
        deadline = time.time() + 60
        while time.time() < deadline and not [p for p in tmp_path.iterdir() if p.name.startswith(".krr-")]:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    left = no_temp_files(tmp_path)
    assert len(left) == 1 and re.fullmatch(r"\.krr-pred\.csv-.+\.tmp", left[0]), left
    assert dest.read_text() == "old\n"


# -- found in review: crashes and silent garbage -------------------------------------------
def test_linear_kernel_overflow_is_a_data_error(krr, tmp_path):
    """The message named gamma, which the linear kernel has not (was a TypeError, exit 1)."""
    data = write(tmp_path / "huge.csv", "x,y\n1e200,1\n2e200,2\n3e200,3\n")
    assert_error(krr("cv", data, "--kernel", "linear"), EXIT_DATA, "the linear kernel gives infinite", "rescale")
    dest = tmp_path / "h.joblib"
    assert krr("fit", data, "--kernel", "linear", "-o", dest).exit_code == 0
    assert_error(krr("inspect", dest, "--spectrum"), EXIT_DATA, "the linear kernel gives infinite")


def test_non_finite_prediction_is_an_error_naming_the_line(krr, tmp_path):
    """A polynomial model predicting NaN for a row far out of scale: exit 3 with the line, not NaN with exit 0."""
    data = write(tmp_path / "two.csv", "a,b,y\n1,1,1\n2,2,2\n3,1,1\n")
    model = tmp_path / "poly.joblib"
    assert krr("fit", data, "-t", "a", "-t", "b", "--kernel", "polynomial", "-o", model).exit_code == 0
    new = write(tmp_path / "new.csv", "y\n1\n2\n\n1e300\n")
    out = tmp_path / "pred.csv"
    res = krr("predict", model, new, "-o", out)
    assert res.exit_code == EXIT_DATA
    assert res.stderr.strip().splitlines()[-1] == (
        f"krr: error: {new}: line 5: the prediction is not finite (the kernel overflows or is undefined "
        "for this row); check the row's scale"
    )
    assert not out.exists()


def test_stray_quote_inside_a_header_name_is_literal(krr, tmp_path):
    """A quote that does not open a field is part of the name, as csv and pandas read it."""
    data = write(tmp_path / "q.csv", 'd 5",y\n1,2\n2,"3"\n3,5\n4,4\n')
    dest = tmp_path / "m.joblib"
    res = krr("fit", data, "-o", dest, "--json")
    assert res.exit_code == 0, res.stderr
    import json

    summary = json.loads(res.stdout)
    assert summary["features"] == ['d 5"'] and summary["n_samples"] == 4


def test_integer_of_400_digits_is_an_infinite_value(krr, tmp_path, model_file, out):
    data = write(tmp_path / "b.csv", "a,b,c\n1" + "0" * 400 + ",1,1\n")
    assert_error(krr("predict", model_file, data, "-o", out), EXIT_DATA, "line 2, column 'a': infinite value")
    assert not out.exists()


def test_features_option_with_an_unclosed_quote(krr, train_csv, out):
    assert_error(krr("fit", train_csv, "-f", '"a,b', "-o", out), EXIT_USAGE, "cannot read --features", "quote")


def test_cr_only_file_with_a_long_header(krr, tmp_path):
    names = [f"column_{i:05d}" for i in range(7000)]  # a header longer than one 64 KiB block
    rows = ["1" * 1 for _ in names]
    data = tmp_path / "mac.csv"
    data.write_bytes(("\r".join([",".join(names), ",".join(rows), ",".join("2" for _ in names)]) + "\r").encode())
    from krrcli.data import read_training_csv

    table = read_training_csv(str(data))
    assert table.features == names[:-1] and table.X.shape == (2, 6999)


def test_report_shows_control_characters_escaped(krr, tmp_path):
    """A column name holding an escape sequence is shown as text, never sent to the terminal."""
    data = write(tmp_path / "esc.csv", "a\x1b[2J,y\n1,2\n2,3\n3,5\n")
    dest = tmp_path / "m.joblib"
    res = krr("fit", data, "-o", dest)
    assert res.exit_code == 0 and "\x1b" not in res.stdout and "a\\x1b[2J" in res.stdout
    res = krr("inspect", dest)
    assert res.exit_code == 0 and "\x1b" not in res.stdout
    res = krr("fit", data, "-f", "nope", "-o", dest)
    assert_error(res, EXIT_DATA, "a\\x1b[2J")
    assert "\x1b" not in res.stderr


def test_markup_in_a_path_is_printed_as_is(krr, tmp_path, train_csv):
    folder = tmp_path / "c["
    folder.mkdir()
    dest = folder / "[red]d.joblib"
    res = krr("fit", train_csv, "-o", dest)
    assert res.exit_code == 0, res.stderr
    assert str(dest) in res.stdout
    assert str(dest) in krr("inspect", dest).stdout
