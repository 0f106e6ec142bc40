"""The solver contract and its registry.

A solver is one object: its ``name``, an options dataclass (its own parameters,
with defaults and validation), what it applies to (kernels, precisions, whether
it keeps primal weights), an estimate of its peak memory, and
``fit(X, Y, alpha=, kernel=, options=, dtype=) -> Solution``. Registering it
(:func:`register`) is all it takes to be accepted by ``KernelRidge(solver=...)``
and ``krr fit --solver``, checked by the memory preflight, accepted in model
files and run by the contract tests (``tests/test_solvers.py``).

A solver reports the failures it knows how to describe (:class:`NotPositiveDefinite`,
:class:`Float32Inadequate`); what to do about them is the fallback policy's
business (:mod:`.fallback`), not the solver's.

This module imports no SciPy: reading a model file needs the names, not the numerics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import UsageError

if TYPE_CHECKING:
    import numpy as np

    from ..kernels import KernelSpec


@dataclass
class Solution:
    """What a solver found, and what really happened.

    centers : ndarray of shape (n_centers, n_features)
        The rows the model predicts from (for the exact solvers, the training rows).
    dual_coef : ndarray of shape (n_centers, n_targets)
    coef : ndarray of shape (n_features, n_targets) or None
        Primal weights, when the solver has them (linear kernel); predictions
        are then ``X @ coef``.
    fitted : ndarray of shape (n_samples, n_targets) or None
        Predictions on the training rows (None when they stay where the rows are: on a cluster).
    effective_dof : float
        ``tr(K (K + alpha I)^-1)``.
    dof_exact : bool
        False when ``effective_dof`` is a stochastic estimate.
    solver : str
        The method that produced the solution (after any fallback).
    dtype : str
        The precision the solution was computed in (after any fallback).
    n_samples : int
        The number of training rows.
    fallbacks : list of str
        What the fallback policy changed, and why, in order.
    info : dict
        Solver-specific facts (iterations, residuals), for the model file and the report.
    train_scores : dict or None
        The training scores, when ``fitted`` is None (computed where the rows are).
    factor : dict or None
        When asked (``keep_factor``): the factorization the posterior variance needs (see
        :mod:`krrcli.uncertainty`): ``{"kind": "cholesky", "L", "scale"}`` or ``{"kind": "nystrom", "T", "R"}``.
    """

    centers: np.ndarray
    dual_coef: np.ndarray
    coef: np.ndarray | None
    fitted: np.ndarray | None
    effective_dof: float
    dof_exact: bool
    solver: str
    dtype: str = "float64"
    n_samples: int = 0
    fallbacks: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    train_scores: dict[str, float] | None = None
    factor: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.n_samples:
            self.n_samples = int(self.fitted.shape[0])  # type: ignore[union-attr]


class SolverFailed(Exception):
    """A solver could not produce a trustworthy solution; ``reason`` says why, for a warning."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotPositiveDefinite(SolverFailed):
    """``K + alpha I`` is not positive definite to working precision (a Cholesky factorization failed)."""


class Float32Inadequate(SolverFailed):
    """Single precision was not enough: its factorization failed or its residual is too large."""


@dataclass(frozen=True)
class SolverOptions:
    """A solver's own parameters. The exact solvers have none; others subclass this."""

    def validate(self) -> None:
        """Raise :class:`~krrcli.errors.UsageError` for a value outside its domain."""


class Solver:
    """One way to solve kernel ridge regression. Subclasses set the class attributes and implement
    :meth:`peak_bytes` and :meth:`fit`."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    options_class: ClassVar[type[SolverOptions]] = SolverOptions
    # precisions it computes in; a request for another is served in float64
    precisions: ClassVar[tuple[str, ...]] = ("float64",)
    # kernels it serves (None: every kernel)
    kernels: ClassVar[tuple[str, ...] | None] = None
    # whether its models predict with primal weights (``coef``) rather than the centers
    primal: ClassVar[bool] = False
    # whether the centers it keeps are all the training rows (the exact solvers), or fewer
    centers_are_rows: ClassVar[bool] = True
    # whether ``fit`` takes sample weights (``weights=``, positive, one per row)
    weighted: ClassVar[bool] = False
    # whether ``fit(keep_factor=True)`` returns the factorization for the posterior variance (Solution.factor)
    keeps_factor: ClassVar[bool] = False

    def check(self, *, kernel: str, alpha: float) -> None:
        """Raise :class:`UsageError` when this solver cannot serve ``kernel`` and ``alpha``."""
        if self.kernels is not None and kernel not in self.kernels:
            raise UsageError(f"the {self.name} solver needs kernel={self.kernels[0]!r}")

    def auto_rank(self, *, kernel: str, n_samples: int, n_features: int, alpha: float) -> int | None:
        """How much ``solver="auto"`` prefers this solver here (higher wins; None: never chosen by auto)."""
        return None

    def peak_bytes(
        self, *, n_samples: int, n_features: int, n_targets: int, itemsize: int, options: SolverOptions
    ) -> int:
        """Bytes the solver holds at its peak beyond its inputs (the preflight refuses work that would not fit)."""
        raise NotImplementedError

    def memory_note(self, *, n_samples: int, itemsize: int, options: SolverOptions) -> str:
        """What the preflight's message says the memory is for."""
        from ..resources import format_bytes

        n = n_samples
        return f"a {n:,} x {n:,} kernel matrix, {format_bytes(itemsize * n * n)}"

    def fit(
        self, X: np.ndarray, Y: np.ndarray, *, alpha: float, kernel: KernelSpec, options: SolverOptions, dtype: str
    ) -> Solution:
        """Solve on rows ``X`` of shape (n_samples, n_features) and targets ``Y`` of shape (n_samples, n_targets).
        A ``weighted`` solver also takes ``weights=`` (ndarray of shape (n_samples,), all > 0, or None):
        it then minimizes ``sum_i w_i (y_i - f(x_i))^2 + alpha ||f||^2`` and its ``fitted`` are f(x_i)."""
        raise NotImplementedError

    def make_options(self, options: SolverOptions | dict[str, Any] | None) -> SolverOptions:
        """The solver's options from an options object, a dict of its fields, or None (the defaults)."""
        if options is None:
            options = self.options_class()
        elif isinstance(options, dict):
            try:
                options = self.options_class(**options)
            except TypeError as exc:
                raise UsageError(f"bad options for the {self.name} solver: {exc}") from None
        elif not isinstance(options, self.options_class):
            raise UsageError(
                f"the {self.name} solver takes {self.options_class.__name__}, not {type(options).__name__}"
            )
        options.validate()
        return options


SOLVERS: dict[str, Solver] = {}


def register(solver: Solver) -> Solver:
    """Add ``solver`` to the registry under its name (returned, so a module can keep it)."""
    if solver.name == "auto" or not solver.name.isidentifier():
        raise ValueError(f"a solver cannot be named {solver.name!r}")
    SOLVERS[solver.name] = solver
    return solver


def solver_names() -> list[str]:
    """The names of the registered solvers, in registration order."""
    return list(SOLVERS)


def get_solver(name: str) -> Solver:
    """The registered solver ``name``; a :class:`UsageError` listing the choices otherwise."""
    try:
        return SOLVERS[name]
    except (KeyError, TypeError):
        raise UsageError(f"unknown solver {name!r}; choose one of: auto, {', '.join(SOLVERS)}") from None


def resolve_solver(name: str, *, kernel: str, n_samples: int, n_features: int, alpha: float) -> str:
    """Turn ``"auto"`` into a concrete solver name (the registered solver that ranks highest for
    this problem); check that an explicit name exists and serves this kernel."""
    if name == "auto":
        ranked = []
        for solver in SOLVERS.values():
            rank = solver.auto_rank(kernel=kernel, n_samples=n_samples, n_features=n_features, alpha=alpha)
            if rank is not None:
                ranked.append((rank, solver.name))
        return max(ranked)[1]
    solver = get_solver(name)
    solver.check(kernel=kernel, alpha=alpha)
    return solver.name
