"""Categorical columns: a column of text one-hot encoded with the categories seen in training.

A categorical column ``c`` with categories ``v_1 < ... < v_k`` (sorted as text) becomes k indicator
features named ``c=v_1`` ... ``c=v_k``, in the column's place among the features: row i gets 1 in
``c=v`` when its cell is ``v``, else 0. Cells are compared as text with ASCII blanks stripped
(``" Mon"`` is ``Mon``; ``01`` is not ``1``). At predict time a category not seen in training is an
error naming the value, the line and the column, or (``unknown="ignore"``) an all-zero encoding.

While the training rows are read, each column's categories are numbered in the order they first
appear and the rows hold those codes (:class:`CodeBook`); once every row is read the codes are
renumbered in sorted order and expanded (:meth:`OneHot.expand_codes`). The encoding is stored in the
model (entries ``inputs`` and ``categorical``) and applied by :meth:`OneHot.encode`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import DataError, UsageError
from ..limits import MAX_CATEGORIES
from .text import _short

UNKNOWN_POLICIES = ("error", "ignore")


def check_unknown(unknown: str) -> str:
    if unknown not in UNKNOWN_POLICIES:
        raise UsageError(f"--unknown must be error or ignore, got {unknown!r}")
    return unknown


def parse_categorical_option(value: str | Sequence[str] | None) -> list[str] | str | None:
    """``--categorical`` as given (repeated, or comma-separated): a list of column names, or ``"auto"``."""
    from .columns import parse_features_option

    if not value:
        return None
    parts = [value] if isinstance(value, str) else list(value)
    if not any(p.strip(" ,") for p in parts):
        raise UsageError("--categorical is empty; give comma-separated column names, or auto")
    names = parse_features_option(parts)
    if names is not None and "auto" in names:
        if len(names) > 1:
            raise UsageError("--categorical auto finds the text columns itself; give auto alone, or column names")
        return "auto"
    return names


def indicator_name(column: str, category: str) -> str:
    return f"{column}={category}"


class CodeBook:
    """Each categorical column's categories numbered as they first appear (the codes the rows hold while
    they are read)."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self.codes: dict[str, dict[str, int]] = {c: {} for c in self.columns}

    def add(self, column: str, cells: np.ndarray, source: str, line_numbers: Sequence[int]) -> np.ndarray:
        """The codes of one block of a column's cells (new categories numbered after the known ones)."""
        import pandas as pd

        book = self.codes[column]
        inverse, values = pd.factorize(cells)  # (the values in the order they first appear)
        lookup = np.empty(len(values))
        for i, v in enumerate(values.tolist()):
            code = book.get(v)
            if code is None:
                if len(book) >= MAX_CATEGORIES:
                    first = int(np.argmax(inverse == i))
                    raise DataError(
                        f"{source}: line {line_numbers[first]}, column {column!r}: more than {MAX_CATEGORIES:,} "
                        "distinct values; that is not a categorical column (an identifier? leave it out with "
                        "--features)"
                    )
                code = book[v] = len(book)
            lookup[i] = code
        return lookup[inverse]

    def onehot(self, inputs: Sequence[str]) -> OneHot:
        return OneHot(inputs, {c: sorted(self.codes[c]) for c in self.columns})


class OneHot:
    """The encoding of a model's input columns into its features.

    Parameters
    ----------
    inputs : the CSV columns the model reads, in feature order
    categorical : for each categorical input column, its categories (sorted)
    """

    def __init__(self, inputs: Sequence[str], categorical: dict[str, list[str]]) -> None:
        self.inputs = list(inputs)
        self.categorical = {c: list(categorical[c]) for c in self.inputs if c in categorical}
        self._index = {c: {v: i for i, v in enumerate(cats)} for c, cats in self.categorical.items()}

    @property
    def features(self) -> list[str]:
        """The model's feature names: each categorical column replaced by its indicators."""
        out: list[str] = []
        for c in self.inputs:
            out.extend(indicator_name(c, v) for v in self.categorical[c]) if c in self.categorical else out.append(c)
        return out

    @property
    def numeric(self) -> list[str]:
        return [c for c in self.inputs if c not in self.categorical]

    def check_names(self, source: str) -> None:
        """An indicator's name must not be another feature's."""
        names = self.features
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise DataError(
                f"{source}: the one-hot column {dup!r} of a categorical column has the name of another column; "
                "rename that column"
            )

    def expand_codes(self, X: np.ndarray, book: CodeBook) -> np.ndarray:
        """Rows read with codes in the categorical columns (``X`` in :attr:`inputs` order) -> the features."""
        parts = []
        for j, c in enumerate(self.inputs):
            if c not in self.categorical:
                parts.append(X[:, j : j + 1])
                continue
            first_seen = book.codes[c]
            rank = np.empty(len(first_seen), dtype=np.intp)
            for v, code in first_seen.items():
                rank[code] = self._index[c][v]
            parts.append(_indicators(rank[X[:, j].astype(np.intp)], len(self.categorical[c])))
        return np.hstack(parts) if parts else X

    def encode(
        self,
        numeric: np.ndarray,
        texts: Sequence[np.ndarray],
        *,
        source: str,
        line_numbers: Sequence[int],
        unknown: str = "error",
    ) -> tuple[np.ndarray, int]:
        """New rows -> the features: ``numeric`` holds the :attr:`numeric` columns, ``texts`` the categorical
        columns' cells (in :attr:`inputs` order; None: missing, encoded as NaN). Returns the features and the
        number of rows with a category not seen in training (0 unless ``unknown="ignore"``, which encodes it
        as all zeros)."""
        parts, k, unseen = [], 0, np.zeros(numeric.shape[0], dtype=bool)
        text_cols = [c for c in self.inputs if c in self.categorical]
        for c in self.inputs:
            if c not in self.categorical:
                parts.append(numeric[:, k : k + 1])
                k += 1
                continue
            cells = texts[text_cols.index(c)]
            index = self._index[c]
            codes = np.fromiter((index.get(v, -1) for v in cells), dtype=np.intp, count=len(cells))
            missing = np.equal(cells, None)  # (read with missing values allowed: NaN in every indicator)
            bad = (codes < 0) & ~missing
            if bad.any() and unknown != "ignore":
                i = int(np.argmax(bad))
                raise DataError(
                    f"{source}: line {line_numbers[i]}, column {c!r}: category {_short(str(cells[i]))} was not "
                    f"seen in training (it knows {_category_list(self.categorical[c])}); krr predict --unknown "
                    "ignore encodes it as none of them"
                )
            unseen |= bad
            parts.append(_indicators(codes, len(self.categorical[c])))
            parts[-1][missing] = np.nan
        return np.hstack(parts), int(unseen.sum())

    def to_record(self) -> dict[str, object]:
        return {"inputs": list(self.inputs), "categorical": {c: list(v) for c, v in self.categorical.items()}}

    def describe(self) -> dict[str, list[str]]:
        return {c: list(v) for c, v in self.categorical.items()}


def _indicators(codes: np.ndarray, k: int) -> np.ndarray:
    """One row of k indicators per code (a code < 0: all zeros)."""
    out = np.zeros((codes.shape[0], k))
    ok = codes >= 0
    out[np.flatnonzero(ok), codes[ok]] = 1.0
    return out


def _category_list(categories: list[str], limit: int = 6) -> str:
    shown = ", ".join(_short(v) for v in categories[:limit])
    return shown + (f" and {len(categories) - limit:,} more" if len(categories) > limit else "")


def sniff_text_columns(raw: bytes, names: list[str], idx: list[int], sep: str) -> list[str]:
    """``--categorical auto``: of the columns ``idx``, those with a cell in this block (the first one read)
    that is neither a number nor missing. A block the parser cannot read gives none (parsing it then says
    what is wrong)."""
    import io

    from .parse import is_number, looks_missing, read_columns

    try:
        df = read_columns(io.BytesIO(raw), names, idx, sep, text=True)
    except (ValueError, UnicodeDecodeError):
        return []
    found = []
    for j in idx:
        cells = set(df[j].str.strip(" \t\r\n").tolist())
        if any(not is_number(v) and not looks_missing(v) for v in cells):
            found.append(names[j])
    return found
