"""Rehearsal (scripts/rehearsal.py): the drift penalty that keeps the tuned model near its base outside the topic."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch

from conftest import run_cli, set_values, small_trainer
from scripts import rehearsal, train
from scripts.generation import generate_answers
from scripts.config import load_settings


def test_each_pass_uses_every_rehearsal_example_once_in_an_order_set_by_the_seed():
    count, batch = 10, 4
    first_pass = [i for step in range(5) for i in rehearsal.batch_indices(step, batch, count, seed=7)][:count]
    assert sorted(first_pass) == list(range(count))
    assert rehearsal.batch_indices(3, batch, count, seed=7) == rehearsal.batch_indices(3, batch, count, seed=7)
    orders = {tuple(i for step in range(5) for i in rehearsal.batch_indices(step, 2, count, seed)) for seed in range(5)}
    assert len(orders) > 1


def rehearsal_trainer(project, examples: int = 4):
    trainer = small_trainer(project, examples=examples, rehearsal=True)
    return trainer, trainer.processing_class


def drift_of(trainer, tokenizer, indices):
    held = trainer.rehearsal
    held.targets = held.targets or rehearsal.base_targets(trainer.model, trainer.model, tokenizer, held.prompts, 8, held.max_length)
    return rehearsal.drift_loss(trainer.model, trainer.model, held.targets, indices, tokenizer.pad_token_id)


def test_drift_is_zero_for_an_untrained_adapter_and_grows_when_the_adapter_changes(quick_rehearsal_project):
    trainer, tokenizer = rehearsal_trainer(quick_rehearsal_project)
    indices = list(range(4))
    with torch.no_grad():
        untrained = drift_of(trainer, tokenizer, indices).item()
        for name, parameter in trainer.model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
        moved = drift_of(trainer, tokenizer, indices).item()
    assert untrained == pytest.approx(0.0, abs=1e-7)  # LoRA's B starts at zero: the tuned model is the base
    # The tiny random model spreads its probability thinly, so most of it sits in the "all other tokens" bucket
    # and the divergence stays small; it must still be clearly above zero.
    assert moved > 1000 * max(abs(untrained), 1e-8)
    trainer.model.zero_grad()
    drift_of(trainer, tokenizer, indices).backward()
    trained = {name: p.grad for name, p in trainer.model.named_parameters() if p.requires_grad}
    assert all("lora_" in name for name in trained)  # only the adapter can be pulled back
    assert any(gradient is not None and gradient.abs().sum() > 0 for gradient in trained.values())


def test_the_rehearsed_replies_are_the_base_models_own(quick_rehearsal_project):
    """Targets come from the base model with the adapter switched off, whatever the adapter has learned."""
    trainer, tokenizer = rehearsal_trainer(quick_rehearsal_project)
    held = trainer.rehearsal
    prompts = held.prompts[:6]
    with torch.no_grad():
        for name, parameter in trainer.model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)  # a trained adapter would answer differently
        targets = rehearsal.base_targets(trainer.model, trainer.model, tokenizer, prompts, 4, held.max_length)
        with trainer.model.disable_adapter():
            base_replies = generate_answers(trainer.model, tokenizer, prompts, 4, rehearsal.REPLY_TOKENS)
        tuned_replies = generate_answers(trainer.model, tokenizer, prompts, 4, rehearsal.REPLY_TOKENS)
    assert targets.replies == base_replies
    assert targets.replies != tuned_replies
    for ids, start, reply in zip(targets.input_ids, targets.answer_starts, targets.replies):
        assert tokenizer.decode(ids[start:], skip_special_tokens=True).strip() == reply  # each reply is what is held


@pytest.fixture
def quick_rehearsal_project(tiny_project):
    set_values(tiny_project, "train", max_steps=4, batch_size=4, save_steps=2, logging_steps=1, precision="fp32", rehearsal_weight=1.0)
    return tiny_project


def test_training_logs_the_drift_and_writes_it_to_the_metrics(quick_rehearsal_project):
    metrics = train.run_training(load_settings(quick_rehearsal_project))
    assert metrics.rehearsal.examples > 50
    assert metrics.rehearsal.final_kl is not None and metrics.rehearsal.final_kl >= 0
    curve = (quick_rehearsal_project.parent / "outputs" / "train" / "loss_curve.csv").read_text()
    assert ",rehearsal_kl," in curve


def test_rehearsal_holds_the_model_nearer_its_base_than_training_without_it(quick_rehearsal_project):
    """The same aggressive training with and without rehearsal: with it, the rehearsal answers drift less."""
    set_values(quick_rehearsal_project, "train", max_steps=8, learning_rate=0.02)

    def drift_after_training(weight: float) -> float:
        set_values(quick_rehearsal_project, "train", rehearsal_weight=min(weight, 1.0))  # 0 switches it off
        trainer, tokenizer = rehearsal_trainer(quick_rehearsal_project, examples=32)
        if trainer.rehearsal:
            # The tiny random model spreads its probability over the whole vocabulary, so the divergence over the
            # kept tokens is tiny (about 1e-4) and needs a far larger weight than a real model to matter.
            trainer.rehearsal.weight = weight
        trainer.train()
        set_values(quick_rehearsal_project, "train", rehearsal_weight=1.0)
        held = train.load_rehearsal(load_settings(quick_rehearsal_project))
        trainer.rehearsal = held
        with torch.no_grad():
            held.targets = None  # measured against the base, from scratch, on every rehearsal example
            held.targets = rehearsal.base_targets(trainer.model, trainer.model, tokenizer, held.prompts, 8, held.max_length)
            return drift_of(trainer, tokenizer, list(range(len(held.prompts)))).item()

    without, with_rehearsal = drift_after_training(0.0), drift_after_training(3000.0)
    assert with_rehearsal < 0.8 * without, (with_rehearsal, without)


def test_a_missing_rehearsal_file_is_a_clear_error(quick_rehearsal_project):
    set_values(quick_rehearsal_project, "data", rehearsal="datasets/nothing.jsonl")
    result = run_cli("train", "--config", str(quick_rehearsal_project))
    assert result.returncode == 2
    assert "datasets/nothing.jsonl: file not found; fix [data] rehearsal in project.toml" in result.stderr
    assert "Traceback" not in result.stderr


def test_rehearsal_can_be_switched_off(quick_rehearsal_project):
    set_values(quick_rehearsal_project, "data", rehearsal="")
    metrics = train.run_training(load_settings(quick_rehearsal_project))
    assert metrics.rehearsal is None
    history = json.dumps(asdict(metrics))
    assert "final_kl" not in history


def test_validate_fails_when_a_rehearsal_question_repeats_a_forgetting_check_question(quick_rehearsal_project):
    datasets = quick_rehearsal_project.parent / "datasets"
    repeated = (datasets / "general_knowledge.jsonl").read_text().splitlines()[1]  # line 2: "What is 15 minus 6?"
    with (datasets / "rehearsal.jsonl").open("a") as rehearsal_file:
        rehearsal_file.write(repeated + "\n")
    result = run_cli("validate", "--config", str(quick_rehearsal_project))
    assert result.returncode == 1, result.stderr
    report = json.loads((quick_rehearsal_project.parent / "outputs" / "validate" / "report.json").read_text())
    problems = [p for p in report["problems"] if p["check"] == "rehearsal_overlap"]
    lines = len((datasets / "rehearsal.jsonl").read_text().splitlines())
    assert [(p["file"], p["line"]) for p in problems] == [("datasets/general_knowledge.jsonl", 2)]
    assert f"the same question as datasets/rehearsal.jsonl:{lines}" in problems[0]["message"]

    set_values(quick_rehearsal_project, "train", rehearsal_weight=0.0)  # not trained on: nothing to check
    assert run_cli("validate", "--config", str(quick_rehearsal_project)).returncode == 0


def test_validate_warns_when_a_rehearsal_question_is_a_training_question(quick_rehearsal_project):
    """Training teaches the learner's answer while rehearsal holds the base model's old reply to the same question."""
    datasets = quick_rehearsal_project.parent / "datasets"
    copied = (datasets / "train.jsonl").read_text().splitlines()[2]
    with (datasets / "rehearsal.jsonl").open("a") as rehearsal_file:
        rehearsal_file.write(copied + "\n")
    result = run_cli("validate", "--config", str(quick_rehearsal_project))
    assert result.returncode == 0, result.stderr  # a warning: nothing is measured wrong, the fact is only learned less
    report = json.loads((quick_rehearsal_project.parent / "outputs" / "validate" / "report.json").read_text())
    problems = [(p["file"], p["line"], p["severity"], p["message"]) for p in report["problems"] if p["check"] == "rehearsal_of_training"]
    lines = len((datasets / "rehearsal.jsonl").read_text().splitlines())
    assert problems == [("datasets/rehearsal.jsonl", lines, "warn", "the same question as datasets/train.jsonl:3")]
    assert "WARN  Rehearsal questions are not your training questions (1 found)" in result.stdout


def test_validate_names_a_broken_rehearsal_file_before_training(quick_rehearsal_project):
    (quick_rehearsal_project.parent / "datasets" / "rehearsal.jsonl").write_text('{"messages": [}\n')
    result = run_cli("validate", "--config", str(quick_rehearsal_project))
    assert result.returncode == 2
    assert "datasets/rehearsal.jsonl" in result.stderr and ":1" in result.stderr
    assert "Traceback" not in result.stderr
