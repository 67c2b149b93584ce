# /// script
# requires-python = ">=3.11"
# dependencies = ["huggingface_hub==2.4.0"]
# ///
"""Train and evaluate on a Hugging Face Job; started by `python -m scripts dispatch --backend hf-jobs`.

You do not run this file yourself. `dispatch` uploads your project to a private
dataset repo (the "mailbox", <you>/<name>-runs) and starts this script on a GPU:

  1. download runs/<run-id>/project/ (settings, data, code, pinned requirements) at the
     commit `dispatch` made (--project-revision), not the mailbox's moving main branch;
  2. install torch (pinned) and requirements.txt + requirements-gpu.txt (bitsandbytes for
     4-bit QLoRA) with uv, the installer this job's image comes with;
  3. if runs/<run-id>/checkpoints/ has a checkpoint (an earlier job timed out), fetch it
     and train with --resume;
  4. train (`accelerate launch --num_processes N` when the flavor has N > 1 GPUs),
     uploading the newest complete checkpoint every few minutes so a timeout loses little;
  5. evaluate, and upload outputs/train and outputs/evaluate to runs/<run-id>/outputs/,
     where `dispatch` picks them up.

HF_TOKEN arrives as a Job secret (an environment variable) and is never printed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from huggingface_hub import HfApi, snapshot_download

WORKDIR = Path("/tmp/project")
CHECKPOINT_UPLOAD_SECONDS = 300


def main() -> int:
    args = parse_arguments()
    api = HfApi()  # reads the HF_TOKEN secret from the environment
    prefix = f"runs/{args.run_id}"
    download_project(args.runs_repo, prefix, args.project_revision)
    install_requirements(args.torch)
    resume = download_checkpoints(args.runs_repo, prefix)

    uploader = CheckpointUploader(api, args.runs_repo, f"{prefix}/checkpoints")
    uploader.start()
    try:
        run(train_command(args.processes, resume))
    finally:
        uploader.stop()  # one last upload, so even a failed run leaves its newest checkpoint
    run([sys.executable, "-m", "scripts", "evaluate"])
    upload_outputs(api, args.runs_repo, f"{prefix}/outputs")
    print(f"Done: results are in https://huggingface.co/datasets/{args.runs_repo}/tree/main/{prefix}/outputs")
    return 0


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-repo", required=True, help="the private dataset repo used as a mailbox")
    parser.add_argument("--run-id", required=True, help="this run's folder name in the mailbox")
    parser.add_argument("--processes", type=int, default=1, help="GPUs to train on (one process each)")
    parser.add_argument("--torch", default="torch", help="the pinned torch requirement")
    parser.add_argument("--project-revision", required=True, help="the mailbox commit that holds this run's project files")
    return parser.parse_args()


def run(command: list[str]) -> None:
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, cwd=WORKDIR, check=True)


def download_project(runs_repo: str, prefix: str, revision: str) -> None:
    with tempfile.TemporaryDirectory() as download:
        snapshot_download(runs_repo, repo_type="dataset", revision=revision, allow_patterns=[f"{prefix}/project/**"], local_dir=download)
        source = Path(download) / prefix / "project"
        if not (source / "project.toml").is_file():
            sys.exit(f"{runs_repo} has no {prefix}/project/project.toml; start the run again with `python -m scripts dispatch`.")
        shutil.copytree(source, WORKDIR, dirs_exist_ok=True)


def install_requirements(torch_requirement: str) -> None:
    # torch first and pinned, as in the Makefile; this image's default index gives the CUDA build.
    uv = shutil.which("uv") or "uv"
    run([uv, "pip", "install", "--python", sys.executable, torch_requirement])
    run([uv, "pip", "install", "--python", sys.executable, "-r", "requirements.txt", "-r", "requirements-gpu.txt"])


def download_checkpoints(runs_repo: str, prefix: str) -> bool:
    """Fetch the checkpoint an earlier job left; True when there is one to resume from."""
    with tempfile.TemporaryDirectory() as download:
        snapshot_download(runs_repo, repo_type="dataset", allow_patterns=[f"{prefix}/checkpoints/**"], local_dir=download)
        source = Path(download) / prefix / "checkpoints"
        if not any(source.glob("checkpoint-*/trainer_state.json")):
            return False
        target = WORKDIR / "outputs" / "train" / "checkpoints"
        shutil.copytree(source, target, dirs_exist_ok=True)
    print(f"Resuming from the checkpoint in {runs_repo}/{prefix}/checkpoints", flush=True)
    return True


def train_command(processes: int, resume: bool) -> list[str]:
    if processes > 1:
        accelerate = str(Path(sys.executable).with_name("accelerate"))
        command = [accelerate, "launch", "--num_processes", str(processes), "-m", "scripts", "train"]
    else:
        command = [sys.executable, "-m", "scripts", "train"]
    return command + (["--resume"] if resume else [])


def newest_complete_checkpoint() -> Path | None:
    """The checkpoint with the highest step whose trainer_state.json (written last) exists."""
    folder = WORKDIR / "outputs" / "train" / "checkpoints"
    complete = [path.parent for path in folder.glob("checkpoint-*/trainer_state.json")]
    return max(complete, key=lambda path: int(path.name.split("-")[-1]), default=None)


class CheckpointUploader:
    """Every few minutes, copy the newest complete checkpoint to the mailbox (replacing the older one)."""

    def __init__(self, api: HfApi, runs_repo: str, path_in_repo: str):
        self.api, self.runs_repo, self.path_in_repo = api, runs_repo, path_in_repo
        self.uploaded: Path | None = None
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.upload_newest()

    def _loop(self) -> None:
        while not self.stopping.wait(CHECKPOINT_UPLOAD_SECONDS):
            self.upload_newest()

    def upload_newest(self) -> None:
        newest = newest_complete_checkpoint()
        if newest is None or newest == self.uploaded:
            return
        with tempfile.TemporaryDirectory() as staging:
            # A copy, so the trainer can keep writing (and deleting old checkpoints) while this uploads.
            shutil.copytree(newest, Path(staging) / newest.name)
            self.api.upload_folder(
                repo_id=self.runs_repo,
                repo_type="dataset",
                folder_path=staging,
                path_in_repo=self.path_in_repo,
                delete_patterns=["*"],  # keep only this checkpoint in the mailbox
                commit_message=f"Checkpoint {newest.name}",
            )
        self.uploaded = newest
        print(f"Uploaded {newest.name} to {self.runs_repo}/{self.path_in_repo}", flush=True)


def upload_outputs(api: HfApi, runs_repo: str, path_in_repo: str) -> None:
    api.upload_folder(
        repo_id=runs_repo,
        repo_type="dataset",
        folder_path=str(WORKDIR / "outputs"),
        path_in_repo=path_in_repo,
        allow_patterns=["train/**", "evaluate/**"],
        ignore_patterns=["train/checkpoints/**", "*.partial*"],
        commit_message="Training and evaluation outputs",
    )


if __name__ == "__main__":
    sys.exit(main())
