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
from .limits import MAX_COLUMNS, MAX_HEADER_BYTES, MAX_HEADER_LINES

DEFAULT_CHUNK_ROWS = 10_000
TRAINING_CHUNK_ROWS = 50_000

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
        self.stream = self._decompress(buffered)
        self._pending = b""
        self._eof = False
        self._cr_only: bool | None = None
        self.header_lines = 1

    def _open_raw(self, path: str) -> IO[bytes]:
        if path == "-":
            stdin = getattr(sys.stdin, "buffer", None)
            if stdin is None:
                raise DataError("cannot read standard input ('-'): it is closed; give a file name, or pipe the data in")
            return stdin
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
        if magic.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            try:
                zf = zipfile.ZipFile(io.BytesIO(fh.read()))
            except zipfile.BadZipFile:
                raise DataError(f"cannot read {self.name!r}: it is a damaged zip file") from None
            members = [i for i in zf.infolist() if not i.is_dir()]
            if len(members) != 1:
                raise DataError(f"{self.name!r}: a zip input must hold exactly one file, it holds {len(members)}")
            return zf.open(members[0])
        return fh

    @property
    def sha256(self) -> str:
        return self._hasher.sha256.hexdigest()

    def _read(self, size: int) -> bytes:
        try:
            return self.stream.read(size)
        except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as exc:
            raise DataError(f"cannot read {self.name!r}: {exc}") from None

    def read_header(self) -> list[str] | None:
        """The fields of the header, as the csv module reads them (None for an empty input).

        A line break inside a quoted name does not end the header; ``header_lines`` says
        how many lines of the file it took. Linear in the header's size, which may be at
        most ``MAX_HEADER_BYTES``.
        """
        state = {"lines": 0, "exhausted": False, "size": 0}
        buf, pos = self._pending, 0  # the header's lines are cut from buf at pos, without copying the rest

        def lines() -> Iterator[str]:
            nonlocal buf, pos
            while True:
                parts: list[bytes] = []
                while True:
                    cut = buf.find(b"\n", pos)
                    end = len(buf) if cut < 0 else cut + 1
                    parts.append(buf[pos:end])
                    state["size"] += end - pos
                    pos = end
                    if state["size"] > MAX_HEADER_BYTES:
                        raise DataError(
                            f"{self.name}: line 1 (the header) is longer than {MAX_HEADER_BYTES // 2**20} MiB; "
                            "is this a CSV file with a header line?"
                        )
                    if cut >= 0 or self._eof:
                        break
                    buf, pos = self._read_block(1 << 16), 0
                line = b"".join(parts)
                if not line:
                    state["exhausted"] = True
                    return
                state["lines"] += 1
                if state["lines"] > MAX_HEADER_LINES:
                    raise DataError(
                        f"{self.name}: line 1: the header runs over more than {MAX_HEADER_LINES:,} lines; "
                        "is a quote in it never closed?"
                    )
                text = _decode(line, self.name, state["lines"])
                yield text.lstrip("\ufeff") if state["lines"] == 1 else text

        if csv.field_size_limit() < MAX_HEADER_BYTES:  # the csv module stops at 128 KiB fields by default
            csv.field_size_limit(MAX_HEADER_BYTES)
        try:
            fields = next(csv.reader(lines(), delimiter=self.sep))
        except StopIteration:
            return None
        except csv.Error as exc:
            raise DataError(f"{self.name}: line 1: cannot read the header ({exc})") from None
        finally:
            self._pending = buf[pos:]
        if state["exhausted"]:  # the csv module asked for more lines than there are: inside a quote
            raise DataError(f"{self.name}: line 1: a quote in the header is never closed")
        self.header_lines = max(1, state["lines"])
        return fields

    def _read_block(self, size: int) -> bytes:
        data = self._read(size)
        if not data:
            self._eof = True
            return b""
        if self._cr_only is None:
            # decided at the first line end: old Mac files end lines with CR alone
            if data.endswith(b"\r") and b"\n" not in data:
                data += self._read(1)  # a CR at the end of a block: is it followed by LF?
            cr, lf = data.find(b"\r"), data.find(b"\n")
            if lf >= 0 or cr >= 0:
                self._cr_only = lf < 0 or (0 <= cr < lf - 1)
        if self._cr_only:
            data = data.replace(b"\r", b"\n")
        return data

    def _fill(self, size: int) -> None:
        self._pending += self._read_block(size)

    def read_rows(self, n: int) -> bytes:
        """The raw bytes of up to ``n`` more lines (ending at a newline, or at the end of input)."""
        have = self._pending.count(b"\n")
        while have < n and not self._eof:
            before = len(self._pending)
            per_line = max(16, before // max(1, have)) if have else 256
            self._fill(max(1 << 16, min(1 << 26, (n - have) * per_line)))
            have += self._pending.count(b"\n", before)
        if have >= n:
            newlines = np.flatnonzero(np.frombuffer(self._pending, dtype=np.uint8) == 10)
            cut = int(newlines[n - 1]) + 1
            chunk, self._pending = self._pending[:cut], self._pending[cut:]
        else:
            chunk, self._pending = self._pending, b""
        return chunk

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
    """Fields of one CSV line, as the csv module reads them (plain splitting if it cannot)."""
    if csv.field_size_limit() < MAX_HEADER_BYTES:  # the csv module stops at 128 KiB fields by default
        csv.field_size_limit(MAX_HEADER_BYTES)
    try:
        return next(csv.reader([line], delimiter=sep), [])
    except csv.Error:
        return line.rstrip("\r\n").split(sep)


_NL = b"\n"


def _short(text: str, limit: int = 60) -> str:
    """``repr(text)``, cut to about ``limit`` characters so that an error stays one readable line."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text):,} characters)"


def _name_list(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(_short(n, 40) if len(n) > 40 or not n.isprintable() else csv_field(n) for n in names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names):,} in all)"


def _decode(raw: bytes, name: str, first_line: int | None = None) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = "" if first_line is None else f" (line {first_line + raw.count(_NL, 0, exc.start)})"
        bad = raw[exc.start : exc.start + 1].hex()
        raise DataError(
            f"cannot read {name!r}: it is not UTF-8 text{where}: byte 0x{bad}; save it as UTF-8 "
            "(e.g. iconv -f latin1 -t utf-8)"
        ) from None


def read_header(src: CsvSource) -> list[str] | None:
    """Column names from the first line (None for an empty input); checks duplicates."""
    fields = src.read_header()
    if fields is None:
        return None
    if not fields or (len(fields) == 1 and not fields[0].strip()):
        raise DataError(f"{src.name}: line 1 is empty; the first line must be the header with the column names")
    names = [f.strip() for f in fields]
    if len(names) > MAX_COLUMNS:
        raise DataError(f"{src.name}: line 1 names {len(names):,} columns; krr reads at most {MAX_COLUMNS:,}")
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
            cell = fields[j].strip(" \t\r\n") if j < len(fields) else ""  # ASCII blanks only, as the parser
            where = f"{src_name}: line {line_no}, column {names[j]!r}"
            try:
                if not _NUMBER.fullmatch(cell):
                    raise ValueError(cell)
                value = float(cell)
            except ValueError:
                if cell == "" or cell.lower() in {"na", "n/a", "nan", "null", "none", "<na>", "#n/a", "-nan"}:
                    return DataError(f"{where}: missing value; every feature and target cell needs a number")
                return DataError(f"{where}: {_short(cell)} is not a number")
            if np.isnan(value):
                return DataError(f"{where}: missing value (NaN); every feature and target cell needs a number")
            if not np.isfinite(value):
                return DataError(
                    f"{where}: infinite value {_short(cell)}; every feature and target cell must be finite"
                )
    return DataError(f"{src_name}: lines {line_numbers[0]}-{line_numbers[-1]}: cannot parse the numbers")


def _as_floats(values: list[Any]) -> np.ndarray | None:
    """A column the parser did not read as numbers, as floats if every cell is one (else None).

    Integers beyond int64 come back as Python ints, or as text when mixed with decimals:
    they are valid numbers, read as floats like any other (int -> float and float(text)
    both round correctly, so the value is the same either way).
    """
    out = np.empty(len(values))
    for i, v in enumerate(values):
        if type(v) is str:
            v = v.strip(" \t\r\n")
            if not _NUMBER.fullmatch(v):
                return None
        elif type(v) not in (int, float):
            return None
        try:
            out[i] = float(v)
        except OverflowError:  # an integer of 309 digits or more: infinite, and refused as such
            out[i] = -np.inf if v < 0 else np.inf
    return out


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


def parse_chunk(
    raw: bytes,
    first_line: int,
    names: list[str],
    col_idx: list[int],
    sep: str,
    src_name: str,
    what: str = "the header",
    keep_lines: bool = False,
) -> tuple[np.ndarray, list[str] | None, list[int]]:
    """Parse a chunk of raw CSV lines: the columns ``col_idx`` as float64, every cell checked.

    Field counts, blank lines and line numbers are found with vectorized byte
    scans, the numbers by pandas' C parser; only a chunk with a problem (or with
    quoted fields) is looked at line by line, to say exactly where it is.

    Returns
    -------
    A : ndarray of shape (n_rows, len(col_idx))
    lines : list of str or None
        The chunk's non-blank lines, without line ends, when ``keep_lines``.
    numbers : list of int
        The line number (in the file) of each row.
    """
    import pandas as pd

    if b'"' in raw:  # quoted fields may hold separators or newlines: take the careful path
        text = _decode(raw, src_name, first_line)
        lines, numbers = check_lines(text.splitlines(keepends=True), len(names), sep, first_line, src_name, what)
        A = parse_numeric(lines, numbers, names, col_idx, sep, src_name)
        return A, ([ln.rstrip("\r\n") for ln in lines] if keep_lines else None), numbers
    arr = np.frombuffer(raw, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    n_lines = len(nl) + (1 if len(raw) and raw[-1:] != b"\n" else 0)
    starts = np.concatenate(([0], nl + 1))[:n_lines]
    ends = np.concatenate((nl, [len(raw)]))[:n_lines]
    has_cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13)
    ends = ends - has_cr
    # fields per line from the positions of the separators
    sep_at = np.flatnonzero(arr == ord(sep))
    counts = np.searchsorted(sep_at, ends) - np.searchsorted(sep_at, starts)
    odd = np.flatnonzero((counts != len(names) - 1) | (ends == starts))
    blank = np.zeros(n_lines, dtype=bool)
    for i in odd:  # few: empty or white-space lines, and ragged ones
        text = _decode(raw[starts[i] : ends[i]], src_name, first_line + int(i))
        if not text.strip():
            blank[i] = True
            continue
        fields = split_line(text, sep)
        raise DataError(
            f"{src_name}: line {first_line + i} has {len(fields)} field(s) but {what} has {len(names)}; "
            "every row needs exactly one value per column"
        )
    kept = np.flatnonzero(~blank)
    numbers = (first_line + kept).tolist()

    orig = raw

    def lines() -> list[str]:
        return [_decode(orig[starts[i] : ends[i]], src_name, first_line + int(i)) for i in kept]

    if len(kept) == 0:
        return np.empty((0, len(col_idx))), ([] if keep_lines else None), []
    if (blank & (ends > starts)).any():  # white-space-only lines: drop them before parsing
        raw = b"\n".join(raw[starts[i] : ends[i]] for i in kept) + b"\n"
    try:
        df = pd.read_csv(
            io.BytesIO(raw),
            sep=sep,
            header=None,
            names=list(range(len(names))),
            usecols=col_idx,
            index_col=False,
            skip_blank_lines=True,
            engine="c",
            encoding="utf-8",
        )
    except (ValueError, UnicodeDecodeError):
        raise _diagnose_cells(lines(), numbers, sep, col_idx, names, src_name) from None
    if len(df) != len(kept):
        raise _diagnose_cells(lines(), numbers, sep, col_idx, names, src_name)
    for j in col_idx:
        if df[j].dtype.kind not in "iuf":
            values = _as_floats(df[j].tolist())
            if values is None:
                raise _diagnose_cells(lines(), numbers, sep, col_idx, names, src_name)
            df[j] = values
    A = df[col_idx].to_numpy(dtype=np.float64)
    if not np.isfinite(A).all():
        raise _diagnose_cells(lines(), numbers, sep, col_idx, names, src_name)
    return A, (lines() if keep_lines else None), numbers


def _column_index(names: list[str], wanted: list[str], src_name: str, role: str) -> list[int]:
    pos = {n: i for i, n in enumerate(names)}
    out = []
    for w in wanted:
        if w not in pos:
            hint = ""
            if role == "feature" and any("," in n or '"' in n for n in names):
                hint = " (in --features, quote a name that holds a comma or a quote: -f '\"x,2\",x1')"
            raise DataError(f"{src_name}: {role} column {_short(w)} not found; columns are: {_name_list(names)}{hint}")
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
        raise DataError(
            f"{src_name}: need at least two columns (features and a target), found 1: {_short(names[0])}{hint}"
        )
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


def parse_features_option(value: str | list[str] | None) -> list[str] | None:
    """``"a,b, c"`` or ``["a,b", "c"]`` (the option repeated) -> ``["a", "b", "c"]``.

    Each value is read as a CSV line: a name holding a comma or a quote is quoted
    as in a CSV file (``'"x,2",x1'`` -> ``["x,2", "x1"]``).
    """
    if not value:
        return None
    parts = [value] if isinstance(value, str) else value
    cols = []
    for part in parts:
        try:
            fields = next(csv.reader([part], skipinitialspace=True, strict=True), [])
        except csv.Error as exc:
            raise UsageError(
                f"cannot read --features {_short(part)} as comma-separated names ({exc}); "
                "quote a name that holds a comma or a quote, as in a CSV file: -f '\"x,2\",x1'"
            ) from None
        cols.extend(c.strip() for c in fields if c.strip())
    if not cols:
        raise UsageError("--features is empty; give comma-separated column names")
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup:
        raise UsageError(f"--features names {', '.join(dup)} more than once")
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
        line_no = 1 + src.header_lines
        while True:
            raw = src.read_rows(TRAINING_CHUNK_ROWS)
            if not raw:
                break
            parts.append(parse_chunk(raw, line_no, names, idx, src.sep, src.name)[0])
            line_no += raw.count(b"\n")
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
) -> Iterator[tuple[list[str], np.ndarray, list[str] | None]]:
    """Stream a CSV of new rows: yields ``(input_columns, X_chunk, input_lines, line_numbers)``.

    ``X_chunk`` has the model's ``features`` in order, matched by name (any
    order, extra columns ignored), or by position with ``no_header``.
    ``input_lines`` are the chunk's raw lines when ``keep_input``, else None.
    A header-only input yields one empty chunk.
    """
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
            line_no = 1 + src.header_lines
            position = {n: i for i, n in enumerate(names)}
            missing = [f for f in features if f not in position]
            if missing:
                raise DataError(
                    f"{src.name}: the model needs feature column(s) {_name_list([repr(m) for m in missing], 5)}, "
                    f"which the input lacks; columns are: {_name_list(names)}"
                )
        position = {n: i for i, n in enumerate(names)}
        idx = [position[f] for f in features]
        what = "the model's feature list" if no_header else "the header"
        yielded = False
        while True:
            raw = src.read_rows(chunk_rows)
            if not raw:
                break
            X, lines, numbers = parse_chunk(raw, line_no, names, idx, src.sep, src.name, what, keep_input)
            line_no += raw.count(b"\n")
            if X.shape[0] == 0:
                continue
            yield names, X, lines, numbers
            yielded = True
        if not yielded:
            yield names, np.empty((0, len(idx))), ([] if keep_input else None), []


def csv_field(text: str, sep: str = ",") -> str:
    """``text`` as one CSV field: quoted (quotes doubled) when it holds the separator, a quote or a line break."""
    if sep in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def format_header(names: list[str], sep: str = ",") -> str:
    """The header line (without newline) of a CSV that reads back with exactly ``names``."""
    return sep.join(csv_field(n, sep) for n in names)


def format_rows(pred: np.ndarray, float_format: str | None = None, sep: str = ",") -> list[str]:
    """One CSV line (without newline) per row of ``pred`` (shape (n_rows, n_targets)).

    With ``float_format=None`` each value is written in the shortest form that
    reads back as the same float64 (Python's ``repr``).
    """
    if float_format is None:
        cols = [list(map(repr, pred[:, j].tolist())) for j in range(pred.shape[1])]
    else:
        cols = [[float_format % v for v in pred[:, j].tolist()] for j in range(pred.shape[1])]
    if len(cols) == 1:
        return cols[0]
    return [sep.join(row) for row in zip(*cols, strict=True)]
