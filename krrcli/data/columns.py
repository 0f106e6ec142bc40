"""Columns: the header's names, choosing features and targets, and the ``--features`` option."""

from __future__ import annotations

import csv

from ..errors import DataError, UsageError
from ..limits import MAX_COLUMNS
from .source import CsvSource
from .text import _name_list, _short


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


def choose_columns(
    names: list[str], targets: list[str] | None, features: list[str] | None, src_name: str, weights: str | None = None
) -> tuple[list[str], list[str]]:
    """Resolve ``--target`` / ``--features`` against the header (defaults: last column / all others; a
    ``--weights`` column is neither)."""
    if weights is not None:
        _column_index(names, [weights], src_name, "weights")
        if weights in (targets or [names[-1]]):
            raise UsageError(f"column {weights!r} is given both as the weights and as a target")
        if features and weights in features:
            raise UsageError(f"column {weights!r} is given both as the weights and as a feature")
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
        features = [n for n in names if n not in targets and n != weights]
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
