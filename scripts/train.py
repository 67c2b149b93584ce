"""Train a LoRA adapter on the base model with TRL's SFTTrainer.

    python -m scripts train            # reads [model], [lora], [train] and [data] from project.toml
    python -m scripts train --resume   # continue from the last checkpoint after a crash

What it does, in order:
  1. load the train and eval examples and turn each into a prompt (the
     conversation so far) and a completion (the final assistant answer), so the
     loss is computed on the answer only and includes the end-of-turn token:
     the tuned model learns to stop;
  2. load the base model (4-bit for QLoRA on a GPU) and wrap it with LoRA;
  3. train, logging the loss, checkpointing every `save_steps`, and stopping
     with a clear message if the loss becomes NaN or infinite;
  4. write outputs/train/: adapter/ (safetensors), loss_curve.png and .csv,
     metrics.json (outputs.py TrainMetrics: steps, tokens, time, tokens/s, peak memory, hardware).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .files import replace_folder, save_figure, write_atomic
from .data import Example, load_examples, load_split, require_conversations
from .errors import EXIT_CHECKS_FAILED, UserError
from .model import Hardware, detect_hardware, load_causal_lm, load_for
from .outputs import RehearsalMetrics, TrainMetrics, write_train_metrics

if TYPE_CHECKING:  # torch and the training libraries load when training starts, so `train --help` is instant
    from .rehearsal import RehearsalTargets


def add_arguments(parser) -> None:
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in outputs/train/checkpoints")


def main(cfg, args) -> int:
    from .trainer import TrainingDiverged

    try:
        run_training(cfg, resume=args.resume)
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CHECKS_FAILED
    return 0


def run_training(cfg, resume: bool = False, extra_callbacks: list | None = None) -> TrainMetrics | None:
    """Train and write every output; returns the metrics. `extra_callbacks` lets tests interrupt a run."""
    out = cfg.step_dir("train")
    out.mkdir(parents=True, exist_ok=True)
    train_rows, eval_rows = prompt_completion_rows(cfg)
    resolved, tokenizer = load_for(cfg)
    rehearsal = load_rehearsal(cfg)
    hardware = detect_hardware(cfg.train.precision)
    _use_all_cores(hardware)
    print(f"Training a LoRA adapter on {resolved.model_id} ({resolved.source}) with {hardware.precision} on {hardware.name}")

    model = load_causal_lm(resolved, hardware, cfg.model.quantization, cfg.model.trust_remote_code)
    trainer = build_trainer(cfg, model, tokenizer, train_rows, eval_rows, hardware, out / "checkpoints", rehearsal)
    for callback in extra_callbacks or []:
        trainer.add_callback(callback)
    truncated = count_truncated(trainer.train_dataset, cfg.model.max_length)

    checkpoint = _last_checkpoint(out / "checkpoints", resume)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=checkpoint)
    seconds = time.perf_counter() - started

    if not trainer.is_world_process_zero():
        return None  # in multi-process training only the first process writes the outputs
    save_adapter(trainer.model, out / "adapter")
    history = trainer.state.log_history
    write_loss_csv(history, out / "loss_curve.csv")
    plot_loss_curve(history, out / "loss_curve.png", resolved.model_id)
    metrics = training_metrics(cfg, trainer, hardware, resolved, seconds, truncated, resumed_from=checkpoint)
    write_train_metrics(cfg, metrics)
    print(
        f"Trained {metrics.steps} steps in {seconds:.0f} s ({metrics.tokens_per_second:.0f} tokens/s); "
        f"final train loss {metrics.final_train_loss}, eval loss {metrics.final_eval_loss}.\n"
        f"Adapter: {out / 'adapter'}\nLoss curve: {out / 'loss_curve.png'}"
    )
    return metrics


# ---------------------------------------------------------------- data


def prompt_completion_rows(cfg) -> tuple[list[dict], list[dict]]:
    """Train and eval examples as TRL conversational prompt/completion rows."""
    train = load_split(cfg, "train")
    evaluation = load_split(cfg, "eval")
    if not train:
        raise UserError(f"{cfg.data.train}: no examples; add at least {cfg.data.min_examples} lines, one JSON object each.")
    if len(train) < cfg.data.min_examples:
        raise UserError(
            f"{cfg.data.train}: only {len(train)} examples, fewer than [data] min_examples = {cfg.data.min_examples}; "
            "add more examples (a few hundred is better) or lower min_examples in project.toml."
        )
    if not evaluation:
        raise UserError(f"{cfg.data.eval}: no examples; move about 10-20% of your examples there to measure the model.")
    return [to_prompt_completion(e) for e in train], [to_prompt_completion(e) for e in evaluation]


def to_prompt_completion(example: Example) -> dict:
    """Split a conversation into what the model reads (prompt) and what it learns to write (completion).

    In a multi-turn conversation the earlier assistant turns are context: only the
    final answer is trained on, which keeps one clear target per example.
    """
    require_conversations([example])
    if not example.messages or example.messages[-1]["role"] != "assistant":
        raise UserError(f"{example.location}: the conversation must end with an assistant answer; run validate for details.")
    return {"prompt": example.prompt_messages, "completion": [example.messages[-1]]}


def count_truncated(tokenized_dataset, max_length: int) -> int:
    """How many examples are longer than max_length tokens (they are cut to fit)."""
    return sum(1 for ids in tokenized_dataset["input_ids"] if len(ids) >= max_length)


# ---------------------------------------------------------------- trainer


def lora_config(cfg, hardware: Hardware | None = None, model_config=None):
    """PEFT's LoRA settings from project.toml; on a CPU, with the speed layer's one-step LoRA layer where it is proven."""
    from peft import LoraConfig

    config = LoraConfig(
        r=cfg.lora.rank,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules,
        use_dora=cfg.lora.use_dora,
        use_rslora=cfg.lora.use_rslora,
        task_type="CAUSAL_LM",
    )
    if speed_layer_on(cfg, model_config) and hardware is not None and hardware.device == "cpu":
        from .fast_training import use_one_step_lora

        use_one_step_lora(config)  # GPUs, where this was not measured, keep PEFT's own layer
    return config


def build_trainer(cfg, model, tokenizer, train_rows, eval_rows, hardware: Hardware, checkpoint_dir: Path, rehearsal=None):
    """An SFTTrainer configured from project.toml; see the README for why each setting is what it is.

    `rehearsal` (from load_rehearsal) adds the drift penalty on everyday questions; None trains without it.
    """
    from datasets import Dataset
    from trl import SFTConfig

    from .trainer import StopOnNonFiniteLoss

    settings = cfg.train
    args = SFTConfig(
        output_dir=str(checkpoint_dir),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        learning_rate=settings.learning_rate,
        per_device_train_batch_size=settings.batch_size,
        per_device_eval_batch_size=cfg.evaluate.batch_size,
        gradient_accumulation_steps=settings.gradient_accumulation,
        warmup_steps=settings.warmup_ratio,  # a float below 1 is read as a share of all steps
        weight_decay=settings.weight_decay,
        lr_scheduler_type="cosine",
        seed=settings.seed,
        data_seed=settings.seed,
        logging_steps=settings.logging_steps,
        logging_nan_inf_filter=False,  # show a NaN loss instead of hiding it, so the guard below can stop the run
        eval_strategy="epoch",
        save_strategy="steps",
        save_steps=settings.save_steps,
        save_total_limit=2,
        report_to="none",
        bf16=hardware.precision == "bf16",
        fp16=hardware.precision == "fp16",
        use_cpu=hardware.device == "cpu",
        max_length=cfg.model.max_length,
        completion_only_loss=True,  # loss on the answer tokens only, not the question
        train_sampling_strategy="group_by_length",  # batches of similar length (the speed layer's are closer still)
        include_num_input_tokens_seen="non_padding",
        dataloader_pin_memory=hardware.device == "cuda",
        activation_checkpointing=cfg.model.quantization == "4bit",  # saves GPU memory for bigger QLoRA models
    )
    return trainer_class(cfg, model.config)(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows),
        processing_class=tokenizer,
        peft_config=lora_config(cfg, hardware, model.config),
        callbacks=[StopOnNonFiniteLoss()],
        rehearsal=rehearsal,
    )


def speed_layer_on(cfg, model_config=None) -> bool:
    """[train] speed_layer, on a model family the speed layer was proven on (None: a caller without a model)."""
    if not cfg.train.speed_layer:
        return False
    if model_config is None:
        return True
    from .fast_training import speed_layer_proven

    return speed_layer_proven(model_config)


def trainer_class(cfg, model_config=None) -> type:
    """With [train] speed_layer (the default), the CPU speed layer's trainer; else TRL's own, with rehearsal."""
    if speed_layer_on(cfg, model_config):
        from .fast_training import FastSFTTrainer

        return FastSFTTrainer
    from .trainer import RehearsalSFTTrainer

    return RehearsalSFTTrainer


def load_rehearsal(cfg) -> Rehearsal | None:
    """The everyday questions that hold the model near its base (scripts/rehearsal.py); None when switched off."""
    relative = cfg.data.rehearsal.strip()
    if not relative or cfg.train.rehearsal_weight == 0:
        return None
    path = cfg.path(relative)
    if not path.is_file():
        raise UserError(f'{relative}: file not found; fix [data] rehearsal in project.toml, or set it to "" to train without rehearsal.')
    examples = load_examples(path, "auto", display_name=relative)
    prompts = [e.prompt_messages for e in examples if e.messages and e.messages[-1]["role"] == "assistant"]
    if not prompts:
        raise UserError(f"{relative}: no question to rehearse; add some, or set [data] rehearsal = \"\".")
    batch_size = max(1, cfg.train.batch_size // 2)
    return Rehearsal(prompts, cfg.model.max_length, cfg.train.rehearsal_weight, batch_size)


@dataclass
class Rehearsal:
    """Rehearsal questions; the base model's replies and targets are added at the first training step."""

    prompts: list[list[dict]]
    max_length: int
    weight: float
    batch_size: int
    targets: RehearsalTargets | None = None


def _use_all_cores(hardware: Hardware) -> None:
    # PyTorch may pick fewer threads than cores in containers; training on a CPU wants them all.
    if hardware.device == "cpu":
        import torch

        torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))


def _last_checkpoint(checkpoint_dir: Path, resume: bool) -> str | None:
    if not resume:
        if checkpoint_dir.exists():
            shutil.rmtree(checkpoint_dir)  # a fresh run must not mix with an old one's checkpoints
        return None
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(str(checkpoint_dir)) if checkpoint_dir.is_dir() else None
    if last is None:
        raise UserError(f"{checkpoint_dir}: no checkpoint to resume from; run `python -m scripts train` without --resume.")
    print(f"Resuming from {last}")
    return last


# ---------------------------------------------------------------- outputs


def save_adapter(peft_model, target: Path) -> None:
    """Save only the LoRA weights, as safetensors, replacing any earlier adapter atomically."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    peft_model.save_pretrained(partial, safe_serialization=True)
    replace_folder(partial, target)


def loss_points(history: list[dict], key: str) -> list[tuple[int, float]]:
    """(step, value) pairs of one logged value ("loss", "eval_loss", "rehearsal_kl") from the trainer's log history."""
    return [(entry["step"], entry[key]) for entry in history if key in entry]


# What the loss curve shows: (key in the trainer's log, name in loss_curve.csv).
CURVES = (("loss", "train"), ("eval_loss", "eval"), ("rehearsal_kl", "rehearsal_kl"))
CURVE_LABELS = {
    "train": "training loss",
    "eval": "eval loss (held-out questions)",
    "rehearsal_kl": "drift from the base model on everyday questions (KL)",
}


def write_loss_csv(history: list[dict], path: Path) -> None:
    rows = [(step, split, value) for key, split in CURVES for step, value in loss_points(history, key)]
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(["step", "split", "loss"])
    writer.writerows(sorted(rows))
    write_atomic(path, table.getvalue())


def plot_loss_curve(history: list[dict], path: Path, model_id: str) -> None:
    """Train and eval loss against the step: falling eval loss means the model is learning, not just memorising."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4), dpi=110)
    styles = {"train": {"marker": "."}, "eval": {"marker": "o", "linestyle": "--"}, "rehearsal_kl": {"linestyle": ":"}}
    for key, split in CURVES:
        points = loss_points(history, key)
        if points:
            axes.plot(*zip(*points), label=CURVE_LABELS[split], **styles[split])
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("nats per token (lower is better)")  # losses on answer tokens, and the drift (KL) when rehearsing
    axes.set_title(f"LoRA fine-tuning of {model_id}")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)


def training_metrics(cfg, trainer, hardware, resolved, seconds: float, truncated: int, resumed_from) -> TrainMetrics:
    import torch

    state = trainer.state
    train, evaluation = loss_points(state.log_history, "loss"), loss_points(state.log_history, "eval_loss")
    drift = loss_points(state.log_history, "rehearsal_kl")
    tokens = int(state.num_input_tokens_seen or 0)
    trainable, total = trainer.model.get_nb_trainable_parameters()
    return TrainMetrics(
        base_model=resolved.model_id,
        base_weights=resolved.weights_note,
        steps=state.global_step,
        epochs=round(state.epoch or 0, 3),
        train_examples=len(trainer.train_dataset),
        eval_examples=len(trainer.eval_dataset),
        truncated_examples=truncated,
        tokens=tokens,
        seconds=round(seconds, 2),
        tokens_per_second=round(tokens / seconds, 1) if seconds else 0.0,
        peak_memory_mb=_peak_memory_mb(hardware),
        hardware=hardware.name,
        world_size=trainer.args.world_size,
        device=hardware.device,
        precision=hardware.precision,
        torch_threads=torch.get_num_threads(),
        trainable_parameters=trainable,
        total_parameters=total,
        final_train_loss=round(train[-1][1], 4) if train else None,
        final_eval_loss=round(evaluation[-1][1], 4) if evaluation else None,
        resumed_from=Path(resumed_from).name if resumed_from else None,
        rehearsal=rehearsal_metrics(cfg, trainer.rehearsal, drift),
        settings={"lora": vars(cfg.lora), "train": vars(cfg.train), "max_length": cfg.model.max_length},
    )


def rehearsal_metrics(cfg, rehearsal: Rehearsal | None, drift: list[tuple[int, float]]) -> RehearsalMetrics | None:
    """What the card says about rehearsal: how many everyday questions, how strongly, the drift at the end."""
    if rehearsal is None:
        return None
    return RehearsalMetrics(
        file=cfg.data.rehearsal,
        examples=len(rehearsal.prompts),
        weight=rehearsal.weight,
        batch_size=rehearsal.batch_size,
        first_kl=round(drift[0][1], 4) if drift else None,
        final_kl=round(drift[-1][1], 4) if drift else None,
    )


def _peak_memory_mb(hardware: Hardware) -> float:
    if hardware.device == "cuda":
        import torch

        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB

