"""The one-step LoRA layer against PEFT's own, paired in one process: a change too small to see across runs.

    .venv/bin/python bench/lora_layer_paired.py             # the default model, bundled data, 2 passes
    .venv/bin/python bench/lora_layer_paired.py --passes 3

On a shared machine two whole benchmark runs can differ by 10% or more, which hides a
change worth a few percent. Here each training batch is stepped (forward + backward, no
optimizer step, so the weights stay the same) once with PEFT's LoRA forward and once with
`OneStepLoraLinear`'s, in the same process, the order alternating from batch to batch.
The first pass only warms up (it prepares the matmul kernels for every shape); the later
passes are timed, and the final line is the ratio of the summed step times.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(REPO / "project.toml"))
    parser.add_argument("--passes", type=int, default=2, help="passes over the training batches; the first is warm-up")
    options = parser.parse_args()

    import torch

    from scripts import train
    from scripts.config import load_settings
    from scripts.model import detect_hardware, load_causal_lm, load_for

    cfg = load_settings(options.config)
    train_rows, eval_rows = train.prompt_completion_rows(cfg)
    resolved, tokenizer = load_for(cfg)
    hardware = detect_hardware(cfg.train.precision)
    if hardware.device != "cpu":
        sys.exit("This benchmark is for CPUs: the one-step LoRA layer is used only there.")
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    model = load_causal_lm(resolved, hardware)
    with tempfile.TemporaryDirectory() as scratch:
        trainer = train.build_trainer(cfg, model, tokenizer, train_rows, eval_rows, hardware, Path(scratch))
    trainer.model.train()
    batches = list(trainer.get_train_dataloader())
    forwards = {"PEFT's layer": train.LoraLinear.forward, "one-step layer": train.OneStepLoraLinear.forward}

    def step_seconds(batch, forward) -> float:
        train.OneStepLoraLinear.forward = forward
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=trainer.args.bf16):
            loss = trainer.compute_loss(trainer.model, dict(batch))
        loss.backward()
        trainer.model.zero_grad(set_to_none=True)
        return time.perf_counter() - started

    totals = dict.fromkeys(forwards, 0.0)
    for done in range(options.passes):
        for index, batch in enumerate(batches):
            order = list(forwards) if (index + done) % 2 == 0 else list(reversed(forwards))
            for name in order:
                seconds = step_seconds(batch, forwards[name])
                if done > 0:
                    totals[name] += seconds
    train.OneStepLoraLinear.forward = forwards["one-step layer"]

    peft_seconds = totals["PEFT's layer"]
    print(f"\n{hardware.name}, {hardware.precision}; {len(batches)} batches x {options.passes - 1} timed passes")
    for name, seconds in totals.items():
        print(f"{name:<15} {seconds:8.2f} s")
    print(f"\nratio: the one-step layer's steps are {peft_seconds / totals['one-step layer']:.3f}x as fast as with PEFT's layer")


if __name__ == "__main__":
    main()
