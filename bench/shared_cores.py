"""Why `make test` pins each test process to its own cores: training steps in processes that share the CPU.

Runs the same LoRA training steps (the default model, float32) in one process per core at once, twice:
  * each process with PyTorch's default threads (one per core of the machine: what two pytest-xdist
    workers did before tests/conftest.py pinned them), so the machine runs cores x cores threads;
  * each process pinned to one core, one thread.
Prints each process's seconds and the ratio of the slowest. Run with nothing else on the machine:

    .venv/bin/python bench/shared_cores.py               # the default model, 6 steps per process
    .venv/bin/python bench/shared_cores.py --model DIR --steps 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def train_steps(model_dir: str, steps: int, threads: int) -> None:
    """The measured work: `steps` LoRA training steps on a batch of 8 x 64 tokens, on `threads` threads."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32), LoraConfig(r=32, lora_alpha=64, target_modules="all-linear"))
    optimizer = torch.optim.AdamW([parameter for parameter in model.parameters() if parameter.requires_grad], lr=1e-4)
    ids = torch.randint(0, model.config.vocab_size, (8, 64))
    start = time.perf_counter()
    for _ in range(steps):
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    print(f"{time.perf_counter() - start:.2f}", flush=True)


def run_together(model_dir: str, steps: int, pinned: bool) -> list[float]:
    """One process per core, started together; the seconds each took for its steps."""
    cores = sorted(os.sched_getaffinity(0))
    processes = []
    for core in cores:
        threads = 1 if pinned else len(cores)
        command = [sys.executable, __file__, "--worker", "--model", model_dir, "--steps", str(steps), "--threads", str(threads)]
        pin = (lambda core=core: os.sched_setaffinity(0, [core])) if pinned else None
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True, preexec_fn=pin))
    return [float(process.communicate()[0].split()[-1]) for process in processes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a model folder (default: the bundled SmolLM2-135M-Instruct)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model is None:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        from scripts.model import resolve_base

        args.model = str(resolve_base("HuggingFaceTB/SmolLM2-135M-Instruct").path)
    if args.worker:
        train_steps(args.model, args.steps, args.threads)
        return
    cores = len(os.sched_getaffinity(0))
    shared = run_together(args.model, args.steps, pinned=False)
    pinned = run_together(args.model, args.steps, pinned=True)
    print(f"{cores} processes x {cores} threads (default): " + ", ".join(f"{seconds:.1f} s" for seconds in shared))
    print(f"{cores} processes x 1 pinned thread:           " + ", ".join(f"{seconds:.1f} s" for seconds in pinned))
    print(f"ratio: {max(shared) / max(pinned):.2f}x longer with default threads than pinned (slowest process, {args.steps} steps each)")


if __name__ == "__main__":
    main()
