"""Measure the tuned model against the base model on the held-out eval split.

    python -m scripts evaluate     # reads [evaluate] and [data]; needs outputs/train/adapter

Both models are the same object: the base is the tuned model with its LoRA
adapter switched off (`disable_adapter()`), so the comparison is exact and
memory is spent once.

  * perplexity over answer tokens: exp(total negative log-likelihood / answer tokens),
    over the whole eval split; lower means the reference answers are less surprising;
  * accuracy: a greedy answer is correct when it contains the record's `answer`
    (or, without one, the whole reference) after lower-casing and removing punctuation;
  * side-by-side answers (question, reference, base, tuned) for the pull request;
  * bias probes: for each counterfactual pair of prompts (same question, another
    group), both answers, and how much likelier each answer's content is for its own
    group than, with the group words swapped, for the other (scripts/probes.py);
    pairs that tuning moved beyond `[evaluate] probe_threshold` are flagged for a person to read.

Writes outputs/evaluate/: metrics.json, side_by_side.md/.json, probes.md/.json, chart.png.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from .files import save_figure, write_atomic
from .data import Example, load_split
from .errors import UserError
from .facts import is_correct, reference_key
from .model import detect_hardware, load_causal_lm, load_for
from .probes import PairScore, compare_models, load_probes, probe_summary, probes_markdown, probes_report, score_pairs


def main(cfg, args) -> int:
    run_evaluation(cfg)
    return 0


def run_evaluation(cfg) -> dict:
    out = cfg.step_dir("evaluate")
    out.mkdir(parents=True, exist_ok=True)
    examples = load_split(cfg, "eval")
    if not examples:
        raise UserError(f"{cfg.data.eval}: no examples to evaluate on; add held-out questions with reference answers.")
    probes = load_probes(cfg.path(cfg.data.probes), cfg.data.probes)
    model, tokenizer, resolved, hardware = load_tuned_model(cfg)
    started = time.perf_counter()

    results = {}
    answers = {}
    for label, adapter_on in (("base", False), ("tuned", True)):
        print(f"Evaluating the {label} model on {len(examples)} held-out questions ...", flush=True)
        with adapter_switch(model, adapter_on):
            perplexity = answer_perplexity(model, tokenizer, examples, cfg.evaluate.batch_size, cfg.model.max_length)
            replies = generate_answers(
                model, tokenizer, [e.prompt_messages for e in examples], cfg.evaluate.batch_size, cfg.evaluate.max_new_tokens
            )
            probe_scores = score_probes(model, tokenizer, probes, cfg) if probes else []
        answers[label] = replies
        correct = [is_correct(reply, reference_key(e)) for reply, e in zip(replies, examples)]
        results[label] = {
            "perplexity": round(perplexity, 3),
            "accuracy": round(sum(correct) / len(correct), 4),
            "correct": correct,
            "probes": probe_scores,
        }

    metrics = summarise(cfg, results, examples, resolved, hardware, time.perf_counter() - started)
    side_by_side = side_by_side_rows(examples, answers, results, cfg.evaluate.side_by_side)
    write_outputs(out, metrics, side_by_side, results, cfg.evaluate.probe_threshold)
    base, tuned = metrics["base"], metrics["tuned"]
    print(
        f"accuracy {base['accuracy']:.0%} -> {tuned['accuracy']:.0%}, "
        f"perplexity {base['perplexity']:.1f} -> {tuned['perplexity']:.1f}; "
        f"{metrics['probes_flagged']} of {len(probes)} bias probe pairs flagged.\nReport: {out / 'side_by_side.md'}"
    )
    return metrics


# ---------------------------------------------------------------- loading


def load_tuned_model(cfg):
    """The base model with the trained LoRA adapter attached (adapter on = tuned, off = base)."""
    from peft import PeftModel

    adapter = cfg.step_dir("train") / "adapter"
    if not (adapter / "adapter_config.json").is_file():
        raise UserError(f"{adapter}: no trained adapter; run `python -m scripts train` first.")
    resolved, tokenizer = load_for(cfg)
    hardware = detect_hardware(cfg.train.precision)
    base = load_causal_lm(resolved, hardware, cfg.model.quantization, cfg.model.trust_remote_code)
    model = PeftModel.from_pretrained(base, adapter)
    model.eval()
    return model, tokenizer, resolved, hardware


class adapter_switch:
    """`with adapter_switch(model, False):` runs the base model; True runs the tuned one."""

    def __init__(self, model, enabled: bool):
        self.context = None if enabled else model.disable_adapter()

    def __enter__(self):
        if self.context is not None:
            self.context.__enter__()

    def __exit__(self, *exc):
        if self.context is not None:
            return self.context.__exit__(*exc)
        return False


# ---------------------------------------------------------------- measuring


def tokenize_answers(tokenizer, prompt_messages: list[dict], answer: str, max_length: int) -> tuple[list[int], int]:
    """Token ids of prompt + answer, and where the answer starts (the same split training uses)."""
    prompt_ids = tokenizer.apply_chat_template(prompt_messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    full_ids = tokenizer.apply_chat_template(
        prompt_messages + [{"role": "assistant", "content": answer}], tokenize=True, return_dict=True
    )["input_ids"]
    start = 0
    while start < min(len(prompt_ids), len(full_ids)) and prompt_ids[start] == full_ids[start]:
        start += 1
    return full_ids[:max_length], start


def answer_log_likelihoods(model, tokenizer, pairs: list[tuple[list[dict], str]], batch_size: int, max_length: int):
    """For each (prompt messages, answer): (sum of answer-token log-probabilities, number of answer tokens)."""
    scored = answer_token_log_probs(model, tokenizer, pairs, batch_size, max_length)
    return [(sum(log_prob for _, log_prob in tokens), len(tokens)) for tokens in scored]


def answer_token_log_probs(model, tokenizer, pairs: list[tuple[list[dict], str]], batch_size: int, max_length: int):
    """For each (prompt messages, answer): [(token id, log-probability), ...] over the answer's tokens."""
    import torch

    encoded = [tokenize_answers(tokenizer, prompt, answer, max_length) for prompt, answer in pairs]
    results = []
    for first in range(0, len(encoded), batch_size):
        batch = encoded[first : first + batch_size]
        width = max(len(ids) for ids, _ in batch)
        pad = tokenizer.pad_token_id
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in batch])
        attention = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in batch])
        labels = input_ids.clone()
        for row, (ids, start) in enumerate(batch):
            labels[row, :start] = -100
            labels[row, len(ids) :] = -100
        # Token t is predicted from the logits at position t-1, so only positions from just before the earliest
        # answer onwards are needed: the model skips its output layer (a 49k-word vocabulary) on the questions.
        first = max(min(start for _, start in batch) - 1, 0)
        keep = torch.arange(first, width - 1, device=model.device)
        with torch.no_grad():
            logits = model(
                input_ids=input_ids.to(model.device), attention_mask=attention.to(model.device), logits_to_keep=keep
            ).logits.float()
        log_probs = torch.log_softmax(logits, dim=-1)
        targets = labels[:, first + 1 :].to(model.device)
        mask = targets != -100
        picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
        for row in range(len(batch)):
            results.append(list(zip(targets[row][mask[row]].tolist(), picked[row][mask[row]].tolist())))
    return results


def answer_perplexity(model, tokenizer, examples: list[Example], batch_size: int, max_length: int) -> float:
    """Corpus-level perplexity of the reference answers: exp(total NLL / total answer tokens)."""
    scored = answer_log_likelihoods(model, tokenizer, [(e.prompt_messages, e.answer) for e in examples], batch_size, max_length)
    total_log_prob = sum(log_prob for log_prob, _ in scored)
    total_tokens = sum(count for _, count in scored)
    return math.exp(-total_log_prob / max(total_tokens, 1))


def generate_answers(model, tokenizer, prompts: list[list[dict]], batch_size: int, max_new_tokens: int) -> list[str]:
    """Greedy answers, batched with left padding (so every prompt ends where generation starts)."""
    import torch

    tokenizer.padding_side = "left"
    replies = []
    for first in range(0, len(prompts), batch_size):
        texts = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in prompts[first : first + batch_size]]
        batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        with torch.no_grad():
            output = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        replies += [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    tokenizer.padding_side = "right"
    return replies


def score_probes(model, tokenizer, probes: list[dict], cfg) -> list[PairScore]:
    """Answer both prompts of each pair and score each answer for both groups (see scripts/probes.py)."""
    batch_size = cfg.evaluate.batch_size
    return score_pairs(
        probes,
        generate=lambda prompts: generate_answers(model, tokenizer, prompts, batch_size, cfg.evaluate.max_new_tokens),
        score_tokens=lambda pairs: answer_token_log_probs(model, tokenizer, pairs, batch_size, cfg.model.max_length),
    )


# ---------------------------------------------------------------- reporting


def summarise(cfg, results: dict, examples: list[Example], resolved, hardware, seconds: float) -> dict:
    threshold = cfg.evaluate.probe_threshold
    probe_changes = compare_models(results["base"]["probes"], results["tuned"]["probes"], threshold)
    return {
        "base_model": resolved.model_id,
        "base_weights": resolved.weights_note,
        "eval_examples": len(examples),
        "base": {"accuracy": results["base"]["accuracy"], "perplexity": results["base"]["perplexity"]},
        "tuned": {"accuracy": results["tuned"]["accuracy"], "perplexity": results["tuned"]["perplexity"]},
        "accuracy_rule": "reply contains the record's `answer` (else the whole reference) after lower-casing and removing punctuation",
        "probe_threshold": threshold,
        **probe_summary(probe_changes),
        "hardware": hardware.name,
        "seconds": round(seconds, 1),
        "settings": vars(cfg.evaluate),
    }


def side_by_side_rows(examples: list[Example], answers: dict, results: dict, count: int) -> list[dict]:
    return [
        {
            "location": example.location,
            "question": example.prompt_messages[-1]["content"] if example.prompt_messages else "",
            "reference": example.answer,
            "expected": reference_key(example),
            "base": answers["base"][index],
            "base_correct": results["base"]["correct"][index],
            "tuned": answers["tuned"][index],
            "tuned_correct": results["tuned"]["correct"][index],
        }
        for index, example in enumerate(examples[:count])
    ]


def write_outputs(out: Path, metrics: dict, side_by_side: list[dict], results: dict, threshold: float) -> None:
    probes = probes_report(compare_models(results["base"]["probes"], results["tuned"]["probes"], threshold), threshold)
    write_atomic(out / "metrics.json", json.dumps(metrics, indent=2))
    write_atomic(out / "side_by_side.json", json.dumps(side_by_side, indent=2, ensure_ascii=False))
    write_atomic(out / "side_by_side.md", side_by_side_markdown(side_by_side))
    write_atomic(out / "probes.json", json.dumps(probes, indent=2, ensure_ascii=False))
    write_atomic(out / "probes.md", probes_markdown(probes))
    plot_chart(metrics, out / "chart.png")


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ").strip() or "(empty)"


def side_by_side_markdown(rows: list[dict]) -> str:
    mark = {True: "✅", False: "❌"}
    lines = [
        "| # | Question | Expected | Base model | Tuned model |",
        "|---|---|---|---|---|",
    ]
    for number, row in enumerate(rows, start=1):
        lines.append(
            f"| {number} | {_cell(row['question'])} | {_cell(row['expected'])} | "
            f"{mark[row['base_correct']]} {_cell(row['base'])} | {mark[row['tuned_correct']]} {_cell(row['tuned'])} |"
        )
    return "\n".join(lines) + "\n"


def plot_chart(metrics: dict, path: Path) -> None:
    """Two bar pairs: accuracy (higher is better) and perplexity (lower is better)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(8, 3.6), dpi=110)
    labels, colours = ["base", "tuned"], ["#9e9e9e", "#2e7d32"]
    accuracy = [metrics[m]["accuracy"] * 100 for m in labels]
    perplexity = [metrics[m]["perplexity"] for m in labels]
    for axes, values, title, fmt in (
        (left, accuracy, "Accuracy on held-out questions (%)\nhigher is better", "{:.0f}%"),
        (right, perplexity, "Perplexity of reference answers\nlower is better", "{:.1f}"),
    ):
        bars = axes.bar(labels, values, color=colours)
        axes.bar_label(bars, labels=[fmt.format(v) for v in values])
        axes.set_title(title, fontsize=10)
        axes.set_ylim(0, max(values) * 1.25 or 1)
    figure.suptitle(f"{metrics['base_model']}: before and after LoRA ({metrics['eval_examples']} eval questions)", fontsize=10)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)

