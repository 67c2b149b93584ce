"""Training throughput: this project's `train` settings against TRL's defaults, in one command.

    .venv/bin/python bench/train_throughput.py            # default model, bundled data, 15 optimizer steps each
    .venv/bin/python bench/train_throughput.py --steps 30
    .venv/bin/python bench/train_throughput.py --repeats 3   # alternate the runs 3 times; compare the fastest of each
    .venv/bin/python bench/train_throughput.py --precision fp32   # both in float32: the path of CPUs without native bf16

Both runs use the same base model, the same training examples, the same LoRA
settings (from project.toml) and the same number of optimizer steps:

  * "TRL defaults": `SFTConfig()` as shipped (bf16 autocast, gradient checkpointing,
    learning rate 2e-5, loss on every token of the conversation, random batches),
    with only what a CPU run needs (use_cpu) and token counting switched on, and in float32
    whenever this project trains in float32 (`--precision fp32`, or a CPU without native bf16);
  * "this project": `scripts.train.build_trainer`, exactly what `python -m scripts train` runs.

Printed per run: real (non-padding) tokens per second, model FLOP/s and the share of
this machine's matmul peak for the dtype used (measured in this same command), peak
memory, and the eval loss on answer tokens of the held-out split (the same function
for both, so speed is never bought with quality).

Model FLOPs per real token = 4 x (matmul parameters of the transformer body)
  + 4 x (output-layer parameters) for each token the loss is computed on
  + 6 x (LoRA parameters)
  + 12 x layers x example length x attention width (attention scores and values, forward + backward).
The 4 is 2 for the forward pass and 2 for the gradients of the activations (the base
weights are frozen, so no weight gradients); LoRA's weights are trained, so they add
2 more for their own gradients. With rank 16 on all seven projections of SmolLM2-135M,
LoRA is about 6% of the total. Each token attends to the tokens of its own example, so
the attention term uses the token-weighted mean example length (sum of squared lengths
over sum of lengths), not the plain mean. Padding is computed but never counted. This project runs
the opening every example of a batch shares (the system prompt) once per batch: those tokens are
counted once too, as the model runs them. Both train without rehearsal (scripts/rehearsal.py), which
TRL's defaults do not have: `make demo`'s training, with it, takes about 1.4x as long per step.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from transformers import TrainerCallback

REPO = Path(__file__).resolve().parents[1]
WARMUP_STEPS = 2  # left out of the "after warm-up" figures
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def matmul_peak_gflops(dtype, size: int = 2048, repeats: int = 8) -> float:
    """Best-case matmul speed of this machine for `dtype`, as the ceiling to compare against."""
    import torch

    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    for _ in range(2):
        a @ b  # warm up
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def flops_per_token(model_config, attention_length: float, loss_share: float, lora_parameters: int, run_share: float = 1.0) -> float:
    """Model FLOPs per real token, as in the module docstring; `run_share` of the tokens go through the model."""
    layers, width, mlp = model_config.num_hidden_layers, model_config.hidden_size, model_config.intermediate_size
    heads, kv_heads = model_config.num_attention_heads, model_config.num_key_value_heads
    head_dim = width // heads
    attention_params = width * heads * head_dim * 2 + width * kv_heads * head_dim * 2
    body = layers * (attention_params + 3 * width * mlp)
    head = width * model_config.vocab_size
    attention = 12 * layers * attention_length * heads * head_dim
    return (4 * body + 6 * lora_parameters) * run_share + attention + 4 * head * loss_share  # every token still attends to the opening


def tokens_run(batches, shares_opening: bool) -> int:
    """Real tokens the model runs: with the shared opening (scripts/shared_opening.py), once per batch, not per row."""
    from scripts.shared_opening import MIN_SHARED_TOKENS, shared_length

    total = 0
    for batch in batches:
        total += int(batch["attention_mask"].sum())
        if shares_opening:
            first_label = int((batch["labels"] != -100).any(dim=0).long().argmax())
            shared = shared_length(batch["input_ids"], batch["attention_mask"], first_label - 1)
            total -= shared * (len(batch["input_ids"]) - 1) if shared >= MIN_SHARED_TOKENS else 0
    return total


def trl_default_trainer(cfg, model, tokenizer, train_rows, eval_rows, output_dir, hardware):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from scripts.train import lora_config

    args = SFTConfig(
        output_dir=output_dir,
        max_steps=cfg.train.max_steps,
        use_cpu=True,
        # TRL's default is bf16; where this project trains in float32 (asked for, or a CPU without native bf16),
        # TRL does too, so the two always compute in the same precision.
        bf16=hardware.precision == "bf16",
        report_to="none",
        save_strategy="no",
        include_num_input_tokens_seen="non_padding",
    )
    # TRL's default conversational path: the whole conversation as "messages", loss on every token.
    as_messages = [{"messages": row["prompt"] + row["completion"]} for row in train_rows]
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(as_messages),
        processing_class=tokenizer,
        peft_config=lora_config(cfg),
    )


def project_trainer(cfg, model, tokenizer, train_rows, eval_rows, output_dir, hardware):
    from scripts.train import build_trainer

    trainer = build_trainer(cfg, model, tokenizer, train_rows, eval_rows, hardware, Path(output_dir))
    trainer.args.save_strategy = "no"
    trainer.args.eval_strategy = "no"
    return trainer


class StepClock(TrainerCallback):
    """A Trainer callback noting the time and tokens seen at the end of every optimizer step."""

    def __init__(self):
        self.ends = []  # (seconds, tokens seen so far)

    def on_step_end(self, args, state, control, **kwargs):
        self.ends.append((time.perf_counter(), state.num_input_tokens_seen))

    def steady_tokens_per_second(self, warmup_steps: int = WARMUP_STEPS) -> float:
        """Tokens/s from the end of the warm-up steps to the end of the run: the first steps also pay for
        one-off set-up (memory allocation, matmul kernels prepared for each new shape)."""
        if len(self.ends) <= warmup_steps:
            return math.nan  # a run too short to have steps after the warm-up
        (start, seen_before), (end, seen_after) = self.ends[warmup_steps - 1], self.ends[-1]
        return (seen_after - seen_before) / (end - start)


def run_variant(label: str, config_path: str, steps: int, precision: str) -> dict:
    """Train one variant and measure it; runs in a fresh process so its peak memory is its own."""
    import torch

    from scripts.config import load_settings
    from scripts.data import load_split
    from scripts.evaluate import answer_perplexity
    from scripts.model import detect_hardware, load_causal_lm, load_for
    from scripts.train import prompt_completion_rows

    cfg = load_settings(config_path)
    cfg.train.max_steps = steps
    cfg.train.precision = precision
    train_rows, eval_rows = prompt_completion_rows(cfg)
    resolved, tokenizer = load_for(cfg)
    hardware = detect_hardware(cfg.train.precision)
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    torch.manual_seed(cfg.train.seed)
    with tempfile.TemporaryDirectory() as scratch:
        if label == "TRL defaults":
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained(resolved.path)  # as a TRL user would load it
            trainer = trl_default_trainer(cfg, model, tokenizer, train_rows, eval_rows, scratch, hardware)
        else:
            model = load_causal_lm(resolved, hardware)
            trainer = project_trainer(cfg, model, tokenizer, train_rows, eval_rows, scratch, hardware)
        loader = trainer.get_train_dataloader()
        batches = list(loader)
        real = sum(int(b["attention_mask"].sum()) for b in batches)
        labelled = sum(int((b["labels"][:, 1:] != -100).sum()) for b in batches)
        lengths = torch.cat([b["attention_mask"].sum(dim=1) for b in batches]).double()
        attention_length = float((lengths**2).sum() / lengths.sum())  # the length each token's attention runs over, token-weighted
        clock = StepClock()
        trainer.add_callback(clock)
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    tokens = int(trainer.state.num_input_tokens_seen)
    trainer.model.eval()
    perplexity = answer_perplexity(trainer.model, tokenizer, load_split(cfg, "eval"), 8, cfg.model.max_length)
    lora_parameters = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    from scripts.fast_training import FastSFTTrainer

    shares_opening = isinstance(trainer, FastSFTTrainer) and hardware.device == "cpu"  # the speed layer's CPU loss
    per_token = flops_per_token(model.config, attention_length, labelled / real, lora_parameters, tokens_run(batches, shares_opening) / real)
    steady = clock.steady_tokens_per_second()
    return {
        "run": label,
        "dtype": "bf16" if trainer.args.bf16 else "fp32",
        "steps": trainer.state.global_step,
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_second": tokens / seconds,
        "gflops": per_token * tokens / seconds / 1e9,
        "steady_tokens_per_second": steady,
        "steady_gflops": per_token * steady / 1e9,
        "eval_loss": math.log(perplexity),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "hardware": hardware.name,
        "model": f"{resolved.model_id} ({resolved.source})",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=15, help="optimizer steps per run (15 = one epoch of the example)")
    parser.add_argument("--config", default=str(REPO / "project.toml"))
    parser.add_argument("--precision", choices=["auto", "fp32"], default="auto", help="fp32: both runs in float32, as on CPUs without native bf16")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each variant, alternating; the fastest of each is compared")
    options = parser.parse_args()

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import torch

    from scripts.config import load_settings

    cfg = load_settings(options.config)
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    # On a shared (virtual) machine a neighbour can slow any single measurement, so the peak is measured
    # before, between and after the runs and the best is kept: the ceiling is never set too low.
    peaks = {"fp32": [], "bf16": []}
    # Without native bf16 (an AVX2-only CPU) both runs train in float32, and a bf16 matmul there takes
    # minutes on PyTorch's slow fallback: its peak is then neither needed nor measured.
    from scripts.model import detect_hardware

    dtypes = [(torch.float32, "fp32")] + ([(torch.bfloat16, "bf16")] if detect_hardware(options.precision).precision == "bf16" else [])

    def measure_peaks():
        for dtype, name in dtypes:
            peaks[name].append(matmul_peak_gflops(dtype))

    runs = []
    measure_peaks()
    for _ in range(options.repeats):
        for label in ("TRL defaults", "this project"):
            with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
                runs.append(pool.submit(run_variant, label, options.config, options.steps, options.precision).result())
            measure_peaks()
    peaks = {name: max(values) if values else math.nan for name, values in peaks.items()}
    results = [max((r for r in runs if r["run"] == label), key=lambda r: r["tokens_per_second"]) for label in ("TRL defaults", "this project")]
    if options.repeats > 1:
        print("\nevery run (tokens/s): " + "; ".join(f"{r['run']} {r['tokens_per_second']:.1f}" for r in runs))

    print(f"\nmachine: {results[0]['hardware']}, {torch.get_num_threads()} threads; matmul peak fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s")
    modules = cfg.lora.target_modules if isinstance(cfg.lora.target_modules, str) else f"{len(cfg.lora.target_modules)} module types"
    print(f"model: {results[0]['model']}; {options.steps} optimizer steps each; LoRA r={cfg.lora.rank} on {modules}\n")
    print(f"whole run: from trainer.train() to its return; after warm-up: from the end of step {WARMUP_STEPS} to the last step\n")
    header = f"{'run':<14} {'dtype':<5} {'steps':>5} {'tokens':>7} {'seconds':>8} {'tokens/s':>9} {'GFLOP/s':>8} {'% peak':>7}"
    print(f"{'':<44}{'whole run':^26}  {'after warm-up':^26}")
    print(f"{header} {'tokens/s':>9} {'GFLOP/s':>8} {'% peak':>7} {'eval loss':>9} {'peak MB':>8}")
    for r in results:
        peak = peaks[r["dtype"]]
        print(
            f"{r['run']:<14} {r['dtype']:<5} {r['steps']:>5} {r['tokens']:>7} {r['seconds']:>8.1f} {r['tokens_per_second']:>9.1f} "
            f"{r['gflops']:>8.1f} {100 * r['gflops'] / peak:>6.1f}% {r['steady_tokens_per_second']:>9.1f} "
            f"{r['steady_gflops']:>8.1f} {100 * r['steady_gflops'] / peak:>6.1f}% {r['eval_loss']:>9.4f} {r['peak_rss_mb']:>8.0f}"
        )
    trl, ours = results
    peak = peaks[ours["dtype"]]
    print(
        f"\nratio: {ours['tokens_per_second'] / trl['tokens_per_second']:.2f}x TRL's default tokens/s (target >= 2); "
        f"eval loss {ours['eval_loss'] / trl['eval_loss']:.3f}x TRL's (target <= 1.02); "
        f"{100 * ours['gflops'] / peak:.0f}% of the {ours['dtype']} matmul peak over the whole run, "
        f"{100 * ours['steady_gflops'] / peak:.0f}% after warm-up (target >= 50%)"
    )


if __name__ == "__main__":
    main()
