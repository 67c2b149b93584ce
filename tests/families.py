"""Tiny random models of the families learners pick (Llama, Qwen, Gemma, Phi, Mistral), for tests.

Each is two layers with random weights, SmolLM2's vocabulary plus that family's chat tokens, and that
family's own published chat template. The templates are read from llama.cpp's copies of the
families' tokenizer_config.json files (models/templates/ in the converter that `python -m scripts.export`
unpacks; its README names the Hub repo each came from), so none is retyped here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Family:
    name: str
    config_class: str
    """transformers' config class (its model is AutoModelForCausalLM's for that config)."""
    template: str | None
    """The llama.cpp template file (models/templates/<name>.jinja); None keeps SmolLM2's ChatML."""
    special_tokens: dict = field(default_factory=dict)
    """bos/eos/... tokens of the family's tokenizer, added to SmolLM2's vocabulary."""
    extra_tokens: tuple = ()
    """Other chat markers of the template, added as special tokens."""
    end_of_turn: str | None = None
    """The token that ends an answer, when it is not the tokenizer's eos (the model's generation config lists both)."""
    config: dict = field(default_factory=dict)
    tokenizer_settings: dict = field(default_factory=dict)
    """tokenizer_config.json values as the family's own files have them, where llama.cpp's converter reads them."""


FAMILIES = {
    family.name: family
    for family in (
        Family("llama", "LlamaConfig", None),  # SmolLM2 is a Llama with a ChatML template
        Family(
            "qwen2.5", "Qwen2Config", "Qwen-Qwen2.5-7B-Instruct",
            special_tokens={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
        ),
        Family(
            "qwen3", "Qwen3Config", "Qwen-Qwen3-0.6B",
            special_tokens={"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
            extra_tokens=("<think>", "</think>"), config={"head_dim": 16},
        ),
        Family(
            "gemma2", "Gemma2Config", "google-gemma-2-2b-it",
            special_tokens={"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>"},
            extra_tokens=("<start_of_turn>", "<end_of_turn>"), end_of_turn="<end_of_turn>",
            config={"head_dim": 16, "sliding_window": 64}, tokenizer_settings={"add_bos_token": True},
        ),
        # Gemma 3's own template writes a text chat exactly as Gemma 2's does (it puts a system turn into the
        # first user turn; the converter's folder has no copy of it), so the Gemma 3 model uses Gemma 2's.
        Family(
            "gemma3", "Gemma3TextConfig", "google-gemma-2-2b-it",
            special_tokens={"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>"},
            extra_tokens=("<start_of_turn>", "<end_of_turn>"), end_of_turn="<end_of_turn>",
            config={"head_dim": 16, "sliding_window": 64}, tokenizer_settings={"add_bos_token": True},
        ),
        # Phi-4-mini is a Phi3ForCausalLM with a GPT-2 style BPE tokenizer like SmolLM2's; Phi-3.5's template.
        Family(
            "phi3", "Phi3Config", "microsoft-Phi-3.5-mini-instruct",
            special_tokens={"eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"},
            extra_tokens=("<|system|>", "<|user|>", "<|assistant|>", "<|end|>"), end_of_turn="<|end|>",
            tokenizer_settings={"tokenizer_class": "GPT2Tokenizer"},
        ),
        Family(
            "mistral", "MistralConfig", "mistralai-Mistral-Nemo-Instruct-2407",
            special_tokens={"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"},
            extra_tokens=("[INST]", "[/INST]"), config={"head_dim": 16, "sliding_window": None},
            tokenizer_settings={"add_bos_token": True},
        ),
    )
}


def published_template(name: str) -> str:
    from scripts.export import converter_folder

    return (converter_folder() / "models" / "templates" / f"{name}.jinja").read_text(encoding="utf-8")


def build_tiny_family_model(family: Family, real_model_dir: Path, folder: Path) -> Path:
    """Save a tiny random model of `family` with its tokenizer and chat template into `folder`."""
    import json

    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(real_model_dir)
    if family.special_tokens or family.extra_tokens:
        tokenizer.add_special_tokens({**family.special_tokens, "additional_special_tokens": list(family.extra_tokens)})
    if family.template:
        tokenizer.chat_template = published_template(family.template)
    ids = {name: tokenizer.convert_tokens_to_ids(getattr(tokenizer, name)) for name in ("bos_token", "eos_token", "pad_token")}
    sizes = dict(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, tie_word_embeddings=True,
        bos_token_id=ids["bos_token"], eos_token_id=ids["eos_token"], pad_token_id=ids["pad_token"],
    )
    config = getattr(transformers, family.config_class)(**sizes | family.config)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    stops = [ids["eos_token"]] + ([tokenizer.convert_tokens_to_ids(family.end_of_turn)] if family.end_of_turn else [])
    model.generation_config = GenerationConfig(
        bos_token_id=ids["bos_token"], eos_token_id=stops if len(stops) > 1 else stops[0], pad_token_id=ids["pad_token"]
    )
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if family.tokenizer_settings:
        settings_file = folder / "tokenizer_config.json"
        settings = json.loads(settings_file.read_text(encoding="utf-8")) | family.tokenizer_settings
        settings_file.write_text(json.dumps(settings, indent=2), encoding="utf-8")
    return folder
