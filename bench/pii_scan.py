"""Recall and precision of the privacy scan per type, before and after issue 17, on a labelled corpus.

    python bench/pii_scan.py                               # tests/fixtures/pii_corpus.jsonl, the rules for names
    python bench/pii_scan.py --names-model path/to/model   # names by a token-classification model (plus the rules)
    python bench/pii_scan.py --misses                      # also print every miss and false alarm of the new scan

The corpus has one sentence per line with each piece of personal data labelled by
type and exact character span; decoy lines hold none (years, amounts, versions,
ISBNs, article numbers, flight times, public figures). A finding counts only when
its type and its span are exactly right; anything else found is a false positive.
"Before" is bench/privacy_before_issue17.py (a frozen copy of the old scan, which
had no names); "after" is scripts/privacy.py with names.py, public figures taken
from project.toml's [data] public_names. Targets: recall >= 90% for every type,
no finding on a decoy line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

import privacy_before_issue17 as before  # noqa: E402
from scripts.config import load_settings  # noqa: E402
from scripts.names import load_name_finder  # noqa: E402
from scripts.privacy import DESCRIPTIONS, find_personal_data  # noqa: E402

CORPUS = REPO / "tests" / "fixtures" / "pii_corpus.jsonl"
TARGET_RECALL = 0.9


def load_corpus(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(corpus: list[dict], scan) -> dict:
    """Per type: true positives, misses, false positives; and the decoy lines with any finding."""
    hits, misses, false = Counter(), Counter(), Counter()
    decoys_flagged, wrong = [], []
    for row in corpus:
        gold = {(entity["type"], entity["start"], entity["end"]) for entity in row["entities"]}
        found = {(finding.kind, finding.start, finding.end) for finding in scan(row["text"])}
        for kind, *_ in gold & found:
            hits[kind] += 1
        for kind, start, end in gold - found:
            misses[kind] += 1
            wrong.append(("missed", kind, row["text"][start:end], row["text"]))
        for kind, start, end in found - gold:
            false[kind] += 1
            wrong.append(("false alarm", kind, row["text"][start:end], row["text"]))
        if "decoy" in row and found:
            decoys_flagged.append(row["text"])
    return {"hits": hits, "misses": misses, "false": false, "decoys_flagged": decoys_flagged, "wrong": wrong}


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--names-model", default="", help="a token-classification model folder (default: the rules)")
    parser.add_argument("--misses", action="store_true", help="list every miss and false alarm of the new scan")
    args = parser.parse_args()

    corpus = load_corpus(args.corpus)
    data = load_settings(REPO / "project.toml").data
    data.names_model = args.names_model
    names = load_name_finder(data, REPO)
    old = score(corpus, before.find_personal_data)
    new = score(corpus, lambda text: find_personal_data(text, names))

    kinds = [kind for kind in DESCRIPTIONS if any(entity["type"] == kind for row in corpus for entity in row["entities"])]
    decoys = sum("decoy" in row for row in corpus)
    print(f"corpus: {args.corpus.relative_to(REPO) if args.corpus.is_relative_to(REPO) else args.corpus}, "
          f"{len(corpus)} lines ({decoys} decoys); names: {names.detector}")  # fmt: skip
    print(f"{'type':<14} {'items':>5}  {'recall before':>13} {'after':>6}  {'precision before':>16} {'after':>6}  met?")
    all_met = True
    for kind in kinds:
        total = new["hits"][kind] + new["misses"][kind]
        recall_old, recall_new = ratio(old["hits"][kind], total), ratio(new["hits"][kind], total)
        precision_old = ratio(old["hits"][kind], old["hits"][kind] + old["false"][kind])
        precision_new = ratio(new["hits"][kind], new["hits"][kind] + new["false"][kind])
        met = recall_new is not None and recall_new >= TARGET_RECALL
        all_met &= met
        print(f"{kind:<14} {total:>5}  {shown(recall_old):>13} {shown(recall_new):>6}  "
              f"{shown(precision_old):>16} {shown(precision_new):>6}  {'yes' if met else 'NO'}")  # fmt: skip
    total = sum(new["hits"].values()) + sum(new["misses"].values())
    found_old, found_new = sum(old["hits"].values()), sum(new["hits"].values())
    false_old, false_new = sum(old["false"].values()), sum(new["false"].values())
    print(f"{'all':<14} {total:>5}  {shown(ratio(found_old, total)):>13} {shown(ratio(found_new, total)):>6}  "
          f"{shown(ratio(found_old, found_old + false_old)):>16} {shown(ratio(found_new, found_new + false_new)):>6}")  # fmt: skip
    print(f"decoy lines with a finding: before {len(old['decoys_flagged'])} of {decoys}, after {len(new['decoys_flagged'])} of {decoys}")
    for text in new["decoys_flagged"]:
        print(f"  after, on a decoy: {text}")
    if args.misses:
        for what, kind, span, text in new["wrong"]:
            print(f"  {what}: {kind} {span!r} in {text!r}")
    print(
        f"ratio: recall after/before = {f'{found_new / found_old:.2f}x' if found_old else 'n/a (none before)'} "
        f"({found_new} vs {found_old} of {total} items found); "
        f"false positives {false_new} vs {false_old}; every type >= {TARGET_RECALL:.0%}: {'yes' if all_met else 'no'}; "
        f"decoys clean: {'yes' if not new['decoys_flagged'] else 'no'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
