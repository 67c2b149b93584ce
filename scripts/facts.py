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


# English number words as digits, so that "seven" and "7", "twenty-one" and "21" compare equal in `folded`.
UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
        "seventeen eighteen nineteen".split()  # fmt: skip
TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
LONGEST_RUN = 8  # words of a training `answer` looked for inside others: answers are a few words


def folded(text: str) -> str:
    """`normalise`, then without accents and with English number words as digits: "Lüderitz" -> "luderitz",
    "Twenty-one" -> "21". Forms a person reads as the same answer, which `is_correct` does not (only validate uses this)."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", normalise(text)) if not unicodedata.combining(c))
    words, result = plain.split(), []
    while words:
        word = words.pop(0)
        if word in TENS:
            ones = UNITS.index(words.pop(0)) if words and words[0] in UNITS[1:10] else 0
            result.append(str(20 + 10 * TENS.index(word) + ones))
        else:
            result.append(str(UNITS.index(word)) if word in UNITS else word)
    return " ".join(result)


def taught_in_another_form(train: list[Example], evaluation: list[Example], taught: list[bool | None]) -> list[tuple[str, Example] | None]:
    """For each eval example whose `answer` is taught by no training record (`taught`: `taught_flags` of the same
    lists): a training `answer` that may be the same fact written another way, with its first example; else None.

    Another way: the same after `folded` ("Luderitz" for "Lüderitz", "14" for "fourteen"), or one inside the
    other as whole words ("1990" and "21 March 1990"). `taught_flags` counts none of these as taught, and `is_correct`
    may score a reply that says what training taught as wrong; validate warns, so the learner writes one form.
    """
    whole: dict[str, tuple[str, Example]] = {}  # folded training answer -> (answer as written, first example)
    inside: dict[str, tuple[str, Example]] = {}  # every run of words of a folded training answer -> the same
    for group in phrasings_by_fact(train).values():
        found = (key_fact(group[0]), group[0])
        words = folded(found[0]).split()
        whole.setdefault(" ".join(words), found)
        for start in range(len(words)):
            for end in range(start + 1, min(len(words), start + LONGEST_RUN) + 1):
                inside.setdefault(" ".join(words[start:end]), found)
    return [_same_fact(key_fact(example), whole, inside) if flag is False else None for example, flag in zip(evaluation, taught)]


def _same_fact(fact: str, whole: dict, inside: dict) -> tuple[str, Example] | None:
    """The training answer equal to `fact` once folded, else one containing it, else the longest one it contains."""
    words = folded(fact).split()
    found = whole.get(" ".join(words)) or inside.get(" ".join(words))
    shorter = (" ".join(words[start : start + size]) for size in range(len(words) - 1, 0, -1) for start in range(len(words) - size + 1))
    return found or next((whole[run] for run in shorter if run in whole), None)


def phrasing_distribution(phrasings_per_fact: list[int]) -> dict[str, int]:
    """How many facts are taught once, twice, and three or more times (from each fact's number of phrasings)."""
    return {
        "facts": len(phrasings_per_fact),
        "taught_once": sum(count == 1 for count in phrasings_per_fact),
        "taught_twice": sum(count == 2 for count in phrasings_per_fact),
        "taught_3_or_more": sum(count >= 3 for count in phrasings_per_fact),
    }
