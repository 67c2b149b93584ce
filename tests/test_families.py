"""The pipeline on tiny random models of the families learners pick: Llama, Qwen 2.5 and 3, Gemma 2 and 3,
Phi-3/4 and Mistral, each with its own published chat template (tests/families.py).

For each family: validate counts tokens with its template; training masks everything but the answer and
its end-of-turn marker; the CPU speed-ups give PEFT's and TRL's loss and gradients; a two-step training
run writes an adapter that evaluation's generation uses; the export converts to GGUF with llama.cpp's
converter (or says in one sentence why it cannot), and the Modelfile's prompt is the family's own; the
static Space renders. About 4 minutes on a busy 2-core machine, most of it the GGUF conversions.

Not covered here: loading each GGUF back to compare answers (30-40 s per model with transformers' GGUF
reader; tests/test_export.py does it for the Llama model), and the browser page (tests/test_space.py).
"""

from __future__ import annotations

import json
import re
from argparse import Namespace

import pytest
import torch
from trl import SFTTrainer

from conftest import make_project, set_values, small_trainer
from families import FAMILIES, build_tiny_family_model
from scripts import export, fast_training, train
from scripts.config import load_settings
from scripts.model import load_for
from scripts.prompt_formats import matching_format

# Why a family's GGUF conversion cannot work on its tiny test model (the real model converts).
CONVERSION_LIMITS = {
    "gemma2": "llama.cpp converts Gemma 2 only from a SentencePiece tokenizer.model, which the real Gemma 2 "
    "ships (export copies it into merged/) but the tiny model, built on SmolLM2's BPE tokenizer, has not",
    "qwen2.5": "transformers loads a qwen2 model's tokenizer as Qwen2Tokenizer, which splits text with Qwen's rules; "
    "on SmolLM2's vocabulary that matches no tokenizer llama.cpp's converter knows (the real Qwen2.5's does)",
}
# The end of an answer as each family's template writes it, and the Modelfile's format name.
EXPECTED_FORMAT = {
    "llama": "ChatML", "qwen2.5": "ChatML", "qwen3": "ChatML", "gemma2": "Gemma", "gemma3": "Gemma",
    "phi3": "Phi-3", "mistral": "Mistral [INST]",
}
QUICK = {"max_steps": 2, "batch_size": 4, "save_steps": 100, "logging_steps": 1, "precision": "fp32", "rehearsal_weight": 0.0}


@pytest.fixture(scope="session", params=list(FAMILIES))
def family_model(request, tmp_path_factory, real_model_dir):
    """(family name, folder) of a tiny random model of each family, built once per test session."""
    family = FAMILIES[request.param]
    return family.name, build_tiny_family_model(family, real_model_dir, tmp_path_factory.mktemp(f"tiny-{family.name}"))


@pytest.fixture
def family_project(tmp_path, family_model):
    name, folder = family_model
    config = make_project(tmp_path, folder)
    set_values(config, "train", **QUICK)
    return name, config


def test_validate_counts_tokens_with_the_familys_template(family_project):
    from scripts.validate import count_tokens, load_datasets

    name, config = family_project
    cfg = load_settings(config)
    _, tokenizer = load_for(cfg)
    example = load_datasets(cfg).train[0]
    totals, answers, prompts, errors = count_tokens(tokenizer, [example])
    rendered = tokenizer.apply_chat_template(example.messages, tokenize=False)
    assert not errors
    assert totals == [len(tokenizer(rendered, add_special_tokens=False)["input_ids"])]
    prompt = tokenizer.apply_chat_template(example.prompt_messages, tokenize=False, add_generation_prompt=True)
    assert prompts == [len(tokenizer(prompt, add_special_tokens=False)["input_ids"])]
    assert totals[0] > prompts[0] + answers[0] - 1  # the template's markers come on top of the words


def test_training_masks_all_but_the_answer_and_the_speed_layers_change_nothing(family_project, monkeypatch):
    """The loss mask on this family's template, then one step with the CPU speed-ups (OneStepLoraLinear and the
    answer-only loss) on and off: the same loss and LoRA gradients. One trainer for both keeps this quick."""
    name, config = family_project
    trainer = small_trainer(config)
    trainer.rehearsal = None
    tokenizer = trainer.processing_class
    row = train.prompt_completion_rows(load_settings(config))[0][0]
    first = trainer.data_collator([trainer.train_dataset[0]])
    input_ids, labels = first["input_ids"][0].tolist(), first["labels"][0].tolist()
    trained = [token for token, label in zip(input_ids, labels) if label != -100]
    full = tokenizer.apply_chat_template(row["prompt"] + row["completion"], tokenize=True, return_dict=True)["input_ids"]
    prompt = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    assert full[: len(prompt)] == prompt
    assert trained == full[len(prompt) :] and labels[len(prompt) - 1] == -100  # all of the answer, none of the question
    stop = matching_format(tokenizer).format.stop
    assert tokenizer.convert_tokens_to_ids(stop) in trained  # the model learns to end its turn
    assert row["completion"][0]["content"] in tokenizer.decode(trained)

    layers = [m for m in trainer.model.modules() if isinstance(m, fast_training.OneStepLoraLinear)]
    assert layers, f"{name}: the CPU speed layer should be on for this architecture"
    torch.manual_seed(0)
    for layer in layers:  # B starts at zero, which would hide a difference in the adapter's path
        torch.nn.init.normal_(layer.lora_B["default"].weight, std=0.05)
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(4)])
    answer_tokens = int((batch["labels"] != -100).sum())

    def loss_and_gradients(compute_loss):
        trainer.model.zero_grad()
        loss = compute_loss(trainer, trainer.model, dict(batch), num_items_in_batch=answer_tokens)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in trainer.model.parameters() if p.requires_grad]

    ours, our_gradients = loss_and_gradients(type(trainer).compute_loss)
    monkeypatch.setattr(fast_training.OneStepLoraLinear, "forward", fast_training.LoraLinear.forward)
    theirs, their_gradients = loss_and_gradients(SFTTrainer.compute_loss)
    assert torch.allclose(ours, theirs, rtol=1e-5)
    for mine, reference in zip(our_gradients, their_gradients, strict=True):
        assert torch.allclose(mine, reference, rtol=1e-4, atol=1e-5 * reference.abs().max())
    assert all(gradient.abs().sum() > 0 for gradient in our_gradients)


def test_an_architecture_not_checked_trains_with_pefts_and_trls_own_code(family_project, monkeypatch):
    name, config = family_project
    if name != "llama":
        pytest.skip("one architecture is enough to show the switch")
    monkeypatch.setattr(fast_training, "SPEED_LAYER_ARCHITECTURES", ())
    trainer = small_trainer(config)
    assert not any(isinstance(m, fast_training.OneStepLoraLinear) for m in trainer.model.modules())
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    trainer.compute_loss(trainer.model, dict(batch))
    assert "entropy" in trainer._metrics["train"]  # TRL's loss logs entropy; the fast path does not


def test_modelfile_prompt_is_the_familys_own(family_model):
    """The Go template is built from the same pieces that reproduce the tokenizer's prompts (prompt_formats.py)."""
    from transformers import AutoTokenizer

    name, folder = family_model
    tokenizer = AutoTokenizer.from_pretrained(folder)
    matched = matching_format(tokenizer)
    assert matched is not None and matched.format.name == EXPECTED_FORMAT[name]
    chat = [{"role": "user", "content": "Where is Windhoek?"}, {"role": "assistant", "content": "In Namibia."},
            {"role": "user", "content": "And Rundu?"}]  # fmt: skip
    expected = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    if matched.starts_with_bos:
        expected = expected.removeprefix(tokenizer.bos_token)
    assert matched.format.render(chat, matched.default_system) == expected
    modelfile = export.ollama_modelfile(tokenizer, "x-f16.gguf").text
    template = re.search(r'TEMPLATE """(.*?)"""', modelfile, re.S).group(1)
    assert template == matched.format.go_template() and "{{ .Content }}" in template
    assert f"PARAMETER stop {json.dumps(matched.format.stop)}" in modelfile
    assert ("SYSTEM" in modelfile) == (name in ("llama", "qwen2.5"))  # only these templates add a default system prompt


def test_train_evaluate_export_and_space(family_project, tmp_path, capsys):
    """Two training steps, the tuned model's answers, the GGUF conversion and Modelfile, and the static Space."""
    import gguf

    from scripts import space
    from scripts.generation import generate_answers, stop_token_ids

    name, config = family_project
    if name == "llama":
        pytest.skip("the Llama model with ChatML runs these steps in test_train.py, test_export.py and test_space.py")
    cfg = load_settings(config)
    metrics = train.run_training(cfg)
    assert metrics.steps == 2 and (cfg.step_dir("train") / "adapter" / "adapter_model.safetensors").is_file()

    resolved, _ = load_for(cfg)
    model, tokenizer = export.load_tuned(resolved, cfg.step_dir("train") / "adapter", False)
    answers = generate_answers(model, tokenizer, [[{"role": "user", "content": "Where is Windhoek?"}]], 1, 8)
    assert len(answers) == 1  # random weights: any text; evaluation's generation runs on this family
    assert tokenizer.convert_tokens_to_ids(matching_format(tokenizer).format.stop) in stop_token_ids(model, tokenizer)

    merged = tmp_path / "merged"
    export.save_merged(export.merge_adapter(model), tokenizer, resolved.path, merged)
    target = tmp_path / "model.gguf"
    if name in CONVERSION_LIMITS:
        with pytest.raises(export.UserError, match=r"^llama\.cpp's GGUF converter .*, so .* cannot become a GGUF file; run"):
            export.convert_to_gguf(export.converter_folder(), merged, target, "f16", "family-test")
        pytest.xfail(CONVERSION_LIMITS[name])
    export.convert_to_gguf(export.converter_folder(), merged, target, "f16", "family-test")
    fields = gguf.GGUFReader(target).fields
    assert fields["tokenizer.chat_template"].contents() == tokenizer.chat_template
    tokens = fields["tokenizer.ggml.tokens"].contents()
    assert len(tokens) == len(tokenizer) and tokens[tokenizer.eos_token_id] == tokenizer.eos_token

    # The static Space renders around this GGUF file (export.json names it, as the export step writes it).
    export_dir = cfg.step_dir("export")
    export_dir.mkdir(parents=True)
    target.rename(export_dir / "family-test-f16.gguf")
    (export_dir / "export.json").write_text(json.dumps({"gguf": export.describe_file(export_dir / "family-test-f16.gguf")}))
    assert space.main(cfg, Namespace(kind=None, preview=False, port=0)) == 0
    page = (config.parent / "results" / "space" / "index.html").read_text()
    assert "family-test-f16.gguf" in page
