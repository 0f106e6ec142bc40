"""Solvers for kernel ridge regression: one contract, one registry, one fallback policy.

- :mod:`.base`: the contract (:class:`Solver`, :class:`SolverOptions`, :class:`Solution`),
  the registry (:func:`register`, :func:`get_solver`) and ``"auto"`` (:func:`resolve_solver`);
- :mod:`.direct`: the exact solvers (cholesky, eigh, primal);
- :mod:`.fallback`: what happens when a solver fails (float32 -> float64, cholesky -> eigh);
- :mod:`.lapack64`: 64-bit-integer BLAS/LAPACK for matrices of 2 GiB and more, and the one
  statement of SciPy's LAPACK limit.

Adding a solver is one module that subclasses :class:`Solver` and calls :func:`register`.
"""

from __future__ import annotations

from ..errors import KrrWarning
from . import direct, nystrom  # noqa: F401  (they register cholesky, eigh, primal and nystrom)
from .base import (
    SOLVERS,
    Float32Inadequate,
    NotPositiveDefinite,
    Solution,
    Solver,
    SolverFailed,
    SolverOptions,
    get_solver,
    register,
    resolve_solver,
    solver_names,
)
from .fallback import solve

__all__ = [
    "SOLVERS",
    "Float32Inadequate",
    "KrrWarning",
    "NotPositiveDefinite",
    "Solution",
    "Solver",
    "SolverFailed",
    "SolverOptions",
    "get_solver",
    "register",
    "resolve_solver",
    "solver_names",
    "solve",
]
