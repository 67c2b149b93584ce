"""Reading the workflows as GitHub does: which checks the docs ask mentors to require, which job
reports each of them, and whether a workflow's triggers start it for a given event.

Shared by tests/test_workflows.py (the files) and tests/test_gitops.py (a results branch made with real git).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"
# The two documents that tell a mentor which checks to require in branch protection.
SETUP_DOCS = [REPO / "README.md", REPO / "docs" / "mentor.md"]
REQUIRE_SENTENCE = re.compile(r"require the status checks ((?:`[^`]+`(?:,? and |, )?)+)")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict) -> dict:
    """The `on:` block as a dict (YAML 1.1 reads a bare `on` key as True)."""
    on = workflow.get("on", workflow.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {name: None for name in on}
    return on or {}


def required_checks(path: Path) -> list[str]:
    """The check names a document tells mentors to require: the `names` in "require the status checks `A` and `B`"."""
    groups = REQUIRE_SENTENCE.findall(path.read_text(encoding="utf-8"))
    return sorted({name for group in groups for name in re.findall(r"`([^`]+)`", group)})


def jobs_named(check: str) -> list[tuple[Path, str, dict]]:
    """(workflow file, job id, job) for every job whose check name (its `name:`, else its id) is `check`."""
    found = []
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for job_id, job in load(path)["jobs"].items():
            if job.get("name", job_id) == check:
                found.append((path, job_id, job))
    return found


def _glob_regex(pattern: str) -> re.Pattern:
    """GitHub's filter patterns: `**` crosses folders, `*` does not."""
    regex = re.escape(pattern).replace(r"\*\*", "\0").replace(r"\*", "[^/]*").replace("\0", ".*")
    return re.compile(f"^{regex}$")


def _matches(patterns: list[str], value: str) -> bool:
    return any(_glob_regex(pattern).match(value) for pattern in patterns)


def has_path_filter(workflow: dict) -> bool:
    return any(isinstance(spec, dict) and ({"paths", "paths-ignore"} & spec.keys()) for spec in triggers(workflow).values())


def runs_on_pull_request(workflow: dict, changed_files: list[str], base_branch: str = "main") -> bool:
    """Whether a pull request into base_branch changing changed_files starts this workflow."""
    on = triggers(workflow)
    if "pull_request" not in on:
        return False
    spec = on["pull_request"] or {}
    if "types" in spec and not {"opened", "synchronize", "reopened"} <= set(spec["types"]):
        return False
    return _filters_pass(spec, base_branch, changed_files)


def runs_on_push(workflow: dict, branch: str, changed_files: list[str]) -> bool:
    """Whether a push to branch changing changed_files starts this workflow (a push that creates a branch
    counts every file of its first commit as changed)."""
    on = triggers(workflow)
    if "push" not in on:
        return False
    return _filters_pass(on["push"] or {}, branch, changed_files)


def _filters_pass(spec: dict, branch: str, changed_files: list[str]) -> bool:
    """An event's branches, branches-ignore, paths and paths-ignore filters, as GitHub applies them."""
    if "branches" in spec and not _matches(spec["branches"], branch):
        return False
    if "branches-ignore" in spec and _matches(spec["branches-ignore"], branch):
        return False
    if "paths" in spec and not any(_matches(spec["paths"], name) for name in changed_files):
        return False
    if "paths-ignore" in spec and all(_matches(spec["paths-ignore"], name) for name in changed_files):
        return False
    return True


def accepts_dispatch(workflow: dict) -> bool:
    return "workflow_dispatch" in triggers(workflow)


def dispatched_on(job: dict, ref_variable: str) -> set[str]:
    """Workflow files a job starts with `gh workflow run FILE --ref "$ref_variable"`."""
    started = set()
    for step in job.get("steps", []):
        for line in step.get("run", "").splitlines():
            words = shlex.split(line.strip()) if line.strip().startswith("gh workflow run") else []
            if len(words) > 3 and "--ref" in words and words[words.index("--ref") + 1] == f"${ref_variable}":
                started.add(words[3])
    return started
