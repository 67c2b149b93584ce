"""The shape of the code: no step module imports another step (shared code lives in shared modules).

The steps are the CLI's steps (scripts/__main__.py STEPS). `run` still loads the steps it runs
by name with importlib, on purpose: it is the pipeline; this test reads import statements only.
"""

from __future__ import annotations

import ast

import pytest

from conftest import REPO
from scripts.__main__ import STEPS


def imported_scripts_modules(path) -> set[str]:
    """Names of the scripts.* modules a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:  # from .x import y / from . import x
            found |= {node.module.split(".")[0]} if node.module else {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("scripts."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("scripts.")}
    return found


@pytest.mark.parametrize("step", sorted(STEPS))
def test_no_step_imports_another_step(step):
    borrowed = sorted((imported_scripts_modules(REPO / "scripts" / f"{step}.py") & set(STEPS)) - {step})
    assert not borrowed, f"scripts/{step}.py imports the step(s) {borrowed}: move what they share into a shared module"


def test_the_check_sees_relative_and_absolute_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from .export import X\ndef f():\n    from . import card\n    import scripts.rubric\n")
    assert imported_scripts_modules(sample) == {"export", "card", "rubric"}
