"""The documented limits of krr, in one place (the README's "Limits" table lists them).

Each bounds something a file or an option could otherwise make unbounded: the
memory and time spent on a header, a model file, a grid or a number format.
Each is far above what real work needs.
"""

from __future__ import annotations

# A CSV header line (the column names) may be at most this many bytes ...
MAX_HEADER_BYTES = 16 * 2**20
# ... span at most this many lines (line breaks inside quoted names) ...
MAX_HEADER_LINES = 1_000
# ... and name at most this many columns. A model file holds at most this many names.
MAX_COLUMNS = 100_000

# A categorical column (--categorical) may have at most this many distinct values: more is an
# identifier or a number, not a category.
MAX_CATEGORIES = 1_000

# krr cv: values per --gamma or --alpha list or range, and grid points (gammas x alphas).
MAX_GRID_VALUES = 1_000
MAX_GRID_POINTS = 10_000

# --float-format: the largest field width and precision (17 significant digits
# already print any float64 exactly).
MAX_FLOAT_WIDTH = 64
MAX_FLOAT_PRECISION = 17

# Text values in a model file (names, paths, versions): at most this many bytes each.
MAX_MODEL_TEXT_BYTES = MAX_HEADER_BYTES
