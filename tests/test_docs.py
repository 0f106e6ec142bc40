"""Every command documents itself with an example; the CLI starts like a tool should."""

from __future__ import annotations

import subprocess
import sys

import pytest

from krrcli import __version__

COMMANDS = ["fit", "predict", "cv", "inspect"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example(krr, command):
    res = krr(command, "--help")
    assert res.exit_code == 0
    assert "Example" in res.stdout
    assert f"krr {command} " in res.stdout


def test_top_level_help_lists_commands(krr):
    res = krr("--help")
    assert res.exit_code == 0
    for c in COMMANDS:
        assert c in res.stdout


def test_version(krr):
    res = krr("--version")
    assert res.exit_code == 0 and res.stdout.strip() == f"krr {__version__}"


def test_python_dash_m_and_no_heavy_imports_for_help():
    code = (
        "import sys; from krrcli.cli import main; rc = main(['--version']);"
        "heavy = [m for m in ('numpy', 'pandas', 'scipy', 'joblib') if m in sys.modules];"
        "print(heavy); sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[-1] == "[]"
    proc = subprocess.run([sys.executable, "-m", "krrcli", "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"krr {__version__}"
