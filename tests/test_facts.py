"""Which facts the training data teaches, in how many phrasings (facts.py), and validate's two checks on them.

The checks run as Great Expectations rules over the example table, so the tests
below build that table from small JSONL files and run the rules, as validate does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.data import load_examples
from scripts.facts import folded, is_correct, phrasing_distribution, phrasings_by_fact, taught_flags, taught_in_another_form
from scripts.validate import (
    SINGLE_PHRASINGS_LISTED,
    Datasets,
    example_table,
    fact_columns,
    run_expectations,
    training_facts,
    with_fact_columns,
)

THRESHOLD = 0.8  # project.toml's [data] near_duplicate_threshold


def qa(question: str, answer: str, fact: str | None = None) -> dict:
    record = {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]}
    return record | ({"answer": fact} if fact is not None else {})


def write(path: Path, records: list[dict]) -> list:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return load_examples(path, display_name=f"datasets/{path.name}")


def datasets(tmp_path: Path, train: list[dict], evaluation: list[dict]) -> Datasets:
    names = {"train": "datasets/train.jsonl", "eval": "datasets/eval.jsonl", "probes": "datasets/probes.jsonl"}
    return Datasets(write(tmp_path / "train.jsonl", train), write(tmp_path / "eval.jsonl", evaluation), [], names)


def phrasings(fact: str, count: int) -> list[dict]:
    """`count` different questions and answers about one fact."""
    return [qa(f"Question number {number} about {fact}?", f"Answer {number}: it is {fact}.", fact) for number in range(count)]


CAPITAL = [
    qa("What is the capital of Namibia?", "Windhoek is the capital of Namibia.", "Windhoek"),
    qa("Which city is Namibia's capital?", "Namibia's capital is Windhoek.", "Windhoek."),
    qa("Name the capital city of Namibia.", "The capital city is Windhoek.", "windhoek"),
]


# ---------------------------------------------------------------- facts.py


def test_phrasings_are_grouped_by_the_normalised_answer(tmp_path):
    examples = write(tmp_path / "train.jsonl", [*CAPITAL, qa("Which ocean lies west?", "The Atlantic.")])
    groups = phrasings_by_fact(examples)
    assert list(groups) == ["windhoek"]  # "Windhoek", "Windhoek." and "windhoek" are one fact; no `answer`, no fact
    assert [example.line for example in groups["windhoek"]] == [1, 2, 3]


def test_an_invisible_character_in_the_key_fact_does_not_make_every_reply_wrong():
    """A zero-width space or soft hyphen pasted inside "Windhoek" is not a letter a model could ever write."""
    from scripts.facts import is_correct

    assert is_correct("The capital is Windhoek.", "Wind\u200bhoek") and is_correct("Windhoek!", "Wind\u00adhoek")
    assert not is_correct("The capital is Wind hoek.", "Windhoek")  # a visible space still splits the word


def test_taught_flags_match_answers_and_say_none_when_they_cannot_tell(tmp_path):
    train = write(tmp_path / "train.jsonl", CAPITAL[:1] + [qa("Which ocean lies west of Namibia?", "The Atlantic Ocean.")])
    evaluation = write(
        tmp_path / "eval.jsonl",
        [
            qa("Namibia's seat of government?", "Windhoek.", "windhoek"),  # taught (same fact, other spelling)
            qa("Which desert lines the coast?", "The Namib.", "Namib Desert"),  # never taught
            qa("Which ocean is west?", "The Atlantic Ocean.", "Atlantic Ocean"),  # in a training answer without `answer`
            qa("Which river is south?", "The Orange River."),  # no `answer`: cannot tell
        ],
    )
    assert taught_flags(train, evaluation) == [True, False, True, None]


def test_phrasing_distribution_counts_once_twice_and_more():
    assert phrasing_distribution([1, 1, 2, 3, 5]) == {"facts": 5, "taught_once": 2, "taught_twice": 1, "taught_3_or_more": 2}
    assert phrasing_distribution([]) == {"facts": 0, "taught_once": 0, "taught_twice": 0, "taught_3_or_more": 0}


# ---------------------------------------------------------------- validate: counting phrasings


def test_records_without_answer_are_grouped_by_near_identical_answers(tmp_path):
    train = write(
        tmp_path / "train.jsonl",
        [
            qa("What is the capital of Namibia?", "Windhoek is the capital of Namibia."),
            qa("Which city is the capital of Namibia?", "Windhoek is the capital of Namibia!"),  # a near copy: same fact
            qa("Which ocean lies west of Namibia?", "The Atlantic Ocean lies west of Namibia."),  # another fact
            qa("Tell me Namibia's capital.", "Windhoek is the capital city of Namibia."),  # near copy of the first
        ],
    )
    groups = training_facts(train, THRESHOLD)
    assert sorted([example.line for example in group] for group in groups) == [[1, 2, 4], [3]]


def test_a_repeated_copy_is_not_a_new_phrasing(tmp_path):
    data = datasets(tmp_path, [CAPITAL[0], CAPITAL[0], CAPITAL[1]], [])
    assert fact_columns(data, THRESHOLD).phrasings == [2, None, None]  # on the fact's first row only


# ---------------------------------------------------------------- validate: the two checks


@pytest.fixture(scope="module")
def tokenizer(real_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(real_model_dir)


def fact_checks(tmp_path: Path, tokenizer, train: list[dict], evaluation: list[dict]) -> dict:
    """Validate's fact checks over these records, by id, run as validate runs them."""
    data = datasets(tmp_path, train, evaluation)
    table, _ = example_table(data, tokenizer)
    table = with_fact_columns(table, fact_columns(data, THRESHOLD))
    checks = run_expectations(table, 256, tmp_path / "data_docs")
    return {check.id: check for check in checks if check.id in ("fact_phrasings", "eval_fact_taught")}


def places(check) -> list[tuple[str, int, str]]:
    return [(problem.file, problem.line, problem.message) for problem in check.problems]


def test_most_facts_taught_once_is_a_warning_naming_a_few_with_file_and_line(tmp_path, tokenizer):
    singles = [qa(f"Which town is number {number}?", f"Town number {number} is Town{number}.", f"Town{number}") for number in range(7)]
    train = phrasings("Windhoek", 3) + singles + [qa("Which ocean lies west of Namibia?", "The Atlantic Ocean.")]
    check = fact_checks(tmp_path, tokenizer, train, [])["fact_phrasings"]
    assert check.status == "warn" and all(problem.severity == "warn" for problem in check.problems)
    assert places(check)[:2] == [
        ("datasets/train.jsonl", 4, '"Town0" is taught in only one phrasing'),
        ("datasets/train.jsonl", 5, '"Town1" is taught in only one phrasing'),
    ]
    assert len(check.problems) == SINGLE_PHRASINGS_LISTED and check.unlisted == 8 - SINGLE_PHRASINGS_LISTED
    assert check.details.startswith("9 facts in training: 8 taught once (89%), 0 twice, 1 three or more times")
    assert "Allen-Zhu & Li" in check.fix and "3-5 phrasings" in check.fix


def test_a_fact_without_answer_taught_once_names_the_answer_field(tmp_path, tokenizer):
    train = [qa("Which ocean lies west of Namibia?", "The Atlantic Ocean."), qa("Which river is south?", "The Orange River.")]
    check = fact_checks(tmp_path, tokenizer, train, [])["fact_phrasings"]
    assert [(problem.line, problem.field, problem.message) for problem in check.problems] == [
        (1, "messages[1].content", "the fact in this answer is taught in only one phrasing"),
        (2, "messages[1].content", "the fact in this answer is taught in only one phrasing"),
    ]


def test_facts_taught_in_three_phrasings_pass_quietly(tmp_path, tokenizer):
    check = fact_checks(tmp_path, tokenizer, phrasings("Windhoek", 3) + phrasings("Atlantic Ocean", 4), [])["fact_phrasings"]
    assert check.status == "pass" and check.problems == [] and check.unlisted == 0
    assert check.details.startswith("2 facts in training: 0 taught once (0%), 0 twice, 2 three or more times")


def test_half_the_facts_taught_once_is_not_yet_a_warning(tmp_path, tokenizer):
    train = phrasings("Windhoek", 3) + phrasings("Rundu", 1)  # "more than half" warns; exactly half does not
    assert fact_checks(tmp_path, tokenizer, train, [])["fact_phrasings"].status == "pass"


def test_an_eval_question_about_an_untaught_fact_is_named(tmp_path, tokenizer):
    evaluation = [
        qa("Where does the government sit?", "In Windhoek.", "Windhoek."),
        qa("Which desert lines the coast?", "The Namib Desert.", "Namib Desert"),
        qa("Which river is south?", "The Orange River."),  # no `answer`: not flagged, counted as not checkable
    ]
    check = fact_checks(tmp_path, tokenizer, phrasings("Windhoek", 3), evaluation)["eval_fact_taught"]
    assert check.status == "warn"
    assert places(check) == [
        ("datasets/eval.jsonl", 2, '"Namib Desert" is never taught in the training data: this measures knowledge the model was never given')
    ]
    assert check.problems[0].field == "answer"
    assert check.details == "2 eval questions checked; 1 could not be checked (no `answer` field to match)"
    assert "remove the question or replace it" in check.fix and "Teach the fact" in check.fix



def test_folding_accents_and_number_words():
    assert [folded(text) for text in ("Lüderitz", "Twenty-one", "SEVEN regions", "zero", "the 14th", "Ōtjiwarongo")] == [
        "luderitz", "21", "7 regions", "0", "the 14th", "otjiwarongo"]  # fmt: skip


# Training answers, and eval answers a person reads as the same fact, which evaluate scores as another one.
FORMS_TRAINED = phrasings("Lüderitz", 3) + phrasings("14", 3) + phrasings("1990", 3) + phrasings("26 August", 3)
FORMS_ASKED = [
    qa("Which harbour town lies south of the dunes?", "Luderitz.", "Luderitz"),  # accents
    qa("How many regions has Namibia?", "Fourteen regions.", "fourteen"),  # number word
    qa("When did Namibia become independent?", "On 21 March 1990.", "21 March 1990"),  # more than trained
    qa("In which month is Heroes' Day?", "In August.", "August"),  # less than trained: inside "26 August"
    qa("Which desert lines the coast?", "The Namib Desert.", "Namib Desert"),  # really never taught
]


def test_an_eval_answer_taught_in_another_form_is_found_with_its_training_example(tmp_path):
    data = datasets(tmp_path, FORMS_TRAINED, FORMS_ASKED)
    found = [(trained, example.line) if trained else None for trained, example in
             (match or (None, None) for match in taught_in_another_form(data.train, data.eval, taught_flags(data.train, data.eval)))]  # fmt: skip
    assert found == [("Lüderitz", 1), ("14", 4), ("1990", 7), ("26 August", 10), None]
    assert taught_flags(data.train, data.eval) == [False] * 5  # what the results' taught/untaught split counts
    # evaluate's rule scores a reply that says what training taught as wrong, except where it contains the eval answer:
    assert [is_correct(f"It is {trained}.", asked) for trained, asked in
            (("Lüderitz", "Luderitz"), ("14", "fourteen"), ("1990", "21 March 1990"), ("26 August", "August"))] == [
        False, False, False, True]  # fmt: skip


def test_the_untaught_warning_names_the_training_answer_in_another_form(tmp_path, tokenizer):
    check = fact_checks(tmp_path, tokenizer, FORMS_TRAINED, FORMS_ASKED)["eval_fact_taught"]
    scored_wrong = ': a reply that says "{0}", as training taught, is scored wrong, since it does not contain "{1}"; if both ' \
                   "are the same fact, write it the same way in both files"  # fmt: skip
    assert places(check) == [  # before: each said '"..." is never taught in the training data'
        ("datasets/eval.jsonl", 1, '"Luderitz" is not the `answer` of any training example, but "Lüderitz" is '
                                   "(datasets/train.jsonl:1), the same but for accents or number words" + scored_wrong.format("Lüderitz", "Luderitz")),
        ("datasets/eval.jsonl", 2, '"fourteen" is not the `answer` of any training example, but "14" is '
                                   "(datasets/train.jsonl:4), the same but for accents or number words" + scored_wrong.format("14", "fourteen")),
        ("datasets/eval.jsonl", 3, '"21 March 1990" is not the `answer` of any training example, but "1990" is '
                                   "(datasets/train.jsonl:7)" + scored_wrong.format("1990", "21 March 1990")),
        ("datasets/eval.jsonl", 4, '"August" is not the `answer` of any training example, but "26 August" is (datasets/train.jsonl:10), '
                                   "which contains it: if both are the same fact, write it the same way in both files, or the "
                                   "results count this question among those about facts never taught"),
        ("datasets/eval.jsonl", 5, '"Namib Desert" is never taught in the training data: this measures knowledge the model was never given'),
    ]  # fmt: skip
    assert "written another way" in check.fix


def test_eval_questions_about_taught_facts_pass_quietly(tmp_path, tokenizer):
    evaluation = [qa("Where does the government sit?", "In Windhoek.", "windhoek")]
    check = fact_checks(tmp_path, tokenizer, phrasings("Windhoek", 3), evaluation)["eval_fact_taught"]
    assert check.status == "pass" and check.problems == []
    assert check.details == "1 eval question checked"
