"""Shared fixtures: a tiny randomly initialised model with the real tokenizer, and a
throw-away copy of the project so tests never write into the repository.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never touch the network
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(REPO))


# The slowest files start first, so that with `pytest -n auto` no worker is left with a long file at the end;
# fixtures are shared within a file (`--dist loadfile`). `make test` runs the real-model file on its own after.
SLOWEST_FIRST = ("test_end_to_end.py", "test_families.py", "test_your_project.py")


def pytest_configure(config):
    pin_xdist_worker_to_its_cores()


def pin_xdist_worker_to_its_cores() -> None:
    """Under `pytest -n N`, give each worker its own share of the cores, inherited by the steps it starts.

    PyTorch starts one thread per core it may use. N workers that each start one per core of the machine
    make N times too many threads, and they spin waiting for each other: two workers training on 2 cores
    with 2 threads each ran 2.5-4x slower than with one pinned thread each (bench/README.md, "make test").
    """
    worker, count = os.environ.get("PYTEST_XDIST_WORKER"), int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if worker is None or count < 2 or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    mine = cores[int(worker.removeprefix("gw")) % len(cores) :: count] or cores
    os.sched_setaffinity(0, mine)
    os.environ["OMP_NUM_THREADS"] = str(len(mine))  # for the steps the tests start (scripts/train.py reads the affinity too)


def pytest_collection_modifyitems(config, items):
    rank = {name: position for position, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture(scope="session")
def real_model_dir() -> Path:
    """The default base model (SmolLM2-135M-Instruct), converted once from the bundled GGUF."""
    from scripts.model import resolve_base

    return resolve_base("HuggingFaceTB/SmolLM2-135M-Instruct").path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, real_model_dir) -> Path:
    """A two-layer Llama with random weights and SmolLM2's real tokenizer: every step runs on it in seconds."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-model")
    tokenizer = AutoTokenizer.from_pretrained(real_model_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def make_project(folder: Path, base: str | Path, extra: str = "") -> Path:
    """Copy project.toml and datasets/ into `folder`, pointing [model] base at `base`."""
    shutil.copytree(REPO / "datasets", folder / "datasets")
    text = (REPO / "project.toml").read_text(encoding="utf-8")
    text = text.replace('base = "HuggingFaceTB/SmolLM2-135M-Instruct"', f'base = "{base}"', 1)
    (folder / "project.toml").write_text(text + extra, encoding="utf-8")
    return folder / "project.toml"


@pytest.fixture
def tiny_project(tmp_path, tiny_model_dir) -> Path:
    """A copy of the project that trains the tiny model; returns the path of its project.toml."""
    return make_project(tmp_path, tiny_model_dir)


def small_trainer(project: Path, precision: str = "fp32", examples: int = 4, rehearsal: bool = False):
    """The project's trainer on its base model and the first few examples, without training
    (with the [data] rehearsal questions when `rehearsal`)."""
    from scripts import train
    from scripts.config import load_settings
    from scripts.model import detect_hardware, load_causal_lm, load_for

    cfg = load_settings(project)
    train_rows, eval_rows = train.prompt_completion_rows(cfg)
    resolved, tokenizer = load_for(cfg)
    hardware = detect_hardware(precision)
    model = load_causal_lm(resolved, hardware)
    held = train.load_rehearsal(cfg) if rehearsal else None
    return train.build_trainer(cfg, model, tokenizer, train_rows[:examples], eval_rows[:2], hardware, project.parent / "ckpt", held)


def set_values(config: Path, section: str, add_missing: bool = False, **values) -> None:
    """Change `key = value` lines inside [section] of a project.toml copy (values written as TOML).

    With add_missing, keys (or the whole section) the file leaves out are added: a learner's
    project.toml may rely on defaults.
    """
    import re

    lines = config.read_text(encoding="utf-8").splitlines()
    current = None
    header_line = None
    remaining = dict(values)
    for number, line in enumerate(lines):
        header = re.match(r"^\[([^\]]+)\]", line.strip())
        if header:
            current = header.group(1)
            header_line = number if current == section else header_line
            continue
        key = line.split("=", 1)[0].strip()
        if current == section and key in remaining:
            lines[number] = f"{key} = {_toml(remaining.pop(key))}"
    if remaining and add_missing:
        added = [f"{key} = {_toml(value)}" for key, value in remaining.items()]
        if header_line is None:
            lines += ["", f"[{section}]", *added]
        else:
            lines[header_line + 1 : header_line + 1] = added
        remaining = {}
    assert not remaining, f"keys not found in [{section}]: {remaining}"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _toml(value) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 600):
    """Run `python -m scripts ...` as a learner would; returns the CompletedProcess."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "scripts", *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def evaluate_metrics(**changes):
    """outputs/evaluate/metrics.json as a real run writes it (40 questions, 5% -> 15%), with `changes` replacing fields."""
    from dataclasses import replace

    from scripts.outputs import ByTaught, EvaluateMetrics, GeneralKnowledge, ModelScore, PairedTestResult, ProbeMeans, TaughtGroup

    def group(questions, base_correct, base_accuracy, tuned_correct, tuned_accuracy):
        return TaughtGroup(questions=questions, base_correct=base_correct, base_accuracy=base_accuracy,
                           tuned_correct=tuned_correct, tuned_accuracy=tuned_accuracy)  # fmt: skip

    metrics = EvaluateMetrics(
        base_model="HuggingFaceTB/SmolLM2-135M-Instruct",
        base_weights="test weights (a tiny random model)",
        eval_examples=40,
        base=ModelScore(accuracy=0.05, correct=2, total=40, interval_95=[0.013821, 0.165039], perplexity=8.764),
        tuned=ModelScore(accuracy=0.15, correct=6, total=40, interval_95=[0.070612, 0.290723], perplexity=3.543),
        interval_rule="95% Wilson score interval (scripts/stats.py)",
        paired_test=PairedTestResult(only_base_correct=1, only_tuned_correct=5, p_value=0.21875, test="exact McNemar"),
        by_taught=ByTaught(
            taught=group(30, 2, 0.0667, 6, 0.2), untaught=group(10, 0, 0.0, 0, 0.0), unknown=group(0, 0, None, 0, None),
            rule="taught: a training record has the same `answer` (scripts/facts.py taught_flags)",
        ),  # fmt: skip
        general_knowledge=GeneralKnowledge(
            file="datasets/general_knowledge.jsonl", questions=20, base_correct=20, tuned_correct=19, kept=19,
            lost=["What is the capital of France?"], beyond_chance=1,
            summary="19 of 20 general questions still answered right; lost: What is the capital of France?",
        ),  # fmt: skip
        accuracy_rule="reply contains the record's `answer` (else the whole reference) after lower-casing and removing punctuation",
        probe_threshold=0.5,
        probes_flagged=1,
        probes_flagged_ids=["region-family"],
        probes_differ_before_tuning_ids=["gender-nurse"],
        probes_mean_score=ProbeMeans(base=0.2, tuned=0.4),
        hardware="2-core AMD EPYC",
        seconds=148.6,
        settings={"max_new_tokens": 48, "side_by_side": 10, "probe_threshold": 0.5, "batch_size": 8},
    )
    return replace(metrics, **changes)


def validate_report(**changes):
    """outputs/validate/report.json as a real run writes it (280 train, 40 eval, 22 probe pairs, every check passed)."""
    from dataclasses import replace

    from scripts.names import RULES_CANNOT_SEE, RULES_DESCRIPTION
    from scripts.outputs import CheckSummary, PersonalDataScan, ReportCounts, ValidateReport
    from scripts.privacy import SCAN_COVERS

    def check(check_id, title, details):
        return CheckSummary(id=check_id, title=title, fix="", details=details, engine="Python", audit=False, status="pass", problems=0)

    report = ValidateReport(
        verdict="pass",
        headline="✅ Ready to train: every check passed",
        files={"train": "datasets/train.jsonl", "eval": "datasets/eval.jsonl", "probes": "datasets/probes.jsonl"},
        counts=ReportCounts(train=280, eval=40, probes=22, checks_failed=0, checks_warned=0, problems=0, warnings=0),
        settings={"max_length": 256, "min_examples": 20, "near_duplicate_threshold": 0.9, "languages": ["en"]},
        checks=[
            check("enough_examples", "Enough examples", "280 train, 40 eval"),
            check("personal_data", "No personal data", "364 texts scanned"),
        ],
        problems=[],
        personal_data_scan=PersonalDataScan(  # what validate_report.personal_data_scan writes for the rules
            finds=SCAN_COVERS, names_detector=RULES_DESCRIPTION, names_cannot_see=RULES_CANNOT_SEE, public_names=[],
            what_to_do="Read every example yourself and replace the names of private people with a made-up name or <PERSON>.",
        ),  # fmt: skip
        token_lengths={"limit": 256, "over_limit": 0, "train": {"examples": 280, "median": 64.0, "max": 100}, "eval": {"examples": 0}},
        diversity={"category": {"geography": 17, "history": 17}},
    )
    return replace(report, **changes)
