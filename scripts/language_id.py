"""Guess the language of many texts at once with py3langid (about 130 languages, works offline), and with
lingua for the declared languages py3langid cannot see (Setswana, Xitsonga) when lingua is installed.

    detector = LanguageDetector(declared=["en", "tn"])
    detector.detect_all(["Where is Windhoek?", "Waar is Windhoek?"])   # -> ["en", "af"] (or None: unsure)
    detector.identifier_for("tn")   # -> "lingua" ("py3langid", or None: nothing here can detect it)

py3langid reads a text byte by byte through a state machine in Python, then
scores the features it met with numpy: about 0.3 ms a text, half a minute for
100k examples. `detect_all` walks all texts' state machines together, one byte
position at a time, and scores them together, about 20 times faster. Its sums
are added in another order than py3langid's, so a probability may differ in
its last digits: where that could change the answer (a confidence within
`BORDER` of the cut-off), py3langid's own `classify` decides, so every answer
is the one py3langid gives.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

LANGUAGE_CONFIDENCE = 0.8  # below this the language guess is too unsure to warn about
LANGUAGE_SAMPLE = 200  # characters: enough to tell the language, and long examples stay fast
BORDER = 0.01  # confidences this close to the cut-off are decided by py3langid itself, one text at a time
TEXTS_PER_CHUNK = 512  # texts scored together: about 20 MB of numbers at a time


# Names for the codes learners meet most, to say "German (de)" in the report rather than a bare code.
LANGUAGE_NAMES = {
    "en": "English", "af": "Afrikaans", "de": "German", "nl": "Dutch", "fr": "French", "pt": "Portuguese",
    "es": "Spanish", "it": "Italian", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "ru": "Russian",
    "ar": "Arabic", "hi": "Hindi", "sw": "Swahili", "zu": "Zulu", "xh": "Xhosa", "st": "Sotho", "tn": "Tswana",
    "la": "Latin",
}  # fmt: skip


def code_for(written: str) -> str | None:
    """The ISO 639 code a learner meant by "EN", "en-US", "en_GB", "English" or "Herero"; None when it is not clear."""
    by_name = {name.lower(): code for code, name in LANGUAGE_NAMES.items()}
    if written.strip().lower() in by_name:
        return by_name[written.strip().lower()]
    first = written.replace("_", "-").split("-")[0].strip().lower()
    if first.isalpha() and 2 <= len(first) <= 3 and iso_639_language(first):
        return first
    return code_named(written.strip())


def code_named(name: str) -> str | None:
    """The shortest ISO 639 code of the language with this English name ("Herero" -> "hz"); None if none has it."""
    import pycountry

    try:
        entry = pycountry.languages.lookup(name)
    except LookupError:
        return None
    return getattr(entry, "alpha_2", None) or entry.alpha_3


def iso_639_language(code: str):
    """pycountry's entry for an ISO 639-1, 639-2 (B or T), 639-3 or 639-5 (language family) code; None if it is none."""
    import pycountry

    if len(code) == 2:
        return pycountry.languages.get(alpha_2=code)
    return (
        pycountry.languages.get(alpha_3=code)  # 639-3, which holds 639-2/T
        or pycountry.languages.get(bibliographic=code)  # 639-2/B: "ger", "fre"
        or pycountry.language_families.get(alpha_3=code)  # 639-5: the 639-2 collective codes such as "bnt" (Bantu)
    )


def name_of(code: str) -> str | None:
    """ "German" for "de" (the names above first, then ISO 639's); None for a code that is not ISO 639."""
    entry = LANGUAGE_NAMES.get(code) or iso_639_language(code)
    return entry if isinstance(entry, str) or entry is None else entry.name


class LanguageDetector:
    """py3langid's identifier, with probabilities normalised so that the confidence is between 0 and 1, and lingua
    for the `declared` languages py3langid does not know."""

    def __init__(self, declared: Iterable[str] = ()):
        import numpy as np
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self.identifier = identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self.known = set(identifier.nb_classes)
        self.declared = list(declared)
        self.lingua_only = lingua_languages(code for code in self.declared if code not in self.known)
        self.next_state = np.frombuffer(identifier.tk_nextmove, dtype=np.dtype(identifier.tk_nextmove.typecode))
        self.row_start = np.array(identifier.tk_row, dtype=np.int64) << 8  # a state's row: 256 next states, one per byte
        self.feature_of_state = np.array(identifier.tk_output, dtype=np.int64)  # -1: no feature
        self.feature_scores = None  # float32 copy of the model's float16 table, made on first use (57 MB)

    def detect(self, text: str) -> str | None:
        """An ISO 639-1 code, or None when the guess is unsure (short texts often are)."""
        language, confidence = self.identifier.classify(text[:LANGUAGE_SAMPLE])
        return language if confidence >= LANGUAGE_CONFIDENCE else None

    def identifier_for(self, code: str) -> str | None:
        """Which identifier can tell this language: "py3langid", "lingua", or None (a fluent reader must check)."""
        if code in self.known:
            return "py3langid"
        return "lingua" if code in self.lingua_only else None

    def detect_all(self, texts: list[str]) -> list[str | None]:
        """`detect` of every text, computed together; then lingua's answer where it finds a language only it can see."""
        found = []
        for first in range(0, len(texts), TEXTS_PER_CHUNK):
            found += self._detect_chunk(texts[first : first + TEXTS_PER_CHUNK])
        if self.lingua_only:
            self._ask_lingua(texts, found)
        return found

    def _ask_lingua(self, texts: list[str], found: list[str | None]) -> None:
        """Replace py3langid's answer by a lingua-only declared language where lingua is sure of it.

        Only texts py3langid did not place in a declared language are asked (py3langid calls Setswana
        Northern Sotho, "nso"). lingua picks among the languages it was built for, and loading all 75 is
        slow, so it is built for the declared languages, English, and every language py3langid guessed for
        these texts: a German text then stays German instead of becoming the closest declared language.
        """
        from lingua import LanguageDetectorBuilder

        asked = [number for number, code in enumerate(found) if code not in self.declared]
        if not asked:
            return
        candidates = lingua_languages([*self.declared, "en", *(found[number] for number in asked if found[number])])
        code_of = {language: code for code, language in reversed(candidates.items())}  # the declared spelling first
        lingua = LanguageDetectorBuilder.from_languages(*set(candidates.values())).build()
        answers = lingua.compute_language_confidence_values_in_parallel([texts[number][:LANGUAGE_SAMPLE] for number in asked])
        for number, confidences in zip(asked, answers):
            best = confidences[0]
            code = code_of[best.language]
            if code in self.lingua_only and best.value >= LANGUAGE_CONFIDENCE:
                found[number] = code

    def _detect_chunk(self, texts: list[str]) -> list[str | None]:
        import numpy as np

        encoded = [encode(text[:LANGUAGE_SAMPLE]) for text in texts]
        rows, features = self._features(encoded)
        probabilities = self._probabilities(rows, features, encoded)
        best = probabilities.argmax(axis=1)
        confidence = probabilities[np.arange(len(texts)), best]
        found = []
        for number, text in enumerate(texts):
            if abs(confidence[number] - LANGUAGE_CONFIDENCE) < BORDER:
                found.append(self.detect(text))  # too close to call with other rounding: py3langid's own answer
            elif confidence[number] >= LANGUAGE_CONFIDENCE:
                found.append(self.identifier.nb_classes[best[number]])
            else:
                found.append(None)
        return found

    def _features(self, encoded: list[bytes]):
        """(text number, feature) for every feature the state machine meets, walking all texts at once."""
        import numpy as np

        lengths = np.array([len(text) for text in encoded], dtype=np.int64)
        order = np.argsort(-lengths, kind="stable")  # longest first: the texts still walking are always the first rows
        width = int(lengths.max()) if len(encoded) else 0
        padded = np.zeros((len(encoded), width), dtype=np.int64)
        for row, number in enumerate(order):
            padded[row, : lengths[number]] = np.frombuffer(encoded[number], dtype=np.uint8)
        walking = np.searchsorted(-lengths[order], -np.arange(width), side="left")  # per position: texts longer than it
        state = np.zeros(len(encoded), dtype=np.int64)
        rows, features = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for position, count in enumerate(walking):
            state[:count] = self.next_state[self.row_start[state[:count]] + padded[:count, position]]
            feature = self.feature_of_state[state[:count]]
            met = np.flatnonzero(feature >= 0)
            rows.append(order[met])
            features.append(feature[met])
        return np.concatenate(rows), np.concatenate(features)

    def _probabilities(self, rows, features, encoded: list[bytes]):
        """Each text's probability per language, as py3langid computes them (with other rounding)."""
        import numpy as np
        from scipy.sparse import csr_matrix

        identifier = self.identifier
        if self.feature_scores is None:
            self.feature_scores = identifier.nb_ptc.astype(np.float32)
        # One row per text, one column per feature: log(1 + how often the text met it), py3langid's weighting.
        met = csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, features)), shape=(len(encoded), len(self.feature_scores)))
        met.sum_duplicates()
        np.log1p(met.data, out=met.data)
        scores = np.asarray(met @ self.feature_scores, dtype=np.float32)
        has_features = np.diff(met.indptr) > 0
        scores[has_features] += identifier.nb_pc  # no features: all zero, as py3langid leaves it (every language equal)
        scores *= (1.0 / np.sqrt(np.maximum([len(text) for text in encoded], 1))).astype(np.float32)[:, None]
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        scores /= scores.sum(axis=1, keepdims=True)
        for first, duplicate in identifier._alias_pairs:  # one language under two labels (srl -> sr): fold into the first
            scores[:, first] += scores[:, duplicate]
            scores[:, duplicate] = 0.0
        return scores


def lingua_languages(codes: Iterable[str]) -> dict:
    """{code: lingua Language} for the ISO 639-1 or 639-3 codes lingua knows; empty when lingua is not installed."""
    codes = list(codes)
    if not codes:
        return {}  # every declared language is py3langid's: lingua is not even imported
    try:
        from lingua import IsoCode639_1, IsoCode639_3, Language
    except ImportError:  # it is optional: requirements-dev.txt (make setup) installs it, Colab does not
        return {}
    languages = {}
    for code in codes:
        try:
            if len(code) == 2:
                languages[code] = Language.from_iso_code_639_1(IsoCode639_1.from_str(code))
            else:
                languages[code] = Language.from_iso_code_639_3(IsoCode639_3.from_str(code))
        except ValueError:  # a language lingua has no model for
            pass
    return languages


def encode(text: str) -> bytes:
    """The bytes py3langid reads: all-capital text in lower case, NFC, UTF-8 (as its `_encode`)."""
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf8", errors="surrogatepass")
