"""Settings that would fail, or quietly misbehave, only after the merge: validate checks them before it.

These need the base model, its tokenizer or the machine, so they cannot run when project.toml loads
(config.py checks everything that needs nothing else). Each one is:

  * an error (UserError: exit 2, nothing written) when training could not work at all: a target
    module the model does not have, QLoRA or fp16 on a machine without a CUDA GPU, bf16 on a
    GPU without it, a local base model for a remote job, a max_length that cuts off every answer,
    a logging_steps beyond the last training step (the loss curve would be empty), a base model that
    transformers can load only by running its own code while trust_remote_code = false, a warm-up that
    takes the only training step (its learning rate would be 0);
  * a warning, shown in the data report and the terminal, when training would run but the value
    is far from what LoRA usually needs (learning rate, epochs, rank and alpha), with the reason, when
    trust_remote_code = true allows code a base model does not ship (it would run a later model's unread),
    when [project] license cannot be the adapter's licence with the chosen base model, when the
    base model is too big for export on a free GitHub runner (check_runner_room), when the estimate of training
    is longer than the Train job or the Hugging Face Job may run (check_training_time), when rehearsal or the
    probe threshold cannot do what they say, or when backend = "hf-jobs" lacks its secret on GitHub
    (check_jobs_token) or would save no checkpoint to resume from (check_resume_checkpoint).

check_plain_settings runs first and needs no model: what the card and publish steps would refuse
after the merge (an empty or placeholder [card] text, a licence id or language code the Hub does not
accept), an hf_flavor a Hugging Face Job cannot train on, and an output_dir the workflows do not read.
The card step checks the [card] texts and the licence again.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .config import CardSettings, setting_locator
from .errors import UserError
from .hf_flavors import FLAVORS, gpu_flavors
from .language_id import code_for, iso_639_language
from .model import (
    WHOLE_WEIGHT_LAYERS, ResolvedModel, adaptable_layer_names, adapter_weight_count, cpu_has_native_bf16, lora_targets,
    model_class_name, parameter_count, tied_embedding_layers,
)

# Far outside these, LoRA on a small dataset rarely does what a learner wants (the reasons are in the warnings).
LEARNING_RATE_RANGE = (1e-6, 1e-2)
MAX_EPOCHS = 20
SCALE_RANGE = (0.25, 8.0)  # alpha / rank (alpha / sqrt(rank) with rsLoRA); 1-2 is the usual start
MAX_RANK = 128
# A probe pair's score is in nats per token: its typical standard error is 0.03 and the clearest group differences on
# the real base model 0.16-0.36 (bench/README.md), so a threshold above this flags nothing, whatever tuning does.
MAX_PROBE_THRESHOLD = 1.0
GPU_FLAVORS_WITHOUT_BF16 = ("t4",)  # Hugging Face Jobs flavors on GPUs older than Ampere (t4-small, t4-medium)


@dataclass
class SettingWarning:
    """One setting that is allowed but unusual, and why it matters."""

    section: str
    key: str
    line: int | None
    message: str


def check_plain_settings(cfg) -> None:
    """Raise UserError for a setting that a later step would refuse and that needs no model to check."""
    check_ethics_fields(cfg)
    check_card_placeholders(cfg)
    check_license(cfg)
    check_language_codes(cfg)
    check_hf_flavor(cfg)
    check_output_dir(cfg)


def check_settings(cfg, resolved: ResolvedModel, tokenizer, table) -> list[SettingWarning]:
    """Raise UserError for a setting that cannot work; return the warnings. `table` is validate's example table."""
    locate = setting_locator(cfg)
    warnings = check_remote_code(cfg, resolved, locate)  # first: the checks below build the model from its config
    check_target_modules(cfg, resolved, locate)
    check_remote_base(cfg, resolved, locate)
    warnings += check_hardware(cfg, locate)
    check_max_length(cfg, tokenizer, table, locate)
    train_examples = int((table["split"] == "train").sum())  # what the step count of the next three checks comes from
    check_warmup(cfg, train_examples, locate)
    warnings += check_resume_checkpoint(cfg, train_examples, locate)
    check_logging_steps(cfg, train_examples, locate)
    warnings += check_hyperparameters(cfg, locate)
    warnings += check_licence_compatibility(cfg, locate)
    warnings += check_data_locations(cfg, locate)
    warnings += check_runner_room(cfg, resolved, locate)
    warnings += check_training_time(cfg, resolved, table, locate)
    warnings += check_gguf_converter(cfg, resolved, locate)
    check_adapter_fits_github(cfg, resolved, locate)
    warnings += check_jobs_token(cfg, locate)
    return sorted(warnings, key=lambda warning: warning.line or 0)  # in the order of project.toml


# ---------------------------------------------------------------- errors


def check_target_modules(cfg, resolved: ResolvedModel, locate) -> None:
    """Every name in [lora] target_modules must match a layer LoRA can adapt: PEFT skips the others silently."""
    targets = cfg.lora.target_modules
    if isinstance(targets, str):  # "all-linear": PEFT finds the layers itself
        return
    tied = tied_embedding_layers(resolved, cfg.model.trust_remote_code)
    layers = [layer for layer in adaptable_layer_names(resolved, cfg.model.trust_remote_code) if layer not in tied]
    short_names = list(dict.fromkeys(layer.rsplit(".", 1)[-1] for layer in layers))  # the names the message offers
    check_tied_targets(cfg, targets, tied, short_names, locate)
    unknown = [target for target in targets if not any(lora_targets(layer, target) for layer in layers)]
    if not unknown:
        return
    named = " and ".join(f'"{target}"{_did_you_mean(target, short_names)}' for target in unknown)
    what = "is not a layer" if len(unknown) == 1 else "are not layers"
    if len(unknown) == len(targets):
        outcome = "so no layer would get an adapter and training would stop"
    else:
        outcome = "so training would silently leave " + ("that layer" if len(unknown) == 1 else "those layers") + " without an adapter"
    raise UserError(
        f"{locate('lora', 'target_modules')}: target_modules names {named}, which {what} of {cfg.model.base} that LoRA "
        f"can adapt, {outcome}; its layers are {', '.join(short_names)} (or write target_modules = \"all-linear\")."
    )


def check_tied_targets(cfg, targets: list[str], tied: list[str], short_names: list[str], locate) -> None:
    """On a model whose embedding and output layer share one weight (SmolLM2, Qwen2.5 and Gemma tie them), an
    adapter on either one, merged for export, changes both: export's check that the merged model answers as
    the adapter does would fail after training."""
    named = [target for target in targets if any(lora_targets(layer, target) for layer in tied)]
    if not named:
        return
    quoted = " and ".join(f'"{target}"' for target in named)
    layers = " and ".join(layer.rsplit(".", 1)[-1] for layer in tied)
    raise UserError(
        f"{locate('lora', 'target_modules')}: target_modules names {quoted}, but {cfg.model.base} ties {layers} to one "
        "weight (tie_word_embeddings), so merging the adapter for export would change both and export's answer check "
        f"would fail after training; remove {'it' if len(named) == 1 else 'them'}: the model's other layers are "
        f'{", ".join(short_names)} (or write target_modules = "all-linear").'
    )


def check_remote_code(cfg, resolved: ResolvedModel, locate) -> list[SettingWarning]:
    """[model] trust_remote_code against the base model: transformers runs Python code shipped with a model (listed in
    its config.json "auto_map") only when it is true, and cannot load a model type it has no code of its own for."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    config_file = resolved.path / "config.json"
    if not config_file.is_file():
        return []
    config = json.loads(config_file.read_text(encoding="utf-8"))
    ships_code, model_type = bool(config.get("auto_map")), config.get("model_type")
    if ships_code and model_type not in CONFIG_MAPPING_NAMES and not cfg.model.trust_remote_code:
        # validate reads only the tokenizer and the config's text, so it is train that would stop, after the merge
        raise UserError(
            f'{locate("model", "trust_remote_code")}: {cfg.model.base} is a model type transformers does not know '
            f'("{model_type}") and ships its own Python code for it (config.json "auto_map"), which runs only with '
            "trust_remote_code = true, so training would stop after the merge; choose a model transformers supports "
            "(`python -m scripts models`), or read that code and set trust_remote_code = true."
        )
    if cfg.model.trust_remote_code and not ships_code:
        return [_warning(locate, "model", "trust_remote_code", (
            f'true lets transformers run Python code shipped with a model, but {cfg.model.base} ships none (its '
            'config.json has no "auto_map"), so it changes nothing here, and it would run the code of a model you '
            "switch to later without validate asking; set trust_remote_code = false"
        ))]  # fmt: skip
    return []


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def check_hf_flavor(cfg) -> None:
    """A Hugging Face Job trains only on a GPU flavor the Hub offers; dispatch would refuse any other after the merge."""
    flavor = cfg.train.hf_flavor
    if cfg.train.backend != "hf-jobs" or flavor in FLAVORS and FLAVORS[flavor].gpus:
        return
    why = "has no GPU" if flavor in FLAVORS else "is not a Hugging Face Jobs flavor"
    raise UserError(
        f'{setting_locator(cfg)("train", "hf_flavor")}: hf_flavor "{flavor}" {why}, so the training job for '
        f'backend = "hf-jobs" could not start{_did_you_mean(flavor, gpu_flavors())}; use one of {", ".join(gpu_flavors())}.'
    )


# The folder the workflows read the steps' outputs from (.github/workflows/train.yml, publish.yml; the HF Jobs script
# template/hf_jobs/train_job.py) and that .gitignore keeps out of git; a test reads them so they cannot drift.
WORKFLOW_OUTPUTS = "outputs"


def check_output_dir(cfg) -> None:
    """[project] output_dir elsewhere would work here but break the Train workflow after the merge (cat outputs/...)."""
    if cfg.output_dir == cfg.path(WORKFLOW_OUTPUTS):
        return
    raise UserError(
        f'{setting_locator(cfg)("project", "output_dir")}: output_dir = "{cfg.project.output_dir}" is not '
        f'"{WORKFLOW_OUTPUTS}", the folder the GitHub workflows and the Hugging Face Jobs script read the results from '
        "and .gitignore keeps out of git, so the Train workflow would fail after training; write "
        f'output_dir = "{WORKFLOW_OUTPUTS}".'
    )


def check_remote_base(cfg, resolved: ResolvedModel, locate) -> None:
    """A Hugging Face Job downloads the base model itself: a folder on this machine is out of its reach."""
    if cfg.train.backend == "hf-jobs" and resolved.source == "local":
        raise UserError(
            f"{locate('model', 'base')}: base is the local folder {cfg.model.base}, which a Hugging Face Job cannot read "
            '([train] backend = "hf-jobs"); use a Hub id such as HuggingFaceTB/SmolLM2-135M-Instruct.'
        )


def check_hardware(cfg, locate) -> list[SettingWarning]:
    """QLoRA and the precision against the machine that will train: this one for backend = "runner"."""
    backend, precision, flavor = cfg.train.backend, cfg.train.precision, cfg.train.hf_flavor
    if backend == "runner":
        return _check_this_machine(cfg, locate)
    if backend == "hf-jobs" and precision == "bf16" and flavor.startswith(GPU_FLAVORS_WITHOUT_BF16):
        raise UserError(
            f'{locate("train", "precision")}: precision "bf16" cannot run on hf_flavor "{flavor}", an NVIDIA T4, which '
            'has no bf16, so the paid job would stop; use precision = "auto" (fp16 on a T4) or a newer GPU such as "l4x1".'
        )
    if backend == "colab" and precision == "bf16":
        return [_warning(locate, "train", "precision", 'Colab\'s free GPU is a T4, which has no bf16, so training there stops '
                         'unless you choose an A100 or L4 runtime; "auto" picks what the GPU has')]  # fmt: skip
    return []


def _check_this_machine(cfg, locate) -> list[SettingWarning]:
    import torch

    precision = cfg.train.precision
    if torch.cuda.is_available():
        if precision == "bf16" and not torch.cuda.is_bf16_supported():
            raise UserError(
                f'{locate("train", "precision")}: precision "bf16" cannot run on this GPU '
                f'({torch.cuda.get_device_name(0)}), which has no bf16; use precision = "auto" (it picks fp16 here).'
            )
        return []
    if cfg.model.quantization == "4bit":
        raise UserError(
            f'{locate("model", "quantization")}: quantization "4bit" (QLoRA) needs a CUDA GPU, and [train] backend = '
            '"runner" trains on this machine, which has none (a GitHub runner never has one); set quantization = "none", '
            'or backend = "colab" or "hf-jobs".'
        )
    if precision == "fp16":
        raise UserError(
            f'{locate("train", "precision")}: precision "fp16" needs a CUDA GPU, and [train] backend = "runner" trains on '
            'this machine, which has none; use precision = "auto" (or "fp32") on a CPU.'
        )
    if precision == "bf16" and not cpu_has_native_bf16():
        return [_warning(locate, "train", "precision", 'this CPU has no bf16 instructions, so "bf16" runs many times slower '
                         'than fp32 here; "auto" picks bf16 only where the CPU has it')]  # fmt: skip
    return []


def check_max_length(cfg, tokenizer, table, locate) -> None:
    """Fail when [model] max_length leaves no room for any answer: training keeps the prompt and cuts the rest."""
    max_length = cfg.model.max_length
    chats = table[table["roles"].notna() & (table["answer_tokens"] > 0)]
    longest = int(table["tokens"].max()) if len(table) else 0
    raise_to = f"raise max_length to at least {longest}, the longest example with the chat template"
    template = tokenizer.apply_chat_template([{"role": "user", "content": ""}], tokenize=False, add_generation_prompt=True)
    overhead = len(tokenizer(template, add_special_tokens=False)["input_ids"])
    if max_length <= overhead:
        raise UserError(
            f"{locate('model', 'max_length')}: max_length = {max_length} is no more than the {overhead} tokens the chat "
            f"template of {cfg.model.base} puts before every answer (its system prompt and role markers), so every "
            f"answer would be cut off; {raise_to}."
        )
    if len(chats) and (chats["prompt_tokens"] >= max_length).all():
        raise UserError(
            f"{locate('model', 'max_length')}: max_length = {max_length} is no more than the prompt of every example "
            f"(the shortest is {int(chats['prompt_tokens'].min())} tokens with the chat template), so every answer would "
            f"be cut off; {raise_to}."
        )


def optimizer_steps(cfg, train_examples: int) -> int:
    """How many optimizer steps training takes, counted as the Trainer counts them (one process per GPU of a job)."""
    train = cfg.train
    if train.max_steps > 0:
        return train.max_steps
    devices = FLAVORS[train.hf_flavor].gpus if train.backend == "hf-jobs" and train.hf_flavor in FLAVORS else 1
    batches = math.ceil(train_examples / (train.batch_size * devices))
    return math.ceil(train.epochs * max(math.ceil(batches / train.gradient_accumulation), 1))


def steps_counted_from(cfg, train_examples: int) -> str:
    """What optimizer_steps counted the steps from, for a message: "max_steps", or the examples and settings."""
    return "max_steps" if cfg.train.max_steps > 0 else (
        f"{train_examples} examples, batch_size {cfg.train.batch_size}, gradient_accumulation "
        f"{cfg.train.gradient_accumulation}, {cfg.train.epochs:g} epochs"
    )


def check_warmup(cfg, train_examples: int, locate) -> None:
    """The learning rate warms up from 0: in a run of one optimizer step, any warm-up makes that step's rate 0, so
    the adapter stays at its start (lora_B all zeros) and the "tuned" model is the base model, without an error."""
    steps, ratio = optimizer_steps(cfg, train_examples), cfg.train.warmup_ratio
    if steps > 1 or ratio == 0:  # from 2 steps on, warm-up (at most half the steps) leaves steps that learn
        return
    raise UserError(
        f"{locate('train', 'warmup_ratio')}: training takes 1 optimizer step ({steps_counted_from(cfg, train_examples)}), "
        f"and warmup_ratio = {ratio:g} starts the learning rate at 0 for that step, so the adapter would not change and "
        "the tuned model would be the base model; set warmup_ratio = 0, or train for more steps (a larger max_steps, "
        "more epochs or a smaller gradient_accumulation)."
    )


def check_resume_checkpoint(cfg, train_examples: int, locate) -> list[SettingWarning]:
    """A Hugging Face Job that stops (timeout, no credit) resumes from its last checkpoint, saved every save_steps
    steps: when the run is shorter than that, there is none, and the paid minutes are lost."""
    steps, every = optimizer_steps(cfg, train_examples), cfg.train.save_steps
    if cfg.train.backend != "hf-jobs" or every < steps:
        return []
    return [_warning(locate, "train", "save_steps", (
        f"{every} is not below the {steps} optimizer steps training takes ({steps_counted_from(cfg, train_examples)}), "
        "so the Hugging Face Job saves no checkpoint before it ends, and a job that stops early (its time limit, your "
        f"credit) could not be resumed but only started again; set save_steps below {steps}, like save_steps = {max(steps // 4, 1)}"
    ))]  # fmt: skip


def check_logging_steps(cfg, train_examples: int, locate) -> None:
    """The Trainer records the training loss every logging_steps steps: more than the run has leaves the curve empty."""
    steps, every = optimizer_steps(cfg, train_examples), cfg.train.logging_steps
    if every <= steps:
        return
    counted = steps_counted_from(cfg, train_examples)
    raise UserError(
        f"{locate('train', 'logging_steps')}: logging_steps = {every} is more than the {steps} optimizer steps training "
        f"takes ({counted}), so the loss curve would have no training loss to show; set logging_steps = "
        f"{max(1, steps // 10)} for about 10 points."
    )


# ---------------------------------------------------------------- warnings


def check_hyperparameters(cfg, locate) -> list[SettingWarning]:
    """Values allowed by project.toml's ranges but far from what LoRA fine-tuning usually needs, or that switch
    off what they seem to set (rehearsal without a file, a probe threshold nothing can reach)."""
    train, lora = cfg.train, cfg.lora
    found = []  # (section, key, message)
    low, high = LEARNING_RATE_RANGE
    if train.learning_rate > high:
        found.append(("train", "learning_rate", f"{train.learning_rate:g} is far above what LoRA tolerates (above {high:g} "
                      "the loss usually jumps or becomes NaN); try 0.0005-0.003"))
    elif train.learning_rate < low:
        found.append(("train", "learning_rate", f"{train.learning_rate:g} is so small that the adapter barely moves from "
                      "where it starts, so training would change almost nothing; try 0.0005-0.003"))
    if train.max_steps == -1 and train.epochs > MAX_EPOCHS:
        found.append(("train", "epochs", f"{train.epochs:g} passes over the data make the model memorise the examples word "
                      "for word and forget more of what it knew (bench/README.md); 2-5 is usual"))
    if lora.use_rslora:
        scale, formula = lora.alpha / lora.rank**0.5, f"alpha / sqrt(rank) = {lora.alpha} / sqrt({lora.rank})"
    else:
        scale, formula = lora.alpha / lora.rank, f"alpha / rank = {lora.alpha} / {lora.rank}"
    if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]:
        effect = "so large that training may diverge" if scale > SCALE_RANGE[1] else "so small that the adapter learns very slowly"
        found.append(("lora", "alpha", f"the update scale {formula} = {scale:.3g} is {effect}; alpha = 2 x rank is a common start"))
    if lora.rank > MAX_RANK:
        found.append(("lora", "rank", f"{lora.rank} makes a large adapter that trains slower and memorises more; "
                      "a few hundred facts need 8-64"))
    if train.rehearsal_weight > 0 and not cfg.data.rehearsal.strip():
        found.append(("train", "rehearsal_weight", f"{train.rehearsal_weight:g} asks for rehearsal, but [data] rehearsal is "
                      '"", so nothing is rehearsed (the model may forget more of what it knew) while the model card lists '
                      'this weight; name the rehearsal file, like rehearsal = "datasets/rehearsal.jsonl", or set '
                      "rehearsal_weight = 0"))
    if cfg.evaluate.probe_threshold > MAX_PROBE_THRESHOLD:
        found.append(("evaluate", "probe_threshold", f"{cfg.evaluate.probe_threshold:g} nats per token is far above any "
                      "change the bias probes measure (a pair's typical standard error is 0.03, the clearest group "
                      "differences 0.16-0.36), so no pair could ever be flagged; the default is 0.1"))
    return [_warning(locate, section, key, message) for section, key, message in found]  # fmt: skip


# Base-model licences whose terms bind whatever is built from the model (use restrictions, attribution): an
# adapter on such a model is shared under the same terms, so [project] license must name them. Permissive
# licences (apache-2.0, mit) leave the adapter's licence to the learner.
TERMS_PASS_ON = ("gemma", "llama")
NON_COMMERCIAL = "-nc"  # cc-by-nc-4.0, cc-by-nc-sa-4.0, ...: no commercial use, so neither may the adapter allow it
SHARE_ALIKE = "-sa"  # cc-by-sa-4.0, ...: whatever is built from it is shared under the same licence


def check_licence_compatibility(cfg, locate) -> list[SettingWarning]:
    """Warn when the adapter's licence would grant what the base model's licence does not (scripts/base_models.toml)."""
    from .base_models import find

    base = find(cfg.model.base)
    if base is None:  # a local folder or a model not in the catalogue: the card tells the reader to check
        return []
    problem = licence_problem(base.licence, cfg.project.license.strip())
    if problem is None:
        return []
    message = (
        f"{cfg.project.license!r} cannot be the adapter's licence: {cfg.model.base} is under {base.licence} "
        f"({base.licence_terms}), and {problem}; set license = \"{base.licence}\" (the card then carries the base "
        "model's terms), or pick a base model whose licence allows yours (`python -m scripts models`)"
    )
    return [_warning(locate, "project", "license", message)]


def licence_problem(base_licence: str, adapter_licence: str) -> str | None:
    """Why an adapter licensed `adapter_licence` would break `base_licence`'s terms; None if it would not."""
    if adapter_licence == base_licence:
        return None
    if base_licence.startswith(TERMS_PASS_ON):
        return "its terms (use restrictions, attribution) pass on to an adapter trained on it, which another licence would leave out"
    if NON_COMMERCIAL in base_licence and NON_COMMERCIAL not in adapter_licence:
        return "it forbids commercial use, which your licence would allow"
    if SHARE_ALIKE in base_licence and SHARE_ALIKE not in adapter_licence:
        return "it asks that what is built from it is shared under the same licence"
    return None


# The Train workflow (.github/workflows/train.yml, `paths:`) starts on main only when a file in this folder or
# project.toml changes; a test reads train.yml so the two cannot drift.
TRAIN_WATCHES = "datasets"


def check_runner_room(cfg, resolved: ResolvedModel, locate) -> list[SettingWarning]:
    """Warn when export would not fit a free GitHub runner, where it runs after training on every backend.

    Warned at the pull request, in the data report, because on GitHub it would otherwise fail after the merge,
    after training (maybe paid for), with nothing to review. Sizes: scripts/base_models.toml for a listed model,
    else counted from the model's config.json.
    """
    from .base_models import RUNNER_DISK_GB, RUNNER_MEMORY_GB, largest_for_runner_millions, runner_problem

    fix = (f"choose a model of at most {largest_for_runner_millions() / 1000:.2f}B parameters (README, week 1), or run "
           "card, export and publish on a computer with that much room")  # fmt: skip
    try:
        millions = parameters_millions(cfg, resolved)
    except Exception as error:  # a config transformers cannot build without the model's own code, for instance
        return [_warning(locate, "model", "base", (
            f"validate could not count the parameters of {cfg.model.base} from its config.json ({type(error).__name__}), "
            f"so it cannot say whether export fits a free GitHub runner of a public repository ({RUNNER_MEMORY_GB} GB of "
            f"memory, {RUNNER_DISK_GB} GB of disk), where it runs after training; models up to "
            f"{largest_for_runner_millions() / 1000:.2f}B parameters fit"
        ))]  # fmt: skip
    lacking = runner_problem(millions)
    if lacking is None:
        return []
    return [_warning(locate, "model", "base", (
        f"{cfg.model.base} has {millions / 1000:.2f}B parameters, and on GitHub export (merging the adapter, writing "
        f"the GGUF file) runs on a free runner after training whatever the backend, and publish runs it again: it "
        f"would need {lacking}, more than a public repository's runner has ({RUNNER_MEMORY_GB} GB of memory, {RUNNER_DISK_GB} GB of disk), "
        f"so the flow would stop after training with nothing to review; {fix}"
    ))]  # fmt: skip


def check_gguf_converter(cfg, resolved: ResolvedModel, locate) -> list[SettingWarning]:
    """Warn when llama.cpp's converter does not know the base model's class: on GitHub, export writes the GGUF file
    after training on every backend, and would stop there. Checked for a model not in scripts/base_models.toml, and
    only where the converter is cached (`make setup` fetches it): validate downloads nothing for this."""
    from .base_models import find
    from .export import CONVERTER_PACKAGE, CONVERTER_VERSION, cached_converter, converter_architectures

    converter = None if find(cfg.model.base) else cached_converter()
    known = converter_architectures(converter) if converter else None
    if not known:
        return []
    try:
        architecture = model_class_name(resolved, cfg.model.trust_remote_code)
    except Exception:  # a config transformers cannot build without the model's own code: check_runner_room warns
        return []
    if architecture in known:
        return []
    return [_warning(locate, "model", "base", (
        f"{cfg.model.base} is a {architecture}, which llama.cpp's GGUF converter ({CONVERTER_PACKAGE} "
        f"{CONVERTER_VERSION}) cannot convert, so on GitHub export would stop after training, with nothing to review; "
        "choose a base model from `python -m scripts models`, or run card, export (`--no-gguf`: the merged model only, "
        "no GGUF file or static Space) and publish on your computer"
    ))]  # fmt: skip


def parameters_millions(cfg, resolved: ResolvedModel) -> float:
    """The base model's size: scripts/base_models.toml for a listed model, else counted from its config.json."""
    from .base_models import find

    listed = find(cfg.model.base)
    return listed.parameters_millions if listed else parameter_count(resolved, cfg.model.trust_remote_code) / 1e6


def check_training_time(cfg, resolved: ResolvedModel, table, locate) -> list[SettingWarning]:
    """Warn when the estimate of training alone is longer than its time limit: the Train job's timeout-minutes for
    backend = "runner", hf_timeout_minutes for "hf-jobs". Stopped there, the run ends after the merge with nothing to
    review (and a Hugging Face Job's minutes are paid for). The estimate is rough (scripts/base_models.py), so this
    is a warning; it exists for a 2-core CPU and for a T4 only, so a Job on a faster GPU is not checked."""
    from .base_models import REHEARSAL_COST, cpu_seconds, t4_seconds
    from .config import HF_JOB_MAX_MINUTES, TRAIN_JOB_MINUTES
    from .models import duration  # the wording of the `models` table: "~42 min", "~2.5 h"

    train = cfg.train
    if train.backend == "runner":
        # Half the job: the estimate is of the faster 2-core CPUs measured (others took twice as long: bench/README.md),
        # and the same job also installs, evaluates and exports.
        estimate, on, key, budget = cpu_seconds, "a fast 2-core CPU", "backend", TRAIN_JOB_MINUTES / 2
        limit = (f"{budget:g} minutes, half of the {TRAIN_JOB_MINUTES} GitHub gives the Train job (.github/workflows/train.yml): "
                 "slower runners take up to twice as long, and the job also installs, evaluates and exports, so it could be stopped")  # fmt: skip
        fix = 'train on a GPU (backend = "colab" or "hf-jobs")'
    elif train.backend == "hf-jobs" and FLAVORS.get(train.hf_flavor) and train.hf_flavor.startswith("t4"):
        estimate, on, key, budget = t4_seconds, f'the T4 of hf_flavor "{train.hf_flavor}"', "hf_timeout_minutes", train.hf_timeout_minutes
        limit = f"hf_timeout_minutes = {budget}, so the Hugging Face Job you pay for would be stopped"
        fix = f"raise hf_timeout_minutes (at most {HF_JOB_MAX_MINUTES}), choose a faster hf_flavor such as \"l4x1\", or use backend = \"colab\""
    else:
        return []
    try:
        millions = parameters_millions(cfg, resolved)
    except Exception:  # a config transformers cannot build without the model's own code: check_runner_room warns
        return []
    tokens, counted = training_tokens(cfg, table)
    rehearsal = train.rehearsal_weight > 0 and bool(cfg.data.rehearsal.strip())
    seconds = estimate(millions, tokens) * (REHEARSAL_COST if rehearsal else 1)
    if seconds <= budget * 60:
        return []
    with_rehearsal = f", {REHEARSAL_COST:g}x for rehearsal" if rehearsal else ""
    return [_warning(locate, "train", key, (
        f"training {cfg.model.base} on about {tokens:,.0f} tokens ({counted}{with_rehearsal}) would take "
        f"{duration(seconds)} on {on} (a rough estimate: scripts/base_models.py), more than {limit} before the "
        f"results pull request; {fix}, train on fewer examples or epochs, or choose a smaller base model (`python -m scripts models`)"
    ))]  # fmt: skip


def training_tokens(cfg, table) -> tuple[float, str]:
    """The tokens training reads (each example cut at max_length, as training cuts it), and what they were counted from."""
    lengths = table.loc[table["split"] == "train", "tokens"].clip(upper=cfg.model.max_length)
    train, per_example = cfg.train, float(lengths.mean()) if len(lengths) else 0.0
    if train.max_steps > 0:
        seen = train.max_steps * train.batch_size * train.gradient_accumulation
        return seen * per_example, f"max_steps {train.max_steps} x batch_size {train.batch_size} x gradient_accumulation {train.gradient_accumulation}"
    return train.epochs * float(lengths.sum()), f"{len(lengths)} examples x {train.epochs:g} epochs"


GITHUB_FILE_LIMIT = 100 * 1024 * 1024  # GitHub refuses a push with a file over 100 MiB


def check_adapter_fits_github(cfg, resolved: ResolvedModel, locate) -> None:
    """Fail when the adapter file would be over GitHub's 100 MiB limit where the flow commits it, after training.

    card commits it to the results branch in float16 (every backend); the Colab notebook pushes it to its trained/
    branch in float32, as trained. A rank that makes it too big would lose the results after the GPU time.
    """
    try:
        per_rank, whole = adapter_weight_count(resolved, cfg.lora.target_modules, cfg.model.trust_remote_code)
    except Exception:  # a config transformers cannot build without the model's own code: check_runner_room warns
        return
    bytes_per_weight, where = (4, "in float32, which the Colab notebook pushes to its trained/ branch") \
        if cfg.train.backend == "colab" else (2, "in float16, which card commits to the results branch")  # fmt: skip
    size = (per_rank * cfg.lora.rank + whole) * bytes_per_weight
    if size <= GITHUB_FILE_LIMIT:
        return
    largest = (GITHUB_FILE_LIMIT // bytes_per_weight - whole) // per_rank if per_rank else 0
    if whole and largest < 1:
        fix = f"take {' and '.join(WHOLE_WEIGHT_LAYERS)} out of [lora] target_modules: PEFT saves a targeted one whole"
    else:
        fix = f"use rank = {largest} or lower, or list fewer layers in [lora] target_modules"
    raise UserError(
        f"{locate('lora', 'rank')}: rank = {cfg.lora.rank} gives {cfg.model.base} an adapter of about "
        f"{size / 1024**2:.0f} MB {where}, and GitHub refuses files over 100 MB, so the results would be lost after "
        f"training; {fix}."
    )


def check_data_locations(cfg, locate) -> list[SettingWarning]:
    """Warn about a data file outside datasets/: a merged change to it alone would start no training on GitHub."""
    found = []
    for section, key, name in cfg.data_files():
        if Path(os.path.normpath(name)).parts[:1] != (TRAIN_WATCHES,):
            found.append(_warning(locate, section, key, (
                f'"{name}" is outside {TRAIN_WATCHES}/, and the Train workflow starts on main only when {TRAIN_WATCHES}/ '
                "or project.toml change, so a merged change to this file alone would train nothing (until you press "
                f"Run workflow); move the file into {TRAIN_WATCHES}/ and change this path"
            )))  # fmt: skip
    return found


# The Data check (validate.yml) says here whether the repository has the HF_JOBS_TOKEN secret: "yes", "no", or
# "unknown" where GitHub gives a run no secrets (a fork's pull request). Never the secret itself.
JOBS_TOKEN_SET = "FINETUNE_HF_JOBS_TOKEN_SET"


def check_jobs_token(cfg, locate) -> list[SettingWarning]:
    """Warn at the pull request when backend = "hf-jobs" and the secret that starts the job is missing: without it
    the Train workflow stops after the merge, where the learner no longer sees this report."""
    if cfg.train.backend != "hf-jobs" or os.environ.get(JOBS_TOKEN_SET) != "no":
        return []
    return [_warning(locate, "train", "backend", (
        'backend = "hf-jobs" starts the training job with the repository secret HF_JOBS_TOKEN, which this repository '
        "does not have, so the Train workflow would stop after the merge; add it (Settings > Secrets and variables > "
        'Actions, as the README\'s one-time set-up says) before you merge, or use backend = "runner" or "colab"'
    ))]  # fmt: skip


def _warning(locate, section: str, key: str, message: str) -> SettingWarning:
    return SettingWarning(section, key, locate.line(section, key), message)


# ---------------------------------------------------------------- checked by the card step

# Licence ids the Hub accepts (https://huggingface.co/docs/hub/repositories-licenses, and the list in the Hub's
# "Invalid metadata in README.md" refusal, huggingface/huggingface_hub#4218); "other" needs
# license_name and license_link, which project.toml has no place for yet, so it is not offered.
HUB_LICENSES = {
    "apache-2.0", "mit", "openrail", "bigscience-openrail-m", "creativeml-openrail-m", "bigscience-bloom-rail-1.0",
    "bigcode-openrail-m", "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd", "bsd-2-clause", "bsd-3-clause",
    "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0", "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0",
    "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0",
    "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0",
    "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0", "epl-1.0", "epl-2.0",
    "etalab-2.0", "eupl-1.1", "agpl-3.0", "gfdl", "gpl", "gpl-2.0", "gpl-3.0", "lgpl", "lgpl-2.1", "lgpl-3.0",
    "isc", "lppl-1.3c", "ms-pl", "mpl-2.0", "odc-by", "odbl", "openrail++", "osl-3.0", "postgresql", "ofl-1.1",
    "ncsa", "unlicense", "zlib", "pddl", "lgpl-lr", "deepfloyd-if-license", "llama2", "llama3", "llama3.1",
    "llama3.2", "llama3.3", "gemma", "unknown", "eupl-1.2", "h-research", "intel-research", "apple-ascl", "apple-amlr",
    "openmdw-1.0", "llama4", "grok2-community", "fair-noncommercial-research-license",
}  # fmt: skip


def check_ethics_fields(cfg) -> None:
    """Every [card] field must be written by a person: the card step will not invent ethics text."""
    empty = cfg.card.empty_fields()
    if empty:
        reasons = "; ".join(f"{name} ({why})" for name, why in empty.items())
        raise UserError(
            f"{setting_locator(cfg)('card', next(iter(empty)))}: fill in {reasons}: readers of the model card need them "
            "to use the model safely, and the comments in project.toml show an example of each."
        )


# What a learner types to get past the empty-field check and means to replace later: the whole text, in any case.
CARD_PLACEHOLDERS = {"todo", "tbd", "tbc", "fixme", "xxx", "fill in", "fill in later", "fill this in", "placeholder",
                     "lorem ipsum", "changeme", "change me", "test", "asdf"}  # fmt: skip


def check_card_placeholders(cfg) -> None:
    """A [card] field that is only a placeholder would be published as the model card's ethics text."""
    for name in CardSettings.__dataclass_fields__:
        text = getattr(cfg.card, name)
        words = text.strip().lower().strip(".!?:;,-_… ")  # "TODO.", "...", "-" and "?" keep no words
        if not words or words in CARD_PLACEHOLDERS:
            raise UserError(
                f'{setting_locator(cfg)("card", name)}: {name} is "{text.strip()}", a placeholder, and the model card '
                f"would publish it as is; write {CardSettings.__dataclass_fields__[name].metadata['needed_for']} "
                "(the comments in project.toml show an example)."
            )


def check_license(cfg) -> None:
    license_id = cfg.project.license.strip()
    if license_id == "other":  # on the Hub's list, but tells a reader nothing without a name and link project.toml cannot give
        raise UserError(
            f'{setting_locator(cfg)("project", "license")}: license "other" tells the card\'s readers nothing about '
            "what they may do unless the card also names the licence and links its text (license_name, license_link), "
            "which project.toml has no place for yet; pick a listed licence id from "
            "https://huggingface.co/docs/hub/repositories-licenses (e.g. apache-2.0, mit, cc-by-4.0)."
        )
    if license_id not in HUB_LICENSES:
        close = difflib.get_close_matches(license_id.lower(), sorted(HUB_LICENSES), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UserError(
            f"{setting_locator(cfg)('project', 'license')}: license {license_id!r} is not a licence id the Hugging Face "
            f"Hub knows; {hint}pick one from https://huggingface.co/docs/hub/repositories-licenses (e.g. apache-2.0, mit, cc-by-4.0)."
        )


# The Hub refuses a model card whose `language` is not an ISO 639-1, 639-2 or 639-3 code in lower case (two or
# three letters) or one of its special values; BCP-47 tags such as "en-US" go in another field it has.
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
HUB_SPECIAL_LANGUAGES = ("code", "multilingual")


def check_language_codes(cfg) -> None:
    """[project] languages becomes the model card's `language`: publish would be refused after the merge."""
    wrong = [code for code in cfg.project.languages if not is_hub_language(code)]
    if wrong:
        named = ", ".join(f'"{code}"{_code_hint(code)}' for code in wrong)
        raise UserError(
            f"{setting_locator(cfg)('project', 'languages')}: languages lists {named}, which the Hugging Face Hub refuses "
            'on a model card; write ISO 639 codes of two or three lowercase letters, such as ["en", "af"] '
            "(look a language up at https://iso639-3.sil.org/code_tables/639/data)."
        )


def is_hub_language(code: str) -> bool:
    """Two or three lowercase letters that ISO 639 lists ("ng", "naq"; not "xx"), or one of the Hub's special values."""
    return code in HUB_SPECIAL_LANGUAGES or bool(LANGUAGE_CODE.fullmatch(code) and iso_639_language(code))


def _code_hint(code: str) -> str:
    """ (write "en") for "EN", "en-US", "en_GB" or "English"; nothing when the language is not recognised."""
    found = code_for(code)
    return f' (write "{found}")' if found else ""
