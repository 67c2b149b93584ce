"""Personal data found by its context (privacy.py) and names of people (names.py): issue 17.

The named-entity path is tested with a tiny BERT token classifier the test builds and saves
itself (no Hub): its weights are set by hand so that it labels exactly two words as a person.
What this does not cover: a real NER model from the Hub (none can be downloaded here).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import REPO
from scripts.__main__ import main as cli
from scripts.config import DataSettings, load_settings
from scripts.errors import UserError
from scripts.names import ModelNameFinder, RuleNameFinder, load_name_finder
from scripts.privacy import find_personal_data
from scripts.validate import Passage, check_names, check_personal_data
from scripts.validate_report import personal_data_scan

CORPUS = REPO / "tests" / "fixtures" / "pii_corpus.jsonl"
PUBLIC = ("Sam Nujoma", "Frank Fredericks", "Netumbo Nandi-Ndaitwah")

IN_CONTEXT = [
    # (text, kind, what is found): the span is checked character for character
    ("Client: Martha Haufiku, date of birth 02/07/1979, asked.", "DATE_OF_BIRTH", "02/07/1979"),
    ("D.O.B. 23/09/1968, male.", "DATE_OF_BIRTH", "23/09/1968"),
    ("He was born 2nd of July, 1979, in Keetmanshoop.", "DATE_OF_BIRTH", "2nd of July, 1979"),
    ("DOB: 1992-11-03", "DATE_OF_BIRTH", "1992-11-03"),
    ("Deliver to Erf 1432, Sam Nujoma Drive, Swakopmund.", "ADDRESS", "Erf 1432, Sam Nujoma Drive"),
    ("She lives at 12 Robert Mugabe Avenue, Windhoek.", "ADDRESS", "12 Robert Mugabe Avenue"),
    ("The plot is Plot 12 near Otjiwarongo.", "ADDRESS", "Plot 12"),
    ("Post it to P.O. Box 2345, Ongwediva.", "ADDRESS", "P.O. Box 2345"),
    ("Passport no. N0012345.", "PASSPORT", "N0012345"),
    ("Scan of passport P0987654 attached.", "PASSPORT", "P0987654"),
    ("Account number 8765432109, FNB Namibia.", "BANK_ACCOUNT", "8765432109"),
    ("Acc no: 62 2345 6789 at Bank Windhoek.", "BANK_ACCOUNT", "62 2345 6789"),
    ("My account number is 62011223344.", "BANK_ACCOUNT", "62011223344"),  # the keyword beats an ID number's shape
    ("Mail me: k.iyambo (at) yahoo (dot) com.", "EMAIL", "k.iyambo (at) yahoo (dot) com"),
    ("My email is martha at gmail dot com", "EMAIL", "martha at gmail dot com"),
]

NOT_IN_CONTEXT = [
    "Namibia became independent on 21 March 1990.",  # a date, but nobody's birth
    "Flight SW 285 leaves 2023-10-05T12:30:45.",
    "Mining accounts for 12% of GDP and 30 000 jobs.",  # "accounts for", not an account number
    "A passport to success: 1000 hours of practice.",
    "Independence Avenue is the main street of Windhoek.",  # a street without a house number
    "Plot twist: the lion was asleep.",
    "Look at this dot com bubble.",  # "at" and "dot" as words, no mailbox
    "Item no. 4711-22 is out of stock; ISBN 978-3-16-148410-0.",
]

NAMES = [
    # (text, the names found, in order)
    ("Client: Martha Haufiku, date of birth 02/07/1979.", ["Martha Haufiku"]),
    ("Please ask Ms. Loide Kambonde to sign.", ["Loide Kambonde"]),
    ("I am Tjiuai Muharukua, from Opuwo.", ["Tjiuai Muharukua"]),
    ("my name is Petrus Shilongo", ["Petrus Shilongo"]),
    ("Meme Ndapewa and Tate Nghifindaka came.", ["Ndapewa", "Nghifindaka"]),
    ("Mr Gerson !Naruseb called.", ["Gerson !Naruseb"]),
    ("Contact person: Johannes van Wyk, farm manager.", ["Johannes van Wyk"]),
    ("Mr Amutenya's address changed.", ["Amutenya"]),  # the possessive is not part of the name
    ("Customer: Immanuel Shikongo. Later Shikongo paid.", ["Immanuel Shikongo", "Shikongo"]),  # a later mention too
    ("Dr Sam Nujoma and Mr Nujoma were the same man.", []),  # a listed public figure, in full or in part
    ("I am Namibian. Please contact Bank Windhoek. Name: Etosha National Park", []),
    ("Martha Iyambo left her CV.", []),  # no cue: the rules cannot see it (said in the report)
]


def found(text: str, names=None) -> list[tuple[str, str]]:
    return [(finding.kind, text[finding.start : finding.end]) for finding in find_personal_data(text, names)]


@pytest.mark.parametrize("text, kind, span", IN_CONTEXT, ids=[f"{row[1]}-{n}" for n, row in enumerate(IN_CONTEXT)])
def test_context_detectors_find_the_exact_characters(text, kind, span):
    assert (kind, span) in found(text)
    [finding] = [finding for finding in find_personal_data(text) if finding.kind == kind]
    assert (finding.start, finding.end) == (text.index(span), text.index(span) + len(span))


@pytest.mark.parametrize("text", NOT_IN_CONTEXT)
def test_without_the_keyword_a_number_is_not_personal_data(text):
    assert found(text, RuleNameFinder(PUBLIC)) == []


@pytest.mark.parametrize("text, names", NAMES, ids=[f"names-{n}" for n in range(len(NAMES))])
def test_name_rules_find_names_after_a_cue_with_their_characters(text, names):
    spans = RuleNameFinder(PUBLIC).find(text)
    assert [text[start:end] for start, end in spans] == names
    for (start, end), name in zip(spans, names):
        assert start == text.index(name, start)  # the position, not only the words


def test_public_names_setting_decides_who_is_reported(tmp_path):
    text = "Dr Sam Nujoma met Ms Loide Kambonde."
    assert [text[s:e] for s, e in RuleNameFinder(()).find(text)] == ["Sam Nujoma", "Loide Kambonde"]
    project = tmp_path / "project.toml"
    project.write_text('[data]\npublic_names = ["Sam Nujoma"]\n', encoding="utf-8")
    finder = load_name_finder(load_settings(project).data, tmp_path)
    assert [text[s:e] for s, e in finder.find(text)] == ["Loide Kambonde"]
    project.write_text('[data]\npublic_names = "Sam Nujoma"\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"project.toml:2 \[data\]: public_names must be a list of strings"):
        load_settings(project)
    # The bundled project lists the public figures its data names, and the bundled data names no one else.
    bundled = load_settings(REPO / "project.toml").data.public_names
    assert {"Sam Nujoma", "Hendrik Witbooi", "Frank Fredericks", "Netumbo Nandi-Ndaitwah"} <= set(bundled)


def test_the_corpus_meets_the_targets_recall_90_percent_per_type_and_clean_decoys():
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    names = load_name_finder(load_settings(REPO / "project.toml").data, REPO)
    hits, totals, decoys_flagged = {}, {}, []
    for row in rows:
        gold = {(e["type"], e["start"], e["end"]) for e in row["entities"]}
        for entity in row["entities"]:
            assert row["text"][entity["start"] : entity["end"]] == entity["text"]  # the labels are exact
            totals[entity["type"]] = totals.get(entity["type"], 0) + 1
        findings = {(f.kind, f.start, f.end) for f in find_personal_data(row["text"], names)}
        for kind, *_ in gold & findings:
            hits[kind] = hits.get(kind, 0) + 1
        if "decoy" in row and findings:
            decoys_flagged.append(row["text"])
    assert {"DATE_OF_BIRTH", "ADDRESS", "PASSPORT", "BANK_ACCOUNT", "EMAIL", "PERSON"} <= set(totals)
    assert {kind: hits.get(kind, 0) / total for kind, total in totals.items() if hits.get(kind, 0) / total < 0.9} == {}
    assert decoys_flagged == [] and sum("decoy" in row for row in rows) >= 30


def test_without_a_model_the_rules_run_and_the_report_says_so(tmp_path):
    finder = load_name_finder(DataSettings(), tmp_path)
    assert type(finder) is RuleNameFinder
    check = check_names([Passage("train.jsonl", 3, "messages[0].content", "Patient: Ndeshipanda Amupolo, 34.")], finder)
    [problem] = check.problems
    assert (problem.severity, problem.line, problem.message) == ("warn", 3, "contains a name of a person (Nd•••)")
    assert check.details.startswith("found by rules: a capitalised name after an honorific")
    assert "not found: names with none of these cues in front of them" in check.details
    # A name is a warning to review, never in the check that fails.
    assert check_personal_data([Passage("train.jsonl", 3, "x", "Patient: Ndeshipanda Amupolo")]).problems == []
    cfg = SimpleNamespace(data=DataSettings(public_names=["Sam Nujoma"]))
    scan = personal_data_scan(cfg)
    assert scan.names_detector.startswith("rules:") and scan.public_names == ["Sam Nujoma"]
    assert "dates of birth" in scan.finds and "bank account numbers" in scan.finds


def tiny_name_model(folder: Path, name_words: list[str]) -> Path:
    """A BERT token classifier without transformer layers whose weights label exactly `name_words` as B-PER."""
    import torch
    from transformers import BertConfig, BertForTokenClassification, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ",", ".", ":", "asked", "about", "her", "loan", "and", "met",
             "dr", "sam", "nujoma", *name_words]  # fmt: skip
    tokenizer = BertTokenizerFast(vocab={word: number for number, word in enumerate(words)}, do_lower_case=True)
    config = BertConfig(vocab_size=len(words), hidden_size=4, num_hidden_layers=0, num_attention_heads=1, intermediate_size=4,
                        id2label={0: "O", 1: "B-PER", 2: "I-PER"}, label2id={"O": 0, "B-PER": 1, "I-PER": 2})  # fmt: skip
    model = BertForTokenClassification(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        model.bert.embeddings.LayerNorm.weight.fill_(1.0)
        for word in [*name_words, "sam", "nujoma"]:  # a person to the model; "Sam Nujoma" is on public_names
            model.bert.embeddings.word_embeddings.weight[words.index(word)] = torch.tensor([1.0, -1.0, 0.0, 0.0])
        model.classifier.weight[1, 0] = 5.0  # B-PER where the first dimension is high
        model.classifier.bias[0] = 0.5  # O everywhere else
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_a_token_classification_model_finds_names_without_a_cue(tmp_path):
    tiny_name_model(tmp_path / "ner", ["martha", "haufiku"])
    data = DataSettings(public_names=["Sam Nujoma"], names_model="ner")
    finder = load_name_finder(data, tmp_path)
    assert isinstance(finder, ModelNameFinder)
    text = "Martha Haufiku asked about her loan, and met Dr Sam Nujoma."
    assert found(text, finder) == [("PERSON", "Martha Haufiku")]  # two B-PER words merged; the public figure left out
    [(start, end)] = finder.find(text)
    assert (start, end) == (0, 14)
    assert finder.detector.startswith(f"the named-entity model {tmp_path / 'ner'}, plus the rules")
    assert check_names([Passage("t.jsonl", 1, "text", text)], finder).details.startswith("found by the named-entity model")


def test_a_name_model_that_cannot_be_loaded_stops_with_one_sentence(tmp_path):
    (tmp_path / "empty-model").mkdir()
    with pytest.raises(UserError) as raised:
        load_name_finder(DataSettings(names_model="empty-model"), tmp_path)
    message = str(raised.value)
    assert message.startswith("project.toml [data] names_model: cannot load the name model 'empty-model'")
    assert message.endswith('or write names_model = "" to use the rules.') and "\n" not in message
    project = tmp_path / "project.toml"
    project.write_text('[data]\nnames_model = "someone/pii-model"\n', encoding="utf-8")
    with pytest.raises(UserError, match=r'project.toml:2 \[data\]: names_model "someone/pii-model" is not a folder.*40 hex'):
        load_settings(project)
    project.write_text(f'[data]\nnames_model = "someone/pii-model"\nnames_model_revision = "{"a1" * 20}"\n', encoding="utf-8")
    assert load_settings(project).data.names_model_revision == "a1" * 20


def write(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def test_anonymize_gives_each_person_one_pseudonym_and_lists_every_replacement(tmp_path, capsys):
    source = write(tmp_path / "notes.jsonl", [
        {"text": "Client: Martha Haufiku, date of birth 02/07/1979, asked about her loan."},
        {"text": "Please ask Ms. Loide Kambonde to sign; Haufiku agreed. Deliver to Erf 1432, Sam Nujoma Drive."},
        {"text": "Martha called again. Dr Sam Nujoma was the first president."},
    ])  # fmt: skip
    assert cli(["anonymize", str(source), "--config", str(REPO / "project.toml")]) == 0
    texts = [json.loads(line)["text"] for line in (tmp_path / "notes.anonymized.jsonl").read_text().splitlines()]
    assert texts == [
        "Client: <PERSON_1>, date of birth <DATE_OF_BIRTH>, asked about her loan.",
        "Please ask Ms. <PERSON_2> to sign; <PERSON_1> agreed. Deliver to <ADDRESS>.",
        "<PERSON_1> called again. Dr Sam Nujoma was the first president.",  # a public figure stays
    ]
    printed = capsys.readouterr().out
    assert f"  {source}:2: <PERSON_2>, <PERSON_1>, <ADDRESS>\n" in printed
    assert f"Names replaced in {source}: check each one." in printed
    listed = printed[printed.index("Names replaced") :].splitlines()[1:]
    assert listed == [
        "  <PERSON_1> <- 'Martha Haufiku' (line 1)",
        "  <PERSON_1> <- 'Haufiku' (line 2)",
        "  <PERSON_1> <- 'Martha' (line 3)",
        "  <PERSON_2> <- 'Loide Kambonde' (line 2)",
    ]
    assert cli(["anonymize", str(source), "--keep-names", "--output", str(tmp_path / "kept.jsonl")]) == 0
    kept = (tmp_path / "kept.jsonl").read_text()
    assert "Martha Haufiku" in kept and "<DATE_OF_BIRTH>" in kept and "PERSON" not in kept


def test_anonymize_with_a_broken_name_model_writes_nothing(tmp_path, capsys):
    source = write(tmp_path / "notes.jsonl", [{"text": "Client: Martha Haufiku"}])
    project = tmp_path / "project.toml"
    project.write_text('[data]\nnames_model = "missing-model"\n', encoding="utf-8")
    (tmp_path / "missing-model").mkdir()
    assert cli(["anonymize", str(source), "--in-place", "--config", str(project)]) == 2
    assert "cannot load the name model" in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["missing-model", "notes.jsonl", "project.toml"]


def test_the_bench_script_prints_both_scans_per_type_and_the_ratio():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, str(REPO / "bench" / "pii_scan.py")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.split() and line.split()[0].isupper()}
    assert rows["DATE_OF_BIRTH"][1:4] == ["11", "0%", "100%"]  # items, recall before, recall after
    assert rows["PERSON"][-1] == "yes" and rows["PASSPORT"][-1] == "yes"
    assert "ratio: recall after/before = 8.80x (88 vs 10 of 89 items found); false positives 0 vs 0" in result.stdout
    assert "every type >= 90%: yes; decoys clean: yes" in result.stdout


def test_texts_without_digits_give_the_same_findings_with_fewer_detectors(monkeypatch):
    """A text without a digit runs only DIGIT_FREE_DETECTORS: the others need a digit to find anything."""
    from scripts import privacy

    texts = [json.loads(line)["text"] for path in (CORPUS, CORPUS.with_name("pii_heldout.jsonl")) for line in path.read_text(encoding="utf-8").splitlines()]
    no_digits = str.maketrans("0123456789", "abcdefghij")
    texts += [text.translate(no_digits) for text in texts]  # the same sentences with letters for digits
    texts += ["token hf_abcdefghijklmnopqrstuvwxyzABCDEFGH here", "write to k.iyambo (at) yahoo (dot) com", "host dead:beef:cafe::"]
    digit_free = [text for text in texts if not privacy.ANY_DIGIT.search(text)]
    assert len(digit_free) > 100
    fast = [find_personal_data(text) for text in digit_free]
    monkeypatch.setattr(privacy, "ANY_DIGIT", re.compile(""))  # matches every text: every detector runs
    assert fast == [find_personal_data(text) for text in digit_free]
    assert {finding.kind for findings in fast for finding in findings} >= {"SECRET", "EMAIL", "IP_ADDRESS"}
