"""The privacy scan as it was before issue 17 (scripts/privacy.py at commit 5e2f083), frozen as the
baseline bench/pii_scan.py compares against. Not used by the pipeline; do not edit.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import date

from phonenumbers import Leniency, PhoneNumberMatcher

PLACEHOLDERS = {
    "EMAIL": "<EMAIL>",
    "PHONE": "<PHONE>",
    "ID_NUMBER": "<ID_NUMBER>",
    "CARD_NUMBER": "<CARD_NUMBER>",
    "IP_ADDRESS": "<IP_ADDRESS>",
    "SECRET": "<SECRET>",
}

# What each kind is called in reports: (one, several).
DESCRIPTIONS = {
    "EMAIL": ("an e-mail address", "e-mail addresses"),
    "PHONE": ("a phone number", "phone numbers"),
    "ID_NUMBER": ("a national ID number", "national ID numbers"),
    "CARD_NUMBER": ("a payment card number", "payment card numbers"),
    "IP_ADDRESS": ("an IP address", "IP addresses"),
    "SECRET": ("a secret key or token", "secret keys or tokens"),
}


SCAN_COVERS = ", ".join(several for _, several in list(DESCRIPTIONS.values())[:-1]) + " and " + DESCRIPTIONS["SECRET"][1]
NAMES_NOT_DETECTED = (
    "The automatic scan does not detect names of people. Read every example yourself and replace the names "
    "of private people (anyone not named for a public role) with a made-up name or <NAME>."
)


@dataclass(frozen=True)
class Finding:
    """One piece of personal data or one secret found in a text."""

    kind: str
    """One of the keys of PLACEHOLDERS, e.g. "EMAIL"."""
    start: int
    """Index of the first character in the text."""
    end: int
    """Index just after the last character (text[start:end] is the finding)."""

    @property
    def placeholder(self) -> str:
        return PLACEHOLDERS[self.kind]


# ---------------------------------------------------------------- secrets

SECRET_PATTERNS = [
    re.compile(r"\bhf_[A-Za-z0-9]{30,}"),  # Hugging Face access token
    re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"),  # OpenAI (and Anthropic) API key
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}"),  # GitHub token
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}"),  # GitHub fine-grained token
]
# `api_key = "abc123..."`, `password: xyz42...`: only the value is the secret, so only it is replaced.
# The value needs 8+ characters with a digit (so "password: remember" is prose, not a secret)
# and no < or >, so a placeholder such as api_key=<SECRET> is not found again.
SECRET_ASSIGNMENT = re.compile(
    r"""(?i)\b(?:api[_-]?key|access[_-]?key|secret(?:[_-]?key)?|auth[_-]?token|access[_-]?token|password|passwd)"""
    r"""["']?\s*[:=]\s*["']?(?P<value>(?=[^\s"'<>,;]*\d)[^\s"'<>,;]{8,})"""
)


def _secrets(text: str):
    for pattern in SECRET_PATTERNS:
        for match in pattern.finditer(text):
            yield Finding("SECRET", match.start(), match.end())
    for match in SECRET_ASSIGNMENT.finditer(text):
        yield Finding("SECRET", match.start("value"), match.end("value"))


# ---------------------------------------------------------------- e-mail

EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")


def _emails(text: str):
    for match in EMAIL.finditer(text):
        yield Finding("EMAIL", match.start(), match.end())


# ---------------------------------------------------------------- card numbers

# 13-19 digits starting with 2-6, the first digit of every payment card network
# (Visa 4, Mastercard 2/5, Amex 3, Discover 6), written together or in groups of
# 3 or more digits separated by single spaces or dashes (4111 1111 1111 1111,
# 3782-822463-10005). The separator is required between groups, so a long run of
# digits can be split into groups only one way and the search stays fast.
CARD = re.compile(r"(?<![\d-])[2-6]\d{2,}(?:[ -]\d{3,}){0,5}(?![\d-])")


def _luhn_valid(digits: str) -> bool:
    """The checksum every payment card number satisfies (ISO/IEC 7812)."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _cards(text: str):
    for match in CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _luhn_valid(digits):
            yield Finding("CARD_NUMBER", match.start(), match.end())


# ---------------------------------------------------------------- Namibian ID numbers

NAMIBIAN_ID = re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})\d{5}(?!\d)")


def _is_birth_date(year: str, month: str, day: str) -> bool:
    """True when YYMMDD is a real date in the 1900s or 2000s (29 February included)."""
    for century in (1900, 2000):
        try:
            date(century + int(year), int(month), int(day))
            return True
        except ValueError:
            continue
    return False


def _id_numbers(text: str):
    for match in NAMIBIAN_ID.finditer(text):
        if _is_birth_date(*match.groups()):
            yield Finding("ID_NUMBER", match.start(), match.end())


# ---------------------------------------------------------------- phone numbers

# Namibian area codes 061-067 (landlines) and 081-085 (mobiles), with 0, +264 or (+264)
# in front: catches the six-digit landlines ("061-123456") that phonenumbers rejects.
NAMIBIAN_PHONE = re.compile(r"(?<![\w+])(?:\(?\+?264\)?[ -]?|0)(?:6[1-7]|8[1-5])[ -]?\d{3}[ -]?\d{3,4}(?!\d)")
# phonenumbers needs at least this many digits in a row (with separators) to find a number;
# texts without such a run skip it, which keeps validate fast on large files.
DIGIT_RUN = re.compile(r"\d(?:[\s().+-]{0,3}\d){6,}")


def _phones(text: str):
    for match in NAMIBIAN_PHONE.finditer(text):
        yield Finding("PHONE", match.start(), match.end())
    if not DIGIT_RUN.search(text):
        return
    # "NA" (Namibia) is the region assumed for numbers written without a +country code.
    for match in PhoneNumberMatcher(text, "NA", leniency=Leniency.VALID):
        yield Finding("PHONE", match.start, match.end)


# ---------------------------------------------------------------- IP addresses

IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%\w+)?(?![\w:])")


def _ip_addresses(text: str):
    for pattern in (IPV4, IPV6):
        for match in pattern.finditer(text):
            candidate = match.group()
            groups = [group for group in re.split(r"[.:]", candidate) if group]
            if len(groups) < 3:  # "::" or "a::b" are valid addresses but far more often something else
                continue
            try:
                ipaddress.ip_address(candidate)
            except ValueError:  # an octet above 255, a time like 12:30:45, ...
                continue
            yield Finding("IP_ADDRESS", match.start(), match.end())


# ---------------------------------------------------------------- all together

# When two findings overlap, the one from the earlier detector wins: a secret or
# e-mail address may contain digits that look like a phone number, and an ID or
# card number is checked more strictly than a phone number.
DETECTORS = (_secrets, _emails, _cards, _id_numbers, _ip_addresses, _phones)


def find_personal_data(text: str) -> list[Finding]:
    """Every finding in `text`, sorted by position, without overlaps."""
    if not text:
        return []
    kept: list[Finding] = []
    for detector in DETECTORS:
        for finding in detector(text):
            if not any(finding.start < other.end and other.start < finding.end for other in kept):
                kept.append(finding)
    return sorted(kept, key=lambda finding: finding.start)


def redact(text: str) -> tuple[str, list[Finding]]:
    """`text` with every finding replaced by its placeholder, and the findings."""
    findings = find_personal_data(text)
    pieces, position = [], 0
    for finding in findings:
        pieces.append(text[position : finding.start])
        pieces.append(finding.placeholder)
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces), findings


def describe(text: str, findings: list[Finding]) -> str:
    """Say what was found without repeating it, for reports that may be public.

    e.g. 'an e-mail address (jo•••) and 2 phone numbers (+2•••, 08•••)'
    """
    parts = []
    for kind in dict.fromkeys(finding.kind for finding in findings):  # in order of appearance
        hints = [f"{text[finding.start : finding.start + 2]}•••" for finding in findings if finding.kind == kind]
        one, several = DESCRIPTIONS[kind]
        name = one if len(hints) == 1 else f"{len(hints)} {several}"
        parts.append(f"{name} ({', '.join(hints)})")
    return " and ".join(parts) if len(parts) < 3 else ", ".join(parts[:-1]) + " and " + parts[-1]
