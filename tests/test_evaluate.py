"""The evaluate step on the tiny model: batched answer log-likelihoods are exact; the probe path writes its fields."""

from __future__ import annotations

import json

import torch

from conftest import set_values

from scripts import evaluate
from scripts.config import load_settings
from scripts.data import load_split
from scripts.model import detect_hardware, load_causal_lm, load_for


def one_at_a_time(model, tokenizer, prompt, answer, max_length):
    """The plain computation: one example, no padding, the full logits, summed over the answer tokens."""
    ids, start = evaluate.tokenize_answers(tokenizer, prompt, answer, max_length)
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([ids])).logits.float()[0]
    log_probs = torch.log_softmax(logits[:-1], dim=-1)
    picked = [log_probs[t - 1, ids[t]].item() for t in range(max(start, 1), len(ids))]
    return sum(picked), len(picked)


def test_batched_answer_scores_equal_one_at_a_time(tiny_project):
    """Padding, the answer-only output layer and batching must not change any example's score."""
    cfg = load_settings(tiny_project)
    resolved, tokenizer = load_for(cfg)
    model = load_causal_lm(resolved, detect_hardware("fp32")).eval()
    examples = load_split(cfg, "eval")[:7]
    pairs = [(e.prompt_messages, e.answer) for e in examples]
    pairs.append((examples[0].prompt_messages, "No."))  # a much shorter answer in the same batch
    assert len({len(evaluate.tokenize_answers(tokenizer, p, a, 256)[0]) for p, a in pairs}) > 1  # padding happens

    batched = evaluate.answer_log_likelihoods(model, tokenizer, pairs, batch_size=8, max_length=256)
    for (prompt, answer), (log_prob, count) in zip(pairs, batched):
        expected_log_prob, expected_count = one_at_a_time(model, tokenizer, prompt, answer, 256)
        assert count == expected_count > 0
        assert abs(log_prob - expected_log_prob) < 1e-3 * max(1.0, abs(expected_log_prob))


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
    assert metrics["probes_flagged"] == 0 and metrics["probes_flagged_ids"] == []
    assert set(metrics["probes_mean_score"]) == {"base", "tuned"}
    assert "No pair of 3 was flagged" in (out / "probes.md").read_text(encoding="utf-8")
