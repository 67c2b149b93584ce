"""Send training to a rented GPU: a Hugging Face Job, or a Colab notebook you open.

    python -m scripts dispatch                              # the backend in project.toml [train]
    python -m scripts dispatch --backend hf-jobs --dry-run  # show the job and its cost, send nothing
    python -m scripts dispatch --backend hf-jobs            # asks before spending money (--yes skips that)
    python -m scripts dispatch --backend hf-jobs --resume 20260131-120000   # continue a timed-out job
    python -m scripts dispatch --backend colab              # writes outputs/dispatch/train.ipynb + a link

Reads project.toml [train] and template/ (hf_jobs/train_job.py, colab/train.ipynb). hf-jobs copies the
job's outputs/train and outputs/evaluate into outputs/; results trained elsewhere get
outputs/dispatch/provenance.md; in GitHub Actions `stage=train-here|trained|waiting` goes to $GITHUB_OUTPUT.
How each backend works (the mailbox repo, resuming, the Colab branch, self-reported results):
docs/design.md, "Dispatch to a GPU".
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .errors import EXIT_CHECKS_FAILED, EXIT_OK, UserError
from .files import sha256_of, write_atomic
from .github import add_to_job_summary, github_repo, set_github_output
from .hf_flavors import FLAVORS, PRICE_SOURCE, PRICES_CHECKED, gpu_flavors
from .outputs import METRICS_FILE, evaluate_metrics_path

CODE_ROOT = Path(__file__).resolve().parent.parent  # the template: scripts/, template/, requirements
TEMPLATE = CODE_ROOT / "template"
JOB_SCRIPT = TEMPLATE / "hf_jobs" / "train_job.py"
NOTEBOOK_TEMPLATE = TEMPLATE / "colab" / "train.ipynb"
NOTEBOOK_PATH_IN_REPO = "template/colab/train.ipynb"

# torch is installed first and pinned (see the Makefile); the job does the same on its GPU image.
TORCH_REQUIREMENT = "torch==2.13.0"
HUB_REQUIREMENT = "huggingface_hub==2.4.0"  # all the job script needs before it installs the project
JOB_PYTHON = "3.11"

# A Colab run pushes its outputs to a branch named like this (see template/colab/train.ipynb).
TRAINED_BRANCH_PREFIX = "trained/"

TOKEN_HELP = (
    "no Hugging Face token found: create the private dataset <hub_owner>/<name>-runs on the Hub, then a fine-grained "
    "token that may start Jobs and write to that dataset only at https://huggingface.co/settings/tokens (not the "
    "token that publishes), "
    "then `export HF_TOKEN=hf_...` here (or `hf auth login`), or add it as the HF_JOBS_TOKEN secret in GitHub "
    "(Settings > Secrets and variables > Actions), and run again."
)


def add_arguments(parser) -> None:
    parser.add_argument(
        "--backend", choices=["runner", "hf-jobs", "colab"], help="where to train (default: [train] backend in project.toml)"
    )
    parser.add_argument("--yes", action="store_true", help="start the paid job without asking (for CI)")
    parser.add_argument("--dry-run", action="store_true", help="show the job and its estimated cost; send nothing")
    parser.add_argument("--resume", metavar="RUN_ID", help="hf-jobs: continue that run from its last checkpoint (empty: a new run; the Train workflow's `resume` input)")
    parser.add_argument(
        "--ref", metavar="BRANCH", help="the branch being trained (CI passes it; a trained/... branch carries Colab's outputs)"
    )
    parser.add_argument("--repo", metavar="OWNER/REPO", help="colab: your GitHub repository (default: from `git remote get-url origin`)")


def main(cfg, args) -> int:
    backend = args.backend or cfg.train.backend
    ref = args.ref or ""
    args.resume = (args.resume or "").strip()  # a run id pasted into the Run workflow form may carry spaces
    if args.resume and backend != "hf-jobs":
        raise UserError(
            f'resume = "{args.resume}" continues a Hugging Face Job, but [train] backend is "{backend}" in project.toml; '
            'leave resume empty, or set backend = "hf-jobs" if that run is what you want to continue.'
        )
    if ref.startswith(TRAINED_BRANCH_PREFIX):
        return use_pushed_outputs(cfg, ref)
    if backend == "runner":
        print('[train] backend = "runner": nothing to send; training runs here with `python -m scripts train`.')
        set_github_output("stage", "train-here")
        return EXIT_OK
    if backend == "hf-jobs":
        return dispatch_hf_job(cfg, args)
    return dispatch_colab(cfg, args)


def use_pushed_outputs(cfg, ref: str) -> int:
    """A Colab run pushed outputs/train and outputs/evaluate on this branch: go straight to the review."""
    needed = [cfg.step_dir("train") / "adapter" / "adapter_config.json", evaluate_metrics_path(cfg)]
    missing = [str(path.relative_to(cfg.root)) for path in needed if not path.is_file()]
    if missing:
        raise UserError(
            f"branch {ref} has no {', '.join(missing)}; run the Colab notebook to the end so it pushes its outputs, "
            f"or push to a branch whose name does not start with {TRAINED_BRANCH_PREFIX}."
        )
    print(f"Branch {ref} carries training outputs from Colab: continuing with the review steps.")
    write_provenance(cfg, f"a Colab notebook, which pushed branch `{ref}`")
    set_github_output("stage", "trained")
    return EXIT_OK


def write_provenance(cfg, where: str) -> Path:
    """outputs/dispatch/provenance.md: these results were trained and measured elsewhere, and which adapter came back."""
    adapter = cfg.step_dir("train") / "adapter"
    rows = [
        f"| `{path.relative_to(cfg.root).as_posix()}` | {path.stat().st_size} | `{sha256_of(path)}` |"
        for path in sorted(adapter.rglob("*"))
        if path.is_file()
    ]
    note = "\n".join([
        "> [!IMPORTANT]",
        f"> **Self-reported results.** Training and evaluation ran on {where}, not on this repository's runner. "
        "The metrics below are what that machine reported; the workflow did not measure them again. "
        "The adapter this run received (results/model holds a float16 copy that `card` made from it):",
        "",
        "| file | bytes | sha256 |",
        "|---|---:|---|",
        *rows,
        "",
    ])  # fmt: skip
    target = cfg.step_dir("dispatch") / "provenance.md"
    write_atomic(target, note)
    add_to_job_summary(note)
    return target


# ---------------------------------------------------------------- Hugging Face Jobs


@dataclass
class JobPlan:
    """Everything about one HF Job, before it is sent; printed by --dry-run."""

    run_id: str
    runs_repo: str
    flavor: str
    gpus: int
    timeout_minutes: int
    usd_per_hour: float
    quantization: str
    resume: bool
    script_args: list[str] = field(default_factory=list)

    @property
    def max_cost_usd(self) -> float:
        return self.usd_per_hour * self.timeout_minutes / 60

    def run_uv_job_arguments(self, token: str) -> dict:
        """The exact keyword arguments for `HfApi.run_uv_job` (the token goes in as a secret, by name)."""
        return {
            "script": str(JOB_SCRIPT),
            "script_args": self.script_args,
            "dependencies": [HUB_REQUIREMENT],
            "python": JOB_PYTHON,
            "env": {"PYTHONUNBUFFERED": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"},
            "secrets": {"HF_TOKEN": token},
            "flavor": self.flavor,
            "timeout": f"{self.timeout_minutes}m",
            "name": f"train-{self.run_id}",
            "labels": {"made-by": "finetune-template", "run": self.run_id},
        }


def plan_hf_job(cfg, namespace: str, run_id: str, resume: bool, usd_per_hour: float | None = None) -> JobPlan:
    flavor = cfg.train.hf_flavor
    if flavor not in FLAVORS:
        raise UserError(
            f'project.toml [train] hf_flavor is "{flavor}", which is not a Hugging Face Jobs GPU we know; '
            f"use one of: {', '.join(gpu_flavors())}."
        )
    if FLAVORS[flavor].gpus == 0:
        raise UserError(f'project.toml [train] hf_flavor "{flavor}" has no GPU; pick a GPU flavor such as "t4-small".')
    if _is_local_folder(cfg):
        raise UserError(
            f"project.toml [model] base is the local folder {cfg.model.base}, which a remote job cannot read; "
            "use a Hub id such as HuggingFaceTB/SmolLM2-135M-Instruct."
        )
    runs_repo = f"{namespace}/{cfg.project.name}-runs"
    gpus = FLAVORS[flavor].gpus
    script_args = [
        "--runs-repo", runs_repo,
        "--run-id", run_id,
        "--processes", str(gpus),
        "--torch", TORCH_REQUIREMENT,
    ]  # fmt: skip
    return JobPlan(
        run_id=run_id,
        runs_repo=runs_repo,
        flavor=flavor,
        gpus=gpus,
        timeout_minutes=cfg.train.hf_timeout_minutes,
        usd_per_hour=usd_per_hour if usd_per_hour is not None else FLAVORS[flavor].usd_per_hour,
        quantization=cfg.model.quantization,
        resume=resume,
        script_args=script_args,
    )


def describe_plan(plan: JobPlan) -> str:
    """The job as a person reads it; never contains the token."""
    launcher = f"accelerate launch --num_processes {plan.gpus} -m scripts train" if plan.gpus > 1 else "python -m scripts train"
    lines = [
        f"Hugging Face Job for run {plan.run_id}{' (resuming from its last checkpoint)' if plan.resume else ''}",
        f"  hardware:   {plan.flavor} ({plan.gpus} GPU{'s' if plan.gpus > 1 else ''})",
        f"  timeout:    {plan.timeout_minutes} min (project.toml [train] hf_timeout_minutes)",
        f"  script:     {JOB_SCRIPT.relative_to(TEMPLATE.parent)} {' '.join(plan.script_args)}",
        f"  runs:       {launcher}{' --resume' if plan.resume else ''}, then python -m scripts evaluate"
        + (" (4-bit QLoRA)" if plan.quantization == "4bit" else ""),
        f"  mailbox:    https://huggingface.co/datasets/{plan.runs_repo} (private) folder runs/{plan.run_id}/",
        "  secrets:    HF_TOKEN (sent encrypted, never printed)",
        cost_line(plan),
    ]
    return "\n".join(lines)


def cost_line(plan: JobPlan) -> str:
    return (
        f"  cost:       at most ${plan.max_cost_usd:.2f} = ${plan.usd_per_hour:.2f}/hour x {plan.timeout_minutes} min "
        f"(prices from {PRICE_SOURCE}, {PRICES_CHECKED}); you pay only for the minutes it runs"
    )


def dispatch_hf_job(cfg, args) -> int:
    run_id = args.resume or new_run_id()
    if args.dry_run:
        namespace = cfg.project.hub_owner or "<your-hf-username>"
        print(describe_plan(plan_hf_job(cfg, namespace, run_id, resume=bool(args.resume))))
        print("\nDry run: nothing was sent.")
        return EXIT_OK

    token = _hf_token()
    api = hub_api(token)
    with hub_refusals_explained(f"{cfg.project.hub_owner or '<you>'}/{cfg.project.name}-runs"):
        namespace = cfg.project.hub_owner or api.whoami()["name"]
    plan = plan_hf_job(cfg, namespace, run_id, resume=bool(args.resume), usd_per_hour=_live_price(api, cfg.train.hf_flavor))
    with hub_refusals_explained(plan.runs_repo):
        finished = bool(args.resume) and run_finished(api, plan)
    if finished:  # a later step of the workflow failed after the paid job: take its results, start no new job
        return use_finished_run(cfg, plan, token, api)
    print(describe_plan(plan))
    if not args.yes and not _confirmed("Start this job and pay for it?"):
        print("Nothing was sent.")
        return EXIT_OK

    with hub_refusals_explained(plan.runs_repo):
        revision = project_revision(api, plan) if plan.resume else upload_project(api, cfg, plan)
        plan.script_args += ["--project-revision", revision]
        job = api.run_uv_job(**plan.run_uv_job_arguments(token), namespace=namespace)
    print(f"Started job {job.id}: {getattr(job, 'url', '')}", flush=True)
    add_to_job_summary(f"Training on Hugging Face Jobs ({plan.flavor}): job `{job.id}`, run `{plan.run_id}`.")

    stage = follow_job(api, job.id, namespace)
    if stage != "COMPLETED":
        print(how_to_resume(stage, plan), file=sys.stderr)
        add_to_job_summary(how_to_resume(stage, plan))
        return EXIT_CHECKS_FAILED
    bring_back_outputs(cfg, plan, token)
    write_provenance(cfg, f"Hugging Face Jobs (job `{job.id}`, {plan.flavor}, run `{plan.run_id}` in {plan.runs_repo})")
    set_github_output("stage", "trained")
    add_to_job_summary(
        f"The job finished. If a later step of this workflow run fails (card, export, ...) for a reason outside "
        f"project.toml and datasets/ (a permission, the network), Actions > Train > Run workflow with resume = "
        f"`{plan.run_id}` continues with these results, without a new job; a fix to those files, merged, trains again."
    )
    return EXIT_OK


def run_finished(api, plan: JobPlan) -> bool:
    """Whether the run's job finished: its outputs are in the mailbox (train and evaluate, uploaded in one commit)."""
    return api.file_exists(plan.runs_repo, f"runs/{plan.run_id}/outputs/evaluate/{METRICS_FILE}", repo_type="dataset")


def use_finished_run(cfg, plan: JobPlan, token: str, api) -> int:
    """Resume a run whose job had already finished: bring its outputs back instead of paying for the job again."""
    changed = inputs_changed_since(api, cfg, plan)
    if changed:  # the review would pair that adapter with settings and data it was not trained on
        raise UserError(
            f"run {plan.run_id} was trained on another {' and '.join(changed)} than this checkout has, so its results "
            "cannot be reviewed with these files; leave resume empty to train a new run on them (on GitHub: Run "
            "workflow with resume empty; here: without --resume)."
        )
    print(f"Run {plan.run_id} already finished: {plan.runs_repo} holds its training and evaluation outputs, so no new "
          "job is started (nothing more to pay); going on with those.")  # fmt: skip
    bring_back_outputs(cfg, plan, token)
    write_provenance(cfg, f"Hugging Face Jobs (run `{plan.run_id}` in {plan.runs_repo}, whose job had already finished)")
    set_github_output("stage", "trained")
    return EXIT_OK


def how_to_resume(stage: str, plan: JobPlan) -> str:
    """What to do after a job that failed or hit its timeout: on GitHub, where nobody can type a command, the Train
    workflow's "Run workflow" button takes the run id (train.yml's `resume` input)."""
    where = f"The job ended with {stage}. Its last checkpoint is kept in {plan.runs_repo}; "
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return where + (
            f"read the job's log above. If it ran out of time, continue it: Actions > Train > Run workflow, on this "
            f"branch, with resume = {plan.run_id}. A continued run uses the data and settings it started with, so after "
            "fixing those, leave resume empty to start a new run."
        )
    return where + (
        f"if it ran out of time, continue with\n  python -m scripts dispatch --backend hf-jobs --resume {plan.run_id}\n"
        "A continued run uses the data and settings it started with: after fixing those, start a new run (no --resume)."
    )


@contextmanager
def hub_refusals_explained(runs_repo: str):
    """Turn the Hub's "no" (a bad token, no credit, a missing permission) into one sentence saying what to fix."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        yield
    except HfHubHTTPError as error:
        raise UserError(hub_refusal(error, runs_repo)) from None


def hub_refusal(error, runs_repo: str) -> str:
    status = getattr(getattr(error, "response", None), "status_code", None)
    said = (getattr(error, "server_message", None) or str(error).splitlines()[0]).strip()
    fixes = {
        401: "the token is not valid (expired, revoked or mistyped): make a new fine-grained one at "
        f"https://huggingface.co/settings/tokens that may start Jobs and write to the private dataset {runs_repo}, and "
        "put it in HF_TOKEN (on GitHub, the HF_JOBS_TOKEN secret)",
        402: "the account has no credit for Jobs: add a payment method or credit at https://huggingface.co/settings/billing "
        "(Jobs are paid by the minute), or train with [train] backend = \"colab\" on Colab's free GPU",
        404: f"the Hub has no {runs_repo} or no run by that id that this token may read: check the run id, and that the "
        "token may read and write that dataset (https://huggingface.co/settings/tokens)",
        403: f"the token may not do this: edit it at https://huggingface.co/settings/tokens so that it may start Jobs and "
        f"write to the private dataset {runs_repo} (create that dataset first if it does not exist)",
    }
    fix = fixes.get(status, "try again later (https://status.huggingface.co says whether the Hub is down)")
    return f"Hugging Face refused ({status or 'no answer'}: {said}); {fix}."


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


def hub_api(token: str):
    """The Hub client; one function so tests can put a fake in its place."""
    from huggingface_hub import HfApi

    return HfApi(token=token)


def _hf_token() -> str:
    from huggingface_hub import constants, get_token

    if constants.HF_HUB_OFFLINE:
        raise UserError("HF_HUB_OFFLINE=1 is set, but HF Jobs needs the Hub; run again with HF_HUB_OFFLINE=0.")
    token = get_token()
    if not token:
        raise UserError(TOKEN_HELP)
    return token


def _live_price(api, flavor: str) -> float | None:
    """Today's price per hour from the Hub, or None to use the table above."""
    try:
        for hardware in api.list_jobs_hardware():
            if hardware.name == flavor and hardware.unit_label == "minute":
                return hardware.unit_cost_usd * 60
    except Exception:  # the price is a courtesy; the table is a fine fallback
        return None
    return None


def _confirmed(question: str) -> bool:
    if not sys.stdin.isatty():
        raise UserError("this would start a paid job but nobody can confirm here; add --yes to confirm, or --dry-run to look first.")
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def _is_local_folder(cfg) -> bool:
    base = cfg.model.base
    return (cfg.root / base).is_dir() or Path(base).is_absolute() or base.startswith((".", "~"))


def project_files(cfg) -> dict[str, Path]:
    """What the job needs, by its path in the job's project folder: settings, data, code, pinned requirements.

    The code and requirements are the ones running this command (the template's), the
    settings and data are the project's.
    """
    files = {"project.toml": cfg.config_path or cfg.root / "project.toml"}
    # Every data file train and evaluate read: the job has nothing else (a missing rehearsal or
    # general-knowledge file would stop the paid job after its GPU time had started).
    for _section, _key, name in cfg.data_files():
        path = cfg.path(name)
        try:
            files[path.relative_to(cfg.root).as_posix()] = path
        except ValueError:
            raise UserError(f"project.toml [data]: {name} is outside the project folder; move it into datasets/.") from None
    for name in ("requirements.txt", "requirements-gpu.txt"):
        files[name] = CODE_ROOT / name
    for path in sorted((CODE_ROOT / "scripts").glob("*.py")):
        files[f"scripts/{path.name}"] = path
    return {name: path for name, path in files.items() if path.is_file()}


def upload_project(api, cfg, plan: JobPlan) -> str:
    """Create the private mailbox repo and put this run's project files in it, in one commit; returns its id.

    The job downloads exactly that commit: the mailbox's main branch can move (every checkpoint is a commit,
    and anyone with write access to the repo could change the project files after this upload).
    """
    from huggingface_hub import CommitOperationAdd

    api.create_repo(plan.runs_repo, repo_type="dataset", private=True, exist_ok=True)
    prefix = f"runs/{plan.run_id}/project"
    operations = [
        CommitOperationAdd(path_in_repo=f"{prefix}/{name}", path_or_fileobj=str(path))
        for name, path in project_files(cfg).items()
    ]
    info = api.create_commit(plan.runs_repo, repo_type="dataset", operations=operations, commit_message=project_commit_title(plan.run_id))
    return info.oid


def inputs_changed_since(api, cfg, plan: JobPlan) -> list[str]:
    """The settings and data files (not the code) that differ from those the run's job trained on, compared with the
    copies uploaded for it by content hash: git's blob id, or the sha256 of a file the Hub keeps in LFS."""
    prefix = f"runs/{plan.run_id}/project"
    ours = {name: path for name, path in project_files(cfg).items() if not name.startswith(("scripts/", "requirements"))}
    uploaded = api.get_paths_info(plan.runs_repo, [f"{prefix}/{name}" for name in ours], repo_type="dataset",
                                  revision=project_revision(api, plan))  # fmt: skip
    theirs = {info.path.removeprefix(prefix + "/"): info for info in uploaded}
    return [name for name, path in ours.items() if name not in theirs or not same_content(path, theirs[name])]


def same_content(path: Path, uploaded) -> bool:
    data = path.read_bytes()
    if getattr(uploaded, "lfs", None):
        return hashlib.sha256(data).hexdigest() == uploaded.lfs.sha256
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == uploaded.blob_id  # how git names a file's content


def project_commit_title(run_id: str) -> str:
    return f"Project files for run {run_id}"


def project_revision(api, plan: JobPlan) -> str:
    """On --resume: the commit that first uploaded this run's project files (a later one could be anyone's)."""
    title = project_commit_title(plan.run_id)
    commits = [c.commit_id for c in api.list_repo_commits(plan.runs_repo, repo_type="dataset") if c.title == title]
    if not commits:
        raise UserError(f"{plan.runs_repo} has no commit \"{title}\", so run {plan.run_id} cannot be resumed; start a new run (on GitHub: Run workflow with resume left empty; here: without --resume).")
    return commits[-1]  # newest first: the last one is the upload this run made


def follow_job(api, job_id: str, namespace: str) -> str:
    """Print the job's logs as they come; return its final stage (COMPLETED, ERROR, CANCELED...)."""
    for line in api.fetch_job_logs(job_id=job_id, namespace=namespace, follow=True):
        print(line, flush=True)
    job = api.wait_for_job(job_id, namespace=namespace, poll_interval=10)
    stage = str(getattr(job.status.stage, "value", job.status.stage))
    if job.status.message:
        print(f"Job {job_id}: {stage}: {job.status.message}")
    return stage


def bring_back_outputs(cfg, plan: JobPlan, token: str) -> None:
    """Copy runs/<id>/outputs/{train,evaluate} from the mailbox into outputs/, replacing what was there."""
    from huggingface_hub import snapshot_download

    prefix = f"runs/{plan.run_id}/outputs"
    with tempfile.TemporaryDirectory() as download:
        snapshot_download(
            plan.runs_repo,
            repo_type="dataset",
            allow_patterns=[f"{prefix}/train/**", f"{prefix}/evaluate/**"],
            local_dir=download,
            token=token,
        )
        for step in ("train", "evaluate"):
            source = Path(download) / prefix / step
            if not source.is_dir():
                raise UserError(f"the job finished but {plan.runs_repo} has no {prefix}/{step}; read the job's log above.")
            target = cfg.step_dir(step)
            shutil.rmtree(target, ignore_errors=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(source, target)
    print(f"Results copied into {cfg.step_dir('train')} and {cfg.step_dir('evaluate')}.")


# ---------------------------------------------------------------- Colab


def dispatch_colab(cfg, args) -> int:
    repo = args.repo or github_repo(cfg.root)
    branch = args.ref or current_branch(cfg.root)
    notebook = cfg.step_dir("dispatch") / "train.ipynb"
    render_notebook(notebook, {"GITHUB_REPO": repo or "", "BRANCH": branch})
    print(f"Wrote {notebook}")
    if repo is None:
        print(
            "No GitHub remote named origin here, so there is no Colab link: push this project to GitHub "
            "(`git remote add origin https://github.com/OWNER/REPO.git`) or pass --repo OWNER/REPO, "
            "or upload the notebook above at https://colab.research.google.com (File > Upload notebook)."
        )
        set_github_output("stage", "waiting")
        return EXIT_OK
    link = colab_link(repo, branch)
    instructions = (
        f"Open in Colab: {link}\n"
        f"In its first cell set GITHUB_REPO = \"{repo}\" and BRANCH = \"{branch}\", choose a GPU "
        "(Runtime > Change runtime type > T4 GPU), add your GitHub token as the Colab secret GH_TOKEN, "
        f"then Runtime > Run all. It pushes a {TRAINED_BRANCH_PREFIX}... branch, which starts the Train workflow again."
    )
    print(instructions)
    add_to_job_summary(
        f"### Train in Colab\n\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({link})\n\n"
        f"In the first cell set `GITHUB_REPO = \"{repo}\"` and `BRANCH = \"{branch}\"`, pick a T4 GPU, add your "
        "GitHub token as the Colab secret `GH_TOKEN`, then *Runtime > Run all*. The notebook pushes a "
        f"`{TRAINED_BRANCH_PREFIX}...` branch; that push runs this workflow again and opens the results pull request."
    )
    set_github_output("stage", "waiting")
    return EXIT_OK


def colab_link(repo: str, branch: str, path: str = NOTEBOOK_PATH_IN_REPO) -> str:
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{path}"


def current_branch(root: Path) -> str:
    result = subprocess.run(["git", "symbolic-ref", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else "main"  # detached: main


def render_notebook(target: Path, settings: dict[str, str], template: Path = NOTEBOOK_TEMPLATE) -> Path:
    """Copy the Colab template with the values in its settings cell (tagged "settings") filled in."""
    import nbformat

    notebook = nbformat.read(template, as_version=4)
    cells = [cell for cell in notebook.cells if "settings" in cell.metadata.get("tags", [])]
    if len(cells) != 1:
        raise UserError(f"{template}: needs exactly one code cell tagged \"settings\"; restore it from the template repository.")
    cells[0].source = fill_settings(cells[0].source, settings)
    nbformat.validate(notebook)
    text = io.StringIO()
    nbformat.write(notebook, text)
    write_atomic(target, text.getvalue())
    return target


def fill_settings(source: str, settings: dict[str, str]) -> str:
    """Set `NAME = "value"` lines (keeping their `# @param` comments) for each NAME in settings."""
    lines = source.splitlines()
    for name, value in settings.items():
        pattern = re.compile(rf'^{re.escape(name)} = "[^"]*"(.*)$')
        matches = [i for i, line in enumerate(lines) if pattern.match(line)]
        if len(matches) != 1:
            raise UserError(f'the Colab template\'s settings cell has no line `{name} = "..."`; restore it from the template repository.')
        index = matches[0]
        lines[index] = pattern.sub(lambda m: f"{name} = {_python_string(value)}{m.group(1)}", lines[index])
    return "\n".join(lines)


def _python_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
