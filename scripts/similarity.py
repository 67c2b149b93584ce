"""How alike two texts are: shared by validate (duplicates, train/eval leakage) and augment
(filtering proposed phrasings, refusing accepted ones that copy a training question).

Texts are first reduced with `comparable` (lower case, no punctuation), then compared by
the share of their character 3-grams they have in common (Jaccard similarity): 1.0 for the
same text, about 0.8 for a one-word change in a short question, under 0.5 for a real rewording.
"""

from __future__ import annotations

import re
import unicodedata
import zlib

NOT_A_WORD = re.compile(r"[^\w\s]")


def comparable(text: str) -> str:
    """Text reduced to what matters for spotting copies: lower case, no punctuation, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(NOT_A_WORD.sub(" ", text).split())


class SimilarityIndex:
    """Finds earlier texts that share at least `threshold` of their character 3-grams (Jaccard similarity).

    Comparing every pair grows with the square of the number of examples, so a
    MinHash LSH index (the datasketch package) proposes likely pairs and only
    those are compared exactly. It proposes pairs a little below the threshold
    too, so that pairs just above it are not missed.
    """

    PERMUTATIONS = 64  # enough to propose candidates; each one is then checked exactly

    def __init__(self, threshold: float):
        from datasketch import MinHash, MinHashLSH

        self.threshold = threshold
        # One set of random permutations for every text: drawing new ones each time is slow.
        self.permutations = MinHash(self.PERMUTATIONS, scheme="affine32").permutations
        self.lsh = MinHashLSH(threshold=min(1.0, max(0.1, threshold - 0.1)), num_perm=self.PERMUTATIONS)
        self.entries: list[tuple[str, object]] = []

    def add(self, text: str, item) -> None:
        self._add(text, item, self._sketch(text))

    def best_match(self, text: str):
        """(item, similarity) of the most similar text added so far, if at or above the threshold; else None."""
        return self._best(text, self._sketch(text))

    def best_match_then_add(self, text: str, item):
        sketch = self._sketch(text)
        match = self._best(text, sketch)
        self._add(text, item, sketch)
        return match

    def _sketch(self, text: str):
        """The text's 3-grams and their MinHash (None for texts under 3 characters)."""
        from datasketch import MinHash

        grams = trigrams(text)
        if not grams:
            return None
        # crc32: fast, and the same on every run (Python's own hash() changes between runs).
        minhash = MinHash(self.PERMUTATIONS, hashfunc=zlib.crc32, permutations=self.permutations, scheme="affine32")
        minhash.update_batch(grams)
        return grams, minhash

    def _add(self, text: str, item, sketch) -> None:
        if sketch is not None:
            self.lsh.insert(len(self.entries), sketch[1])
            self.entries.append((text, item))

    def _best(self, text: str, sketch):
        if sketch is None:
            return None
        grams, minhash = sketch
        best = None
        for key in sorted(self.lsh.query(minhash)):
            other_text, item = self.entries[key]
            similarity = 1.0 if other_text == text else jaccard(grams, trigrams(other_text))
            if similarity >= self.threshold and (best is None or similarity > best[1]):
                best = (item, similarity)
        return best


def trigrams(text: str) -> set[bytes]:
    """Every run of 3 characters in the text, as bytes that zlib.crc32 can hash directly.

    In UTF-32 every character takes 4 bytes, so each 12-byte slice is 3 characters.
    """
    encoded = text.encode("utf-32-le")
    return {encoded[start : start + 12] for start in range(0, len(encoded) - 8, 4)}


def jaccard(first: set, second: set) -> float:
    return len(first & second) / len(first | second)


def similarity(first: str, second: str) -> float:
    """Jaccard similarity of two texts' 3-grams after `comparable`; 1.0 for texts that compare equal."""
    first, second = comparable(first), comparable(second)
    if first == second:
        return 1.0
    first_grams, second_grams = trigrams(first), trigrams(second)
    if not first_grams or not second_grams:
        return 0.0
    return jaccard(first_grams, second_grams)
