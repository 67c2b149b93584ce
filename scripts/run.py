"""Run the whole pipeline locally, the way the GitHub workflows do, one step after another.

    python -m scripts run        # what `make demo` runs

Stops at the first step that fails (a failed data check stops training, as it
would on a pull request), then prints where every output is, the headline
result and how long each step took.

card runs before export: card writes results/model (the adapter as it is
published, in float16), and export then makes the GGUF file from exactly that
adapter, so the sha256 that export records in results/manifest.json is the one
publish can rebuild and check (see docs/design.md).
"""

from __future__ import annotations

import importlib
import importlib.util
import time
from argparse import Namespace

from .errors import EXIT_OK
from .outputs import read_evaluate_metrics
from .stats import accuracy_headline

# The local pipeline in order; steps another issue has not built yet are skipped with a note.
PIPELINE = ["validate", "train", "evaluate", "card", "export", "space", "publish", "rubric"]


def add_arguments(parser) -> None:
    parser.add_argument("--skip-validate", action="store_true", help="train even if the data checks fail (not recommended)")


def main(cfg, args) -> int:
    timings: list[tuple[str, float]] = []
    for name in PIPELINE:
        if not _is_built(name):
            print(f"\n== {name}: not built yet (see the open issues); skipped")
            continue
        if name == "validate" and args.skip_validate:
            print("\n== validate: skipped by --skip-validate")
            continue
        print(f"\n== {name}", flush=True)
        started = time.perf_counter()
        module = importlib.import_module(f".{name}", __package__)
        code = int(module.main(cfg, _step_args(name)) or 0)
        timings.append((name, time.perf_counter() - started))
        if code != EXIT_OK:
            print(f"\n{name} failed (exit {code}); fix what it reported above and run again.")
            _print_timings(timings)
            return code
    _print_summary(cfg)
    _print_timings(timings)
    return EXIT_OK


def _is_built(name: str) -> bool:
    return importlib.util.find_spec(f"{__package__}.{name}") is not None


def _step_args(name: str) -> Namespace:
    """The options a step gets from a plain `python -m scripts <step>`; publish is always a dry run here."""
    from .__main__ import build_parser

    args = build_parser(only=name).parse_args([name])
    if name == "publish":
        args.dry_run = True
    return args


def _print_summary(cfg) -> None:
    print("\n== outputs")
    for step in PIPELINE:
        folder = cfg.step_dir(step)
        if folder.is_dir():
            print(f"  {step:<9} {folder}")
    results = cfg.path("results")
    if results.is_dir():
        print(f"  {'review':<9} {results} (the model card, the Space and the manifest)")
    metrics = read_evaluate_metrics(cfg)
    if metrics is not None:
        print(
            f"\nResult: {accuracy_headline(metrics)}; "
            f"perplexity {metrics.base.perplexity:.1f} -> {metrics.tuned.perplexity:.1f}\n"
            f"Forgetting: {metrics.general_knowledge.summary}"
        )


def _print_timings(timings: list[tuple[str, float]]) -> None:
    total = sum(seconds for _, seconds in timings)
    print("\n== time per step")
    for name, seconds in timings:
        print(f"  {name:<9} {seconds:7.1f} s")
    print(f"  {'total':<9} {total:7.1f} s")
