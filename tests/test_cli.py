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
