"""krr predict: predictions for new rows, streamed as CSV."""

from typing import Annotated

import typer

from . import options as o
from .app import app


@app.command(
    epilog=(
        "\b\nExamples:\n"
        "  krr predict model.joblib new.csv > pred.csv\n"
        "  krr predict model.joblib new.csv --with-input -o scored.csv\n"
        "  cat new.csv | krr predict model.joblib - --float-format %.6g | head\n"
        "  krr predict model.joblib nightly.csv --missing empty --with-input -o scored.csv\n"
        "  krr predict model.joblib 'new/*.csv' --engine dask -o 'out/part-*.csv'\n"
    ),
)
def predict(
    model: o.ModelPath,
    data: o.Data,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write the CSV here (atomically) instead of stdout.")
    ] = None,
    with_input: Annotated[
        bool, typer.Option("--with-input", help="Write the input columns first, then the predictions.")
    ] = False,
    no_header: Annotated[
        bool, typer.Option("--no-header", help="DATA has no header; its columns are the model's features in order.")
    ] = False,
    float_format: Annotated[
        str | None,
        typer.Option("--float-format", help="printf format for predictions, e.g. %.6g. Default: exact round-trip."),
    ] = None,
    chunk_size: Annotated[
        int, typer.Option("--chunk-size", help="Rows read, predicted and written at a time.")
    ] = 10_000,
    sep: o.Sep = ",",
    dtype: o.Dtype = "float64",
    effects: Annotated[
        bool,
        typer.Option(
            "--effects", help="Also write each row's marginal effects d<target>_d<feature> (in the feature's units)."
        ),
    ] = False,
    std: Annotated[
        bool,
        typer.Option(
            "--std",
            help="Also write <target>_std, the prediction's posterior standard deviation (needs a model "
            "fitted with --keep-factor).",
        ),
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval",
            help="Also write <target>_lower and <target>_upper, a predictive interval of this probability for a "
            "new observation, e.g. 0.95 (needs --keep-factor).",
        ),
    ] = None,
    unknown: Annotated[
        str,
        typer.Option(
            "--unknown",
            help="A category the model did not see in training: error (default; names the value, line and "
            "column), or ignore (encoded as none of the known ones, all zeros; counted on stderr).",
        ),
    ] = "error",
    missing: Annotated[
        str,
        typer.Option(
            "--missing",
            help="A row with a missing value (an empty cell, NA, NaN, nan or null) in a feature column: error "
            "(default; names it), empty (its prediction cells are left empty, so the output stays aligned), or "
            "impute (each missing feature is its training mean, stored in the model). Counted on stderr.",
        ),
    ] = "error",
    engine: o.Engine = "local",
    scheduler: o.Scheduler = None,
) -> None:
    """Predict the target(s) for every row of DATA with MODEL; CSV to stdout.

    Feature columns are matched by name (any order; extra columns ignored). The
    output has one column <target>_pred per target, in the input's row order.
    Example: krr predict model.joblib new.csv > pred.csv
    """
    from ..api import predict_csv

    predict_csv(
        model,
        data,
        output,
        sep=sep,
        chunk_size=chunk_size,
        no_header=no_header,
        with_input=with_input,
        float_format=float_format,
        dtype=dtype,
        engine=engine,
        scheduler=scheduler,
        effects=effects,
        std=std,
        interval=interval,
        unknown=unknown,
        missing=missing,
    )
