"""In-place BLAS/LAPACK calls with 64-bit integers, for matrices of 2 GiB and more.

SciPy's wrappers call a LAPACK with 32-bit integers, which crashes on matrices
of 2**31 bytes or more (16,385 rows in float64). numpy's wheels bundle an
OpenBLAS built with 64-bit integers; this module calls the few routines a large
exact fit needs from it, through ctypes, on Fortran-ordered arrays, in place.
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


def _fn(prefix: str, name: str) -> ctypes._CFuncPtr:
    return getattr(_library(), f"scipy_{prefix}{name}_64_")


def _prefix(a: np.ndarray) -> str:
    return "d" if a.dtype == np.float64 else "s"


def _ptr(a: np.ndarray) -> ctypes.c_void_p:
    return a.ctypes.data_as(ctypes.c_void_p)


def _ch(c: str) -> ctypes.c_char_p:
    return ctypes.c_char_p(c.encode())


def potrf_upper(a: np.ndarray) -> int:
    """Cholesky ``A = U^T U`` in place on a Fortran-ordered square array; returns LAPACK's info."""
    assert a.flags.f_contiguous
    n, info = _i64(a.shape[0]), _i64(0)
    _fn(_prefix(a), "potrf")(_ch("U"), ctypes.byref(n), _ptr(a), ctypes.byref(n), ctypes.byref(info), _i64(1))
    return int(info.value)


def potrs_upper(u: np.ndarray, b: np.ndarray) -> int:
    """Solve ``U^T U x = b`` in place in ``b`` (Fortran-ordered, shape (n, k)); returns info."""
    assert u.flags.f_contiguous and b.flags.f_contiguous
    n, k, info = _i64(u.shape[0]), _i64(b.shape[1]), _i64(0)
    _fn(_prefix(u), "potrs")(
        _ch("U"),
        ctypes.byref(n),
        ctypes.byref(k),
        _ptr(u),
        ctypes.byref(n),
        _ptr(b),
        ctypes.byref(n),
        ctypes.byref(info),
        _i64(1),
    )
    return int(info.value)


def trtrs_upper_transposed(u: np.ndarray, b: np.ndarray) -> int:
    """Solve ``U^T x = b`` in place in ``b`` (Fortran-ordered); returns info."""
    assert u.flags.f_contiguous and b.flags.f_contiguous
    n, k, info = _i64(u.shape[0]), _i64(b.shape[1]), _i64(0)
    _fn(_prefix(u), "trtrs")(
        _ch("U"),
        _ch("T"),
        _ch("N"),
        ctypes.byref(n),
        ctypes.byref(k),
        _ptr(u),
        ctypes.byref(n),
        _ptr(b),
        ctypes.byref(n),
        ctypes.byref(info),
        _i64(1),
        _i64(1),
        _i64(1),
    )
    return int(info.value)


def syrk_upper(a: np.ndarray, c: np.ndarray) -> None:
    """``C := A^T A`` in the upper triangle of Fortran-ordered ``c`` (shape (n, n)); ``a`` is
    Fortran-ordered of shape (k, n)."""
    assert a.flags.f_contiguous and c.flags.f_contiguous
    k, n = a.shape
    scalar = ctypes.c_double if c.dtype == np.float64 else ctypes.c_float
    one, zero = scalar(1.0), scalar(0.0)
    kk, nn = _i64(k), _i64(n)
    _fn(_prefix(c), "syrk")(
        _ch("U"),
        _ch("T"),
        ctypes.byref(nn),
        ctypes.byref(kk),
        ctypes.byref(one),
        _ptr(a),
        ctypes.byref(kk),
        ctypes.byref(zero),
        _ptr(c),
        ctypes.byref(nn),
        _i64(1),
        _i64(1),
    )
