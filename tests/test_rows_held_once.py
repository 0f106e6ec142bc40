"""Rows read for a fit: held once, in temporary files when memory is short, and a preflight that
refuses a fit that would not fit before the whole file is read."""

from __future__ import annotations

import gzip
import tracemalloc

import numpy as np
import pytest

from krrcli.data import CsvRows

from .conftest import make_regression, write_csv


def _wide(tmp_path, n=20_000, d=20, name="wide.csv"):
    X, Y = make_regression(n, d, seed=41)
    return write_csv(tmp_path / name, [f"x{j}" for j in range(d)] + ["y"], np.column_stack([X, Y])), X, Y


def test_rows_are_written_into_one_array_as_they_are_parsed(tmp_path):
    path, X, Y = _wide(tmp_path, n=300_000, d=10)
    with CsvRows(str(_wide(tmp_path, n=10, d=10, name="warm.csv")[0])) as warm:
        warm.to_arrays()  # the modules reading needs are loaded (and their memory not counted) before
    tracemalloc.start()
    try:
        with CsvRows(str(path), block_rows=2000) as rows:  # small blocks: what is held is the rows
            Xr, Yr = rows.to_arrays()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert np.array_equal(Xr, X) and np.array_equal(Yr, Y) and Xr.flags.c_contiguous and not rows.spilled
    held = Xr.nbytes + Yr.nbytes
    # the rows once, plus one block being parsed (its text and its numbers): not the rows twice
    assert peak < 1.5 * held, (peak / 2**20, held / 2**20)


@pytest.mark.parametrize("compress", [False, True])
def test_rows_go_to_temporary_files_when_memory_is_short(tmp_path, monkeypatch, compress):
    path, X, Y = _wide(tmp_path)
    if compress:
        gz = tmp_path / "wide.csv.gz"
        gz.write_bytes(gzip.compress(path.read_bytes()))
        path = gz
    monkeypatch.setenv("KRR_MEMORY_LIMIT", "4M")  # the rows are 3.4 MB: more than half of it
    with CsvRows(str(path)) as rows:
        Xs, Ys = rows.to_arrays()
    assert rows.spilled
    assert np.array_equal(Xs, X) and np.array_equal(Ys, Y) and Xs.flags.c_contiguous and Xs.flags.writeable


def test_a_fit_from_spilled_rows_is_the_same_fit(krr, tmp_path, monkeypatch):
    path, X, _ = _wide(tmp_path)
    new = write_csv(tmp_path / "new.csv", [f"x{j}" for j in range(20)], X[:50])
    args = ["--solver", "nystrom", "--centers", "5", "--alpha", "0.1", "--standardize"]
    assert krr("fit", path, *args, "-o", tmp_path / "ram.joblib").exit_code == 0
    monkeypatch.setenv("KRR_MEMORY_LIMIT", "6M")  # rows 3.4 MB spill; K_nM and the rest fit
    res = krr("fit", path, *args, "-o", tmp_path / "spill.joblib")
    assert res.exit_code == 0, res.stderr
    monkeypatch.delenv("KRR_MEMORY_LIMIT")
    a = krr("predict", tmp_path / "ram.joblib", new).stdout
    b = krr("predict", tmp_path / "spill.joblib", new).stdout
    assert a == b and len(a.splitlines()) == 51


def test_preflight_refuses_before_reading_the_whole_file(krr, tmp_path, monkeypatch):
    path, _, _ = _wide(tmp_path, n=120_000, d=2)
    with open(path, "a") as fh:
        fh.write("1.0,oops,2.0\n")  # reached only by reading everything
    monkeypatch.setenv("KRR_MEMORY_LIMIT", "2G")
    res = krr("fit", path, "--solver", "cholesky", "--alpha", "0.1", "-o", tmp_path / "m.joblib")
    assert res.exit_code == 6 and "Traceback" not in res.stderr, res.stderr
    line = res.stderr.strip()
    assert line.startswith("krr: error: fitting about ") and "rows (" in line
    # the estimate from the first block's share of the file is near the truth
    estimate = int(line.split("fitting about ")[1].split(" rows")[0].replace(",", ""))
    assert 100_000 < estimate < 140_000
    assert "fit on a random sample of at most" in line and "oops" not in line
    assert not (tmp_path / "m.joblib").exists()
    # with room for it, the same file reaches its bad cell: the preflight did not refuse what fits
    res = krr("fit", path, "--solver", "nystrom", "--centers", "20", "--alpha", "0.1", "-o", tmp_path / "m.joblib")
    assert res.exit_code == 3 and "line 120002" in res.stderr, res.stderr
