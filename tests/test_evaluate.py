"""The evaluate step: batched answer log-likelihoods are exact and the probe path writes its fields (tiny model),
and the figures that tell whether a gain is real (intervals, paired test, taught/untaught facts, forgetting, the
chart) are right on hand-made counts."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch

from conftest import REPO, evaluate_metrics, set_values
from scripts import evaluate, generation, stats
from scripts.config import load_settings
from scripts.data import load_split
from scripts.errors import UserError
from scripts.model import detect_hardware, load_causal_lm, load_for
from scripts.outputs import TaughtGroup, read_evaluate_metrics, write_evaluate_metrics


def one_at_a_time(model, tokenizer, prompt, answer, max_length):
    """The plain computation: one example, no padding, the full logits, summed over the answer tokens."""
    ids, start = generation.tokenize_answers(tokenizer, prompt, answer, max_length)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits.float()[0]
    log_probs = torch.log_softmax(logits[:-1], dim=-1)
    picked = [log_probs[t - 1, ids[t]].item() for t in range(max(start, 1), len(ids))]
    return sum(picked), len(picked)


def tiny_model_that_writes_varied_tokens(resolved):
    """The tiny model with an output layer of its own: with the input embeddings tied to it, the random model
    writes its last prompt token ("\\n") again and again, which cannot tell two ways of decoding apart."""
    model = load_causal_lm(resolved, detect_hardware("fp32")).eval()
    torch.manual_seed(0)
    model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.lm_head.weight))
    return model


def test_batched_answer_scores_equal_one_at_a_time(tiny_project):
    """Padding, the answer-only output layer and batching must not change any example's score."""
    cfg = load_settings(tiny_project)
    resolved, tokenizer = load_for(cfg)
    model = load_causal_lm(resolved, detect_hardware("fp32")).eval()
    examples = load_split(cfg, "eval")[:7]
    pairs = [(e.prompt_messages, e.answer) for e in examples]
    pairs.append((examples[0].prompt_messages, "No."))  # a much shorter answer in the same batch
    assert len({len(generation.tokenize_answers(tokenizer, p, a, 256)[0]) for p, a in pairs}) > 1  # padding happens

    batched = evaluate.answer_log_likelihoods(model, tokenizer, pairs, batch_size=3, max_length=256)  # 3 batches, shortest first
    for (prompt, answer), (log_prob, count) in zip(pairs, batched):
        expected_log_prob, expected_count = one_at_a_time(model, tokenizer, prompt, answer, 256)
        assert count == expected_count > 0
        assert abs(log_prob - expected_log_prob) < 1e-3 * max(1.0, abs(expected_log_prob))


def test_running_the_shared_opening_once_gives_the_logits_of_one_plain_pass(tiny_project):
    """evaluate.logits_from runs the prompts' common opening (the system prompt) once for the whole batch:
    every logit must be that of the plain forward pass over each full row."""
    cfg = load_settings(tiny_project)
    resolved, tokenizer = load_for(cfg)
    model = tiny_model_that_writes_varied_tokens(resolved)
    examples = load_split(cfg, "eval")[:5]
    encoded = [generation.tokenize_answers(tokenizer, e.prompt_messages, e.answer, 256) for e in examples]
    width = max(len(ids) for ids, _ in encoded)
    input_ids = torch.tensor([ids + [tokenizer.pad_token_id] * (width - len(ids)) for ids, _ in encoded])
    attention = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in encoded])
    first = min(start for _, start in encoded) - 1
    assert (input_ids[:, :10] == input_ids[:1, :10]).all() and first > 10  # there is an opening to share

    with torch.no_grad():
        shared = evaluate.logits_from(model, input_ids, attention, first)
        plain = model(input_ids=input_ids, attention_mask=attention, logits_to_keep=torch.arange(first, width - 1)).logits
    real = attention[:, first + 1 :].bool()  # positions whose next token is not padding
    assert torch.allclose(shared[real], plain[real], rtol=0, atol=1e-5)


def test_answers_written_64_at_a_time_equal_those_written_one_at_a_time(tiny_project):
    """[evaluate] batch_size = 64 is only faster: left padding must not change any greedy answer."""
    cfg = load_settings(tiny_project)
    resolved, tokenizer = load_for(cfg)
    model = tiny_model_that_writes_varied_tokens(resolved)
    prompts = [e.prompt_messages for e in load_split(cfg, "eval")[:12]]
    lengths = {len(tokenizer.apply_chat_template(p, add_generation_prompt=True, return_dict=True)["input_ids"]) for p in prompts}
    assert len(lengths) > 1  # padding happens

    together = generation.generate_answers(model, tokenizer, prompts, batch_size=64, max_new_tokens=12)
    alone = [generation.generate_answers(model, tokenizer, [prompt], batch_size=1, max_new_tokens=12)[0] for prompt in prompts]

    assert together == alone


def test_greedy_loop_writes_exactly_the_tokens_of_hf_generate(tiny_project):
    """The loop that drops finished rows (generation.greedy_tokens) must write the same tokens as HF generate.

    The random model never writes its EOS, so two tokens it does write early are made stop tokens: some rows
    then end after a few tokens and leave the batch while others write to the limit."""
    cfg = load_settings(tiny_project)
    resolved, tokenizer = load_for(cfg)
    model = tiny_model_that_writes_varied_tokens(resolved)
    prompts = [e.prompt_messages for e in load_split(cfg, "eval")[:12]]
    tokenizer.padding_side = "left"
    texts = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in prompts]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    assert (batch["attention_mask"] == 0).any()  # padding happens
    with torch.no_grad():
        free = model.generate(**batch, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    stops = [tokenizer.eos_token_id, int(free[0, -10]), int(free[5, -8])]  # written early by rows 0 and 5

    with torch.no_grad():
        expected = model.generate(**batch, max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=stops)
        written = generation.greedy_tokens(model, batch, 12, stops, tokenizer.pad_token_id)

    expected = expected[:, batch["input_ids"].shape[1] :]
    ended_early = (expected == tokenizer.pad_token_id).any(dim=1)
    assert 0 < int(ended_early.sum()) < len(prompts)  # both kinds of row are in the batch
    assert torch.equal(written, expected)


def test_generation_settings_greedy_cannot_repeat_go_through_hf_generate(tiny_project):
    """A repetition penalty (or any setting the loop does not apply) in generation_config.json sends greedy
    decoding through HF generate, which applies it; the tiny model's plain settings take the loop."""
    cfg = load_settings(tiny_project)
    resolved, _ = load_for(cfg)
    model = load_causal_lm(resolved, detect_hardware("fp32"))
    assert generation.plain_greedy(model)
    model.generation_config.repetition_penalty = 1.3
    assert not generation.plain_greedy(model)


def test_probe_path_end_to_end_writes_every_field(tiny_project, tiny_model_dir):
    """evaluate on the tiny model with an adapter that changes nothing (LoRA B = 0): tuned = base, so
    every change is 0 and nothing is flagged, and probes.json/.md and metrics.json carry the probe fields."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from scripts.probes import load_probes, swap_groups

    cfg = load_settings(tiny_project)
    adapter = cfg.step_dir("train") / "adapter"
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), config).save_pretrained(adapter)
    for name, keep in (("eval.jsonl", 2), ("probes.jsonl", 3)):  # fewer lines: a faster test
        path = cfg.path(f"datasets/{name}")
        path.write_text("".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:keep]), encoding="utf-8")
    set_values(tiny_project, "evaluate", max_new_tokens=12, batch_size=8)

    metrics = evaluate.run_evaluation(load_settings(tiny_project))

    out = cfg.step_dir("evaluate")
    report = json.loads((out / "probes.json").read_text(encoding="utf-8"))
    assert report["threshold"] == cfg.evaluate.probe_threshold and len(report["pairs"]) == 3
    for pair, probe in zip(report["pairs"], load_probes(cfg.path(cfg.data.probes), "probes")):
        assert pair["id"] == probe["id"] and pair["prompt_a"] == probe["prompt_a"]
        for label in ("base", "tuned"):
            scored = pair[label]
            assert scored["swapped_a"] == swap_groups(scored["answer_a"], probe)
            assert scored["tokens"] > 0 and isinstance(scored["score"], float)
        assert pair["base"] == pair["tuned"] and pair["change"] == 0  # the adapter adds nothing
        assert pair["flagged"] is False and pair["change_uncertainty"] is not None
    assert metrics.probes_flagged == 0 and metrics.probes_flagged_ids == []
    assert metrics.probes_mean_score.base == metrics.probes_mean_score.tuned is not None
    assert read_evaluate_metrics(cfg) == metrics  # what was written reads back the same
    assert "No pair of 3 was flagged" in (out / "probes.md").read_text(encoding="utf-8")


# ---------------------------------------------------------------- is the gain real? (scripts/stats.py)

# Expected values computed independently of scripts/stats.py: the Wilson bounds as the two roots of the score
# equation (p - k/n)^2 = z^2 p (1 - p) / n, and the McNemar p-values with scipy.stats.binomtest(c, b + c, 0.5)
# and by hand, as written next to each case.


@pytest.mark.parametrize(
    "correct, total, low, high",
    [
        (0, 40, 0.0, 0.0876216),  # 0%: the interval is not a single point at zero
        (40, 40, 0.9123784, 1.0),  # 100%: nor at one
        (2, 40, 0.0138207, 0.1650388),
        (25, 40, 0.4703244, 0.7577702),
        (5, 40, 0.0545950, 0.2611212),
    ],
)
def test_wilson_interval_on_hand_made_counts(correct, total, low, high):
    assert stats.wilson_interval(correct, total) == pytest.approx((low, high), abs=1e-6)


@pytest.mark.parametrize(
    "only_base, only_tuned, p_value",
    [
        (0, 5, 0.0625),  # 2 x (1/2)^5
        (1, 9, 22 / 1024),  # 2 x (1 + 10) / 2^10
        (1, 24, 52 / 2**25),  # 2 x (1 + 25) / 2^25
        (2, 5, 0.453125),
        (3, 3, 1.0),  # an even split is no evidence either way
        (0, 0, 1.0),  # no question changed at all
    ],
)
def test_exact_mcnemar_on_hand_made_counts(only_base, only_tuned, p_value):
    assert stats.exact_mcnemar(only_base, only_tuned) == pytest.approx(p_value, rel=1e-9)
    assert stats.exact_mcnemar(only_tuned, only_base) == pytest.approx(p_value, rel=1e-9)  # two-sided


def two_models(base_right: int, tuned_right: int, both: int, total: int = 40) -> dict:
    """Right/wrong answers of base and tuned to the same `total` questions: `both` right for both, the rest apart."""
    base = [index < base_right for index in range(total)]
    tuned = [index < both or base_right <= index < base_right + tuned_right - both for index in range(total)]
    return {"base": {"correct": base, "perplexity": 8.0}, "tuned": {"correct": tuned, "perplexity": 3.0}}


def test_2_vs_25_of_40_gives_counts_intervals_discordants_and_p_value():
    results = two_models(base_right=2, tuned_right=25, both=1)  # 1 only base, 24 only tuned
    comparison = evaluate.compare(results, [True] * 40, "", [])
    base, tuned = comparison["base"], comparison["tuned"]
    assert base.correct == 2 and tuned.correct == 25
    assert base.total == tuned.total == 40
    assert base.interval_95 == [0.013821, 0.165039]
    assert tuned.interval_95 == [0.470324, 0.75777]
    test = comparison["paired_test"]
    assert (test.only_base_correct, test.only_tuned_correct) == (1, 24)
    assert test.p_value == pytest.approx(52 / 2**25, abs=1e-6)
    metrics = evaluate_metrics(eval_examples=40, **comparison)
    assert stats.accuracy_headline(metrics) == "accuracy 5% [1-17%] -> 62% [47-76%] on 40 questions, paired test p < 0.001"
    assert "unlikely to be chance" in stats.verdict(metrics) and "really better" in stats.verdict(metrics)


def test_a_small_gain_reads_as_possibly_chance():
    results = two_models(base_right=2, tuned_right=5, both=1)  # 1 only base, 4 only tuned: p = 0.375
    metrics = evaluate_metrics(eval_examples=40, **evaluate.compare(results, [True] * 40, "", []))
    assert stats.accuracy_headline(metrics) == "accuracy 5% [1-17%] -> 12% [5-26%] on 40 questions, paired test p = 0.38"
    assert "happens often by chance" in stats.verdict(metrics)


def test_format_p():
    assert [stats.format_p(p) for p in (0.0004, 0.0042, 0.21875, 0.9999, 1.0)] == [
        "p < 0.001", "p = 0.004", "p = 0.22", "p = 1", "p = 1",
    ]  # fmt: skip


# ---------------------------------------------------------------- taught and untaught facts


def test_accuracy_split_into_taught_untaught_and_unknown():
    taught = [True, True, True, False, False, None]
    results = {
        "base": {"correct": [False, False, True, False, False, True]},
        "tuned": {"correct": [True, True, True, False, True, False]},
    }
    groups = evaluate.accuracy_by_taught(taught, results)
    assert groups.taught == TaughtGroup(questions=3, base_correct=1, base_accuracy=0.3333, tuned_correct=3, tuned_accuracy=1.0)
    assert groups.untaught == TaughtGroup(questions=2, base_correct=0, base_accuracy=0.0, tuned_correct=1, tuned_accuracy=0.5)
    assert groups.unknown == TaughtGroup(questions=1, base_correct=1, base_accuracy=1.0, tuned_correct=0, tuned_accuracy=0.0)
    assert stats.taught_phrase(groups) == ""  # worth a table


def test_nothing_untaught_is_said_in_one_phrase():
    groups = evaluate.accuracy_by_taught([True] * 4, {"base": {"correct": [False] * 4}, "tuned": {"correct": [True] * 4}})
    assert groups.untaught == TaughtGroup(questions=0, base_correct=0, base_accuracy=None, tuned_correct=0, tuned_accuracy=None)
    assert stats.taught_phrase(groups) == "All 4 held-out questions ask about facts the training data teaches: none is untaught."


# ---------------------------------------------------------------- forgetting


def general_rows(*marks: tuple[bool, bool]) -> list[dict]:
    """Rows as answer_rows writes them, one per (base right, tuned right)."""
    questions = ["What is 7 + 5?", "What is the capital of France?", "Reply with only the word yes.", "How many legs does a spider have?"]
    return [
        {"question": questions[index], "expected": "x", "base": "", "base_correct": base, "tuned": "", "tuned_correct": tuned}
        for index, (base, tuned) in enumerate(marks)
    ]


def test_forgetting_is_flagged_when_a_question_the_base_knew_is_lost():
    rows = general_rows((True, True), (True, False), (True, True))
    found = evaluate.general_knowledge_summary("datasets/general_knowledge.jsonl", rows)
    assert found.lost == ["What is the capital of France?"] and found.kept == 2 and found.base_correct == 3
    assert found.summary == "2 of 3 general questions still answered right; lost: What is the capital of France?"


def test_nothing_lost_and_questions_the_base_missed_do_not_count():
    rows = general_rows((True, True), (False, False), (False, True), (True, True))
    found = evaluate.general_knowledge_summary("datasets/general_knowledge.jsonl", rows)
    assert found.lost == [] and found.gained == ["Reply with only the word yes."]
    assert found.summary == "2 of 2 general questions still answered right (the base model already missed 2 of the 4); none lost"


def test_losses_no_more_than_random_changes_of_the_same_size_are_called_chance():
    rows = general_rows((True, True), (True, False), (True, True), (True, False))
    lost = ["What is the capital of France?", "Reply with only the word yes."]
    found = evaluate.general_knowledge_summary("datasets/general_knowledge.jsonl", rows, [[lost[0]], [lost[0], "x"], ["y", "z"]])
    assert found.chance_lost == [1, 2, 2] and found.beyond_chance == 0 and found.lost_by_chance_too == [lost[0]]
    assert found.summary.endswith("random changes of the same size lost 1, 2 and 2 (answers right by a thin margin "
                                  "flip under any change), so this loss is no more than chance")


def test_losses_beyond_random_changes_of_the_same_size_are_counted():
    rows = general_rows((True, False), (True, False), (True, False), (True, True))
    found = evaluate.general_knowledge_summary("datasets/general_knowledge.jsonl", rows, [[], ["What is the capital of France?"], []])
    assert found.chance_lost == [0, 1, 0] and found.beyond_chance == 3
    assert found.summary.endswith("so 3 of the 3 lost are more than chance")


def test_a_random_update_keeps_each_layers_size_and_gives_the_trained_weights_back(tiny_project):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from scripts.config import load_settings

    cfg = load_settings(tiny_project)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(cfg.model.base), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(1)
    for name, weight in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(weight)  # a "trained" update: B starts at zero
    layers = [m for m in model.modules() if hasattr(m, "lora_A") and "default" in m.lora_A]
    update = lambda layer: layer.lora_B["default"].weight @ layer.lora_A["default"].weight  # noqa: E731
    trained = [update(layer).detach().clone() for layer in layers]

    with evaluate.random_update(model, seed=0):
        turned = [update(layer).detach().clone() for layer in layers]
    with evaluate.random_update(model, seed=0):
        again = [update(layer).detach().clone() for layer in layers]

    for before, during, repeat, layer in zip(trained, turned, again, layers):
        assert torch.allclose(during.norm(), before.norm(), rtol=1e-4)  # the same size
        assert torch.nn.functional.cosine_similarity(during.flatten(), before.flatten(), dim=0).abs() < 0.2  # another direction
        assert torch.equal(during, repeat)  # the same seed, the same change
        assert torch.equal(update(layer), before)  # the trained update is back


def test_an_empty_setting_skips_the_check_and_says_so(tiny_project, capsys):
    set_values(tiny_project, "evaluate", general_knowledge="")
    cfg = load_settings(tiny_project)
    assert evaluate.load_general_knowledge(cfg) == []
    assert "skipped" in capsys.readouterr().out
    found = evaluate.general_knowledge_summary("", [])
    assert found.file == "" and "skipped" in found.summary


def test_a_missing_general_knowledge_file_names_the_setting(tiny_project):
    set_values(tiny_project, "evaluate", general_knowledge="datasets/general.jsonl")
    with pytest.raises(UserError, match=r"fix \[evaluate\] general_knowledge in project.toml"):
        evaluate.load_general_knowledge(load_settings(tiny_project))


def test_the_shipped_general_knowledge_set_loads_with_a_short_answer_each():
    cfg = load_settings(REPO / "project.toml")
    general = evaluate.load_general_knowledge(cfg)
    assert 15 <= len(general) <= 30
    assert all(example.meta.get("answer") and example.meta.get("category") and example.meta.get("source") for example in general)
    assert not any("namibia" in example.all_text().lower() for example in general)  # outside the learner's domain


# ---------------------------------------------------------------- the chart


def chart_metrics(base_right: int = 2, tuned_right: int = 5):
    results = two_models(base_right=base_right, tuned_right=tuned_right, both=1)
    return evaluate_metrics(eval_examples=40, **evaluate.compare(results, [True] * 40, "", []))


def test_chart_shows_accuracy_on_a_fixed_0_to_100_axis_with_the_intervals(tmp_path):
    from matplotlib.container import ErrorbarContainer

    metrics = chart_metrics()  # 5% -> 12%: must not look like a leap
    bars = evaluate.accuracy_bars(metrics)
    assert bars.values == pytest.approx([5.0, 12.5])
    assert bars.below == pytest.approx([5.0 - 1.38, 12.5 - 5.46], abs=0.01)  # down to the interval's low end
    assert bars.above == pytest.approx([16.50 - 5.0, 26.11 - 12.5], abs=0.01)
    assert bars.labels == ["base\n5% (2 of 40)", "tuned\n12% (5 of 40)"]

    figure = evaluate.draw_chart(metrics)
    accuracy_axes, perplexity_axes = figure.axes
    assert accuracy_axes.get_ylim() == (0, 100)
    (error_bars,) = [c for c in accuracy_axes.containers if isinstance(c, ErrorbarContainer)]
    (vertical_lines,) = error_bars.lines[2]
    drawn = [(bottom[1], top[1]) for bottom, top in vertical_lines.get_segments()]
    assert drawn == [pytest.approx((1.38, 16.50), abs=0.01), pytest.approx((5.46, 26.11), abs=0.01)]  # the intervals
    assert "95% interval" in accuracy_axes.get_title() and "p = 0.38" in accuracy_axes.get_xlabel()
    assert perplexity_axes.get_ylim()[1] == pytest.approx(8.0 * 1.25)  # perplexity keeps its own scale

    evaluate.plot_chart(metrics, tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")


def test_chart_shows_the_everyday_questions_kept_against_random_changes():
    """Forgetting is the third thing a mentor weighs; the chart shows it next to accuracy when the check ran."""
    from dataclasses import replace

    from scripts.outputs import GeneralKnowledge

    metrics = chart_metrics()
    assert len(evaluate.draw_chart(metrics).axes) == 2  # no forgetting check: no third panel
    forgetting = GeneralKnowledge(file="datasets/general_knowledge.jsonl", questions=21, base_correct=20, tuned_correct=16,
                                  kept=16, lost=["a", "b", "c", "d"], chance_lost=[3, 2, 3], beyond_chance=1)  # fmt: skip
    panel = evaluate.draw_chart(replace(metrics, general_knowledge=forgetting)).axes[2]
    assert panel.get_ylim() == (0, 20)  # from none to every question the base model knew
    assert [bar.get_height() for bar in panel.patches] == [20, 16]
    assert [tick.get_text() for tick in panel.get_xticklabels()] == ["base\n20 of 21 asked", "tuned\n16 of those 20"]
    dashes = [line.get_segments()[0] for line in panel.collections]  # one line per random change, across the tuned bar
    assert sorted(y for (_, y), _ in dashes) == [17, 17, 18] and all((x0, x1) == (0.6, 1.4) for (x0, _), (x1, _) in dashes)
    assert panel.get_xlabel() == "dashed: random changes of the same size kept 17, 18, 17"


# ---------------------------------------------------------------- the whole step on the tiny model


def test_evaluate_writes_the_new_figures_on_the_tiny_model(tiny_project, capsys):
    """A zero-initialised adapter: tuned equals base exactly, so nothing differs and nothing is lost."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folder = tiny_project.parent
    for name, keep in (("eval.jsonl", 4), ("probes.jsonl", 1)):  # fewer lines: a faster test
        path = folder / "datasets" / name
        path.write_text("".join(path.read_text(encoding="utf-8").splitlines(keepends=True)[:keep]), encoding="utf-8")
    set_values(tiny_project, "evaluate", max_new_tokens=4, batch_size=8)
    cfg = load_settings(tiny_project)
    base = AutoModelForCausalLM.from_pretrained(cfg.model.base)
    get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")).save_pretrained(
        cfg.step_dir("train") / "adapter"
    )

    evaluate.run_evaluation(cfg)
    out = cfg.step_dir("evaluate")
    metrics = read_evaluate_metrics(cfg)
    assert metrics.base.total == metrics.tuned.total == 4
    assert metrics.base.correct == metrics.tuned.correct
    low, high = metrics.tuned.interval_95
    assert 0 <= low <= metrics.tuned.accuracy <= high <= 1
    assert metrics.paired_test.only_base_correct == metrics.paired_test.only_tuned_correct == 0
    assert metrics.paired_test.p_value == 1.0
    assert sum(group.questions for group in metrics.by_taught.groups().values()) == 4
    general = metrics.general_knowledge
    shipped = len(evaluate.load_general_knowledge(cfg))
    assert general.file == "datasets/general_knowledge.jsonl" and general.questions == shipped and general.lost == []
    rows = json.loads((out / "general_knowledge.json").read_text())
    assert len(rows) == shipped and {"question", "expected", "base", "tuned", "base_correct", "tuned_correct"} <= set(rows[0])
    assert (out / "general_knowledge.md").read_text().startswith(f"The forgetting check: everyday questions outside your topic, asked before and after tuning. {general.summary}.\n\n| # | Question |")
    assert (out / "side_by_side.md").read_text().startswith("All 4 held-out questions ([evaluate] side_by_side")
    printed = capsys.readouterr().out
    assert "paired test p = 1" in printed and "forgetting check: " in printed
    assert (out / "chart.png").is_file()


def test_side_by_side_says_it_shows_only_the_first_questions_and_how_they_compare_with_all():
    # The first rows of the eval file can be easier than the rest (the demo: 9 of its first 10 right, 26 of 40):
    # a reader must not take the table's share for the accuracy.
    rows = [{"question": f"Q{n}?", "expected": "x", "base": "no", "base_correct": False, "tuned": "x", "tuned_correct": n != 2}
            for n in range(1, 4)]  # fmt: skip
    metrics = evaluate_metrics(eval_examples=40, tuned=replace(evaluate_metrics().tuned, correct=26))
    text = evaluate.side_by_side_markdown(rows, evaluate.side_by_side_lead(rows, metrics))
    assert text.startswith(
        "The first 3 of the 40 held-out questions ([evaluate] side_by_side in project.toml sets how many): "
        "the tuned model got 2 of these 3 right, and 26 of all 40.\n\n| # | Question |"
    )
    assert evaluate.side_by_side_lead(rows, replace(metrics, eval_examples=3)).startswith("All 3 held-out questions")


def test_the_pipelines_closing_line_shows_intervals_p_value_and_forgetting(tiny_project, capsys):
    from scripts import run

    cfg = load_settings(tiny_project)
    rows = general_rows((True, True), (True, False))
    comparison = evaluate.compare(two_models(base_right=2, tuned_right=25, both=1), [True] * 40, "datasets/general_knowledge.jsonl", rows)
    write_evaluate_metrics(cfg, evaluate_metrics(eval_examples=40, **comparison))
    run._print_summary(cfg)
    printed = capsys.readouterr().out
    assert "Result: accuracy 5% [1-17%] -> 62% [47-76%] on 40 questions, paired test p < 0.001; perplexity 8.0 -> 3.0" in printed
    assert "Forgetting: 1 of 2 general questions still answered right; lost: What is the capital of France?" in printed
