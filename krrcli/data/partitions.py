"""Training rows on a Dask cluster: one partition per input file, read and kept on the workers.

Each worker reads its file with krr's own parser (:class:`~krrcli.data.rows.CsvRows`: every cell
checked, messages naming the file and line, the header compared with the first file's), and keeps
the rows in its memory for every later pass (Dask recomputes a lost worker's partitions from the
files). The client holds only the partitions' lengths and names, and the M x M work.

:class:`PartitionedRows` offers what the nystrom solver asks of rows (``n_rows``, ``take`` and
``products``, as :class:`~krrcli.solvers.nystrom.LocalRows`), and :class:`PartitionProducts` the
passes, each one task per partition and a tree reduction of their M-sized sums.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from .. import progress
from ..errors import DataError, UsageError
from ..execution import add_sums
from ..execution.cluster import Cluster
from ..kernels import KernelMap
from ..metrics import scores_from_sums
from ..preprocess import Standardizer, standardize
from .columns import read_header
from .inputs import combined_sha256, input_label
from .rows import CsvRows, DroppedRows
from .source import CsvSource

# -- on the workers -----------------------------------------------------------------------------


def _read_part(
    path: str, header: tuple[list[str], str], targets: Any, features: Any, sep: str, missing: str = "error"
) -> dict:
    """One file's rows, checked, as a partition: ``{"X", "Y", "offset": None, ...}``."""
    with CsvRows(
        [path], targets=targets, features=features, sep=sep, min_rows=0, expect_header=header, missing=missing
    ) as rows:
        X, Y = rows.to_arrays()  # (in temporary files mapped back, when the worker's memory is short)
        return {
            "X": X,
            "Y": Y,
            "name": rows.name,
            "features": rows.features,
            "targets": rows.targets,
            "sha256": rows.sha256,
            "dropped": rows.dropped,
        }


def _meta(part: dict) -> dict:
    return {k: part[k] for k in ("name", "features", "targets", "sha256", "dropped")} | {
        "n": part["X"].shape[0],
        "sum": part["X"].sum(axis=0),
    }


def _take(part: dict, index: np.ndarray) -> np.ndarray:
    return part["X"][index]


def _rows_at(part: dict, index: np.ndarray) -> dict:
    return part | {"X": part["X"][index], "Y": part["Y"][index]}


def _arrays(part: dict) -> tuple[np.ndarray, np.ndarray]:
    return part["X"], part["Y"]


def _scaler(part: dict) -> Standardizer:
    return Standardizer().fit(part["X"])


def _standardized(part: dict, mean: np.ndarray, scale: np.ndarray) -> dict:
    return part | {"X": standardize(part["X"], mean, scale)}


def _kernel(part: dict, kmap: KernelMap) -> np.ndarray:
    return kmap.block(part["X"])


def _pass(
    part: dict, K: np.ndarray | None, offset: int, kmap: KernelMap, op: Callable, arg: Any, block_bytes: int
) -> tuple[np.ndarray, ...]:
    """The sum over the partition's blocks of ``op(K_bM, Y_b, a, arg)`` (``a`` the block's first row in
    the whole training set), from the kept ``K`` or kernel blocks computed here."""
    X, Y = part["X"], part["Y"]
    M = kmap.n_centers
    step = max(1, block_bytes // (kmap.dtype.itemsize * M))
    total: tuple[np.ndarray, ...] | None = None
    buf = None if K is not None else np.empty((min(step, X.shape[0]), M), dtype=kmap.dtype)
    for a in range(0, X.shape[0], step):
        Kb = K[a : a + step] if K is not None else kmap.block(X[a : a + step], out=buf[: min(step, X.shape[0] - a)])
        if Kb.dtype != np.float64:
            Kb = Kb.astype(np.float64)
        total = add_sums(total, op(Kb, Y[a : a + step], offset + a, arg))
    if total is None:  # an empty partition: zeros of the right shapes
        Kb = np.zeros((0, M))
        total = op(Kb, Y[:0], offset, arg)
    return total


def _residual_sums(Kb: np.ndarray, Yb: np.ndarray, a: int, W: np.ndarray) -> tuple[np.ndarray, ...]:
    E = Yb - Kb @ W
    return np.sum(E * E, axis=0), np.sum(np.abs(E), axis=0)


# -- on the client --------------------------------------------------------------------------------


class PartitionedRows:
    """The training rows of ``paths`` on ``cluster``'s workers, one partition per file (see the module)."""

    distributed = True

    def __init__(
        self, cluster: Cluster, paths: list[str], *, targets: Any, features: Any, sep: str, missing: str = "error"
    ) -> None:
        self.cluster, self.paths = cluster, list(paths)
        if any(p == "-" for p in self.paths):
            raise UsageError("standard input ('-') cannot be read by a cluster's workers; give files or URLs")
        with CsvSource(self.paths[0], sep) as src:  # the first header, that every file must have
            names = read_header(src)
            if names is None:
                raise DataError(f"{src.name} is empty; expected a header line and data rows")
            first = (names, src.name)
        self.parts = [cluster.submit(_read_part, p, first, targets, features, sep, missing) for p in self.paths]
        metas: list[dict | None] = [None] * len(self.parts)
        with progress.task("dask: reading partitions", total=len(self.parts)) as bar:
            for k, i in enumerate(cluster.as_done(self.parts), 1):
                metas[i] = cluster.result(cluster.submit(_meta, self.parts[i]))
                bar.update(k, f"{k:,} of {len(self.parts):,} files")
        self.lengths = np.array([m["n"] for m in metas], dtype=np.int64)  # type: ignore[index]
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.n_rows = int(self.lengths.sum())
        self.features, self.targets = metas[0]["features"], metas[0]["targets"]  # type: ignore[index]
        self.n_features, self.n_targets = len(self.features), len(self.targets)
        self.name = input_label(self.paths)
        self.sha256 = combined_sha256([m["sha256"] for m in metas])  # type: ignore[index]
        self.dropped = DroppedRows()  # (in file order: the first lines are the first files')
        for m in metas:
            self.dropped.merge(m["dropped"])  # type: ignore[index]
        # the features' training means (what predict --missing impute fills in)
        self.feature_means = sum(m["sum"] for m in metas) / max(self.n_rows, 1)  # type: ignore[index]
        if self.n_rows == 0 and self.dropped.count:
            raise self.dropped.none_left(self.name)
        if self.n_rows == 0:
            raise DataError(f"{self.name} has a header but no data rows")
        if self.n_rows < 2:
            raise DataError(f"{self.name} has {self.n_rows} data row(s); need at least 2")

    def _where(self, index: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """``(partition, local row numbers)`` for sorted global row numbers ``index``."""
        part = np.searchsorted(self.offsets, index, side="right") - 1
        return [(int(p), index[part == p] - self.offsets[p]) for p in np.unique(part)]

    def take(self, index: np.ndarray) -> np.ndarray:
        """The rows of X at ``index`` (global row numbers, sorted), gathered to the client."""
        futures = [self.cluster.submit(_take, self.parts[p], local) for p, local in self._where(np.asarray(index))]
        return np.concatenate(self.cluster.gather(futures), axis=0)

    def subset(self, index: np.ndarray) -> PartitionedRows:
        """The rows at ``index`` (global row numbers, sorted), as new partitions on the workers."""
        index = np.asarray(index)
        out = object.__new__(PartitionedRows)
        out.__dict__ = dict(self.__dict__)
        where = dict(self._where(index))
        empty = np.zeros(0, dtype=np.int64)
        out.parts = [self.cluster.submit(_rows_at, p, where.get(i, empty)) for i, p in enumerate(self.parts)]
        out.lengths = np.array([len(where.get(i, empty)) for i in range(len(self.parts))], dtype=np.int64)
        out.offsets = np.concatenate([[0], np.cumsum(out.lengths)[:-1]]).astype(np.int64)
        out.n_rows = int(out.lengths.sum())
        return out

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Every row, gathered to the client (for an exact fit)."""
        got = self.cluster.gather([self.cluster.submit(_arrays, p) for p in self.parts])
        return np.concatenate([g[0] for g in got]), np.concatenate([g[1] for g in got])

    def scaler(self) -> Standardizer:
        """The features' mean and scale over every partition (each partition's, merged in order)."""
        total = Standardizer()
        for s in self.cluster.gather([self.cluster.submit(_scaler, p) for p in self.parts]):
            total.merge(s)
        return total

    def standardized(self, mean: np.ndarray, scale: np.ndarray) -> PartitionedRows:
        """The same rows with ``(X - mean) / scale`` on the workers (new partitions; the read ones stay
        the source Dask recomputes from)."""
        out = object.__new__(PartitionedRows)
        out.__dict__ = dict(self.__dict__)
        out.parts = [self.cluster.submit(_standardized, p, mean, scale) for p in self.parts]
        return out

    def products(self, kmap: KernelMap, keep: bool = True) -> PartitionProducts:
        return PartitionProducts(self, kmap, keep)


class PartitionProducts:
    """The nystrom solver's passes over partitions (the calls of the local ``_Products``): each pass is
    one task per partition, summing its blocks' products, and a tree reduction of the sums. K_nM is
    kept on the workers, partition by partition, under the same budget as locally."""

    carries_fitted = False  # the fitted values stay on the workers; train_scores gives their scores

    def __init__(self, rows: PartitionedRows, kmap: KernelMap, keep: bool = True) -> None:
        from ..solvers.nystrom import BLOCK_BYTES, KNM_CACHE_BYTES, PASS_BLOCK_BYTES

        self.rows, self.cluster = rows, rows.cluster
        self.kmap = self.cluster.scatter(kmap)  # the centers travel once
        self.big, self.small = BLOCK_BYTES, PASS_BLOCK_BYTES
        self.K: list[Any] | None = None
        if keep and kmap.dtype.itemsize * rows.n_rows * kmap.n_centers <= KNM_CACHE_BYTES:
            self.K = [self.cluster.submit(_kernel, p, self.kmap) for p in rows.parts]

    @property
    def kept(self) -> bool:
        return self.K is not None

    def sum_blocks(self, op: Callable, arg: Any, big: bool = False, label: str = "") -> tuple[np.ndarray, ...]:
        """The sum over every row block of ``op(K_bM, Y_b, a, arg)`` (``big``: in blocks of BLOCK_BYTES,
        for sums of M x M; ``label`` names the pass, as locally: the cluster's passes show no bar)."""
        rows = self.rows
        large = isinstance(arg, tuple) or (isinstance(arg, np.ndarray) and arg.size > 4096)
        arg_f = self.cluster.scatter(arg) if large else arg  # sent once, not with every partition's task
        parts = [
            self.cluster.submit(
                _pass,
                p,
                None if self.K is None else self.K[i],
                int(rows.offsets[i]),
                self.kmap,
                op,
                arg_f,
                self.big if big else self.small,
            )
            for i, p in enumerate(rows.parts)
        ]
        return self.cluster.tree_sum(parts)

    def KtKv(self, V: np.ndarray) -> tuple[np.ndarray, None]:
        from ..solvers.nystrom import op_KtK

        return self.sum_blocks(op_KtK, V)[0], None

    def KtK(self, V: np.ndarray) -> np.ndarray:
        from ..solvers.nystrom import op_KtK

        return self.sum_blocks(op_KtK, V)[0]

    def KtKv_and_KtY(self, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from ..solvers.nystrom import op_KtK_and_KtY

        KtKv, KtY = self.sum_blocks(op_KtK_and_KtY, V)
        return KtKv, KtY

    def KtY(self) -> np.ndarray:
        from ..solvers.nystrom import op_KtY

        return self.sum_blocks(op_KtY, None)[0]

    def gram(self, with_y: bool = False) -> tuple[np.ndarray, ...]:
        from ..solvers.nystrom import op_gram

        return self.sum_blocks(op_gram, with_y, big=True)

    def train_scores(self, W: np.ndarray) -> dict[str, float]:
        """RMSE, MAE and R^2 of the fit ``K_nM W`` on the training rows, from sums over the partitions."""
        ss_res, sum_abs = self.sum_blocks(_residual_sums, W)
        y = Standardizer()
        for s in self.cluster.gather([self.cluster.submit(_target_scaler, p) for p in self.rows.parts]):
            y.merge(s)
        rmse, mae, r2 = scores_from_sums(self.rows.n_rows, ss_res, sum_abs, y.sum_of_squares_)
        return {"rmse": float(rmse), "mae": float(mae), "r2": float(r2)}


def _target_scaler(part: dict) -> Standardizer:
    return Standardizer().fit(part["Y"])


# -- prediction ---------------------------------------------------------------------------------------


def _predict_part(
    model: Any, path: str, expect: tuple[list[str], str] | None, options: dict, header: bool, stage_to: str | None
) -> tuple[str, dict[str, int]]:
    """Predict one file on a worker: ``(text, counts)``, or with ``stage_to`` ``(temporary file, counts)``
    written next to that path (committed by the client once every partition has succeeded); ``counts``
    holds the rows predicted, and those with an unseen category or a missing value."""
    from ..api import _write_predictions
    from ..persist.output import write_staged
    from .inputs import check_same_header

    if expect is not None:  # every file has the first one's header, as when read one after another
        with CsvSource(path, options["sep"]) as src:
            names = read_header(src)
        if names is not None:
            check_same_header(names, expect[0], src.name, expect[1])
    counts: dict[str, int] = {}  # the rows the client's warnings count
    if stage_to is not None:
        tmp = write_staged(stage_to, lambda fh: _write_predictions(model, [path], fh=fh, counts=counts, **options))
        return tmp, counts
    buf = io.StringIO()
    _write_predictions(model, [path], fh=buf, header=header, counts=counts, **options)
    return buf.getvalue(), counts


def predict_partitions(
    cluster: Cluster,
    model: Any,
    paths: list[str],
    options: dict,
    fh: IO[str] | None = None,
    outputs: list[str] | None = None,
) -> int:
    """Predict every file in ``paths`` on ``cluster``'s workers, one task each; write the predictions to
    ``fh`` in input order (one header), or each file's to its own path in ``outputs`` (all appear
    together once every file is done, or none). Returns the row count."""
    from ..api import add_counts, warn_prediction_counts
    from ..persist.output import commit_staged, discard_staged

    if "-" in paths:
        raise UsageError("standard input ('-') cannot be read by a cluster's workers; give files or URLs")
    expect = None
    if not options.get("no_header"):
        with CsvSource(paths[0], options["sep"]) as src:
            names = read_header(src)
            expect = None if names is None else (names, src.name)
    shared = cluster.scatter(model)
    futures = [
        cluster.submit(_predict_part, shared, p, expect, options, i == 0, None if outputs is None else outputs[i])
        for i, p in enumerate(paths)
    ]
    counts: dict[str, int] = {}
    with progress.task("dask: predicting partitions", total=len(paths)) as bar:
        if outputs is None:
            assert fh is not None
            for i, f in enumerate(futures):  # in input order, each as soon as it and those before are done
                text, part = cluster.result(f)
                fh.write(text)
                add_counts(counts, part)
                bar.update(i + 1, f"{i + 1:,} of {len(paths):,} files")
            fh.flush()
            warn_prediction_counts(counts, options.get("missing", "error"))
            return counts.get("rows", 0)
        staged, failure = [], None
        for i, f in enumerate(futures):
            try:
                tmp, part = cluster.result(f)
            except Exception as exc:  # (the first failure is reported once the others are done)
                failure = failure or exc
                continue
            staged.append((tmp, outputs[i]))
            add_counts(counts, part)
            bar.update(i + 1, f"{i + 1:,} of {len(paths):,} files")
    if failure is not None:
        discard_staged([t for t, _ in staged])
        raise failure
    commit_staged(staged)
    warn_prediction_counts(counts, options.get("missing", "error"))
    return counts.get("rows", 0)
