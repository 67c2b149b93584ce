"""How long `python -m scripts validate` takes, and how much memory it needs, as data grows.

    python bench/validate_scale.py               # 1k, 10k and 100k examples
    python bench/validate_scale.py 1000 5000     # other sizes

For each size it writes synthetic Q&A examples made of the bundled dataset's words
(plus 10% as many for eval, 1% exact and 1% near duplicates so those code paths run too) into a throw-away project, runs
validate in a fresh process, and prints one table: seconds (wall clock, start-up
and imports included, as a learner waits for them; HF_HUB_OFFLINE=1 so no time goes
to looking for the Hub), CPU seconds (which other programs running at the same time
do not inflate), peak memory of validate and its helper process together,
and how much each grows from the previous size. Validate of 10k examples should
take well under 15 s on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_SIZE, TARGET_SECONDS = 10_000, 15  # validate 10k examples in under 15 s on a 2-core machine
CATEGORIES = ["geography", "history", "civics", "economy", "languages", "culture", "tourism"]


def vocabulary() -> list[str]:
    """The words of the bundled dataset, so the synthetic texts look like real ones to every check."""
    text = " ".join((REPO / "datasets" / name).read_text(encoding="utf-8") for name in ("train.jsonl", "eval.jsonl"))
    return sorted({word for word in re.findall(r"[a-z]+", text.lower()) if len(word) > 2})


def synthetic_examples(size: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    words = vocabulary()

    def sentence(low: int, high: int) -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(low, high))).capitalize()

    examples = []
    for number in range(size):
        if number % 100 == 1:  # an exact copy of the previous example
            examples.append(examples[-1])
            continue
        question = sentence(6, 14) + "?"
        if number % 100 == 2:  # a near copy: the previous question and answer with one word added
            question = examples[-1]["messages"][0]["content"].replace(" ", " namib ", 1)
        answer = sentence(8, 30) + "."
        messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        examples.append({"messages": messages, "category": CATEGORIES[number % len(CATEGORIES)]})
    return examples


def write_project(folder: Path, size: int) -> Path:
    datasets = folder / "datasets"
    datasets.mkdir()
    for name, count, seed in (("train", size, 1), ("eval", max(size // 10, 1), 2)):
        lines = (json.dumps(example) + "\n" for example in synthetic_examples(count, seed))
        (datasets / f"{name}.jsonl").write_text("".join(lines), encoding="utf-8")
    (datasets / "probes.jsonl").write_text("", encoding="utf-8")
    for name in ("rehearsal.jsonl", "general_knowledge.jsonl"):  # project.toml trains with rehearsal: validate reads both
        (datasets / name).write_text((REPO / "datasets" / name).read_text(encoding="utf-8"), encoding="utf-8")
    config = folder / "project.toml"
    config.write_text((REPO / "project.toml").read_text(encoding="utf-8"), encoding="utf-8")
    return config


def run_once(config: Path) -> None:
    """Child process: run validate, then print its CPU time and peak memory as JSON."""
    sys.path.insert(0, str(REPO))
    from scripts.__main__ import main

    code = main(["validate", "--config", str(config)])
    # validate runs its text checks in a helper process at the same time, so both count.
    own, helper = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(usage.ru_utime + usage.ru_stime for usage in (own, helper))  # every thread of both processes
    peak_mb = (own.ru_maxrss + helper.ru_maxrss) / 1024  # ru_maxrss is KiB on Linux; an upper bound of the sum
    print(json.dumps({"exit": code, "peak_mb": peak_mb, "cpu_seconds": cpu}))


def measure(size: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        config = write_project(Path(folder), size)
        started = time.perf_counter()
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(config)],
            cwd=REPO, capture_output=True, text=True, check=False, env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )  # fmt: skip
        seconds = time.perf_counter() - started
    if child.returncode not in (0, 1):
        sys.exit(f"validate failed on {size} examples:\n{child.stdout}\n{child.stderr}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    return {"size": size, "seconds": seconds, **result}


def print_table(results: list[dict]) -> None:
    print(f"{'examples':>10} {'seconds':>9} {'CPU s':>7} {'peak MB':>9} {'time x':>8} {'memory x':>9}")
    previous = None
    for row in results:
        growth = ("", "") if previous is None else (
            f"{row['seconds'] / previous['seconds']:.1f}", f"{row['peak_mb'] / previous['peak_mb']:.1f}"
        )  # fmt: skip
        print(
            f"{row['size']:>10,} {row['seconds']:>9.1f} {row['cpu_seconds']:>7.1f} {row['peak_mb']:>9.0f}"
            f" {growth[0]:>8} {growth[1]:>9}"
        )
        previous = row
    print("(seconds: wall clock; CPU s: all threads; time x, memory x: growth from the previous row;")
    print(f" each size also has 10% as many eval examples; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print_ratio(results)


def print_ratio(results: list[dict]) -> None:
    """One line: how time and memory grew against the data, and the 10k-example target when measured."""
    first, last = results[0], results[-1]
    line = (
        f"ratio: {last['size'] / first['size']:.0f}x the examples took {last['seconds'] / first['seconds']:.1f}x the time "
        f"and {last['peak_mb'] / first['peak_mb']:.1f}x the memory"
    )
    ten_thousand = next((row for row in results if row["size"] == TARGET_SIZE), None)
    if ten_thousand:
        line += f"; {TARGET_SIZE:,} examples in {ten_thousand['seconds']:.1f} s (target < {TARGET_SECONDS} s)"
    print("\n" + line)


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        run_once(Path(sys.argv[2]))
        return
    sizes = [int(size) for size in sys.argv[1:]] or [1_000, 10_000, 100_000]
    results = []
    for size in sizes:
        print(f"validating {size:,} examples ...", flush=True)
        results.append(measure(size))
    print_table(results)


if __name__ == "__main__":
    main()
