"""An unpenalized intercept, for every solver, from one more target column of ones.

Minimize ``sum_i w_i (y_i - f(x_i) - b)^2 + alpha ||f||^2`` over f and the constant b (w = 1 unweighted).
For a fixed b the best f is the solver's solution for the targets ``y - b 1``, which is linear in them:
``u - b v`` with u the solution for y and v the solution for a column of ones. So the solver runs once on
``[Y, 1]`` (the same factorization or the same CG iterations serve both), and with the fitted values
``F_y = f_u(x_i)`` and ``F_1 = f_v(x_i)`` the best b (where the weighted residuals sum to zero) is

    b = sum_i w_i (y_i - F_y,i) / sum_i w_i (1 - F_1,i)

the weights ``u - b v``, the fitted values ``F_y + b (1 - F_1)``, and the smoother gains the trace

    dof = dof_f + sum_i w_i (1 - F_1,i)^2 / sum_i w_i (1 - F_1,i)

(``W S`` is symmetric for every solver's smoother S, so ``w^T S x = (w * F_1)^T x``). When the kernel fits a
constant exactly (``F_1 = 1``: alpha 0, or nothing left to shrink) b is not determined, and that is said.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import DataError
from .base import Solution


def with_ones(Y: np.ndarray) -> np.ndarray:
    """``[Y, 1]``: the targets with a column of ones after them."""
    return np.column_stack([Y, np.ones(Y.shape[0])])


def split_intercept(sol: Solution, Y: np.ndarray, weights: np.ndarray | None) -> tuple[Solution, np.ndarray]:
    """The solution for ``Y`` with an intercept, from the solver's ``sol`` for ``[Y, 1]``; and the intercept
    (one per target). ``sol.fitted`` is needed (not the training scores of a cluster's rows)."""
    if sol.fitted is None:
        raise DataError("the intercept needs the fitted values, which a cluster's rows do not return")
    w = np.ones(Y.shape[0]) if weights is None else weights
    F, F1 = sol.fitted[:, :-1], sol.fitted[:, -1]
    gap = 1.0 - F1
    denom = float(w @ gap)
    if not denom > 1e-10 * float(w.sum()):  # (NaN included)
        raise DataError(
            "the intercept is not determined: the kernel fits a constant exactly at this alpha "
            f"(the residuals of a column of ones sum to {denom:.2g}); use a larger alpha, or no intercept"
        )
    b = (w @ (Y - F)) / denom  # (t,)
    dual = sol.dual_coef[:, :-1] - np.outer(sol.dual_coef[:, -1], b)
    coef = None if sol.coef is None else sol.coef[:, :-1] - np.outer(sol.coef[:, -1], b)
    fitted = F + np.outer(gap, b)
    dof = sol.effective_dof + float(w @ gap**2) / denom
    factor = sol.factor
    if factor is not None and factor.get("kind") == "nystrom":
        # the constant's term of the nystrom posterior (krrcli/uncertainty.py) needs u = A^-1 K_Mn W 1, the ones
        # column's weights, and sum w - (K_Mn W 1)^T u = sum w (1 - F_1) = denom
        factor = {**factor, "u": np.ascontiguousarray(sol.dual_coef[:, -1]), "u_sum": denom}
    sol = dataclasses.replace(sol, dual_coef=dual, coef=coef, fitted=fitted, effective_dof=dof, factor=factor)
    return sol, b
