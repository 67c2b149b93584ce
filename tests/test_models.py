"""Week 1's model list (scripts/base_models.toml, `python -m scripts models`, the README table) and the
tokens-per-word figures of the data report and the card."""

from __future__ import annotations

import re

import pytest

from conftest import REPO, make_project, run_cli, set_values, validate_report
from scripts.base_models import export_needs_gb, find, largest_for_runner_millions, load_catalogue, readme_table
from scripts.card_facts import base_licence, tokens_per_word_text
from scripts.validate_settings import HUB_LICENSES
from scripts.config import load_settings
from scripts.data import Example
from scripts.outputs import write_validate_report
from scripts.validate import tokens_per_word
from scripts.validate_report import tokens_per_word_section


def test_readme_table_is_the_catalogue():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = re.search(r"<!-- base-models:start -->\n(.*?)\n<!-- base-models:end -->", readme, re.S).group(1)
    assert table == readme_table(load_catalogue())


def test_catalogue_fits_the_settings():
    """The default base model is listed with the licence project.toml gives the adapter; every licence is a Hub id;
    every family the tests build (tests/families.py) has a candidate."""
    from families import FAMILIES

    cfg = load_settings(REPO / "project.toml")
    models = load_catalogue()
    assert find(cfg.model.base).licence == cfg.project.license
    assert all(model.licence in HUB_LICENSES for model in models)
    assert {model.family for model in models} == {"Llama", "Qwen", "Gemma", "Phi", "Mistral"}
    assert len(FAMILIES) >= 5
    assert len({model.id for model in models}) == len(models)


def test_models_step_estimates_times_from_the_data_report(tmp_path, tiny_model_dir):
    config = make_project(tmp_path, "HuggingFaceTB/SmolLM2-135M-Instruct")
    set_values(config, "project", languages=["en", "ng"])
    lengths = {"limit": 256, "over_limit": 0, "train": {"examples": 100, "mean": 50.0}, "eval": {"examples": 0}}
    write_validate_report(tmp_path / "outputs" / "validate", validate_report(token_lengths=lengths))
    result = run_cli("models", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "times for your data: 5,000 training tokens x 3 epochs" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "SmolLM2-135M" in line)
    # 15,000 tokens at the measured 268 tokens/s: 56 s on the CPU; the base model is marked.
    assert row.startswith("| *`HuggingFaceTB/SmolLM2-135M-Instruct`") and "| ~56 s |" in row
    assert "en yes, ng no" in row and "apache-2.0" in row and row.endswith("| yes |")
    phi = next(line for line in result.stdout.splitlines() if "Phi-4-mini" in line)
    assert phi.endswith("| no: export needs ~62 GB of memory and ~41 GB of disk |")
    assert "on a free runner (16 GB of memory, 14 GB of disk)" in result.stdout and "up to about 0.96B parameters" in result.stdout


def test_models_step_without_a_report_says_how_to_get_one(tmp_path):
    config = make_project(tmp_path, "HuggingFaceTB/SmolLM2-135M-Instruct")
    result = run_cli("models", "--config", str(config))
    assert result.returncode == 0
    assert "run `python -m scripts validate` for yours" in result.stdout


def test_which_models_go_all_the_way_on_free_github_runners():
    """On GitHub, export runs on a free runner after training on every backend; a gated model cannot be downloaded
    there. The README names the models that pass both, and the limit in parameters."""
    verdicts = {model.id: model.on_github() for model in load_catalogue()}
    assert [model_id for model_id, verdict in verdicts.items() if verdict == "yes"] == [
        "HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFaceTB/SmolLM2-360M-Instruct", "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen3-0.6B",
    ]  # fmt: skip
    assert verdicts["google/gemma-3-270m-it"] == "no: gated"
    assert verdicts["meta-llama/Llama-3.2-1B-Instruct"] == "no: gated; export needs ~20 GB of memory and ~15 GB of disk"
    assert verdicts["mistralai/Mistral-7B-Instruct-v0.3"].startswith("no: export needs ~117 GB of memory")
    # The estimate reproduces the measurement it comes from: SmolLM2-135M's export peaked at 2.75 GB (base_models.py).
    assert 2.5 < export_needs_gb(135)[1] < 3.0
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"fits models up to about {largest_for_runner_millions() / 1000:.2f}B parameters:\nSmolLM2-135M and -360M, Qwen2.5-0.5B and Qwen3-0.6B." in readme


def test_card_quotes_the_base_models_licence_terms():
    assert base_licence("google/gemma-2-2b-it").startswith("gemma: Gemma Terms of Use")
    assert "see the licence on my/model's model card" in base_licence("my/model")


def example(text: str, **meta) -> Example:
    return Example([{"role": "user", "content": text}, {"role": "assistant", "content": text}], "datasets/train.jsonl", 1, 0, meta=meta)


def test_tokens_per_word_by_declared_language(tiny_model_dir):
    """Synthetic strings for the mechanics: a made-up word the tokenizer splits into many pieces counts as costly."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    english = example("the house is by the river")
    costly = example("qxzvkpt wqzzvyx", language="ng")  # no real language: a stand-in the tokenizer cannot know
    figures = tokens_per_word(tokenizer, [english, costly], ["en", None], ["en", "ng", "hz"])
    languages = figures["languages"]
    assert languages["en"]["examples"] == 1 and languages["ng"]["examples"] == 1 and languages["hz"]["examples"] == 0
    assert languages["en"]["tokens_per_word"] < 1.5 < languages["ng"]["tokens_per_word"]
    assert 1 < figures["english_reference"] < 1.6

    markdown = "\n".join(tokens_per_word_section(figures))
    assert "| ng |" in markdown and "**ng (" in markdown and "The base model has seen little of this language" in markdown
    assert "**en (" not in markdown  # English is not flagged
    assert 'add `"language": "<code>"` to its records' in markdown  # hz: nothing attributed
    card = tokens_per_word_text(figures)
    assert card.startswith(f"en {languages['en']['tokens_per_word']}, ng {languages['ng']['tokens_per_word']} (English reference")


# ---------------------------------------------------------------- when the Hub says no


def hub_refusal(error_class, status: int):
    import httpx2

    response = httpx2.Response(status, request=httpx2.Request("GET", "https://huggingface.co/api/models/x"))
    return error_class(f"{status} Client Error", response=response)


@pytest.mark.parametrize(
    "error_name, status, says",
    [
        ("GatedRepoError", 401, ["is gated on the Hub", "https://huggingface.co/google/gemma-3-270m-it", "not gated"]),
        ("RepositoryNotFoundError", 401, ["the Hub has no public model google/gemma-3-270m-it", "spelling"]),
        ("RevisionNotFoundError", 404, ['[model] revision: google/gemma-3-270m-it has no revision "main"']),
    ],
)
def test_a_model_the_hub_refuses_is_named_with_the_reason_not_as_no_connection(monkeypatch, error_name, status, says):
    """Week 1: a learner types a model id. A typo, or a gated model (Gemma, Llama) on GitHub's runners, which have no
    Hugging Face token, used to end in "cannot reach the Hugging Face Hub ... connect to the internet"."""
    from huggingface_hub import errors

    from scripts import model

    def snapshot_download(*args, **kwargs):
        raise hub_refusal(getattr(errors, error_name), status)

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr("huggingface_hub.snapshot_download", snapshot_download)
    with pytest.raises(model.UserError) as refused:
        model.resolve_base("google/gemma-3-270m-it")
    message = str(refused.value)
    assert all(part in message for part in says), message
    assert "cannot reach" not in message


BUNDLED_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


def test_a_revision_the_hub_lacks_stops_validate_even_for_the_bundled_model(monkeypatch):
    """The Data check (validate.yml) reads the bundled copy of the default model, and so does training on the runner,
    whatever [model] revision says; a typo there only surfaced after the merge, in Colab or a Hugging Face Job, or in
    the published adapter and the card's code. Covered up to the network: the Hub's answer is simulated."""
    from huggingface_hub import errors

    from scripts import model

    asked = []

    def model_info(model_id, revision=None, **kwargs):
        asked.append((model_id, revision))
        raise hub_refusal(errors.RevisionNotFoundError, 404)

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("FINETUNE_BUNDLED_FIRST", "1")
    monkeypatch.setattr("huggingface_hub.model_info", model_info)
    with pytest.raises(model.UserError) as refused:
        model.resolve_base(BUNDLED_ID, "v1.0-typo", weights=False)
    assert str(refused.value) == (
        f'project.toml [model] revision: {BUNDLED_ID} has no revision "v1.0-typo" on the Hub; use "main" or a commit '
        f"hash from https://huggingface.co/{BUNDLED_ID}/commits/main."
    )
    assert asked == [(BUNDLED_ID, "v1.0-typo")]
    assert model.resolve_base(BUNDLED_ID, "main", weights=False).source == "bundled"  # "main" always exists: not asked
    assert model.resolve_base(BUNDLED_ID, "v1.0-typo").source == "bundled"  # training does not ask again
    assert len(asked) == 1


@pytest.mark.parametrize("files, refused", [(["config.json", "pytorch_model.bin"], True),
                                             (["config.json", "onnx/model.safetensors"], True),  # not beside config.json
                                             (["config.json", "model.safetensors"], False),
                                             (None, False)])  # the Hub sent no file list: nothing to judge by  # fmt: skip
def test_a_hub_model_without_safetensors_weights_stops_validate(monkeypatch, tmp_path, files, refused):
    """validate downloads only the config and the tokenizer, so a model whose weights are only in pytorch_model.bin
    passed the Data check, and training stopped after the merge. Covered up to the network: the Hub is simulated."""
    from huggingface_hub.hf_api import ModelInfo

    from scripts import model

    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr("huggingface_hub.snapshot_download", lambda *args, **kwargs: str(tmp_path))
    monkeypatch.setattr(
        "huggingface_hub.model_info",
        lambda model_id, revision=None, **kwargs: ModelInfo(id=model_id, siblings=None if files is None else [{"rfilename": name} for name in files]),
    )
    if refused:
        with pytest.raises(model.UserError, match=r"^project.toml \[model\] base: someone/old-model has no \*.safetensors"):
            model.resolve_base("someone/old-model", weights=False)
    else:
        assert model.resolve_base("someone/old-model", weights=False).source == "hub"


@pytest.mark.parametrize("offline", ["1", "0"])
def test_a_revision_that_cannot_be_checked_is_not_an_error(monkeypatch, offline):
    import httpx2

    from scripts import model

    def model_info(*args, **kwargs):
        assert offline == "0", "offline, the Hub must not be asked"
        raise httpx2.ConnectError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("HF_HUB_OFFLINE", offline)
    monkeypatch.setenv("FINETUNE_BUNDLED_FIRST", "1")
    monkeypatch.setattr("huggingface_hub.model_info", model_info)
    assert model.resolve_base(BUNDLED_ID, "a" * 40, weights=False).source == "bundled"


def test_no_connection_still_says_so(monkeypatch):
    from huggingface_hub.errors import LocalEntryNotFoundError

    from scripts import model

    def snapshot_download(*args, **kwargs):
        raise LocalEntryNotFoundError("cannot find the requested files in the disk cache")

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr("huggingface_hub.snapshot_download", snapshot_download)
    with pytest.raises(model.UserError, match="cannot reach the Hugging Face Hub to download google/gemma-3-270m-it"):
        model.resolve_base("google/gemma-3-270m-it")


@pytest.mark.parametrize(
    "written, meant",
    [("HuggingFaceTB/SmolLM2-135M-Instruc", "HuggingFaceTB/SmolLM2-135M-Instruct"),
     ("huggingfacetb/smollm2-135m-instruct", "HuggingFaceTB/SmolLM2-135M-Instruct"),
     ("Qwen/Qwen2.5-0.5B-Instuct", "Qwen/Qwen2.5-0.5B-Instruct")],
)  # fmt: skip
def test_a_misspelt_base_model_offline_names_the_model_meant(monkeypatch, written, meant):
    """Offline (make sets HF_HUB_OFFLINE=1) a typo read as "cannot reach the Hugging Face Hub ... connect to the internet"."""
    from scripts.errors import UserError
    from scripts.model import resolve_base

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError) as raised:
        resolve_base(written)
    assert str(raised.value) == (
        f'project.toml [model] base: "{written}" is not a model this template knows, but it is close to "{meant}": '
        "if you meant that one, fix the spelling; if your spelling is right, the Hub cannot be reached from here "
        "(no connection, or HF_HUB_OFFLINE=1 as make sets), so connect and run with HF_HUB_OFFLINE=0."
    )


@pytest.mark.parametrize("model_id", ["HuggingFaceTB/SmolLM2-360M-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct"])
def test_a_real_model_that_is_not_bundled_is_not_called_a_typo(monkeypatch, model_id):
    """Catalogued, or another size of a catalogued family (only its numbers differ): not a spelling mistake."""
    from scripts.errors import UserError
    from scripts.model import resolve_base

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match=f"cannot reach the Hugging Face Hub to download {model_id}: HF_HUB_OFFLINE=1 is set"):
        resolve_base(model_id)  # and it says who set it: make, for an offline demo


def test_a_cached_copy_without_weights_is_named_not_loaded(monkeypatch, tmp_path, tiny_model_dir):
    """validate downloads only the config and the tokenizer; offline, the Hub cache hands that copy back to train,
    which must say the weights are missing instead of failing inside transformers."""
    import shutil

    from scripts import model

    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_model_dir / name, tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr("huggingface_hub.snapshot_download", lambda *args, **kwargs: str(tmp_path))
    assert model.resolve_base("Qwen/Qwen2.5-0.5B-Instruct", weights=False).path == tmp_path
    with pytest.raises(model.UserError, match=r"the copy of Qwen/Qwen2.5-0.5B-Instruct on this machine has no weights"):
        model.resolve_base("Qwen/Qwen2.5-0.5B-Instruct")
