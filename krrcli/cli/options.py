"""Options shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

KERNEL_NAMES = "rbf, laplacian, polynomial, linear, sigmoid, cosine"

Data = Annotated[
    list[str],
    typer.Argument(
        metavar="DATA",
        help="CSV file(s) (.gz/.bz2/.xz/.zip read transparently), glob patterns such as 'data/part-*.csv' "
        "(quoted: krr expands them, sorted), or - for stdin. Several are read one after another and must share "
        "a header.",
    ),
]
ModelPath = Annotated[str, typer.Argument(metavar="MODEL", help="A model file written by krr fit or krr cv -o.")]
Target = Annotated[
    list[str] | None,
    typer.Option("--target", "-t", help="Target column; repeat for several targets. Default: the last column."),
]
Features = Annotated[
    list[str] | None,
    typer.Option("--features", "-f", help="Feature columns, comma-separated or repeated. Default: every other column."),
]
Sep = Annotated[str, typer.Option("--sep", help="Field delimiter (one character; \\t for tab).")]
Kernel = Annotated[str, typer.Option("--kernel", "-k", help=f"Kernel: {KERNEL_NAMES}.")]
Degree = Annotated[float, typer.Option("--degree", help="Degree of the polynomial kernel (>= 1).")]
Coef0 = Annotated[float, typer.Option("--coef0", help="Constant term of the polynomial and sigmoid kernels.")]
Standardize = Annotated[
    bool,
    typer.Option(
        "--standardize",
        help="Scale features to zero mean and unit variance (training data); stored and applied at predict time.",
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout instead of the report.")]
Dtype = Annotated[
    str,
    typer.Option(
        "--dtype",
        help="Precision of the kernel work: float64, or float32 (half the memory, faster, less accurate).",
    ),
]
Solver = Annotated[
    str,
    typer.Option(
        "--solver",
        help="auto (default: primal for the linear kernel, else cholesky), or cholesky, eigh, primal, nystrom.",
    ),
]
Weights = Annotated[
    str | None,
    typer.Option(
        "--weights",
        "-w",
        help="A column of sample weights (finite, >= 0; not a feature): minimizes sum w_i (y_i - f(x_i))^2 "
        "+ alpha ||f||^2, and cv scores weighted. Rows of weight 0 are left out.",
    ),
]
Intercept = Annotated[
    bool,
    typer.Option(
        "--intercept",
        help="Add an unpenalized constant to the model (solved exactly with the rest); default: none, as "
        "scikit-learn's KernelRidge.",
    ),
]
Categorical = Annotated[
    list[str] | None,
    typer.Option(
        "--categorical",
        "-c",
        help="Feature column(s) of text to one-hot encode with the categories seen (comma-separated or repeated), "
        "or auto: every feature column with text in the first 50,000 rows. Stored in the model.",
    ),
]
MissingFit = Annotated[
    str,
    typer.Option(
        "--missing",
        help="A row with a missing value (an empty cell, NA, NaN, nan or null) in a column the fit uses: error "
        "(default; names it), or drop (leave the row out; counted on stderr and in --json as rows_dropped).",
    ),
]
Engine = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where the work runs: local (this process), or dask (the workers of a Dask cluster; needs "
        "pip install 'krrcli[dask]').",
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="--engine dask: the scheduler's address, e.g. tcp://10.0.0.5:8786. Default: "
        "$DASK_SCHEDULER_ADDRESS, else a local cluster started for the command (one worker per core).",
    ),
]
