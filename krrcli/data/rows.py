"""Rows as re-iterable blocks: the protocol numerics take, in memory and over CSV files.

A :class:`RowSource` knows its feature and target names and, when it can, its row count,
and yields blocks of ``(X, Y)`` rows — as many times as asked. :class:`ArrayRows` holds
arrays; :class:`CsvRows` reads a CSV file again for every pass, and spills a one-pass
input (stdin, a pipe) once to an anonymous temporary file (removed by the system when
krr exits, however it exits) when a second pass is needed.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import IO, Protocol

import numpy as np

from .. import progress
from ..errors import DataError, ResourceError, UsageError
from ..resources import available_memory, format_bytes
from .categorical import CodeBook, OneHot, sniff_text_columns
from .columns import _column_index, choose_columns, read_header
from .inputs import check_same_header, combined_sha256, expand_inputs, input_label
from .parse import missing_rows, parse_chunk
from .source import CsvSource
from .text import _name_list

DEFAULT_CHUNK_ROWS = 10_000
TRAINING_CHUNK_ROWS = 50_000
# Rows read for a fit stay in memory while they take at most this share of the memory available
# (the rest is the solver's); beyond it they go to temporary files, mapped back as arrays.
ROWS_MEMORY_SHARE = 0.5
GROWTH = 1.25  # the in-memory arrays grow by this factor (in place where the system can)

# What the CSV parser reads as a number (Python's float() also takes "1_000" and non-ASCII digits).


@dataclass
class TrainingData:
    """Training rows read from a CSV file."""

    X: np.ndarray
    Y: np.ndarray
    features: list[str]
    targets: list[str]
    source: str
    sha256: str


class RowSource(Protocol):
    """What numerics take: named columns, blocks of rows, as many passes as they need."""

    features: list[str]
    targets: list[str]
    name: str

    @property
    def n_rows(self) -> int | None:
        """The number of rows, when known (after a first pass for a CSV file)."""

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """One pass: blocks ``(X, Y)`` of shapes (m, n_features) and (m, n_targets), in row order."""


class ArrayRows:
    """Rows held in memory."""

    def __init__(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        features: list[str] | None = None,
        targets: list[str] | None = None,
        name: str = "<arrays>",
        block_rows: int = 50_000,
        owned: bool = False,
        sha256: str | None = None,
        weights: np.ndarray | None = None,
        weights_name: str | None = None,
        encoder: OneHot | None = None,
        dropped: DroppedRows | None = None,
    ) -> None:
        self.X, self.Y = X, Y
        self.dropped = dropped  # rows of the file left out for a missing value (None: not read from one)
        self.encoder = encoder  # how categorical input columns became some of the features (None: none did)
        self.weights = weights  # sample weights, one per row (None: all equal)
        self.weights_name = weights_name  # where they came from (a column's name)
        self.sha256 = sha256  # of the file the rows were read from, if any
        self.owned = owned  # the arrays are this source's alone: a fit may standardize them in place
        self.features = features or [f"x{i}" for i in range(X.shape[1])]
        self.targets = targets or (["y"] if Y.shape[1] == 1 else [f"y{j}" for j in range(Y.shape[1])])
        self.name = name
        self.block_rows = block_rows

    @property
    def n_rows(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_targets(self) -> int:
        return self.Y.shape[1]

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for a in range(0, self.X.shape[0], self.block_rows):
            yield self.X[a : a + self.block_rows], self.Y[a : a + self.block_rows]

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.X, self.Y


def _file_size(path: str) -> int | None:
    if path == "-":
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


class _RowStore:
    """Blocks of rows appended into one C-ordered ``X`` and ``Y``.

    In memory, the arrays are allocated for the estimated row count (pages not yet written cost
    nothing) and grown by ``GROWTH`` with ``ndarray.resize``, which moves rather than copies a large
    allocation where the C library can (glibc: mremap). When growing would take more than
    ``ROWS_MEMORY_SHARE`` of the memory available, the rows go on in two anonymous temporary files
    (in ``TMPDIR``, removed when krr exits) that are mapped back read-write, so the rows are held once
    and the system pages them as memory allows.
    """

    def __init__(self, n_features: int, n_targets: int, estimate: int | None) -> None:
        self.estimate = estimate
        self.width = (n_features, n_targets)
        self.n = 0
        self.spilled = False
        self._files: list[IO[bytes]] = []
        cap = int(estimate * 1.02) + TRAINING_CHUNK_ROWS if estimate else TRAINING_CHUNK_ROWS
        self.X = self.Y = np.empty((0, 0))
        if not self._fits(cap):
            self._spill()
        else:
            self.X, self.Y = np.empty((cap, n_features)), np.empty((cap, n_targets))

    def _fits(self, rows: int) -> bool:
        more = 8 * (rows - self.X.shape[0]) * sum(self.width)
        available = available_memory()
        return available is None or more <= ROWS_MEMORY_SHARE * available

    def _spill(self) -> None:
        rows = max(self.n, self.estimate or 0)
        need, free = 8 * rows * sum(self.width), shutil.disk_usage(tempfile.gettempdir()).free
        if need > free:
            raise ResourceError(
                f"the rows need {format_bytes(need)} in the temporary folder {tempfile.gettempdir()!r} (memory is "
                f"short) but it has {format_bytes(free)} free; set TMPDIR to a folder with more room, or free memory"
            )
        self._files = [tempfile.TemporaryFile(prefix="krr-rows-") for _ in range(2)]
        self.spilled = True
        for fh, A in zip(self._files, (self.X, self.Y), strict=True):
            self._write(fh, A[: self.n])
        self.X = self.Y = np.empty((0, 0))

    def _write(self, fh: IO[bytes], A: np.ndarray) -> None:
        try:
            np.ascontiguousarray(A).tofile(fh)
        except OSError as exc:
            raise ResourceError(
                f"cannot keep the rows in the temporary folder {tempfile.gettempdir()!r} ({exc.strerror or exc}); "
                "set TMPDIR to a folder with more room, or free memory"
            ) from None

    def append(self, x: np.ndarray, y: np.ndarray) -> None:
        m = x.shape[0]
        if self.spilled:
            self._write(self._files[0], x)
            self._write(self._files[1], y)
        else:
            if self.n + m > self.X.shape[0]:
                cap = max(self.n + m, int(self.X.shape[0] * GROWTH))
                if not self._fits(cap):
                    self._spill()
                    self.append(x, y)
                    return
                self.X.resize((cap, self.width[0]), refcheck=False)
                self.Y.resize((cap, self.width[1]), refcheck=False)
            self.X[self.n : self.n + m] = x
            self.Y[self.n : self.n + m] = y
        self.n += m

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.spilled:
            self.X.resize((self.n, self.width[0]), refcheck=False)  # gives back the unused capacity
            self.Y.resize((self.n, self.width[1]), refcheck=False)
            return self.X, self.Y
        out = []
        for fh, w in zip(self._files, self.width, strict=True):
            fh.flush()
            out.append(np.memmap(fh, dtype=np.float64, mode="r+", shape=(self.n, w)).view(np.ndarray))
            fh.close()  # the mapping keeps the (unlinked) file's pages
        return out[0], out[1]


def _check_weight_column(w: np.ndarray, numbers: list[int], name: str, column: str) -> None:
    """Refuse a negative weight, naming its line."""
    bad = np.flatnonzero(w < 0)
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{name}, line {numbers[i]}, column {column!r}: weight {w[i]:g} is negative; weights must be >= 0"
        )


MISSING_FIT_POLICIES = ("error", "drop")
MISSING_PREDICT_POLICIES = ("error", "empty", "impute")
DROPPED_LINES_SHOWN = 5  # the first line numbers of dropped rows that a report names


def check_missing(missing: str, policies: tuple[str, ...] = MISSING_FIT_POLICIES) -> str:
    """``--missing``: one of ``policies``."""
    if missing not in policies:
        raise UsageError(f"--missing must be {', '.join(policies[:-1])} or {policies[-1]}, got {missing!r}")
    return missing


@dataclass
class DroppedRows:
    """Rows left out for a missing value (``--missing drop``): how many, and the first ones' line numbers
    and files."""

    count: int = 0
    lines: list[int] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def add(self, numbers: list[int], bad: np.ndarray, source: str) -> None:
        at = np.flatnonzero(bad)
        self.count += int(at.size)
        first = [numbers[i] for i in at[: DROPPED_LINES_SHOWN - len(self.lines)]]
        self.lines, self.files = self.lines + first, self.files + [source] * len(first)

    def merge(self, other: DroppedRows) -> None:
        self.count += other.count
        self.lines = (self.lines + other.lines)[:DROPPED_LINES_SHOWN]
        self.files = (self.files + other.files)[:DROPPED_LINES_SHOWN]

    def where(self) -> str:
        """The first lines, each with its file when they are not all in one."""
        return where_dropped(self.count, self.lines, self.files)

    def none_left(self, name: str) -> DataError:
        return DataError(
            f"{name}: every one of its {self.count:,} data row(s) has a missing value in a column the fit uses "
            "(--missing drop dropped them all)"
        )

    def warn(self, name: str) -> None:
        """Say on stderr (a warning) what was dropped, when anything was."""
        if not self.count:
            return
        import warnings

        from ..errors import KrrWarning

        warnings.warn(
            f"{name}: dropped {self.count:,} row(s) with a missing value (--missing drop); {self.where()}",
            KrrWarning,
            stacklevel=3,
        )


def where_dropped(count: int, lines: list[int], files: list[str]) -> str:
    """``line(s) 2, 7, ...``, or with several files ``p0.csv line 2, p1.csv line 4, ...``."""
    more = ", ..." if count > len(lines) else ""
    if len(set(files)) > 1:
        return ", ".join(f"{f} line {n}" for f, n in zip(files, lines, strict=True)) + more
    return "line(s) " + ", ".join(str(n) for n in lines) + more


def _rereadable(path: str) -> bool:
    if path == "-":
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True  # let the first pass say what is wrong with it


class CsvRows:
    """The feature and target columns of a CSV file, every cell checked, as a re-iterable row source.

    The first pass reads the header, resolves the columns (``features``, ``targets``),
    checks every cell and hashes the input (``sha256``); a file is read again for each
    later pass. A one-pass input (stdin, a pipe) is spilled during the first pass and
    replayed from the spill when ``replay`` is asked for (by a consumer that needs several
    passes); otherwise it can be read once, and nothing is written.
    """

    def __init__(
        self,
        path: str | list[str],
        *,
        targets: list[str] | None = None,
        features: list[str] | None = None,
        sep: str = ",",
        min_rows: int = 2,
        block_rows: int = TRAINING_CHUNK_ROWS,
        replay: bool = False,
        preflight: Callable[[int, int, int, bool], None] | None = None,
        expect_header: tuple[list[str], str] | None = None,
        weights: str | None = None,
        categorical: list[str] | str | None = None,
        missing: str = "error",
    ) -> None:
        self.paths = expand_inputs(path)
        # rows with a missing cell in a used column: refused ("error"), or left out and counted ("drop")
        self.missing = check_missing(missing)
        self.dropped = DroppedRows()
        # a column of sample weights (finite, >= 0), read after the targets: the last column of each Y block
        self.weights = weights  # several files (or a pattern's) are read one after another
        self.path = self.paths[0]
        self.replay = replay
        self._started = False
        self.sep = sep
        self.min_rows = min_rows
        self.block_rows = block_rows
        self._wanted = (targets, features)
        self._rereadable = all(_rereadable(p) for p in self.paths)
        self._spill: IO[bytes] | None = None
        self._n_rows: int | None = None
        self.name = input_label(self.paths)
        self.features: list[str] = []
        self.targets: list[str] = []
        self.sha256: str | None = None
        self.preflight: Callable[[int, int, int, bool], None] | None = preflight
        self.spilled = False  # to_arrays's rows are in temporary files, not in memory
        self._first_share: float | None = None
        self.header: list[str] = []  # the first file's column names
        # (names, file) that every file's header must equal, when this reads part of a larger input
        self._expect_header = expect_header
        # feature columns of text (names, or "auto": those of the first block with a cell that is no number);
        # the blocks hold each one's codes (see krrcli.data.categorical), to_arrays their indicators
        self.categorical = categorical
        self.codebook: CodeBook | None = None
        self.encoder: OneHot | None = None  # after to_arrays, when a categorical column was read
        self.inputs: list[str] = []  # the feature columns read (features: the same, with indicators)

    @property
    def n_rows(self) -> int | None:
        return self._n_rows

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if self._n_rows is not None and self._spill is not None:
            yield from self._replay()
            return
        if self._started and not self._rereadable:
            raise DataError(f"{self.name} can be read only once; read it from a file, or ask for replay=True (a spill)")
        self._started = True
        yield from self._read(spill=self.replay and not self._rereadable)

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All rows at once: ``X`` of shape (n, n_features) and ``Y`` of shape (n, n_targets), each block
        written into them as it is parsed (the rows are held once). They stay in memory while they take
        at most ``ROWS_MEMORY_SHARE`` of what is available, else in two temporary files mapped back
        (``spilled``). Once the first block of a regular file is read, ``preflight(rows, d, t)``, when
        given, is called with the row count estimated from the file sizes and whether the rows will be in
        memory."""
        store: _RowStore | None = None
        for x, y in self.blocks():
            if store is None:
                store = _RowStore(x.shape[1], y.shape[1], self._estimate_rows(x.shape[0]))
                if self.preflight is not None and store.estimate is not None:
                    self.preflight(store.estimate, x.shape[1], y.shape[1], not store.spilled)
            store.append(x, y)
        if store is None:
            return np.empty((0, len(self.features))), np.empty((0, len(self.targets) + bool(self.weights)))
        X, Y = store.arrays()
        self.spilled = store.spilled
        if self.codebook is not None and self.codebook.columns:
            self.encoder = self.codebook.onehot(self.inputs)
            self.encoder.check_names(self.name)
            X = self.encoder.expand_codes(X, self.codebook)
            self.features = self.encoder.features
        return X, Y

    def _estimate_rows(self, rows: int) -> int | None:
        """The rows of every file, from the first block's share of the first file (None for a stream,
        or when the first block is the whole input: the real count follows at once)."""
        share = self._first_share
        sizes = [_file_size(p) for p in self.paths]
        if share is None or None in sizes or sizes[0] == 0 or (share >= 1.0 and len(sizes) == 1):
            return None
        return max(rows, round(rows / share * sum(sizes) / sizes[0]))  # type: ignore[arg-type]

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill = None

    def _read(self, spill: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        targets, features = self._wanted
        out = tempfile.TemporaryFile(prefix="krr-rows-") if spill else None  # anonymous: gone at exit
        rows, digests, first, resolved = 0, [], self._expect_header, False
        drop, self.dropped = self.missing == "drop", DroppedRows()
        try:
            for path in self.paths:
                with ExitStack() as stack:
                    src = stack.enter_context(CsvSource(path, self.sep))
                    names = read_header(src)
                    if names is None:
                        raise DataError(f"{src.name} is empty; expected a header line and data rows")
                    if first is not None:
                        check_same_header(names, first[0], src.name, first[1])
                    if not resolved:
                        first, resolved, self.header = first or (names, src.name), True, names
                        targets, features = choose_columns(names, targets, features, src.name, self.weights)
                        f_idx = _column_index(names, features, src.name, "feature")
                        t_idx = _column_index(
                            names, targets + ([self.weights] if self.weights else []), src.name, "target"
                        )
                        self.features, self.targets, self.inputs = features, targets, list(features)
                        idx, nf, text_idx = f_idx + t_idx, len(f_idx), []
                        sniff = self.categorical == "auto"  # (on the first block with rows)
                        if isinstance(self.categorical, list):
                            idx, nf, text_idx = self._categorical_columns(self.categorical, names, src.name, t_idx)
                    line_no = 1 + src.header_lines
                    reading = stack.enter_context(progress.task(f"reading {src.name}"))
                    before = rows
                    while True:
                        raw = src.read_rows(self.block_rows)
                        if not raw:
                            break
                        if sniff:
                            found = sniff_text_columns(raw, names, f_idx, src.sep)
                            idx, nf, text_idx = self._categorical_columns(found, names, src.name, t_idx)
                            sniff = not raw.strip()
                        texts: list[np.ndarray] = []
                        A, _, numbers = parse_chunk(
                            raw, line_no, names, idx, src.sep, src.name, text_idx=text_idx, texts=texts,
                            allow_missing=drop,
                        )  # fmt: skip
                        line_no += raw.count(b"\n")
                        if drop:
                            bad = missing_rows(A, texts)
                            if bad.any():
                                self.dropped.add(numbers, bad, src.name)
                                keep = ~bad
                                A, texts = A[keep], [t[keep] for t in texts]
                                numbers = [n for n, k in zip(numbers, keep.tolist(), strict=True) if k]
                        if self.weights:
                            _check_weight_column(A[:, -1], numbers, src.name, self.weights)
                        if A.shape[0] == 0:
                            continue
                        x, y = A[:, :nf], A[:, nf:]
                        if text_idx:
                            x = self._with_codes(x, texts, src.name, numbers)
                        if rows == 0:
                            self._first_share = src.fraction_read()
                        rows += A.shape[0]
                        reading.update(rows - before, f"{rows - before:,} rows")  # this file's
                        if out is not None:
                            try:
                                out.write(np.ascontiguousarray(np.hstack([x, y])).tobytes())
                            except OSError as exc:
                                raise ResourceError(
                                    f"cannot keep {src.name}'s rows for a second pass in the temporary folder "
                                    f"({exc.strerror or exc}); set TMPDIR to a folder with more room"
                                ) from None
                        yield x, y
                    digests.append(src.drain_hash())
        except BaseException:
            if out is not None:
                out.close()
            raise
        if rows == 0 and self.min_rows > 0 and self.dropped.count:
            raise self.dropped.none_left(self.name)
        if rows == 0 and self.min_rows > 0:
            raise DataError(f"{self.name} has a header but no data rows")
        if rows < self.min_rows:
            left = f" left after dropping {self.dropped.count:,} with a missing value" if self.dropped.count else ""
            raise DataError(f"{self.name} has {rows} data row(s){left}; need at least {self.min_rows}")
        self._n_rows, self.sha256, self._spill = rows, combined_sha256(digests), out

    def _categorical_columns(
        self, columns: list[str], names: list[str], source: str, t_idx: list[int]
    ) -> tuple[list[int], int, list[int]]:
        """Read ``columns`` (feature columns) as categories: the numeric columns' indices (features, then
        targets), how many are features, and the categorical columns' indices (in feature order)."""
        _column_index(names, columns, source, "categorical")
        for c in columns:
            if c not in self.features:
                raise UsageError(f"--categorical {c!r}: not a feature column (categorical columns are features)")
        self.codebook = CodeBook([f for f in self.features if f in columns])
        numeric = [f for f in self.features if f not in columns]
        return (
            _column_index(names, numeric, source, "feature") + t_idx,
            len(numeric),
            _column_index(names, self.codebook.columns, source, "categorical"),
        )

    def _with_codes(self, x: np.ndarray, texts: list[np.ndarray], source: str, numbers: list[int]) -> np.ndarray:
        """A block's features in input order: the numeric columns ``x``, and each categorical column's codes."""
        assert self.codebook is not None
        out = np.empty((x.shape[0], len(self.features)))
        cats = self.codebook.columns
        numeric = [j for j, f in enumerate(self.features) if f not in cats]
        out[:, numeric] = x
        for k, c in enumerate(cats):
            out[:, self.features.index(c)] = self.codebook.add(c, texts[k], source, numbers)
        return out

    def _replay(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        assert self._spill is not None and self._n_rows is not None
        self._spill.flush()
        # (the spill holds the input columns, categorical ones as codes: to_arrays may have expanded features)
        nf, width = len(self.inputs), len(self.inputs) + len(self.targets) + bool(self.weights)
        A = np.memmap(self._spill, dtype=np.float64, mode="r", shape=(self._n_rows, width))
        for a in range(0, self._n_rows, self.block_rows):
            block = np.array(A[a : a + self.block_rows])
            yield block[:, :nf], block[:, nf:]

    def __enter__(self) -> CsvRows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_training_csv(
    path: str,
    targets: list[str] | None = None,
    features: list[str] | None = None,
    sep: str = ",",
    min_rows: int = 2,
) -> TrainingData:
    """Read the feature and target columns of a CSV file, checking every cell (one pass of :class:`CsvRows`)."""
    with CsvRows(path, targets=targets, features=features, sep=sep, min_rows=min_rows) as rows:
        X, Y = rows.to_arrays()
        return TrainingData(X, Y, rows.features, rows.targets, rows.name, rows.sha256 or "")


def iter_feature_chunks(
    path: str | list[str],
    features: list[str],
    sep: str = ",",
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    no_header: bool = False,
    keep_input: bool = False,
    encoder: OneHot | None = None,
    unknown: str = "error",
    on_unseen: Callable[[int], None] | None = None,
    allow_missing: bool = False,
) -> Iterator[tuple[list[str], np.ndarray, list[str] | None, list[int], str]]:
    """Stream a CSV of new rows (or several, one after another): yields
    ``(input_columns, X_chunk, input_lines, line_numbers, source_name)``.

    ``X_chunk`` has the model's ``features`` in order, matched by name (any
    order, extra columns ignored), or by position with ``no_header``.
    ``input_lines`` are the chunk's raw lines when ``keep_input``, else None.
    Every file after the first must have the first one's header.
    A header-only input yields one empty chunk.

    With an ``encoder`` (a model with categorical columns) the input columns are ``encoder.inputs`` and
    ``X_chunk`` their encoding into ``features``; a category not seen in training is an error, or with
    ``unknown="ignore"`` all zeros, and ``on_unseen`` is told how many rows of each chunk had one.

    A missing cell is an error naming it, or with ``allow_missing`` NaN in ``X_chunk`` (a categorical
    column's: NaN in all its indicators).
    """
    columns = features if encoder is None else encoder.inputs
    if chunk_rows < 1:
        raise UsageError(f"--chunk-size must be >= 1, got {chunk_rows}")
    paths = expand_inputs(path)
    first: tuple[list[str], str] | None = None
    yielded = False
    for p in paths:
        with CsvSource(p, sep) as src:
            if no_header:
                names = list(columns)
                line_no = 1
            else:
                header = read_header(src)
                if header is None:
                    raise DataError(f"{src.name} is empty; expected a header line (or use --no-header)")
                names = header
                line_no = 1 + src.header_lines
                if first is not None:
                    check_same_header(names, first[0], src.name, first[1])
                position = {n: i for i, n in enumerate(names)}
                missing = [f for f in columns if f not in position]
                if missing:
                    raise DataError(
                        f"{src.name}: the model needs feature column(s) "
                        f"{_name_list([repr(m) for m in missing], 5)}, which the input lacks; "
                        f"columns are: {_name_list(names)}"
                    )
            if first is None:
                first = (names, src.name)
            position = {n: i for i, n in enumerate(names)}
            numeric = columns if encoder is None else encoder.numeric
            idx = [position[f] for f in numeric]
            text_idx = [] if encoder is None else [position[c] for c in encoder.inputs if c in encoder.categorical]
            what = "the model's feature list" if no_header else "the header"
            while True:
                raw = src.read_rows(chunk_rows)
                if not raw:
                    break
                texts: list[np.ndarray] = []
                X, lines, numbers = parse_chunk(
                    raw, line_no, names, idx, src.sep, src.name, what, keep_input, text_idx=text_idx, texts=texts,
                    allow_missing=allow_missing,
                )  # fmt: skip
                line_no += raw.count(b"\n")
                if X.shape[0] == 0:
                    continue
                if encoder is not None:
                    X, unseen = encoder.encode(X, texts, source=src.name, line_numbers=numbers, unknown=unknown)
                    if unseen and on_unseen is not None:
                        on_unseen(unseen)
                yield names, X, lines, numbers, src.name
                yielded = True
    if not yielded:
        assert first is not None
        yield first[0], np.empty((0, len(features))), ([] if keep_input else None), [], first[1]
