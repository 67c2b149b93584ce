"""Personal-data detectors (privacy.py) and `python -m scripts anonymize`."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import REPO
from scripts.__main__ import main as cli
from scripts.data import load_examples, read_records
from scripts.anonymize import anonymize_json_text
from scripts.names import RuleNameFinder
from scripts.privacy import find_personal_data
from scripts.validate import Datasets, check_personal_data, passages

FIXTURES = REPO / "tests" / "fixtures" / "anonymize"
CONFIG = str(REPO / "project.toml")

FOUND = [
    ("Write to jane.doe@example.org today.", "EMAIL", "jane.doe@example.org"),
    ("Call +264 81 234 5678 after five.", "PHONE", "+264 81 234 5678"),
    ("Call 081 234 5678 after five.", "PHONE", "081 234 5678"),
    ("The office is on 061-123456.", "PHONE", "061-123456"),
    ("The office is on (+264) 61 123 456.", "PHONE", "(+264) 61 123 456"),
    ("Send it to 264812345678 by SMS.", "PHONE", "264812345678"),
    ("Our London desk: +44 20 7946 0958.", "PHONE", "+44 20 7946 0958"),
    ("US office +1 415 555 2671.", "PHONE", "+1 415 555 2671"),
    ("My ID number is 85010100123.", "ID_NUMBER", "85010100123"),
    ("Leap-day ID: 00022900123.", "ID_NUMBER", "00022900123"),
    ("Card 4111 1111 1111 1111 expired.", "CARD_NUMBER", "4111 1111 1111 1111"),
    ("Card 5500-0000-0000-0004 expired.", "CARD_NUMBER", "5500-0000-0000-0004"),
    ("Amex 378282246310005.", "CARD_NUMBER", "378282246310005"),
    ("Server at 192.168.1.20.", "IP_ADDRESS", "192.168.1.20"),
    ("Server at 2001:db8::8a2e:370:7334 now.", "IP_ADDRESS", "2001:db8::8a2e:370:7334"),
    ("token hf_abcdefghijklmnopqrstuvwxyzABCDEF12", "SECRET", "hf_abcdefghijklmnopqrstuvwxyzABCDEF12"),
    ("key sk-proj-abcdefghijklmnopqrstuvwx", "SECRET", "sk-proj-abcdefghijklmnopqrstuvwx"),
    ("aws AKIAIOSFODNN7EXAMPLE", "SECRET", "AKIAIOSFODNN7EXAMPLE"),
    ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "SECRET", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("gh github_pat_11ABCDEFG0123456789_abcdefghijk", "SECRET", "github_pat_11ABCDEFG0123456789_abcdefghijk"),
    ('config: api_key = "abc123def456ghi"', "SECRET", "abc123def456ghi"),
]

NOT_FOUND = [
    "Namibia became independent in 1990.",
    "German colonial rule lasted from 1884 to 1915, and the war of 1904-1908 was a genocide.",
    "Namibia has 14 regions.",
    "The fee is N$1 500 000, or N$ 120.00 per person.",
    "About 2 550 226 people lived there in 2011.",
    "The country covers 824 292 km2.",
    "It happened on 2023-10-05 at 12:30:45.",
    "Version 1.2.3 of the app; ISBN 978-3-16-148410-0.",
    "Coordinates 22.5609 S, 17.0658 E.",
    "Card 4111 1111 1111 1112 fails the checksum.",
    "Not an ID: 85133100123 (month 13).",
    "Not an address: 300.1.1.1.",
    "The password: remember it.",
    "Write to <EMAIL> or call <PHONE>; api_key=<SECRET>.",
]


@pytest.mark.parametrize("text, kind, found", FOUND, ids=[row[1] + "-" + str(number) for number, row in enumerate(FOUND)])
def test_detectors_find_personal_data_with_its_span(text, kind, found):
    findings = find_personal_data(text)
    assert [(finding.kind, text[finding.start : finding.end]) for finding in findings] == [(kind, found)]


@pytest.mark.parametrize("text", NOT_FOUND)
def test_years_amounts_counts_and_placeholders_are_not_personal_data(text):
    assert find_personal_data(text) == []


def with_placeholders(text: str, names=None) -> str:
    """`text` with each finding replaced by its kind's placeholder: an independent check of anonymize's output."""
    for finding in reversed(find_personal_data(text, names)):
        text = text[: finding.start] + finding.placeholder + text[finding.end :]
    return text


def test_anonymize_replaces_only_the_findings():
    raw = json.dumps({"text": "Mail a.b@example.com, call +264 81 234 5678 (office 14 regions, 1990)."}) + "\n"
    replaced, changes = anonymize_json_text(raw)
    assert json.loads(replaced) == {"text": "Mail <EMAIL>, call <PHONE> (office 14 regions, 1990)."}
    assert [change.placeholders for change in changes] == [["<EMAIL>", "<PHONE>"]]
    assert anonymize_json_text(replaced) == (replaced, [])


def copy_fixture(tmp_path, name):
    target = tmp_path / name
    shutil.copy(FIXTURES / name, target)
    return target


def string_pairs(before, after):
    """Walk two JSON values side by side; yield (before, after) for every string value."""
    assert type(before) is type(after)
    if isinstance(before, dict):
        assert list(before) == list(after)  # same keys, same order
        for key in before:
            yield from string_pairs(before[key], after[key])
    elif isinstance(before, list):
        assert len(before) == len(after)
        for old, new in zip(before, after):
            yield from string_pairs(old, new)
    elif isinstance(before, str):
        yield before, after
    else:
        assert before == after


def test_anonymize_jsonl_keeps_everything_but_the_personal_data(tmp_path, capsys):
    source = copy_fixture(tmp_path, "contacts.jsonl")
    assert cli(["anonymize", str(source), "--config", CONFIG]) == 0
    output = tmp_path / "contacts.anonymized.jsonl"
    before, after = source.read_bytes(), output.read_bytes()
    assert source.read_bytes() == (FIXTURES / "contacts.jsonl").read_bytes()  # the original is untouched
    assert after.count(b"\r\n") == before.count(b"\r\n") == 5 and b"\r\n\r\n" in after  # CRLF and the blank line kept
    old_lines, new_lines = before.decode().split("\r\n"), after.decode().split("\r\n")
    assert new_lines[1] == old_lines[1]  # a record without personal data is byte for byte the same
    assert json.loads(new_lines[0])["messages"][1]["content"] == "Ms <PERSON_1> runs it; e-mail <EMAIL> or call <PHONE>."
    assert "café" in new_lines[3]  # written as UTF-8, not \u00e9

    old_records, new_records = read_records(source), read_records(output)
    assert [line for line, _ in new_records] == [line for line, _ in old_records] == [1, 2, 4, 5]
    for old, new in string_pairs([record for _, record in old_records], [record for _, record in new_records]):
        assert new == with_placeholders(old, RuleNameFinder()).replace("<PERSON>", "<PERSON_1>")  # one person in the file

    printed = capsys.readouterr().out
    assert f"Replaced 9 items in {source} (2 PHONE, 2 SECRET, 1 PERSON, 1 EMAIL, 1 CARD_NUMBER, 1 ID_NUMBER, 1 IP_ADDRESS)" in printed
    assert f"  {source}:1: <PERSON_1>, <EMAIL>, <PHONE>\n" in printed
    assert "  <PERSON_1> <- 'Ndapewa' (line 1)\n" in printed
    assert f"  {source}:4: <CARD_NUMBER>, <ID_NUMBER>, <PHONE>, <IP_ADDRESS>\n" in printed
    assert f"  {source}:5: <SECRET>, <SECRET>\n" in printed


def test_anonymized_output_passes_the_privacy_check_and_is_stable(tmp_path, capsys):
    source = copy_fixture(tmp_path, "contacts.jsonl")
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert cli(["anonymize", str(source), "--output", str(first), "--config", CONFIG]) == 0
    assert cli(["anonymize", str(first), "--output", str(second), "--config", CONFIG]) == 0
    assert second.read_bytes() == first.read_bytes()
    assert "No personal data found" in capsys.readouterr().out
    examples = load_examples(first)
    data = Datasets(train=examples, eval=[], probes=[], names={"train": "first.jsonl"})
    assert check_personal_data(passages(data)).problems == []


def test_json_array_keeps_its_layout(tmp_path):
    source = copy_fixture(tmp_path, "contacts.json")
    assert cli(["anonymize", str(source), "--config", CONFIG]) == 0
    text = (tmp_path / "contacts.anonymized.json").read_text(encoding="utf-8")
    assert text == source.read_text(encoding="utf-8").replace("jane.doe@example.org", "<EMAIL>").replace(
        "+44 20 7946 0958", "<PHONE>"
    )
    assert '"output": "1990, with 14 regions today."' in text


def test_in_place_keeps_a_backup_and_a_second_run_changes_nothing(tmp_path, capsys):
    source = copy_fixture(tmp_path, "contacts.jsonl")
    original = source.read_bytes()
    assert cli(["anonymize", str(source), "--in-place", "--config", CONFIG]) == 0
    backup = tmp_path / "contacts.jsonl.bak"
    assert backup.read_bytes() == original
    anonymized = source.read_bytes()
    assert b"<EMAIL>" in anonymized and anonymized != original
    assert cli(["anonymize", str(source), "--in-place", "--config", CONFIG]) == 0
    assert source.read_bytes() == anonymized and backup.read_bytes() == original
    assert "nothing changed" in capsys.readouterr().out
    assert sorted(path.name for path in tmp_path.iterdir()) == ["contacts.jsonl", "contacts.jsonl.bak"]
    assert source.stat().st_mode == backup.stat().st_mode  # not the private mode of a temporary file


def test_missing_or_broken_file_exits_2_and_writes_nothing(tmp_path, capsys):
    assert cli(["anonymize", str(tmp_path / "nothing.jsonl"), "--config", CONFIG]) == 2
    assert "nothing.jsonl: file not found" in capsys.readouterr().err
    broken = tmp_path / "broken.jsonl"
    shutil.copy(REPO / "tests" / "fixtures" / "broken" / "bad_json.jsonl", broken)
    assert cli(["anonymize", str(broken), "--in-place", "--config", CONFIG]) == 2
    assert capsys.readouterr().err.startswith(f"error: {broken}:3: not valid JSON")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.jsonl"]


def test_output_onto_the_file_itself_needs_in_place(tmp_path, capsys):
    source = copy_fixture(tmp_path, "contacts.jsonl")
    original = source.read_bytes()
    assert cli(["anonymize", str(source), "--output", str(source), "--config", CONFIG]) == 2
    assert "use --in-place" in capsys.readouterr().err
    assert source.read_bytes() == original


def test_output_and_in_place_cannot_be_combined(tmp_path):
    with pytest.raises(SystemExit) as raised:
        cli(["anonymize", "x.jsonl", "--in-place", "--output", "y.jsonl"])
    assert raised.value.code == 2


def test_long_runs_of_digits_and_symbols_scan_in_linear_time():
    """A pattern that backtracks takes 64x as long (or worse) when its input grows 8x; a linear scan about 8x.

    A ratio between two sizes in the same test, not a time limit. The sizes are far apart and measured in
    turn, so that another test process busy on the same machine slows both alike: a 2x ratio (one CI run
    measured 3.2x for linear code) leaves no room for that noise; 24x against 8x does.
    """
    import time

    def texts(size: int) -> tuple[str, ...]:
        return ("2" + "3" * 5000 * size + "-", "1." * 5000 * size, "a" * 20000 * size + "@", "+264 " * 2000 * size)

    def scan_seconds(size: int) -> float:
        started = time.perf_counter()
        for text in texts(size):
            find_personal_data(text)
        return time.perf_counter() - started

    small, large = [], []
    for _ in range(4):  # in turn, then the fastest of each: least disturbed by other work on the machine
        small.append(scan_seconds(1))
        large.append(scan_seconds(8))
    assert min(large) < 24 * min(small), f"8x the input took {min(large) / min(small):.1f}x as long"


def test_every_text_says_which_name_detector_ran_and_what_it_cannot_see():
    """The report, the card, project.toml and the PR checklist say how names are found and what is missed."""
    assert find_personal_data("Maria Shikongo lives next door to Johannes Nakale.", RuleNameFinder()) == []  # no cue
    card = (REPO / "model_card.j2").read_text(encoding="utf-8")
    [line] = [line for line in card.splitlines() if "{{ card.anonymisation }}" in line]
    assert "Names of people were looked for by {{ data.names_detector }}. It cannot see {{ data.names_cannot_see }}" in line
    assert "checked" not in line.lower()  # the template cannot know that anyone did
    from scripts.config import load_settings

    anonymisation = load_settings(REPO / "project.toml").card.anonymisation
    assert "which miss names without such a cue" in anonymisation and "no personal data" not in anonymisation.lower()
    checklist = (REPO / ".github" / "PULL_REQUEST_TEMPLATE.md").read_text(encoding="utf-8")
    assert "- [ ] I read every name the data report lists, and every example for names it cannot see" in checklist
    assert "public figures are listed in `[data] public_names`" in checklist
