"""What the small commands load: a cron job's predict, inspect and a small fit import only what they use."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import make_regression, write_csv

HEAVY = ("pandas", "scipy", "rich", "joblib", "pydantic", "sklearn", "matplotlib", "dask")


def _modules_after(args: list[str], cwd) -> tuple[int, list[str], str]:
    """Run ``krr args`` in a fresh interpreter; return its exit code, the heavy modules it had loaded at the
    end, and its stdout."""
    code = (
        "import json, sys\n"
        "from krrcli.cli import main\n"
        f"rc = main({args!r})\n"
        f"sys.stderr.write('\\nLOADED ' + json.dumps([m for m in {HEAVY!r} if m in sys.modules]) + '\\n')\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120)
    loaded = json.loads(proc.stderr.rsplit("LOADED ", 1)[1])
    return proc.returncode, loaded, proc.stdout


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("startup")
    X, Y = make_regression(200, 3)
    write_csv(folder / "train.csv", ["a", "b", "c", "y"], [[*x, y] for x, y in zip(X, Y[:, 0], strict=True)])
    write_csv(folder / "new.csv", ["a", "b", "c"], X[:10])
    return folder


def test_predict_and_inspect_load_no_pandas_scipy_rich_or_joblib(files):
    rc, loaded, _ = _modules_after(["fit", "train.csv", "-g", "0.5", "-a", "0.1", "-o", "m.joblib"], files)
    assert rc == 0
    assert [m for m in loaded if m != "joblib"] == []  # an exact fit: numpy, and joblib to write the file
    rc, loaded, out = _modules_after(["predict", "m.joblib", "new.csv"], files)
    assert rc == 0 and len(out.splitlines()) == 11
    assert loaded == []
    rc, loaded, out = _modules_after(["inspect", "m.joblib"], files)
    assert rc == 0 and "Model:" in out
    assert loaded == []
    rc, loaded, _ = _modules_after(["inspect", "m.joblib", "--json"], files)
    assert rc == 0 and loaded == []


def test_predict_imports_pandas_only_for_a_large_input(files, monkeypatch):
    """Past NUMPY_PARSE_MAX_BYTES of text, pandas' faster parser pays for its import (the same numbers)."""
    X, _ = make_regression(40_000, 3, seed=4)
    write_csv(files / "big.csv", ["a", "b", "c"], X)
    rc, loaded, out = _modules_after(["predict", "m.joblib", "big.csv"], files)
    assert rc == 0 and "pandas" not in loaded  # 40,000 rows: about 2 MiB, under the limit
    code = (
        "import sys\nfrom krrcli.data import parse\nparse.NUMPY_PARSE_MAX_BYTES = 2**20\n"
        "from krrcli.cli import main\nrc = main(['predict', 'm.joblib', 'big.csv'])\n"
        "sys.stderr.write('PANDAS ' + str('pandas' in sys.modules))\nsys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=files, timeout=120)
    assert proc.returncode == 0 and proc.stderr.endswith("PANDAS True")
    assert proc.stdout == out  # switching parsers part way changes no digit


def test_version_and_help_do_not_build_more_than_they_show(files):
    rc, loaded, out = _modules_after(["--version"], files)
    assert rc == 0 and out.startswith("krr ") and loaded == []
    code = "import sys\nfrom krrcli.cli import main\nrc = main(['--version'])\nprint('typer' in sys.modules)\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines()[-1] == "False"  # the version needs no command line
    rc, loaded, out = _modules_after(["--help"], files)
    assert rc == 0 and "predict" in out and loaded == []
