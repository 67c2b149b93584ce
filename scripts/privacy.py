"""Find personal data and secrets in text, with the exact characters where they are.

    find_personal_data(text, names=finder)  # -> [Finding(kind, start, end), ...], sorted, never overlapping

`validate` reports findings and `anonymize` replaces them, both through this module, so they always
agree. Kinds: e-mail, phone, national ID, card, IP address and secret; and, only where the words around
it say what it is, date of birth, address, passport and bank account. Names of people (PERSON) come from
the name finder of names.py, `names`; without one, names are not looked for. Reads and writes no file.
What each kind matches and how: docs/design.md, "Personal data and names"; recall and precision:
bench/README.md, "Privacy scan".
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
    "DATE_OF_BIRTH": "<DATE_OF_BIRTH>",
    "ADDRESS": "<ADDRESS>",
    "PASSPORT": "<PASSPORT>",
    "BANK_ACCOUNT": "<BANK_ACCOUNT>",
    "PERSON": "<PERSON>",  # anonymize numbers them per file: <PERSON_1>, <PERSON_2>, ...
}

# What each kind is called in reports: (one, several).
DESCRIPTIONS = {
    "EMAIL": ("an e-mail address", "e-mail addresses"),
    "PHONE": ("a phone number", "phone numbers"),
    "ID_NUMBER": ("a national ID number", "national ID numbers"),
    "CARD_NUMBER": ("a payment card number", "payment card numbers"),
    "IP_ADDRESS": ("an IP address", "IP addresses"),
    "SECRET": ("a secret key or token", "secret keys or tokens"),
    "DATE_OF_BIRTH": ("a date of birth", "dates of birth"),
    "ADDRESS": ("a street or postal address", "street or postal addresses"),
    "PASSPORT": ("a passport number", "passport numbers"),
    "BANK_ACCOUNT": ("a bank account number", "bank account numbers"),
    "PERSON": ("a name of a person", "names of people"),
}
PATTERN_KINDS = [kind for kind in DESCRIPTIONS if kind != "PERSON"]  # what find_personal_data always looks for
SCAN_COVERS = ", ".join(DESCRIPTIONS[kind][1] for kind in PATTERN_KINDS[:-1]) + " and " + DESCRIPTIONS[PATTERN_KINDS[-1]][1]


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


# ---------------------------------------------------------------- e-mail written out

# "k.iyambo (at) yahoo (dot) com", "info [at] nam [dot] na": the brackets say it is an address.
EMAIL_SPELLED = re.compile(
    r"(?i)(?<![\w.+-])[a-z0-9][\w.+-]*\s*[(\[{]\s*at\s*[)\]}]\s*[a-z0-9-]+(?:\s*(?:[(\[{]\s*dot\s*[)\]}]|\.)\s*[a-z0-9-]+)+"
)
# Without brackets ("martha at gmail dot com") "at" and "dot" are ordinary words, so the
# domain must end in a real top-level domain, and the name must look like a mailbox
# (a dot, _ or digit in it) or the provider must be a known mail service.
EMAIL_WORDS = re.compile(
    r"(?i)(?<![\w.+-])(?P<user>[a-z0-9][\w.+-]*) at (?P<domain>[a-z0-9-]+)(?: dot [a-z0-9-]+)* dot (?:com|org|net|na|za|edu|gov|info|io|uk|de)\b"
)
MAIL_SERVICES = {"gmail", "yahoo", "outlook", "hotmail", "icloud", "iway", "mweb", "live", "proton", "protonmail"}


def _spelled_emails(text: str):
    for match in EMAIL_SPELLED.finditer(text):
        yield Finding("EMAIL", match.start(), match.end())
    for match in EMAIL_WORDS.finditer(text):
        if re.search(r"[._\d]", match["user"]) or match["domain"].lower() in MAIL_SERVICES:
            yield Finding("EMAIL", match.start(), match.end())


# ---------------------------------------------------------------- dates of birth

MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
DATE = (
    r"(?:\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})"  # 02/07/1979, 2.7.79
    r"|\d{4}-\d{2}-\d{2}"  # 1979-07-02
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTHS},?\s+\d{{4}}"  # 2 July 1979, 2nd of July, 1979
    rf"|{MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"  # July 2, 1979
)
# The keyword, then at most a few short words ("born on", "DOB:", "date of birth is") before the date.
DATE_OF_BIRTH = re.compile(
    rf"(?i)\b(?:born|date\s+of\s+birth|birth\s*date|birthday|d\.?o\.?b)\b\.?[\s:,-]*(?:(?:on|is|was|the|in)\s+)*(?P<date>{DATE})(?!\d)"
)


def _dates_of_birth(text: str):
    for match in DATE_OF_BIRTH.finditer(text):
        yield Finding("DATE_OF_BIRTH", match.start("date"), match.end("date"))


# ---------------------------------------------------------------- addresses

STREET_WORDS = r"(?:(?:Street|Road|Avenue|Drive|Lane|Close|Crescent|Way|Boulevard|Strasse|Straße|Weg)\b|(?:St|Rd|Ave|Dr|Str)\b\.?)"
STREET_NAME = r"(?:[A-Z][\w'’-]*\.?\s+){1,4}" + STREET_WORDS
# "12 Sam Nujoma Drive", "14B Nelson Mandela Avenue": a house number, then a capitalised street name.
STREET_ADDRESS = re.compile(rf"(?<![\w,.])\d{{1,5}}[A-Za-z]?,?\s+{STREET_NAME}")
# Namibian erf and plot numbers ("Erf 1432", "Plot 12"), house numbers and post boxes; with a street after them when there is one.
LOT_OR_BOX = re.compile(
    rf"\b(?:Erf|ERF|Plot|PLOT|House\s+(?:No\.?|Number)|P\.?\s?O\.?\s+Box|PO\s+Box|Private\s+Bag)\s*\d{{1,6}}[A-Za-z]?(?:,?\s+{STREET_NAME})?"
)


def _addresses(text: str):
    for pattern in (LOT_OR_BOX, STREET_ADDRESS):
        for match in pattern.finditer(text):
            yield Finding("ADDRESS", match.start(), match.end())


# ---------------------------------------------------------------- passport and bank account numbers

# "passport no. N0012345", "Passport number: P1234567": the keyword, a few label words, then the number.
PASSPORT = re.compile(
    r"(?i)\bpassport\b[\s,:#]*(?:(?:no\.?|number|nr\.?|num\.?|is)[\s,:#]*)*(?P<number>[a-z]{0,2}\d{6,9})\b"
)
# "account number 8765432109", "acc no: 62 2345 6789", "a/c 1234567": 6 to 16 digits, maybe in groups.
BANK_ACCOUNT = re.compile(
    r"(?i)\b(?:account|acc|acct|a/c)\b\.?(?:\s*(?:no\.?|number|nr\.?|#|num\.?|is|:))*\s*"
    r"(?P<number>\d(?:[ -]?\d){5,15})(?![\d%.,]\d|\s*%)"
)


def _documents_and_accounts(text: str):
    for kind, pattern in (("PASSPORT", PASSPORT), ("BANK_ACCOUNT", BANK_ACCOUNT)):
        for match in pattern.finditer(text):
            yield Finding(kind, match.start("number"), match.end("number"))


# ---------------------------------------------------------------- all together

# When two findings overlap, the one from the earlier detector wins: a secret or
# e-mail address may contain digits that look like a phone number; a number with
# its keyword in front ("account number 62011223344") is surer than the same digits
# read as an ID or card number by their shape; and an ID or card number is checked
# more strictly than a phone number.
DETECTORS = (
    _secrets, _emails, _spelled_emails, _dates_of_birth, _documents_and_accounts,
    _cards, _id_numbers, _ip_addresses, _addresses, _phones,
)  # fmt: skip


# Every other detector's patterns need a digit (\d, as their own patterns read it), so a text without one
# skips them: most sentences have no digits, and validate scans every field of up to 100k examples.
ANY_DIGIT = re.compile(r"\d")
DIGIT_FREE_DETECTORS = (_secrets, _emails, _spelled_emails, _ip_addresses)  # tokens, e-mails, IPv6 in hex letters


def find_personal_data(text: str, names=None) -> list[Finding]:
    """Every finding in `text`, sorted by position, without overlaps.

    `names` is a name finder from names.py (`load_name_finder`); without one, names are not looked for.
    """
    if not text:
        return []
    kept: list[Finding] = []
    for detector in DETECTORS if ANY_DIGIT.search(text) else DIGIT_FREE_DETECTORS:
        for finding in detector(text):
            if not any(finding.start < other.end and other.start < finding.end for other in kept):
                kept.append(finding)
    if names is not None:
        for start, end in names.find(text):
            if not any(start < other.end and other.start < end for other in kept):
                kept.append(Finding("PERSON", start, end))
    return sorted(kept, key=lambda finding: finding.start)


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
