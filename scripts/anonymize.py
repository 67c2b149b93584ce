"""Replace personal data in a dataset file with placeholders such as <EMAIL>, <PHONE> and <PERSON_1>.

    python -m scripts anonymize datasets/train.jsonl                 # writes datasets/train.anonymized.jsonl
    python -m scripts anonymize datasets/train.jsonl --output clean.jsonl
    python -m scripts anonymize datasets/train.jsonl --in-place      # keeps datasets/train.jsonl.bak first
    python -m scripts anonymize datasets/train.jsonl --keep-names    # replaces everything but names

What counts as personal data is decided by privacy.py and names.py, the same
code `validate` uses, so `validate` finds nothing in what this step writes.

Names of people get pseudonyms that are consistent in the file: the same person is
<PERSON_1> everywhere, also where only their first name or surname appears again
("Martha Haufiku ... Haufiku"). A name can be a public figure or a place the rules
took for a person, so every name replaced is printed with its placeholder and
lines for the learner to confirm; public figures belong in [data] public_names.

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
from .names import also_mentioned, load_name_finder, words_of
from .privacy import Finding, find_personal_data

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
    parser.add_argument("--keep-names", action="store_true", help="replace only the other personal data, not names of people")


@dataclass
class Change:
    """The replacements made in one JSON string value."""

    line: int
    findings: list[Finding]
    placeholders: list[str]
    """What each finding became, in order (<EMAIL>, <PERSON_2>, ...)."""
    names: list[tuple[str, str]]
    """(name as written, its placeholder) for each name replaced."""


class Pseudonyms:
    """<PERSON_1>, <PERSON_2>, ... in order of first mention; one per person in the file.

    A name is the same person as an earlier one when all its words are in the earlier name
    ("Haufiku" after "Martha Haufiku"), or all the earlier name's words are in it.
    """

    def __init__(self):
        self.people: list[set[str]] = []

    def placeholder(self, name: str) -> str:
        words = set(words_of(name))
        for number, person in enumerate(self.people, start=1):
            if words <= person or person <= words:
                person |= words
                return f"<PERSON_{number}>"
        self.people.append(words)
        return f"<PERSON_{len(self.people)}>"


def main(cfg, args) -> int:
    source = Path(args.file)
    if not source.is_file():
        raise UserError(f"{args.file}: file not found; give the path of a .jsonl or .json dataset file.")
    read_records(source, args.file)  # stops with the file and line of invalid JSON before anything is written
    raw = source.read_bytes().decode("utf-8")  # bytes, so Windows line endings and a byte-order mark survive
    names = None if args.keep_names else load_name_finder(cfg.data, cfg.root)
    anonymized, changes = anonymize_json_text(raw, names)
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


def anonymize_json_text(raw: str, names=None) -> tuple[str, list[Change]]:
    """`raw` (the text of a valid JSON or JSONL file) with personal data in string values replaced.

    `names` is a name finder (names.py); without one, names are left as they are.
    """
    values = [  # (match, text) of every string value; keys like "messages" are structure, not content
        (match, json.loads(match.group())) for match in STRING_LITERAL.finditer(raw) if not KEY_FOLLOWS.match(raw, match.end())
    ]
    findings = [find_personal_data(text, names) for _, text in values]
    if names is not None:
        findings = with_later_mentions([text for _, text in values], findings)
    pseudonyms = Pseudonyms()
    pieces, changes = [], []
    copied_up_to = 0  # raw[:copied_up_to] is already in pieces
    line, counted_up_to = 1, 0
    for (match, text), found in zip(values, findings):
        if not found:
            continue
        placeholders = [pseudonyms.placeholder(text[f.start : f.end]) if f.kind == "PERSON" else f.placeholder for f in found]
        line += raw.count("\n", counted_up_to, match.start())
        counted_up_to = match.start()
        replaced_names = [(text[f.start : f.end], shown) for f, shown in zip(found, placeholders) if f.kind == "PERSON"]
        changes.append(Change(line, found, placeholders, replaced_names))
        pieces += [raw[copied_up_to : match.start()], json.dumps(replace_spans(text, found, placeholders), ensure_ascii=False)]
        copied_up_to = match.end()
    pieces.append(raw[copied_up_to:])
    return "".join(pieces), changes


def with_later_mentions(texts: list[str], findings: list[list[Finding]]) -> list[list[Finding]]:
    """Add every mention of a name found anywhere in the file to the texts where the finder missed it
    (a surname alone, a name without a cue in front of it), so each person is replaced everywhere."""
    known = {text[f.start : f.end] for text, found in zip(texts, findings) for f in found if f.kind == "PERSON"}
    if not known:
        return findings
    completed = []
    for text, found in zip(texts, findings):
        taken = [(f.start, f.end) for f in found]
        extra = [Finding("PERSON", *span) for span in also_mentioned(text, known, taken) if span not in taken]
        completed.append(sorted(found + extra, key=lambda finding: finding.start))
    return completed


def replace_spans(text: str, findings: list[Finding], placeholders: list[str]) -> str:
    pieces, position = [], 0
    for finding, placeholder in zip(findings, placeholders):
        pieces += [text[position : finding.start], placeholder]
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)


def print_changes(name: str, target: Path, changes: list[Change]) -> None:
    counts = Counter(finding.kind for change in changes for finding in change.findings)
    if not counts:
        print(f"No personal data found in {name}; wrote an unchanged copy to {target}.")
        return
    summary = ", ".join(f"{count} {kind}" for kind, count in counts.most_common())
    print(f"Replaced {sum(counts.values())} items in {name} ({summary}); wrote {target}.")
    by_line: dict[int, list[str]] = {}
    for change in changes:
        by_line.setdefault(change.line, []).extend(change.placeholders)
    for line, placeholders in list(by_line.items())[:MAX_LISTED]:
        print(f"  {where(name, line)}: {', '.join(placeholders)}")
    if len(by_line) > MAX_LISTED:
        print(f"  ... and {len(by_line) - MAX_LISTED} more lines")
    print_names(name, changes)


def print_names(name: str, changes: list[Change]) -> None:
    """Each name replaced, with its placeholder and lines: the learner confirms these by reading them."""
    lines_of: dict[tuple[str, str], list[int]] = {}
    for change in changes:
        for written, placeholder in change.names:
            lines_of.setdefault((placeholder, written), []).append(change.line)
    if not lines_of:
        return
    print(
        f"Names replaced in {name}: check each one. A public figure named for their public role belongs in "
        "[data] public_names in project.toml (then run this again on the original); --keep-names leaves all names."
    )
    for (placeholder, written), lines in sorted(lines_of.items(), key=lambda item: (int(item[0][0][8:-1]), item[1][0])):
        shown = ", ".join(str(line) for line in dict.fromkeys(lines))
        print(f"  {placeholder} <- {written!r} (line{'s' if len(set(lines)) > 1 else ''} {shown})")
