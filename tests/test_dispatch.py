"""dispatch: HF Jobs up to the network boundary (a fake Hub client), and the Colab notebook, executed.

Nothing here reaches the Hub: `dispatch.hub_api` is replaced by a fake that
records every call, so the tests see the exact arguments `run_uv_job` gets.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from argparse import Namespace
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import REPO, evaluate_metrics, make_project, set_values
from scripts import dispatch
from scripts.config import load_settings
from scripts.github import parse_github_remote
from scripts.outputs import METRICS_FILE, evaluate_metrics_path, write_evaluate_metrics

TOKEN = "hf_FAKE_token_that_must_never_be_printed"
PROJECT_COMMIT = "0123456789abcdef" * 2 + "01234567"  # what the fake Hub answers for the project upload
HUB_MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.fixture
def hub_project(tmp_path):
    """A project whose base model is a Hub id, as a remote job needs."""
    config = make_project(tmp_path, HUB_MODEL)
    set_values(config, "project", hub_owner="ada-learner")
    set_values(config, "train", backend="hf-jobs", hf_flavor="t4-small", hf_timeout_minutes=60)
    return config


def run_cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m scripts ...` as a learner runs it, with extra environment variables."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "scripts", *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=300)


def arguments(**values) -> Namespace:
    defaults = {"backend": None, "yes": True, "dry_run": False, "resume": None, "ref": None, "repo": None, "config": "x"}
    return Namespace(**{**defaults, **values})


class FakeHub:
    """Stands in for HfApi: records calls, returns what a real job would."""

    def __init__(self, stage: str = "COMPLETED"):
        self.calls: list[tuple[str, dict]] = []
        self.stage = stage
        self.finished_runs: set[str] = set()  # runs whose job finished and uploaded its outputs to the mailbox
        self.uploaded: dict[str, bytes] = {}  # path in the mailbox -> content

    def file_exists(self, repo_id, filename, repo_type=None):
        self.calls.append(("file_exists", {"repo_id": repo_id, "filename": filename, "repo_type": repo_type}))
        return filename.split("/")[1] in self.finished_runs and filename.endswith("/outputs/evaluate/metrics.json")

    def whoami(self):
        return {"name": "ada-learner"}

    def list_jobs_hardware(self):
        raise OSError("no network in tests")  # dispatch falls back to its price table

    def create_repo(self, *args, **kwargs):
        self.calls.append(("create_repo", {"args": args, **kwargs}))

    def create_commit(self, repo_id, **kwargs):
        self.calls.append(("create_commit", {"repo_id": repo_id, **kwargs}))
        for operation in kwargs["operations"]:  # what the mailbox then holds, as git stores it
            self.uploaded[operation.path_in_repo] = Path(operation.path_or_fileobj).read_bytes()
        return SimpleNamespace(oid=PROJECT_COMMIT)

    def get_paths_info(self, repo_id, paths, repo_type=None, revision=None):
        assert revision == PROJECT_COMMIT  # the run's own upload, not the mailbox's moving main
        git_id = lambda data: hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: E731
        return [SimpleNamespace(path=path, blob_id=git_id(self.uploaded[path]), lfs=None) for path in paths if path in self.uploaded]

    def list_repo_commits(self, repo_id, **kwargs):
        # Newest first, as the Hub lists them: checkpoints after the project upload, and the upload itself.
        return [SimpleNamespace(commit_id="c" * 40, title="Checkpoint checkpoint-20"),
                SimpleNamespace(commit_id=PROJECT_COMMIT, title="Project files for run 20260101-120000")]  # fmt: skip

    def run_uv_job(self, **kwargs):
        self.calls.append(("run_uv_job", kwargs))
        return SimpleNamespace(id="job-123", url="https://huggingface.co/jobs/ada-learner/job-123")

    def fetch_job_logs(self, **kwargs):
        self.calls.append(("fetch_job_logs", kwargs))
        yield "Training a LoRA adapter ..."
        yield "Done"

    def wait_for_job(self, job_id, **kwargs):
        return SimpleNamespace(status=SimpleNamespace(stage=self.stage, message=None if self.stage == "COMPLETED" else "timeout"))

    def called(self, name: str) -> list[dict]:
        return [kwargs for call, kwargs in self.calls if call == name]


@pytest.fixture
def fake_hub(monkeypatch):
    hub = FakeHub()
    monkeypatch.setattr(dispatch, "hub_api", lambda token: hub)
    monkeypatch.setattr(dispatch, "_hf_token", lambda: TOKEN)
    return hub


def fake_results(repo_id, repo_type, allow_patterns, local_dir, token):
    """What snapshot_download would bring back from the mailbox after a finished job."""
    prefix = allow_patterns[0].split("/outputs/")[0]
    root = Path(local_dir) / prefix / "outputs"
    (root / "train" / "adapter").mkdir(parents=True)
    (root / "train" / "adapter" / "adapter_config.json").write_text("{}")
    (root / "evaluate").mkdir(parents=True)
    (root / "evaluate" / METRICS_FILE).write_text('{"tuned": {"accuracy": 0.9}}')  # copied as it is, not read


def test_dry_run_shows_the_job_and_its_cost_without_a_token(hub_project, tmp_path):
    result = run_cli("dispatch", "--config", str(hub_project), "--dry-run",
                     env_extra={"HF_TOKEN": "", "HF_HOME": str(tmp_path / "hf")})  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "t4-small (1 GPU)" in out and "60 min" in out
    assert "at most $0.40 = $0.40/hour x 60 min" in out and "jobs-pricing" in out
    assert "template/hf_jobs/train_job.py --runs-repo ada-learner/namibia-qa-runs" in out
    assert "HF_TOKEN (sent encrypted, never printed)" in out and "Dry run: nothing was sent." in out


def test_cost_estimate_is_price_per_hour_times_timeout(hub_project):
    set_values(hub_project, "train", hf_flavor="a10g-largex4", hf_timeout_minutes=90)
    plan = dispatch.plan_hf_job(load_settings(hub_project), "ada-learner", "run-1", resume=False)
    assert plan.usd_per_hour == 5.00 and plan.max_cost_usd == pytest.approx(7.50)
    assert "at most $7.50" in dispatch.cost_line(plan)


def test_multi_gpu_flavors_train_with_accelerate(hub_project):
    set_values(hub_project, "train", hf_flavor="a10g-largex4")
    plan = dispatch.plan_hf_job(load_settings(hub_project), "ada-learner", "run-1", resume=True)
    assert plan.script_args[plan.script_args.index("--processes") + 1] == "4"
    assert "accelerate launch --num_processes 4 -m scripts train --resume" in dispatch.describe_plan(plan)
    job_script = load_job_script()
    command = job_script.train_command(4, resume=True)
    assert command[1:] == ["launch", "--num_processes", "4", "-m", "scripts", "train", "--resume"]
    assert job_script.train_command(1, resume=False)[1:] == ["-m", "scripts", "train"]


def load_job_script():
    spec = importlib.util.spec_from_file_location("train_job", dispatch.JOB_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_exact_run_uv_job_arguments_and_no_token_in_output(hub_project, fake_hub, monkeypatch, capsys, tmp_path):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_results)
    monkeypatch.setattr(dispatch, "new_run_id", lambda: "20260101-120000")
    github_output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(github_output))
    cfg = load_settings(hub_project)

    assert dispatch.main(cfg, arguments()) == 0

    (job,) = fake_hub.called("run_uv_job")
    assert job == {
        "script": str(REPO / "template" / "hf_jobs" / "train_job.py"),
        "script_args": ["--runs-repo", "ada-learner/namibia-qa-runs", "--run-id", "20260101-120000",
                        "--processes", "1", "--torch", "torch==2.13.0",
                        "--project-revision", PROJECT_COMMIT],  # the commit made above, not a moving branch  # fmt: skip
        "dependencies": ["huggingface_hub==2.4.0"],
        "python": "3.11",
        "env": {"PYTHONUNBUFFERED": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"},
        "secrets": {"HF_TOKEN": TOKEN},  # by name, as a Job secret: never in env or arguments
        "flavor": "t4-small",
        "timeout": "60m",
        "name": "train-20260101-120000",
        "labels": {"made-by": "finetune-template", "run": "20260101-120000"},
        "namespace": "ada-learner",
    }
    (repo,) = fake_hub.called("create_repo")
    assert repo["args"] == ("ada-learner/namibia-qa-runs",) and repo["private"] is True and repo["repo_type"] == "dataset"
    (commit,) = fake_hub.called("create_commit")
    uploaded = {op.path_in_repo for op in commit["operations"]}
    prefix = "runs/20260101-120000/project/"
    assert {prefix + "project.toml", prefix + "datasets/train.jsonl", prefix + "scripts/train.py"} <= uploaded
    # train rehearses and evaluate checks forgetting on the job too: without these files both would stop there
    assert {prefix + "datasets/rehearsal.jsonl", prefix + "datasets/general_knowledge.jsonl"} <= uploaded
    assert fake_hub.called("fetch_job_logs")[0]["follow"] is True

    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err
    assert "Training a LoRA adapter" in out.out  # the job's logs are streamed
    assert (cfg.step_dir("train") / "adapter" / "adapter_config.json").is_file()  # results brought back
    assert json.loads(evaluate_metrics_path(cfg).read_text())["tuned"]["accuracy"] == 0.9
    assert github_output.read_text() == "stage=trained\n"
    note = (cfg.step_dir("dispatch") / "provenance.md").read_text()  # the results pull request opens with it
    adapter = cfg.step_dir("train") / "adapter" / "adapter_config.json"
    assert "Self-reported results" in note and "Hugging Face Jobs (job `job-123`" in note
    assert f"| `outputs/train/adapter/adapter_config.json` | 2 | `{hashlib.sha256(adapter.read_bytes()).hexdigest()}` |" in note


def test_a_failed_job_says_how_to_resume_and_resuming_uploads_nothing(hub_project, fake_hub, capsys):
    fake_hub.stage = "ERROR"
    cfg = load_settings(hub_project)
    assert dispatch.main(cfg, arguments(resume="20260101-120000")) == 1
    assert "--resume 20260101-120000" in capsys.readouterr().err
    assert fake_hub.called("create_commit") == []  # the project files are already in the mailbox
    script_args = fake_hub.called("run_uv_job")[0]["script_args"]
    assert script_args[3] == "20260101-120000"
    assert script_args[-2:] == ["--project-revision", PROJECT_COMMIT]  # the upload's commit, not the newest one


def test_resuming_a_run_whose_job_finished_takes_its_results_and_pays_nothing(hub_project, fake_hub, monkeypatch, capsys, tmp_path):
    """The paid job finished, then a later step of the workflow failed (export, say). "Re-run failed jobs" would start
    a new run; Run workflow with resume = the run id must bring the finished job's outputs back instead of starting
    (and paying for) the job again. The successful run's summary says so. The Hub is a fake here: its file_exists
    answers from the runs this test says finished."""
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_results)
    monkeypatch.setattr(dispatch, "new_run_id", lambda: "20260101-120000")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github_output"))
    cfg = load_settings(hub_project)
    assert dispatch.main(cfg, arguments(resume="")) == 0  # the first, paid run
    assert len(fake_hub.called("run_uv_job")) == 1
    assert "Run workflow with resume = `20260101-120000` continues with these results, without a new job" in (tmp_path / "summary.md").read_text()

    fake_hub.finished_runs.add("20260101-120000")  # its job uploaded its outputs
    shutil.rmtree(cfg.step_dir("train"))
    shutil.rmtree(cfg.step_dir("evaluate"))
    assert dispatch.main(cfg, arguments(resume="20260101-120000")) == 0
    assert len(fake_hub.called("run_uv_job")) == 1  # no second job
    assert fake_hub.called("file_exists")[-1]["filename"] == "runs/20260101-120000/outputs/evaluate/metrics.json"
    assert "Run 20260101-120000 already finished" in capsys.readouterr().out
    assert (cfg.step_dir("train") / "adapter" / "adapter_config.json").is_file() and evaluate_metrics_path(cfg).is_file()
    assert (tmp_path / "github_output").read_text().splitlines()[-1] == "stage=trained"
    assert "whose job had already finished" in (cfg.step_dir("dispatch") / "provenance.md").read_text()

    # The data changed since that run: its adapter would be reviewed with data it was not trained on.
    with (hub_project.parent / "datasets" / "train.jsonl").open("a", encoding="utf-8") as train:
        train.write(json.dumps({"prompt": "What is the capital of Namibia?", "completion": "Windhoek."}) + "\n")
    with pytest.raises(dispatch.UserError) as refused:
        dispatch.main(cfg, arguments(resume="20260101-120000"))
    assert str(refused.value).startswith("run 20260101-120000 was trained on another datasets/train.jsonl than this checkout has")
    assert len(fake_hub.called("run_uv_job")) == 1


def test_on_github_a_failed_job_says_which_button_resumes_it(hub_project, fake_hub, capsys, monkeypatch, tmp_path):
    """A learner working on GitHub cannot type `dispatch --resume`, and a run resumed on a laptop opens no results
    pull request: the Train workflow's "Run workflow" takes the run id, and passes it to dispatch."""
    import yaml

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    monkeypatch.setattr(dispatch, "new_run_id", lambda: "20260101-120000")
    fake_hub.stage = "ERROR"
    assert dispatch.main(load_settings(hub_project), arguments(resume="")) == 1  # what a push passes: a new run
    said = capsys.readouterr().err
    assert "Actions > Train > Run workflow" in said and "resume = 20260101-120000" in said
    assert "resume = 20260101-120000" in (tmp_path / "summary.md").read_text()
    assert len(fake_hub.called("create_commit")) == 1  # "" is a new run: its project files were uploaded

    train = yaml.safe_load((REPO / ".github/workflows/train.yml").read_text(encoding="utf-8"))
    assert "resume" in train[True]["workflow_dispatch"]["inputs"]  # YAML 1.1 reads a bare `on` key as True
    (step,) = [step for step in train["jobs"]["train"]["steps"] if "scripts dispatch" in step.get("run", "")]
    (name,) = [key for key, value in step["env"].items() if value == "${{ inputs.resume }}"]
    assert f'--resume "${name}"' in step["run"]


@pytest.mark.parametrize(
    "status, fix",
    [(401, "the token is not valid"), (402, "https://huggingface.co/settings/billing"),
     (403, "may start Jobs and write to the private dataset ada-learner/namibia-qa-runs"),
     (404, "check the run id, and that the token may read and write that dataset")],
)  # fmt: skip
def test_a_job_the_hub_refuses_is_one_sentence_saying_what_to_fix(hub_project, fake_hub, status, fix):
    """No credit, a revoked token or one without the Jobs permission used to end in a traceback."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    def refuse(**kwargs):
        response = httpx2.Response(status, request=httpx2.Request("POST", "https://huggingface.co/api/jobs/ada-learner"))
        raise HfHubHTTPError(f"{status} Client Error: the Hub says no", response=response)

    fake_hub.run_uv_job = refuse
    with pytest.raises(dispatch.UserError) as refused:
        dispatch.main(load_settings(hub_project), arguments())
    message = str(refused.value)
    assert message.startswith(f"Hugging Face refused ({status}: ") and fix in message, message
    assert TOKEN not in message


def test_resuming_a_run_whose_project_was_never_uploaded_is_a_clear_error(hub_project, fake_hub):
    with pytest.raises(dispatch.UserError, match=r"cannot be resumed; start a new run \(on GitHub: Run workflow with resume left empty"):
        dispatch.main(load_settings(hub_project), arguments(resume=" 20251231-000000 "))  # pasted with spaces
    assert fake_hub.called("run_uv_job") == []


def test_a_run_id_to_resume_with_another_backend_is_refused(hub_project, fake_hub):
    """The Run workflow form's resume only continues a Hugging Face Job: with another backend it would be ignored."""
    cfg = load_settings(hub_project)
    with pytest.raises(dispatch.UserError) as refused:
        dispatch.main(cfg, arguments(resume="20251231-000000", backend="runner"))
    assert str(refused.value) == (
        'resume = "20251231-000000" continues a Hugging Face Job, but [train] backend is "runner" in project.toml; '
        'leave resume empty, or set backend = "hf-jobs" if that run is what you want to continue.'
    )


def test_the_job_downloads_the_project_at_the_given_commit(monkeypatch, tmp_path):
    job_script = load_job_script()
    calls = []

    def snapshot(repo_id, **kwargs):
        calls.append(kwargs)
        project = Path(kwargs["local_dir"]) / "runs/r1/project"
        project.mkdir(parents=True)
        (project / "project.toml").write_text("")

    monkeypatch.setattr(job_script, "snapshot_download", snapshot)
    monkeypatch.setattr(job_script, "WORKDIR", tmp_path / "project")
    job_script.download_project("ada/x-runs", "runs/r1", PROJECT_COMMIT)
    assert calls[0]["revision"] == PROJECT_COMMIT and (tmp_path / "project" / "project.toml").is_file()


def test_without_a_token_exit_2_with_how_to_make_one(hub_project, tmp_path):
    result = run_cli("dispatch", "--config", str(hub_project), "--yes",
                     env_extra={"HF_TOKEN": "", "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0"})  # fmt: skip
    assert result.returncode == 2
    assert "https://huggingface.co/settings/tokens" in result.stderr and "Traceback" not in result.stderr


def test_bad_flavor_and_local_base_are_clear_errors(hub_project, tiny_model_dir):
    set_values(hub_project, "train", hf_flavor="t4-tiny")
    result = run_cli("dispatch", "--config", str(hub_project), "--dry-run")
    assert result.returncode == 2 and 'hf_flavor is "t4-tiny"' in result.stderr and "t4-small" in result.stderr
    set_values(hub_project, "train", hf_flavor="t4-small")
    text = hub_project.read_text().replace(f'base = "{HUB_MODEL}"', f'base = "{tiny_model_dir}"')
    hub_project.write_text(text)
    result = run_cli("dispatch", "--config", str(hub_project), "--dry-run")
    assert result.returncode == 2 and "remote job cannot read" in result.stderr


def test_runner_backend_trains_here(tiny_project, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    assert dispatch.main(load_settings(tiny_project), arguments(backend="runner")) == 0
    assert (tmp_path / "out").read_text() == "stage=train-here\n"


def test_a_colab_branch_goes_to_review_saying_its_results_are_self_reported(tiny_project, tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary"))
    cfg = load_settings(tiny_project)
    adapter = cfg.step_dir("train") / "adapter"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "adapter_model.safetensors").write_bytes(b"weights from Colab")
    write_evaluate_metrics(cfg, evaluate_metrics())
    assert dispatch.main(cfg, arguments(ref="trained/20260101-120000")) == 0
    note = (cfg.step_dir("dispatch") / "provenance.md").read_text()
    assert "Self-reported results" in note and "branch `trained/20260101-120000`" in note
    assert hashlib.sha256(b"weights from Colab").hexdigest() in note and note in (tmp_path / "summary").read_text()


def test_a_trained_branch_without_outputs_is_a_clear_error(tiny_project):
    with pytest.raises(dispatch.UserError, match="has no outputs/train/adapter/adapter_config.json"):
        dispatch.main(load_settings(tiny_project), arguments(ref="trained/20260101-120000"))


# ---------------------------------------------------------------- Colab


@pytest.mark.parametrize(
    "url, repo",
    [
        ("https://github.com/ada/namibia-qa.git", "ada/namibia-qa"),
        ("https://github.com/ada/namibia-qa", "ada/namibia-qa"),
        ("git@github.com:ada/namibia-qa.git", "ada/namibia-qa"),
        ("https://x-access-token:abc@github.com/ada/namibia-qa.git\n", "ada/namibia-qa"),
        ("https://gitlab.com/ada/namibia-qa.git", None),
    ],
)
def test_github_repo_from_remote_url(url, repo):
    assert parse_github_remote(url) == repo


def test_colab_notebook_and_link_for_the_learners_repo_and_branch(tiny_project, monkeypatch, capsys):
    import nbformat

    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    root = tiny_project.parent
    for command in (["init", "-q", "-b", "week-3"], ["remote", "add", "origin", "git@github.com:ada/namibia-qa.git"]):
        subprocess.run(["git", *command], cwd=root, check=True)
    cfg = load_settings(tiny_project)
    assert dispatch.main(cfg, arguments(backend="colab")) == 0
    out = capsys.readouterr().out
    assert "https://colab.research.google.com/github/ada/namibia-qa/blob/week-3/template/colab/train.ipynb" in out
    notebook = nbformat.read(cfg.step_dir("dispatch") / "train.ipynb", as_version=4)
    settings = next(cell for cell in notebook.cells if "settings" in cell.metadata.get("tags", []))
    assert 'GITHUB_REPO = "ada/namibia-qa"  # @param' in settings.source and 'BRANCH = "week-3"' in settings.source


def test_colab_without_a_github_remote_says_what_to_do(tiny_project, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    assert dispatch.main(load_settings(tiny_project), arguments(backend="colab")) == 0
    out = capsys.readouterr().out
    assert "No GitHub remote named origin" in out and "--repo OWNER/REPO" in out


def test_the_colab_notebook_never_reinstalls_torch():
    notebook = json.loads(dispatch.NOTEBOOK_TEMPLATE.read_text())
    install = next("".join(c["source"]) for c in notebook["cells"] if "pip install" in "".join(c["source"]))
    assert "torch|torchvision|torchaudio" in install and "requirements-gpu.txt" in install


# The notebook itself is executed in tests/test_gitops.py, where its pushed branch also goes on to the review.
