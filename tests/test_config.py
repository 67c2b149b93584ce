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
        ('[lora]\ntarget_modules = "q_proj"\n', "project.toml:2 [lora]: target_modules must be a list of strings, like [\"a\", \"b\"]; got 'q_proj'."),
    ],
)
def test_mistakes_name_the_line_the_key_and_the_fix(tmp_path, text, message):
    assert _error_for(tmp_path, text) == message


def test_toml_syntax_error_names_the_line(tmp_path):
    message = _error_for(tmp_path, '[project]\nname = "x"\nlicense = apache\n')
    assert message.startswith("project.toml:3: TOML syntax error: Invalid value;")


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
