"""Week 1: compare candidate base models for your data.

    python -m scripts models     # after validate: the times use your data's token count

Prints one row per model of scripts/base_models.toml: size, licence, which of your [project] languages
its model card lists, the memory its weights take, rough CPU and T4 training times for your data
([train] epochs passes over the training tokens that validate counted), and whether the whole flow can run
on GitHub's free runners (its export must fit one; the model must not be gated). How the estimates are made,
and how rough they are: scripts/base_models.py.
"""

from __future__ import annotations

from .base_models import RUNNER_DISK_GB, RUNNER_MEMORY_GB, BaseModel, largest_for_runner_millions, load_catalogue
from .outputs import read_validate_report

EXAMPLE_TOKENS = 100_000  # shown when validate has not run yet


def main(cfg, args) -> int:
    tokens, source = training_tokens(cfg)
    print(f"Candidate base models ({source}); [model] base is marked with *.\n")
    print(comparison_table(load_catalogue(), cfg, tokens))
    print(
        "\nTimes and memory are estimates (scripts/base_models.py says how they are made). A language the model card "
        "does not list may still work a little: the data report's tokens per word shows how well its tokenizer knows "
        "your languages. Write your reasons in [model] rationale; the model card quotes them."
    )
    print(
        f"\nAll the way on GitHub, free: whatever [train] backend says, the Train workflow exports the tuned model (merge, "
        f"GGUF file) on a free runner ({RUNNER_MEMORY_GB} GB of memory, {RUNNER_DISK_GB} GB of disk), and publish does it "
        f"again: that fits models up to about {largest_for_runner_millions() / 1000:.2f}B parameters. A bigger one can "
        "train on a GPU (hf-jobs, colab), but then run card, export and publish on a computer with room. A gated model "
        "cannot be downloaded there at all (the workflows have no Hugging Face token)."
    )
    return 0


def training_tokens(cfg) -> tuple[float, str]:
    """Tokens a training run reads: [train] epochs x the training split's tokens from validate's report."""
    report = read_validate_report(cfg)
    if report is None:
        return EXAMPLE_TOKENS, f"times for {EXAMPLE_TOKENS:,} training tokens; run `python -m scripts validate` for yours"
    lengths = report.token_lengths.get("train", {})
    per_epoch = lengths.get("mean", 0) * lengths.get("examples", 0)
    tokens = per_epoch * cfg.train.epochs
    return tokens, f"times for your data: {per_epoch:,.0f} training tokens x {cfg.train.epochs:g} epochs"


def comparison_table(models: list[BaseModel], cfg, tokens: float) -> str:
    lines = [
        "| model | size | licence | your languages in its card | weights: CPU / T4 | CPU (2 cores) | T4 GPU | all the way on GitHub, free |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in models:
        mark = "*" if model.id == cfg.model.base else ""
        t4 = model.t4_precision()
        lines.append(
            f"| {mark}`{model.id}` | {model.parameters_millions:,}M | {model.licence} | {declared_coverage(model, cfg.project.languages)} | "
            f"{model.weights_gb(4):.1f} / {model.weights_gb(2 if t4 == 'fp16' else 0.5):.1f} GB ({t4}) | "
            f"{duration(model.cpu_seconds(tokens))} | {duration(model.t4_seconds(tokens))} | {model.on_github()} |"
        )
    return "\n".join(lines)


def declared_coverage(model: BaseModel, declared: list[str]) -> str:
    """Each [project] language: listed in the model card (yes), not listed (no), or the card gives only a count."""
    if not all(len(language) <= 3 for language in model.languages):
        return f"{', '.join(model.languages)}: check the card"
    return ", ".join(f"{code} {'yes' if code in model.languages else 'no'}" for code in declared) or "none declared"


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"~{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"~{round(seconds / 60)} min"
    return f"~{seconds / 3600:.1f} h"
