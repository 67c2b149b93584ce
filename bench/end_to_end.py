"""End to end: `make demo`'s pipeline after set-up, with time and peak memory per step.

    .venv/bin/python bench/end_to_end.py

Runs every step of `python -m scripts run` as its own process on a fresh copy of the
project (so each step's peak memory is its own, read from the operating system with
os.wait4), and prints one table and the total against the 5-minute target.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TARGET_SECONDS = 300


def run_step(step: str, config: Path) -> tuple[float, float, int]:
    """(seconds, peak resident memory in MB, exit code) of `python -m scripts <step>`."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts", step, "--config", str(config)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)},
    )
    _, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    from scripts.run import PIPELINE, _is_built

    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch)
        shutil.copytree(REPO / "datasets", project / "datasets")
        shutil.copy(REPO / "project.toml", project / "project.toml")
        for extra in ("model_card.j2", "template"):
            if (REPO / extra).is_dir():
                shutil.copytree(REPO / extra, project / extra)
            elif (REPO / extra).is_file():
                shutil.copy(REPO / extra, project / extra)
        rows = []
        for step in [s for s in PIPELINE if _is_built(s)]:
            seconds, peak_mb, code = run_step(step, project / "project.toml")
            rows.append((step, seconds, peak_mb, code))
            print(f"{step:<9} {seconds:8.1f} s  {peak_mb:8.0f} MB  exit {code}", flush=True)
            if code != 0:
                break
    total = sum(seconds for _, seconds, _, _ in rows)
    print(f"{'total':<9} {total:8.1f} s  {max(p for _, _, p, _ in rows):8.0f} MB (largest step)")
    print(f"\nratio: {total / TARGET_SECONDS:.2f}x the {TARGET_SECONDS} s target (<= 1 meets it)")


if __name__ == "__main__":
    main()
