"""Tests of the command line: every subcommand answers --help, and both entry points agree."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from nenstudy.cli import cli

SUBCOMMANDS = ["synth", "validate", "import", "run", "demo"]


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_subcommand_has_help(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_python_dash_m_is_the_same_program():
    done = subprocess.run([sys.executable, "-m", "nenstudy", "--help"], capture_output=True, text=True)
    assert done.returncode == 0
    for name in SUBCOMMANDS:
        assert name in done.stdout


def test_unknown_subcommand_fails():
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code != 0


def test_import_prints_its_stages_and_the_registry_summary(tmp_path):
    runner = CliRunner()
    source, store = tmp_path / "registry", tmp_path / "store.duckdb"
    assert runner.invoke(cli, ["synth", "--out", str(source), "--scale", "0.1"]).exit_code == 0
    result = runner.invoke(cli, ["import", str(source), "--registry", str(store)])
    assert result.exit_code == 0, result.output
    assert "Imported in" in result.output
    for stage in ("read", "cross checks", "store"):
        assert stage in result.output
    assert "patients" in result.output and store.is_file()
