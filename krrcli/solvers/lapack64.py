"""In-place BLAS/LAPACK calls with 64-bit integers, for matrices of 2 GiB and more.

Measured with the OpenBLAS 0.3.31 that numpy 2.4 and SciPy 1.17 wheels bundle:
the multithreaded ``potrf`` (SciPy's and numpy's alike) crashes with a
segmentation fault on matrices beyond about 16,000 rows, and SciPy's ``syrk``
wrapper does too; single-threaded ``potrf`` does not, nor do the BLAS-3
routines. So large fits use numpy's OpenBLAS (built with 64-bit integers)
through ctypes, in place on Fortran-ordered arrays: a right-looking blocked
Cholesky whose diagonal blocks go to ``potrf`` and whose updates go to
multithreaded ``trsm`` and ``gemm`` tiles, and blocked triangular solves.
(Its threaded ``syrk`` also crashed at 40,000 rows, so large kernels are built
with ``gemm`` by blocks of rows too.)
"""

from __future__ import annotations

import ctypes
import glob
import os
from functools import lru_cache

import numpy as np

# Matrices at least this large go through this module.
LARGE_BYTES = 2**31

_i64 = ctypes.c_int64


@lru_cache(maxsize=1)
def _library() -> ctypes.CDLL | None:
    folder = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(folder, "libscipy_openblas64_*.so"))):
        try:
            lib = ctypes.CDLL(path)
            lib.scipy_dpotrf_64_  # noqa: B018 - probe the symbols we need
            return lib
        except (OSError, AttributeError):
            continue
    return None


def available() -> bool:
    """Whether numpy's 64-bit-integer OpenBLAS can be used."""
    return _library() is not None


def require(n_rows: int) -> None:
    """Raise :class:`~krrcli.errors.ResourceError` when a matrix of LARGE_BYTES or more cannot be handled."""
    if not available():
        from ..errors import ResourceError

        raise ResourceError(
            f"a {n_rows:,} x {n_rows:,} matrix is over 2 GiB, which needs the 64-bit-integer OpenBLAS "
            "bundled with numpy's wheels; it was not found: install numpy from PyPI wheels, or use fewer rows"
        )


def fits_lapack32(n_rows: int, itemsize: int = 8) -> bool:
    """Whether an n_rows x n_rows matrix is within SciPy's 32-bit-integer LAPACK (under 2 GiB)."""
    return itemsize * n_rows * n_rows < LARGE_BYTES


def check_lapack32(n_rows: int, what: str, advice: str = "use fewer rows", subject: str = "this fit") -> None:
    """The one statement of SciPy's LAPACK limit: 16,384 rows in float64 (a 2 GiB matrix).

    Work that only SciPy's LAPACK does (eigendecompositions) is refused beyond it, before any allocation.
    """
    if not fits_lapack32(n_rows):
        from ..errors import ResourceError

        raise ResourceError(
            f"{what} is limited to 16,384 rows (SciPy's LAPACK), and {subject} has {n_rows:,}; {advice}"
        )


def _fn(prefix: str, name: str) -> ctypes._CFuncPtr:
    return getattr(_library(), f"scipy_{prefix}{name}_64_")


def _prefix(a: np.ndarray) -> str:
    return "d" if a.dtype == np.float64 else "s"


def _ptr(a: np.ndarray) -> ctypes.c_void_p:
    return a.ctypes.data_as(ctypes.c_void_p)


def _ch(c: str) -> ctypes.c_char_p:
    return ctypes.c_char_p(c.encode())


def _at(a: np.ndarray, i: int, j: int) -> ctypes.c_void_p:
    """Pointer to element (i, j) of a Fortran-ordered array."""
    return ctypes.c_void_p(a.ctypes.data + (i + j * a.shape[0]) * a.itemsize)


def _sub_potrf(a: np.ndarray, k: int, kb: int) -> int:
    lda, n, info = _i64(a.shape[0]), _i64(kb), _i64(0)
    _fn(_prefix(a), "potrf")(_ch("U"), ctypes.byref(n), _at(a, k, k), ctypes.byref(lda), ctypes.byref(info), _i64(1))
    return int(info.value)


# Factor block columns of this width with LAPACK's own potrf; update the rest with BLAS-3.
CHOLESKY_BLOCK = 2048


def blocked_potrf_upper(a: np.ndarray, nb: int | None = None) -> int:
    """Right-looking blocked Cholesky ``A = U^T U`` in place (upper triangle, Fortran order).

    OpenBLAS's multithreaded potrf crashes on matrices beyond about 16,000 rows;
    its BLAS-3 routines do not. Per block column k:
    ``U_kk = chol(A_kk)``; ``U_k,rest = U_kk^-T A_k,rest`` (trsm);
    ``A_rest,rest -= U_k,rest^T U_k,rest`` (gemm tiles of the upper triangle).
    Returns LAPACK's info (the global row index on failure).
    """
    assert a.flags.f_contiguous
    n = a.shape[0]
    nb = nb or CHOLESKY_BLOCK
    p = _prefix(a)
    scalar = ctypes.c_double if a.dtype == np.float64 else ctypes.c_float
    one, minus_one = scalar(1.0), scalar(-1.0)
    lda = _i64(n)
    trsm, gemm = _fn(p, "trsm"), _fn(p, "gemm")
    for k in range(0, n, nb):
        kb = min(nb, n - k)
        info = _sub_potrf(a, k, kb)
        if info != 0:
            return k + info
        rest = n - k - kb
        if rest == 0:
            break
        m_, r_ = _i64(kb), _i64(rest)
        # A[k:k+kb, k+kb:] := U_kk^-T A[k:k+kb, k+kb:]
        trsm(
            _ch("L"),
            _ch("U"),
            _ch("T"),
            _ch("N"),
            ctypes.byref(m_),
            ctypes.byref(r_),
            ctypes.byref(one),
            _at(a, k, k),
            ctypes.byref(lda),
            _at(a, k, k + kb),
            ctypes.byref(lda),
            _i64(1),
            _i64(1),
            _i64(1),
            _i64(1),
        )
        # A[k+kb:, k+kb:] -= A[k:k+kb, k+kb:]^T A[k:k+kb, k+kb:], upper triangle only, by gemm tiles
        # (OpenBLAS's threaded syrk crashes on the largest of these updates)
        for j in range(k + kb, n, nb):
            jb = min(nb, n - j)
            rows = _i64(j + jb - (k + kb))
            jb_ = _i64(jb)
            gemm(
                _ch("T"),
                _ch("N"),
                ctypes.byref(rows),
                ctypes.byref(jb_),
                ctypes.byref(m_),
                ctypes.byref(minus_one),
                _at(a, k, k + kb),
                ctypes.byref(lda),
                _at(a, k, j),
                ctypes.byref(lda),
                ctypes.byref(one),
                _at(a, k + kb, j),
                ctypes.byref(lda),
                _i64(1),
                _i64(1),
            )
    return 0


def blocked_trsm_upper(u: np.ndarray, b: np.ndarray, transposed: bool, nb: int | None = None) -> None:
    """Solve ``U^T x = b`` (``transposed``) or ``U x = b`` in place in ``b``, by blocks of rows:
    a triangular solve per diagonal block and a gemm update of the rows still to solve."""
    n, k = b.shape
    nb = nb or CHOLESKY_BLOCK
    p = _prefix(u)
    scalar = ctypes.c_double if u.dtype == np.float64 else ctypes.c_float
    one, minus_one = scalar(1.0), scalar(-1.0)
    ld, kk = _i64(n), _i64(k)
    trsm, gemm = _fn(p, "trsm"), _fn(p, "gemm")
    starts = list(range(0, n, nb))
    for i in starts if transposed else reversed(starts):
        ib = min(nb, n - i)
        m_, rest = _i64(ib), n - i - ib
        if not transposed and rest:  # b[i:i+ib] -= U[i:i+ib, i+ib:] x[i+ib:]
            gemm(
                _ch("N"),
                _ch("N"),
                ctypes.byref(m_),
                ctypes.byref(kk),
                ctypes.byref(_i64(rest)),
                ctypes.byref(minus_one),
                _at(u, i, i + ib),
                ctypes.byref(ld),
                _at(b, i + ib, 0),
                ctypes.byref(ld),
                ctypes.byref(one),
                _at(b, i, 0),
                ctypes.byref(ld),
                _i64(1),
                _i64(1),
            )
        trsm(
            _ch("L"),
            _ch("U"),
            _ch("T" if transposed else "N"),
            _ch("N"),
            ctypes.byref(m_),
            ctypes.byref(kk),
            ctypes.byref(one),
            _at(u, i, i),
            ctypes.byref(ld),
            _at(b, i, 0),
            ctypes.byref(ld),
            _i64(1),
            _i64(1),
            _i64(1),
            _i64(1),
        )
        if transposed and rest:  # b[i+ib:] -= U[i:i+ib, i+ib:]^T x[i:i+ib]
            gemm(
                _ch("T"),
                _ch("N"),
                ctypes.byref(_i64(rest)),
                ctypes.byref(kk),
                ctypes.byref(m_),
                ctypes.byref(minus_one),
                _at(u, i, i + ib),
                ctypes.byref(ld),
                _at(b, i, 0),
                ctypes.byref(ld),
                ctypes.byref(one),
                _at(b, i + ib, 0),
                ctypes.byref(ld),
                _i64(1),
                _i64(1),
            )


def potrf_upper(a: np.ndarray) -> int:
    """``A = U^T U`` in place (upper triangle of a Fortran-ordered ``a``): LAPACK's potrf in one call under
    ``LARGE_BYTES``, :func:`blocked_potrf_upper` from there (where the one call crashes). Returns LAPACK's
    info."""
    if a.nbytes < LARGE_BYTES:
        return _sub_potrf(a, 0, a.shape[0])
    return blocked_potrf_upper(a)


def trtri_upper(u: np.ndarray) -> int:
    """``U := U^-1`` in place (upper triangle of a Fortran-ordered ``u``). Returns LAPACK's info."""
    assert u.flags.f_contiguous
    n, info = _i64(u.shape[0]), _i64(0)
    _fn(_prefix(u), "trtri")(_ch("U"), _ch("N"), ctypes.byref(n), _ptr(u), ctypes.byref(n), ctypes.byref(info),
                             _i64(1), _i64(1))  # fmt: skip
    return int(info.value)


def syrk_upper(x: np.ndarray, c: np.ndarray) -> None:
    """The upper triangle of a Fortran-ordered ``c`` := ``x x^T`` for C-ordered rows ``x`` (n x k), by one
    symmetric rank-k update (``x`` read as the Fortran k x n matrix ``x^T``)."""
    assert c.flags.f_contiguous and x.flags.c_contiguous and x.dtype == c.dtype
    n, k = x.shape
    scalar = ctypes.c_double if c.dtype == np.float64 else ctypes.c_float
    n_, k_, lda = _i64(n), _i64(k), _i64(max(k, 1))
    _fn(_prefix(c), "syrk")(_ch("U"), _ch("T"), ctypes.byref(n_), ctypes.byref(k_), ctypes.byref(scalar(1.0)),
                            _ptr(x), ctypes.byref(lda), ctypes.byref(scalar(0.0)), _ptr(c), ctypes.byref(n_),
                            _i64(1), _i64(1))  # fmt: skip
