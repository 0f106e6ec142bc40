"""Reading and checking CSV input, writing CSV output.

Input is read a chunk of lines at a time: the raw lines of a chunk are kept so
that any problem can be reported with the line number a user sees in an editor
(the header is line 1), and are then parsed by pandas' C parser. A path or
``-`` (stdin) is accepted; gzip, bzip2, xz and zip input is recognised by its
first bytes and decompressed on the fly.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import itertools
import lzma
import os
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from .errors import DataError, UsageError

DEFAULT_CHUNK_ROWS = 10_000

# What the CSV parser reads as a number (Python's float() also takes "1_000" and non-ASCII digits).
_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE)


class _HashingReader(io.RawIOBase):
    """A binary stream that hashes the bytes read through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.sha256.update(data)
        return n


def parse_sep(sep: str) -> str:
    """The delimiter from ``--sep`` (``\\t`` and ``tab`` mean a tab)."""
    if sep in ("\\t", "tab", "TAB"):
        return "\t"
    if len(sep) != 1 or sep in '"\r\n':
        raise UsageError(f"--sep must be one character (or \\t), got {sep!r}")
    return sep


class CsvSource:
    """An open CSV input: its display name, a text stream of lines, and a hash of its bytes."""

    def __init__(self, path: str, sep: str = ",") -> None:
        self.path = path
        self.name = "<stdin>" if path == "-" else path
        self.sep = parse_sep(sep)
        self._closers: list[Any] = []
        raw = self._open_raw(path)
        self._hasher = _HashingReader(raw)
        buffered = io.BufferedReader(self._hasher, buffer_size=1 << 20)
        self._closers.append(buffered)
        self.stream = self._wrap_text(self._decompress(buffered))

    def _open_raw(self, path: str) -> IO[bytes]:
        if path == "-":
            return sys.stdin.buffer
        if os.path.isdir(path):
            raise DataError(f"cannot read {path!r}: it is a folder, not a CSV file")
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            raise DataError(f"cannot read {path!r}: no such file") from None
        except PermissionError:
            raise DataError(f"cannot read {path!r}: permission denied") from None
        except OSError as exc:
            raise DataError(f"cannot read {path!r}: {exc.strerror}") from None
        self._closers.append(fh)
        return fh

    def _decompress(self, fh: io.BufferedReader) -> IO[bytes]:
        magic = fh.peek(6)[:6]
        if magic.startswith(b"\x1f\x8b"):
            return gzip.GzipFile(fileobj=fh, mode="rb")
        if magic.startswith(b"BZh"):
            return bz2.BZ2File(fh, mode="rb")
        if magic.startswith(b"\xfd7zXZ\x00"):
            return lzma.LZMAFile(fh, mode="rb")
        if magic.startswith(b"PK\x03\x04"):
            try:
                zf = zipfile.ZipFile(io.BytesIO(fh.read()))
            except zipfile.BadZipFile:
                raise DataError(f"cannot read {self.name!r}: it is a damaged zip file") from None
            members = [i for i in zf.infolist() if not i.is_dir()]
            if len(members) != 1:
                raise DataError(f"{self.name!r}: a zip input must hold exactly one file, it holds {len(members)}")
            return zf.open(members[0])
        return fh

    def _wrap_text(self, fh: IO[bytes]) -> IO[str]:
        return io.TextIOWrapper(fh, encoding="utf-8-sig", newline=None)

    @property
    def sha256(self) -> str:
        return self._hasher.sha256.hexdigest()

    def readlines(self, n: int) -> list[str]:
        """Up to ``n`` more lines (with their newline)."""
        try:
            return list(itertools.islice(self.stream, n))
        except UnicodeDecodeError:
            raise DataError(f"cannot read {self.name!r}: it is not UTF-8 text") from None
        except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as exc:
            raise DataError(f"cannot read {self.name!r}: {exc}") from None

    def drain_hash(self) -> str:
        """Read what is left of the raw input into the hash and return the hex digest."""
        while self._hasher.read(1 << 20):
            pass
        return self.sha256

    def close(self) -> None:
        for c in reversed(self._closers):
            try:
                c.close()
            except Exception:
                pass

    def __enter__(self) -> CsvSource:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def split_line(line: str, sep: str) -> list[str]:
    """Fields of one CSV line, as the csv module reads them."""
    return next(csv.reader([line], delimiter=sep), [])


def read_header(src: CsvSource) -> list[str] | None:
    """Column names from the first line (None for an empty input); checks duplicates."""
    first = src.readlines(1)
    if not first:
        return None
    names = [f.strip() for f in split_line(first[0], src.sep)]
    names = [name or f"Unnamed: {i}" for i, name in enumerate(names)]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise DataError(
                f"{src.name}: line 1: column name {name!r} appears twice (columns {seen[name] + 1} and {i + 1}); "
                "column names must be unique"
            )
        seen[name] = i
    return names


def check_lines(
    lines: list[str], n_cols: int, sep: str, first_line: int, src_name: str, what: str = "the header"
) -> tuple[list[str], list[int]]:
    """Drop blank lines and check every other line has ``n_cols`` fields.

    Returns the kept lines and their line numbers in the file.
    """
    expected = n_cols - 1
    blank: list[int] = []
    for i, line in enumerate(lines):
        if line.count(sep) == expected and (expected or line.strip()):
            continue
        if not line.strip():
            blank.append(i)
            continue
        fields = split_line(line, sep)
        if '"' in line and len(fields) == n_cols:
            continue
        raise DataError(
            f"{src_name}: line {first_line + i} has {len(fields)} field(s) but {what} has {n_cols}; "
            "every row needs exactly one value per column"
        )
    numbers = range(first_line, first_line + len(lines))
    if not blank:
        return lines, list(numbers)
    drop = set(blank)
    kept = [i for i in range(len(lines)) if i not in drop]
    return [lines[i] for i in kept], [numbers[i] for i in kept]


def _diagnose_cells(
    lines: list[str], line_numbers: list[int], sep: str, col_idx: list[int], names: list[str], src_name: str
) -> DataError:
    """Find the first non-numeric, missing or infinite cell among the used columns."""
    for line, line_no in zip(lines, line_numbers, strict=True):
        fields = split_line(line, sep)
        for j in col_idx:
            cell = fields[j].strip() if j < len(fields) else ""
            where = f"{src_name}: line {line_no}, column {names[j]!r}"
            try:
                if not _NUMBER.fullmatch(cell):
                    raise ValueError(cell)
                value = float(cell)
            except ValueError:
                if cell == "" or cell.lower() in {"na", "n/a", "nan", "null", "none", "<na>", "#n/a", "-nan"}:
                    return DataError(f"{where}: missing value; every feature and target cell needs a number")
                return DataError(f"{where}: {cell!r} is not a number")
            if np.isnan(value):
                return DataError(f"{where}: missing value (NaN); every feature and target cell needs a number")
            if not np.isfinite(value):
                return DataError(f"{where}: infinite value {cell!r}; every feature and target cell must be finite")
    return DataError(f"{src_name}: lines {line_numbers[0]}-{line_numbers[-1]}: cannot parse the numbers")


def parse_numeric(
    lines: list[str], line_numbers: list[int], names: list[str], col_idx: list[int], sep: str, src_name: str
) -> np.ndarray:
    """Parse the columns ``col_idx`` of checked CSV ``lines`` into float64, checking every cell.

    Returns
    -------
    A : ndarray of shape (len(lines), len(col_idx))
    """
    import pandas as pd

    if not lines:
        return np.empty((0, len(col_idx)))
    try:
        df = pd.read_csv(
            io.StringIO("".join(lines)),
            sep=sep,
            header=None,
            names=list(range(len(names))),
            usecols=col_idx,
            dtype=np.float64,
            index_col=False,
            skip_blank_lines=False,
            engine="c",
        )
        A = df[col_idx].to_numpy(dtype=np.float64)
    except (ValueError, TypeError):
        raise _diagnose_cells(lines, line_numbers, sep, col_idx, names, src_name) from None
    if A.shape[0] != len(lines) or not np.isfinite(A).all():
        raise _diagnose_cells(lines, line_numbers, sep, col_idx, names, src_name)
    return A


def _column_index(names: list[str], wanted: list[str], src_name: str, role: str) -> list[int]:
    pos = {n: i for i, n in enumerate(names)}
    out = []
    for w in wanted:
        if w not in pos:
            raise DataError(f"{src_name}: {role} column {w!r} not found; columns are: {', '.join(names)}")
        out.append(pos[w])
    return out


@dataclass
class TrainingData:
    """Training rows read from a CSV file."""

    X: np.ndarray
    Y: np.ndarray
    features: list[str]
    targets: list[str]
    source: str
    sha256: str


def choose_columns(
    names: list[str], targets: list[str] | None, features: list[str] | None, src_name: str
) -> tuple[list[str], list[str]]:
    """Resolve ``--target`` / ``--features`` against the header (defaults: last column / all others)."""
    if len(names) < 2 and not features:
        hint = ""
        if any(c in names[0] for c in ";\t|,"):
            hint = "; is the delimiter right? set it with --sep (e.g. --sep ';')"
        raise DataError(f"{src_name}: need at least two columns (features and a target), found 1: {names[0]!r}{hint}")
    targets = list(targets) if targets else [names[-1]]
    _column_index(names, targets, src_name, "target")
    if features:
        _column_index(names, features, src_name, "feature")
        both = [f for f in features if f in targets]
        if both:
            raise UsageError(f"column {both[0]!r} is given both as a target and as a feature")
        if len(set(features)) != len(features):
            raise UsageError("--features names a column more than once")
    else:
        features = [n for n in names if n not in targets]
        if not features:
            raise DataError(f"{src_name}: no feature columns left after taking the target(s) {', '.join(targets)}")
    if len(set(targets)) != len(targets):
        raise UsageError("--target names a column more than once")
    return targets, features


def parse_features_option(value: str | None) -> list[str] | None:
    """``"a,b, c"`` -> ``["a", "b", "c"]``."""
    if value is None:
        return None
    cols = [c.strip() for c in value.split(",") if c.strip()]
    if not cols:
        raise UsageError("--features is empty; give comma-separated column names")
    return cols


def read_training_csv(
    path: str,
    targets: list[str] | None = None,
    features: list[str] | None = None,
    sep: str = ",",
    min_rows: int = 2,
) -> TrainingData:
    """Read the feature and target columns of a CSV file, checking every cell."""
    with CsvSource(path, sep) as src:
        names = read_header(src)
        if names is None:
            raise DataError(f"{src.name} is empty; expected a header line and data rows")
        targets, features = choose_columns(names, targets, features, src.name)
        f_idx = _column_index(names, features, src.name, "feature")
        t_idx = _column_index(names, targets, src.name, "target")
        idx = f_idx + t_idx
        parts = []
        line_no = 2
        while True:
            lines = src.readlines(DEFAULT_CHUNK_ROWS * 5)
            if not lines:
                break
            n_read = len(lines)
            lines, numbers = check_lines(lines, len(names), src.sep, line_no, src.name)
            parts.append(parse_numeric(lines, numbers, names, idx, src.sep, src.name))
            line_no += n_read
        sha = src.drain_hash()
    A = np.concatenate(parts) if parts else np.empty((0, len(idx)))
    if A.shape[0] == 0:
        raise DataError(f"{src.name} has a header but no data rows")
    if A.shape[0] < min_rows:
        raise DataError(f"{src.name} has {A.shape[0]} data row(s); need at least {min_rows}")
    nf = len(f_idx)
    return TrainingData(
        np.ascontiguousarray(A[:, :nf]), np.ascontiguousarray(A[:, nf:]), features, targets, src.name, sha
    )


def iter_feature_chunks(
    path: str,
    features: list[str],
    sep: str = ",",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    no_header: bool = False,
    keep_input: bool = False,
) -> Iterator[tuple[list[str], np.ndarray, Any]]:
    """Stream a CSV of new rows: yields ``(input_columns, X_chunk, raw_chunk)``.

    ``X_chunk`` has the model's ``features`` in order, matched by name (any
    order, extra columns ignored), or by position with ``no_header``.
    ``raw_chunk`` is the chunk's input columns as strings (a DataFrame) when
    ``keep_input``, else None. A header-only input yields one empty chunk.
    """
    import pandas as pd

    if chunk_rows < 1:
        raise UsageError(f"--chunk-size must be >= 1, got {chunk_rows}")
    with CsvSource(path, sep) as src:
        if no_header:
            names = list(features)
            line_no = 1
        else:
            header = read_header(src)
            if header is None:
                raise DataError(f"{src.name} is empty; expected a header line (or use --no-header)")
            names = header
            line_no = 2
            missing = [f for f in features if f not in names]
            if missing:
                raise DataError(
                    f"{src.name}: the model needs feature column(s) {', '.join(map(repr, missing))}, "
                    f"which the input lacks; columns are: {', '.join(names)}"
                )
        idx = [names.index(f) for f in features]
        what = "the model's feature list" if no_header else "the header"
        yielded = False
        while True:
            lines = src.readlines(chunk_rows)
            if not lines:
                break
            n_read = len(lines)
            lines, numbers = check_lines(lines, len(names), src.sep, line_no, src.name, what)
            line_no += n_read
            if not lines:
                continue
            X = parse_numeric(lines, numbers, names, idx, src.sep, src.name)
            raw = None
            if keep_input:
                raw = pd.read_csv(
                    io.StringIO("".join(lines)),
                    sep=src.sep,
                    header=None,
                    names=names,
                    dtype=str,
                    keep_default_na=False,
                    index_col=False,
                    skip_blank_lines=False,
                )
            yield names, X, raw
            yielded = True
        if not yielded:
            raw = pd.DataFrame({n: pd.Series(dtype=str) for n in names}) if keep_input else None
            yield names, np.empty((0, len(idx))), raw


def format_prediction_chunk(
    pred: np.ndarray, columns: list[str], header: bool, float_format: str | None, raw: Any = None
) -> str:
    """CSV text for one chunk of predictions (optionally after the input columns).

    With ``float_format=None`` every value is written in the shortest form that
    reads back as the same float64.
    """
    import pandas as pd

    df = pd.DataFrame(pred, columns=columns)
    if raw is not None:
        df = pd.concat([raw.reset_index(drop=True), df], axis=1)
    return df.to_csv(index=False, header=header, float_format=float_format, lineterminator="\n")
