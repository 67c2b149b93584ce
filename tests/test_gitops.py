"""The GitOps flow with real git, running the commands of the workflow YAML itself.

A bare repository stands for the learner's GitHub repository and a clone for
the learner. A small runner below plays GitHub Actions: it reads a job from
.github/workflows/*.yml, checks out the repository fresh, and runs each step's
`run:` block with bash (`-eo pipefail`, as `shell: bash` does), with the step's
`env:` and `if:` evaluated. What it does not run:
  * `make setup` and `make setup-publish`: this test's virtual environment already
    has everything (tests/test_publish_tree.py checks the publishing job needs no
    more than requirements-publish.lock);
  * `uses:` actions: checkout is a fresh `git clone`, upload/download-artifact
    copy folders, setup-python and cache do nothing, create-github-app-token
    gives a made-up token, and `gh` is a stand-in script that records what it
    was asked to do, and with which token (no GitHub here).
So if a workflow's command is wrong, this test fails. Whether GitHub would start
a workflow for an event is read from its triggers (tests/workflow_helpers.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from workflow_helpers import SETUP_DOCS, accepts_dispatch, jobs_named, required_checks, runs_on_pull_request, runs_on_push

WORKFLOWS = REPO / ".github" / "workflows"
# What a learner's repository holds: the template's tracked files under these paths.
TEMPLATE_PATHS = [".github", ".gitignore", "LICENSE", "Makefile", "README.md", "datasets", "model_card.j2", "project.toml",
                  "requirements.txt", "requirements-dev.txt", "requirements.lock", "requirements-gpu.txt", "requirements-publish.txt",
                  "requirements-publish.lock", "scripts", "template", "uv-lock.toml"]  # fmt: skip
QUICK_SETTINGS = {
    "project": {"hub_owner": "ada-learner"},
    "train": {"max_steps": 2, "batch_size": 4, "logging_steps": 1, "save_steps": 1000, "precision": "fp32"},
    # 12: the bundled eval set's longest `answer` ("Netumbo Nandi-Ndaitwah") is 10 tokens, and validate refuses a
    # max_new_tokens in which a right reply cannot fit.
    "evaluate": {"max_new_tokens": 12, "side_by_side": 3, "batch_size": 16},
}


# ---------------------------------------------------------------- git helpers


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def make_learner_repo(tmp_path: Path, base_model: Path, settings: dict = QUICK_SETTINGS) -> tuple[Path, Path]:
    """A bare 'GitHub' repository with the template on main, and the learner's clone of it."""
    from conftest import set_values

    learner, bare = tmp_path / "learner", tmp_path / "github.git"
    tracked = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "--", *TEMPLATE_PATHS], cwd=REPO, capture_output=True, text=True
    ).stdout.split()
    for name in tracked:
        if (REPO / name).is_file():
            (learner / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, learner / name)
    config = learner / "project.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace('base = "HuggingFaceTB/SmolLM2-135M-Instruct"', f'base = "{base_model}"', 1))
    for section, values in settings.items():
        set_values(config, section, **values)
    git("init", "-q", "-b", "main", cwd=learner)
    git("config", "user.name", "Ada Learner", cwd=learner)
    git("config", "user.email", "ada@example.org", cwd=learner)
    git("add", "-A", cwd=learner)
    git("commit", "-q", "-m", "Use this template", cwd=learner)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    git("remote", "add", "origin", str(bare), cwd=learner)
    git("push", "-q", "-u", "origin", "main", cwd=learner)
    return bare, learner


# ---------------------------------------------------------------- a small GitHub Actions runner


class Runner:
    """Runs one job of a workflow file the way GitHub Actions would, for the steps this test can run."""

    def __init__(self, tmp_path: Path, bare: Path, context: dict):
        self.tmp, self.bare, self.context = tmp_path, bare, context
        self.artifacts = tmp_path / "artifacts"
        self.fake_bin = tmp_path / "fake-bin"
        self.gh_log = tmp_path / "gh-calls.jsonl"
        self._write_fake_gh()
        self.count = 0

    def _write_fake_gh(self) -> None:
        self.fake_bin.mkdir(exist_ok=True)
        gh = self.fake_bin / "gh"
        gh.write_text(
            f"#!{sys.executable}\n"
            "import json, os, sys\n"
            f"open({str(self.gh_log)!r}, 'a').write(json.dumps([os.environ.get('GH_TOKEN', '')] + sys.argv[1:]) + '\\n')\n"
            "# no pull request exists yet: `gh pr view` fails, everything else succeeds\n"
            "if sys.argv[1:3] == ['pr', 'view']: sys.exit(1)\n"
            "# `gh api repos/OWNER/REPO/contents/PATH?ref=BRANCH`: the file's git blob sha on that branch, as GitHub answers\n"
            "if sys.argv[1] == 'api' and '/contents/' in sys.argv[2]:\n"
            "    import subprocess\n"
            "    path, _, ref = sys.argv[2].split('/contents/', 1)[1].partition('?ref=')\n"
            f"    found = subprocess.run(['git', '--git-dir', {str(self.bare)!r}, 'rev-parse', '--verify', '-q', ref + ':' + path],\n"
            "                           capture_output=True, text=True).stdout.strip()\n"
            "    if not found: sys.exit('gh: Not Found (HTTP 404)')\n"
            "    print(found if sys.argv[3:5] == ['--jq', '.sha'] else json.dumps({'path': path, 'sha': found}))\n"
            "# GitHub's answer on a new copy, where Actions may not open pull requests yet\n"
            "if sys.argv[1:3] == os.environ.get('FAKE_GH_REFUSES', '').split():\n"
            "    sys.exit('pull request create failed: GraphQL: GitHub Actions is not permitted to create or approve pull requests (createPullRequest)')\n"
            "# a new pull request's address, as gh prints it\n"
            "if sys.argv[1:3] == ['pr', 'create']: print('https://github.com/ada-learner/namibia-qa/pull/12')\n"
            "# the open pull requests (JSON in FAKE_GH_OPEN_PRS) through the workflow's --jq filter, applied by jq: gh has\n"
            "# the same language built in (gojq)\n"
            "if sys.argv[1:3] == ['pr', 'list'] and os.environ.get('FAKE_GH_OPEN_PRS'):\n"
            "    import subprocess\n"
            "    jq = subprocess.run(['jq', '-r', sys.argv[sys.argv.index('--jq') + 1]], input=os.environ['FAKE_GH_OPEN_PRS'],\n"
            "                        capture_output=True, text=True, check=True)\n"
            "    print(jq.stdout, end='')\n"
        )
        gh.chmod(0o755)

    def gh_calls(self) -> list[list[str]]:
        return [arguments for _, arguments in self.gh_calls_with_tokens()]

    def gh_calls_with_tokens(self) -> list[tuple[str, list[str]]]:
        """(the GH_TOKEN gh was given, its arguments) for every call."""
        lines = self.gh_log.read_text().splitlines() if self.gh_log.exists() else []
        return [(call[0], call[1:]) for call in map(json.loads, lines)]

    def run_job(self, workflow: str, job_name: str, ref: str, needs: dict | None = None, until: str | None = None) -> "JobResult":
        """Runs the job's steps in order; with `until`, stops after the step with that id."""
        spec = yaml.safe_load((WORKFLOWS / workflow).read_text(encoding="utf-8"))
        job = spec["jobs"][job_name]
        self.count += 1
        work = self.tmp / f"runner-{self.count}-{job_name}"
        work.mkdir()  # GitHub's workspace exists, empty, before checkout (which clones into it)
        result = JobResult(work)
        files = {name: self.tmp / f"{name}-{self.count}" for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_PATH", "GITHUB_ENV")}
        for path in files.values():
            path.write_text("")
        github = {**self.context["github"], "ref": f"refs/heads/{ref}", "ref_name": ref}  # a push to, or a run on, ref
        scope = {**self.context, "github": github, "needs": needs or {}, "steps": result.steps}
        if "if" in job and not self.evaluate(job["if"], scope, result, is_condition=True):
            result.skipped = True
            return result
        env = {**spec.get("env", {}), **job.get("env", {})}
        for step in job["steps"]:
            if "if" in step and not self.evaluate(step["if"], scope, result, is_condition=True):
                continue
            if "if" not in step and result.failed:
                continue
            step_env = {key: str(self.render(value, {**scope, "env": env})) for key, value in {**env, **step.get("env", {})}.items()}
            if "uses" in step:
                self.use_action(step, work, result, scope)
                continue
            if step["run"].strip() in ("make setup", "make setup-publish"):
                continue  # this test's virtual environment is already set up
            run_env = {**os.environ, **step_env, **{k: str(v) for k, v in files.items()}}
            run_env["PATH"] = f"{self.fake_bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
            run_env["GITHUB_REPOSITORY"] = self.context["github"]["repository"]
            started = time.perf_counter()
            completed = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=work, env=run_env, capture_output=True, text=True, timeout=900,
            )  # fmt: skip
            output = (completed.stdout + completed.stderr)[-1500:]  # the end says what went wrong
            seconds = time.perf_counter() - started
            result.log.append(f"== {step.get('name', step['run'])} (exit {completed.returncode}, {seconds:.0f} s)\n{output}")
            outputs = dict(line.split("=", 1) for line in files["GITHUB_OUTPUT"].read_text().splitlines() if "=" in line)
            if "id" in step:
                result.steps[step["id"]] = {"outputs": outputs, "outcome": "success" if completed.returncode == 0 else "failure"}
            if completed.returncode != 0:
                result.failed = True
            if until is not None and step.get("id") == until:
                break
        result.summary = files["GITHUB_STEP_SUMMARY"].read_text()
        result.outputs = {key: str(self.render(value, scope)) for key, value in job.get("outputs", {}).items()}
        return result

    def use_action(self, step: dict, work: Path, result: "JobResult", scope: dict) -> None:
        action = step["uses"].split("@")[0]
        options = {key: str(self.render(value, scope)) for key, value in step.get("with", {}).items()}
        if action == "actions/checkout":
            subprocess.run(["git", "clone", "-q", "--branch", self.context["ref"], str(self.bare), str(work)], check=True)
            if self.context.get("sha"):  # the run's own commit (a re-run checks it out again, wherever the branch is now)
                subprocess.run(["git", "checkout", "-q", "--detach", self.context["sha"]], cwd=work, check=True)
        elif action == "actions/upload-artifact":
            # As upload-artifact does: paths are kept relative to the least common ancestor of what exists.
            sources = [work / pattern.rstrip("/") for pattern in options["path"].split() if (work / pattern).exists()]
            root = Path(os.path.commonpath(sources)) if sources else work
            root = root.parent if root.is_file() else root
            target = self.artifacts / options["name"]
            for source in sources:
                copy = target / source.relative_to(root)
                copy.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, copy, dirs_exist_ok=True)
                else:
                    shutil.copy2(source, copy)
        elif action == "actions/download-artifact":
            shutil.copytree(self.artifacts / options["name"], work / options.get("path", "."), dirs_exist_ok=True)
        elif action == "actions/create-github-app-token":
            assert options["client-id"], "the App token step needs its client id"
            if options["private-key"]:
                result.steps[step["id"]] = {"outputs": {"token": APP_TOKEN}, "outcome": "success"}
            else:  # what the action answers when the secret is not set
                result.log.append(f"== {step['name']} (failed)\nError: Input required and not supplied: private-key")
                result.steps[step["id"]] = {"outputs": {}, "outcome": "failure"}
                result.failed = result.failed or not step.get("continue-on-error", False)
        elif action not in ("actions/setup-python", "actions/cache"):
            raise AssertionError(f"this test cannot run {action}")

    # Expressions: `${{ ... }}` in values, and `if:` conditions (a small subset of GitHub's syntax).

    def render(self, value, scope: dict):
        if not isinstance(value, str):
            return value
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(self.evaluate(m.group(1), scope, None)), value)

    def evaluate(self, expression: str, scope: dict, result: "JobResult | None", is_condition: bool = False):
        expression = expression.strip()
        if expression.startswith("${{") and expression.endswith("}}"):
            expression = expression[3:-2].strip()
        python = re.sub(r"\b(github|inputs|secrets|vars|env|runner|steps|needs)((?:\.[\w-]+)+)", r"lookup('\1\2')", expression)
        python = python.replace("&&", " and ").replace("||", " or ")
        python = re.sub(r"!(?!=)", " not ", python)
        failed = bool(result and result.failed)

        def lookup(path: str):
            value = scope
            for part in path.split("."):
                value = value.get(part, "") if isinstance(value, dict) else ""
            return value

        def hash_files(pattern: str) -> str:
            return "hash" if result and list(result.work.glob(pattern)) else ""

        names = {"lookup": lookup, "hashFiles": hash_files, "cancelled": lambda: False, "always": lambda: True,
                 "success": lambda: not failed, "failure": lambda: failed}  # fmt: skip
        value = eval(python, {"__builtins__": {}}, names)  # a test helper over our own workflow files
        if is_condition and not re.search(r"\b(success|failure|always|cancelled)\(", expression):
            return (not failed) and bool(value)  # GitHub adds success() unless a status function is used
        return value


class JobResult:
    def __init__(self, work: Path):
        self.work = work
        self.steps: dict = {}
        self.failed = False
        self.skipped = False
        self.summary = ""
        self.outputs: dict = {}
        self.log: list[str] = []

    def __str__(self) -> str:
        return "\n".join(self.log)


APP_TOKEN = "ghs_made-up-app-installation-token"


def context(ref: str, **github) -> dict:
    event = {"pull_request": {"number": 7, "head": {"sha": "0" * 40}}, "repository": {"default_branch": "main"}}
    return {
        "ref": ref,
        "github": {"ref_name": ref, "run_id": "4242", "repository": "ada-learner/namibia-qa", "token": "fake-token",
                   "event": event, **github},  # fmt: skip
        "secrets": {},  # no HF_TOKEN: publish is a dry run, hf-jobs is not used
        "vars": {},
        "runner": {"os": "Linux", "temp": "/tmp"},
    }


# ---------------------------------------------------------------- the flow


def needed_steps_missing() -> list[str]:
    return [step for step in ("validate", "train", "evaluate", "export", "card", "space", "publish", "rubric", "dispatch")
            if importlib.util.find_spec(f"scripts.{step}") is None]  # fmt: skip


BROKEN_LINE = '{"messages": [{"role": "user", "content": "What is the currency of Namibia?"}]}'  # no answer
PERSONAL = (
    '{"messages": [{"role": "user", "content": "Who runs the Windhoek tour desk?"}, '
    '{"role": "assistant", "content": "Call Maria on +264 81 234 5678 or write to maria.shikongo@example.com."}]}'
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pull_request_train_review_merge_publish(tmp_path, tiny_model_dir, monkeypatch):
    missing = needed_steps_missing()
    if missing:
        pytest.skip(f"steps not built yet: {', '.join(missing)}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # no saved Hugging Face token can leak in
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    bare, learner = make_learner_repo(tmp_path, tiny_model_dir)
    runner = Runner(tmp_path, bare, context("main"))

    # 1. The learner adds a broken line and personal data on a branch and opens a pull request.
    git("switch", "-q", "-c", "more-data", cwd=learner)
    train_file = learner / "datasets" / "train.jsonl"
    clean = train_file.read_text(encoding="utf-8")
    lines = clean.splitlines()
    train_file.write_text("\n".join(lines + [BROKEN_LINE, PERSONAL]) + "\n", encoding="utf-8")
    broken_at, personal_at = len(lines) + 1, len(lines) + 2
    git("commit", "-q", "-am", "Add two questions", cwd=learner)
    git("push", "-q", "origin", "more-data", cwd=learner)

    runner.context["ref"] = "more-data"
    check = runner.run_job("validate.yml", "validate", "more-data")
    assert check.failed, check
    assert "Not ready to train" in check.summary, check
    assert f"train.jsonl:{broken_at}" in check.summary  # the line without an answer
    assert f"train.jsonl:{personal_at}" in check.summary and "e-mail address" in check.summary
    assert (check.work / "outputs/validate/pr_number.txt").read_text().strip() == "7"  # for the comment workflow

    # 2. The learner fixes the line and removes the personal data: the check passes.
    cleaned = PERSONAL.replace("Call Maria on +264 81 234 5678 or write to maria.shikongo@example.com.", "Ask the tourism office.")
    train_file.write_text(clean + cleaned + "\n", encoding="utf-8")
    git("commit", "-q", "-am", "Fix the broken line; remove personal data", cwd=learner)
    git("push", "-q", "origin", "more-data", cwd=learner)
    check = runner.run_job("validate.yml", "validate", "more-data")
    assert not check.failed, check
    assert "Ready to train" in check.summary, check.summary[:2000]

    # 3. The mentor merges the pull request; the push to main runs the Train workflow.
    git("switch", "-q", "main", cwd=learner)
    git("merge", "-q", "--no-ff", "more-data", "-m", "Merge pull request #7", cwd=learner)
    git("push", "-q", "origin", "main", cwd=learner)
    runner.context["ref"] = "main"
    trained = runner.run_job("train.yml", "train", "main")
    assert not trained.failed, trained
    assert trained.outputs["stage"] == "train-here"
    assert "Rubric pre-score" in trained.summary
    opened = runner.run_job("train.yml", "results-pr", "main", needs={"train": {"outputs": trained.outputs}})
    assert not opened.failed and not opened.skipped, opened

    branch = "results/run-4242"
    files = set(git("ls-tree", "-r", "--name-only", branch, cwd=bare).splitlines())
    assert {"results/manifest.json", "results/model/README.md", "results/model/adapter_model.safetensors"} <= files
    assert any(name.startswith("results/space/") for name in files)
    assert not any(name.startswith("outputs/") for name in files)
    create = next(call for call in runner.gh_calls() if call[:2] == ["pr", "create"])
    assert create[create.index("--head") + 1] == branch
    body = (opened.work / create[create.index("--body-file") + 1]).read_text()
    assert "<!-- results-pr -->" in body and "Rubric pre-score" in body and "| Accuracy" in body
    # The images link to the branch's commit, which GitHub keeps after the branch is deleted; not to the branch.
    commit = git("rev-parse", branch, cwd=bare)
    assert f"https://github.com/ada-learner/namibia-qa/blob/{commit}/results/" in body and f"/blob/{branch}/" not in body

    # 4. The mentor merges the results pull request: the prepare job (no secrets) writes the exact trees, and the
    #    publishing job checks the trees it downloads against its own checkout's manifest (a dry run: no token here).
    git("fetch", "-q", "origin", cwd=learner)
    git("merge", "-q", "--no-ff", f"origin/{branch}", "-m", "Merge results pull request", cwd=learner)
    git("push", "-q", "origin", "main", cwd=learner)
    prepared = runner.run_job("publish.yml", "prepare", "main")
    assert not prepared.failed and not prepared.skipped and prepared.outputs == {"results": "yes"}, prepared
    published = runner.run_job("publish.yml", "publish", "main", needs={"prepare": {"result": "success", "outputs": prepared.outputs}})
    assert not published.failed and not published.skipped, published
    assert runner.run_job("publish.yml", "publish", "more-data", needs={"prepare": {"result": "success", "outputs": {"results": "yes"}}}).skipped  # only main publishes
    assert "matches results/manifest.json; nothing was uploaded" in str(published)
    manifest = json.loads((published.work / "results" / "manifest.json").read_text())
    trees = published.work / "outputs" / "reviewed-trees"
    for name, repo in manifest["repos"].items():
        derived = (repo.get("derived") or {}).get("files", [])  # e.g. the GGUF file: rebuilt, never committed
        for item in repo["files"] + derived:
            assert sha256(trees / name / item["path"]) == item["sha256"], f"{name}/{item['path']}"

    # 5. The trees handed over are not what was reviewed (a poisoned prepare job): the publishing job refuses.
    gguf = next(path for path in (runner.artifacts / "publish-trees" / "model").iterdir() if path.suffix == ".gguf")
    gguf.write_bytes(gguf.read_bytes() + b"extra")
    refused = runner.run_job("publish.yml", "publish", "main", needs={"prepare": {"result": "success", "outputs": prepared.outputs}})
    assert refused.failed and f"model/{gguf.name}: sha256 differs" in str(refused), refused

    # 6. Someone edits a reviewed file on main after the merge: the prepare job refuses, before any secret is near.
    card = learner / "results" / "model" / "README.md"
    card.write_text(card.read_text() + "\nA line nobody reviewed.\n")
    git("commit", "-q", "-am", "Edit the card after review", cwd=learner)
    git("push", "-q", "origin", "main", cwd=learner)
    refused = runner.run_job("publish.yml", "prepare", "main")
    assert refused.failed
    assert "results/model/README.md" in str(refused) and "Nothing was published" in str(refused)


def test_the_colab_notebook_runs_and_its_pushed_branch_goes_to_review(tmp_path, tiny_model_dir, monkeypatch):
    """Executes the Colab notebook with nbclient: clone (from the local bare repo instead of GitHub),
    validate, train 2 steps, evaluate, push a trained/ branch. Cells tagged gpu-only (the GPU check,
    and the install of bitsandbytes, which needs CUDA) are skipped when this machine has no GPU, as here.
    Then the Train workflow runs on that push: no training, straight to the review, and the results
    branch leaves the pushed outputs/ out."""
    import nbclient
    import nbformat
    import torch

    from scripts.dispatch import render_notebook

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    settings = {**QUICK_SETTINGS, "train": {**QUICK_SETTINGS["train"], "backend": "colab"}}
    bare, _ = make_learner_repo(tmp_path, tiny_model_dir, settings)
    notebook_path = render_notebook(
        tmp_path / "train.ipynb", {"GITHUB_REPO": "ada-learner/namibia-qa", "BRANCH": "main", "CLONE_URL": str(bare)}
    )
    notebook = nbformat.read(notebook_path, as_version=4)
    if not torch.cuda.is_available():
        notebook.cells = [cell for cell in notebook.cells if "gpu-only" not in cell.metadata.get("tags", [])]
    colab = tmp_path / "colab"
    colab.mkdir()
    nbclient.NotebookClient(notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(colab)}}).execute()

    (branch,) = git("branch", "--list", "trained/*", cwd=bare).split()
    files = git("ls-tree", "-r", "--name-only", branch, cwd=bare).splitlines()
    assert "outputs/train/adapter/adapter_model.safetensors" in files
    assert "outputs/evaluate/metrics.json" in files and "outputs/train/metrics.json" in files

    missing = needed_steps_missing()
    if missing:
        pytest.skip(f"the notebook works; the review part waits for steps not built yet: {', '.join(missing)}")
    runner = Runner(tmp_path, bare, context(branch))
    job = runner.run_job("train.yml", "train", branch)
    assert not job.failed, job
    assert job.outputs["stage"] == "trained"
    assert "Train on this runner" not in str(job)  # skipped: Colab trained it
    opened = runner.run_job("train.yml", "results-pr", branch, needs={"train": {"outputs": job.outputs}})
    assert not opened.failed, opened
    files = git("ls-tree", "-r", "--name-only", "results/run-4242", cwd=bare).splitlines()
    assert "results/manifest.json" in files and not any(name.startswith("outputs/") for name in files)
    create = next(call for call in runner.gh_calls() if call[:2] == ["pr", "create"])
    body = (opened.work / create[create.index("--body-file") + 1]).read_text()
    assert body.startswith("> [!IMPORTANT]\n> **Self-reported results.**") and f"branch `{branch}`" in body
    pushed = subprocess.run(["git", "show", f"{branch}:outputs/train/adapter/adapter_model.safetensors"], cwd=bare,
                            capture_output=True, check=True).stdout  # the adapter Colab pushed  # fmt: skip
    assert f"| `outputs/train/adapter/adapter_model.safetensors` | {len(pushed)} | `{hashlib.sha256(pushed).hexdigest()}` |" in body


def test_the_colab_download_holds_what_a_push_would_and_says_how_to_push_it(tmp_path, tiny_model_dir, monkeypatch, capsys):
    """HAND_BACK = "download" (no GitHub token in Colab): the zip holds the files the push would commit, not the
    checkpoints, and the commands it prints push a trained/... branch with them from the learner's clone; the test
    above shows such a branch goes on to the review. It used to say "run `python -m scripts card`", which opens no
    results pull request."""
    import zipfile

    import nbformat

    bare, learner = make_learner_repo(tmp_path, tiny_model_dir)
    notebook = nbformat.read(REPO / "template" / "colab" / "train.ipynb", as_version=4)
    helpers = next(cell.source for cell in notebook.cells if "def git(" in cell.source)
    hand_back = next(cell.source for cell in notebook.cells if "HAND_BACK ==" in cell.source)
    colab = tmp_path / "colab-clone"  # what training left in the notebook's clone
    trained = ["outputs/train/adapter/adapter_model.safetensors", "outputs/train/adapter/adapter_config.json",
               "outputs/train/metrics.json", "outputs/evaluate/metrics.json"]  # fmt: skip
    for name in [*trained, "outputs/train/checkpoints/checkpoint-2/optimizer.pt"]:
        (colab / name).parent.mkdir(parents=True, exist_ok=True)
        (colab / name).write_text(name)
    monkeypatch.chdir(colab)
    namespace = {"HAND_BACK": "download", "BRANCH": "main", "PROJECT": str(colab)}
    exec(helpers, namespace)  # the notebook's own code, as Colab runs it
    exec(hand_back, namespace)
    said = capsys.readouterr().out

    archive = Path(re.search(r"Wrote (\S+\.zip)\.", said).group(1))
    with zipfile.ZipFile(archive) as bundle:
        assert sorted(bundle.namelist()) == sorted(trained)
        bundle.extractall(learner)
    archive.unlink()
    commands = [line.strip() for line in said.splitlines() if line.startswith("  git ")]
    assert commands, said
    for command in commands:
        subprocess.run(command, shell=True, cwd=learner, check=True, capture_output=True)
    (branch,) = git("branch", "--list", "trained/*", cwd=bare).split()
    assert sorted(git("ls-tree", "-r", "--name-only", branch, "--", "outputs", cwd=bare).splitlines()) == sorted(trained)


def test_the_colab_backend_stops_the_run_with_a_link(tmp_path, tiny_model_dir, monkeypatch):
    settings = {**QUICK_SETTINGS, "train": {"backend": "colab"}}
    bare, _ = make_learner_repo(tmp_path, tiny_model_dir, settings)
    monkeypatch.setenv("GITHUB_REPOSITORY", "ada-learner/namibia-qa")
    runner = Runner(tmp_path, bare, context("main"))
    # Only the first steps matter here: stop before training by running the job; stage=waiting skips the rest.
    job = runner.run_job("train.yml", "train", "main")
    assert not job.failed, job
    assert job.outputs["stage"] == "waiting"
    assert "https://colab.research.google.com/github/ada-learner/namibia-qa/blob/main/template/colab/train.ipynb" in job.summary
    assert runner.run_job("train.yml", "results-pr", "main", needs={"train": {"outputs": job.outputs}}).skipped


# ---------------------------------------------------------------- "Use this template": the copy's first push


def job_starts(tmp_path: Path, workflow: str, job_name: str, ref: str, event: dict) -> bool:
    """Whether GitHub would start the job for a push to (or a run on) ref with this event payload: its `if:` alone."""
    job = yaml.safe_load((WORKFLOWS / workflow).read_text(encoding="utf-8"))["jobs"][job_name]
    runner = Runner(tmp_path, tmp_path, context(ref, event=event))
    scope = {**runner.context, "github": {**runner.context["github"], "ref": f"refs/heads/{ref}", "ref_name": ref}}
    return "if" not in job or bool(runner.evaluate(job["if"], scope, None, is_condition=True))


def test_creating_a_copy_trains_nothing_and_publishes_nothing(tmp_path):
    """GitHub sends the first commit of a repository made with "Use this template" as a push that creates main
    (the push event's documentation: "or when you create a repository from a template"), every file changed, so
    the Train workflow's paths filter lets it through. The copy still holds the template's example and nothing is
    set up: training it would take the runner's minutes and then fail to open the results pull request (Actions may
    not open pull requests until the learner allows it). A Colab run's push creates its trained/... branch too, and
    must still train. What this cannot show: the payload GitHub sends (`created: true`, as on every push that
    creates a branch)."""
    files = git("ls-files", cwd=REPO).splitlines()  # what the copy's first commit holds
    repository = {"default_branch": "main", "is_template": False}
    creation = {"created": True, "before": "0" * 40, "repository": repository}
    workflows = {name: yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8")) for name in ("train.yml", "publish.yml", "ci.yml")}

    assert runs_on_push(workflows["train.yml"], "main", files)  # GitHub starts the workflow...
    assert not job_starts(tmp_path, "train.yml", "train", "main", creation)  # ...and its training job stays skipped
    results_pr = workflows["train.yml"]["jobs"]["results-pr"]
    assert results_pr["needs"] == "train" and not re.search(r"\b(always|failure|cancelled)\(", results_pr["if"])  # skipped with it
    assert job_starts(tmp_path, "train.yml", "train", "trained/20260301-1200", creation)  # Colab pushed its outputs
    assert job_starts(tmp_path, "train.yml", "train", "main", {"created": False, "before": "1" * 40, "repository": repository})
    assert job_starts(tmp_path, "train.yml", "train", "main", {"repository": repository})  # "Run workflow": no `created`

    assert not any(name.startswith("results/") for name in files), "the template ships results/: every copy would publish them"
    assert not runs_on_push(workflows["publish.yml"], "main", files)
    assert runs_on_push(workflows["ci.yml"], "main", files)  # the Tests check the copy's first commit, as wanted


# ---------------------------------------------------------------- the required checks on the results pull request


def upload_train_results(runner: Runner) -> None:
    """What the train job uploads for the results-pr job (results/ and the pull-request text), without training."""
    artifact = runner.artifacts / "results"
    files = {
        "results/model/README.md": "# namibia-qa\n",
        "results/manifest.json": '{"schema": 1, "repos": {}}\n',
        "outputs/rubric/pr_body.md": "<!-- results-pr -->\n# Results\n",
    }
    for name, text in files.items():
        (artifact / name).parent.mkdir(parents=True, exist_ok=True)
        (artifact / name).write_text(text, encoding="utf-8")


def test_a_refused_results_pull_request_says_which_setting_to_change(tmp_path, monkeypatch):
    """On a new copy GitHub refuses a pull request opened with the workflow's token until the learner ticks
    "Allow GitHub Actions to create and approve pull requests". gh's error names the refusal, not the setting,
    and the run goes red after training: the run itself must say where to tick it and that a re-run finishes."""
    bare, _ = make_learner_repo(tmp_path, tmp_path / "no-model-needed")  # nothing here trains
    runner = Runner(tmp_path, bare, context("main"))
    upload_train_results(runner)
    monkeypatch.setenv("FAKE_GH_REFUSES", "pr create")
    opened = runner.run_job("train.yml", "results-pr", "main", needs={"train": {"outputs": {"stage": "train-here"}}})
    assert opened.failed
    assert "not permitted to create or approve pull requests" in str(opened)  # GitHub's own sentence is kept
    for shown in (" ".join(str(opened).split()), " ".join(opened.summary.split())):
        assert "Settings > Actions > General > Workflow permissions" in shown.replace("**", ""), shown
        assert "Allow GitHub Actions to create and approve pull requests" in shown.replace("**", ""), shown
        assert "Re-run failed jobs" in shown.replace("**", "") and "results/run-4242" in shown, shown
    assert not any(call[:2] == ["workflow", "run"] for call in runner.gh_calls())  # no checks for a pull request that is not there
    monkeypatch.delenv("FAKE_GH_REFUSES")
    rerun = runner.run_job("train.yml", "results-pr", "main", needs={"train": {"outputs": {"stage": "train-here"}}})
    assert not rerun.failed, rerun  # ticked: "Re-run failed jobs" pushes the same branch again and opens the pull request


def test_a_github_app_without_its_key_still_opens_the_results_pull_request(tmp_path):
    """A learner sets the variable RESULTS_APP_CLIENT_ID but puts the key somewhere else (a variable, the environment)
    or not at all: the App step fails after training finished. The job must still push the branch and open the pull
    request the way it does without an App, and say which secret and which App setting to check."""
    bare, _ = make_learner_repo(tmp_path, tmp_path / "no-model-needed")  # nothing here trains
    runner = Runner(tmp_path, bare, context("main"))
    runner.context["vars"]["RESULTS_APP_CLIENT_ID"] = "Iv23-course-app"  # and no RESULTS_APP_PRIVATE_KEY secret
    upload_train_results(runner)
    opened = runner.run_job("train.yml", "results-pr", "main", needs={"train": {"outputs": {"stage": "train-here"}}})
    assert not opened.failed, opened
    calls = runner.gh_calls_with_tokens()
    ((token, create),) = [(token, arguments) for token, arguments in calls if arguments[:2] == ["pr", "create"]]
    assert token == "fake-token"  # the workflow's own token
    assert [arguments[2] for _, arguments in calls if arguments[:2] == ["workflow", "run"]] == ["ci.yml", "validate.yml"]
    assert "Reopen pull request" in (opened.work / create[create.index("--body-file") + 1]).read_text()
    for shown in (" ".join(str(opened).split()), " ".join(opened.summary.split())):
        assert "RESULTS_APP_PRIVATE_KEY" in shown and "installed on this repository" in shown, shown
        assert "Settings > Secrets and variables > Actions" in shown.replace("**", ""), shown


@pytest.mark.parametrize("with_app", [False, True], ids=["without-app", "with-github-app"])
def test_every_required_check_runs_on_the_results_branch(tmp_path, with_app):
    """The results-pr job pushes the branch with real git; then, for each check the docs ask mentors to require,
    the workflow's triggers must start it there: on the pull request the App's token opened, or by the job's
    `gh workflow run` without an App. What this cannot show: that GitHub counts those runs (see train.yml)."""
    bare, _ = make_learner_repo(tmp_path, tmp_path / "no-model-needed")  # nothing here trains
    runner = Runner(tmp_path, bare, context("main"))
    if with_app:
        runner.context["vars"]["RESULTS_APP_CLIENT_ID"] = "Iv23-course-app"
        runner.context["secrets"]["RESULTS_APP_PRIVATE_KEY"] = "-----BEGIN made-up key-----"
    upload_train_results(runner)
    opened = runner.run_job("train.yml", "results-pr", "main", needs={"train": {"outputs": {"stage": "train-here"}}})
    assert not opened.failed and not opened.skipped, opened

    branch = "results/run-4242"
    changed = git("diff", "--name-only", f"main...{branch}", cwd=bare).splitlines()
    assert changed and all(name.startswith("results/") for name in changed), changed
    calls = runner.gh_calls_with_tokens()
    ((token, create),) = [(token, arguments) for token, arguments in calls if arguments[:2] == ["pr", "create"]]
    started = [arguments for _, arguments in calls if arguments[:2] == ["workflow", "run"]]
    body = (opened.work / create[create.index("--body-file") + 1]).read_text()

    checks = required_checks(SETUP_DOCS[0])
    assert checks == required_checks(SETUP_DOCS[1]) and checks
    for check in checks:
        ((path, _, _),) = jobs_named(check)
        workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
        if with_app:  # GitHub runs pull_request workflows for a pull request the App opened
            assert token == APP_TOKEN, "the results pull request was not opened with the App's token"
            assert runs_on_pull_request(workflow, changed), f"{path.name} ({check}) would not run on the results pull request"
        else:
            assert ["workflow", "run", path.name, "--ref", branch] in started, f"{check}: not started on {branch}: {started}"
            assert accepts_dispatch(workflow), f"{path.name} ({check}) does not accept workflow_dispatch"
    assert "changes files outside" not in body  # a results branch made from main changes results/ only
    if with_app:
        assert started == [] and "Reopen pull request" not in body
    else:
        assert "Reopen pull request" in body  # the mentor is told how to make the checks count

    # The Data check, started on the results branch, passes at once: a results branch changes no data.
    runner.context["ref"] = branch
    runner.context["github"]["event"] = {"repository": {"default_branch": "main"}}  # a workflow_dispatch event
    data_check = runner.run_job("validate.yml", "validate", branch)
    assert not data_check.failed, data_check
    assert "nothing to check" in data_check.summary, data_check.summary


def test_a_results_branch_that_changes_more_than_results_says_so(tmp_path):
    """A trained/... branch (pushed from Colab by anyone who may write) holds whatever was committed on it, not only
    outputs/; the results branch is made from it, so merging the results merges those changes too, and the mentor
    guide tells mentors that results/ is what they review. The pull request's text must name every other file."""
    bare, learner = make_learner_repo(tmp_path, tmp_path / "no-model-needed")  # nothing here trains
    branch = "trained/20260301-1200"
    git("switch", "-q", "-c", branch, cwd=learner)
    (learner / "outputs" / "train").mkdir(parents=True)
    (learner / "outputs" / "train" / "metrics.json").write_text("{}\n", encoding="utf-8")
    publish = learner / "scripts" / "publish.py"
    publish.write_text(publish.read_text(encoding="utf-8") + "\n# changed on the Colab branch\n", encoding="utf-8")
    git("add", "-f", "outputs", "scripts", cwd=learner)
    git("commit", "-q", "-m", "Training outputs from Colab", cwd=learner)
    git("push", "-q", "origin", branch, cwd=learner)

    runner = Runner(tmp_path, bare, context(branch))
    upload_train_results(runner)
    opened = runner.run_job("train.yml", "results-pr", branch, needs={"train": {"outputs": {"stage": "trained"}}})
    assert not opened.failed, opened
    create = next(call for call in runner.gh_calls() if call[:2] == ["pr", "create"])
    body = (opened.work / create[create.index("--body-file") + 1]).read_text()
    assert "[!WARNING]" in body and f"`{branch}`" in body, body
    named = re.findall(r"^> - `(.+)`$", body, flags=re.MULTILINE)
    assert named == ["scripts/publish.py"], body  # outputs/ stays out of the results branch, results/ is the review


def test_the_data_check_started_on_main_passes_so_branch_protection_can_require_it(tmp_path):
    """GitHub's branch protection offers only checks that passed in the repository in the last 7 days, and a new
    copy has never run the Data check (no pull request yet). The mentor guide says to start it on main with
    "Run workflow": it must accept that, and pass there without a pull request to compare with."""
    bare, _ = make_learner_repo(tmp_path, tmp_path / "no-model-needed")  # nothing here trains
    assert accepts_dispatch(yaml.safe_load((WORKFLOWS / "validate.yml").read_text(encoding="utf-8")))
    runner = Runner(tmp_path, bare, context("main"))
    runner.context["github"]["event"] = {"repository": {"default_branch": "main"}}  # a workflow_dispatch event
    check = runner.run_job("validate.yml", "validate", "main")
    assert not check.failed, check
    assert "nothing to check" in check.summary, check.summary


@pytest.mark.parametrize(
    "event_name, head_repo, actor, secret, expected",
    [("pull_request", "ada-learner/namibia-qa", "ada", "hf_x", "yes"), ("pull_request", "ada-learner/namibia-qa", "ada", None, "no"),
     ("pull_request", "someone/fork", "someone", None, "unknown"), ("workflow_dispatch", None, "ada", None, "no"),
     ("pull_request", "ada-learner/namibia-qa", "dependabot[bot]", None, "unknown")],
    ids=["same-repo-with-secret", "same-repo-without", "fork", "run-workflow-without", "dependabot"],
)  # fmt: skip
def test_the_data_check_tells_validate_whether_the_jobs_secret_exists(tmp_path, event_name, head_repo, actor, secret, expected):
    """backend = "hf-jobs" needs HF_JOBS_TOKEN after the merge: the Data check passes validate whether it exists (never
    its value), and "unknown" for a fork's pull request, which GitHub gives no secrets. The expression is evaluated as
    this file's runner evaluates every other one; GitHub's own evaluator is not run here."""
    from scripts.validate_settings import JOBS_TOKEN_SET

    workflow = yaml.safe_load((WORKFLOWS / "validate.yml").read_text(encoding="utf-8"))
    [step] = [step for step in workflow["jobs"]["validate"]["steps"] if step.get("name") == "Check the data"]
    runner = Runner(tmp_path, tmp_path / "no-repo-needed", context("learner-branch", event_name=event_name, actor=actor))
    if head_repo:
        runner.context["github"]["event"]["pull_request"]["head"]["repo"] = {"full_name": head_repo}
    if secret:
        runner.context["secrets"]["HF_JOBS_TOKEN"] = secret
    assert runner.render(step["env"][JOBS_TOKEN_SET], runner.context) == expected


@pytest.mark.parametrize("stage, source", [("train-here", "bundled"), ("trained", "hub")])
def test_export_merges_into_the_weights_training_used(tmp_path, monkeypatch, stage, source):
    """Colab and Hugging Face Jobs train the default model on the Hub's weights ("trained"), this runner on the bundled
    copy dequantized from 4 bits ("train-here"). Export must merge the adapter into the same copy, or the GGUF file and
    the Space are another model than the one evaluated. The Export step's environment is evaluated as this file's
    runner evaluates every expression; GitHub's own evaluator is not run here."""
    from scripts import model

    workflow = yaml.safe_load((WORKFLOWS / "train.yml").read_text(encoding="utf-8"))
    [step] = [step for step in workflow["jobs"]["train"]["steps"] if step.get("name") == "Export"]
    runner = Runner(tmp_path, tmp_path / "no-repo-needed", context("main"))
    scope = {**runner.context, "steps": {"dispatch": {"outputs": {"stage": stage}}}}
    monkeypatch.setenv("FINETUNE_BUNDLED_FIRST", str(runner.render(step["env"]["FINETUNE_BUNDLED_FIRST"], scope)))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # tests set it; on GitHub the Hub can be reached
    (tmp_path / "model.safetensors").touch()
    monkeypatch.setattr("huggingface_hub.snapshot_download", lambda model_id, revision="main", allow_patterns=None: str(tmp_path))
    monkeypatch.setattr(model, "convert_bundled", lambda model_id: tmp_path / "bundled")
    assert model.resolve_base("HuggingFaceTB/SmolLM2-135M-Instruct").source == source


@pytest.mark.skipif(shutil.which("jq") is None, reason="needs jq to apply the workflow's --jq filter (gh has it built in)")
@pytest.mark.parametrize("newer_open", [False, True], ids=["newest-run", "a-newer-run-is-open"])
def test_only_the_newest_runs_results_pull_request_stays_open(tmp_path, monkeypatch, newer_open):
    """Two merges, two Train runs, two results pull requests: the older run was trained on older data, and merged after
    the newer one opened it would publish that older model and leave the newer one in conflict on binary files. The
    results job closes the open results pull requests of older runs (by run id), with a comment naming the new one,
    and leaves every other pull request open; an older run that ends (or is re-run) while a newer run's pull request
    is open opens none. GitHub's answers come from a fake gh; the --jq filters run in jq here (gh's built-in gojq is
    not run)."""
    bare, learner = make_learner_repo(tmp_path, tmp_path / "no-model-needed")
    git("push", "-q", "origin", "main", cwd=learner)
    runner = Runner(tmp_path, bare, context("main"))
    handed_over = runner.artifacts / "results"  # what the train job uploads: results/ and outputs/rubric/
    (handed_over / "results").mkdir(parents=True)
    (handed_over / "results" / "manifest.json").write_text('{"schema": 1, "repos": {}}\n', encoding="utf-8")
    (handed_over / "outputs" / "rubric").mkdir(parents=True)
    (handed_over / "outputs" / "rubric" / "pr_body.md").write_text("<!-- results-pr -->\n", encoding="utf-8")
    open_prs = [{"number": 5, "headRefName": "results/run-4000"}, {"number": 9, "headRefName": "more-data"},
                {"number": 11, "headRefName": "results/run-old-name"}]  # fmt: skip
    if newer_open:
        open_prs.append({"number": 8, "headRefName": "results/run-9999"})
    monkeypatch.setenv("FAKE_GH_OPEN_PRS", json.dumps(open_prs))
    job = runner.run_job("train.yml", "results-pr", "main", needs={"train": {"outputs": {"stage": "train-here"}}})
    assert not job.failed, job
    created = [call for call in runner.gh_calls() if call[:2] == ["pr", "create"]]
    closed = [call for call in runner.gh_calls() if call[:2] == ["pr", "close"]]
    if newer_open:  # this run is the older one: nothing opened, nothing closed, no checks started, and it says why
        assert created == [] and closed == [] and not any(call[:2] == ["workflow", "run"] for call in runner.gh_calls())
        assert "No results pull request opened" in job.summary and "(#8)" in job.summary, job.summary
        return
    assert len(created) == 1
    assert [call[2] for call in closed] == ["5"], closed  # run 4000 < 4242; the others are no run's
    comment = closed[0][closed[0].index("--comment") + 1]
    assert comment.startswith("Superseded by #12, the results of a newer training run (run 4242)."), comment


# ---------------------------------------------------------------- which commit a Publish run may upload


@pytest.mark.parametrize(
    "later, publishes",
    [(None, True), ("a README fix", True), ("newer results", False), ("no results", False)],
    ids=["newest", "results-unchanged-since", "newer-results-merged", "results-removed-since"],
)
def test_an_old_publish_run_never_puts_older_results_over_newer_ones(tmp_path, later, publishes):
    """GitHub re-runs a workflow on the run's own commit (GITHUB_SHA), and a concurrency group does not promise that
    two Publish runs start in the order of their merges. So "Re-run all jobs" on last month's Publish run, or two
    results pull requests merged a minute apart, could upload older reviewed files over newer ones: reviewed bytes,
    but not the model the card on main describes. The publishing job asks GitHub (a `gh` that answers from the bare
    repository) for main's results/manifest.json and uploads only when it is still its own commit's."""
    bare, learner = make_learner_repo(tmp_path, tmp_path / "no-model-needed")  # nothing here trains
    manifest = learner / "results" / "manifest.json"
    manifest.parent.mkdir()
    manifest.write_text('{"schema": 1, "created": "2026-03-01T12:00:00+00:00", "repos": {}}\n', encoding="utf-8")
    git("add", "results", cwd=learner)
    git("commit", "-q", "-m", "Merge results pull request #8", cwd=learner)
    reviewed = git("rev-parse", "HEAD", cwd=learner)
    if later == "newer results":
        manifest.write_text('{"schema": 1, "created": "2026-03-02T12:00:00+00:00", "repos": {}}\n', encoding="utf-8")
    elif later == "a README fix":
        (learner / "README.md").write_text("# namibia-qa\n", encoding="utf-8")
    elif later == "no results":
        git("rm", "-q", "-r", "results", cwd=learner)
    if later:
        git("commit", "-q", "-am", f"Merge {later}", cwd=learner)
    git("push", "-q", "origin", "main", cwd=learner)

    runner = Runner(tmp_path, bare, context("main"))
    runner.context["sha"] = reviewed  # the run of the first merge, started (or re-run) after the later push
    (runner.artifacts / "publish-trees" / "model").mkdir(parents=True)  # what its prepare job handed over
    job = runner.run_job("publish.yml", "publish", "main", needs={"prepare": {"result": "success", "outputs": {"results": "yes"}}},
                         until=None if not publishes else "newest")  # fmt: skip
    if later == "no results":  # GitHub answers 404: one sentence, and nothing published
        assert job.failed and "Publish the reviewed files" not in str(job), job
        assert "GitHub did not give results/manifest.json on main" in str(job), job
        return
    assert not job.failed, job
    assert job.steps["newest"]["outputs"]["publish"] == ("yes" if publishes else "no"), job
    if not publishes:
        assert "Publish the reviewed files" not in str(job), job  # neither publishing step ran
        summary = " ".join(job.summary.split())
        assert "Nothing was published" in summary and "revert `results/`" in summary, summary


def test_a_reverted_first_results_pull_request_publishes_nothing_and_says_so(tmp_path):
    """Reverting the only results pull request removes results/ from main, which changes results/manifest.json's
    path, so Publish runs. It must not fail red asking for `card` and `space` (which make no sense then): it says
    there is nothing to publish and that the Hub keeps what was published, and the publishing job is skipped."""
    bare, learner = make_learner_repo(tmp_path, tmp_path / "no-model-needed")
    git("push", "-q", "origin", "main", cwd=learner)  # main without results/, as after the revert
    runner = Runner(tmp_path, bare, context("main"))
    prepare = runner.run_job("publish.yml", "prepare", "main")
    assert not prepare.failed, prepare
    assert prepare.outputs == {"results": "no"}, prepare.outputs
    summary = " ".join(prepare.summary.split())
    assert "Nothing to publish" in summary and "stay as they were last published" in summary, summary
    publish = runner.run_job("publish.yml", "publish", "main", needs={"prepare": {"result": "success", "outputs": prepare.outputs}})
    assert publish.skipped


# ---------------------------------------------------------------- what the Data check looks at


@pytest.mark.parametrize(
    "changed, checked",
    [
        ("data/train.jsonl", True),  # a data file project.toml keeps outside datasets/
        ("requirements.lock", True),  # what `make setup` installs: the code that checks the data
        ("results/manifest.json", False),  # the results pull request
        ("README.md", False),
        ("docs/mentor.md", False),
    ],
)
def test_the_data_check_skips_only_what_cannot_change_its_verdict(tmp_path, changed, checked):
    """The Data check passes at once ("nothing to check") when a pull request cannot change what validate finds.
    It is a required check, so a skip that is wrong lets unchecked data (personal data included) into a public main.
    [data] train, eval, probes and rehearsal may name files anywhere in the repository, and `make setup` installs
    requirements.lock: a change to either must be checked. Runs the workflow's own step on a real pull request branch."""
    bare, learner = make_learner_repo(tmp_path, tmp_path / "no-model-needed")
    (learner / "data").mkdir()
    git("mv", "datasets/train.jsonl", "data/train.jsonl", cwd=learner)
    config = learner / "project.toml"
    config.write_text(config.read_text(encoding="utf-8").replace('train = "datasets/train.jsonl"', 'train = "data/train.jsonl"', 1))
    git("commit", "-q", "-am", "Keep the training data in data/", cwd=learner)
    git("push", "-q", "origin", "main", cwd=learner)
    base = git("rev-parse", "HEAD", cwd=learner)

    git("switch", "-q", "-c", "change", cwd=learner)
    (learner / changed).parent.mkdir(parents=True, exist_ok=True)
    with (learner / changed).open("a", encoding="utf-8") as file:
        file.write(PERSONAL + "\n" if changed.endswith(".jsonl") else "\n")
    git("add", changed, cwd=learner)
    git("commit", "-q", "-m", f"Change {changed}", cwd=learner)
    git("push", "-q", "origin", "change", cwd=learner)

    runner = Runner(tmp_path, bare, context("change"))
    runner.context["github"]["event"]["pull_request"]["base"] = {"sha": base}
    job = runner.run_job("validate.yml", "validate", "change", until="changed")
    assert not job.failed, job
    assert job.steps["changed"]["outputs"]["check"] == ("yes" if checked else "no"), f"{changed}: {job}"


@pytest.mark.parametrize(
    "event, conclusion, comments",
    [("pull_request", "success", True), ("pull_request", "failure", True), ("pull_request", "cancelled", False),
     ("pull_request", "action_required", False), ("workflow_dispatch", "success", False)],  # fmt: skip
)
def test_the_report_comment_runs_only_for_a_finished_pull_request_check(tmp_path, event, conclusion, comments):
    """A fork's Data check that waits for a maintainer's approval completes as "action_required" with no job run and no
    artifact: commenting then would only fail, a red run on every such pull request. A check Train started on the
    results branch (workflow_dispatch) has no pull request to comment on."""
    run = {"workflow_run": {"event": event, "conclusion": conclusion}, "repository": {"default_branch": "main"}}
    assert job_starts(tmp_path, "comment-report.yml", "comment", "main", run) == comments
