"""Find names of people in a text, minus the public figures the data is allowed to name.

    finder = load_name_finder(cfg.data, cfg.root)   # the one entry point: validate and anonymize use it
    finder.find("Client: Martha Haufiku asked.")     # -> [(8, 22)]: the characters of each name

`[data] names_model` picks the detector: empty (the default) for rules a reader can follow (one to four
capitalised words right after a cue such as "Ms", "my name is" or "Client:"), or a Hugging Face
token-classification model, pinned by `names_model_revision`, plus the rules. Names made only of the
words of one `[data] public_names` entry are left out. Loads the model, if any; writes nothing.
The rules, and why not spaCy or Presidio: docs/design.md, "Personal data and names".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from .errors import UserError

# One word of a name: a capital then lower-case letters; double names ("Nandi-Ndaitwah") and the click
# letters of Khoekhoe names ("!Naruseb", "//Hoebes", "ǃGaroëb") included.
# An apostrophe only inside a word ("Ma'ruf"), so a possessive "Amutenya's" ends the name before it.
NAME_PART = r"[A-ZÀ-Þ][a-zß-ÿ]+(?:['’][a-zß-ÿ]{2,})?"
NAME_WORD = rf"(?:!|ǃ|ǀ|ǁ|ǂ|//|\|\|)?{NAME_PART}(?:-{NAME_PART})*"
PARTICLE = r"(?:van|von|der|de|du|da|le|la|den|ter)"  # "Hendrik van Wyk"
FULL_NAME = rf"{NAME_WORD}(?:[ \t]+(?:{PARTICLE}[ \t]+)*{NAME_WORD}){{0,3}}"

HONORIFICS = r"Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Meme|Tate|Sister|Nurse|Pastor|Rev|Reverend|Adv|Advocate|Sir|Madam|Mevrou|Meneer"
FIELD_LABELS = (
    r"client|customer|patient|name|full name|surname|first name|learner|student|pupil|contact|contact person|parent|"
    r"guardian|teacher|employee|applicant|member|caller|attn|attention|next of kin|mother|father|beneficiary|"
    r"account holder|tenant|driver|signed"
)
CUES = [
    rf"\b(?:{HONORIFICS})\.?[ \t]+",  # Ms. Loide Kambonde, Meme Ndapewa
    r"(?i:\bmy name is|\bmy name's|\bi am|\bi'm|\bcall me)[ \t]+",  # I am Tjiuai Muharukua
    rf"(?im:(?:^|\b)(?:{FIELD_LABELS})[ \t]*:[ \t]*)",  # Client: Martha Haufiku
    r"\b(?:Dear|[Cc]ontact|[Aa]sk for|[Ss]peak to|[Rr]egards,)[ \t]+",  # Dear Martha, contact Petrus Shilongo
]
NAME_AFTER_CUE = re.compile(rf"(?:{'|'.join(CUES)})(?P<name>{FULL_NAME})")

# Capitalised words that follow the same cues without being a name ("I am Namibian", "contact Bank Windhoek").
NOT_NAME_WORDS = {
    "namibian", "herero", "ovaherero", "ovambo", "owambo", "oshiwambo", "nama", "damara", "san", "himba", "kavango",
    "lozi", "tswana", "german", "english", "afrikaans", "african", "south", "angolan", "zambian", "christian",
    "catholic", "lutheran", "muslim", "sorry", "not", "here", "fine", "good", "happy", "glad", "sure", "back",
    "the", "a", "an", "bank", "ministry", "office", "hospital", "clinic", "school", "university", "police",
    "namibia", "windhoek", "municipality", "council", "company", "ltd", "pty", "trust", "fund", "resorts",
    "agency", "authority", "services", "centre", "center", "department", "team", "support", "sales", "us",
    "park", "national", "river", "desert", "canyon", "region", "lodge", "hotel", "museum", "church", "airport",
    "street", "road", "avenue", "drive", "mountain", "dam", "mine", "farm", "village", "town", "city",
    "sir", "madam", "customer", "colleague", "colleagues", "all", "friends", "parents", "students", "members",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today", "please", "yes", "no",
}  # fmt: skip

# Labels that mean "a person" in common NER and PII models (CoNLL's PER, OntoNotes' PERSON, PII models' name parts).
PERSON_LABELS = {"PER", "PERSON", "NAME", "NAME_STUDENT", "FIRSTNAME", "LASTNAME", "MIDDLENAME", "GIVENNAME", "SURNAME", "FULLNAME", "USERNAME_PERSON"}

RULES_DESCRIPTION = (
    'rules: a capitalised name after an honorific (Mr, Ms, Dr, Meme, Tate, ...), "my name is", "I am", '
    'a labelled field (Client:, Patient:, Name:, ...), "Dear" or "contact"'
)
RULES_CANNOT_SEE = (
    'names with none of these cues in front of them (such as "Martha asked about her loan"), names written '
    "in lower case, and names a cue puts a nationality or organisation word into"
)
MODEL_CANNOT_SEE = "names the model does not label as a person; no model finds every name"


def words_of(name: str) -> list[str]:
    return [word.lower() for word in re.findall(r"[\w'’!|/ǃǀǁǂ-]+", name)]


@dataclass
class RuleNameFinder:
    """Names found by the cues above; `public_names` are left out."""

    public_names: tuple[str, ...] = ()

    detector = RULES_DESCRIPTION
    cannot_see = RULES_CANNOT_SEE

    def find(self, text: str) -> list[tuple[int, int]]:
        spans = [span for span in self.cued_names(text) if not self.is_public(text[span[0] : span[1]])]
        return repeat_mentions(text, spans)

    def cued_names(self, text: str) -> list[tuple[int, int]]:
        spans = []
        for match in NAME_AFTER_CUE.finditer(text):
            start, end = match.span("name")
            if not any(word in NOT_NAME_WORDS for word in words_of(match["name"])):
                spans.append((start, end))
        return spans

    @cached_property
    def _public_word_sets(self) -> list[set[str]]:
        return [set(words_of(name)) for name in self.public_names]

    def is_public(self, name: str) -> bool:
        """True when every word of `name` belongs to one listed public figure ("Nujoma" of "Sam Nujoma")."""
        words = set(words_of(name))
        return any(words <= public for public in self._public_word_sets)


def repeat_mentions(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`spans`, plus every other place in `text` where one of those names, or a word of one, appears again."""
    return also_mentioned(text, {text[start:end] for start, end in spans}, spans)


def also_mentioned(text: str, names: set[str], spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`spans`, plus each place in `text` (outside them) where one of `names`, or a word of one, appears."""
    words = {word for name in names for word in name.split() if len(word) > 2 and not re.fullmatch(PARTICLE, word)}
    found = list(spans)
    for candidate in sorted(names | words, key=len, reverse=True):  # the full name before its words
        for match in re.finditer(rf"(?<![\w!|/]){re.escape(candidate)}(?!\w)", text):
            if not any(match.start() < end and start < match.end() for start, end in found):
                found.append(match.span())
    return sorted(found)


@dataclass
class ModelNameFinder(RuleNameFinder):
    """Names a Hugging Face token-classification model labels as a person, plus the rules' names."""

    model: str = ""
    revision: str = ""

    cannot_see = MODEL_CANNOT_SEE

    @property
    def detector(self) -> str:
        return model_description(self.model, self.revision)

    @cached_property
    def pipeline(self):
        from transformers import pipeline

        return pipeline(
            "token-classification", model=self.model, revision=self.revision or None, aggregation_strategy="simple", device="cpu"
        )

    def find(self, text: str) -> list[tuple[int, int]]:
        model_spans = merge_adjacent(text, [
            (entity["start"], entity["end"]) for entity in self.pipeline(text)
            if entity["entity_group"].upper().removeprefix("B-").removeprefix("I-") in PERSON_LABELS
        ])  # fmt: skip
        spans = [span for span in self.cued_names(text) + model_spans if not self.is_public(text[span[0] : span[1]])]
        return repeat_mentions(text, without_overlaps(spans))


def merge_adjacent(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A first and a last name the model labels separately become one name; spaces around a name are trimmed."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if merged and not text[merged[-1][1] : start].strip():
            merged[-1] = (merged[-1][0], end)
        elif start < end:
            merged.append((start, end))
    return merged


def without_overlaps(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Of overlapping spans, the longest (and then the earliest) wins."""
    kept: list[tuple[int, int]] = []
    for start, end in sorted(spans, key=lambda span: (span[0] - span[1], span[0])):
        if not any(start < other_end and other_start < end for other_start, other_end in kept):
            kept.append((start, end))
    return sorted(kept)


def model_description(model: str, revision: str) -> str:
    pinned = f" at revision {revision}" if revision else ""
    return f"the named-entity model {model}{pinned}, plus the {RULES_DESCRIPTION}"


def name_detector_summary(data_settings) -> dict:
    """Which name detector `[data]` selects and what it cannot see, without loading a model (for reports)."""
    model = data_settings.names_model.strip()
    if not model:
        return {"detector": RULES_DESCRIPTION, "cannot_see": RULES_CANNOT_SEE}
    return {"detector": model_description(model, data_settings.names_model_revision.strip()), "cannot_see": MODEL_CANNOT_SEE}


def load_name_finder(data_settings, root=None) -> RuleNameFinder:
    """The name finder `[data]` asks for: the model named by names_model, or the rules when it is empty.

    `root` is the folder of project.toml, against which a local model folder is resolved.
    """
    public = tuple(data_settings.public_names)
    model = data_settings.names_model.strip()
    if not model:
        return RuleNameFinder(public)
    local = (root / model) if root is not None and not model.startswith("/") else None
    where = str(local) if local is not None and local.is_dir() else model
    finder = ModelNameFinder(public, model=where, revision=data_settings.names_model_revision.strip())
    try:
        finder.pipeline  # load now, so a model that cannot be loaded stops the step before it writes anything
    except Exception as error:  # transformers raises OSError, ValueError, ... for a missing or wrong model
        raise UserError(
            f"project.toml [data] names_model: cannot load the name model {model!r} ({type(error).__name__}: "
            f"{str(error).splitlines()[0] if str(error) else 'no details'}); give a folder with a Hugging Face "
            'token-classification model, or write names_model = "" to use the rules.'
        ) from None
    return finder
