"""CSV input and output, by concern.

- :mod:`.source`: opening a path or stdin, decompressing, hashing, cutting the header and chunks of lines;
- :mod:`.parse`: chunks of lines into checked floats, and the first bad cell named by line and column;
- :mod:`.columns`: the header's names, ``--target`` / ``--features``;
- :mod:`.inputs`: several paths and glob patterns read as one input;
- :mod:`.rows`: the row-source protocol (re-iterable blocks of rows) over arrays and CSV files;
- :mod:`.output`: CSV writing (RFC 4180 quoting, exact floats).
"""

from __future__ import annotations

from .columns import choose_columns, parse_features_option, read_header
from .inputs import expand_inputs, input_label
from .output import csv_field, format_header, format_rows
from .parse import MISSING_CELLS, check_lines, parse_chunk, parse_numeric, split_line
from .rows import (
    DEFAULT_CHUNK_ROWS,
    MISSING_PREDICT_POLICIES,
    TRAINING_CHUNK_ROWS,
    ArrayRows,
    CsvRows,
    RowSource,
    TrainingData,
    check_missing,
    iter_feature_chunks,
    read_training_csv,
)
from .source import CsvSource, parse_sep

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "MISSING_CELLS",
    "MISSING_PREDICT_POLICIES",
    "check_missing",
    "TRAINING_CHUNK_ROWS",
    "ArrayRows",
    "CsvRows",
    "CsvSource",
    "RowSource",
    "TrainingData",
    "check_lines",
    "expand_inputs",
    "input_label",
    "choose_columns",
    "csv_field",
    "format_header",
    "format_rows",
    "iter_feature_chunks",
    "parse_chunk",
    "parse_features_option",
    "parse_numeric",
    "parse_sep",
    "read_header",
    "read_training_csv",
    "split_line",
]
