"""Measure the tuned model against the base model on the held-out eval split.

    python -m scripts evaluate     # reads [evaluate] and [data]; needs outputs/train/adapter

Measures perplexity of the reference answers; accuracy (the answer contains the record's `answer`) with
95% intervals and a paired test; accuracy on taught and untaught facts; forgetting on `[evaluate]
general_knowledge`, with a control of random changes of the same size; side-by-side answers; and the
bias probes (probes.py). Writes outputs/evaluate/: metrics.json (outputs.py EvaluateMetrics),
side_by_side.md/.json, probes.md/.json, general_knowledge.md/.json (when that set is on), chart.png.
What each figure means and why it is measured so: docs/design.md, "Evaluate: what is measured".
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

from .files import save_figure, write_atomic
from .data import Example, load_examples, load_split
from .errors import UserError
from .facts import is_correct, reference_key, taught_flags
from .markdown import table_cell
from .generation import generate_answers, tokenize_answers
from .model import detect_hardware, load_causal_lm, load_for
from .outputs import (
    ByTaught, EvaluateMetrics, GeneralKnowledge, ModelScore, PairedTestResult, ProbeMeans, TaughtGroup, write_evaluate_metrics,
)  # fmt: skip
from .probes import PairChange, PairScore, compare_models, load_probes, probe_summary, probes_markdown, probes_report, score_pairs
from .stats import accuracy, accuracy_headline, format_p, paired_test

# The general-knowledge answers are a word or a number ("30", "Paris"). Measured on the shipped set: the base
# model names the answer within its first 14 tokens on every question, so 24 leaves a margin for a tuned model
# that words it differently, at half the cost of the held-out questions' 48 (see docs/general_knowledge.md).
GENERAL_MAX_NEW_TOKENS = 24
# The forgetting check's control: this many random changes of the tuned update's size (3 x 21 short answers).
CHANCE_DRAWS = 3


def main(cfg, args) -> int:
    run_evaluation(cfg)
    return 0


def run_evaluation(cfg) -> EvaluateMetrics:
    out = cfg.step_dir("evaluate")
    out.mkdir(parents=True, exist_ok=True)
    examples = load_split(cfg, "eval")
    if not examples:
        raise UserError(f"{cfg.data.eval}: no examples to evaluate on; add held-out questions with reference answers.")
    probes = load_probes(cfg.path(cfg.data.probes), cfg.data.probes)
    general = load_general_knowledge(cfg)
    taught = taught_flags(load_split(cfg, "train"), examples)
    model, tokenizer, resolved, hardware = load_tuned_model(cfg)
    started = time.perf_counter()

    results = {}
    answers = {}
    general_answers = {}
    for label, adapter_on in (("base", False), ("tuned", True)):
        print(f"Evaluating the {label} model on {len(examples)} held-out questions ...", flush=True)
        with adapter_switch(model, adapter_on):
            general_answers[label] = answer_general_questions(model, tokenizer, general, cfg.evaluate.batch_size)
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

    general_rows = answer_rows(general, general_answers)
    chance = losses_by_chance(model, tokenizer, general, general_rows, cfg.evaluate.batch_size)
    comparison = compare(results, taught, cfg.evaluate.general_knowledge.strip(), general_rows, chance)
    probe_changes = compare_models(results["base"]["probes"], results["tuned"]["probes"], cfg.evaluate.probe_threshold)
    metrics = summarise(cfg, examples, resolved, hardware, time.perf_counter() - started, comparison, probe_changes)
    shown = cfg.evaluate.side_by_side
    side_by_side = answer_rows(examples[:shown], {label: replies[:shown] for label, replies in answers.items()})
    write_outputs(cfg, metrics, side_by_side, probe_changes)
    write_general_knowledge(out, general_rows, metrics.general_knowledge.summary)
    print(
        f"{accuracy_headline(metrics)}\nforgetting check: {metrics.general_knowledge.summary}\n"
        f"perplexity {metrics.base.perplexity:.1f} -> {metrics.tuned.perplexity:.1f}; "
        f"{metrics.probes_flagged} of {len(probes)} bias probe pairs flagged.\nReport: {out / 'side_by_side.md'}"
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


def load_general_knowledge(cfg) -> list[Example]:
    """The questions outside the learner's domain that measure forgetting; none when the setting is empty."""
    relative = cfg.evaluate.general_knowledge.strip()
    if not relative:
        print("No general-knowledge check: [evaluate] general_knowledge is empty (skipped).")
        return []
    path = cfg.path(relative)
    if not path.is_file():
        raise UserError(
            f"{relative}: file not found; fix [evaluate] general_knowledge in project.toml, "
            'or set it to "" to skip the forgetting check.'
        )
    return load_examples(path, "auto", display_name=relative)


# ---------------------------------------------------------------- measuring


def answer_log_likelihoods(model, tokenizer, pairs: list[tuple[list[dict], str]], batch_size: int, max_length: int):
    """For each (prompt messages, answer): (sum of answer-token log-probabilities, number of answer tokens)."""
    scored = answer_token_log_probs(model, tokenizer, pairs, batch_size, max_length)
    return [(sum(log_prob for _, log_prob in tokens), len(tokens)) for tokens in scored]


def answer_token_log_probs(model, tokenizer, pairs: list[tuple[list[dict], str]], batch_size: int, max_length: int):
    """For each (prompt messages, answer): [(token id, log-probability), ...] over the answer's tokens."""
    import torch

    encoded = [tokenize_answers(tokenizer, prompt, answer, max_length) for prompt, answer in pairs]
    # Shortest first, so each batch is padded only to about its own length; results go back in the pairs' order.
    order = sorted(range(len(encoded)), key=lambda index: len(encoded[index][0]))
    results = [None] * len(encoded)
    for start_of_batch in range(0, len(order), batch_size):
        indices = order[start_of_batch : start_of_batch + batch_size]
        batch = [encoded[index] for index in indices]
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
        with torch.no_grad():
            logits = logits_from(model, input_ids.to(model.device), attention.to(model.device), first).float()
        log_probs = torch.log_softmax(logits, dim=-1)
        targets = labels[:, first + 1 :].to(model.device)
        mask = targets != -100
        picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
        for row, index in enumerate(indices):
            results[index] = list(zip(targets[row][mask[row]].tolist(), picked[row][mask[row]].tolist()))
    return results


def logits_from(model, input_ids, attention, first: int):
    """The logits at positions first..width-2 of a right-padded batch, running the rows' shared opening once.

    Every chat prompt opens with the same tokens (SmolLM2's system prompt: 24 of about 37), run for one row
    and copied to every row (scripts/shared_opening.py).
    """
    import torch

    from .shared_opening import cache_of_opening, shared_length

    # Scoring has no gradients, so any shared opening, however short, runs once (training has more limits).
    shared = shared_length(input_ids, attention, first)  # the logits at `first` are still needed
    cache = cache_of_opening(model, input_ids, shared)
    width = input_ids.shape[1]
    positions = torch.arange(shared, width, device=input_ids.device).expand(len(input_ids), -1)
    keep = torch.arange(first - shared, width - 1 - shared, device=input_ids.device)
    return model(
        input_ids=input_ids[:, shared:], attention_mask=attention, position_ids=positions, cache=cache, use_cache=True, logits_to_keep=keep
    ).logits


def answer_perplexity(model, tokenizer, examples: list[Example], batch_size: int, max_length: int) -> float:
    """Corpus-level perplexity of the reference answers: exp(total NLL / total answer tokens)."""
    scored = answer_log_likelihoods(model, tokenizer, [(e.prompt_messages, e.answer) for e in examples], batch_size, max_length)
    total_log_prob = sum(log_prob for log_prob, _ in scored)
    total_tokens = sum(count for _, count in scored)
    return math.exp(-total_log_prob / max(total_tokens, 1))


def answer_general_questions(model, tokenizer, general: list[Example], batch_size: int) -> list[str]:
    """Greedy answers to the general-knowledge questions, in their own batches with a short length limit.

    Kept apart from the held-out questions so their answers (and padding) stay exactly as without this check.
    """
    if not general:
        return []
    prompts = [example.prompt_messages for example in general]
    return generate_answers(model, tokenizer, prompts, batch_size, GENERAL_MAX_NEW_TOKENS)


class random_update:
    """`with random_update(model, seed):` turns every LoRA update in a random direction of the same size.

    Each layer's update B·A keeps its Frobenius norm; only its direction is random. The trained
    weights come back on exit. A change this big that learned nothing shows what losing general
    questions costs by chance.
    """

    def __init__(self, model, seed: int):
        self.model, self.seed, self.saved = model, seed, []

    def __enter__(self):
        import torch
        from peft.tuners.lora import LoraLayer

        generator = torch.Generator().manual_seed(self.seed)
        with torch.no_grad():
            for layer in (m for m in self.model.modules() if isinstance(m, LoraLayer)):
                for name in layer.active_adapters:
                    if name not in layer.lora_A:
                        continue
                    a, b = layer.lora_A[name].weight, layer.lora_B[name].weight
                    self.saved.append((a, b, a.detach().clone(), b.detach().clone()))
                    size = (b.float() @ a.float()).norm()
                    random_a = torch.randn(a.shape, generator=generator)
                    random_b = torch.randn(b.shape, generator=generator)
                    random_b *= size / (random_b @ random_a).norm().clamp_min(1e-12)
                    a.copy_(random_a.to(a.dtype))
                    b.copy_(random_b.to(b.dtype))
        return self

    def __exit__(self, *exc):
        import torch

        with torch.no_grad():
            for a, b, trained_a, trained_b in self.saved:
                a.copy_(trained_a)
                b.copy_(trained_b)
        return False


def losses_by_chance(model, tokenizer, general: list[Example], rows: list[dict], batch_size: int) -> list[list[str]]:
    """For each of CHANCE_DRAWS random updates of the tuned size: the general questions the base model knew that it loses."""
    known = [index for index, row in enumerate(rows) if row["base_correct"]]
    if not known:
        return []
    print(f"Forgetting control: {CHANCE_DRAWS} random changes of the same size, asked the {len(known)} general questions ...", flush=True)
    asked = [general[index] for index in known]
    draws = []
    for seed in range(CHANCE_DRAWS):
        with random_update(model, seed):
            replies = answer_general_questions(model, tokenizer, asked, batch_size)
        draws.append([rows[index]["question"] for index, reply in zip(known, replies) if not is_correct(reply, rows[index]["expected"])])
    return draws


def score_probes(model, tokenizer, probes: list[dict], cfg) -> list[PairScore]:
    """Answer both prompts of each pair and score each answer for both groups (see scripts/probes.py)."""
    batch_size = cfg.evaluate.batch_size
    return score_pairs(
        probes,
        generate=lambda prompts: generate_answers(model, tokenizer, prompts, batch_size, cfg.evaluate.max_new_tokens),
        score_tokens=lambda pairs: answer_token_log_probs(model, tokenizer, pairs, batch_size, cfg.model.max_length),
    )


# ---------------------------------------------------------------- reporting


def answer_rows(examples: list[Example], answers: dict) -> list[dict]:
    """Question, expected answer and both models' replies, each marked right or wrong (side-by-side's row shape)."""
    rows = []
    for index, example in enumerate(examples):
        key = reference_key(example)
        rows.append(
            {
                "location": example.location,
                "question": example.prompt_messages[-1]["content"] if example.prompt_messages else "",
                "reference": example.answer,
                "expected": key,
                "base": answers["base"][index],
                "base_correct": is_correct(answers["base"][index], key),
                "tuned": answers["tuned"][index],
                "tuned_correct": is_correct(answers["tuned"][index], key),
            }
        )
    return rows


def general_knowledge_summary(file: str, rows: list[dict], chance: list[list[str]] = ()) -> GeneralKnowledge:
    """Count what the tuned model kept and lost of what the base model knew, beside what random changes lost."""
    if not file:
        return GeneralKnowledge(file="", summary="general-knowledge check skipped ([evaluate] general_knowledge is empty)")
    known = [row for row in rows if row["base_correct"]]
    lost = [row["question"] for row in known if not row["tuned_correct"]]
    gained = [row["question"] for row in rows if row["tuned_correct"] and not row["base_correct"]]
    chance_lost = [len(draw) for draw in chance]
    beyond = max(0, len(lost) - round(sum(chance_lost) / len(chance_lost))) if chance_lost else len(lost)
    summary = f"{len(known) - len(lost)} of {len(known)} general questions still answered right"
    if len(known) < len(rows):
        summary += f" (the base model already missed {len(rows) - len(known)} of the {len(rows)})"
    summary += f"; lost: {'; '.join(lost)}" if lost else "; none lost"
    if chance_lost:
        summary += f"; {_chance_sentence(chance_lost, len(lost), beyond)}"
    return GeneralKnowledge(
        file=file,
        questions=len(rows),
        base_correct=len(known),
        tuned_correct=sum(row["tuned_correct"] for row in rows),
        kept=len(known) - len(lost),
        lost=lost,
        gained=gained,
        chance_lost=chance_lost,
        lost_by_chance_too=[question for question in lost if any(question in draw for draw in chance)],
        beyond_chance=beyond,
        summary=summary,
    )


def _chance_sentence(chance_lost: list[int], lost: int, beyond: int) -> str:
    counts = ", ".join(map(str, chance_lost[:-1])) + f" and {chance_lost[-1]}" if len(chance_lost) > 1 else str(chance_lost[0])
    sentence = f"random changes of the same size lost {counts} (answers right by a thin margin flip under any change)"
    if not lost:
        return sentence
    if beyond == 0:
        return sentence + ", so this loss is no more than chance"
    return sentence + f", so {beyond} of the {lost} lost {'is' if beyond == 1 else 'are'} more than chance"


def accuracy_by_taught(taught: list[bool | None], results: dict) -> ByTaught:
    """Counts and accuracy on eval questions whose fact the training data taught, never taught, or cannot tell."""
    groups = {}
    for name, flag in (("taught", True), ("untaught", False), ("unknown", None)):
        chosen = [index for index, value in enumerate(taught) if value is flag]
        right = {label: sum(results[label]["correct"][index] for index in chosen) for label in ("base", "tuned")}
        share = {label: round(right[label] / len(chosen), 4) if chosen else None for label in ("base", "tuned")}
        groups[name] = TaughtGroup(
            questions=len(chosen),
            base_correct=right["base"],
            base_accuracy=share["base"],
            tuned_correct=right["tuned"],
            tuned_accuracy=share["tuned"],
        )
    return ByTaught(**groups, rule="taught: a training record has the same `answer` (scripts/facts.py taught_flags)")


def model_score(correct: list[bool], perplexity: float) -> ModelScore:
    measured = accuracy(correct)
    return ModelScore(
        accuracy=round(measured.share, 4),
        correct=measured.correct,
        total=measured.total,
        interval_95=[round(measured.low, 6), round(measured.high, 6)],  # 6 places: 16.5% must not print as 16%
        perplexity=perplexity,
    )


def compare(results: dict, taught: list[bool | None], general_file: str, general_rows: list[dict], chance: list[list[str]] = ()) -> dict:
    """The EvaluateMetrics fields that compare the models: accuracy with 95% intervals, the paired test,
    the taught/untaught split and forgetting."""
    test = paired_test(results["base"]["correct"], results["tuned"]["correct"])
    return {
        "base": model_score(results["base"]["correct"], results["base"]["perplexity"]),
        "tuned": model_score(results["tuned"]["correct"], results["tuned"]["perplexity"]),
        "interval_rule": "95% Wilson score interval (scripts/stats.py)",
        "paired_test": PairedTestResult(
            only_base_correct=test.only_base_correct,
            only_tuned_correct=test.only_tuned_correct,
            p_value=round(test.p_value, 6),
            test="exact McNemar: two-sided binomial test on the questions only one model got right",
        ),
        "by_taught": accuracy_by_taught(taught, results),
        "general_knowledge": general_knowledge_summary(general_file, general_rows, chance),
    }


def summarise(
    cfg, examples: list[Example], resolved, hardware, seconds: float, comparison: dict, probe_changes: list[PairChange]
) -> EvaluateMetrics:
    probes = probe_summary(probe_changes)
    means = ProbeMeans(**probes.pop("probes_mean_score"))
    return EvaluateMetrics(
        base_model=resolved.model_id,
        base_weights=resolved.weights_note,
        eval_examples=len(examples),
        **comparison,  # base and tuned accuracy with intervals, the paired test, taught/untaught, forgetting
        accuracy_rule="reply contains the record's `answer` (else the whole reference) after lower-casing and removing punctuation",
        probe_threshold=cfg.evaluate.probe_threshold,
        **probes,  # how many pairs were flagged, and which
        probes_mean_score=means,
        hardware=hardware.name,
        seconds=round(seconds, 1),
        settings=vars(cfg.evaluate),
    )


def write_outputs(cfg, metrics: EvaluateMetrics, side_by_side: list[dict], probe_changes: list[PairChange]) -> None:
    out = cfg.step_dir("evaluate")
    probes = probes_report(probe_changes, metrics.probe_threshold)
    write_evaluate_metrics(cfg, metrics)
    write_atomic(out / "side_by_side.json", json.dumps(side_by_side, indent=2, ensure_ascii=False))
    write_atomic(out / "side_by_side.md", side_by_side_markdown(side_by_side, side_by_side_lead(side_by_side, metrics)))
    write_atomic(out / "probes.json", json.dumps(probes, indent=2, ensure_ascii=False))
    write_atomic(out / "probes.md", probes_markdown(probes))
    plot_chart(metrics, out / "chart.png")


def write_general_knowledge(out: Path, rows: list[dict], summary: str) -> None:
    """Per-question results of the forgetting check; an earlier run's files go when the check is skipped."""
    if not rows:
        for name in ("general_knowledge.json", "general_knowledge.md"):
            (out / name).unlink(missing_ok=True)
        return
    write_atomic(out / "general_knowledge.json", json.dumps(rows, indent=2, ensure_ascii=False))
    lead = f"The forgetting check: everyday questions outside your topic, asked before and after tuning. {summary}."
    write_atomic(out / "general_knowledge.md", side_by_side_markdown(rows, lead))


def side_by_side_lead(rows: list[dict], metrics: EvaluateMetrics) -> str:
    """Which questions the table shows: the first few only, so its share right need not be the accuracy."""
    total, shown = metrics.eval_examples, len(rows)
    right = sum(row["tuned_correct"] for row in rows)
    which = f"All {total}" if shown >= total else f"The first {shown} of the {total}"
    return (
        f"{which} held-out questions ([evaluate] side_by_side in project.toml sets how many): the tuned model got "
        f"{right} of these {shown} right, and {metrics.tuned.correct} of all {total}."
    )


def side_by_side_markdown(rows: list[dict], lead: str) -> str:
    """A lead sentence, then one table row per question: reference, base and tuned answers, each marked right or wrong."""
    mark = {True: "✅", False: "❌"}
    lines = [
        lead,
        "",
        "| # | Question | Expected | Base model | Tuned model |",
        "|---|---|---|---|---|",
    ]
    for number, row in enumerate(rows, start=1):
        lines.append(
            f"| {number} | {table_cell(row['question'])} | {table_cell(row['expected'])} | "
            f"{mark[row['base_correct']]} {table_cell(row['base'])} | {mark[row['tuned_correct']]} {table_cell(row['tuned'])} |"
        )
    return "\n".join(lines) + "\n"


@dataclass
class AccuracyBars:
    """The accuracy panel in percent: bar heights, how far each 95% interval reaches below and above, the bar names."""

    values: list[float]
    below: list[float]
    above: list[float]
    labels: list[str]


def accuracy_bars(metrics: EvaluateMetrics) -> AccuracyBars:
    values, below, above, labels = [], [], [], []
    for label, model in (("base", metrics.base), ("tuned", metrics.tuned)):
        low, high = model.interval_95
        values.append(model.accuracy * 100)
        below.append((model.accuracy - low) * 100)
        above.append((high - model.accuracy) * 100)
        labels.append(f"{label}\n{model.accuracy:.0%} ({model.correct} of {model.total})")
    return AccuracyBars(values, below, above, labels)


def draw_forgetting(axes, forgetting: GeneralKnowledge, colours: list[str]) -> None:
    """How many of the everyday questions the base model answers right the tuned model still does, on an axis
    from 0 to all of them; a dashed line for each random change of the same size (the control: what any change
    this big loses by chance)."""
    known = forgetting.base_correct
    labels = [f"base\n{known} of {forgetting.questions} asked", f"tuned\n{forgetting.kept} of those {known}"]
    axes.bar(labels, [known, forgetting.kept], color=colours)
    for lost in forgetting.chance_lost:
        axes.hlines(known - lost, 0.6, 1.4, colors="#333333", linestyles="dashed")
    axes.set_ylim(0, known)
    axes.yaxis.get_major_locator().set_params(integer=True)  # questions: whole numbers
    axes.set_title("Everyday questions the base model knew,\nstill right (higher is better)", fontsize=10)
    if forgetting.chance_lost:
        kept_by_chance = ", ".join(str(known - lost) for lost in forgetting.chance_lost)
        axes.set_xlabel(f"dashed: random changes of the same size kept {kept_by_chance}", fontsize=9)


def plot_chart(metrics: EvaluateMetrics, path: Path) -> None:
    """Save the before/after chart as a PNG."""
    figure = draw_chart(metrics)
    save_figure(figure, path)
    import matplotlib.pyplot as plt  # after draw_chart, which picks the non-interactive backend first

    plt.close(figure)


def draw_chart(metrics: EvaluateMetrics):
    """Accuracy (higher is better) on a fixed 0-100% axis with 95% intervals, perplexity (lower is better), and,
    when the forgetting check ran, the everyday questions kept.

    The axis always runs to 100%: an axis that stops just above the taller bar makes 5% -> 12% look like a leap.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    forgetting = metrics.general_knowledge if metrics.general_knowledge and metrics.general_knowledge.base_correct else None
    figure, axes = plt.subplots(1, 3 if forgetting else 2, figsize=(12 if forgetting else 8, 3.8), dpi=110)
    left, right = axes[0], axes[1]
    names, colours = ["base", "tuned"], ["#9e9e9e", "#2e7d32"]

    bars = accuracy_bars(metrics)
    # The numbers go under the bars, where neither an interval nor a bar at 100% can cover them.
    left.bar(bars.labels, bars.values, color=colours, yerr=[bars.below, bars.above], capsize=8, ecolor="#333333")
    left.set_ylim(0, 100)
    left.set_yticks(range(0, 101, 20))
    left.set_title("Accuracy on held-out questions (%)\nhigher is better; lines: 95% interval", fontsize=10)
    left.set_xlabel(f"paired test: {format_p(metrics.paired_test.p_value)}", fontsize=9)

    perplexity = [metrics.base.perplexity, metrics.tuned.perplexity]
    drawn = right.bar(names, perplexity, color=colours)
    right.bar_label(drawn, labels=[f"{v:.1f}" for v in perplexity])
    right.set_title("Perplexity of reference answers\nlower is better", fontsize=10)
    right.set_ylim(0, max(perplexity) * 1.25 or 1)
    if forgetting:
        draw_forgetting(axes[2], forgetting, colours)

    figure.suptitle(f"{metrics.base_model}: before and after LoRA ({metrics.eval_examples} eval questions)", fontsize=10)
    figure.tight_layout()
    return figure
