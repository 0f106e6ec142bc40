"""How much memory this machine can give, and refusing work that would not fit.

The memory available is the smallest of: ``MemAvailable`` in ``/proc/meminfo``,
the cgroup limit (v2 ``memory.max`` or v1 ``memory.limit_in_bytes``) minus what
the cgroup already uses, and the ``KRR_MEMORY_LIMIT`` environment variable
(bytes, or a number with a K/M/G/T suffix) when it is set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from .errors import ResourceError, UsageError

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str) -> int:
    """Parse ``"512M"``, ``"2G"``, ``"1.5GiB"`` or a plain byte count."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(i?B)?\s*", text, re.IGNORECASE)
    if not m:
        raise UsageError(f"cannot read the size {text!r}; write e.g. 512M or 2G")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def format_bytes(n: float) -> str:
    """``1536 -> '1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError:
        return None
    if not text or text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _cgroup_dirs() -> list[tuple[str, str, str]]:
    """(folder, limit file, usage file) of this process's memory cgroup and its ancestors."""
    found: list[tuple[str, str, str]] = []
    try:
        with open("/proc/self/cgroup") as fh:
            entries = [line.rstrip("\n").split(":", 2) for line in fh]
    except OSError:
        entries = []
    for entry in entries:
        if len(entry) != 3:
            continue
        _, controllers, path = entry
        if controllers == "":  # cgroup v2
            root, limit, usage = "/sys/fs/cgroup", "memory.max", "memory.current"
        elif "memory" in controllers.split(","):
            root, limit, usage = "/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes"
        else:
            continue
        parts = [p for p in path.split("/") if p]
        for k in range(len(parts), -1, -1):
            found.append((os.path.join(root, *parts[:k]), limit, usage))
    return found


def _cgroup_available() -> int | None:
    """The tightest (limit - usage) over this process's memory cgroups."""
    best = None
    for folder, limit_name, usage_name in _cgroup_dirs():
        limit = _read_int(os.path.join(folder, limit_name))
        if limit is not None and limit < 2**60:
            usage = _read_int(os.path.join(folder, usage_name)) or 0
            left = max(0, limit - usage)
            best = left if best is None else min(best, left)
    return best


def available_memory() -> int | None:
    """Bytes this process can still allocate, or None when nothing tells."""
    candidates = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    env = os.environ.get("KRR_MEMORY_LIMIT")
    if env:
        candidates.append(parse_size(env))
    return min(candidates) if candidates else None


def check_memory(needed: int, what: str, advice: str | Callable[[int], str]) -> None:
    """Raise :class:`ResourceError` before allocating when ``needed`` bytes will not fit.

    ``advice`` is what to do instead, or a function of the bytes available that says it.
    """
    available = available_memory()
    if available is not None and needed > available:
        text = advice(available) if callable(advice) else advice
        raise ResourceError(
            f"{what} needs {format_bytes(needed)} of memory but only {format_bytes(available)} is available; {text}"
        )


def large_empty(shape: tuple[int, ...], dtype: object = "float64", order: str = "C") -> object:
    """``numpy.empty`` for a large matrix, without asking the system for transparent huge pages.

    numpy advises huge pages for every large allocation; where the system compacts memory on demand
    for such advice (transparent_hugepage/defrag = madvise, the usual default), the first touch of
    the pages can stall: measured on a 2-core VM, filling a fresh 2,000 x 2,000 float64 matrix took
    6-70 ms with the advice and 10-12 ms without, and a 12,000 x 12,000 one 0.5-2.7 s against 0.36 s.
    The factorizations run as fast on small pages (potrf at 4,000 rows: 0.22-0.23 s either way).
    """
    import numpy as np

    core = getattr(np, "_core", None) or getattr(np, "core", None)
    advise = getattr(getattr(core, "multiarray", None), "_set_madvise_hugepage", None)
    if advise is None:
        return np.empty(shape, dtype=dtype, order=order)
    before = advise(False)
    try:
        return np.empty(shape, dtype=dtype, order=order)
    finally:
        advise(before)
