"""krr predict: streamed CSV output, exact floats, options."""

from __future__ import annotations

import gzip
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from krrcli import load_model

from .conftest import make_regression, write_csv


def _frame(text: str) -> pd.DataFrame:
    return pd.read_csv(pd.io.common.StringIO(text))


def test_predictions_round_trip_exactly(krr, model_file, train_csv):
    res = krr("predict", model_file, train_csv)
    assert res.exit_code == 0 and res.stderr == ""
    got = _frame(res.stdout)["y_pred"].to_numpy()
    m = load_model(model_file)
    X = pd.read_csv(train_csv)[["a", "b", "c"]].to_numpy()
    assert np.array_equal(got, m.predict(X))  # bit for bit


def test_float_format(krr, model_file, train_csv):
    res = krr("predict", model_file, train_csv, "--float-format", "%.3f")
    lines = res.stdout.splitlines()
    assert lines[0] == "y_pred"
    assert all(len(v.split(".")[1]) == 3 for v in lines[1:])


def test_with_input_keeps_input_columns(krr, model_file, tmp_path):
    data = tmp_path / "new.csv"
    data.write_text("id,c,b,a\nr1,0.5,0.25,1.50\nr2,1,2,3\n")
    res = krr("predict", model_file, data, "--with-input")
    lines = res.stdout.splitlines()
    assert lines[0] == "id,c,b,a,y_pred"
    assert lines[1].startswith("r1,0.5,0.25,1.50,")
    m = load_model(model_file)
    # BLAS may round the last bit differently for blocks of other sizes
    assert float(lines[2].split(",")[-1]) == pytest.approx(m.predict(np.array([[3.0, 2.0, 1.0]]))[0], rel=1e-13)


def test_chunking_does_not_change_output(krr, model_file, tmp_path):
    X, _ = make_regression(103, 3, seed=41)
    data = write_csv(tmp_path / "new.csv", ["a", "b", "c"], X)
    whole = _frame(krr("predict", model_file, data).stdout)
    chunked = _frame(krr("predict", model_file, data, "--chunk-size", "10").stdout)
    assert len(whole) == len(chunked) == 103
    np.testing.assert_allclose(chunked["y_pred"], whole["y_pred"], rtol=1e-13, atol=1e-15)


def test_no_header(krr, model_file, tmp_path):
    X, _ = make_regression(5, 3, seed=42)
    with_header = write_csv(tmp_path / "h.csv", ["a", "b", "c"], X)
    no_header = tmp_path / "nh.csv"
    no_header.write_text("\n".join(with_header.read_text().splitlines()[1:]) + "\n")
    a = krr("predict", model_file, with_header).stdout
    b = krr("predict", model_file, no_header, "--no-header").stdout
    assert a == b


def test_header_only_input_gives_header_only_output(krr, model_file, tmp_path):
    data = tmp_path / "empty.csv"
    data.write_text("a,b,c\n")
    res = krr("predict", model_file, data)
    assert res.exit_code == 0 and res.stdout == "y_pred\n"


def test_output_file_and_gzip_input(krr, model_file, train_csv, tmp_path):
    gz = tmp_path / "train.csv.gz"
    gz.write_bytes(gzip.compress(train_csv.read_bytes()))
    out = tmp_path / "pred.csv"
    res = krr("predict", model_file, gz, "-o", out)
    assert res.exit_code == 0 and res.stdout == ""
    assert out.read_text() == krr("predict", model_file, train_csv).stdout


def test_stdin(krr, model_file, train_csv):
    res = krr("predict", model_file, "-", stdin=train_csv.read_bytes())
    assert res.exit_code == 0
    assert res.stdout == krr("predict", model_file, train_csv).stdout


def test_real_process_pipe_to_head_ends_quietly(model_file, tmp_path):
    X, _ = make_regression(30000, 3, seed=43)
    data = write_csv(tmp_path / "big.csv", ["a", "b", "c"], X)
    cmd = f"{sys.executable} -m krrcli predict {model_file} {data} | head -3"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert proc.stdout.splitlines()[0] == "y_pred" and len(proc.stdout.splitlines()) == 3
    assert proc.stderr == ""


# -- every CSV krr writes reads back with the same columns ---------------------
def _read_back(text: str, sep: str = ",") -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))


def test_names_with_separator_and_quote_are_quoted(krr, tmp_path):
    """The report's example: a target 'y,z' gave the header y,z_pred over one-field rows."""
    data = tmp_path / "c.csv"
    data.write_text('x1,"x,2","y,z"\n1,2,3\n2,3,5\n3,1,4\n4,4,8\n')
    model = tmp_path / "c.joblib"
    assert krr("fit", data, "-o", model).exit_code == 0
    res = krr("predict", model, data)
    assert res.exit_code == 0, res.stderr
    rows = _read_back(res.stdout)
    assert rows[0] == ["y,z_pred"]
    assert all(len(r) == 1 for r in rows)
    res = krr("predict", model, data, "--with-input")
    rows = _read_back(res.stdout)
    assert rows[0] == ["x1", "x,2", "y,z", "y,z_pred"]
    assert all(len(r) == 4 for r in rows)
    assert [r[:3] for r in rows[1:]] == [["1", "2", "3"], ["2", "3", "5"], ["3", "1", "4"], ["4", "4", "8"]]


def test_names_with_quotes_and_line_breaks_round_trip(krr, tmp_path):
    """Another separator, a doubled quote and a line break inside a quoted header name."""
    data = tmp_path / "s.csv"
    data.write_text('a;"b;1";"q""uote";"new\nline"\n1;2;3;4\n2;3;5;1\n3;1;4;2\n4;4;8;0\n')
    model = tmp_path / "s.joblib"
    assert krr("fit", data, "--sep", ";", "-o", model).exit_code == 0
    assert load_model(model).target_names_ == ["new\nline"]
    assert load_model(model).feature_names_in_ == ["a", "b;1", 'q"uote']
    out = tmp_path / "out.csv"
    res = krr("predict", model, data, "--sep", ";", "--with-input", "-o", out)
    assert res.exit_code == 0, res.stderr
    back = pd.read_csv(out, sep=";")
    assert list(back.columns) == ["a", "b;1", 'q"uote', "new\nline", "new\nline_pred"]
    assert len(back) == 4
    # krr itself reads its output back: predict again on the file it wrote
    again = krr("predict", model, out, "--sep", ";")
    assert again.exit_code == 0, again.stderr
    assert _read_back(again.stdout)[0] == ["new\nline_pred"]


def test_features_option_names_a_column_holding_a_comma(krr, tmp_path):
    data = tmp_path / "c.csv"
    data.write_text('x1,"x,2","y,z"\n1,2,3\n2,3,5\n3,1,4\n4,4,8\n')
    model = tmp_path / "c.joblib"
    res = krr("fit", data, "-f", '"x,2"', "-t", "y,z", "-o", model, "--json")
    assert res.exit_code == 0, res.stderr
    m = load_model(model)
    assert m.feature_names_in_ == ["x,2"] and m.target_names_ == ["y,z"]
    res = krr("fit", data, "-f", 'x1, "x,2"', "-o", model)
    assert res.exit_code == 0, res.stderr
    assert load_model(model).feature_names_in_ == ["x1", "x,2"]
    # unquoted, the comma splits: the message says how to quote
    res = krr("fit", data, "-f", "x,2", "-o", model)
    assert res.exit_code == 3
    assert "feature column 'x' not found" in res.stderr and '"x,2"' in res.stderr
