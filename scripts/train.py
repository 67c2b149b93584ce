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
     metrics.json (steps, tokens, time, tokens/s, peak memory, hardware).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from peft.tuners.lora import Linear as LoraLinear
from torch.utils.data import Sampler
from transformers import TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from trl import SFTTrainer

from .files import replace_folder, save_figure, write_atomic
from .data import Example, load_examples, load_split
from .errors import EXIT_CHECKS_FAILED, UserError
from .model import Hardware, detect_hardware, load_causal_lm, load_for
from .rehearsal import RehearsalTargets, base_targets, batch_indices, drift_loss


class TrainingDiverged(Exception):
    """The loss became NaN or infinite; the run cannot recover by itself."""


def add_arguments(parser) -> None:
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in outputs/train/checkpoints")


def main(cfg, args) -> int:
    try:
        run_training(cfg, resume=getattr(args, "resume", False))
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CHECKS_FAILED
    return 0


def run_training(cfg, resume: bool = False, extra_callbacks: list | None = None) -> dict:
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
        return {}  # in multi-process training only the first process writes the outputs
    save_adapter(trainer.model, out / "adapter")
    history = trainer.state.log_history
    write_loss_csv(history, out / "loss_curve.csv")
    plot_loss_curve(history, out / "loss_curve.png", resolved.model_id)
    metrics = training_metrics(cfg, trainer, hardware, resolved, seconds, truncated, resumed_from=checkpoint)
    write_atomic(out / "metrics.json", json.dumps(metrics, indent=2, default=str))
    print(
        f"Trained {metrics['steps']} steps in {seconds:.0f} s ({metrics['tokens_per_second']:.0f} tokens/s); "
        f"final train loss {metrics['final_train_loss']}, eval loss {metrics['final_eval_loss']}.\n"
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
    if example.text is not None:
        raise UserError(
            f"{example.location}: plain-text records cannot train a chat model; "
            'write them as {"messages": [...]} or {"prompt": ..., "completion": ...}.'
        )
    if not example.messages or example.messages[-1]["role"] != "assistant":
        raise UserError(f"{example.location}: the conversation must end with an assistant answer; run validate for details.")
    return {"prompt": example.prompt_messages, "completion": [example.messages[-1]]}


def count_truncated(tokenized_dataset, max_length: int) -> int:
    """How many examples are longer than max_length tokens (they are cut to fit)."""
    return sum(1 for ids in tokenized_dataset["input_ids"] if len(ids) >= max_length)


# ---------------------------------------------------------------- trainer


def lora_config(cfg, hardware: Hardware | None = None, model_config=None):
    """PEFT's LoRA settings from project.toml; on a CPU, with the one-step LoRA layer below where it is proven."""
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
    if hardware is not None and hardware.device == "cpu" and speed_layer_proven(model_config):
        # PEFT's (experimental) hook for custom LoRA layers. GPUs, where this was not measured, keep PEFT's own.
        config._register_custom_module({torch.nn.Linear: OneStepLoraLinear})
    return config


# The model classes on which tests/test_families.py shows that the CPU speed-ups (OneStepLoraLinear and the
# answer-only loss below) give the same loss and gradients as PEFT's and TRL's own code. Any other model
# trains with PEFT's and TRL's code, a little slower.
SPEED_LAYER_ARCHITECTURES = (
    "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM",
    "Gemma2ForCausalLM", "Gemma3ForCausalLM", "Phi3ForCausalLM",
)


def speed_layer_proven(model_config) -> bool:
    """True when the model's class is one the CPU speed-ups were checked on (None: a caller without a model)."""
    if model_config is None:
        return True
    return any(name in SPEED_LAYER_ARCHITECTURES for name in getattr(model_config, "architectures", None) or [])


class OneStepLoraLinear(LoraLinear):
    """PEFT's LoRA layer, adding the adapter's output to the base output in one step; used on CPUs.

    PEFT computes base(x) + B(A(x)) * scale: the adapter writes a full-width output (1,536 values per token
    in SmolLM2's MLP layers), multiplies all of it by the scale, then adds it to the base output, in each of
    210 layers, forward and backward. Here the scale multiplies the rank-r product A(x) instead (16 values
    per token; the same sum), and the matrix multiply by B adds its result straight into the base output
    (addmm_), and under autocast the input is not cast to float32 first, as PEFT does (autocast would cast it
    straight back). Measured in paired runs on a 2-core CPU: training steps 2-8% faster (bench/README.md).
    Anything but a plain single adapter (DoRA, mixed or merged adapters, a LoRA bias) takes PEFT's own
    path; the saved adapter is PEFT's usual one.
    """

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if args or kwargs or not self._plain_single_adapter():
            return super().forward(x, *args, **kwargs)
        adapter = self.active_adapters[0]
        lora_A, lora_B = self.lora_A[adapter], self.lora_B[adapter]
        flat_x = x.reshape(-1, x.shape[-1])  # (tokens, features): addmm_ works on 2-D matrices
        result = self.base_layer(flat_x)
        lora_input = self.lora_dropout[adapter](flat_x)
        if not torch.is_autocast_enabled(flat_x.device.type):
            # PEFT casts each LoRA input to float32, the LoRA weights' precision. Under autocast the product is
            # computed in bf16 anyway, so that cast and autocast's cast back would be two wasted copies per layer.
            lora_input = self._cast_input_dtype(lora_input, lora_A.weight.dtype)
        scaled = (lora_A(lora_input) * self.scaling[adapter]).to(result.dtype)
        result.addmm_(scaled, lora_B.weight.to(result.dtype).t())  # result += scaled @ B^T, in place
        return result.view(*x.shape[:-1], result.shape[-1])

    def _plain_single_adapter(self) -> bool:
        adapters = self.active_adapters
        return (
            not self.disable_adapters
            and not self.merged
            and len(adapters) == 1
            and adapters[0] in self.lora_A
            and adapters[0] not in self.lora_variant
            and self.lora_B[adapters[0]].bias is None
        )


def build_trainer(cfg, model, tokenizer, train_rows, eval_rows, hardware: Hardware, checkpoint_dir: Path, rehearsal=None):
    """An SFTTrainer configured from project.toml; see the README for why each setting is what it is.

    `rehearsal` (from load_rehearsal) adds the drift penalty on everyday questions; None trains without it.
    """
    from datasets import Dataset
    from trl import SFTConfig

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
        train_sampling_strategy="group_by_length",  # batches of similar length: see LengthBucketSampler below
        include_num_input_tokens_seen="non_padding",
        dataloader_pin_memory=hardware.device == "cuda",
        activation_checkpointing=cfg.model.quantization == "4bit",  # saves GPU memory for bigger QLoRA models
    )
    return FastSFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(eval_rows),
        processing_class=tokenizer,
        peft_config=lora_config(cfg, hardware, model.config),
        callbacks=[StopOnNonFiniteLoss()],
        rehearsal=rehearsal,
    )


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


# Config fields that make a model change its logits after the output layer; the CPU fast path below does not
# repeat those changes, so such models keep TRL's own loss (the same list TRL's fused output layer checks).
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling")


class FastSFTTrainer(SFTTrainer):
    """TRL's SFTTrainer with two changes that make training on a small machine faster.

    1. Batches of the most similar lengths (`LengthBucketSampler`), on every device: less padding to compute.
    2. On a CPU, the loss from the answer tokens only. The output layer of a small model is large
       (SmolLM2-135M: 576 x 49,152 weights, a fifth of the model), and the loss needs it only where there is
       a label. TRL's own fused output layer skips the other positions on a GPU, but on a CPU it scores every
       position, in float32. This computes the same loss, the same way TRL normalises it, from the final
       hidden states of the answer positions only: a training step is about 1.5x faster (bench/README.md).
       GPUs keep TRL's loss unchanged.
    """

    def __init__(self, *args, rehearsal: Rehearsal | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.rehearsal = rehearsal
        self._rehearsal_step, self._rehearsal_micro = -1, 0

    def _get_train_sampler(self, train_dataset=None):
        # The Trainer's (private) hook for its training sampler; transformers is pinned, and the tests use it.
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, LengthGroupedSampler):  # train_sampling_strategy="group_by_length"
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return LengthBucketSampler(sampler.lengths, self.args.train_batch_size, seed)
        return sampler

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if return_outputs:  # evaluation asks for the outputs too: TRL's own loss, no rehearsal
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        if self.args.device.type != "cpu" or self._changes_logits() or not speed_layer_proven(self.model.config):
            loss = super().compute_loss(model, inputs, False, num_items_in_batch)
        else:
            loss = self._answer_only_loss(model, inputs, num_items_in_batch)
        if self.rehearsal is not None and model.training:
            loss = loss + self._rehearsal_loss(model, num_items_in_batch)
        return loss

    def _answer_only_loss(self, model, inputs, num_items_in_batch):
        # Through the (possibly DDP-wrapped) model, so multi-process training still syncs gradients.
        # An empty logits_to_keep: the model's own output layer scores no position; we do it below.
        outputs = model(
            input_ids=inputs["input_ids"],
            attention_mask=inputs["attention_mask"],
            output_hidden_states=[-1],  # only the last layer's
            logits_to_keep=torch.empty(0, dtype=torch.long, device=inputs["input_ids"].device),
            use_cache=False,
        )
        labels = inputs["labels"][:, 1:]  # position t predicts token t + 1
        answer = labels != -100
        output_layer = self.model.get_output_embeddings()  # self.model is never DDP-wrapped
        hidden = outputs.hidden_states[-1][:, :-1][answer]  # the final, normalised hidden states
        # Autocast covers only the model's forward, so compute in the weights' own precision, as it would.
        logits = output_layer(hidden.to(output_layer.weight.dtype)).float()
        targets = labels[answer]
        loss = F.cross_entropy(logits, targets, reduction="sum")
        # As TRL does: divide by the answer tokens of the whole (accumulated, all-process) batch.
        denominator = targets.numel() if num_items_in_batch is None else num_items_in_batch
        loss = loss / torch.as_tensor(denominator).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes  # DDP averages gradients across processes
        self._log_token_accuracy(logits, targets)
        return loss

    def _rehearsal_loss(self, model, num_items_in_batch) -> torch.Tensor:
        """The rehearsal batch's drift from the base model, weighted (scripts/rehearsal.py)."""
        rehearsal = self.rehearsal
        if rehearsal.targets is None:
            rehearsal.targets = base_targets(
                self.model, model, self.processing_class, rehearsal.prompts, self.args.per_device_eval_batch_size, rehearsal.max_length
            )
        indices = batch_indices(self._micro_step_index(), rehearsal.batch_size, len(rehearsal.prompts), self.args.seed)
        drift = drift_loss(self.model, model, rehearsal.targets, indices, self.processing_class.pad_token_id)
        self._metrics["train"]["rehearsal_kl"].append(drift.item())
        # The answer loss is already a share of the whole accumulated batch; this term must be too.
        if self._loss_already_split_across_accumulation(num_items_in_batch):
            drift = drift / self.current_gradient_accumulation_steps
        return rehearsal.weight * drift

    def _micro_step_index(self) -> int:
        """How many micro-batches came before this one: set by the step, so a resumed run agrees."""
        step = self.state.global_step
        if step != self._rehearsal_step:
            self._rehearsal_step, self._rehearsal_micro = step, 0
        index = step * self.args.gradient_accumulation_steps + self._rehearsal_micro
        self._rehearsal_micro += 1
        return index

    def _loss_already_split_across_accumulation(self, num_items_in_batch) -> bool:
        # The Trainer divides a loss by the accumulation steps itself unless it was normalised by
        # num_items_in_batch (the same rule as transformers' Trainer.training_step).
        if self.loss_is_scaled_for_ga is not None:
            return self.loss_is_scaled_for_ga
        return (self.model_accepts_loss_kwargs and num_items_in_batch is not None) or self.compute_loss_func is not None

    def _changes_logits(self) -> bool:
        text_config = self.model.config.get_text_config()
        return any(getattr(text_config, name, None) is not None for name in _LOGIT_TRANSFORMS)

    @torch.no_grad()
    def _log_token_accuracy(self, logits, targets) -> None:
        """The share of answer tokens the model would have written itself: shown next to the loss in the log."""
        if targets.numel():
            mode = "train" if self.model.training else "eval"
            correct = (logits.argmax(-1) == targets).float().mean().item()
            self._metrics[mode]["mean_token_accuracy"].append(correct)


class LengthBucketSampler(Sampler):
    """Batches of examples of the most similar lengths, in a new random order every epoch.

    Every batch is padded to its longest example, so neighbours in length waste the least. Each epoch: a
    random few examples make up the one short batch (when the examples do not divide into full batches); the
    rest are sorted by length (equal lengths in random order) and cut into batches; the batch holding the
    longest examples comes first, so a batch too big for memory fails at once rather than at the end of an
    epoch; the other batches follow in random order, and the short batch last.

    The Trainer's own "group_by_length" sorts only within random groups of a few batches, which left 9% of
    the computed tokens as padding on the bundled example, and this 3%: 5-6% more real tokens per second in
    paired runs (bench/README.md). The order depends only on the seed and the epoch, so a resumed run (which
    skips the batches already trained in that epoch) and every process of a multi-process run see the same
    batches as an uninterrupted run.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int):
        self.lengths, self.batch_size, self.seed, self.epoch = lengths, batch_size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch  # the Trainer calls this at the start of every epoch, also when resuming

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        shuffled = torch.randperm(len(self.lengths), generator=generator).tolist()
        leftover = len(shuffled) % self.batch_size
        short_batch, rest = shuffled[:leftover], shuffled[leftover:]
        by_length = sorted(rest, key=lambda index: self.lengths[index])  # a stable sort keeps ties shuffled
        batches = [by_length[start : start + self.batch_size] for start in range(0, len(by_length), self.batch_size)]
        longest = batches.pop() if batches else []
        order = torch.randperm(len(batches), generator=generator).tolist()
        # The data loader cuts this flat list into batches again by position, so the short batch must be last.
        return iter(longest + [index for i in order for index in batches[i]] + short_batch)


class StopOnNonFiniteLoss(TrainerCallback):
    """Stop as soon as a logged loss is NaN or infinite: nothing good comes after that."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise TrainingDiverged(
                f"the training loss became {loss} at step {state.global_step}; lower [train] learning_rate in "
                "project.toml (try dividing it by 10), check the data report for very long examples, "
                'or set precision = "fp32".'
            )


def _use_all_cores(hardware: Hardware) -> None:
    # PyTorch may pick fewer threads than cores in containers; training on a CPU wants them all.
    if hardware.device == "cpu":
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
    axes.set_ylabel("loss on answer tokens (nats per token)")
    axes.set_title(f"LoRA fine-tuning of {model_id}")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)


def training_metrics(cfg, trainer, hardware, resolved, seconds: float, truncated: int, resumed_from) -> dict:
    state = trainer.state
    train, evaluation = loss_points(state.log_history, "loss"), loss_points(state.log_history, "eval_loss")
    drift = loss_points(state.log_history, "rehearsal_kl")
    tokens = int(state.num_input_tokens_seen or 0)
    trainable, total = trainer.model.get_nb_trainable_parameters()
    return {
        "base_model": resolved.model_id,
        "base_weights": resolved.weights_note,
        "steps": state.global_step,
        "epochs": round(state.epoch or 0, 3),
        "train_examples": len(trainer.train_dataset),
        "eval_examples": len(trainer.eval_dataset),
        "truncated_examples": truncated,
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_second": round(tokens / seconds, 1) if seconds else 0.0,
        "peak_memory_mb": _peak_memory_mb(hardware),
        "hardware": hardware.name,
        "world_size": trainer.args.world_size,
        "device": hardware.device,
        "precision": hardware.precision,
        "torch_threads": torch.get_num_threads(),
        "trainable_parameters": trainable,
        "total_parameters": total,
        "final_train_loss": round(train[-1][1], 4) if train else None,
        "final_eval_loss": round(evaluation[-1][1], 4) if evaluation else None,
        "resumed_from": Path(resumed_from).name if resumed_from else None,
        "rehearsal": rehearsal_metrics(cfg, trainer.rehearsal, drift),
        "settings": {"lora": vars(cfg.lora), "train": vars(cfg.train), "max_length": cfg.model.max_length},
    }


def rehearsal_metrics(cfg, rehearsal: Rehearsal | None, drift: list[tuple[int, float]]) -> dict | None:
    """What the card says about rehearsal: how many everyday questions, how strongly, the drift at the end."""
    if rehearsal is None:
        return None
    return {
        "file": cfg.data.rehearsal,
        "examples": len(rehearsal.prompts),
        "weight": rehearsal.weight,
        "batch_size": rehearsal.batch_size,
        "first_kl": round(drift[0][1], 4) if drift else None,
        "final_kl": round(drift[-1][1], 4) if drift else None,
    }


def _peak_memory_mb(hardware: Hardware) -> float:
    if hardware.device == "cuda":
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux reports KiB

