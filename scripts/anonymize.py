"""Replace personal data in a dataset file with placeholders such as <EMAIL> and <PHONE>.

    python -m scripts anonymize datasets/train.jsonl                 # writes datasets/train.anonymized.jsonl
    python -m scripts anonymize datasets/train.jsonl --output clean.jsonl
    python -m scripts anonymize datasets/train.jsonl --in-place      # keeps datasets/train.jsonl.bak first

What counts as personal data is decided by privacy.py, the same code `validate`
uses, so `validate` finds nothing in what this step writes.

Only the text inside JSON string values changes. Each changed value is written
again with `json.dumps(..., ensure_ascii=False)`; keys, numbers, every record,
the layout (JSONL or one JSON array, indentation, Windows line endings, a
byte-order mark) and every other character stay exactly as they were, so a
pull request shows only the replacements. Placeholders are not personal data
themselves, so running this twice changes nothing the second time.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .files import write_atomic
from .data import read_records
from .errors import EXIT_OK, UserError, where
from .privacy import Finding, redact

# A JSON string literal: a quote, then escaped or ordinary characters, then a quote.
# Outside strings valid JSON has no quotes, so scanning left to right finds every string.
STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
KEY_FOLLOWS = re.compile(r"\s*:")
MAX_LISTED = 50


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="a JSONL or JSON-array dataset file")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--output", metavar="OUT", help="where to write the result (default: next to FILE, e.g. train.anonymized.jsonl)")
    target.add_argument("--in-place", action="store_true", help="overwrite FILE, after copying it to FILE.bak")


@dataclass
class Change:
    """The replacements made in one JSON string value."""

    line: int
    findings: list[Finding]


def main(cfg, args) -> int:
    source = Path(args.file)
    if not source.is_file():
        raise UserError(f"{args.file}: file not found; give the path of a .jsonl or .json dataset file.")
    read_records(source, args.file)  # stops with the file and line of invalid JSON before anything is written
    raw = source.read_bytes().decode("utf-8")  # bytes, so Windows line endings and a byte-order mark survive
    anonymized, changes = anonymize_json_text(raw)
    target = source if args.in_place else Path(args.output) if args.output else default_output(source)
    if not args.in_place and target.resolve() == source.resolve():
        raise UserError(f"{args.output}: that is FILE itself; use --in-place to overwrite FILE (it keeps FILE.bak first).")
    if args.in_place and not changes:
        print(f"No personal data found in {args.file}; nothing changed.")
        return EXIT_OK
    if args.in_place:
        backup = source.with_name(source.name + ".bak")
        shutil.copy2(source, backup)
        print(f"Backup of the original: {backup}")
    write_atomic(target, anonymized)
    print_changes(args.file, target, changes)
    return EXIT_OK


def default_output(source: Path) -> Path:
    """datasets/train.jsonl -> datasets/train.anonymized.jsonl"""
    return source.with_name(f"{source.stem}.anonymized{source.suffix}")


def anonymize_json_text(raw: str) -> tuple[str, list[Change]]:
    """`raw` (the text of a valid JSON or JSONL file) with personal data in string values replaced."""
    pieces, changes = [], []
    copied_up_to = 0  # raw[:copied_up_to] is already in pieces
    line, counted_up_to = 1, 0
    for match in STRING_LITERAL.finditer(raw):
        if KEY_FOLLOWS.match(raw, match.end()):
            continue  # a key like "messages": structure, not content
        redacted, findings = redact(json.loads(match.group()))
        if not findings:
            continue
        line += raw.count("\n", counted_up_to, match.start())
        counted_up_to = match.start()
        changes.append(Change(line, findings))
        pieces += [raw[copied_up_to : match.start()], json.dumps(redacted, ensure_ascii=False)]
        copied_up_to = match.end()
    pieces.append(raw[copied_up_to:])
    return "".join(pieces), changes


def print_changes(name: str, target: Path, changes: list[Change]) -> None:
    counts = Counter(finding.kind for change in changes for finding in change.findings)
    if not counts:
        print(f"No personal data found in {name}; wrote an unchanged copy to {target}.")
        return
    summary = ", ".join(f"{count} {kind}" for kind, count in counts.most_common())
    print(f"Replaced {sum(counts.values())} items in {name} ({summary}); wrote {target}.")
    by_line: dict[int, list[str]] = {}
    for change in changes:
        by_line.setdefault(change.line, []).extend(finding.placeholder for finding in change.findings)
    for line, placeholders in list(by_line.items())[:MAX_LISTED]:
        print(f"  {where(name, line)}: {', '.join(placeholders)}")
    if len(by_line) > MAX_LISTED:
        print(f"  ... and {len(by_line) - MAX_LISTED} more lines")
