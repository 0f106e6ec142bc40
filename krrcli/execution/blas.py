"""How many threads numpy's BLAS may use, set for a stretch of work.

Work split over this machine's cores by krr's own threads must not also be split by BLAS:
two threads each calling a 2-thread BLAS on 2 cores run slower than one thread alone
(measured: a pass ``K_Mn (K_nM v)`` at n = 200,000, M = 2,000 took 1.05 s that way, 0.75 s on
one thread with BLAS on both cores, and 0.42 s on two threads with BLAS capped to one each).

OpenBLAS (what numpy's wheels bundle) exposes ``openblas_set_num_threads`` under a prefix and
suffix that depend on the build; the library is found among those this process has loaded.
Where it cannot be found (another BLAS, another system), :func:`blas_threads` says so and
callers keep to one thread of their own.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

_lock = threading.Lock()
_NAMES = [
    (f"{prefix}openblas_set_num_threads{suffix}", f"{prefix}openblas_get_num_threads{suffix}")
    for prefix in ("scipy_", "")
    for suffix in ("64_", "")
]


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@cache
def _openblas() -> tuple[Any, Any] | None:
    """numpy's OpenBLAS ``(set_num_threads, get_num_threads)``, or None."""
    import numpy

    try:
        with open("/proc/self/maps") as fh:
            loaded = {line.split()[-1] for line in fh if "openblas" in line.lower() and "/" in line}
    except OSError:
        return None
    here = os.path.dirname(os.path.dirname(numpy.__file__))  # numpy's own copy first (numpy.libs)
    for path in sorted(loaded, key=lambda p: not p.startswith(here)):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _NAMES:
            if hasattr(lib, set_name) and hasattr(lib, get_name):
                setter, getter = getattr(lib, set_name), getattr(lib, get_name)
                setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int
                return setter, getter
    return None


@contextmanager
def blas_threads(n: int) -> Iterator[bool]:
    """Within the block numpy's BLAS uses at most ``n`` threads; yields whether that could be set."""
    found = _openblas()
    if found is None:
        yield False
        return
    setter, getter = found
    with _lock:
        before = int(getter())
        setter(min(n, before))
    try:
        yield True
    finally:
        with _lock:
            setter(before)
