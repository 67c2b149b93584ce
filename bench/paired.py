"""Two ways of training, paired in one process: for changes too small to see across separate runs.

    .venv/bin/python bench/paired.py lora-layer       # the one-step LoRA layer against PEFT's own
    .venv/bin/python bench/paired.py length-buckets   # LengthBucketSampler's batches against the Trainer's own grouping
    .venv/bin/python bench/paired.py length-buckets --epochs 6
    .venv/bin/python bench/paired.py shared-opening   # every row run whole against the shared opening run once per batch

On a shared machine two whole benchmark runs can differ by 10% or more, which hides a
change worth a few percent. Here the two ways take turns, batch by batch, in the same
process, the order alternating from pair to pair:

  * lora-layer: each training batch is stepped once with PEFT's LoRA forward and once
    with `OneStepLoraLinear`'s;
  * length-buckets: the same examples, batched by the Trainer's "group_by_length"
    sampler and by `LengthBucketSampler`, a new shuffle each epoch; the i-th batch of
    one is paired with the i-th batch of the other;
  * shared-opening: each training batch is stepped once with every row run whole and
    once with the rows' shared opening run once (scripts/shared_opening.py).

A step here is a forward and backward pass with no optimizer step, so the weights stay
the same. Two warm-up steps are not timed (the first step of a process pays for one-off
set-up). The final line is the ratio of real (non-padding) tokens per second.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
WARMUP_STEPS = 2
NO_SHARING = 10**9  # as scripts/shared_opening.py MIN_SHARED_TOKENS: a length no opening reaches


def batches_from(sampler, trainer, epochs: int) -> list[dict]:
    """`epochs` passes of the sampler over the training set, collated as the Trainer collates them."""
    order = []
    for epoch in range(epochs):
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)  # as the Trainer does; samplers without it draw a new order anyway
        order += list(sampler)
    rows, size = trainer.train_dataset, trainer.args.train_batch_size
    return [trainer.data_collator([rows[i] for i in order[start : start + size]]) for start in range(0, len(order), size)]


def lora_layer_arms(trainer, epochs: int) -> dict:
    from scripts import fast_training

    batches = batches_from(trainer._get_train_sampler(), trainer, epochs)
    one_step = fast_training.OneStepLoraLinear.forward
    return {"PEFT's layer": (batches, fast_training.LoraLinear.forward, True), "one-step layer": (batches, one_step, True)}


def length_bucket_arms(trainer, epochs: int) -> dict:
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from scripts import fast_training

    buckets = trainer._get_train_sampler()  # what training uses
    # As the Trainer builds its own: grouped by the examples of one optimizer step.
    trainers_own = LengthGroupedSampler(trainer.args.train_batch_size * trainer.args.gradient_accumulation_steps, lengths=buckets.lengths)
    forward = fast_training.OneStepLoraLinear.forward
    return {
        "Trainer's grouping": (batches_from(trainers_own, trainer, epochs), forward, True),
        "length buckets": (batches_from(buckets, trainer, epochs), forward, True),
    }


def shared_opening_arms(trainer, epochs: int) -> dict:
    from scripts import fast_training

    batches = batches_from(trainer._get_train_sampler(), trainer, epochs)
    forward = fast_training.OneStepLoraLinear.forward
    return {"every row whole": (batches, forward, False), "opening shared": (batches, forward, True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("comparison", choices=["lora-layer", "length-buckets", "shared-opening"])
    parser.add_argument("--config", default=str(REPO / "project.toml"))
    parser.add_argument("--epochs", type=int, default=3, help="passes over the training examples for each way")
    options = parser.parse_args()

    import torch

    from scripts import fast_training, shared_opening, train
    from scripts.config import load_settings
    from scripts.model import detect_hardware, load_causal_lm, load_for

    cfg = load_settings(options.config)
    train_rows, eval_rows = train.prompt_completion_rows(cfg)
    resolved, tokenizer = load_for(cfg)
    hardware = detect_hardware(cfg.train.precision)
    if hardware.device != "cpu":
        sys.exit("This benchmark is for CPUs: the one-step LoRA layer and the CPU loss are used only there.")
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    model = load_causal_lm(resolved, hardware)
    with tempfile.TemporaryDirectory() as scratch:
        trainer = train.build_trainer(cfg, model, tokenizer, train_rows, eval_rows, hardware, Path(scratch))
    trainer.model.train()
    arms = {"lora-layer": lora_layer_arms, "length-buckets": length_bucket_arms, "shared-opening": shared_opening_arms}[options.comparison](
        trainer, options.epochs
    )
    ours_forward, ours_min_shared = fast_training.OneStepLoraLinear.forward, shared_opening.MIN_SHARED_TOKENS

    def step_seconds(batch, forward, share: bool) -> float:
        fast_training.OneStepLoraLinear.forward = forward
        shared_opening.MIN_SHARED_TOKENS = ours_min_shared if share else NO_SHARING
        inputs = {key: batch[key] for key in ("input_ids", "attention_mask", "labels")}
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=trainer.args.bf16):
            loss = trainer.compute_loss(trainer.model, inputs)
        loss.backward()
        trainer.model.zero_grad(set_to_none=True)
        return time.perf_counter() - started

    names = list(arms)
    for name in names:
        batches, forward, share = arms[name]
        for batch in batches[:WARMUP_STEPS]:
            step_seconds(batch, forward, share)
    seconds, real, computed = (dict.fromkeys(names, 0) for _ in range(3))
    pairs = min(len(batches) for batches, _, _ in arms.values())
    for index in range(pairs):
        for name in names if index % 2 == 0 else reversed(names):
            batches, forward, share = arms[name]
            seconds[name] += step_seconds(batches[index], forward, share)
            real[name] += int(batches[index]["attention_mask"].sum())
            computed[name] += batches[index]["attention_mask"].numel()
    fast_training.OneStepLoraLinear.forward, shared_opening.MIN_SHARED_TOKENS = ours_forward, ours_min_shared

    print(f"\n{hardware.name}, {hardware.precision}; {pairs} pairs of steps ({options.epochs} epochs each)")
    print(f"{'':<20} {'seconds':>8} {'real tokens':>11} {'padding':>8} {'tokens/s':>9}")
    for name in names:
        print(f"{name:<20} {seconds[name]:>8.2f} {real[name]:>11} {1 - real[name] / computed[name]:>8.1%} {real[name] / seconds[name]:>9.1f}")
    before, after = (real[name] / seconds[name] for name in names)
    print(f"\nratio: {names[1]} trained {after / before:.3f}x as many real tokens per second as {names[0]}")


if __name__ == "__main__":
    main()
