"""The kernel ridge regression estimator, in scikit-learn's shape."""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np

from .errors import DataError, DataTypeError, KrrError, KrrWarning, ModelFileError, UsageError
from .kernels import KernelMap, KernelSpec, get_kernel, resolve_gamma
from .metrics import regression_scores
from .preprocess import Standardizer, standardize
from .resources import check_memory

__all__ = ["KernelRidge", "check_dtype", "check_params", "regression_scores"]

# solver="auto" keeps the exact solver up to this many rows (a 24,000-row Cholesky takes about a
# minute on a 2-core machine: 36 s at 20,000 rows, measured), and while it fits in memory.
EXACT_AUTO_MAX_ROWS = 24_000

PARAMS = (
    "kernel",
    "gamma",
    "alpha",
    "degree",
    "coef0",
    "standardize",
    "solver",
    "dtype",
    "n_centers",
    "tol",
    "max_iter",
    "seed",
    "fit_intercept",
    "keep_factor",
)

# Prediction computes K(X_new, X_fit) a block of rows at a time; one block of
# kernel values takes at most this many bytes (at least one row).
PREDICT_BLOCK_BYTES = 64 * 2**20
# Blocks are cut smaller than that, to about this size, so that they stay in cache
# between the product that makes them and the one that uses them. (Measured on 2
# cores: one thread with BLAS's own threads beat a pool of block workers.)
PREDICT_CACHE_BYTES = 8 * 2**20


def check_params(kernel: str, gamma: float | None, alpha: Any, degree: float, coef0: float) -> None:
    """Raise :class:`UsageError` for a parameter outside its domain (``alpha``: a number, or one per target)."""
    get_kernel(kernel)
    if np.ndim(alpha) == 1 and not isinstance(alpha, (str, bytes)):
        values = list(alpha)
        if not values or not all(
            isinstance(a, (int, float, np.integer, np.floating)) and math.isfinite(a) and a >= 0 for a in values
        ):
            raise UsageError(f"alpha must be finite numbers >= 0, one per target, got {alpha!r}")
    elif not (isinstance(alpha, (int, float, np.integer, np.floating)) and math.isfinite(alpha)) or alpha < 0:
        raise UsageError(f"alpha must be a finite number >= 0, got {alpha}")
    if gamma is not None and (not math.isfinite(gamma) or gamma <= 0):
        raise UsageError(f"gamma must be a finite number > 0, got {gamma}")
    if not math.isfinite(degree) or degree < 1:
        raise UsageError(f"degree must be >= 1, got {degree}")
    if not math.isfinite(coef0):
        raise UsageError(f"coef0 must be finite, got {coef0}")


def check_dtype(dtype: Any) -> np.dtype:
    """The precision for kernel work: float64 or float32 (a name, a numpy type or a dtype)."""
    if isinstance(dtype, str):
        dt = _DTYPES.get(dtype)
    elif dtype is None:
        dt = None
    else:
        try:
            dt = np.dtype(dtype)
        except TypeError:
            dt = None
    if dt is None or dt not in _DTYPES.values():
        raise UsageError(f"dtype must be float64 or float32, got {dtype!r}")
    return dt


_DTYPES = {"float64": np.dtype(np.float64), "float32": np.dtype(np.float32)}


def _as_2d_float(X: Any, what: str) -> tuple[np.ndarray, list[str] | None]:
    """``X`` as a float64 array of 2 dimensions (a 1-D ``y`` as one column), finite, with the column
    names of a DataFrame (else None)."""
    if X is None:
        raise DataError(f"KernelRidge requires {what} to be passed, but the target {what} is None")
    if type(X).__module__.startswith("scipy.sparse"):
        raise DataError(f"{what} is a sparse matrix; sparse input is not supported: pass a dense array (.toarray())")
    names = None
    if hasattr(X, "columns") and all(isinstance(c, str) for c in X.columns):  # (names, as scikit-learn's)
        names = list(X.columns)
    raw = np.asarray(X) if not isinstance(X, np.ndarray) else X
    if np.iscomplexobj(raw):
        raise DataError(
            f"Complex data not supported: {what} holds complex numbers; kernel ridge regression needs real values"
        )
    try:
        A = np.asarray(raw, dtype=np.float64)
    except TypeError as exc:  # (a cell that is no number at all: a TypeError, as numpy raises)
        raise DataTypeError(f"{what} must be numeric: {exc}") from None
    except ValueError as exc:
        raise DataError(f"{what} must be numeric: {exc}") from None
    if A.ndim == 1 and what == "y":
        A = A[:, None]
    if A.ndim != 2:
        advice = ""
        if A.ndim == 1:
            advice = " Reshape your data: X.reshape(-1, 1) for one feature, X.reshape(1, -1) for one row"
        raise DataError(f"{what} must be 2-D (rows x columns), got {A.ndim} dimension(s).{advice}")
    if not np.all(np.isfinite(A)):
        raise DataError(f"{what} contains NaN or infinite values")
    return A, names


def _check_weights(sample_weight: Any, n: int) -> np.ndarray:
    """Sample weights as a float array of shape (n,): finite, >= 0, not all zero."""
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"sample_weight must be numeric: {exc}") from None
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.shape != (n,):
        raise DataError(f"sample_weight must have shape ({n},), one weight per row; got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError("sample_weight must be finite and >= 0")
    if not np.any(w > 0):
        raise DataError("sample_weight is zero for every row; at least one row needs a positive weight")
    return w


class KernelRidge:
    """Kernel ridge regression: ``w = (K + alpha I)^-1 y``, ``y(x) = sum_i w_i k(x, x_i)``.

    No intercept, as scikit-learn's ``KernelRidge``; with the same kernels,
    defaults and parameter meanings it gives the same numbers.

    Parameters
    ----------
    kernel : {"rbf", "laplacian", "polynomial", "linear", "sigmoid", "cosine"}
    gamma : float or None
        Kernel coefficient; None means ``1 / n_features``.
    alpha : float
        Ridge penalty, >= 0.
    degree : float
        Degree of the polynomial kernel.
    coef0 : float
        Constant term of the polynomial and sigmoid kernels.
    standardize : bool
        Scale features to zero mean and unit variance with the training data
        before the kernel (the scaler is kept and applied by ``predict``).
    solver : str
        ``"auto"`` or the name of a registered solver (``krrcli.solvers.solver_names()``:
        cholesky, eigh, primal). ``auto`` is resolved before any work and the
        solver really used (after any fallback) is ``solver_``.
    n_centers, tol, max_iter, seed :
        Options of the nystrom solver (see :class:`krrcli.solvers.nystrom.NystromOptions`): the number
        of centers M, the CG tolerance and iteration limit, the seed of the center sample. None: the default.
    dtype : {"float64", "float32"}
        Precision of the kernel matrix and its factorization. float32 halves
        the memory and roughly doubles the speed of the factorization, at a
        cost in accuracy; a float32 solve whose relative residual exceeds
        ``solvers.direct.FLOAT32_MAX_RESIDUAL`` is redone in float64 with a warning
        (``dtype_`` then says float64).

    Attributes
    ----------
    X_fit_ : ndarray of shape (n_centers, n_features)
        The rows the model predicts from, as the kernel sees them (standardized if
        asked): for the exact solvers, the training rows. ``centers_`` is the same array.
    n_samples_fit_ : int
        The number of training rows.
    dtype_ : str
        The precision the solution was computed in.
    fallbacks_ : list of str
        What the fallback policy changed, and why.
    dual_coef_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
    coef_ : ndarray of shape (n_features,) or (n_features, n_targets) or None
        Primal weights when the primal solver was used.
    gamma_ : float or None
        The gamma really used.
    solver_ : str
    mean_, scale_ : ndarray of shape (n_features,) or None
    feature_means_ : ndarray of shape (n_features,) or None
        The training rows' mean of each feature (what ``krr predict --missing impute`` fills in); None in
        a model loaded from a file written before krr kept them.
    rows_dropped_ : int
        Training rows left out for a missing value (``krr fit --missing drop``).
    rows_dropped_lines_, rows_dropped_files_ : list of int, list of str
        The line numbers and files of the first of them (at most five).
    feature_names_in_, target_names_ : list of str
    effective_dof_ : float
    train_scores_ : dict with rmse, mae, r2 on the training rows
    """

    def __init__(
        self,
        kernel: str = "rbf",
        gamma: float | None = None,
        alpha: float = 1.0,
        degree: float = 3,
        coef0: float = 1,
        standardize: bool = False,
        solver: str = "auto",
        dtype: str = "float64",
        n_centers: int | None = None,
        tol: float | None = None,
        max_iter: int | None = None,
        seed: int = 0,
        fit_intercept: bool = False,
        keep_factor: bool = False,
    ) -> None:
        self.kernel = kernel
        self.gamma = gamma
        self.alpha = alpha
        self.degree = degree
        self.coef0 = coef0
        self.standardize = standardize
        self.solver = solver
        self.dtype = dtype
        self.n_centers = n_centers
        self.tol = tol
        self.max_iter = max_iter
        self.seed = seed
        self.fit_intercept = fit_intercept
        self.keep_factor = keep_factor

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments, exactly (as scikit-learn's ``clone`` needs)."""
        return {k: getattr(self, k) for k in PARAMS}

    def set_params(self, **params: Any) -> KernelRidge:
        for key, value in params.items():
            if key not in PARAMS:
                raise UsageError(f"unknown parameter {key!r}; parameters are: {', '.join(PARAMS)}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"KernelRidge({args})"

    # -- scikit-learn's protocol (see krrcli.sklearn_compat; scikit-learn is imported only when it asks)
    _estimator_type = "regressor"  # what scikit-learn before 1.6 reads

    def __sklearn_tags__(self) -> Any:
        from .sklearn_compat import estimator_tags

        return estimator_tags()

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "dual_coef_")

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R^2 of ``predict(X)`` against ``y`` (averaged over targets), as scikit-learn's regressors score."""
        from .metrics import r2_score

        Y, _ = _as_2d_float(y, "y")
        P = np.asarray(self.predict(X), dtype=np.float64).reshape(Y.shape[0], -1)
        if P.shape != Y.shape:
            raise DataError(f"y has {Y.shape[1]} target column(s) but the model predicts {P.shape[1]}")
        return r2_score(Y, P, None if sample_weight is None else _check_weights(sample_weight, Y.shape[0]))

    # -- fitting ----------------------------------------------------------
    def _kernel_spec(self) -> Any:
        return KernelSpec(self.kernel_, self.gamma_, float(self.degree), float(self.coef0))

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> KernelRidge:
        """Fit on ``X`` of shape (n_samples, n_features) and ``y`` of shape (n_samples,) or (n_samples, n_targets).

        sample_weight : array of shape (n_samples,), or a number, or None
            Minimize ``sum_i w_i (y_i - f(x_i))^2 + alpha ||f||^2`` (scikit-learn's meaning). Weights are
            finite and >= 0, not all 0; a row of weight 0 is left out (as if it were not there), also from
            the scaler of ``standardize``. The training scores are weighted the same way.
        """
        return self._fit(X, y, overwrite_X=False, sample_weight=sample_weight)

    def _fit(
        self, X: Any, y: Any, overwrite_X: bool, sample_weight: Any = None, weights_name: str | None = None
    ) -> KernelRidge:
        """``fit``; with ``overwrite_X`` the scaler is applied in ``X``'s memory (arrays krr read itself)."""
        from .solvers import solve

        check_params(self.kernel, self.gamma, self.alpha, self.degree, self.coef0)
        self.kernel_ = get_kernel(self.kernel).name
        self.encoder_ = None  # (fit_rows sets the CSV reader's one-hot encoding, if any)
        X, feature_names = _as_2d_float(X, "X")
        Y, target_names = _as_2d_float(y, "y")
        y_1d = np.ndim(np.asarray(y)) == 1
        if hasattr(y, "name") and y_1d:
            target_names = [str(y.name)]
        n, d = X.shape
        if Y.shape[0] != n:
            raise DataError(f"X has {n} rows but y has {Y.shape[0]}")
        weights, self.sample_weights_, self.rows_zero_weight_ = None, None, 0
        self.rows_dropped_, self.rows_dropped_lines_, self.rows_dropped_files_ = 0, [], []
        if sample_weight is not None:
            weights = _check_weights(sample_weight, n)
            self.sample_weights_ = weights_name or "sample_weight"
            if not np.all(weights > 0):  # a row of weight 0 counts for nothing: leave it out
                keep = weights > 0
                X, Y, weights = X[keep], Y[keep], weights[keep]
                self.rows_zero_weight_ = n - X.shape[0]
                n, overwrite_X = X.shape[0], True
        if n < 2:
            raise DataError(f"need at least 2 rows to fit, got n_samples={n}")
        if d < 1:
            raise DataError(f"X has 0 feature(s) (shape=({n}, 0)) while a minimum of 1 is required.")

        copy = (self.standardize and not (overwrite_X and X.flags.writeable)) or not X.flags.c_contiguous
        name, solver, options = self._plan(n, d, Y.shape[1], copies=int(copy))
        dtype = str(check_dtype(self.dtype))

        if self.standardize:
            scaler = Standardizer().fit(X)
            self.mean_, self.scale_ = scaler.mean_, scaler.scale_
            self.feature_means_ = scaler.mean_.copy()
            X = scaler.transform(X, overwrite=overwrite_X and X.flags.writeable)
        else:
            self.mean_ = self.scale_ = None
            self.feature_means_ = X.mean(axis=0)  # (what predict --missing impute fills in)
        X = np.ascontiguousarray(X)
        self.gamma_ = resolve_gamma(self.kernel_, self.gamma, d)
        from .solvers.intercept import split_intercept, with_ones

        keep = bool(self.keep_factor)
        if keep and name == "primal":  # (its d x d system is no factor of the kernel: the Cholesky solver keeps one)
            name = "cholesky"

        def fit_targets(Yj: np.ndarray, alpha: float) -> tuple[Any, np.ndarray | None]:
            targets = with_ones(Yj) if self.fit_intercept else Yj  # (the intercept: see solvers/intercept.py)
            sol = solve(
                name,
                X,
                targets,
                alpha=alpha,
                kernel=self._kernel_spec(),
                options=options,
                dtype=dtype,
                weights=weights,
                keep_factor=keep,
            )
            return split_intercept(sol, Yj, weights) if self.fit_intercept else (sol, None)

        alphas = self._alpha_values(Y.shape[1])
        per_target = alphas.size > 1 and not np.all(alphas == alphas[0])
        if per_target and keep:
            raise UsageError("keep_factor (--keep-factor) needs one alpha for every target")
        if per_target:  # one alpha per target: one solve each
            parts = [fit_targets(Y[:, j : j + 1], float(a)) for j, a in enumerate(alphas)]
            sol = _stack_solutions([p[0] for p in parts])
            self.intercept_ = np.concatenate([p[1] for p in parts]) if self.fit_intercept else None
        else:
            sol, self.intercept_ = fit_targets(Y, float(alphas[0]))
        scores = sol.train_scores or regression_scores(Y, sol.fitted, weights)
        self.factor_ = self.noise_var_ = None
        if keep:
            self.factor_, self.noise_var_ = _posterior_parts(sol, Y, weights, self.fit_intercept)
        return self._store(sol, options, d, feature_names, target_names, y_1d, scores)

    def _alpha_values(self, t: int | None = None) -> np.ndarray:
        """``alpha`` as an array: one value, or one per target (checked against ``t`` targets)."""
        a = np.atleast_1d(np.asarray(self.alpha, dtype=np.float64))
        if t is not None and a.size not in (1, t):
            raise DataError(f"alpha has {a.size} values but y has {t} target(s); give one alpha, or one per target")
        return a

    def _plan_alpha(self) -> float:
        """The alpha that choosing and checking a solver goes by: the smallest one."""
        return float(np.min(self._alpha_values()))

    def _store(
        self,
        sol: Any,
        options: Any,
        d: int,
        feature_names: list[str] | None,
        target_names: list[str] | None,
        y_1d: bool,
        scores: dict[str, float],
    ) -> KernelRidge:
        """Set the fitted attributes from a solver's solution."""
        t = sol.dual_coef.shape[1]
        self.solver_ = sol.solver
        self.dtype_ = sol.dtype
        self.fallbacks_ = list(sol.fallbacks)
        self.solver_options_ = dataclasses.asdict(options)
        self.solver_info_ = dict(sol.info)
        self.X_fit_ = self.centers_ = sol.centers
        self.n_samples_fit_ = sol.n_samples
        self.dual_coef_ = sol.dual_coef.ravel() if y_1d else sol.dual_coef
        self.coef_ = None if sol.coef is None else (sol.coef.ravel() if y_1d else sol.coef)
        self.effective_dof_ = sol.effective_dof
        self.effective_dof_exact_ = sol.dof_exact
        self.n_features_in_ = d
        self.feature_names_in_ = feature_names or [f"x{i}" for i in range(d)]
        self.target_names_ = target_names or (["y"] if t == 1 else [f"y{j}" for j in range(t)])
        self.train_scores_ = scores
        self.n_iter_ = sol.info.get("iterations")  # CG's over the rows (nystrom); None for the exact solvers
        self._y_1d = y_1d
        return self

    def _plan(self, n: int, d: int, t: int, copies: int, estimated: bool = False) -> tuple[str, Any, Any]:
        """The solver for ``n`` rows (``auto`` resolved) and its options, after the memory preflight: the
        solver's peak plus ``copies`` copies of the rows must fit (an ``estimated`` row count is said so)."""
        from .solvers import get_solver, resolve_solver

        kernel = get_kernel(self.kernel).name
        name = resolve_solver(self.solver, kernel=kernel, n_samples=n, n_features=d, alpha=self._plan_alpha())
        itemsize = np.dtype(str(check_dtype(self.dtype))).itemsize
        if self.solver == "auto":
            with warnings.catch_warnings():
                if estimated:  # said once, when the real row count is known
                    warnings.simplefilter("ignore", KrrWarning)
                name = self._beyond_exact(name, n, d, t, itemsize, copies)
        solver = get_solver(name)
        options = self._options_for(solver)

        def need(rows: int, size: int = itemsize) -> int:
            return _peak(solver, options, rows, d, t, size, copies)

        def advice(avail: int) -> str:
            text = _sample_advice(need, n, avail)
            if itemsize == 8 and "float32" in solver.precisions and need(n, 4) <= avail:
                text = "use --dtype float32 (half the memory), or " + text
            return text

        about = "about " if estimated else ""
        note = solver.memory_note(n_samples=n, itemsize=itemsize, options=options)
        check_memory(need(n), f"fitting {about}{n:,} rows ({note})", advice)
        return name, solver, options

    def preflight(self, n_rows: int, n_features: int, n_targets: int, rows_in_memory: bool) -> None:
        """Refuse, before the rows are read, a fit of about ``n_rows`` rows (estimated from the file
        sizes) that would not fit in memory, naming what would; the rows count once if they will be in
        memory (not when they go to temporary files)."""
        check_params(self.kernel, self.gamma, self.alpha, self.degree, self.coef0)
        self._plan(n_rows, n_features, n_targets, copies=int(rows_in_memory), estimated=True)

    def _options_for(self, solver: Any) -> Any:
        """The solver's own options, from the parameters of the same names (None: its default)."""
        given = {f.name: getattr(self, f.name, None) for f in dataclasses.fields(solver.options_class)}
        return solver.make_options({k: v for k, v in given.items() if v is not None})

    def _beyond_exact(
        self, name: str, n: int, d: int, t: int, itemsize: int, copies: int, distributed: bool = False
    ) -> str:
        """``auto``: the exact solver while it fits in memory and takes about a minute at most
        (``EXACT_AUTO_MAX_ROWS``), else nystrom with its default centers, said in one warning line."""
        from .resources import available_memory
        from .solvers import get_solver
        from .solvers.nystrom import beyond_exact, default_centers

        exact = get_solver(name)
        if not exact.centers_are_rows or exact.primal or self._plan_alpha() <= 0:
            return name
        nystrom = get_solver("nystrom")
        options = self._options_for(nystrom)
        M = options.n_centers or default_centers(n)
        if M >= n:
            return name
        available = available_memory()
        exact_need = _peak(exact, exact.make_options(None), n, d, t, itemsize, copies)
        # (on a cluster, nystrom's rows and passes are on the workers: this machine holds M x M matrices)
        if not distributed and available is not None and _peak(nystrom, options, n, d, t, 8, copies) > available:
            return name  # nystrom does not fit either: the exact solver runs, or its refusal says what would
        if not beyond_exact(n, exact_need, EXACT_AUTO_MAX_ROWS, M, "the exact fit", "would take over a minute"):
            return name
        return "nystrom"

    def fit_rows(self, rows: Any) -> KernelRidge:
        """Fit on a row source (:class:`krrcli.data.RowSource`: arrays, or a CSV file), keeping its
        column names. One target is fitted as a 1-D ``y``, as ``krr fit`` does."""
        if getattr(rows, "distributed", False):
            self._fit_partitioned(rows)
        else:
            X, Y = rows.to_arrays()  # the exact solvers hold every row
            y = Y[:, 0] if Y.shape[1] == 1 else Y
            owned = bool(getattr(rows, "owned", False))
            weights = getattr(rows, "weights", None)
            self._fit(X, y, overwrite_X=owned, sample_weight=weights, weights_name=getattr(rows, "weights_name", None))
        self.feature_names_in_ = list(rows.features)
        self.target_names_ = list(rows.targets)
        self.encoder_ = getattr(rows, "encoder", None)  # categorical input columns, one-hot encoded
        dropped = getattr(rows, "dropped", None)
        if dropped is not None:  # rows of the file left out for a missing value: how many, the first lines
            self.rows_dropped_, self.rows_dropped_lines_ = dropped.count, list(dropped.lines)
            self.rows_dropped_files_ = list(dropped.files)
        return self

    def _fit_partitioned(self, rows: Any) -> None:
        """Fit on rows held by a cluster's workers (:class:`krrcli.data.partitions.PartitionedRows`): the
        nystrom solver's passes run there; a fit small enough for the exact solver (as ``auto`` decides
        locally, or an exact solver asked for) gathers the rows here and fits them as locally."""
        from .solvers import get_solver, resolve_solver, solve

        check_params(self.kernel, self.gamma, self.alpha, self.degree, self.coef0)
        self.kernel_ = get_kernel(self.kernel).name
        self.sample_weights_, self.rows_zero_weight_ = None, 0
        self.intercept_ = self.factor_ = self.noise_var_ = None
        if self.keep_factor or self.fit_intercept:
            raise UsageError("--keep-factor and --intercept are not supported with --engine dask yet")
        n, d, t = rows.n_rows, rows.n_features, rows.n_targets
        name = resolve_solver(self.solver, kernel=self.kernel_, n_samples=n, n_features=d, alpha=self._plan_alpha())
        itemsize = np.dtype(str(check_dtype(self.dtype))).itemsize
        if self.solver == "auto":
            name = self._beyond_exact(name, n, d, t, itemsize, copies=1, distributed=True)
        if name != "nystrom":
            warnings.warn(
                f"{n:,} rows: small enough for the exact fit; gathering them from the cluster to fit here",
                KrrWarning,
                stacklevel=3,
            )
            X, Y = rows.to_arrays()
            self._fit(X, Y[:, 0] if t == 1 else Y, overwrite_X=True)
            return
        solver = get_solver(name)
        if self._alpha_values().size > 1:
            raise UsageError("one alpha per target is not supported with --engine dask yet")
        solver.check(kernel=self.kernel_, alpha=self._plan_alpha())
        options = self._options_for(solver)
        self.feature_means_ = np.asarray(rows.feature_means, dtype=np.float64)
        if self.standardize:
            scaler = rows.scaler()
            self.mean_, self.scale_ = scaler.mean_, scaler.scale_
            rows = rows.standardized(self.mean_, self.scale_)
        else:
            self.mean_ = self.scale_ = None
        self.gamma_ = resolve_gamma(self.kernel_, self.gamma, d)
        dtype = str(check_dtype(self.dtype))
        sol = solve(
            name, rows, None, alpha=self._plan_alpha(), kernel=self._kernel_spec(), options=options, dtype=dtype
        )
        self._store(sol, options, d, list(rows.features), list(rows.targets), t == 1, sol.train_scores)

    # -- prediction -------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "dual_coef_"):
            from .sklearn_compat import not_fitted

            raise not_fitted("this KernelRidge is not fitted yet; call fit(X, y) first")

    def transform_features(self, X: np.ndarray) -> np.ndarray:
        """Apply the stored scaler (if any) to raw feature rows."""
        return standardize(X, self.mean_, self.scale_)

    def predict(self, X: Any, block_bytes: int = PREDICT_BLOCK_BYTES, dtype: str = "float64") -> np.ndarray:
        """Predict for ``X`` of shape (n_rows, n_features).

        Returns an array of shape (n_rows,) for a model fitted on a 1-D ``y``,
        else (n_rows, n_targets). The kernel is computed at most ``block_bytes``
        at a time, in ``dtype`` precision.
        """
        check_dtype(dtype)
        self._check_fitted()
        if hasattr(X, "columns") and all(isinstance(c, str) for c in X.columns):
            if set(self.feature_names_in_) <= set(X.columns):  # a DataFrame's columns, by name
                X = X[self.feature_names_in_]
        X, _ = _as_2d_float(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise DataError(
                f"X has {X.shape[1]} features, but KernelRidge is expecting {self.n_features_in_} features as input"
            )
        X = self.transform_features(X)
        W = self.dual_coef_.reshape(self.dual_coef_.shape[0], -1)
        if self.coef_ is not None:
            out = X @ self.coef_.reshape(X.shape[1], -1)
        else:
            out = self._predict_dual(X, W, block_bytes, dtype)
        if getattr(self, "intercept_", None) is not None:
            out += self.intercept_
        return out.ravel() if self._y_1d else out

    def _predict_dual(self, X: np.ndarray, W: np.ndarray, block_bytes: int, dtype: str) -> np.ndarray:
        # y = K(X, X_fit) W, a block of rows at a time: each block's kernel values
        # stay in cache between the product that makes them and the one that uses them.
        kmap = KernelMap(self._kernel_spec(), self.X_fit_, dtype)
        W = W.astype(kmap.dtype, copy=False)
        n_train = kmap.n_centers
        m = X.shape[0]
        out = np.empty((m, W.shape[1]), dtype=kmap.dtype)
        step = max(1, min(block_bytes, PREDICT_CACHE_BYTES) // (kmap.dtype.itemsize * n_train))

        buf = np.empty((min(step, m), n_train), dtype=kmap.dtype)
        for a in range(0, m, step):
            b = min(a + step, m)
            np.matmul(kmap.block(X[a:b], out=buf[: b - a]), W, out=out[a:b])
        return out.astype(np.float64, copy=False)

    # -- persistence ------------------------------------------------------
    @classmethod
    def from_record(cls, record: dict[str, Any], path: str = "the model file") -> KernelRidge:
        """A fitted model from a model file's record, checked by :func:`krrcli.persist.read_model_record`."""
        try:
            check_params(record["kernel"], record.get("gamma"), record["alpha"], record["degree"], record["coef0"])
            check_dtype(record.get("dtype", "float64"))
        except KrrError as exc:
            raise ModelFileError(f"{path!r} is damaged: {exc}") from None
        m = cls(
            kernel=record["kernel"],
            gamma=record.get("gamma"),
            alpha=record["alpha"],
            degree=record["degree"],
            coef0=record["coef0"],
            standardize=bool(record.get("standardize")),
            solver=record.get("solver", "auto"),
            dtype=record.get("dtype", "float64"),
        )
        m.kernel_ = get_kernel(m.kernel).name
        m.gamma_ = record.get("gamma")
        m.solver_ = record.get("solver", "cholesky")
        m.dtype_ = record.get("dtype", "float64")
        m.X_fit_ = m.centers_ = record["centers"]
        m.n_samples_fit_ = int(record["n_samples_fit"])
        m.solver_options_ = dict(record.get("solver_options") or {})
        m.solver_info_ = dict(record.get("solver_info") or {})
        m.fallbacks_ = list(record.get("fallbacks") or [])
        m._y_1d = bool(record.get("y_1d", record["dual_coef"].ndim == 1))
        m.dual_coef_ = record["dual_coef"].ravel() if m._y_1d else record["dual_coef"]
        coef = record.get("coef")
        m.coef_ = None if coef is None else (coef.ravel() if m._y_1d else coef)
        m.mean_ = record.get("mean")
        m.scale_ = record.get("scale")
        m.n_features_in_ = record["centers"].shape[1]
        m.feature_names_in_ = [str(f) for f in record["features"]]
        m.target_names_ = [str(t) for t in record["targets"]]
        m.effective_dof_ = float(record.get("effective_dof", float("nan")))
        m.effective_dof_exact_ = bool(record.get("effective_dof_exact", True))
        m.train_scores_ = {k: float(v) for k, v in (record.get("train") or {}).items()}
        m.n_iter_ = m.solver_info_.get("iterations")
        m.sample_weights_ = record.get("sample_weights")
        m.intercept_ = record.get("intercept")
        m.fit_intercept = m.intercept_ is not None
        m.factor_ = _factor_from_record(record)
        m.noise_var_ = record.get("noise_var")
        m.keep_factor = m.factor_ is not None
        m.rows_zero_weight_ = int(record.get("rows_zero_weight", 0))
        m.rows_dropped_ = int(record.get("rows_dropped", 0))
        m.rows_dropped_lines_ = list(record.get("rows_dropped_lines") or [])
        m.rows_dropped_files_ = list(record.get("rows_dropped_files") or [])
        m.feature_means_ = record.get("feature_means")  # (None: a model file from before they were kept)
        m.encoder_ = None
        if record.get("categorical") is not None:
            from .data.categorical import OneHot

            m.encoder_ = OneHot(record["inputs"], record["categorical"])
        return m

    def save(self, path: str, **metadata: Any) -> None:
        """Write the fitted model to ``path`` atomically (see :mod:`krrcli.persist`)."""
        from .persist import save_model

        self._check_fitted()
        save_model(self, path, **metadata)


def _posterior_parts(
    sol: Any, Y: np.ndarray, weights: np.ndarray | None, intercept: bool
) -> tuple[dict[str, Any], np.ndarray]:
    """What ``predict --std`` needs (see :mod:`krrcli.uncertainty`): the solver's factor, with the intercept's
    ``u = G^-1 s`` and ``s^T u``; and the noise variance ``sum w r^2 / (n - dof)`` of each target."""
    from scipy import linalg

    from .uncertainty import noise_variance

    factor = {k: v for k, v in sol.factor.items() if v is not None}
    if intercept and factor["kind"] == "cholesky":  # (nystrom's u: see split_intercept)
        s = factor.get("scale", np.ones(Y.shape[0]))
        L = factor["L"]
        u = linalg.solve_triangular(L, linalg.solve_triangular(L, s, lower=True), lower=True, trans="T")
        factor["u"], factor["u_sum"] = u, float(s @ u)
    w = np.ones(Y.shape[0]) if weights is None else weights
    R = Y - sol.fitted
    noise = np.array(
        [noise_variance(float(w @ R[:, j] ** 2), Y.shape[0], sol.effective_dof) for j in range(Y.shape[1])]
    )
    return factor, noise


def _stack_solutions(sols: list[Any]) -> Any:
    """One solution from the solutions of single targets (one alpha each) on the same centers: weights and
    fitted values side by side; the effective dof is the targets' mean; the solver facts the worst case."""
    first = sols[0]
    info = dict(first.info)
    if "iterations" in info:
        info["iterations"] = max(s.info["iterations"] for s in sols)
        info["residual"] = max(s.info["residual"] for s in sols)
        info["converged"] = all(s.info["converged"] for s in sols)
    if any("dof_stderr" in s.info for s in sols):  # of the targets' mean
        info["dof_stderr"] = float(np.sqrt(sum(s.info.get("dof_stderr", 0.0) ** 2 for s in sols)) / len(sols))
    return dataclasses.replace(
        first,
        dual_coef=np.hstack([s.dual_coef for s in sols]),
        coef=None if first.coef is None else np.hstack([s.coef for s in sols]),
        fitted=np.hstack([s.fitted for s in sols]),
        effective_dof=float(np.mean([s.effective_dof for s in sols])),
        dof_exact=all(s.dof_exact for s in sols),
        solver=next((s.solver for s in sols if s.solver != first.solver), first.solver),  # (a fallback's, if any)
        dtype="float64" if any(s.dtype == "float64" for s in sols) else first.dtype,
        fallbacks=[f for s in sols for f in s.fallbacks],
        info=info,
    )


# the factor's entries in a model file: (record key, factor key)
FACTOR_ENTRIES = (
    ("factor_L", "L"),
    ("factor_scale", "scale"),
    ("factor_u", "u"),
    ("factor_T", "T"),
    ("factor_R", "R"),
)


def _factor_from_record(record: dict[str, Any]) -> dict[str, Any] | None:
    kind = record.get("factor_kind")
    if kind is None:
        return None
    factor: dict[str, Any] = {"kind": kind}
    for key, name in FACTOR_ENTRIES:
        if record.get(key) is not None:
            factor[name] = record[key]
    if record.get("factor_u_sum") is not None:
        factor["u_sum"] = float(record["factor_u_sum"])
    return factor


def _peak(solver: Any, options: Any, rows: int, d: int, t: int, itemsize: int, copies: int) -> int:
    """A fit's peak bytes beyond what is already in memory: the solver's own, plus ``copies`` copies of
    the rows (one not read yet, or a standardized copy of a caller's arrays)."""
    peak = solver.peak_bytes(n_samples=rows, n_features=d, n_targets=t, itemsize=itemsize, options=options)
    return peak + copies * 8 * rows * (d + t)


def _sample_advice(need: Any, n: int, available: int) -> str:
    """What to do when ``need(n)`` bytes do not fit: the largest row count that does."""
    lo, hi = 0, n
    while lo < hi:  # largest rows with need(rows) <= available
        mid = (lo + hi + 1) // 2
        if need(mid) <= available:
            lo = mid
        else:
            hi = mid - 1
    if lo < 2:
        return "even 2 rows would not fit; free memory or raise KRR_MEMORY_LIMIT"
    return f"fit on a random sample of at most {lo:,} rows, or on a machine with more memory"
