"""Writing CSV: fields quoted as RFC 4180 does, predictions in their shortest exact form."""

from __future__ import annotations

import numpy as np


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
