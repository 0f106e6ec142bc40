"""Parsing chunks of CSV lines into floats, every cell checked, and naming the first bad one.

The raw lines of a chunk are kept so that any problem can be reported with the line
number a user sees in an editor (the header is line 1); the numbers are parsed by
pandas' C parser, and a chunk with a problem is looked at line by line.
"""

from __future__ import annotations

import csv
import io
import math
import re
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import DataError
from ..limits import MAX_HEADER_BYTES
from .text import _decode, _short

# What a missing value is, the same in every column and command: a cell that is exactly one of these once
# its ASCII blanks are stripped (case as written). The numeric columns' parser (pandas) is told these and no
# other spelling; anything else that is not a number (N/A, None, NAN, -nan, ...) is refused as text.
MISSING_CELLS = frozenset({"", "NA", "NaN", "nan", "null"})
MISSING_SHOWN = "an empty cell, NA, NaN, nan or null"
# Spellings other tools read as missing (compared in lower case): not missing here, but named as such in
# the error, and not taken for text by --categorical auto
_LOOKS_MISSING = frozenset({"na", "n/a", "nan", "null", "none", "<na>", "#n/a", "-nan", "+nan", "nil", "-", "?"})

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
    """Whether a (stripped) cell is a missing value (:data:`MISSING_CELLS`)."""
    return cell in MISSING_CELLS


def looks_missing(cell: str) -> bool:
    """Whether a (stripped) cell is a missing value, or a spelling of one that other tools read."""
    return cell in MISSING_CELLS or cell.lower() in _LOOKS_MISSING


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
    lines: list[str],
    line_numbers: list[int],
    sep: str,
    col_idx: list[int],
    names: list[str],
    src_name: str,
    allow_missing: bool = False,
) -> DataError | None:
    """The first non-numeric, missing (unless ``allow_missing``) or infinite cell among the used columns,
    as an error naming it; None when every cell is a finite number or (``allow_missing``) missing."""
    for line, line_no in zip(lines, line_numbers, strict=True):
        fields = split_line(line, sep)
        for j in col_idx:
            cell = fields[j].strip(" \t\r\n") if j < len(fields) else ""  # ASCII blanks only, as the parser
            if cell in MISSING_CELLS:
                if allow_missing:
                    continue
                shown = " (NaN)" if cell in ("NaN", "nan") else ""  # (the message as it was before --missing)
                return DataError(
                    f"{src_name}: line {line_no}, column {names[j]!r}: missing value{shown}; every feature and "
                    "target cell needs a number"
                )
            value = float(cell) if _NUMBER.fullmatch(cell) else math.nan
            if math.isnan(value):
                hint = f" (a missing value is written as {MISSING_SHOWN})" if looks_missing(cell) else ""
                return DataError(
                    f"{src_name}: line {line_no}, column {names[j]!r}: {_short(cell)} is not a number{hint}"
                )
            if not math.isfinite(value):
                return DataError(
                    f"{src_name}: line {line_no}, column {names[j]!r}: infinite value {_short(cell)}; every feature "
                    "and target cell must be finite"
                )
    return None


def _cell_problem(
    lines: list[str],
    line_numbers: list[int],
    sep: str,
    col_idx: list[int],
    names: list[str],
    src_name: str,
    allow_missing: bool = False,
) -> DataError:
    """:func:`_diagnose_cells`'s error, for lines the parser could not read (a generic one if it finds none)."""
    found = _diagnose_cells(lines, line_numbers, sep, col_idx, names, src_name, allow_missing)
    return found or DataError(f"{src_name}: lines {line_numbers[0]}-{line_numbers[-1]}: cannot parse the numbers")


def _as_floats(values: list[Any], allow_missing: bool = False) -> np.ndarray | None:
    """A column the parser did not read as numbers, as floats if every cell is one, or (``allow_missing``)
    missing, read as NaN; else None.

    Integers beyond int64 come back as Python ints, or as text when mixed with decimals:
    they are valid numbers, read as floats like any other (int -> float and float(text)
    both round correctly, so the value is the same either way). A float NaN is a missing
    cell the parser recognized; text spelling NaN otherwise (NAN, -nan) is no number.
    """
    out = np.empty(len(values))
    for i, v in enumerate(values):
        if type(v) is str:
            v = v.strip(" \t\r\n")
            if v in MISSING_CELLS:
                if not allow_missing:
                    return None
                out[i] = math.nan
                continue
            if not _NUMBER.fullmatch(v):
                return None
        elif type(v) not in (int, float):
            return None
        try:
            out[i] = float(v)
        except OverflowError:  # an integer of 309 digits or more: infinite, and refused as such
            out[i] = -np.inf if v < 0 else np.inf
        if out[i] != out[i] and (type(v) is str or not allow_missing):
            return None
    return out


def read_columns(
    buffer: io.StringIO | io.BytesIO, names: list[str], usecols: list[int], sep: str, text: bool = False
) -> Any:
    """The columns ``usecols`` of checked CSV lines as a DataFrame by pandas' C parser (blank lines skipped):
    numbers as numbers and the spellings of :data:`MISSING_CELLS` (no others) as NaN; with ``text``, every
    cell as it is written (no conversion, no NaN)."""
    import pandas as pd

    cells = (
        {"dtype": str, "na_filter": False} if text else {"keep_default_na": False, "na_values": sorted(MISSING_CELLS)}
    )
    return pd.read_csv(buffer, sep=sep, header=None, names=list(range(len(names))), usecols=usecols, index_col=False,
                       skip_blank_lines=True, engine="c", encoding="utf-8", **cells)  # fmt: skip


# Chunks are parsed by numpy's loadtxt (C) until the process has parsed this much text, then by pandas' C
# parser, which is about four times faster per byte; but importing pandas costs as much as parsing some
# 50 MiB with numpy, so small work (a cron job's predict, a 2,000-row fit) never imports it. Once pandas is
# loaded anyway (a categorical model, a Python session) it parses everything. Both read every number as
# Python's float() does (correctly rounded; tested on 600,000 values), so where the switch falls does not
# change a digit.
NUMPY_PARSE_MAX_BYTES = 16 * 2**20
_parsed_bytes = [0]


def _pandas_pays() -> bool:
    """Whether pandas parses from here on: it is loaded, or the process has parsed enough to pay for loading it."""
    return "pandas" in sys.modules or _parsed_bytes[0] > NUMPY_PARSE_MAX_BYTES


# White space that Python's float() (and so numpy's parser) strips around a number but krr does not: ASCII's
# vertical tab, form feed and file, group, record and unit separators
_OTHER_BLANKS = "\x0b\x0c\x1c\x1d\x1e\x1f"
_OTHER_BLANKS_BYTES = _OTHER_BLANKS.encode()


def _numpy_parses(data: bytes | str) -> bool:
    """Whether numpy parses this chunk (see :data:`NUMPY_PARSE_MAX_BYTES`). Text with a byte beyond ASCII, or
    one of :data:`_OTHER_BLANKS`, goes to pandas: numpy would strip such white space around a number, which
    makes no number here; and so does quoted text (numpy reads an unterminated quote to the end)."""
    _parsed_bytes[0] += len(data)
    if _pandas_pays() or not data.isascii():
        return False
    cr, quote = (b"\r", b'"') if type(data) is bytes else ("\r", '"')
    if quote in data or data.count(cr) != data.count(cr + (b"\n" if type(data) is bytes else "\n")):
        return False  # (a carriage return that ends no line is a line break to pandas, an error to numpy)
    if type(data) is bytes:
        return len(data.translate(None, _OTHER_BLANKS_BYTES)) == len(data)
    return not any(c in data for c in _OTHER_BLANKS)


def _numbers(
    data: bytes | str,
    lines: Callable[[], list[str]],
    numbers: list[int],
    names: list[str],
    col_idx: list[int],
    sep: str,
    src_name: str,
    allow_missing: bool,
) -> np.ndarray:
    """The columns ``col_idx`` of checked CSV text ``data`` (its ``lines()`` decoded, their line ``numbers``)
    as float64, NaN where a cell is missing with ``allow_missing``; any other cell that is not a finite number
    raises the error naming it."""

    def problem() -> DataError:
        return _cell_problem(lines(), numbers, sep, col_idx, names, src_name, allow_missing)

    if _numpy_parses(data):
        buffer = io.BytesIO(data) if type(data) is bytes else io.StringIO(data)
        try:
            A = np.loadtxt(buffer, dtype=np.float64, delimiter=sep, usecols=col_idx, ndmin=2, comments=None,
                           quotechar='"', encoding="utf-8")  # fmt: skip
        except (ValueError, UnicodeDecodeError):
            if not allow_missing:
                raise problem() from None
            A = _numbers_by_line(lines(), sep, col_idx, problem)
        if A.shape != (len(numbers), len(col_idx)):
            raise problem()
        finite = np.isfinite(A)
        if not finite.all():
            if not allow_missing or np.isinf(A).any():
                raise problem()
            # numpy reads any spelling of NaN: the rows holding one are checked by their text
            rows = np.flatnonzero(~finite.all(axis=1))
            text = lines()
            found = _diagnose_cells([text[i] for i in rows], [numbers[i] for i in rows], sep, col_idx, names,
                                    src_name, allow_missing=True)  # fmt: skip
            if found is not None:
                raise found
        # in column order, as pandas gives them: the products that follow then round exactly as they did
        return np.asfortranarray(A)
    buffer = io.BytesIO(data) if type(data) is bytes else io.StringIO(data)
    try:
        df = read_columns(buffer, names, col_idx, sep)
    except (ValueError, UnicodeDecodeError):
        raise problem() from None
    if len(df) != len(numbers):
        raise problem()
    for j in col_idx:
        if df[j].dtype.kind not in "iuf":
            values = _as_floats(df[j].tolist(), allow_missing)
            if values is None:
                raise problem()
            df[j] = values
    A = df[col_idx].to_numpy(dtype=np.float64)
    finite = np.isfinite(A)
    if not finite.all() and (not allow_missing or np.isinf(A).any()):
        raise problem()
    return A


def _numbers_by_line(lines: list[str], sep: str, col_idx: list[int], problem: Callable[[], DataError]) -> np.ndarray:
    """The columns ``col_idx`` of ``lines`` as floats, cell by cell, a missing cell as NaN (what numpy's parser
    cannot read); any other cell that is not a number raises ``problem()``."""
    out = np.empty((len(lines), len(col_idx)))
    for i, line in enumerate(lines):
        fields = split_line(line, sep)
        for k, j in enumerate(col_idx):
            cell = fields[j].strip(" \t\r\n") if j < len(fields) else ""
            if cell in MISSING_CELLS:
                out[i, k] = math.nan
                continue
            value = float(cell) if _NUMBER.fullmatch(cell) else math.nan
            if value != value:
                raise problem()
            out[i, k] = value
    return out


def parse_numeric(
    lines: list[str],
    line_numbers: list[int],
    names: list[str],
    col_idx: list[int],
    sep: str,
    src_name: str,
    allow_missing: bool = False,
) -> np.ndarray:
    """Parse the columns ``col_idx`` of checked CSV ``lines`` into float64, checking every cell (a missing
    one is NaN with ``allow_missing``, else refused).

    Returns
    -------
    A : ndarray of shape (len(lines), len(col_idx))
    """
    if not lines or not col_idx:
        return np.empty((len(lines), len(col_idx)))

    return _numbers("".join(lines), lambda: lines, line_numbers, names, col_idx, sep, src_name, allow_missing)


def _read_text(
    buffer: io.StringIO | io.BytesIO,
    names: list[str],
    text_idx: list[int],
    sep: str,
    numbers: list[int],
    src_name: str,
    allow_missing: bool = False,
) -> list[np.ndarray]:
    """The cells of the columns ``text_idx`` of checked lines, as text with ASCII blanks stripped (one
    object array per column); a missing cell (:data:`MISSING_CELLS`) is None with ``allow_missing``, else
    refused, naming its line."""
    df = read_columns(buffer, names, text_idx, sep, text=True)
    if len(df) != len(numbers):  # (the checks before this one make it unreachable)
        raise DataError(f"{src_name}: lines {numbers[0]}-{numbers[-1]}: cannot read the text columns")
    out = []
    for j in text_idx:
        cells = df[j].str.strip(" \t\r\n")
        missing = cells.isin(MISSING_CELLS).to_numpy()
        cells = cells.to_numpy(dtype=object)
        if missing.any():
            if not allow_missing:
                i = int(np.argmax(missing))
                raise DataError(
                    f"{src_name}: line {numbers[i]}, column {names[j]!r}: missing value; every categorical cell "
                    "needs a category"
                )
            cells[missing] = None
        out.append(cells)
    return out


def missing_rows(A: np.ndarray, texts: list[np.ndarray] | None = None) -> np.ndarray:
    """Which rows of a parsed chunk have a missing cell: NaN in ``A``, or None among ``texts``."""
    bad = np.isnan(A).any(axis=1)
    for cells in texts or ():
        bad |= np.equal(cells, None)
    return bad


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
    allow_missing: bool = False,
) -> tuple[np.ndarray, list[str] | None, list[int]]:
    """Parse a chunk of raw CSV lines: the columns ``col_idx`` as float64, every cell checked.

    Field counts, blank lines and line numbers are found with vectorized byte
    scans, the numbers by pandas' C parser; only a chunk with a problem (or with
    quoted fields) is looked at line by line, to say exactly where it is.

    With ``text_idx`` (categorical columns), their cells are appended to the list ``texts``, one object
    array of stripped text per column, aligned with the rows of ``A``.

    A missing cell (:data:`MISSING_CELLS`) is refused, naming it; with ``allow_missing`` it is NaN in
    ``A`` (None in ``texts``), and :func:`missing_rows` finds its rows. Blank lines are skipped, except
    in a file of one column with ``allow_missing``: there a blank line is that column's empty cell (so
    that a row is a line, and predictions stay aligned with the lines).

    Returns
    -------
    A : ndarray of shape (n_rows, len(col_idx))
    lines : list of str or None
        The chunk's non-blank lines, without line ends, when ``keep_lines``.
    numbers : list of int
        The line number (in the file) of each row.
    """
    start = 0 if texts is None else len(texts)
    A, lines, numbers = _parse_chunk(raw, first_line, names, col_idx, sep, src_name, what, keep_lines, text_idx,
                                     texts, allow_missing)  # fmt: skip
    total = raw.count(b"\n") + (1 if raw and not raw.endswith(b"\n") else 0)
    if not (allow_missing and len(names) == 1 and len(numbers) < total):
        return A, lines, numbers
    # a lone column's blank lines are rows with a missing cell, in their place
    every = list(range(first_line, first_line + total))
    at = np.searchsorted(every, numbers)
    full = np.full((total, A.shape[1]), np.nan, order="F")
    full[at] = A
    if texts is not None:
        for k in range(start, len(texts)):
            cells = np.full(total, None, dtype=object)
            cells[at] = texts[k]
            texts[k] = cells
    if lines is not None:
        kept = dict(zip(numbers, lines, strict=True))
        lines = [kept.get(n, "") for n in every]
    return full, lines, every


def _parse_chunk(
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
    allow_missing: bool = False,
) -> tuple[np.ndarray, list[str] | None, list[int]]:
    """:func:`parse_chunk` without its rule for a lone column's blank lines."""

    if b'"' in raw:  # quoted fields may hold separators or newlines: take the careful path
        text = _decode(raw, src_name, first_line)
        lines, numbers = check_lines(text.splitlines(keepends=True), len(names), sep, first_line, src_name, what)
        A = parse_numeric(lines, numbers, names, col_idx, sep, src_name, allow_missing)
        if text_idx and lines:
            texts.extend(
                _read_text(io.StringIO("".join(lines)), names, text_idx, sep, numbers, src_name, allow_missing)
            )
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
    odd_lines = (counts != len(names) - 1) | (ends == starts)
    if len(names) == 1:  # no separator to tell a white-space-only line from a row: look at its bytes
        filled = np.concatenate(([0], np.cumsum(~np.isin(arr, (32, 9, 13)))))
        odd_lines |= filled[ends] == filled[starts]
    odd = np.flatnonzero(odd_lines)
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
            texts.extend(_read_text(io.BytesIO(raw), names, text_idx, sep, numbers, src_name, allow_missing))
        except UnicodeDecodeError:
            lines()  # names the line that is not UTF-8
            raise

    if not col_idx:  # only text columns (a model whose features are all categorical)
        read_text()
        return np.empty((len(kept), 0)), (lines() if keep_lines else None), numbers

    A = _numbers(raw, lines, numbers, names, col_idx, sep, src_name, allow_missing)
    if text_idx:
        read_text()
    return A, (lines() if keep_lines else None), numbers
