"""A small recipe sweep: train with a few settings, measure held-out accuracy, print one table.

    .venv/bin/python bench/sweep.py                                   # the default grid below
    .venv/bin/python bench/sweep.py --runs "epochs=3" "epochs=4,learning_rate=0.002" --seeds 42 1 2

Each run is one training of the project's own `train` step on the bundled data with
some [train] or [lora] values changed, then the project's own greedy answers and
accuracy rule on the eval split, and on the general-knowledge questions (forgetting:
how many of those the base model got right are still right). The base model is measured once. What it prints is
what chose the defaults in project.toml (bench/README.md has the table).
The last line compares the best run with the first one (the current defaults).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# The current defaults first, then one change each (the table in bench/README.md).
DEFAULT_RUNS = ["", "epochs=2", "learning_rate=0.001", "learning_rate=0.003", "rank=16,alpha=32"]


def parse_run(text: str) -> dict[str, object]:
    """'epochs=3,learning_rate=0.002' -> {'epochs': 3, 'learning_rate': 0.002}."""
    values = {}
    for item in filter(None, text.split(",")):
        key, _, raw = item.partition("=")
        values[key.strip()] = float(raw) if "." in raw or "e" in raw.lower() else int(raw)
    return values


def with_changes(cfg, changes: dict, seed: int, output_dir: Path):
    """A copy of the settings with [train]/[lora] values changed and outputs in output_dir."""
    train, lora = dataclasses.replace(cfg.train, seed=seed), dataclasses.replace(cfg.lora)
    for key, value in changes.items():
        section = train if hasattr(train, key) else lora if hasattr(lora, key) else None
        if section is None:
            raise SystemExit(f"unknown setting {key!r}: use a [train] or [lora] key")
        setattr(section, key, type(getattr(section, key))(value))
    project = dataclasses.replace(cfg.project, output_dir=str(output_dir))
    return dataclasses.replace(cfg, train=train, lora=lora, project=project)


def accuracy(cfg, examples, general, adapter_on: bool) -> tuple[int, float, list[bool]]:
    """(held-out questions answered right, perplexity of the references, which general questions are right)."""
    from scripts.evaluate import GENERAL_MAX_NEW_TOKENS, adapter_switch, answer_perplexity, load_tuned_model
    from scripts.facts import is_correct, reference_key
    from scripts.generation import generate_answers

    model, tokenizer, _, _ = load_tuned_model(cfg)
    with adapter_switch(model, adapter_on):
        replies = generate_answers(model, tokenizer, [e.prompt_messages for e in examples], 16, cfg.evaluate.max_new_tokens)
        perplexity = answer_perplexity(model, tokenizer, examples, 16, cfg.model.max_length)
        general_replies = generate_answers(model, tokenizer, [e.prompt_messages for e in general], 16, GENERAL_MAX_NEW_TOKENS)
    general_right = [is_correct(r, reference_key(e)) for r, e in zip(general_replies, general)]
    return sum(is_correct(r, reference_key(e)) for r, e in zip(replies, examples)), perplexity, general_right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "project.toml"))
    parser.add_argument("--runs", nargs="+", default=DEFAULT_RUNS, help="comma-separated key=value changes; '' = defaults")
    parser.add_argument("--seeds", nargs="+", type=int, default=[42])
    args = parser.parse_args()

    from scripts.config import load_settings
    from scripts.data import load_split
    from scripts.evaluate import load_general_knowledge
    from scripts.train import run_training

    cfg = load_settings(args.config)
    examples = load_split(cfg, "eval")
    general = load_general_knowledge(cfg)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for run in args.runs:
            for seed in args.seeds:
                run_cfg = with_changes(cfg, parse_run(run), seed, Path(scratch) / f"{len(rows)}")
                started = time.perf_counter()
                metrics = run_training(run_cfg)
                seconds = time.perf_counter() - started
                if not rows:
                    base_correct, base_ppl, base_general = accuracy(run_cfg, examples, general, adapter_on=False)
                correct, perplexity, general_right = accuracy(run_cfg, examples, general, adapter_on=True)
                lost = sum(known and not now for known, now in zip(base_general, general_right))
                kept = f"{sum(base_general) - lost}/{sum(base_general)}"
                rows.append((run or "defaults", seed, metrics.steps, seconds, metrics.final_eval_loss, perplexity, correct, kept))
                print(f"## {rows[-1]}", flush=True)

    total = len(examples)
    print(f"\nbase model: {base_correct}/{total} right, perplexity {base_ppl:.2f}, {sum(base_general)}/{len(general)} general questions right\n")
    print("| run | seed | steps | train s | eval loss | perplexity | right | accuracy | general questions kept |")
    print("|---|---|---|---|---|---|---|---|---|")
    for run, seed, steps, seconds, loss, perplexity, correct, kept in rows:
        print(f"| {run} | {seed} | {steps} | {seconds:.0f} | {loss} | {perplexity:.2f} | {correct}/{total} | {correct / total:.0%} | {kept} |")
    by_run: dict[str, list[int]] = {}
    for run, _, _, _, _, _, correct, _ in rows:
        by_run.setdefault(run, []).append(correct)
    print("\n| run | mean accuracy | lowest |\n|---|---|---|")
    for run, scores in by_run.items():
        print(f"| {run} | {statistics.mean(scores) / total:.0%} | {min(scores) / total:.0%} |")
    first, best = next(iter(by_run)), max(by_run, key=lambda r: statistics.mean(by_run[r]))
    ratio = statistics.mean(by_run[best]) / max(statistics.mean(by_run[first]), 1e-9)
    print(f"\nratio: best ({best}) {ratio:.2f}x the mean accuracy of the first run ({first})")


if __name__ == "__main__":
    main()
