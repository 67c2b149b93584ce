"""The CLI map is the single list of steps: modules, --help, the README and the Makefile agree with it."""

from __future__ import annotations

import importlib
import re

import pytest

from conftest import REPO, run_cli
from scripts.__main__ import STEPS


@pytest.mark.parametrize("step", sorted(STEPS))
def test_every_step_has_a_module_with_main(step):
    module = importlib.import_module(f"scripts.{step}")
    assert callable(module.main), f"scripts/{step}.py has no main(cfg, args)"


@pytest.mark.parametrize("step", sorted(STEPS))
def test_help_says_what_each_step_reads_and_writes(step):
    result = run_cli(step, "--help")
    assert result.returncode == 0, result.stderr
    assert "reads:" in result.stdout and "writes:" in result.stdout
    assert STEPS[step].summary.split(":")[0][:40] in " ".join(result.stdout.split())


def test_readme_step_table_lists_exactly_the_cli_steps():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = re.findall(r"^\| `python -m scripts (\w+)", readme, flags=re.MULTILINE)
    assert sorted(table) == sorted(STEPS)


def test_unknown_step_is_a_usage_error():
    result = run_cli("trian")
    assert result.returncode == 2
    assert "invalid choice: 'trian'" in result.stderr
