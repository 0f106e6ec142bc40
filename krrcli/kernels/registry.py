"""The kernels krr knows: their names, which parameters each reads, and a kernel with its parameters resolved."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DataError, UsageError


class NonFiniteKernel(DataError):
    """The kernel overflowed or is undefined (NaN) for these parameters and data."""

    def __init__(self, kernel: str, gamma: float | None, degree: float, coef0: float) -> None:
        if kernel in ("rbf", "laplacian"):
            params, advice = f" with gamma={gamma:g}", "use a smaller gamma or --standardize"
        elif kernel in ("linear", "cosine"):
            params, advice = "", "rescale the data, e.g. with --standardize"
        else:
            values = (("gamma", gamma), ("degree", degree), ("coef0", coef0))
            params = " with " + ", ".join(f"{k}={v:g}" for k, v in values if v is not None)
            advice = "use a smaller gamma, an integer degree, or --standardize"
        super().__init__(f"the {kernel} kernel{params} gives infinite or undefined (NaN) values on this data; {advice}")
        self.gamma = gamma


@dataclass(frozen=True)
class Kernel:
    """What a kernel needs: which parameters it reads and how its matrix is built."""

    name: str
    uses_gamma: bool
    uses_degree: bool
    uses_coef0: bool
    # "sqeuclidean" and "l1" kernels are functions of a distance; the others of <x, y>.
    base: str


KERNELS: dict[str, Kernel] = {
    "rbf": Kernel("rbf", True, False, False, "sqeuclidean"),
    "laplacian": Kernel("laplacian", True, False, False, "l1"),
    "polynomial": Kernel("polynomial", True, True, True, "dot"),
    "linear": Kernel("linear", False, False, False, "dot"),
    "sigmoid": Kernel("sigmoid", True, False, True, "dot"),
    "cosine": Kernel("cosine", False, False, False, "dot"),
}


# other names of the same kernels (scikit-learn's pairwise_kernels calls the polynomial kernel "poly")
ALIASES = {"poly": "polynomial"}


def get_kernel(name: str) -> Kernel:
    """Return the registry entry of ``name`` (or of its alias; ``.name`` is the registry's own) or raise a
    :class:`UsageError` listing the choices."""
    try:
        return KERNELS[ALIASES.get(name, name)]
    except (KeyError, TypeError):
        raise UsageError(f"unknown kernel {name!r}; choose one of: {', '.join(KERNELS)}") from None


def resolve_gamma(kernel: str, gamma: float | None, n_features: int) -> float | None:
    """The gamma a kernel really uses: ``1 / n_features`` when not given, None when unused."""
    if not get_kernel(kernel).uses_gamma:
        return None
    if gamma is None:
        return 1.0 / n_features
    return float(gamma)
