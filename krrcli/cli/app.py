"""The Typer application and its global options (no heavy imports here)."""

from typing import Annotated

import typer

from .. import __version__
from .console import state

app = typer.Typer(
    name="krr",
    help=(
        "Kernel ridge regression on CSV files.\n\n"
        "Fit a model, predict new rows, choose parameters by cross-validation, inspect a model file. "
        "Reports and predictions go to stdout, progress and errors to stderr; fit, cv and inspect have --json "
        "for scripts."
    ),
    epilog=(
        "\b\nExamples:\n"
        "  krr fit data.csv --gamma 1 --alpha 0.001 -o model.joblib\n"
        "  krr predict model.joblib new.csv > pred.csv\n"
        "  krr cv data.csv --folds 5 -o best.joblib\n"
        "  krr inspect model.joblib\n"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help (click's formatter): rich-formatted help doubles the start-up time of --help
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"krr {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    version: Annotated[
        bool | None,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show the full traceback of an error.")] = False,
) -> None:
    state["debug"] = debug
