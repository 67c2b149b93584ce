"""The evaluate step's scoring on the tiny model: batched answer log-likelihoods are exact."""

from __future__ import annotations

import torch

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
