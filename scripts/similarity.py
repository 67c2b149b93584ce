"""How alike two texts are: shared by validate (duplicates, train/eval leakage) and augment
(filtering proposed phrasings, refusing accepted ones that copy a training question).

Texts are first reduced with `comparable` (lower case, no punctuation), then compared by
the share of their character 3-grams they have in common (Jaccard similarity): 1.0 for the
same text, about 0.8 for a one-word change in a short question, under 0.5 for a real rewording.
"""

from __future__ import annotations

import re
import unicodedata

NOT_A_WORD = re.compile(r"[^\w\s]")
# Characters that show as nothing (Unicode's "format" characters): zero-width space and joiners, soft hyphen,
# word joiner, byte-order mark, direction marks. Text copied from a web page or a chat window often carries them,
# and "Nami\u200bbia" must compare as "Namibia", not as the two words "nami bia".
INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")


def without_invisible(text: str) -> str:
    return INVISIBLE.sub("", text)


def comparable(text: str) -> str:
    """Text reduced to what matters for spotting copies: lower case, no punctuation, no invisible characters, single spaces."""
    text = unicodedata.normalize("NFKC", without_invisible(text)).lower()
    return " ".join(NOT_A_WORD.sub(" ", text).split())


class SimilarityIndex:
    """Finds earlier texts that share at least `threshold` of their character 3-grams (Jaccard similarity).

    Comparing every pair grows with the square of the number of examples, so a
    MinHash LSH index proposes likely pairs and only those are compared exactly.
    It proposes pairs a little below the threshold too, so that pairs just above
    it are not missed.

    The MinHash values are datasketch's own (its permutations, its "affine32"
    scheme, crc32 of each 3-gram), but computed for many texts at once with numpy:
    one datasketch MinHash per text took most of validate's time on 100k examples.
    The bands are datasketch's MinHashLSH's; tests check both against datasketch.
    """

    PERMUTATIONS = 64  # enough to propose candidates; each one is then checked exactly

    def __init__(self, threshold: float):
        from datasketch import MinHash, MinHashLSH

        self.threshold = threshold
        self.multipliers, self.offsets = MinHash(self.PERMUTATIONS, scheme="affine32").permutations
        lsh = MinHashLSH(threshold=min(1.0, max(0.1, threshold - 0.1)), num_perm=self.PERMUTATIONS)
        self.bands = [(start * 4, end * 4) for start, end in lsh.hashranges]  # byte ranges of a sketch's 4-byte values
        self.buckets: list[dict[bytes, list[int]]] = [{} for _ in self.bands]
        self.entries: list[tuple[str, object]] = []

    def add(self, text: str, item) -> None:
        self._add(text, item, sketches([text], self)[0])

    def add_all(self, texts: list[str], items: list) -> None:
        for text, item, sketch in zip(texts, items, sketches(texts, self)):
            self._add(text, item, sketch)

    def best_match(self, text: str):
        """(item, similarity) of the most similar text added so far, if at or above the threshold; else None."""
        return self._best(text, sketches([text], self)[0])

    def best_matches(self, texts: list[str]) -> list:
        """`best_match` of each text; the MinHashes of all of them are computed at once."""
        return [self._best(text, sketch) for text, sketch in zip(texts, sketches(texts, self))]

    def best_matches_then_add(self, texts: list[str], items: list) -> list:
        """For each text in order: its best match among everything added before it, then add it."""
        matches = []
        for text, item, sketch in zip(texts, items, sketches(texts, self)):
            matches.append(self._best(text, sketch))
            self._add(text, item, sketch)
        return matches

    def _add(self, text: str, item, sketch: bytes | None) -> None:
        if sketch is None:  # under 3 characters: nothing to compare
            return
        number = len(self.entries)
        for (start, end), bucket in zip(self.bands, self.buckets):
            bucket.setdefault(sketch[start:end], []).append(number)
        self.entries.append((text, item))

    def _best(self, text: str, sketch: bytes | None):
        if sketch is None:
            return None
        candidates = set()
        for (start, end), bucket in zip(self.bands, self.buckets):
            candidates.update(bucket.get(sketch[start:end], ()))
        best, grams = None, None
        for number in sorted(candidates):
            other_text, item = self.entries[number]
            if other_text == text:
                similarity = 1.0
            else:
                grams = grams or trigrams(text)
                similarity = jaccard(grams, trigrams(other_text))
            if similarity >= self.threshold and (best is None or similarity > best[1]):
                best = (item, similarity)
        return best


TEXTS_PER_CHUNK = 64  # texts whose 3-grams are hashed together: a few MB of numbers, which stays in the CPU cache


def sketches(texts: list[str], index: SimilarityIndex) -> list[bytes | None]:
    """Each text's 64 MinHash values as bytes (None for texts under 3 characters).

    Equal to `datasketch.MinHash(64, hashfunc=zlib.crc32, scheme="affine32")` updated with the text's
    3-grams, the way this module used it one text at a time.
    """
    found: list[bytes | None] = []
    for first in range(0, len(texts), TEXTS_PER_CHUNK):
        chunk = texts[first : first + TEXTS_PER_CHUNK]
        values, has_grams = _minhash_values(chunk, index.multipliers, index.offsets)
        found += [row.tobytes() if usable else None for row, usable in zip(values, has_grams)]
    return found


def _minhash_values(texts: list[str], multipliers, offsets):
    """(MinHash values per text, whether each text has a 3-gram) for a chunk of texts."""
    import numpy as np

    encoded = [text.encode("utf-32-le") for text in texts]  # 4 bytes per character, as `trigrams` slices them
    characters = np.frombuffer(b"".join(encoded), dtype="<u4")
    lengths = np.array([len(code) // 4 for code in encoded], dtype=np.int64)
    grams = np.maximum(lengths - 2, 0)  # a text of n characters has n - 2 3-grams
    text_start = np.cumsum(lengths) - lengths
    owner = np.repeat(np.arange(len(texts)), grams)  # the text each 3-gram belongs to
    first_gram = np.cumsum(grams) - grams
    positions = text_start[owner] + np.arange(int(grams.sum())) - first_gram[owner]
    hashes = _fmix32(_crc32_of_trigrams(characters, positions))
    values = np.full((len(texts), len(multipliers)), np.iinfo(np.uint32).max, dtype=np.uint32)
    has_grams = grams > 0
    if has_grams.any():
        permuted = hashes[:, None] * multipliers + offsets  # uint32: wraps around, datasketch's "mod 2^32"
        values[has_grams] = np.minimum.reduceat(permuted, first_gram[has_grams], axis=0)
    return values, has_grams


def _crc_table():
    import numpy as np

    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ np.uint32(0xEDB88320), table >> 1).astype(np.uint32)
    return table


def _crc32_of_trigrams(characters, positions):
    """zlib.crc32 of each 3-gram's 12 UTF-32 bytes, for all 3-grams at once (the table-driven CRC, byte by byte)."""
    import numpy as np

    table = _crc_table()
    crc = np.full(len(positions), 0xFFFFFFFF, dtype=np.uint32)
    for offset in range(3):
        character = characters[positions + offset]
        for shift in (0, 8, 16, 24):  # little-endian: lowest byte first
            byte = (character >> np.uint32(shift)) & np.uint32(0xFF)
            crc = table[(crc ^ byte) & np.uint32(0xFF)] ^ (crc >> np.uint32(8))
    return crc ^ np.uint32(0xFFFFFFFF)


def _fmix32(values):
    """MurmurHash3's 32-bit finalizer: datasketch mixes every input hash with it before the permutations."""
    import numpy as np

    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


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
