"""The train step on the tiny model: outputs, loss mask, resume, NaN guard, errors, two processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from trl import SFTTrainer

from conftest import REPO, run_cli, set_values, small_trainer
from scripts import fast_training, shared_opening, train
from scripts.config import load_settings

QUICK = {"max_steps": 4, "batch_size": 4, "save_steps": 2, "logging_steps": 1, "precision": "fp32"}


@pytest.fixture
def quick_project(tiny_project):
    set_values(tiny_project, "train", **QUICK)
    return tiny_project


def test_train_writes_adapter_curve_and_metrics(quick_project):
    result = run_cli("train", "--config", str(quick_project))
    assert result.returncode == 0, result.stderr[-2000:]
    out = quick_project.parent / "outputs" / "train"
    adapter_files = {p.name for p in (out / "adapter").iterdir()}
    assert "adapter_model.safetensors" in adapter_files
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in adapter_files), adapter_files
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 4
    assert metrics["tokens"] > 0 and metrics["tokens_per_second"] > 0
    assert metrics["peak_memory_mb"] > 0 and metrics["hardware"]
    csv_lines = (out / "loss_curve.csv").read_text().splitlines()
    assert csv_lines[0] == "step,split,loss"
    assert any(",train," in line for line in csv_lines) and any(",eval," in line for line in csv_lines)
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def value_and_lora_gradients(trainer, precision: str, compute, objective=lambda value: value):
    """compute() under the precision's autocast, then backward through objective(value): the value and every
    LoRA gradient, as float32 copies."""
    trainer.model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        value = compute()
    objective(value).backward()
    gradients = [p.grad.detach().float().clone() for p in trainer.model.parameters() if p.requires_grad]
    return value.detach().float(), gradients


def assert_same_gradients(ours, theirs, tolerance: float) -> None:
    for mine, reference in zip(ours, theirs, strict=True):
        assert torch.allclose(mine, reference, rtol=tolerance, atol=tolerance * reference.abs().max())


def test_loss_mask_covers_only_the_answer_and_end_of_turn(quick_project):
    """Asserted on token ids: the labels are exactly the answer's tokens plus the end-of-turn token."""
    trainer = small_trainer(quick_project, "fp32", examples=2)
    train_rows = train.prompt_completion_rows(load_settings(quick_project))[0]
    tokenizer = trainer.processing_class
    batch = trainer.data_collator([trainer.train_dataset[0]])
    input_ids, labels = batch["input_ids"][0].tolist(), batch["labels"][0].tolist()
    trained = [token for token, label in zip(input_ids, labels) if label != -100]

    answer = train_rows[0]["completion"][0]["content"]
    full = tokenizer.apply_chat_template(train_rows[0]["prompt"] + train_rows[0]["completion"], tokenize=True, return_dict=True)["input_ids"]
    prompt = tokenizer.apply_chat_template(train_rows[0]["prompt"], add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    assert full[: len(prompt)] == prompt
    assert trained == full[len(prompt) :]
    assert tokenizer.eos_token_id in trained  # the model learns to stop
    assert tokenizer.decode(trained).startswith(answer)
    first_trained = labels.index(next(label for label in labels if label != -100))
    assert first_trained == len(prompt)  # nothing of the question is trained on


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_answer_only_loss_equals_trl_loss_and_gradients(quick_project, precision):
    """The CPU fast path (output layer on answer tokens only) must train exactly what TRL's own loss trains."""
    trainer = small_trainer(quick_project, precision, examples=4)
    trainer.rehearsal = None  # this compares the answer loss alone (tests/test_rehearsal.py covers the rest)
    assert type(trainer).compute_loss is not SFTTrainer.compute_loss
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    answer_tokens = int((batch["labels"] != -100).sum())
    opening = shared_opening.shared_length(batch["input_ids"], batch["attention_mask"], limit=batch["input_ids"].shape[1])
    assert opening >= shared_opening.MIN_SHARED_TOKENS  # ours runs the shared opening once (TRL's runs every row whole)

    def loss(compute_loss):
        return lambda: compute_loss(trainer, trainer.model, dict(batch), num_items_in_batch=answer_tokens)

    ours, our_gradients = value_and_lora_gradients(trainer, precision, loss(type(trainer).compute_loss))
    theirs, their_gradients = value_and_lora_gradients(trainer, precision, loss(SFTTrainer.compute_loss))
    tolerance = 1e-5 if precision == "fp32" else 2e-2
    assert torch.allclose(ours, theirs, rtol=tolerance)
    assert_same_gradients(our_gradients, their_gradients, tolerance)
    assert any(gradient.abs().sum() > 0 for gradient in our_gradients)


def test_the_opening_is_shared_only_where_it_changes_nothing(quick_project):
    """Not with LoRA dropout in training (one random mask for every row), not for a batch of one row (no saving)."""
    set_values(quick_project, "lora", dropout=0.1)
    model = small_trainer(quick_project, "fp32", examples=2).model
    model.train()
    assert not shared_opening.can_share(model, rows=8)
    model.eval()  # evaluation: dropout is off
    assert shared_opening.can_share(model, rows=8) and not shared_opening.can_share(model, rows=1)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("use_dora", [False, True])
def test_one_step_lora_layer_equals_pefts_layer(quick_project, precision, use_dora, monkeypatch):
    """The CPU LoRA layer (scale on the rank-r product, added in place) must give PEFT's outputs and gradients."""
    set_values(quick_project, "lora", use_dora=use_dora)
    trainer = small_trainer(quick_project, precision, examples=4)
    layers = [m for m in trainer.model.modules() if isinstance(m, fast_training.OneStepLoraLinear)]
    assert layers, "the CPU trainer should use the one-step LoRA layer"
    torch.manual_seed(0)
    for layer in layers:  # B starts at zero, which would hide any difference
        torch.nn.init.normal_(layer.lora_B["default"].weight, std=0.05)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])

    def logits():
        return trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()

    def objective(value):
        return value.square().mean()

    ours, our_gradients = value_and_lora_gradients(trainer, precision, logits, objective)
    monkeypatch.setattr(fast_training.OneStepLoraLinear, "forward", fast_training.LoraLinear.forward)
    theirs, their_gradients = value_and_lora_gradients(trainer, precision, logits, objective)
    tolerance = 1e-5 if precision == "fp32" else 3e-2
    assert torch.allclose(ours, theirs, rtol=tolerance, atol=tolerance * theirs.abs().max())
    assert_same_gradients(our_gradients, their_gradients, tolerance)
    assert all(gradient.abs().sum() > 0 for gradient in our_gradients)


def padded_share(batches, lengths) -> float:
    """The share of computed positions that are padding when each batch is padded to its longest example."""
    real = sum(lengths[i] for batch in batches for i in batch)
    computed = sum(len(batch) * max(lengths[i] for i in batch) for batch in batches)
    return 1 - real / computed


def in_batches(order: list[int], size: int) -> list[list[int]]:
    """A flat sampler order cut into batches by position, as the data loader cuts it."""
    return [order[start : start + size] for start in range(0, len(order), size)]


def assert_neighbours_in_length(spans) -> None:
    """(shortest, longest) of each batch: sorted by their shortest example, no batch reaches past the next one's."""
    spans = sorted(spans)
    assert all(longest <= next_shortest for (_, longest), (next_shortest, _) in zip(spans, spans[1:]))


def test_length_buckets_hold_neighbours_in_length_and_every_example_once():
    lengths = torch.randint(20, 200, (103,), generator=torch.Generator().manual_seed(0)).tolist()
    sampler = fast_training.LengthBucketSampler(lengths, batch_size=8, seed=42)  # 103: one short batch of 7
    first_epoch = list(sampler)
    sampler.set_epoch(1)
    second_epoch = list(sampler)
    assert sorted(first_epoch) == list(range(103))
    assert first_epoch != second_epoch  # a new order every epoch...
    assert list(fast_training.LengthBucketSampler(lengths, batch_size=8, seed=42)) == first_epoch  # ...set by seed and epoch
    batches = in_batches(first_epoch, 8)
    full, short = batches[:-1], batches[-1]
    assert len(short) == 7
    assert max(lengths[i] for i in full[0]) == max(lengths[i] for batch in full for i in batch)  # the longest first
    assert_neighbours_in_length((min(lengths[i] for i in batch), max(lengths[i] for i in batch)) for batch in full)
    # ...and so less padding than the Trainer's own length grouping on the same lengths.
    trainers_own = list(LengthGroupedSampler(8, lengths=lengths, generator=torch.Generator().manual_seed(0)))
    assert padded_share(batches, lengths) < padded_share(in_batches(trainers_own, 8), lengths)


def test_the_trainer_batches_examples_by_length_bucket(quick_project):
    trainer = small_trainer(quick_project, "fp32", examples=24)
    assert isinstance(trainer._get_train_sampler(), fast_training.LengthBucketSampler)
    spans = [(int(batch["attention_mask"].sum(1).min()), int(batch["attention_mask"].sum(1).max())) for batch in trainer.get_train_dataloader()]
    assert len(spans) == 24 // trainer.args.train_batch_size
    assert_neighbours_in_length(spans)


def test_models_that_transform_logits_keep_trls_loss(quick_project):
    """A model whose config changes logits after the output layer (e.g. Gemma's soft-capping) must not take the fast path."""
    trainer = small_trainer(quick_project, "fp32", examples=4)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    trainer.compute_loss(trainer.model, dict(batch))
    assert "entropy" not in trainer._metrics["train"]  # TRL logs entropy; the fast path does not
    trainer.model.get_base_model().config.final_logit_softcapping = 30.0
    trainer.compute_loss(trainer.model, dict(batch))
    assert "entropy" in trainer._metrics["train"]


class CrashAfterStep(TrainerCallback):
    """Simulates a run killed midway (after a checkpoint was written)."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt("simulated crash")


def test_resume_after_a_crash_gives_the_same_adapter(quick_project, tmp_path):
    """The crash comes in the second epoch, whose batch order must be drawn again exactly as before."""
    train_file = quick_project.parent / "datasets" / "train.jsonl"
    train_file.write_text("".join(train_file.read_text().splitlines(keepends=True)[:20]))  # 5 steps of 4 per epoch
    set_values(quick_project, "train", max_steps=9, save_steps=7)
    cfg = load_settings(quick_project)
    train.run_training(cfg)
    uninterrupted = load_file(cfg.step_dir("train") / "adapter" / "adapter_model.safetensors")
    shutil.rmtree(cfg.step_dir("train"))

    with pytest.raises(KeyboardInterrupt):
        train.run_training(cfg, extra_callbacks=[CrashAfterStep(8)])
    assert (cfg.step_dir("train") / "checkpoints" / "checkpoint-7").is_dir()
    metrics = train.run_training(cfg, resume=True)
    assert metrics.resumed_from == "checkpoint-7"
    resumed = load_file(cfg.step_dir("train") / "adapter" / "adapter_model.safetensors")
    assert resumed.keys() == uninterrupted.keys()
    for name in uninterrupted:
        torch.testing.assert_close(resumed[name], uninterrupted[name], rtol=1e-4, atol=1e-6)


def test_non_finite_loss_stops_with_a_clear_message(quick_project, tmp_path, tiny_model_dir):
    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_model_dir, broken)
    weights = load_file(broken / "model.safetensors")
    name = next(key for key in weights if key.endswith("norm.weight"))
    weights[name] = torch.full_like(weights[name], float("nan"))
    from safetensors.torch import save_file

    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    text = quick_project.read_text().replace(str(tiny_model_dir), str(broken))
    quick_project.write_text(text)
    result = run_cli("train", "--config", str(quick_project))
    assert result.returncode == 1
    assert "error: the training loss became nan at step 1; lower [train] learning_rate" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (quick_project.parent / "outputs" / "train" / "adapter").exists()


def test_too_few_examples_is_a_clear_error(quick_project):
    train_file = quick_project.parent / "datasets" / "train.jsonl"
    train_file.write_text("".join(train_file.read_text().splitlines(keepends=True)[:5]))
    result = run_cli("train", "--config", str(quick_project))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: datasets/train.jsonl: only 5 examples, fewer than [data] min_examples = 20; "
        "add more examples (a few hundred is better) or lower min_examples in project.toml."
    )


def test_empty_eval_split_is_a_clear_error(quick_project):
    (quick_project.parent / "datasets" / "eval.jsonl").write_text("\n")
    result = run_cli("train", "--config", str(quick_project))
    assert result.returncode == 2
    assert "datasets/eval.jsonl: no examples" in result.stderr


def test_resume_without_checkpoint_is_a_clear_error(quick_project):
    result = run_cli("train", "--resume", "--config", str(quick_project))
    assert result.returncode == 2
    assert "no checkpoint to resume from" in result.stderr


def test_two_process_training_on_gloo(quick_project):
    """Data-parallel training as on a multi-GPU job, here with two CPU processes talking over gloo."""
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
         "-m", "scripts", "train", "--config", str(quick_project)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((quick_project.parent / "outputs" / "train" / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    assert metrics["steps"] == 4
    assert (quick_project.parent / "outputs" / "train" / "adapter" / "adapter_model.safetensors").is_file()


def train_loss_curve(project) -> list[float]:
    rows = (project.parent / "outputs" / "train" / "loss_curve.csv").read_text().splitlines()[1:]
    return [float(row.split(",")[2]) for row in rows if row.split(",")[1] == "train"]


def test_training_without_the_speed_layer_uses_stock_trl_and_peft_and_learns_alike(quick_project):
    """[train] speed_layer = false: TRL's trainer and sampler and PEFT's LoRA layer. The batches come in another
    order (the Trainer's length grouping), so the losses differ a little, step by step, but not by much."""
    set_values(quick_project, "train", rehearsal_weight=0)  # quicker; tests/test_rehearsal.py covers rehearsal
    metrics = train.run_training(load_settings(quick_project))
    with_layer = train_loss_curve(quick_project)
    set_values(quick_project, "train", speed_layer=False)
    cfg = load_settings(quick_project)
    trainer = small_trainer(quick_project, "fp32", examples=8)
    assert not isinstance(trainer, fast_training.FastSFTTrainer)
    assert not any(isinstance(module, fast_training.OneStepLoraLinear) for module in trainer.model.modules())
    stock_metrics = train.run_training(cfg)
    stock = train_loss_curve(quick_project)
    assert stock_metrics.settings["train"]["speed_layer"] is False and metrics.settings["train"]["speed_layer"] is True
    assert len(stock) == len(with_layer) == 4
    assert stock != with_layer  # really trained another way...
    for mine, theirs in zip(with_layer, stock):
        assert abs(mine - theirs) <= 0.05 * theirs, (with_layer, stock)  # ...to about the same losses


def test_train_help_does_not_load_torch():
    """`train --help` answers at once: torch and the training libraries load only when training starts."""
    code = (
        "import sys, contextlib, io\n"
        "from scripts.__main__ import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['train', '--help'])\n"
        "print(sorted(name for name in ('torch', 'transformers', 'trl', 'peft') if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
