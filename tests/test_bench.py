"""The benchmark scripts run as the README shows and end with their `ratio:` line.

Run here on the tiny model and small data, so they finish in seconds. What this does not
check: the figures themselves, which depend on the machine (bench/README.md records them),
and bench/end_to_end.py, which runs the whole demo pipeline on the real model (minutes).
"""

from __future__ import annotations

import math
import re
import subprocess
import sys

import pytest
from conftest import REPO


def run_bench(script: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_train_throughput_prints_both_runs_and_the_ratio(tiny_project):
    output = run_bench("train_throughput.py", "--config", str(tiny_project), "--steps", "3")
    table = [line.split() for line in output.splitlines() if line.startswith(("TRL defaults", "this project"))]
    rows = {" ".join(cells[:2]): cells for cells in table}
    assert set(rows) == {"TRL defaults", "this project"}
    for cells in rows.values():
        steps, tokens, tokens_per_second, warm_tokens_per_second = int(cells[3]), int(cells[4]), float(cells[6]), float(cells[9])
        assert steps == 3 and tokens > 0 and tokens_per_second > 0
        assert math.isfinite(warm_tokens_per_second) and warm_tokens_per_second > 0  # 3 steps: one after warm-up
    ratio = re.search(r"ratio: ([\d.]+)x TRL's default tokens/s .* ([\d.]+)% after warm-up", output)
    assert ratio and float(ratio.group(1)) > 0, output[-1500:]


@pytest.mark.parametrize("comparison", ["lora-layer", "length-buckets", "shared-opening"])
def test_paired_prints_both_ways_and_the_ratio(tiny_project, comparison):
    output = run_bench("paired.py", comparison, "--config", str(tiny_project), "--epochs", "1")
    rows = [line for line in output.splitlines() if re.match(r"(PEFT's layer|one-step layer|Trainer's grouping|length buckets|every row whole|opening shared) ", line)]
    assert len(rows) == 2, output[-1500:]
    ratio = re.search(r"ratio: .* trained ([\d.]+)x as many real tokens per second as", output)
    assert ratio and float(ratio.group(1)) > 0, output[-1500:]


def test_validate_scale_prints_growth_and_the_ratio():
    output = run_bench("validate_scale.py", "50", "100")
    assert re.search(r"^\s+100\s+[\d.]+", output, re.MULTILINE), output
    assert re.search(r"ratio: 2x the examples took [\d.]+x the time and [\d.]+x the memory", output), output


def test_sweep_trains_each_run_and_prints_the_table(tiny_project):
    output = run_bench("sweep.py", "--config", str(tiny_project), "--runs", "max_steps=1", "max_steps=1,rank=8,alpha=16")
    rows = [line for line in output.splitlines() if re.match(r"\| max_steps=1(,rank=8,alpha=16)? \| 42 \| 1 \|", line)]
    assert len(rows) == 2, output[-1500:]
    assert re.search(r"^base model: \d+/\d+ right", output, re.MULTILINE), output[-1500:]
    assert re.search(r"^ratio: best \(.+\) [\d.]+x the mean accuracy of the first run", output, re.MULTILINE), output[-1500:]


def test_shared_cores_prints_both_ways_and_the_ratio(tiny_model_dir):
    import os

    output = run_bench("shared_cores.py", "--model", str(tiny_model_dir), "--steps", "1")
    cores = len(os.sched_getaffinity(0))
    assert re.search(rf"^{cores} processes x {cores} threads \(default\): ([\d.]+ s(, )?){{{cores}}}$", output, re.MULTILINE), output
    assert re.search(rf"^{cores} processes x 1 pinned thread: +([\d.]+ s(, )?){{{cores}}}$", output, re.MULTILINE), output
    assert re.search(r"^ratio: [\d.]+x longer with default threads than pinned", output, re.MULTILINE), output


def test_evaluate_speed_runs_both_codes_and_compares_their_answers(tiny_project, tiny_model_dir):
    """On the tiny model with an adapter that changes nothing, 2 held-out questions and 2 probe pairs."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from conftest import set_values

    adapter = tiny_project.parent / "outputs" / "train" / "adapter"
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), config).save_pretrained(adapter)
    for name in ("eval.jsonl", "probes.jsonl"):
        path = tiny_project.parent / "datasets" / name
        path.write_text("".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:2]), encoding="utf-8")
    set_values(tiny_project, "evaluate", max_new_tokens=8, batch_size=8)

    output = run_bench("evaluate_speed.py", "--config", str(tiny_project))
    assert re.search(r"^ +9dcedfd: evaluate +[\d.]+ s, writing answers +[\d.]+ s$", output, re.MULTILINE), output
    assert re.search(r"^ +this code: evaluate +[\d.]+ s, writing answers +[\d.]+ s$", output, re.MULTILINE), output
    assert re.search(r"^answers: (\d+) of \1 identical; output files: identical$", output, re.MULTILINE), output
    assert re.search(r"^ratio: evaluate [\d.]+x faster .*, writing answers [\d.]+x ", output, re.MULTILINE), output
    assert not (tiny_project.parent / "outputs" / "evaluate").exists()  # the project's own outputs are left alone
