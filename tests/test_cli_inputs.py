"""Several inputs as one: paths and glob patterns, read in order, sharing a header."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from krrcli import load_model
from krrcli.errors import EXIT_DATA, EXIT_USAGE

from .conftest import make_regression, write_csv

pytestmark = pytest.mark.usefixtures("both_parsers")  # every test with either CSV parser

HEADER = ["a", "b", "c", "y"]


def _parts(tmp_path, sizes=(40, 35, 25)):
    X, Y = make_regression(sum(sizes), 3, seed=41)
    A = np.column_stack([X, Y])
    whole = write_csv(tmp_path / "whole.csv", HEADER, A)
    (tmp_path / "parts").mkdir()
    paths, start = [], 0
    for k, m in enumerate(sizes):
        paths.append(write_csv(tmp_path / "parts" / f"part-{k}.csv", HEADER, A[start : start + m]))
        start += m
    return whole, paths


def test_fit_on_several_files_is_the_fit_on_their_rows_in_order(krr, tmp_path):
    whole, paths = _parts(tmp_path)
    assert krr("fit", whole, "--alpha", "0.1", "-o", tmp_path / "w.joblib").exit_code == 0
    res = krr("fit", *paths, "--alpha", "0.1", "-o", tmp_path / "p.joblib", "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["n_samples"] == 100
    w, p = load_model(str(tmp_path / "w.joblib")), load_model(str(tmp_path / "p.joblib"))
    np.testing.assert_array_equal(w.dual_coef_, p.dual_coef_)
    info = json.loads(krr("inspect", tmp_path / "p.joblib", "--json").stdout)
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for path in paths]
    assert info["training_sha256"] == hashlib.sha256("".join(d + "\n" for d in digests).encode()).hexdigest()
    assert info["training_source"] == f"{paths[0]} and 2 more"


def test_a_quoted_pattern_is_expanded_by_krr_in_name_order(krr, tmp_path):
    whole, paths = _parts(tmp_path)
    res = krr("fit", str(tmp_path / "parts" / "part-*.csv"), "--alpha", "0.1", "-o", tmp_path / "g.joblib")
    assert res.exit_code == 0, res.stderr
    ref = krr("fit", *paths, "--alpha", "0.1", "-o", tmp_path / "p.joblib")
    assert ref.exit_code == 0
    np.testing.assert_array_equal(
        load_model(str(tmp_path / "g.joblib")).dual_coef_, load_model(str(tmp_path / "p.joblib")).dual_coef_
    )
    res = krr("fit", str(tmp_path / "none-*.csv"), "-o", tmp_path / "n.joblib")
    assert res.exit_code == EXIT_DATA and f"no file matches '{tmp_path / 'none-*.csv'}'" in res.stderr
    assert not (tmp_path / "n.joblib").exists()


def test_a_different_header_names_both_files_and_writes_nothing(krr, tmp_path):
    _, paths = _parts(tmp_path)
    other = write_csv(tmp_path / "other.csv", ["a", "c", "b", "y"], np.ones((3, 4)))
    res = krr("fit", paths[0], other, "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_DATA and "Traceback" not in res.stderr
    assert f"{other}: line 1: its header differs from {paths[0]}'s" in res.stderr
    assert not (tmp_path / "m.joblib").exists()


def test_a_bad_cell_in_a_later_file_is_named_with_that_files_line(krr, tmp_path):
    _, paths = _parts(tmp_path)
    text = paths[1].read_text().splitlines()
    text[5] = "1,2,oops,4"
    paths[1].write_text("\n".join(text) + "\n")
    res = krr("fit", *paths, "-o", tmp_path / "m.joblib")
    assert res.exit_code == EXIT_DATA and f"{paths[1]}: line 6, column 'c'" in res.stderr


def test_predict_over_several_files_keeps_their_order(krr, tmp_path):
    whole, paths = _parts(tmp_path)
    model = tmp_path / "m.joblib"
    assert krr("fit", whole, "--alpha", "0.1", "-o", model).exit_code == 0
    one = krr("predict", model, whole, "--with-input")
    many = krr("predict", model, *paths, "--with-input")
    assert many.exit_code == 0
    a_lines, b_lines = one.stdout.splitlines(), many.stdout.splitlines()
    assert a_lines[0] == b_lines[0] == "a,b,c,y,y_pred" and len(a_lines) == len(b_lines) == 101
    for x, z in zip(a_lines[1:], b_lines[1:], strict=True):  # the input as it was; predictions to the last bits
        assert x.rsplit(",", 1)[0] == z.rsplit(",", 1)[0]
        assert float(x.rsplit(",", 1)[1]) == pytest.approx(float(z.rsplit(",", 1)[1]), rel=1e-12)
    res = krr("predict", model, "-", "-", stdin="a,b,c\n1,2,3\n")
    assert res.exit_code == EXIT_USAGE and "- (stdin) can be read only once" in res.stderr


def test_cv_over_several_files(krr, tmp_path):
    whole, paths = _parts(tmp_path)
    one = json.loads(krr("cv", whole, "-g", "0.5", "-a", "0.1,1", "--json").stdout)
    many = json.loads(krr("cv", *paths, "-g", "0.5", "-a", "0.1,1", "--json").stdout)
    assert many["n_samples"] == 100 and many["results"] == one["results"]
