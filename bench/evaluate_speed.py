"""How long `python -m scripts evaluate` takes with this code and with an earlier commit's, in one run.

    python bench/evaluate_speed.py                          # project.toml; needs outputs/train/adapter (make demo)
    python bench/evaluate_speed.py --before main --threads 1 --config path/to/project.toml

Both runs get a copy of the same project (project.toml, datasets/, the trained adapter), so the project's own
outputs/evaluate is not touched. The earlier code is `scripts/` at git ref --before (default: the commit
before the greedy loop that drops finished rows, scripts/generation.py greedy_tokens), written out with
`git archive`; this code is a copy of the working tree's scripts/ taken at the start. Each runs evaluate in a
fresh process with --threads torch threads (pin the command to as many cores with `taskset`). It prints the
seconds of each (the whole step with model loading; writing answers alone), whether every answer and every
output file is identical, and a `ratio:` line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BEFORE = "9dcedfd"  # main before the greedy loop of our own (HF generate for every answer)
COMPARED_FILES = ["metrics.json", "side_by_side.json", "probes.json", "general_knowledge.json"]

# Run inside the child process, with the code under test first on sys.path: times evaluate and its
# answer writing (every call of generate_answers), and keeps every answer for the comparison.
CHILD = """
import json, sys, time
import torch
torch.set_num_threads(int(sys.argv[2]))
from scripts import evaluate, generation
from scripts.config import load_settings

answers, spent = [], [0.0]
def timed(function):
    def run(*args, **kwargs):
        started = time.perf_counter()
        replies = function(*args, **kwargs)
        spent[0] += time.perf_counter() - started
        answers.append(replies)
        return replies
    return run
evaluate.generate_answers = timed(generation.generate_answers)
started = time.perf_counter()
evaluate.run_evaluation(load_settings(sys.argv[1]))
print("RESULT " + json.dumps({"seconds": time.perf_counter() - started, "answer_seconds": spent[0], "answers": answers}))
"""


def copy_project(config: Path, folder: Path) -> Path:
    """project.toml, datasets/ and the trained adapter, copied into `folder`."""
    root = config.parent
    adapter = root / "outputs" / "train" / "adapter"
    if not (adapter / "adapter_config.json").is_file():
        sys.exit(f"{adapter}: no trained adapter; run `make demo` or `python -m scripts train` first.")
    folder.mkdir(parents=True)
    shutil.copy(config, folder / "project.toml")
    shutil.copytree(root / "datasets", folder / "datasets")
    shutil.copytree(adapter, folder / "outputs" / "train" / "adapter")
    return folder / "project.toml"


def code_at(ref: str, folder: Path) -> Path:
    """`scripts/` as it is at git `ref`, written into `folder` (the working tree is not touched)."""
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref, "scripts"], cwd=REPO, capture_output=True, check=False)
    if archive.returncode != 0:
        sys.exit(f"--before {ref}: git cannot read it ({archive.stderr.decode().strip()}); give a branch, tag or commit.")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def code_now(folder: Path) -> Path:
    """This checkout's `scripts/`, copied now, so edits made while the benchmark runs do not leak into it."""
    shutil.copytree(REPO / "scripts", folder / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def run_evaluate(code: Path, config: Path, threads: int) -> dict:
    """evaluate in a fresh process that imports `scripts` from `code`; its times, answers and output files."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(config), str(threads)], cwd=code, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"evaluate with {code} failed:\n{result.stderr[-3000:]}")
    measured = json.loads(result.stdout.rsplit("RESULT ", 1)[1])
    out = config.parent / "outputs" / "evaluate"
    measured["files"] = {name: comparable(out / name) for name in COMPARED_FILES if (out / name).is_file()}
    return measured


def comparable(path: Path):
    """A file's content, without metrics.json's own run time (the one field that must differ)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if path.name == "metrics.json":
        data.pop("seconds")
    return data


def answers_differing(before: list[list[str]], after: list[list[str]]) -> tuple[int, int]:
    """How many answers differ, of how many (in the order evaluate wrote them)."""
    pairs = [(old, new) for old_call, new_call in zip(before, after) for old, new in zip(old_call, new_call)]
    total = max(sum(map(len, before)), sum(map(len, after)))
    return sum(old != new for old, new in pairs) + total - len(pairs), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "project.toml")
    parser.add_argument("--before", default=BEFORE, help=f"git ref of the earlier code (default {BEFORE})")
    parser.add_argument("--threads", type=int, default=1)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="evaluate-speed-") as folder:
        folder = Path(folder)
        codes = {options.before: code_at(options.before, folder / "before"), "this code": code_now(folder / "after")}
        runs = {}
        for label, code in codes.items():
            config = copy_project(options.config.resolve(), folder / f"project-{len(runs)}")
            runs[label] = run_evaluate(code, config, options.threads)
            print(f"{label:>12}: evaluate {runs[label]['seconds']:7.1f} s, writing answers {runs[label]['answer_seconds']:7.1f} s", flush=True)
    before, after = runs[options.before], runs["this code"]
    differing, total = answers_differing(before["answers"], after["answers"])
    files = [name for name in COMPARED_FILES if before["files"].get(name) != after["files"].get(name)]
    print(f"answers: {total - differing} of {total} identical; output files: {'DIFFERENT: ' + ', '.join(files) if files else 'identical'}")
    print(
        f"ratio: evaluate {before['seconds'] / after['seconds']:.2f}x faster ({before['seconds']:.1f} s -> {after['seconds']:.1f} s), "
        f"writing answers {before['answer_seconds'] / after['answer_seconds']:.2f}x "
        f"({before['answer_seconds']:.1f} s -> {after['answer_seconds']:.1f} s), {options.threads} thread(s)"
    )


if __name__ == "__main__":
    main()
