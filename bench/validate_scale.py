"""How long `python -m scripts validate` takes, and how much memory it needs, as data grows.

    python bench/validate_scale.py               # 1k, 10k and 100k examples
    python bench/validate_scale.py 1000 5000     # other sizes
    python bench/validate_scale.py --baseline-ref main 100000   # this code against main's, same data, one run

With --baseline-ref, each size runs validate twice on the same generated project:
the `scripts/` of that git ref (extracted with `git archive` into a temporary
folder, so the working tree is not touched) and then this checkout's. It prints
both rows, whether their report.json files are identical, and a `ratio:` line of
the baseline's time, CPU time and memory over this code's at the largest size.

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
    for name in ("rehearsal.jsonl", "general_knowledge.jsonl", "README.md"):  # validate reads each (README.md: the datasheet)
        (datasets / name).write_text((REPO / "datasets" / name).read_text(encoding="utf-8"), encoding="utf-8")
    config = folder / "project.toml"
    settings = (REPO / "project.toml").read_text(encoding="utf-8")
    # No bias probes: they are not what is measured at scale, and validate refuses an empty probes file.
    settings = settings.replace('probes = "datasets/probes.jsonl"', 'probes = ""', 1)
    config.write_text(settings, encoding="utf-8")
    return config


def run_once(config: Path, code: Path) -> None:
    """Child process: run validate from `code` (a folder holding scripts/), then print its CPU time and peak memory as JSON."""
    sys.path.insert(0, str(code))
    from scripts.__main__ import main

    code = main(["validate", "--config", str(config)])
    # validate runs its text checks in a helper process at the same time, so both count.
    own, helper = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(usage.ru_utime + usage.ru_stime for usage in (own, helper))  # every thread of both processes
    peak_mb = (own.ru_maxrss + helper.ru_maxrss) / 1024  # ru_maxrss is KiB on Linux; an upper bound of the sum
    print(json.dumps({"exit": code, "peak_mb": peak_mb, "cpu_seconds": cpu}))


def measure(size: int, baseline: Path | None = None) -> list[dict]:
    """One row per code measured on the same generated project: the baseline's first (when given), then this checkout's."""
    codes = ([("baseline", baseline)] if baseline else []) + [("this code", REPO)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        config = write_project(Path(folder), size)
        for label, code in codes:
            rows.append({"size": size, "code": label, **run_child(config, code, size)})
            rows[-1]["report"] = (Path(folder) / "outputs" / "validate" / "report.json").read_bytes()
    return rows


def run_child(config: Path, code: Path, size: int) -> dict:
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(config), str(code)],
        cwd=REPO, capture_output=True, text=True, check=False, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    seconds = time.perf_counter() - started
    result = json.loads(child.stdout.strip().splitlines()[-1]) if child.returncode == 0 else {}
    if result.get("exit") not in (0, 1):  # 2: validate refused the generated project itself, so it measured nothing
        sys.exit(f"validate failed on {size} examples:\n{child.stdout}\n{child.stderr}")
    return {"seconds": seconds, **result}


def extract_scripts(ref: str, folder: Path) -> Path:
    """`scripts/` as it is at git `ref`, written into `folder` (the working tree is not touched)."""
    archive = subprocess.run(["git", "archive", ref, "scripts"], cwd=REPO, capture_output=True, check=False)
    if archive.returncode != 0:
        sys.exit(f"--baseline-ref {ref}: git cannot read it ({archive.stderr.decode().strip()}); give a branch, tag or commit.")
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


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


def print_comparison(rows: list[dict], ref: str) -> None:
    """Baseline and this code side by side per size, whether their reports agree, and the ratio at the largest size."""
    print(f"{'examples':>10} {'code':>10} {'seconds':>9} {'CPU s':>7} {'peak MB':>9}  report.json")
    for baseline, new in zip(rows[::2], rows[1::2]):
        same = "identical" if baseline["report"] == new["report"] else "DIFFERENT"
        for row in (baseline, new):
            label = ref if row is baseline else row["code"]
            print(f"{row['size']:>10,} {label:>10} {row['seconds']:>9.1f} {row['cpu_seconds']:>7.1f} {row['peak_mb']:>9.0f}  {same}")
    print(f"(seconds: wall clock; CPU s: all threads of both processes; load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    baseline, new = rows[-2], rows[-1]
    print(
        f"\nratio: {new['size']:,} examples: {ref} / this code = {baseline['seconds'] / new['seconds']:.2f}x the time "
        f"({baseline['seconds']:.1f} s vs {new['seconds']:.1f} s), {baseline['cpu_seconds'] / new['cpu_seconds']:.2f}x the CPU time, "
        f"{baseline['peak_mb'] / new['peak_mb']:.2f}x the memory ({baseline['peak_mb']:.0f} MB vs {new['peak_mb']:.0f} MB); "
        f"reports {'identical' if baseline['report'] == new['report'] else 'DIFFERENT'}"
    )


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        run_once(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    arguments = sys.argv[1:]
    ref = None
    if arguments[:1] == ["--baseline-ref"]:
        ref, arguments = arguments[1], arguments[2:]
    sizes = [int(size) for size in arguments] or [1_000, 10_000, 100_000]
    with tempfile.TemporaryDirectory() as folder:
        baseline = extract_scripts(ref, Path(folder)) if ref else None
        results = []
        for size in sizes:
            print(f"validating {size:,} examples ...", flush=True)
            results += measure(size, baseline)
    if ref:
        print_comparison(results, ref)
    else:
        print_table(results)


if __name__ == "__main__":
    main()
