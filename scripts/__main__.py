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
    "run": Step(
        "Run the whole pipeline on this machine (what `make demo` runs), with a time per step.",
        "everything the steps read",
        "everything the steps write, under outputs/",
    ),
}


def build_parser() -> argparse.ArgumentParser:
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
        module = _step_module(name)
        if hasattr(module, "add_arguments"):
            module.add_arguments(sub)
    return parser


def _step_module(name: str):
    return importlib.import_module(f".{name}", __package__)


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    args = build_parser().parse_args(argv)
    try:
        cfg = load_settings(args.config)
        return int(_step_module(args.step).main(cfg, args) or 0)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
