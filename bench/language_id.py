"""What lingua adds to validate's language guess: time and peak memory on 1k and 10k examples.

    python bench/language_id.py            # 1,000 and 10,000 texts
    python bench/language_id.py 50000      # other sizes

Each run is a fresh process (so its peak memory is its own) that builds `LanguageDetector(declared)` and
guesses the language of every text, as validate does. The texts are article 1 of the Universal
Declaration of Human Rights in English and Setswana (tests/udhr.py names the source), each
text a different run of its words, half in each language. Declaring only "en" is today's cost
(py3langid alone); declaring "en" and "tn" adds lingua, which is asked about every text py3langid does
not place in a declared language: here the Setswana half. "every text Setswana" is the worst case (lingua asked about every text).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

CASES = {"en (py3langid only)": (["en"], 0.5), "en + tn (lingua for tn)": (["en", "tn"], 0.5), "en + tn, every text Setswana": (["en", "tn"], 1.0)}


def texts(count: int, setswana_share: float) -> list[str]:
    """`count` different texts: windows of 12 to 30 words of article 1, Setswana for the given share."""
    from udhr import UDHR_ENGLISH, UDHR_SETSWANA

    english, setswana = UDHR_ENGLISH.split(), UDHR_SETSWANA.split()
    made = []
    for number in range(count):
        words = setswana if number < setswana_share * count else english
        start, length = number % 7, 12 + number % 19
        made.append(" ".join((words * 3)[start : start + length]))
    return made


def measure(declared: list[str], count: int, setswana_share: float) -> dict:
    """In this process: seconds and CPU seconds to build the detector and guess every text; peak MB."""
    from scripts.language_id import LanguageDetector

    corpus = texts(count, setswana_share)
    wall, cpu = time.perf_counter(), time.process_time()
    found = LanguageDetector(declared).detect_all(corpus)
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "setswana_found": found.count("tn"),
        "setswana_texts": sum(1 for number in range(count) if number < setswana_share * count),
    }


def main(sizes: list[int]) -> None:
    print("| declared | texts | seconds | CPU s | peak MB | Setswana found / texts |")
    print("|---|---:|---:|---:|---:|---:|")
    for size in sizes:
        for name, (declared, share) in CASES.items():
            command = [sys.executable, __file__, "--one", json.dumps([declared, size, share])]
            row = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            print(f"| {name} | {size:,} | {row['seconds']} | {row['cpu_seconds']} | {row['peak_mb']} | "
                  f"{row['setswana_found']} / {row['setswana_texts']} |")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(*json.loads(sys.argv[2]))))
    else:
        main([int(size) for size in sys.argv[1:]] or [1000, 10000])
