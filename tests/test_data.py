"""The loader: every record shape learners bring, and a clear file:line (and field) for broken files."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import REPO
from scripts.data import load_examples, read_records
from scripts.errors import UserError

FIXTURES = REPO / "tests" / "fixtures"


def load(name: str):
    return load_examples(FIXTURES / name, display_name=name)


def roles(example) -> list[str]:
    return [message["role"] for message in example.messages]


def test_messages_with_string_content():
    first, second = load("formats/messages_string.jsonl")
    assert roles(first) == ["system", "user", "assistant"]
    assert first.answer == "Windhoek is the capital of Namibia."
    assert first.meta == {"category": "geography", "answer": "Windhoek"}
    assert first.fields == ["messages[0].content", "messages[1].content", "messages[2].content"]
    assert (second.line, second.location) == (2, "formats/messages_string.jsonl:2")


def test_messages_with_content_parts_from_openai_and_llamafactory():
    openai_style, llamafactory_style = load("formats/messages_parts.jsonl")
    assert openai_style.messages[0]["content"] == "What is the capital of Namibia?"
    assert llamafactory_style.messages[1]["content"] == "In 1990."


def test_prompt_completion_plain_and_conversational():
    plain, conversational = load("formats/prompt_completion.jsonl")
    assert roles(plain) == ["user", "assistant"] and plain.fields == ["prompt", "completion"]
    assert roles(conversational) == ["system", "user", "assistant"]
    assert conversational.fields == ["prompt[0].content", "prompt[1].content", "completion[0].content"]


def test_alpaca_json_array_with_system_and_history():
    simple, with_history = load("formats/alpaca.json")
    assert simple.line == 2 and roles(simple) == ["user", "assistant"]
    assert simple.messages[0]["content"] == "Name the capital of Namibia."  # empty input adds nothing
    assert roles(with_history) == ["system", "user", "assistant", "user", "assistant"]
    assert with_history.messages[3]["content"] == "Translate into Afrikaans.\n\nGood morning"
    assert with_history.fields == ["system", "history[0][0]", "history[0][1]", "instruction", "output"]
    assert with_history.line == 7


def test_sharegpt_with_function_call_and_observation():
    tools, plain = load("formats/sharegpt.jsonl")
    assert roles(tools) == ["system", "user", "assistant", "tool", "assistant"]
    assert tools.fields[0] == "system" and tools.fields[3] == "conversations[2].value"
    assert "tools" in tools.meta
    assert roles(plain) == ["user", "assistant"]


def test_plain_text_records():
    first, _ = load("formats/text.jsonl")
    assert first.messages == [] and first.text.startswith("Namibia became independent")
    assert first.all_text() == first.answer == first.text


def test_byte_order_mark_windows_line_endings_and_blank_lines():
    examples = load("formats/bom_crlf_blank.jsonl")
    assert [example.line for example in examples] == [1, 3, 5]
    assert examples[0].messages[0]["content"] == "What is the capital of Namibia?"  # no BOM left in front


def test_line_separators_inside_a_json_string_do_not_split_the_record(tmp_path):
    """JSON allows U+2028, U+2029 and U+0085 unescaped inside a string (json.dumps(..., ensure_ascii=False) writes
    them as they are, from text pasted out of a web page or a PDF); str.splitlines cut the record in two there."""
    answers = ["Windhoek is the capital.\u2028It is also the largest city.", "Windhoek.\u2029More.", "Windhoek.\x85More."]
    records = [{"prompt": "What is the capital of Namibia?", "completion": answer} for answer in answers]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records) + "{broken\n", encoding="utf-8")
    with pytest.raises(UserError) as raised:  # the broken record is on line 4, as every editor numbers it
        load_examples(path, display_name="train.jsonl")
    assert str(raised.value).startswith("train.jsonl:4: not valid JSON")
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    assert [example.answer for example in load_examples(path)] == answers
    path.write_bytes("".join(json.dumps(record) + "\r" for record in records).encode())  # an old Mac's line ends
    assert [example.line for example in load_examples(path)] == [1, 2, 3]


def test_records_spread_over_several_lines_are_one_sentence(tmp_path):
    """Pretty-printed objects in a .jsonl file (an editor's "Format document", a chat window): every line of them
    was an error of its own, hundreds for a small file; one sentence names the first such record and both fixes."""
    records = [{"prompt": f"What is {number} + {number}?", "completion": str(2 * number)} for number in range(50)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(record, indent=2) + "\n" for record in records), encoding="utf-8")
    fix = ('but a .jsonl file holds each record on one line; put each record on one line, or make the file a JSON array: '
           '"[" before the first record, a comma between records and "]" after the last.')  # fmt: skip
    with pytest.raises(UserError) as raised:
        load_examples(path, display_name="train.jsonl")
    assert str(raised.value) == ('train.jsonl:1: a record spread over lines 1-4 (as an editor\'s "Format document" or a chat '
                                 f"window writes JSON), {fix}")  # fmt: skip
    lines = [json.dumps(record) for record in records]  # one record broken over two lines by an Enter key ...
    between_keys = lines[2].index(', "completion"') + 1
    lines[2:3] = [lines[2][:between_keys], lines[2][between_keys:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"^train\.jsonl:3: a record spread over lines 3-4 \("):
        read_records(path, display_name="train.jsonl")
    lines = [json.dumps(record) for record in records]  # ... or inside a text, which a JSON array refuses too
    lines[2:3] = [lines[2][:20], lines[2][20:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(UserError) as raised:
        read_records(path, display_name="train.jsonl")
    assert str(raised.value) == (
        "train.jsonl:3: a line break inside a text of the record on lines 3-4 (an Enter pressed while typing), which "
        "JSON does not allow; join its lines into one, writing \\n where the text should break."
    )
    path.write_text("[" + ",\n".join(json.dumps(record, indent=2) for record in records) + "]\n", encoding="utf-8")
    assert len(load_examples(path)) == 50  # the same records as a JSON array are fine


def test_a_data_file_saved_as_utf16_says_so(tmp_path):
    """Windows Notepad's "Unicode" is UTF-16: "not valid UTF-8" alone does not say what to change."""
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"prompt": "Hi", "completion": "Hello"}) + "\n", encoding="utf-16")
    with pytest.raises(UserError) as raised:
        load_examples(path, display_name="train.jsonl")
    assert str(raised.value) == ('train.jsonl:1: saved as UTF-16 (what Windows Notepad calls "Unicode"), which this template '
                                 'cannot read; save it again with the encoding "UTF-8".')  # fmt: skip



def test_a_git_lfs_pointer_says_the_data_was_not_downloaded(tmp_path):
    """A clone without git-lfs, and GitHub's checkout, leave the pointer in place of a file Git LFS stores."""
    path = tmp_path / "train.jsonl"
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "4d7a" * 16 + "\nsize 12345\n")
    with pytest.raises(UserError) as raised:
        read_records(path, "datasets/train.jsonl")  # every step's reader: the loader and validate's probe reader
    assert str(raised.value) == (
        "datasets/train.jsonl:1: a Git LFS pointer, not the data: Git LFS keeps this file's content elsewhere (a clone "
        "of a Hub dataset made without git-lfs gives such files), and the GitHub workflows do not download it; put the "
        "real file here (the Hub's download button, or `git lfs pull` in the clone it came from), and if this "
        "repository's .gitattributes sends the file to LFS, delete that line and commit .gitattributes with it."
    )  # before: three lines of "not valid JSON (Expecting value at column 1)"


CONVERT = "to_json('datasets/train.jsonl', orient='records', lines=True, force_ascii=False)\"` and point project.toml at the .jsonl file."


@pytest.mark.parametrize("suffix, reader", [
    (".csv", "read_csv('datasets/train.csv', dtype=str, keep_default_na=False)"),
    (".tsv", "read_csv('datasets/train.tsv', dtype=str, keep_default_na=False, sep='\\t')"),
])  # fmt: skip
def test_a_csv_table_is_named_with_the_command_that_converts_it(tmp_path, suffix, reader):
    separator = "," if suffix == ".csv" else "\t"
    rows = [["prompt", "completion", "answer", "category"], ["When did Namibia become independent?", "In 1990.", "1990", "NA"]]
    path = tmp_path / f"train{suffix}"
    path.write_text("".join(separator.join(row) + "\n" for row in rows), encoding="utf-8")
    with pytest.raises(UserError) as raised:
        load_examples(path, display_name=f"datasets/train{suffix}")
    table = suffix[1:].upper()
    assert str(raised.value) == (
        f"datasets/train{suffix}:1: a {table} table, but this template reads JSON Lines text (one JSON object per line); "
        "name its columns prompt and completion (or instruction and output), then convert it to JSON Lines with "
        f'`python -c "import pandas as pd; pd.{reader}.' + CONVERT
    )  # before: one "not valid JSON" per line
    # The command it gives works, and keeps a year and "NA" (Namibia) as text.
    command = str(raised.value).split("`")[1].removeprefix('python -c "').removesuffix('"')
    (tmp_path / "datasets").mkdir()
    path.rename(tmp_path / "datasets" / path.name)
    subprocess.run([sys.executable, "-c", command], cwd=tmp_path, check=True)
    [example] = load_examples(tmp_path / "datasets" / "train.jsonl")
    assert example.messages[1]["content"] == "In 1990." and example.meta == {"answer": "1990", "category": "NA"}


def test_a_parquet_file_is_named_with_the_command_that_converts_it(tmp_path):
    import pandas as pd

    (tmp_path / "datasets").mkdir()
    pd.DataFrame([{"prompt": "Capital of Namibia?", "completion": "Windhoek."}]).to_parquet(tmp_path / "datasets" / "train.parquet")
    with pytest.raises(UserError) as raised:
        load_examples(tmp_path / "datasets" / "train.parquet", display_name="datasets/train.parquet")
    assert str(raised.value) == (
        "datasets/train.parquet:1: a Parquet file, but this template reads JSON Lines text (one JSON object per line); "
        "convert it to JSON Lines with `python -c \"import pandas as pd; pd.read_parquet('datasets/train.parquet')." + CONVERT
    )  # before: "not valid UTF-8 text (an editor saved it in another encoding, ...)"
    command = str(raised.value).split("`")[1].removeprefix('python -c "').removesuffix('"')
    subprocess.run([sys.executable, "-c", command], cwd=tmp_path, check=True)
    assert load_examples(tmp_path / "datasets" / "train.jsonl")[0].answer == "Windhoek."


def test_a_spreadsheet_workbook_says_to_save_it_as_csv(tmp_path):
    import zipfile

    path = tmp_path / "train.xlsx"
    with zipfile.ZipFile(path, "w") as workbook:  # an .xlsx file is a ZIP archive of XML files
        workbook.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(UserError) as raised:
        load_examples(path, display_name="datasets/train.xlsx")
    assert str(raised.value) == (
        "datasets/train.xlsx:1: a ZIP archive (an Excel or LibreOffice workbook is one), but this template reads JSON "
        'Lines text; save the sheet as "CSV UTF-8", with the columns prompt and completion, point project.toml at the '
        ".csv file and run `python -m scripts validate`: it then says how to convert it."
    )



@pytest.mark.parametrize("role, whose, meant", [
    ("function", "OpenAI's older name for a tool's reply", "tool"),
    ("developer", "OpenAI's newer name for the system turn", "system"),
    ("model", "Gemma's name for the assistant turn", "assistant"),
])  # fmt: skip
def test_a_role_another_tool_writes_names_the_role_to_write(tmp_path, role, whose, meant):
    """Not a typo, so "fix the spelling" (what it said before) does not help."""
    path = tmp_path / "train.jsonl"
    messages = [{"role": "user", "content": "Capital?"}, {"role": role, "content": "Windhoek"}, {"role": "assistant", "content": "Windhoek."}]
    path.write_text(json.dumps({"messages": messages}) + "\n", encoding="utf-8")
    with pytest.raises(UserError) as raised:
        load_examples(path, display_name="datasets/train.jsonl")
    assert str(raised.value) == (f'datasets/train.jsonl:1 field "messages[1].role": role {role!r} is not one of system, user, '
                                 f'assistant, tool; it is {whose}, so write "{meant}".')  # fmt: skip

BROKEN = [
    ("bad_json.jsonl", "broken/bad_json.jsonl:3: not valid JSON"),
    ("missing_field.jsonl", 'broken/missing_field.jsonl:2 field "completion": missing'),
    ("bad_role.jsonl", 'broken/bad_role.jsonl:2 field "messages[1].role": role \'bot\''),
    ("array_missing_comma.json", "broken/array_missing_comma.json:4: expected a comma"),
    ("not_object.jsonl", "broken/not_object.jsonl:2: each record must be a JSON object"),
    ("image_part.jsonl", 'broken/image_part.jsonl:1 field "messages[0].content[1]": part type "image_url"'),
    ("unknown_format.jsonl", "broken/unknown_format.jsonl:1: cannot tell the record format"),
    ("number_content.jsonl", 'broken/number_content.jsonl:2 field "messages[1].content": must be text'),
    ("sharegpt_bad_from.jsonl", 'broken/sharegpt_bad_from.jsonl:1 field "conversations[1].from"'),
    ("not_utf8.jsonl", "broken/not_utf8.jsonl:2: not valid UTF-8"),
]


@pytest.mark.parametrize("name, message", BROKEN, ids=[name for name, _ in BROKEN])
def test_broken_files_name_the_file_line_and_field(name, message):
    with pytest.raises(UserError) as raised:
        load(f"broken/{name}")
    assert str(raised.value).startswith(message)


def test_missing_file_is_a_user_error():
    with pytest.raises(UserError, match="file not found"):
        load("formats/nothing-here.jsonl")


def test_read_records_accepts_any_json_objects():
    records = read_records(FIXTURES / "checks" / "probes.jsonl")
    assert [line for line, _ in records] == [1, 2]
    assert records[0][1]["id"] == "gender-teacher"


# ---------------------------------------------------------------- several broken records in one run

GOOD = '{"messages": [{"role": "user", "content": "Question %d?"}, {"role": "assistant", "content": "Answer %d."}]}'
NOT_JSON = "not valid JSON (Expecting ',' delimiter at column %d); each line must be one complete JSON object, with double quotes around keys and text."


def write_lines(path, broken: dict[int, str], total: int = 40):
    """A JSONL file of `total` good records, with line number -> text replaced by `broken`."""
    lines = [broken.get(number, GOOD % (number, number)) for number in range(1, total + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def error_of(path, loader=load_examples) -> str:
    with pytest.raises(UserError) as raised:
        loader(path, display_name=path.name) if loader is load_examples else loader(path, path.name)
    return str(raised.value)


def test_every_broken_line_is_named_in_one_run(tmp_path):
    cut = {number: (GOOD % (number, number))[:-3] for number in (5, 9, 30)}  # a missing quote and brackets at the end
    bad_role = '{"messages": [{"role": "bot", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]}'
    path = write_lines(tmp_path / "train.jsonl", cut | {12: bad_role})
    assert error_of(path).splitlines() == [
        "train.jsonl: 4 records cannot be read; fix each line below, then run the command again:",
        "  train.jsonl:5: " + NOT_JSON % 103,
        "  train.jsonl:9: " + NOT_JSON % 103,
        "  train.jsonl:12 field \"messages[0].role\": role 'bot' is not one of system, user, assistant, tool; fix the spelling.",
        "  train.jsonl:30: " + NOT_JSON % 105,
    ]


def test_read_records_also_names_every_broken_line(tmp_path):
    path = write_lines(tmp_path / "probes.jsonl", {2: "{", 4: "[1, 2]"}, total=5)
    assert error_of(path, read_records).splitlines() == [
        "probes.jsonl: 2 records cannot be read; fix each line below, then run the command again:",
        "  probes.jsonl:2: not valid JSON (Expecting property name enclosed in double quotes at column 2); "
        "each line must be one complete JSON object, with double quotes around keys and text.",
        "  probes.jsonl:4: each record must be a JSON object {...}, not list.",
    ]


def test_a_long_list_of_broken_lines_is_capped(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", {number: '{"messages": [' for number in range(2, 60, 2)}, total=60)
    lines = error_of(path).splitlines()
    assert lines[0] == "train.jsonl: 29 records cannot be read; fix each line below, then run the command again:"
    assert [line.split(":")[1] for line in lines[1:21]] == [str(number) for number in range(2, 42, 2)]
    assert lines[21:] == ["  ... and 9 more (fix these and run the command again to see them)"]


def test_one_broken_line_is_still_one_sentence(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", {3: "{oops}"}, total=4)
    assert error_of(path) == (
        "train.jsonl:3: not valid JSON (Expecting property name enclosed in double quotes at column 2); "
        "each line must be one complete JSON object, with double quotes around keys and text."
    )


@pytest.mark.parametrize(
    "line, cause",
    [
        ('{“messages”: []}', '"“" is a curly quote, which JSON does not accept around keys and text; type straight double quotes (").'),
        ("{'messages': []}", "JSON needs double quotes around keys and text, not single quotes (a Python dict printed as it is "
                             "has those: write records with json.dumps)."),
        ('{"messages": [], }', "remove the comma before }: JSON allows no comma after the last item."),
    ],
    ids=["curly-quotes", "single-quotes", "trailing-comma"],
)  # fmt: skip
def test_the_usual_causes_of_broken_json_are_named(tmp_path, line, cause):
    """Pasted from a word processor, printed from Python, or a comma left after the last item."""
    path = write_lines(tmp_path / "train.jsonl", {2: line}, total=3)
    assert error_of(path).startswith("train.jsonl:2: not valid JSON (")
    assert error_of(path).endswith(f"); {cause}")


def test_json_array_reading_goes_on_after_a_broken_record(tmp_path):
    records = [json.loads(GOOD % (number, number)) for number in range(1, 8)]
    text = json.dumps(records, indent=2)
    text = text.replace('"Question 2?"', '"Question 2?')  # an unclosed string
    text = text.replace('"role": "assistant",\n        "content": "Answer 5."', '"role": "assistant"\n        "content": "Answer 5."')
    path = tmp_path / "train.json"
    path.write_text(text, encoding="utf-8")
    assert error_of(path).splitlines() == [
        "train.json: 2 records cannot be read; fix each line below, then run the command again:",
        "  train.json:18: not valid JSON (Invalid control character at column 32); check for a missing comma, quote or bracket near there.",
        "  train.json:58: not valid JSON (Expecting ',' delimiter at column 9); check for a missing comma, quote or bracket near there.",
    ]


def test_json_array_names_every_missing_comma_between_records(tmp_path):
    path = tmp_path / "train.json"
    path.write_text("[" + "\n".join(GOOD % (number, number) for number in range(1, 4)) + "]", encoding="utf-8")
    assert error_of(path).splitlines()[1:] == [
        "  train.json:2: expected a comma or ] after the record; add the missing comma.",
        "  train.json:3: expected a comma or ] after the record; add the missing comma.",
    ]


def test_json_array_that_never_ends(tmp_path):
    path = tmp_path / "train.json"
    path.write_text("[" + GOOD % (1, 1) + ",\n", encoding="utf-8")
    assert error_of(path) == "train.json:1: the array never ends; add ] after the last record."


# ---------------------------------------------------------------- records nested too deeply

TOO_DEEP = (
    'nested more than 100 levels deep ([[[... or {"a": {"a": ...); '
    "a record is one object of text fields and short lists, so remove the extra brackets."
)


def nested_tags(depth: int) -> str:
    return GOOD[:-1] % (1, 1) + ', "tags": ' + "[" * depth + "]" * depth + "}"


def test_deeply_nested_lines_are_named_not_crashed_on(tmp_path):
    path = write_lines(
        tmp_path / "train.jsonl",
        {2: "[" * 5000 + "]" * 5000, 3: '{"a": ' * 5000 + "1" + "}" * 5000, 4: nested_tags(101)},
        total=6,
    )  # 5000 levels overflow json's own recursion; 101 parse, but would overflow pickling in validate
    assert error_of(path).splitlines()[1:] == [f"  train.jsonl:{line}: {TOO_DEEP}" for line in (2, 3, 4)]


def test_nesting_a_real_record_needs_loads(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", {1: nested_tags(99)}, total=2)
    assert len(load_examples(path)) == 2


def test_deeply_nested_array_element_is_named_and_reading_goes_on(tmp_path):
    path = tmp_path / "train.json"
    path.write_text("[\n" + GOOD % (1, 1) + ",\n" + "[" * 5000 + "]" * 5000 + ",\n" + "{oops}\n]", encoding="utf-8")
    assert error_of(path).splitlines()[1:] == [
        f"  train.json:3: {TOO_DEEP}",
        "  train.json:4: not valid JSON (Expecting property name enclosed in double quotes at column 2); "
        "check for a missing comma, quote or bracket near there.",
    ]


# ---------------------------------------------------------------- keys spelt differently from the ones the steps read

QUESTION = [{"role": "user", "content": "What is the capital of Namibia?"}, {"role": "assistant", "content": "Windhoek is."}]


@pytest.mark.parametrize(
    "record, key, meant, lost",
    [
        ({"messages": QUESTION, "Answer": "Windhoek"}, "Answer", "answer", "evaluate would score the whole reference answer"),
        ({"messages": QUESTION, "anwser": "Windhoek"}, "anwser", "answer", "evaluate would score the whole reference answer"),
        ({"messages": QUESTION, "Categories": "geo"}, "Categories", "category", "results and the balance check would not see"),
        ({"messages": QUESTION, "tag": ["geo"]}, "tag", "tags", "the balance check would not see these tags"),
        ({"instruction": "Translate.", "Input": "Good morning", "output": "Goeie môre"}, "Input", "input", "the steps would leave this text out"),
    ],
)  # fmt: skip
def test_a_key_one_typo_from_a_key_the_steps_read_is_refused(tmp_path, record, key, meant, lost):
    """Such a key is kept but never read: an "Answer" would make evaluate look for the whole reference sentence."""
    first = json.dumps({"instruction": "Hi.", "output": "Hello."}) if "instruction" in record else GOOD % (1, 1)  # sets the format
    path = tmp_path / "eval.jsonl"
    path.write_text(first + "\n" + json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    message = error_of(path)
    assert message.startswith(f'eval.jsonl:2 field "{key}": not a key this template reads, so {lost}')
    assert message.endswith(f'; rename it "{meant}" (keys are case-sensitive).')


def test_other_extra_keys_load_as_they_are(tmp_path):
    record = {"messages": QUESTION, "answer": "Windhoek", "answer_id": 7, "source": "x", "tools": [], "lang": "en"}
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    (example,) = load_examples(path)
    assert set(example.meta) == {"answer", "answer_id", "source", "tools", "lang"}


def test_a_system_prompt_beside_messages_is_refused(tmp_path):
    """ShareGPT and alpaca records carry "system" beside the turns; a "messages" record would silently drop it."""
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"system": "You are a tour guide.", "messages": QUESTION}) + "\n", encoding="utf-8")
    assert error_of(path) == (
        'train.jsonl:1 field "system": a "messages" record has no separate system prompt, so this one would be ignored; '
        'move it into messages as the first turn, {"role": "system", "content": "..."}.'
    )


def test_a_format_the_step_asks_for_names_no_project_setting(tmp_path):
    """augment reads its proposals file as "messages" whatever [data] format says: the error must not blame the setting."""
    path = tmp_path / "proposals.jsonl"
    path.write_text(json.dumps({"messages": QUESTION}) + "\n" + json.dumps({"prompt": "Hi.", "completion": "Hello."}) + "\n")
    with pytest.raises(UserError) as error:
        load_examples(path, "messages", display_name="proposals.jsonl")
    assert str(error.value) == (
        'proposals.jsonl:2 field "messages": missing; every record in this file is in the "messages" format (the only '
        "format this step reads), which needs messages."
    )
