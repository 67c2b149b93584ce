"""What a correct answer is, and which facts the training data teaches (shared by validate and evaluate).

A *fact* is what a question asks for: the record's short `answer` ("Windhoek"),
compared after `normalise`. Several training records with the same fact are
several *phrasings* of it. A model that has seen a fact in one phrasing stores
it but rarely retrieves it when asked in other words; teaching each fact in
several phrasings is what makes it retrievable (Allen-Zhu & Li, "Physics of
Language Models: Part 3.1, Knowledge Storage and Extraction", 2023).

Two different facts with the same answer (SWAPO founded the struggle, SWAPO
governs) count as one fact here: a simple rule a learner can check by eye.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import defaultdict

from .data import Example
from .similarity import without_invisible

PUNCTUATION = str.maketrans({c: " " for c in string.punctuation + "‘’“”–—"})


def normalise(text: str) -> str:
    """Lower-case, fold compatibility forms (NFKC), drop invisible characters, turn punctuation into spaces, squeeze spaces."""
    text = unicodedata.normalize("NFKC", without_invisible(text)).lower().translate(PUNCTUATION)
    return re.sub(r"\s+", " ", text).strip()


def key_fact(example: Example) -> str | None:
    """The record's short `answer`, if it has one."""
    value = example.meta.get("answer")
    return value if isinstance(value, str) and value.strip() else None


def reference_key(example: Example) -> str:
    """What a correct answer must contain: the record's short `answer`, else the whole reference."""
    return key_fact(example) or example.answer


def is_correct(reply: str, key: str) -> bool:
    """The normalised reply contains the normalised key, as whole words."""
    key = normalise(key)
    return bool(key) and f" {key} " in f" {normalise(reply)} "


def phrasings_by_fact(examples: list[Example]) -> dict[str, list[Example]]:
    """Training examples grouped by their normalised `answer`; examples without one are left out."""
    groups: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        fact = key_fact(example)
        if fact and normalise(fact):
            groups[normalise(fact)].append(example)
    return dict(groups)


def taught_flags(train: list[Example], evaluation: list[Example]) -> list[bool | None]:
    """For each eval example: was its fact taught in training? None where that cannot be told.

    Taught means a training record has the same `answer`; where the training
    records carry no `answer`, that the eval answer's words appear in a training answer.
    An eval record without an `answer` cannot be matched (None).
    """
    taught_facts = set(phrasings_by_fact(train))
    train_answers = [f" {normalise(e.answer)} " for e in train if not key_fact(e)]
    flags: list[bool | None] = []
    for example in evaluation:
        fact = key_fact(example)
        if not fact:
            flags.append(None)
        elif normalise(fact) in taught_facts:
            flags.append(True)
        else:
            flags.append(any(f" {normalise(fact)} " in answer for answer in train_answers))
    return flags


def phrasing_distribution(phrasings_per_fact: list[int]) -> dict[str, int]:
    """How many facts are taught once, twice, and three or more times (from each fact's number of phrasings)."""
    return {
        "facts": len(phrasings_per_fact),
        "taught_once": sum(count == 1 for count in phrasings_per_fact),
        "taught_twice": sum(count == 2 for count in phrasings_per_fact),
        "taught_3_or_more": sum(count >= 3 for count in phrasings_per_fact),
    }
