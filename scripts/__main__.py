"""Command line: `python -m scripts <step> [options]`.

Every step is listed once, in STEPS below; the parser, `--help`, the README's
step table and the workflows are all checked against this one map by the tests.
Each step module has `main(cfg, args)` and may add options with
`add_arguments(parser)`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass

from .config import DEFAULT_CONFIG, load_settings
from .errors import EXIT_BAD_INPUT, UserError


@dataclass(frozen=True)
class Step:
    summary: str
    reads: str
    writes: str


STEPS: dict[str, Step] = {
    "models": Step(
        "Compare candidate base models: size, licence, languages, memory, estimated CPU and T4 training time for your data.",
        "scripts/base_models.toml, project.toml [project] languages [train] epochs, outputs/validate/report.json (token count)",
        "nothing: prints the table",
    ),
    "validate": Step(
        "Check the datasets and write a plain-language report.",
        "project.toml, datasets/",
        "outputs/validate/: report.md, report.json, data_docs/ (Great Expectations HTML), token_lengths.png",
    ),
    "anonymize": Step(
        "Replace personal data in a JSONL/JSON file with placeholders like <EMAIL>.",
        "the file you name",
        "FILE.anonymized.jsonl (or FILE itself with --in-place, keeping FILE.bak)",
    ),
    "augment": Step(
        "Propose more phrasings of each training question for you to review; --accept FILE adds the ones you accepted.",
        "project.toml [augment] [data], datasets/train.jsonl; with --accept, the proposals file you reviewed",
        "outputs/augment/proposals.jsonl (never the training data); with --accept, the accepted records appended to "
        "datasets/train.jsonl (its previous copy in outputs/augment/train.jsonl.bak)",
    ),
    "train": Step(
        "Train a LoRA adapter on the base model (TRL SFTTrainer).",
        "project.toml [model] [lora] [train], datasets/",
        "outputs/train/: adapter/ (safetensors), loss_curve.png, loss_curve.csv, metrics.json, checkpoints/",
    ),
    "evaluate": Step(
        "Compare the tuned model with the base model: perplexity, accuracy, side-by-side answers, bias probes.",
        "project.toml [evaluate], datasets/eval.jsonl, datasets/probes.jsonl, outputs/train/adapter",
        "outputs/evaluate/: metrics.json, side_by_side.md/.json, probes.md/.json, chart.png",
    ),
    "card": Step(
        "Render model_card.j2 into the model repo's README.md and gather everything a reviewer needs in results/.",
        "project.toml [project] [card], model_card.j2, outputs/validate, outputs/train, outputs/evaluate",
        "results/model/README.md (the model card), results/model/ adapter files, results/evaluation/, results/manifest.json",
    ),
    "export": Step(
        "Merge the adapter into the base model and export it for other apps (safetensors; GGUF for llama.cpp, Ollama, LM Studio and the browser).",
        "project.toml, results/model (the reviewed adapter; before card, outputs/train/adapter; or --adapter), "
        "datasets/eval.jsonl (the checks ask its first questions)",
        "outputs/export/: merged/ (safetensors), <name>-f16.gguf (also the static Space's browser model), Modelfile (Ollama), "
        "export.json; the GGUF and Modelfile's sha256 in results/manifest.json (published with the model repo)",
    ),
    "serve": Step(
        "Serve the exported model on an OpenAI-compatible chat endpoint for apps on this computer (transformers serve).",
        "outputs/export/merged",
        "nothing: answers on http://127.0.0.1:8000/v1 until stopped with Ctrl+C",
    ),
    "space": Step(
        "Render template/ into the demo Space folder (static in-browser chat, or Gradio).",
        "project.toml [publish], template/, results/, outputs/export",
        "results/space/, results/manifest.json",
    ),
    "publish": Step(
        "Publish the reviewed model repo and Space to the Hugging Face Hub (a dry run without HF_TOKEN).",
        "results/manifest.json, the files it lists, outputs/export (the GGUF file; export runs again when it is missing)",
        "the Hub repos; dry run: outputs/publish/ with the exact trees, commit messages and sha256 of every file",
    ),
    "dispatch": Step(
        "Send training to a rented GPU: Hugging Face Jobs, or a Colab notebook you open.",
        "project.toml [train], template/",
        "an HF Job (results brought back into outputs/), or outputs/dispatch/train.ipynb",
    ),
    "rubric": Step(
        "Pre-score the course rubric from the evidence on disk, for the mentor to confirm.",
        "outputs/, results/",
        "outputs/rubric/rubric.md and rubric.json",
    ),
    "run": Step(
        "Run the whole pipeline on this machine (what `make demo` runs), with a time per step.",
        "everything the steps read",
        "everything the steps write, under outputs/",
    ),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The CLI parser. With `only`, just that step's module is imported (faster start-up)."""
    parser = argparse.ArgumentParser(
        prog="python -m scripts",
        description="Fine-tune a small language model, one step at a time. Run a step with --help for details.",
    )
    subparsers = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    for name, step in STEPS.items():
        sub = subparsers.add_parser(
            name,
            help=step.summary,
            description=f"{step.summary}\n\nreads:  {step.reads}\nwrites: {step.writes}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("--config", default=DEFAULT_CONFIG, help="settings file (default: project.toml)")
        if only in (None, name):
            module = _step_module(name)
            if hasattr(module, "add_arguments"):
                module.add_arguments(sub)
    return parser


def _step_module(name: str):
    return importlib.import_module(f".{name}", __package__)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((word for word in argv if word in STEPS), None)
    args = build_parser(only=chosen).parse_args(argv)
    try:
        cfg = load_settings(args.config)
        return int(_step_module(args.step).main(cfg, args) or 0)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
