"""The real default model, end to end: validate, train and evaluate on the bundled example.

This is the promise of the template: on a CPU, offline, SmolLM2-135M-Instruct learns the
example's facts and recalls them when asked in other words. It takes a few minutes, so it
runs once per test session.

Margins we hold the tuned model to, on the 40 held-out paraphrased questions, each well
inside what was measured (bench/README.md: with seeds 42, 1 and 2 the tuned model got 28, 29
and 27 of 40 right, the base model 2; perplexity 8.75 -> 2.2), so a different CPU's rounding
cannot fail them by a question or two:
  * at least 20 of 40 right (50%; measured 27-29) and at least 12 more than the base model
    (measured +25 to +27);
  * the paired test (exact McNemar) below p = 0.001 (measured about 1e-7);
  * perplexity of the reference answers at most 60% of the base model's (measured 25%);
  * the forgetting check runs, with its control: the base model knows at least 20 of the 21
    general-knowledge questions it was chosen on, and three random changes of the tuned update's
    size are asked them too. What tuning loses is reported, not held to a margin here: with
    rehearsal the demo keeps 14-17 of them, and random changes of the same size lose about 3
    (bench/README.md), so issue 12's target (at most one lost) is not met on this set;
  * "What is the capital of Namibia?" answered with Windhoek (the base model says Cape Town).
"""

from __future__ import annotations

import pytest

from conftest import make_project, run_cli
from scripts.config import load_settings
from scripts.outputs import read_evaluate_metrics


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory, real_model_dir):
    folder = tmp_path_factory.mktemp("e2e")
    config = make_project(folder, "HuggingFaceTB/SmolLM2-135M-Instruct")
    for step in ("validate", "train", "evaluate"):
        result = run_cli(step, "--config", str(config), timeout=3600)  # an hour: on a 2-core CPU without bf16, sharing it with the other tests
        assert result.returncode == 0, f"{step} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return config


def test_tuned_model_beats_the_base_model_on_held_out_questions(demo_project):
    metrics = read_evaluate_metrics(load_settings(demo_project))
    base, tuned = metrics.base, metrics.tuned
    assert tuned.total == 40 and tuned.correct >= 20, metrics
    assert tuned.correct >= base.correct + 12, metrics
    assert metrics.paired_test.p_value < 0.001, metrics.paired_test
    assert tuned.perplexity <= 0.6 * base.perplexity, metrics
    assert (demo_project.parent / "outputs" / "train" / "loss_curve.png").is_file()
    assert (demo_project.parent / "outputs" / "evaluate" / "side_by_side.md").is_file()


def test_forgetting_check_reports_what_tuning_lost(demo_project):
    forgetting = read_evaluate_metrics(load_settings(demo_project)).general_knowledge
    assert forgetting.questions == 21 and forgetting.base_correct >= 20, forgetting
    assert len(forgetting.lost) == forgetting.base_correct - forgetting.kept, forgetting
    assert f"{forgetting.kept} of {forgetting.base_correct} general questions still answered right" in forgetting.summary
    assert len(forgetting.chance_lost) == 3 and "random changes of the same size lost" in forgetting.summary


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
