"""Files written by other projects (../shared/interop/) load, and validate finds their real problems."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import SHARED
from scripts.__main__ import main as cli
from scripts.data import load_examples
from test_validate import fixture_project

INTEROP = SHARED / "interop"
if not INTEROP.is_dir():
    pytest.skip(f"{INTEROP} is missing: the shared interop corpus is not checked out next to this repository", allow_module_level=True)

FILES = sorted(path.name for path in INTEROP.iterdir() if path.suffix in (".json", ".jsonl"))


@pytest.mark.parametrize("name", FILES)
def test_every_file_loads(name):
    examples = load_examples(INTEROP / name, display_name=name)
    assert examples
    assert all(example.messages and example.fields for example in examples)


@pytest.fixture(scope="module")
def validated(tmp_path_factory, real_model_dir):
    """name -> (exit code, report) of validate with that file as the training data."""
    results = {}
    for name in FILES:
        folder = tmp_path_factory.mktemp(name.split(".")[0])
        config = fixture_project(folder, real_model_dir, "clean", train=f'"datasets/{name}"')
        shutil.copy(INTEROP / name, folder / "datasets" / name)
        code = cli(["validate", "--config", str(config)])
        results[name] = code, json.loads((folder / "outputs" / "validate" / "report.json").read_text(encoding="utf-8"))
    return results


def problems(report: dict, check: str) -> list[tuple]:
    return [(p["file"], p["line"], p["field"], p["message"]) for p in report["problems"] if p["check"] == check]


def test_validate_runs_on_every_file(validated):
    assert sorted(validated) == FILES
    assert {code for code, _ in validated.values()} <= {0, 1}  # a report, never a crash or a load error


def test_identity_placeholders_are_reported(validated):
    code, report = validated["llamafactory_identity.json"]
    assert code == 1
    found = problems(report, "placeholders")
    assert found[0] == ("datasets/llamafactory_identity.json", 2, "output", "unfilled placeholder: {{name}}, {{author}}")
    assert len(found) > 80


def test_openai_toy_file_missing_user_turn_and_huge_answer_are_reported(validated):
    code, report = validated["openai_cookbook_toy_chat_fine_tuning.jsonl"]
    assert code == 1
    name = "datasets/openai_cookbook_toy_chat_fine_tuning.jsonl"
    assert problems(report, "role_order") == [(name, 4, "messages", "there is no user turn, so the model learns to answer nothing")]
    [(file, line, field, message)] = problems(report, "fits_max_length")
    assert (file, line, field) == (name, 5, "messages[2].content")
    assert int(message.split()[0]) > 5000


@pytest.mark.parametrize(
    "name", ["llamafactory_alpaca_en_demo.json", "llamafactory_glaive_toolcall_en_demo.json", "llamafactory_v1_sft_demo.jsonl"]
)
def test_well_formed_files_have_no_structural_problems(validated, name):
    _, report = validated[name]
    for check in ("role_order", "empty_turns", "answer_filled", "ends_with_assistant"):
        assert problems(report, check) == [], check



def test_tool_definitions_training_leaves_out_are_a_warning(validated):
    """The glaive tool-call file's "tools" (JSON text, "[]" when a conversation has none) never reach the prompt."""
    code, report = validated["llamafactory_glaive_toolcall_en_demo.json"]
    name = "datasets/llamafactory_glaive_toolcall_en_demo.json"
    records = json.loads((INTEROP / "llamafactory_glaive_toolcall_en_demo.json").read_text(encoding="utf-8"))
    found = problems(report, "tool_definitions")
    assert len(found) == sum(record["tools"] != "[]" for record in records) == 191
    assert found[0] == (name, 2, "tools", 'the "tools" list is not shown to the model, so it would learn to call tools it '
                                          "never sees defined and make up their arguments")  # fmt: skip
    assert {p["severity"] for p in report["problems"] if p["check"] == "tool_definitions"} == {"warn"}
    for other in FILES:  # no other file defines tools
        assert other == "llamafactory_glaive_toolcall_en_demo.json" or problems(validated[other][1], "tool_definitions") == []
