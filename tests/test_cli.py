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


def test_readme_demo_explanation_quotes_the_interval_of_its_sample_output():
    # "What the demo shows" explains the sample `make demo` output above it: when one is updated, so is the other.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    result = re.search(r"^Result: accuracy .*? -> \d+% (\[\d+-\d+%\])", readme, flags=re.MULTILINE)
    explained = re.search(r"\*\*Held-out accuracy with its uncertainty\.\*\* `(\[\d+-\d+%\])`", readme)
    assert result and explained and explained.group(1) == result.group(1)
