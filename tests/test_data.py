"""The CSV loader: exact values, exact line numbers, every input form."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from krrcli.data import iter_feature_chunks, read_training_csv
from krrcli.errors import DataError

pytestmark = pytest.mark.usefixtures("both_parsers")  # every test with either CSV parser

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
settings_ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@settings_
@given(
    values=st.integers(2, 20).flatmap(
        lambda n: st.lists(st.lists(finite, min_size=3, max_size=3), min_size=n, max_size=n)
    )
)
def test_values_read_back_exactly(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_text("a,b,y\n" + "".join(",".join(repr(v) for v in row) + "\n" for row in values))
    table = read_training_csv(str(path))
    expected = np.array(values)
    assert np.array_equal(table.X, expected[:, :2])
    assert np.array_equal(table.Y, expected[:, 2:])


@settings_
@given(
    n=st.integers(2, 40),
    bad_row=st.integers(0, 39),
    bad_col=st.integers(0, 2),
    token=st.sampled_from(["abc", "", "nan", "inf", "-inf", "NA", "1.2.3"]),
    chunk=st.integers(1, 7),
    blank_before=st.booleans(),
)
def test_first_bad_cell_is_reported_with_its_line(tmp_path_factory, n, bad_row, bad_col, token, chunk, blank_before):
    bad_row = bad_row % n
    rows = [[f"{i}.5", f"{i * 2}", f"{-i}"] for i in range(n)]
    rows[bad_row][bad_col] = token
    lines = [",".join(r) for r in rows]
    if blank_before:
        lines.insert(0, "")  # a blank line is skipped but still counted
    path = tmp_path_factory.mktemp("csv") / "t.csv"
    path.write_text("p,q,r\n" + "\n".join(lines) + "\n")
    line_no = bad_row + 2 + (1 if blank_before else 0)
    with pytest.raises(DataError) as info:
        list(iter_feature_chunks(str(path), ["p", "q", "r"], chunk_rows=chunk))
    msg = str(info.value)
    assert f"line {line_no}, column '{'pqr'[bad_col]}'" in msg


@pytest.mark.parametrize("line, fields", [("1,2", 2), ("1,2,3,4", 4), ("1", 1)])
def test_ragged_rows_named(tmp_path, line, fields):
    path = tmp_path / "t.csv"
    path.write_text(f"a,b,y\n1,2,3\n{line}\n4,5,6\n")
    with pytest.raises(DataError, match=f"line 3 has {fields} field\\(s\\) but the header has 3"):
        read_training_csv(str(path))


def test_quoted_fields_and_crlf_and_bom(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b'\xef\xbb\xbf"a","b,c",y\r\n1,"2",3\r\n4,5,6\r\n')
    table = read_training_csv(str(path))
    assert table.features == ["a", "b,c"] and table.targets == ["y"]
    assert table.X.tolist() == [[1.0, 2.0], [4.0, 5.0]]


@pytest.mark.parametrize(
    "suffix, compress",
    [
        (".gz", gzip.compress),
        (".bz2", bz2.compress),
        (".xz", lzma.compress),
    ],
)
def test_compressed_inputs(tmp_path, suffix, compress):
    raw = b"a,b,y\n1,2,3\n4,5,6\n"
    path = tmp_path / f"t.csv{suffix}"
    path.write_bytes(compress(raw))
    assert read_training_csv(str(path)).X.tolist() == [[1.0, 2.0], [4.0, 5.0]]


def test_zip_input(tmp_path):
    path = tmp_path / "t.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("t.csv", "a,b,y\n1,2,3\n4,5,6\n")
    assert read_training_csv(str(path)).Y.tolist() == [[3.0], [6.0]]


def test_sha256_is_of_the_file_bytes(tmp_path):
    import hashlib

    path = tmp_path / "t.csv.gz"
    path.write_bytes(gzip.compress(b"a,y\n1,2\n3,4\n"))
    assert read_training_csv(str(path)).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_white_space_line_then_bad_cell_names_the_right_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,3\n   \n4,x,6\n")
    with pytest.raises(DataError, match="line 4, column 'b': 'x' is not a number"):
        read_training_csv(str(path))


def test_with_input_lines_follow_white_space_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n  \n3,4\n")
    chunks = list(iter_feature_chunks(str(path), ["a", "b"], keep_input=True))
    assert chunks[0][2] == ["1,2", "3,4"]


# -- the header: bounded, linear, quoted line breaks ------------------------------
def test_header_over_the_limit_is_a_clear_error(tmp_path, krr):
    from krrcli.limits import MAX_HEADER_BYTES

    path = tmp_path / "wide.csv"
    path.write_bytes(b"a" * (MAX_HEADER_BYTES + 1) + b",y\n1,2\n")
    res = krr("fit", path, "-o", tmp_path / "m.joblib")
    assert res.exit_code == 3
    assert "wide.csv: line 1 (the header) is longer than 16 MiB" in res.stderr
    assert not (tmp_path / "m.joblib").exists()


def test_too_many_columns_is_a_clear_error(tmp_path, krr):
    from krrcli.limits import MAX_COLUMNS

    path = tmp_path / "many.csv"
    n = MAX_COLUMNS + 1
    path.write_text(",".join(f"c{i}" for i in range(n)) + "\n" + ",".join("1" for _ in range(n)) + "\n")
    res = krr("fit", path, "-o", tmp_path / "m.joblib")
    assert res.exit_code == 3
    assert f"line 1 names {n:,} columns; krr reads at most {MAX_COLUMNS:,}" in res.stderr


@pytest.mark.parametrize("where", [10, 65_535, 65_536, 65_537, 200_000])
def test_quoted_line_break_in_the_header_at_any_offset(tmp_path, where):
    """A header name holding a line break, placed across the reader's block boundaries."""
    pad = "p" * where
    path = tmp_path / "h.csv"
    path.write_text(f'{pad},"two\nlines",y\n1,2,3\n4,5,6\n')
    table = read_training_csv(str(path))
    assert table.features == [pad, "two\nlines"]
    assert table.Y.ravel().tolist() == [3.0, 6.0]


def test_header_that_never_closes_its_quote(tmp_path):
    path = tmp_path / "open.csv"
    path.write_text('a,"b,y\n1,2,3\n')
    with pytest.raises(DataError, match="line 1: a quote in the header is never closed"):
        read_training_csv(str(path))


@pytest.mark.parametrize("header_bytes", [65_535, 65_536, 131_071, 196_607])
def test_crlf_line_ends_across_a_block_boundary(tmp_path, header_bytes):
    """A CRLF file whose first CR ends a 64 KiB block is not mistaken for a CR-only file."""
    name = "a" * (header_bytes - 4)
    path = tmp_path / "crlf.csv"
    path.write_bytes((name + ",b,y\r\n" + "1,2,3\r\n" * 4 + "1,x,3\r\n").encode())
    with pytest.raises(DataError, match="line 6, column 'b'"):
        read_training_csv(str(path))


def test_header_only_file_with_an_unclosed_quote(tmp_path):
    path = tmp_path / "uq.csv"
    path.write_text('x0,x1,"x2\n')
    with pytest.raises(DataError, match="line 1: a quote in the header is never closed"):
        list(iter_feature_chunks(str(path), ["x0", "x1"]))
    path.write_text("x0,x1,x2")  # a header-only file without a final newline is fine
    assert list(iter_feature_chunks(str(path), ["x0", "x1"]))[0][1].shape == (0, 2)


# -- row sources: as many passes as asked ------------------------------------------
def _passes(rows, n=2):
    return [np.vstack([np.hstack(b) for b in rows.blocks()]) for _ in range(n)]


def test_csv_rows_read_a_file_again_for_each_pass(tmp_path):
    from krrcli.data import CsvRows

    X = np.random.default_rng(0).normal(size=(130, 3))
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n" + "".join(f"{r[0]!r},{r[1]!r},{r[2]!r}\n" for r in X.tolist()))
    rows = CsvRows(str(path), block_rows=50)
    first, second = _passes(rows)
    assert np.array_equal(first, X) and np.array_equal(second, X)
    assert rows.n_rows == 130 and rows.features == ["a", "b"] and rows.targets == ["y"]
    assert [b[0].shape[0] for b in rows.blocks()] == [50, 50, 30]


def test_a_one_pass_input_is_spilled_once_and_replayed(tmp_path, monkeypatch):
    """stdin cannot be read twice: the first pass keeps its parsed rows in an anonymous temporary file."""
    import io
    import sys

    from krrcli.data import CsvRows

    X = np.random.default_rng(1).normal(size=(75, 3))
    text = "a,b,y\n" + "".join(f"{r[0]!r},{r[1]!r},{r[2]!r}\n" for r in X.tolist())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    with CsvRows("-", block_rows=20, replay=True) as rows:
        first, second, third = _passes(rows, 3)
        assert list(tmp_path.iterdir()) == []  # the spill has no name: the system removes it at exit
    assert np.array_equal(first, X) and np.array_equal(second, X) and np.array_equal(third, X)


def test_scaler_learned_from_blocks_agrees_with_the_whole(tmp_path):
    from krrcli.data import CsvRows
    from krrcli.preprocess import Standardizer

    X = np.random.default_rng(2).normal(size=(333, 4)) * [1.0, 10.0, 1e3, 1e-3] + 5
    path = tmp_path / "s.csv"
    path.write_text("a,b,c,y\n" + "".join(",".join(repr(v) for v in r) + "\n" for r in X.tolist()))
    scaler = Standardizer()
    for Xb, _ in CsvRows(str(path), block_rows=100).blocks():
        scaler.partial_fit(Xb)
    whole = Standardizer().fit(X[:, :3])
    np.testing.assert_allclose(scaler.mean_, whole.mean_, rtol=1e-13)
    np.testing.assert_allclose(scaler.scale_, whole.scale_, rtol=1e-12)
    np.testing.assert_array_equal(whole.scale_, X[:, :3].std(axis=0))  # one block: numpy's own


def test_array_rows_and_csv_rows_fit_the_same_model(tmp_path):
    from krrcli import KernelRidge
    from krrcli.data import ArrayRows, CsvRows

    X = np.random.default_rng(3).normal(size=(60, 3))
    Y = np.sin(X[:, :1])
    path = tmp_path / "f.csv"
    path.write_text("a,b,c,y\n" + "".join(",".join(repr(v) for v in r) + "\n" for r in np.hstack([X, Y]).tolist()))
    a = KernelRidge(gamma=0.5, alpha=0.1).fit_rows(ArrayRows(X, Y, features=["a", "b", "c"], targets=["y"]))
    c = KernelRidge(gamma=0.5, alpha=0.1).fit_rows(CsvRows(str(path)))
    assert np.array_equal(a.dual_coef_, c.dual_coef_) and a.feature_names_in_ == c.feature_names_in_


def test_a_one_pass_input_without_replay_is_read_once_and_never_copied(tmp_path, monkeypatch):
    import io
    import sys
    import tempfile

    from krrcli.data import CsvRows

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"a,y\n1,2\n3,4\n")))
    made = []
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda *a, **k: made.append(1))
    rows = CsvRows("-")
    assert rows.to_arrays()[0].tolist() == [[1.0], [3.0]]
    assert made == []  # nothing written for a single pass
    with pytest.raises(DataError, match="can be read only once"):
        rows.to_arrays()
