"""Parsing chunks of CSV lines into floats, every cell checked, and naming the first bad one.

The raw lines of a chunk are kept so that any problem can be reported with the line
number a user sees in an editor (the header is line 1); the numbers are parsed by
pandas' C parser, and a chunk with a problem is looked at line by line.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import numpy as np

from ..errors import DataError
from ..limits import MAX_HEADER_BYTES
from .text import _decode, _short

# What a cell holding no value looks like (compared in lower case, after ASCII blanks are stripped); the
# numeric columns' parser (pandas) reads these as NaN, and the categorical columns' are read the same way
MISSING_CELLS = frozenset({"", "na", "n/a", "nan", "null", "none", "<na>", "#n/a", "-nan"})

_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE)


def split_line(line: str, sep: str) -> list[str]:
    """Fields of one CSV line, as the csv module reads them (plain splitting if it cannot)."""
    if csv.field_size_limit() < MAX_HEADER_BYTES:  # the csv module stops at 128 KiB fields by default
        csv.field_size_limit(MAX_HEADER_BYTES)
    try:
        return next(csv.reader([line], delimiter=sep), [])
    except csv.Error:
        return line.rstrip("\r\n").split(sep)


def is_missing(cell: str) -> bool:
    """Whether a (stripped) cell is one of :data:`MISSING_CELLS`."""
    return cell.lower() in MISSING_CELLS


def is_number(cell: str) -> bool:
    """Whether a (stripped) cell is a number as the parser reads one (``inf`` and ``nan`` included)."""
    return _NUMBER.fullmatch(cell) is not None


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
                if is_missing(cell):
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

    if not lines or not col_idx:
        return np.empty((len(lines), len(col_idx)))
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


def read_columns(
    buffer: io.StringIO | io.BytesIO, names: list[str], usecols: list[int], sep: str, text: bool = False
) -> Any:
    """The columns ``usecols`` of checked CSV lines as a DataFrame by pandas' C parser (blank lines skipped);
    with ``text``, every cell as it is written (no conversion, no NaN)."""
    import pandas as pd

    as_text = {"dtype": str, "na_filter": False} if text else {}
    return pd.read_csv(buffer, sep=sep, header=None, names=list(range(len(names))), usecols=usecols, index_col=False,
                       skip_blank_lines=True, engine="c", encoding="utf-8", **as_text)  # fmt: skip


def _read_text(
    buffer: io.StringIO | io.BytesIO,
    names: list[str],
    text_idx: list[int],
    sep: str,
    numbers: list[int],
    src_name: str,
) -> list[np.ndarray]:
    """The cells of the columns ``text_idx`` of checked lines, as text with ASCII blanks stripped (one
    object array per column); a missing cell (:data:`MISSING_CELLS`) is refused, naming its line."""
    df = read_columns(buffer, names, text_idx, sep, text=True)
    if len(df) != len(numbers):  # (the checks before this one make it unreachable)
        raise DataError(f"{src_name}: lines {numbers[0]}-{numbers[-1]}: cannot read the text columns")
    out = []
    for j in text_idx:
        cells = df[j].str.strip(" \t\r\n")
        missing = cells.str.lower().isin(MISSING_CELLS).to_numpy()
        if missing.any():
            i = int(np.argmax(missing))
            raise DataError(
                f"{src_name}: line {numbers[i]}, column {names[j]!r}: missing value; every categorical cell "
                "needs a category"
            )
        out.append(cells.to_numpy(dtype=object))
    return out


def parse_chunk(
    raw: bytes,
    first_line: int,
    names: list[str],
    col_idx: list[int],
    sep: str,
    src_name: str,
    what: str = "the header",
    keep_lines: bool = False,
    text_idx: list[int] | None = None,
    texts: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, list[str] | None, list[int]]:
    """Parse a chunk of raw CSV lines: the columns ``col_idx`` as float64, every cell checked.

    Field counts, blank lines and line numbers are found with vectorized byte
    scans, the numbers by pandas' C parser; only a chunk with a problem (or with
    quoted fields) is looked at line by line, to say exactly where it is.

    With ``text_idx`` (categorical columns), their cells are appended to the list ``texts``, one object
    array of stripped text per column, aligned with the rows of ``A``; a missing cell is refused.

    Returns
    -------
    A : ndarray of shape (n_rows, len(col_idx))
    lines : list of str or None
        The chunk's non-blank lines, without line ends, when ``keep_lines``.
    numbers : list of int
        The line number (in the file) of each row.
    """

    if b'"' in raw:  # quoted fields may hold separators or newlines: take the careful path
        text = _decode(raw, src_name, first_line)
        lines, numbers = check_lines(text.splitlines(keepends=True), len(names), sep, first_line, src_name, what)
        A = parse_numeric(lines, numbers, names, col_idx, sep, src_name)
        if text_idx and lines:
            texts.extend(_read_text(io.StringIO("".join(lines)), names, text_idx, sep, numbers, src_name))
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

    def read_text() -> None:
        try:
            texts.extend(_read_text(io.BytesIO(raw), names, text_idx, sep, numbers, src_name))
        except UnicodeDecodeError:
            lines()  # names the line that is not UTF-8
            raise

    if not col_idx:  # only text columns (a model whose features are all categorical)
        read_text()
        return np.empty((len(kept), 0)), (lines() if keep_lines else None), numbers
    try:
        df = read_columns(io.BytesIO(raw), names, col_idx, sep)
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
    if text_idx:
        read_text()
    return A, (lines() if keep_lines else None), numbers
