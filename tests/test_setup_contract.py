"""Tests that the set-up contract holds: .ci/run calls exactly the README's test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    readme = ROOT / "README.md"
    assert readme.is_file(), f"{readme} is missing: the tests run from the source tree"
    blocks = re.findall(r"```bash\n(.*?)```", readme.read_text(encoding="utf-8"), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_has_the_demo_and_the_test_command():
    commands = _readme_commands()
    assert any("nenstudy demo" in c and "pip install" in c for c in commands)
    assert any("pytest" in c and "pip install" in c for c in commands)


def test_ci_runs_exactly_the_readme_test_command():
    test_command = next(c for c in _readme_commands() if "pytest" in c)
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines
