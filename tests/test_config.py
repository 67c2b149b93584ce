"""project.toml: the shipped file loads, every field is documented, and mistakes give one clear sentence."""

from __future__ import annotations

import dataclasses

import pytest

from conftest import REPO, run_cli
from scripts.config import SECTIONS, Settings, field_docs, load_settings
from scripts.errors import UserError


def test_shipped_project_toml_loads_with_its_documented_values():
    cfg = load_settings(REPO / "project.toml")
    assert cfg.model.base == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert cfg.lora.rank == 32 and cfg.train.backend == "runner" and cfg.publish.space_kind == "static"
    assert all(getattr(cfg.card, name).strip() for name in field_docs(type(cfg.card))), "the example fills every ethics field"


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_field_has_a_docstring_and_appears_in_project_toml(section):
    cls = SECTIONS[section]
    docs = field_docs(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    assert set(docs) == set(names), f"[{section}] fields without a docstring: {set(names) - set(docs)}"
    shipped = (REPO / "project.toml").read_text()
    for name in names:
        assert f"\n{name} = " in shipped, f"project.toml does not show [{section}] {name}"


def _error_for(tmp_path, text: str) -> str:
    path = tmp_path / "project.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError) as caught:
        load_settings(path)
    return str(caught.value).replace(str(tmp_path) + "/", "")


@pytest.mark.parametrize(
    "text, message",
    [
        ("[train]\nlearning_rat = 0.1\n", "project.toml:2 [train]: unknown key learning_rat (did you mean learning_rate?) in [train]."),
        ("[lora]\nrank = 8\nrnak = 3\n", "project.toml:3 [lora]: unknown key rnak (did you mean rank?) in [lora]."),
        ("[trian]\nepochs = 1\n", "project.toml:1 [trian]: unknown section [trian] (did you mean train?)."),
        ('[train]\nlearning_rate = "fast"\n', "project.toml:2 [train]: learning_rate must be a number (no quotes); got 'fast'."),
        ('[lora]\nrank = "16"\n', "project.toml:2 [lora]: rank must be a whole number (no quotes); got '16'."),
        ("[lora]\nrank = 0\n", "project.toml:2 [lora]: rank is 0; allowed values are from 1 to 1024."),
        ('[train]\nbackend = "gpu"\n', 'project.toml:2 [train]: backend is \'gpu\'; allowed values are "runner", "hf-jobs", "colab".'),
        ('[model]\ntrust_remote_code = "yes"\n', "project.toml:2 [model]: trust_remote_code must be true or false (no quotes); got 'yes'."),
        ("[lora]\nrank = 8\nalpha = 16\nrank = 16\n", "project.toml:4 [lora]: rank is set twice, on lines 2 and 4; keep the value you want and delete the other line."),
        ('[project]\nname = "a"\n"name" = "b"\n', "project.toml:3 [project]: name is set twice, on lines 2 and 3; keep the value you want and delete the other line."),
        ("[lora]\nrank = 8\n[train]\nepochs = 1\n[lora]\nalpha = 16\n", "project.toml:5: section [lora] appears twice, on lines 1 and 5; move the settings under the second [lora] up under the first, and delete the second header."),
        ("lora.rank = 8\n[lora]\nalpha = 16\n", "project.toml:2: section [lora] appears twice, on lines 1 and 2; move the settings under the second [lora] up under the first, and delete the second header."),
        ('[lora]\ntarget_modules = "q_proj"\n', "project.toml:2 [lora]: target_modules must be a list of strings, like [\"a\", \"b\"], or \"all-linear\"; got 'q_proj'."),
        ('[lora]\ntarget_modules = ["q_proj", 1]\n', "project.toml:2 [lora]: target_modules must be a list of strings, like [\"a\", \"b\"]; got ['q_proj', 1]."),
        ("[lora]\ntarget_modules = []\n", 'project.toml:2 [lora]: target_modules is empty, so no layer would get an adapter: list layer names like ["q_proj", "v_proj"], or write "all-linear".'),
        # A value deleted in the web editor: the steps would look for a file or model named "" (the project folder).
        ('[data]\ntrain = ""\n', 'project.toml:2 [data]: train is empty, so there is nothing to train on; name your training file, like train = "datasets/train.jsonl".'),
        ('[data]\neval = " "\n', 'project.toml:2 [data]: eval is empty, so nothing would measure the model; name your held-out file, like eval = "datasets/eval.jsonl".'),
        ('[model]\nbase = ""\n', 'project.toml:2 [model]: base is empty, so there is no model to tune; write a Hub id such as "HuggingFaceTB/SmolLM2-135M-Instruct", or a local folder.'),
    ],
)
def test_mistakes_name_the_line_the_key_and_the_fix(tmp_path, text, message):
    assert _error_for(tmp_path, text) == message


REVISION_FIX = ("so code that loads the published adapter, the model card's example and the Space would fail to load the base "
                'model; write "main", or pin the 40-character commit hash from the base model\'s "Files and versions" history.')


@pytest.mark.parametrize("revision, problem", [("", "is empty"), ("main ", 'cannot be a branch, tag or commit of a Hub model'),
                                               ("my pinned commit", "cannot be"), ("v1..0", "cannot be")])  # fmt: skip
def test_a_revision_the_hub_cannot_have_names_the_line_and_the_fix(tmp_path, revision, problem):
    """On the runner the bundled copy trains whatever revision says: only the published code would fail, after the merge."""
    message = _error_for(tmp_path, f'[model]\nbase = "HuggingFaceTB/SmolLM2-135M-Instruct"\nrevision = "{revision}"\n')
    shown = problem if problem == "is empty" else f'"{revision}" cannot be a branch, tag or commit of a Hub model'
    assert message == f"project.toml:3 [model]: revision {shown}, {REVISION_FIX}"


@pytest.mark.parametrize("revision", ["main", "v1.0", "refs/pr/4", "0123abc", "feature/x", "a" * 40])
def test_a_branch_tag_or_commit_is_a_revision(tmp_path, revision):
    path = tmp_path / "project.toml"
    path.write_text(f'[model]\nrevision = "{revision}"\n', encoding="utf-8")
    assert load_settings(path).model.revision == revision


def test_toml_syntax_error_names_the_line(tmp_path):
    message = _error_for(tmp_path, '[project]\nname = "x"\nlicense = apache\n')
    assert message.startswith("project.toml:3: TOML syntax error: Invalid value;")


@pytest.mark.parametrize(
    "line, message",
    [
        ('name = “namibia-qa”', '"“" is a curly quote, which TOML does not accept around text; type straight double quotes (").'),
        ("license = ‘apache-2.0’", '"‘" is a curly quote, which TOML does not accept around text; type straight double quotes (").'),
        ('languages = ["en", “af”]', '"“" is a curly quote, which TOML does not accept around text; type straight double quotes (").'),
        ('name = "namibia-qa', 'a text in quotes is not closed on this line; add the closing double quote (").'),
        ('name\u00a0= "namibia-qa"', "column 5 holds U+00A0, a space-like or invisible character often copied from a web "
                                   "page, which TOML does not accept outside quotes; delete it (and type an ordinary space "
                                   "where one is needed)."),
        ('\u200bname = "namibia-qa"', "column 1 holds U+200B, a space-like or invisible character often copied from a web "
                                     "page, which TOML does not accept outside quotes; delete it (and type an ordinary space "
                                     "where one is needed)."),
    ],
)
def test_the_usual_causes_of_a_toml_syntax_error_are_named(tmp_path, line, message):
    """A phone, a word processor or a chat window types curly quotes; tomllib says only "Invalid value"."""
    assert _error_for(tmp_path, f'[project]\ndescription = "A “quoted” word is fine inside straight quotes."\n{line}\n') == (
        f"project.toml:3: TOML syntax error: {message}"
    )


@pytest.mark.parametrize(
    "encoding, message",
    [
        ("utf-16", 'project.toml:1: saved as UTF-16 (what Windows Notepad calls "Unicode"), which this template cannot read; '
                   'save it again with the encoding "UTF-8".'),
        ("cp1252", 'project.toml:3: not valid UTF-8 text (an editor saved it in another encoding, such as Notepad\'s "ANSI"); '
                   'save the file again with the encoding "UTF-8".'),
    ],
)  # fmt: skip
def test_a_project_toml_saved_in_another_encoding_names_it(tmp_path, encoding, message):
    """Windows Notepad's "Unicode" and "ANSI": reading it stopped with a Python traceback."""
    path = tmp_path / "project.toml"
    path.write_text('[project]\nname = "cafe"\ndescription = "Answers about a café."\n', encoding=encoding)
    with pytest.raises(UserError) as caught:
        load_settings(path)
    assert str(caught.value) == message.replace("project.toml", str(path), 1)


def test_unclosed_bracket_points_at_the_end(tmp_path):
    message = _error_for(tmp_path, '[project]\nlanguages = ["en",\n')
    assert message.startswith("project.toml:2: TOML syntax error")


def test_missing_file_says_how_to_fix(tmp_path):
    with pytest.raises(UserError, match="file not found; run the command from your project folder or pass --config PATH"):
        load_settings(tmp_path / "nope.toml")


def test_cli_reports_config_errors_in_one_sentence_with_exit_2(tmp_path):
    config = tmp_path / "project.toml"
    config.write_text("[train]\nepocs = 3\n")
    result = run_cli("validate", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {config}:2 [train]: unknown key epocs (did you mean epochs?) in [train]."]
    assert not (tmp_path / "outputs").exists()


def test_cli_names_a_key_set_twice_with_exit_2_and_no_output(tmp_path):
    config = tmp_path / "project.toml"
    config.write_text((REPO / "project.toml").read_text(encoding="utf-8") + "\n[train]\nepochs = 5\n", encoding="utf-8")
    result = run_cli("validate", "--config", str(config))
    assert result.returncode == 2
    lines = config.read_text(encoding="utf-8").splitlines()
    first, last = [number for number, line in enumerate(lines, start=1) if line.startswith("[train]")]
    assert result.stderr.splitlines() == [
        f"error: {config}:{last}: section [train] appears twice, on lines {first} and {last}; move the settings "
        "under the second [train] up under the first, and delete the second header."
    ]
    assert not (tmp_path / "outputs").exists()


LONG_NAME = "n" * 92  # fits the Hub's 96 characters, but name-demo, name-data and name-runs (97) do not


@pytest.mark.parametrize(
    "text, message",
    [
        ('[project]\nhub_owner = "my name"\n',
         'project.toml:2 [project]: hub_owner "my name" cannot be a Hub username: it contains a space, and only letters, digits, -, _ and . are allowed.'),
        ('[project]\nhub_owner = "ada--lovelace"\n',
         'project.toml:2 [project]: hub_owner "ada--lovelace" cannot be a Hub username: it contains "--" or "..", which the Hub does not allow.'),
        ('[project]\nhub_owner = "-ada"\n',
         'project.toml:2 [project]: hub_owner "-ada" cannot be a Hub username: "-ada" starts or ends with - or ., which the Hub does not allow.'),
        # A profile's address or a repo id pasted from the browser: the repo ids would get a second "/".
        ('[project]\nhub_owner = "https://huggingface.co/ada"\n',
         'project.toml:2 [project]: hub_owner "https://huggingface.co/ada" is a web address or repo id, not a Hugging Face '
         'username, so publish would be refused after the merge; write only the username, like hub_owner = "ada".'),
        ('[project]\nhub_owner = "huggingface.co/Ada-L/"\n',
         'project.toml:2 [project]: hub_owner "huggingface.co/Ada-L/" is a web address or repo id, not a Hugging Face '
         'username, so publish would be refused after the merge; write only the username, like hub_owner = "Ada-L".'),
        ('[project]\nhub_owner = "ada"\nname = "qa"\n[publish]\ndataset_repo = "ada/qa-runs"\n',
         'project.toml:5 [publish]: dataset_repo "ada/qa-runs" is the hf-jobs runs dataset, where each Hugging Face Job '
         "keeps its data and checkpoints, and publish makes a repo exactly its reviewed files, so it would delete them; "
         'name another repo, like dataset_repo = "ada/qa-data".'),
        ('[project]\nhub_owner = "https://huggingface.co/spaces/ada/namibia-qa-demo"\n',
         'project.toml:2 [project]: hub_owner "https://huggingface.co/spaces/ada/namibia-qa-demo" is a web address or repo id, '
         'not a Hugging Face username, so publish would be refused after the merge; write only the username, like hub_owner = "ada".'),
        ('[project]\nhub_owner = "https://huggingface.co/settings/profile"\n',
         'project.toml:2 [project]: hub_owner "https://huggingface.co/settings/profile" is a web address or repo id, not a '
         'Hugging Face username, so publish would be refused after the merge; write only the username, like hub_owner = "your-username".'),
        ('[project]\nhub_owner = "ada/namibia-qa"\n',
         'project.toml:2 [project]: hub_owner "ada/namibia-qa" is a web address or repo id, not a Hugging Face '
         'username, so publish would be refused after the merge; write only the username, like hub_owner = "ada".'),
        ('[project]\nhub_owner = "ada"\nname = "ada/namibia-qa"\n',
         'project.toml:3 [project]: name "ada/namibia-qa" contains "/", but the repo ids put it after hub_owner '
         '("ada/ada/namibia-qa"), which the Hub refuses; write only the name, like name = "namibia-qa", and your '
         "username in hub_owner."),
        ('[project]\nname = "namibia qa"\n',
         'project.toml:2 [project]: name "namibia qa" cannot name a Hub repo: it contains a space, and only letters, digits, -, _ and . are allowed.'),
        ('[project]\nname = "namibia..qa"\n',
         'project.toml:2 [project]: name "namibia..qa" cannot name a Hub repo: it contains "--" or "..", which the Hub does not allow.'),
        ('[project]\nname = ""\n', 'project.toml:2 [project]: name "" cannot name a Hub repo: it is empty; fill it in.'),
        (f'[project]\nname = "{LONG_NAME}"\n',
         f'project.toml:2 [project]: name "{LONG_NAME}" gives the demo Space the name "{LONG_NAME}-demo", which the Hub refuses: '
         "it is 97 characters, 1 more than the Hub allows; shorten name."),
        (f'[project]\nname = "{LONG_NAME}"\n[publish]\nspace_repo = "ada/demo"\n',
         f'project.toml:2 [project]: name "{LONG_NAME}" gives the dataset repo the name "{LONG_NAME}-data", which the Hub refuses: '
         "it is 97 characters, 1 more than the Hub allows; shorten name."),
        (f'[project]\nname = "{LONG_NAME}"\n[publish]\nspace_repo = "ada/demo"\ndataset_repo = "ada/data"\n',
         f'project.toml:2 [project]: name "{LONG_NAME}" gives the hf-jobs runs dataset the name "{LONG_NAME}-runs", which the Hub refuses: '
         "it is 97 characters, 1 more than the Hub allows; shorten name."),
        ('[publish]\nmodel_repo = "ada/namibia/qa"\n',
         'project.toml:2 [publish]: model_repo "ada/namibia/qa" is not a Hub repo id: it has more than one "/"; write owner/name.'),
        ('[publish]\nspace_repo = "ada/namibia qa demo"\n',
         'project.toml:2 [publish]: space_repo "ada/namibia qa demo" is not a Hub repo id: it contains a space, and only letters, digits, -, _ and . are allowed.'),
        ('[project]\nhub_owner = "ada"\n[publish]\nspace_repo = "qa-demo"\n',
         'project.toml:4 [publish]: space_repo "qa-demo" names no owner, so the model card and the Space would link to '
         'https://huggingface.co/qa-demo, which is not your repo; write "ada/qa-demo".'),
        ('[publish]\nmodel_repo = "https://huggingface.co/ada/namibia-qa"\n',
         'project.toml:2 [publish]: model_repo "https://huggingface.co/ada/namibia-qa" is a web address or a path on the Hub, '
         'not a repo id, so publish would be refused after the merge; write only owner/name, like model_repo = "ada/namibia-qa".'),
        ('[publish]\nspace_repo = "huggingface.co/spaces/ada/qa-demo/tree/main"\n',
         'project.toml:2 [publish]: space_repo "huggingface.co/spaces/ada/qa-demo/tree/main" is a web address or a path on the '
         'Hub, not a repo id, so publish would be refused after the merge; write only owner/name, like space_repo = "ada/qa-demo".'),
        ('[publish]\ndataset_repo = "datasets/ada/qa-data"\n',
         'project.toml:2 [publish]: dataset_repo "datasets/ada/qa-data" is a web address or a path on the Hub, not a repo id, '
         'so publish would be refused after the merge; write only owner/name, like dataset_repo = "ada/qa-data".'),
        ('[publish]\nmodel_repo = "ada/qa.git"\n',
         'project.toml:2 [publish]: model_repo "ada/qa.git" is not a Hub repo id: it ends in ".git", which the Hub does not allow.'),
    ],
)  # fmt: skip
def test_repo_ids_break_no_hub_rule(tmp_path, text, message):
    assert _error_for(tmp_path, text) == message


def test_repo_ids_the_hub_accepts_load(tmp_path):
    path = tmp_path / "project.toml"
    path.write_text(f'[project]\nhub_owner = "Ada.Lovelace_1"\nname = "{"n" * 91}"\n[publish]\nmodel_repo = "org/qa"\n')
    assert load_settings(path).project.hub_owner == "Ada.Lovelace_1"  # a 91-character name leaves room for -demo


def test_spaces_around_the_username_and_name_are_not_kept(tmp_path):
    """dispatch (the hf-jobs runs repo), export (the GGUF file) and the Space's title use them as written."""
    path = tmp_path / "project.toml"
    path.write_text('[project]\nhub_owner = "ada "\nname = " namibia-qa\t"\n')
    project = load_settings(path).project
    assert (project.hub_owner, project.name) == ("ada", "namibia-qa")


def test_cli_stops_a_bad_hub_owner_before_validate_writes_anything(tmp_path):
    config = tmp_path / "project.toml"
    text = (REPO / "project.toml").read_text(encoding="utf-8").replace('hub_owner = ""', 'hub_owner = "my name"', 1)
    config.write_text(text, encoding="utf-8")
    line = text.splitlines().index(next(row for row in text.splitlines() if row.startswith("hub_owner"))) + 1
    result = run_cli("validate", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f'error: {config}:{line} [project]: hub_owner "my name" cannot be a Hub username: it contains a space, '
        "and only letters, digits, -, _ and . are allowed."
    ]
    assert not (tmp_path / "outputs").exists()


def test_all_linear_is_accepted_and_reaches_peft_unchanged(tmp_path, tiny_model_dir):
    """PEFT's "all-linear" adapts every linear layer but the output layer; train passes it through as written."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from scripts.train import lora_config

    path = tmp_path / "project.toml"
    path.write_text('[lora]\ntarget_modules = "all-linear"\n', encoding="utf-8")
    cfg = load_settings(path)
    assert cfg.lora.target_modules == "all-linear"
    adapted = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir), lora_config(cfg))
    names = {name.split(".lora_A")[0].rsplit(".", 1)[-1] for name, _ in adapted.named_parameters() if ".lora_A" in name}
    assert names == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def test_defaults_match_the_dataclasses():
    """Leaving a section out gives the documented defaults."""
    empty = Settings()
    assert empty.model.quantization == "none" and empty.data.format == "auto"



MINUTES_TO_COLLECT = 30  # installing before the HF Job, and bringing back, carding and exporting after it


def test_hf_job_timeout_leaves_the_train_workflow_time_to_collect_the_results(tmp_path):
    import yaml

    from scripts.config import HF_JOB_MAX_MINUTES, TrainSettings

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "train.yml").read_text(encoding="utf-8"))
    job_minutes = workflow["jobs"]["train"]["timeout-minutes"]
    _, high = {f.name: f for f in dataclasses.fields(TrainSettings)}["hf_timeout_minutes"].metadata["range"]
    assert high == HF_JOB_MAX_MINUTES
    assert high + MINUTES_TO_COLLECT <= job_minutes, "the HF Job may outlive the GitHub job that waits for it"
    message = _error_for(tmp_path, f"[train]\nhf_timeout_minutes = {high + 1}\n")
    assert f"stops after {job_minutes} minutes" in message


def test_hf_job_timeout_above_the_cap_names_the_line_and_the_reason(tmp_path):
    assert _error_for(tmp_path, "[train]\nbackend = \"hf-jobs\"\nhf_timeout_minutes = 200\n") == (
        "project.toml:3 [train]: hf_timeout_minutes is 200; allowed values are from 5 to 90 (the GitHub job that "
        "waits for the HF Job stops after 120 minutes and needs the rest to collect the results)."
    )


# ---------------------------------------------------------------- project.schema.json


def test_the_committed_schema_is_the_one_the_dataclasses_give():
    """Add, rename or re-range a setting without `python -m scripts.schema` and this fails."""
    from scripts.schema import SCHEMA_FILE, schema_text

    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), "run `python -m scripts.schema` and commit project.schema.json"
    assert (REPO / "project.toml").read_text(encoding="utf-8").startswith(f"#:schema ./{SCHEMA_FILE.name}\n")


def test_the_schema_accepts_project_toml_and_catches_what_load_settings_refuses():
    import json
    import tomllib

    import jsonschema

    schema = json.loads((REPO / "project.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    settings = tomllib.loads((REPO / "project.toml").read_text(encoding="utf-8"))
    jsonschema.validate(settings, schema)
    lora = schema["properties"]["lora"]["properties"]
    assert lora["rank"]["description"] == field_docs(SECTIONS["lora"])["rank"] and lora["rank"]["maximum"] == 1024
    for broken in ({"lora": {"rnak": 8}}, {"lora": {"rank": 0}}, {"train": {"backend": "gpu"}}, {"publish": {"dataset_private": "no"}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def test_the_schema_script_reports_a_stale_schema(tmp_path, monkeypatch, capsys):
    import scripts.schema as schema

    stale = tmp_path / "project.schema.json"
    stale.write_text("{}\n")
    monkeypatch.setattr(schema, "SCHEMA_FILE", stale)
    assert schema.main(["--check"]) == 1
    assert "differs from the settings in scripts/config.py; run `python -m scripts.schema`" in capsys.readouterr().out
    assert schema.main([]) == 0 and schema.main(["--check"]) == 0
