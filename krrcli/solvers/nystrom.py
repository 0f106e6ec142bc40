"""Nyström kernel ridge regression, solved by Falkon's preconditioned conjugate gradient.

The model keeps M centers ``C`` (training rows drawn uniformly without replacement) and
minimizes ``||y - K_nM b||^2 + alpha b^T K_MM b``; with M = n it is exact KRR, and with the
same centers it is scikit-learn's ``make_pipeline(Nystroem(...), Ridge(alpha, fit_intercept=False))``.

The normal equations ``(K_Mn K_nM + alpha K_MM) b = K_Mn y`` are solved as Falkon does
(Rudi, Carratino & Rosasco, 2017), with ``lambda = alpha / n``:

    T = chol(K_MM + jitter I)              (upper: T^T T = K_MM)
    A = chol(T T^T / M + lambda I)         (upper)
    b = T^-1 A^-1 beta / sqrt(n),  where beta solves the preconditioned system
    A^-T [ T^-T K_Mn K_nM T^-1 / n + lambda I ] A^-1 beta = A^-T T^-T K_Mn y / sqrt(n)

by conjugate gradient. Each iteration is one pass over the rows computing
``K_bM^T (K_bM v)`` block by block, so ``K_nM`` is never stored unless it fits
``KNM_CACHE_BYTES``. Only M x M matrices and one block live at a time.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import progress
from ..errors import KrrWarning, UsageError
from ..execution import add_sums, executor
from ..kernels import KernelMap, KernelSpec, NonFiniteKernel
from .base import Float32Inadequate, Solution, Solver, SolverOptions, register

# The default number of centers: min(n, max(1000, 10 sqrt(n))), and at most this many
# (a few M x M float64 matrices: 5 of 20,000 x 20,000 are 16 GB).
MAX_DEFAULT_CENTERS = 10_000
# K_nM is kept in memory between iterations when it takes at most this many bytes
# (each iteration is then two products instead of rebuilding the kernel blocks).
KNM_CACHE_BYTES = 2**30
# Rows per block when K_nM is not kept: a block of K_bM of about this many bytes for K_Mn K_nM
# (a product over the block's rows, faster on big blocks), ...
BLOCK_BYTES = 32 * 2**20
# ... and of this many for the passes K_Mn (K_nM v), whose block stays in cache between the kernel,
# its exponential and the two products: measured at n = 200,000, M = 2,000, rbf, a pass took
# 0.82-0.87 s with blocks of 0.5-1 MiB against 1.27 s with 32 MiB blocks. Those blocks are shared
# by the executor among the cores (each with BLAS on one thread: 0.42 s a pass, against 0.75 s on
# one thread with a 2-thread BLAS and 1.05 s on two threads each calling a 2-thread BLAS).
PASS_BLOCK_BYTES = 2**20
# The exact effective degrees of freedom need K_Mn K_nM (n M^2 flops when not at hand) and two M x M
# eigendecompositions: computed when K_Mn K_nM is at hand (the normal equations' pass) or n M^2 is at
# most this, on the directions of K_MM whose eigenvalue is above DOF_EIGEN_CUTOFF times the largest.
# Beyond it they are Hutchinson's estimate (below), the cheaper where measured: n = 20,000, M = 2,000,
# alpha 1, a kept K_nM, the fit itself 1.3 s: exact 2.2 s more (0.6 s for K_Mn K_nM, 1.6 s for the
# eigendecompositions), the estimate 1.1 s more. Its CG is as slow as the fit's at small alpha
# (alpha 1e-3: 16 s), so there the fit's report costs about what the fit does.
DOF_EXACT_MAX_FLOPS = 2e10
# When K_nM is not kept (each CG iteration rebuilds it from the rows), CG starts from the solution of
# the whitened normal equations, one pass computing K_Mn K_nM and K_Mn y, when M is at most this.
# Measured on 2 cores (rbf, d = 10, n = 400,000, tolerance 1e-6, passes on both cores): that pass costs
# about as much as 12 streamed CG iterations at M = 1,000 and 19 at M = 2,000, while CG from zero needs
# 75-200 of them (M = 1,000: 106 iterations, 46.5 s, against 5.2 s from the normal equations;
# M = 2,000: 75 iterations, 74.2 s, against 20.0 s). The pass K_Mn K_nM itself stays on one thread
# of krr's (big blocks, BLAS's symmetric product on every core): it is the product's cost, not the
# exponential's (n = 200,000, M = 2,000: 7.7 s so, 8.0 s split over two threads). A kept K_nM makes an
# iteration two reads of it instead, and CG from zero is as fast or faster (n = 20,000, M = 2,000:
# 2.3 s from zero against 6.0 s with the normal equations and the exact dof they allow). The normal
# equations square the condition number, so at small alpha their solution can miss the tolerance:
# CG's first residual over the rows is the check, and CG goes on from there.
NORMAL_EQ_MAX_CENTERS = 10_000
# CG on the normal equations' M x M matrix (no passes) refines their solution first, to a tenth of the
# tolerance in at most this many iterations; the passes over the rows then check it (and go on if needed).
INNER_MAX_ITER = 2000
DOF_EIGEN_CUTOFF = 1e-10
# float32: CG's tolerance is at least FLOAT32_TOL (single-precision products cannot resolve less), and
# a true residual (measured in float64) above FLOAT32_MAX_RESIDUAL has the fit redone in float64.
FLOAT32_TOL = 1e-4
FLOAT32_MAX_RESIDUAL = 1e-3


def beyond_exact(n: int, exact_need: int, max_rows: int, n_centers: int, what: str, slow: str) -> bool:
    """``auto``'s rule, for fit and cv alike: True (said in one warning line) when the exact ``what`` needs
    more memory than is available or the rows are more than ``max_rows`` (``slow`` says what that costs)."""
    from ..resources import available_memory, format_bytes

    available = available_memory()
    too_big = available is not None and exact_need > available
    if not too_big and n <= max_rows:
        return False
    why = f"{what} needs {format_bytes(exact_need)}" if too_big else f"{what} {slow} (more than {max_rows:,} rows)"
    warnings.warn(f"{n:,} rows: {why}; using nystrom with {n_centers:,} centers", KrrWarning, stacklevel=4)
    return True


def default_centers(n_samples: int) -> int:
    """The documented rule: ``min(n, max(1000, round(10 sqrt(n))), MAX_DEFAULT_CENTERS)``."""
    return min(n_samples, max(1000, round(10 * math.sqrt(n_samples))), MAX_DEFAULT_CENTERS)


# The default tolerance, 1e-6 relative residual of the preconditioned system: measured at n = 100,000,
# M = 1,000, the test rmse at 1.2e-5 is within 3e-6 (relative) of the converged one. Below about 1e-7
# the residual itself is rounding: with a nearly singular K_MM (a smooth kernel, many centers) the
# whitened system carries that much error in float64 (n = 300,000, M = 2,000: the normal equations'
# solution had a true residual of 1.5e-7, which 17 more iterations did not lower).


@dataclass(frozen=True)
class NystromOptions(SolverOptions):
    """n_centers: M (None: :func:`default_centers`); seed: of the center sample; tol: relative residual
    of the preconditioned system at which CG stops; max_iter: at most this many CG iterations."""

    n_centers: int | None = None
    seed: int = 0
    tol: float = 1e-6
    max_iter: int = 200

    def validate(self) -> None:
        if self.n_centers is not None and (type(self.n_centers) is not int or self.n_centers < 1):
            raise UsageError(f"--centers must be an integer >= 1, got {self.n_centers!r}")
        if type(self.seed) is not int or self.seed < 0:
            raise UsageError(f"--seed must be >= 0, got {self.seed!r}")
        if not (isinstance(self.tol, (int, float)) and 0 < self.tol < 1):
            raise UsageError(f"--tol must be between 0 and 1 (exclusive), got {self.tol!r}")
        if type(self.max_iter) is not int or self.max_iter < 1:
            raise UsageError(f"--max-iter must be an integer >= 1, got {self.max_iter!r}")


def _triangular(U: np.ndarray, B: np.ndarray, trans: bool) -> np.ndarray:
    from scipy.linalg import solve_triangular

    return solve_triangular(U, B, lower=False, trans="T" if trans else "N", check_finite=False)


def _cholesky_upper(S: np.ndarray, what: str) -> np.ndarray:
    from scipy import linalg

    try:
        return linalg.cholesky(S, lower=False, check_finite=False)
    except linalg.LinAlgError:
        raise UsageError(f"the {what} is not positive definite; use a larger alpha or fewer centers") from None


# The products of a pass over the rows, each a function of one block: ``K_bM`` (float64), the block's
# targets ``Y_b``, its first row's index ``a`` in the whole training set, and one argument. The local
# passes and a cluster's partitions call the same functions, so each product is written once.
def op_KtK(Kb: np.ndarray, Yb: np.ndarray, a: int, V: np.ndarray) -> tuple[np.ndarray, ...]:
    """``K_Mb K_bM V``."""
    return (Kb.T @ (Kb @ V),)


def op_KtK_and_KtY(Kb: np.ndarray, Yb: np.ndarray, a: int, V: np.ndarray) -> tuple[np.ndarray, ...]:
    """``(K_Mb K_bM V, K_Mb Y_b)``."""
    return Kb.T @ (Kb @ V), Kb.T @ Yb


def op_KtY(Kb: np.ndarray, Yb: np.ndarray, a: int, _: object) -> tuple[np.ndarray, ...]:
    """``K_Mb Y_b``."""
    return (Kb.T @ Yb,)


def op_gram(Kb: np.ndarray, Yb: np.ndarray, a: int, with_y: bool) -> tuple[np.ndarray, ...]:
    """``K_Mb K_bM`` (and ``K_Mb Y_b``)."""
    return (Kb.T @ Kb, Kb.T @ Yb) if with_y else (Kb.T @ Kb,)


def op_probes(Kb: np.ndarray, Yb: np.ndarray, a: int, seed: int) -> tuple[np.ndarray, ...]:
    """``K_Mb Z_b`` for the dof's Rademacher probes ``Z_b``, drawn from a generator seeded by the block's
    first row: the same probes however the rows are split among threads (see ``DOF_PROBES``)."""
    rng = np.random.default_rng([seed, a])
    Z = rng.integers(0, 2, size=(Kb.shape[0], DOF_PROBES)).astype(np.float64) * 2.0 - 1.0
    return (Kb.T @ Z,)


class _Products:
    """The passes over rows held in this process: ``v -> K_Mn (K_nM v)`` and the other products, a block
    at a time (or from a kept K_nM). A cluster's partitions implement the same calls
    (:class:`krrcli.data.partitions.PartitionProducts`)."""

    carries_fitted = True  # KtKv gives the fitted values K_nM v too

    def __init__(
        self, X: np.ndarray, Y: np.ndarray, kmap: KernelMap, keep: bool = True, scale: np.ndarray | None = None
    ) -> None:
        # scale: sqrt of the sample weights; every block of K_nM is then S K_bM (see LocalRows)
        self.X, self.Y, self.kmap, self.scale = X, Y, kmap, scale
        n, M = X.shape[0], kmap.n_centers
        size = kmap.dtype.itemsize  # the kernel's values in the kernel map's precision
        self.step = max(1, BLOCK_BYTES // (size * M))
        self.pass_step = max(1, PASS_BLOCK_BYTES // (size * M))
        self.K = None
        if keep and size * n * M <= KNM_CACHE_BYTES:
            self.K = np.empty((n, M), dtype=kmap.dtype)
            lock, done = threading.Lock(), [0]
            with progress.task("nystrom: K_nM", total=n) as bar:

                def fill(a: int, b: int) -> None:
                    self._block(a, X[a:b], out=self.K[a:b])  # type: ignore[index]
                    with lock:
                        done[0] += b - a
                        bar.update(done[0], f"{done[0]:,} of {n:,} rows")

                executor().map_blocks(n, self.pass_step, fill)

    @property
    def kept(self) -> bool:
        return self.K is not None

    def _block(self, a: int, rows: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``K(rows, C)`` for the rows from row ``a`` on, times their weights' square roots if weighted."""
        Kb = self.kmap.block(rows, out=out)
        if self.scale is not None:
            Kb *= self.scale[a : a + rows.shape[0], None].astype(Kb.dtype, copy=False)
        return Kb

    def blocks(self):
        """``(start, K_bM)`` over the rows in big blocks, in float64 (a float32 block, or kept K_nM, is
        widened for the products: single precision only rounds the kernel's values, every sum is float64)."""
        step = self.step
        if self.K is not None:
            if self.K.dtype == np.float64:
                yield 0, self.K
                return
            for a in range(0, self.K.shape[0], step):
                yield a, self.K[a : a + step].astype(np.float64)
            return
        buf = np.empty((min(step, self.X.shape[0]), self.kmap.n_centers), dtype=self.kmap.dtype)
        for a in range(0, self.X.shape[0], step):
            rows = self.X[a : a + step]
            Kb = self._block(a, rows, out=buf[: rows.shape[0]])
            yield a, Kb if Kb.dtype == np.float64 else Kb.astype(np.float64)

    def sum_blocks(
        self, op: Callable[..., tuple[np.ndarray, ...]], arg: object, big: bool = False, label: str = ""
    ) -> tuple[np.ndarray, ...]:
        """The sum over the rows' blocks of ``op(K_bM, Y_b, a, arg)`` (``K_bM`` in float64): one call on a
        kept float64 K_nM (BLAS uses every core), else blocks small enough to stay in cache, computed and
        reduced by the executor on every core (kernel, exponential and products alike). With ``big``, for
        an ``op`` whose sums are M x M (a block's products cost more than adding them): blocks of
        ``BLOCK_BYTES`` one after another, BLAS on every core, with a progress bar named ``label``."""
        Y = self.Y
        if big:
            n = self.X.shape[0]
            total: tuple[np.ndarray, ...] | None = None
            with progress.task(label or "nystrom: pass", total=n) as bar:
                for a, Kb in self.blocks():
                    total = add_sums(total, op(Kb, Y[a : a + Kb.shape[0]], a, arg))
                    bar.update(a + Kb.shape[0], f"{a + Kb.shape[0]:,} of {n:,} rows")
            assert total is not None
            return total
        if self.K is not None and self.K.dtype == np.float64:
            return op(self.K, Y, 0, arg)
        M, step, dtype = self.kmap.n_centers, self.pass_step, self.kmap.dtype

        def work(a: int, b: int, scratch: dict) -> tuple[np.ndarray, ...]:
            if self.K is not None:
                Kb = self.K[a:b].astype(np.float64)
            else:
                if "K" not in scratch:
                    scratch["K"] = np.empty((step, M), dtype=dtype)
                Kb = self._block(a, self.X[a:b], out=scratch["K"][: b - a])
                if Kb.dtype != np.float64:
                    Kb = Kb.astype(np.float64)
            return op(Kb, Y[a:b], a, arg)

        return executor().sum_blocks(self.X.shape[0], step, work)

    def KtKv(self, V: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(K_Mn K_nM V, K_nM V)``: one pass over the rows."""
        KV = np.empty((self.X.shape[0], V.shape[1]))

        def part(Kb: np.ndarray, Yb: np.ndarray, a: int, _: object) -> tuple[np.ndarray, ...]:
            return (Kb.T @ np.matmul(Kb, V, out=KV[a : a + Kb.shape[0]]),)

        return self.sum_blocks(part, None)[0], KV

    def KtK(self, V: np.ndarray) -> np.ndarray:
        """``K_Mn K_nM V``: one pass over the rows. (A float32 copy of a kept K_nM for the dof's 16
        probes was measured not to pay in a fresh process: its first touch of new memory cost 0.57 s
        at n = 20,000, M = 2,000, more than the seven products it made faster.)"""
        return self.sum_blocks(op_KtK, V)[0]

    def KtKv_and_KtY(self, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(K_Mn K_nM V, K_Mn Y)`` in one pass over the rows."""
        KtKv, KtY = self.sum_blocks(op_KtK_and_KtY, V)
        return KtKv, KtY

    def KtY(self) -> np.ndarray:
        return self.sum_blocks(op_KtY, None)[0]

    def K_times(self, B: np.ndarray) -> np.ndarray:
        out = np.empty((self.X.shape[0], B.shape[1]))

        def part(Kb: np.ndarray, Yb: np.ndarray, a: int, _: object) -> tuple[np.ndarray, ...]:
            np.matmul(Kb, B, out=out[a : a + Kb.shape[0]])
            return ()

        self.sum_blocks(part, None)
        return out

    def gram(self, with_y: bool = False) -> tuple[np.ndarray, ...]:
        """``(K_Mn K_nM,)``, or ``(K_Mn K_nM, K_Mn Y)`` in the same pass."""
        return self.sum_blocks(op_gram, with_y, big=True, label="nystrom: K_Mn K_nM")


def _normal_equations(G: np.ndarray, KtY: np.ndarray, T: np.ndarray, alpha: float) -> np.ndarray | None:
    """``(K_Mn K_nM + alpha K_MM) b = K_Mn y`` whitened by ``K_MM = T^T T``; None if that system is not
    positive definite to working precision."""
    M = G.shape[0]
    Gw = _triangular(T, _triangular(T, G, trans=True).T, trans=True)
    Gw = (Gw + Gw.T) / 2
    Gw.flat[:: M + 1] += alpha
    try:
        U = _cholesky_upper(Gw, "whitened system")
    except UsageError:
        return None
    c = _triangular(U, _triangular(U, _triangular(T, KtY, trans=True), trans=True), trans=False)
    return _triangular(T, c, trans=False)


def conjugate_gradient(
    apply: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray | None]],
    rhs: np.ndarray,
    x: np.ndarray,
    r: np.ndarray,
    carry: np.ndarray | None,
    tol: float,
    max_iter: int,
    report: Callable[[int, float], None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None, int, float]:
    """Solve ``W x = rhs`` (W symmetric positive definite, one system per column) from ``x`` with residual
    ``r = rhs - W x``; ``apply(p)`` gives ``(W p, side)`` where ``side`` is linear in ``p`` (or None), and
    ``carry`` follows x: it gets ``a side`` whenever x gets ``a p``. Stops when every column's
    ``||r|| / ||rhs||`` is at most ``tol``, or after ``max_iter`` iterations; returns
    ``(x, carry, iterations, largest relative residual)``."""
    # r = rhs - W x; p = r; repeat: a = r.r / p.Wp; x += a p; r -= a Wp; p = r + (r.r / old r.r) p
    x, r = x.copy(), r.copy()
    p = r.copy()
    rr = np.sum(r * r, axis=0)
    norm_rhs = np.sqrt(np.sum(rhs * rhs, axis=0))
    norm_rhs[norm_rhs == 0] = 1.0
    it = 0
    residual = float(np.max(np.sqrt(rr) / norm_rhs))
    if report:
        report(it, residual)
    while residual > tol and it < max_iter:
        Wp, side = apply(p)
        pWp = np.sum(p * Wp, axis=0)
        step = np.where(pWp > 0, rr / np.where(pWp > 0, pWp, 1.0), 0.0)
        x += step * p
        if carry is not None and side is not None:
            carry += step * side
        r -= step * Wp
        rr_new = np.sum(r * r, axis=0)
        p = r + (rr_new / np.where(rr > 0, rr, 1.0)) * p
        rr = rr_new
        it += 1
        residual = float(np.max(np.sqrt(rr) / norm_rhs))
        if report:
            report(it, residual)
    return x, carry, it, residual


# tr(K_nM (K_Mn K_nM + alpha K_MM)^-1 K_Mn) = sum s / (s + alpha), s the eigenvalues of P^T K_Mn K_nM P with
# P = U e^-1/2 on the directions of K_MM = U diag(e) U^T above rounding (a rank-deficient K_MM, as the
# linear kernel's, is handled; no ill-conditioned solve). One place: the fit's report and cv's use it.
def effective_dof(K_MM: np.ndarray, G: np.ndarray, alphas: np.ndarray) -> np.ndarray:
    """The Nystrom smoother's effective degrees of freedom for each alpha, from ``K_MM`` and ``G = K_Mn K_nM``."""
    from scipy import linalg

    e, U = linalg.eigh(K_MM, check_finite=False, driver="evd")  # divide and conquer: 0.65 s at M = 2,000, not 0.98
    keep = e > DOF_EIGEN_CUTOFF * max(float(e[-1]), np.finfo(float).tiny)
    P = U[:, keep] / np.sqrt(e[keep])
    s = np.clip(linalg.eigvalsh(P.T @ G @ P, check_finite=False), 0.0, None)
    return np.sum(s[:, None] / (s[:, None] + np.asarray(alphas)[None, :]), axis=0)


# Beyond DOF_EXACT_MAX_FLOPS, with no K_Mn K_nM at hand, the effective degrees of freedom are Hutchinson's
# estimate tr(S) = E[z^T S z], z Rademacher in R^n, of the smoother S = K_nM Q W^-1 Q^T K_Mn (Q the fit's
# preconditioner T^-1 A^-1 / sqrt(n), W = Q^T (K_Mn K_nM + alpha K_MM) Q its preconditioned system):
# one pass gives U = Q^T K_Mn Z for DOF_PROBES probes at once, CG solves W X = U (every probe a column,
# to DOF_PROBE_TOL), and z^T S z = u^T x. Measured at n = 20,000, M = 2,000 against a solve to 1e-6:
# 1e-2 moves the estimate by 0.02, 0.3 and 0.08 (dof 469, 1965, 1989; standard errors 4-9) at a third
# of the cost; 1e-1 by 4, 31 and 10 (biased low: not used). S's eigenvalues are in
# [0, 1], so the standard error is at most sqrt(2 dof / DOF_PROBES); the report gives the probes' own.
# 16 probes: at n = 20,000, M = 2,000 (dof 476) 32 probes took 1.5 s of a 3.4 s fit on 2 cores for a
# standard error of about 4; 16 take 1.2 s of 2.3 s (float64 products) for about 6 (1.3% of the dof),
# enough for a figure that says how flexible the fit is.
DOF_PROBES = 16
DOF_PROBE_TOL = 1e-2


def _hutchinson_dof(
    prod: _Products,
    whiten: Callable[[np.ndarray], np.ndarray],
    operator: Callable[..., tuple[np.ndarray, np.ndarray | None]],
    seed: int,
    max_iter: int,
) -> tuple[float, float]:
    """``(estimate, standard error)`` of the Nystrom smoother's trace (see ``DOF_PROBES``); each block's
    probes come from its own seeded generator (``op_probes``)."""

    U = whiten(prod.sum_blocks(op_probes, seed)[0])
    X, _, _, _ = conjugate_gradient(
        lambda p: operator(p, fitted=False), U, np.zeros_like(U), U, None, DOF_PROBE_TOL, max_iter
    )
    quad = np.sum(U * X, axis=0)
    return float(np.mean(quad)), float(np.std(quad, ddof=1) / math.sqrt(DOF_PROBES))


def center_jitter(K_MM: np.ndarray) -> float:
    """What is added to K_MM's diagonal before its Cholesky factorization: ``M eps max(1, max |K_ii|)``.
    The fit's penalty is then ``alpha (K_MM + jitter I)``; cv uses the same."""
    return K_MM.shape[0] * np.finfo(float).eps * max(1.0, float(np.max(np.abs(np.diag(K_MM)))))


def center_rows(n_samples: int, n_centers: int, seed: int) -> np.ndarray:
    """The rows that serve as centers: ``n_centers`` of ``n_samples``, uniformly without replacement, sorted."""
    if n_centers == n_samples:
        return np.arange(n_samples)
    return np.sort(np.random.default_rng(seed).choice(n_samples, n_centers, replace=False))


# Sample weights w (all > 0): minimize sum_i w_i (y_i - K_iM b)^2 + alpha b^T K_MM b, which is the unweighted
# problem of the rows S K_nM and targets S y, S = diag(sqrt(w)): every block of K_nM is scaled as it is made,
# y once, and the fitted values S K_nM b are divided by sqrt(w) at the end. The preconditioner's n becomes
# sum(w) (K_Mn S^2 K_nM ~ sum(w) / M K_MM^2), which changes only how fast CG converges, not the solution.
class LocalRows:
    """Training rows in this process's memory, as the nystrom solver passes over them (a cluster's
    partitions, :class:`krrcli.data.partitions.PartitionedRows`, offer the same three calls). With
    ``weights``, ``Y`` is kept as ``S y`` and the products are those of ``S K_nM`` (see above)."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, weights: np.ndarray | None = None) -> None:
        self.weights = weights
        self.scale = None if weights is None else np.sqrt(weights)
        self.X, self.Y = X, (Y if self.scale is None else Y * self.scale[:, None])
        self.n_rows, self.n_features, self.n_targets = X.shape[0], X.shape[1], Y.shape[1]
        self.weight_sum = float(X.shape[0] if weights is None else np.sum(weights))

    def take(self, index: np.ndarray) -> np.ndarray:
        """The rows of X at ``index`` (global row numbers, sorted)."""
        return self.X[index]

    def products(self, kmap: KernelMap, keep: bool = True) -> _Products:
        return _Products(self.X, self.Y, kmap, keep, self.scale)

    def subset(self, index: np.ndarray) -> LocalRows:
        """The rows at ``index`` (global row numbers, sorted)."""
        if self.scale is None:
            return LocalRows(self.X[index], self.Y[index])
        return LocalRows(self.X[index], self.Y[index] / self.scale[index, None], self.weights[index])


def solve_nystrom(
    X: np.ndarray,
    Y: np.ndarray,
    alpha: float,
    kernel: KernelSpec,
    options: NystromOptions,
    centers: np.ndarray | None = None,
    dtype: str = "float64",
    weights: np.ndarray | None = None,
) -> Solution:
    """Fit on ``X`` (n, d) and ``Y`` (n, t), rows weighted by ``weights`` (n,) if given; ``centers`` (M, d),
    when given, replace the sample of rows. See :func:`solve_rows`."""
    return solve_rows(LocalRows(X, Y, weights), alpha, kernel, options, centers, dtype)


def solve_rows(
    rows: LocalRows,
    alpha: float,
    kernel: KernelSpec,
    options: NystromOptions,
    centers: np.ndarray | None = None,
    dtype: str = "float64",
    keep_factor: bool = False,
) -> Solution:
    """Fit on the training ``rows`` (in memory, or a cluster's partitions); ``centers`` (M, d), when given,
    replace the sample of rows. With ``keep_factor`` the solution carries ``K_MM = T^T T`` and
    ``K_Mn K_nM + alpha K_MM = R^T R`` (upper factors) for the posterior variance.

    With ``dtype="float32"`` the kernel's values are computed (and a kept K_nM stored) in single
    precision, and widened to float64 for every product and sum; CG is judged against
    ``max(tol, FLOAT32_TOL)``, and one float64 pass measures the true residual: above
    ``FLOAT32_MAX_RESIDUAL`` the fit is redone in float64.
    """
    n = rows.n_rows
    M = options.n_centers if options.n_centers is not None else default_centers(n)
    if centers is None and M > n:
        raise UsageError(f"--centers {M:,} is more than the {n:,} training rows")
    rule = "given" if options.n_centers is not None else "min(n, max(1000, 10 sqrt(n)), 10,000)"
    C = np.ascontiguousarray(rows.take(center_rows(n, M, options.seed)) if centers is None else centers)
    M = C.shape[0]
    kmap = KernelMap(kernel, C, dtype)
    tol = options.tol if dtype == "float64" else max(options.tol, FLOAT32_TOL)
    K_MM = kernel.gram(C)
    jitter = center_jitter(K_MM)
    K_MM.flat[:: M + 1] += jitter
    try:
        T = _cholesky_upper(K_MM, "kernel matrix of the centers")
    except UsageError:  # an indefinite kernel (sigmoid): no Falkon preconditioner; solve directly
        K_MM.flat[:: M + 1] -= jitter
        return _solve_direct(rows, alpha, KernelMap(kernel, C), K_MM, C, rule)
    n_rows, n = n, getattr(rows, "weight_sum", n)  # (the preconditioner's n: sum(w) when weighted)
    lam = alpha / n
    S = T @ T.T / M
    S.flat[:: M + 1] += lam
    A = _cholesky_upper(S, "preconditioner")
    prod = rows.products(kmap)

    def precond_apply(beta: np.ndarray) -> np.ndarray:  # b = T^-1 A^-1 beta / sqrt(n)
        return _triangular(T, _triangular(A, beta, trans=False), trans=False) / math.sqrt(n)

    def operator(beta: np.ndarray, fitted: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """The preconditioned system's matrix times ``beta``, and (when ``fitted``) the fitted values
        ``K_nM v`` of its ``v`` (not for the dof's probes)."""
        v = precond_apply(beta)  # T^-1 A^-1 beta / sqrt(n)
        KtKv, Kv = prod.KtKv(v) if fitted else (prod.KtK(v), None)
        w = _triangular(T, KtKv, trans=True) / math.sqrt(n)  # T^-T K_Mn K_nM v / sqrt(n)
        return _triangular(A, w + lam * _triangular(A, beta, trans=False), trans=True), Kv

    G = None
    one_pass = not prod.kept and M <= NORMAL_EQ_MAX_CENTERS
    if one_pass:  # K_Mn K_nM and K_Mn y in one pass over the rows
        G, KtY = prod.gram(with_y=True)
        if not np.isfinite(G).all():
            if dtype != "float64":
                raise Float32Inadequate("the float32 kernel values are not finite")
            raise NonFiniteKernel(kernel.kernel, kernel.gamma, kernel.degree, kernel.coef0)
    else:
        KtY = prod.KtY()
    rhs = _triangular(A, _triangular(T, KtY, trans=True), trans=True) / math.sqrt(n)
    beta = np.zeros_like(rhs)
    method = "preconditioned conjugate gradient"
    if one_pass:
        # one pass: G = K_Mn K_nM, then (T^-T G T^-1 + alpha I) c = T^-T K_Mn y, b = T^-1 c; CG starts
        # from b, and stops at once when b is already within the tolerance
        start_b = _normal_equations(G, KtY, T, alpha)
        if start_b is not None:
            beta = (A @ (T @ start_b)) * math.sqrt(n)  # the CG variable of b: beta = sqrt(n) A T b
            method = "normal equations (one pass), refined by preconditioned conjugate gradient"
        else:
            method = "preconditioned conjugate gradient (the normal equations were not positive definite)"
    inner = 0
    if G is not None and np.any(beta):
        # the normal equations' solution is refined first in M x M arithmetic: the same preconditioned
        # system with G = K_Mn K_nM in place of a pass over the rows (M^2 work an iteration, not n M)
        def operator_G(p: np.ndarray) -> tuple[np.ndarray, None]:
            w = _triangular(T, G @ precond_apply(p), trans=True) / math.sqrt(n)
            return _triangular(A, w + lam * _triangular(A, p, trans=False), trans=True), None

        r0 = rhs - operator_G(beta)[0]
        beta, _, inner, _ = conjugate_gradient(operator_G, rhs, beta, r0, None, tol / 10, INNER_MAX_ITER)
        method += f" (first {inner} iterations on K_Mn K_nM, M x M)"
    # then CG with passes over the rows, from beta (zero, or the refined normal equations' solution);
    # the fitted values K_nM b follow x through the same steps (b is linear in x): f += a K_nM P p,
    # so no pass over the rows is spent on them at the end
    if np.any(beta):
        Wbeta, fitted = operator(beta)
        r = rhs - Wbeta
    else:
        r, fitted = rhs.copy(), np.zeros((n_rows, rhs.shape[1])) if prod.carries_fitted else None
    t_cg = time.perf_counter()
    with progress.task("nystrom: conjugate gradient", total=options.max_iter) as bar:

        def report(it: int, residual: float) -> None:
            bar.update(it, f"residual {residual:.1e}, tolerance {tol:g}")

        beta, fitted, it, residual = conjugate_gradient(operator, rhs, beta, r, fitted, tol, options.max_iter, report)
    cg_seconds = time.perf_counter() - t_cg
    cg_residual = residual
    if dtype != "float64":  # the true residual, in float64: one more pass (K_Mn y in the same one)
        prod64 = rows.products(KernelMap(kernel, C), keep=False)
        KtKv, KtY64 = prod64.KtKv_and_KtY(precond_apply(beta))
        rhs64 = _triangular(A, _triangular(T, KtY64, trans=True), trans=True) / math.sqrt(n)
        w = _triangular(T, KtKv, trans=True) / math.sqrt(n)
        true_r = rhs64 - _triangular(A, w + lam * _triangular(A, beta, trans=False), trans=True)
        norm64 = np.sqrt(np.sum(rhs64 * rhs64, axis=0))
        residual = float(np.max(np.sqrt(np.sum(true_r * true_r, axis=0)) / np.where(norm64 > 0, norm64, 1.0)))
        if not residual <= FLOAT32_MAX_RESIDUAL:  # (NaN included)
            raise Float32Inadequate(
                f"the float32 nystrom solve's relative residual {residual:.1e} (in float64) exceeded "
                f"{FLOAT32_MAX_RESIDUAL:g}"
            )
    converged = residual <= tol
    if not converged and dtype != "float64" and cg_residual <= tol:
        warnings.warn(
            f"float32 rounding leaves the nystrom solve a relative residual of {residual:.1e} (measured in "
            f"float64; tolerance {tol:g}); use --dtype float64 for more accuracy",
            KrrWarning,
            stacklevel=3,
        )
    elif not converged:
        warnings.warn(
            f"the nystrom solve stopped after {it} iterations at relative residual {residual:.1e} "
            f"(tolerance {tol:g}); use a larger alpha or more iterations (--max-iter)",
            KrrWarning,
            stacklevel=3,
        )
    W = precond_apply(beta)
    train = None if fitted is not None else prod.train_scores(W)  # (a cluster's: one more pass)
    if not (np.isfinite(W).all() and (fitted is None or np.isfinite(fitted).all())):  # never a NaN model
        if dtype != "float64":
            raise Float32Inadequate("the float32 kernel values are not finite")
        raise NonFiniteKernel(kernel.kernel, kernel.gamma, kernel.degree, kernel.coef0)
    dof_stderr = None
    if G is not None or n_rows * M * M <= DOF_EXACT_MAX_FLOPS:
        # tr(K_nM (K_Mn K_nM + alpha K_MM)^-1 K_Mn) = sum s / (s + alpha), s the eigenvalues of
        # P^T K_Mn K_nM P with P = U e^-1/2 on the directions of K_MM = U diag(e) U^T above rounding
        # (a rank-deficient K_MM, as the linear kernel's, is handled; no ill-conditioned solve)
        K_MM.flat[:: M + 1] -= jitter
        G = prod.gram()[0] if G is None else G
        dof = float(effective_dof(K_MM, G, np.array([alpha]))[0])
        K_MM.flat[:: M + 1] += jitter  # (the fit's penalty again, for the factor below)
        exact = dtype == "float64"  # float32 sums: close, not exact
    else:
        dof, dof_stderr = _hutchinson_dof(
            prod,
            lambda U: _triangular(A, _triangular(T, U, trans=True), trans=True) / math.sqrt(n),
            operator,
            options.seed,
            options.max_iter,
        )
        exact = False
    info = {
        "n_centers": M,
        "centers_rule": rule,
        "method": method,
        "iterations": it,
        "inner_iterations": inner,
        "residual": residual,
        "converged": bool(converged),
        "tol": float(tol),
        "knm_kept": prod.kept,
        "cg_seconds": cg_seconds,
    }
    if dof_stderr is not None:
        info["dof_stderr"] = dof_stderr
    factor = None
    if keep_factor:  # (one more pass for K_Mn K_nM when the solve did not form it)
        G = prod.gram()[0] if G is None else G
        R = _cholesky_upper(G + alpha * K_MM, "posterior factor")  # the fit's system, its jitter included
        factor = {"kind": "nystrom", "T": np.ascontiguousarray(T), "R": np.ascontiguousarray(R)}
    if fitted is not None and getattr(rows, "scale", None) is not None:
        fitted = fitted / rows.scale[:, None]  # S K_nM b -> K_nM b
    return Solution(
        C, W, None, fitted, dof, exact, "nystrom", dtype=dtype, n_samples=n_rows, info=info, train_scores=train,
        factor=factor,
    )  # fmt: skip


# (K_Mn K_nM + alpha K_MM) b = K_Mn y with H = Q diag(h) Q^T: b = Q diag(1/h) Q^T K_Mn y, 1/h := 0 where
# h is zero to working precision (the minimum-norm least-squares solution, as the exact eigh solver's).
def _solve_direct(
    rows: LocalRows, alpha: float, kmap: KernelMap, K_MM: np.ndarray, C: np.ndarray, rule: str
) -> Solution:
    from scipy import linalg

    from .direct import spectral_inverse

    prod = rows.products(kmap)
    G = prod.gram()[0]
    h, Q = linalg.eigh(G + alpha * K_MM, check_finite=False)
    inv = spectral_inverse(h, 0.0)
    W = Q @ (inv[:, None] * (Q.T @ prod.KtY()))
    dof = float(np.trace(Q @ (inv[:, None] * (Q.T @ G))))
    info = {
        "n_centers": C.shape[0],
        "centers_rule": rule,
        "iterations": 0,
        "residual": 0.0,
        "converged": True,
        "method": "direct: the centers' kernel matrix is indefinite",
        "knm_kept": prod.kept,
    }
    fitted = prod.K_times(W) if prod.carries_fitted else None
    if fitted is not None and getattr(rows, "scale", None) is not None:
        fitted = fitted / rows.scale[:, None]  # S K_nM b -> K_nM b
    train = None if fitted is not None else prod.train_scores(W)
    n = rows.n_rows
    return Solution(C, W, None, fitted, dof, True, "nystrom", n_samples=n, info=info, train_scores=train)


class Nystrom(Solver):
    name = "nystrom"
    summary = "M centers, (K_Mn K_nM + alpha K_MM) b = K_Mn y by Falkon's preconditioned conjugate gradient"
    options_class = NystromOptions
    centers_are_rows = False
    precisions = ("float64", "float32")
    weighted = True
    keeps_factor = True

    def peak_bytes(
        self, *, n_samples: int, n_features: int, n_targets: int, itemsize: int, options: SolverOptions
    ) -> int:
        M = options.n_centers or default_centers(n_samples)  # type: ignore[attr-defined]
        knm = itemsize * n_samples * M
        kept = knm if knm <= KNM_CACHE_BYTES else min(knm, BLOCK_BYTES)
        # K_MM, T, S, A and the gram for the dof: five M x M; K_nM or one block; the fitted values
        return 5 * 8 * M * M + kept + 8 * 4 * n_samples * n_targets

    def check(self, *, kernel: str, alpha: float) -> None:
        super().check(kernel=kernel, alpha=alpha)
        if alpha <= 0:
            raise UsageError("the nystrom solver needs alpha > 0")

    def memory_note(self, *, n_samples: int, itemsize: int, options: SolverOptions) -> str:
        M = options.n_centers or default_centers(n_samples)  # type: ignore[attr-defined]
        return f"{M:,} centers, {M:,} x {M:,} matrices"

    def fit(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        alpha: float,
        kernel: KernelSpec,
        options: SolverOptions,
        dtype: str,
        weights: np.ndarray | None = None,
        keep_factor: bool = False,
    ) -> Solution:
        self.check(kernel=kernel.kernel, alpha=alpha)
        if Y is None and weights is not None:
            raise UsageError("sample weights are not supported with --engine dask yet")
        rows = X if Y is None else LocalRows(X, Y, weights)  # (no Y: a cluster's rows)
        return solve_rows(rows, alpha, kernel, options, dtype=dtype, keep_factor=keep_factor)  # type: ignore[arg-type]


NYSTROM = register(Nystrom())
