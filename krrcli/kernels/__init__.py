"""Kernels: the registry and spec (:mod:`.registry`), dense matrices built in place
(:mod:`.dense`), and kernel values of row blocks against fixed centers (:mod:`.kmap`).

The formulas and parameter meanings are scikit-learn's (see :mod:`.dense`).
"""

from __future__ import annotations

from .dense import (
    BLOCK_BYTES,
    KernelSpec,
    apply_kernel,
    base_matrix,
    cross_kernel,
    gram_matrix,
    prepare,
    row_sq_norms,
)
from .kmap import KernelMap
from .registry import KERNELS, Kernel, NonFiniteKernel, get_kernel, resolve_gamma

__all__ = [
    "BLOCK_BYTES",
    "KERNELS",
    "Kernel",
    "KernelMap",
    "KernelSpec",
    "NonFiniteKernel",
    "apply_kernel",
    "base_matrix",
    "cross_kernel",
    "get_kernel",
    "gram_matrix",
    "prepare",
    "resolve_gamma",
    "row_sq_norms",
]
