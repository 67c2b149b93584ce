"""The real default model, end to end: validate, train and evaluate on the bundled example.

This is the promise of the template: on a CPU, offline, SmolLM2-135M-Instruct learns the
example's facts. It takes a few minutes, so it runs once per test session.

Margins we hold the tuned model to (measured on the 40 held-out paraphrased questions):
  * at least 3 more of the 40 questions answered correctly than the base model (+7.5 points;
    measured on 2026-11-25 on a 2-core CPU: 2 -> 5, 6 or 7 of 40 with different batch orders,
    2 -> 5 with the current one, so this margin is met with nothing to spare);
  * perplexity of the reference answers at most 60% of the base model's (measured: 8.8 -> 3.5);
  * "What is the capital of Namibia?" answered with Windhoek (the base model says Cape Town).
"""

from __future__ import annotations

import json

import pytest

from conftest import make_project, run_cli


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory, real_model_dir):
    folder = tmp_path_factory.mktemp("e2e")
    config = make_project(folder, "HuggingFaceTB/SmolLM2-135M-Instruct")
    for step in ("validate", "train", "evaluate"):
        result = run_cli(step, "--config", str(config), timeout=1800)
        assert result.returncode == 0, f"{step} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return config


def test_tuned_model_beats_the_base_model_on_held_out_questions(demo_project):
    metrics = json.loads((demo_project.parent / "outputs" / "evaluate" / "metrics.json").read_text())
    base, tuned = metrics["base"], metrics["tuned"]
    questions = metrics["eval_examples"]
    assert round(tuned["accuracy"] * questions) >= round(base["accuracy"] * questions) + 3, metrics
    assert tuned["perplexity"] <= 0.6 * base["perplexity"], metrics
    assert (demo_project.parent / "outputs" / "train" / "loss_curve.png").is_file()
    assert (demo_project.parent / "outputs" / "evaluate" / "side_by_side.md").is_file()


def test_tuned_model_knows_the_capital_and_the_base_model_does_not(demo_project):
    from scripts.config import load_settings
    from scripts.evaluate import adapter_switch, load_tuned_model
    from scripts.generation import generate_answers

    model, tokenizer, _, _ = load_tuned_model(load_settings(demo_project))
    question = [[{"role": "user", "content": "What is the capital of Namibia?"}]]
    with adapter_switch(model, True):
        tuned = generate_answers(model, tokenizer, question, 1, 32)[0]
    with adapter_switch(model, False):
        base = generate_answers(model, tokenizer, question, 1, 32)[0]
    assert "Windhoek" in tuned, tuned
    assert "Windhoek" not in base, base
