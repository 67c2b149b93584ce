"""The loader: every record shape learners bring, and a clear file:line (and field) for broken files."""

from __future__ import annotations

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
