"""Render model_card.j2 into the model repo's README.md and gather the results bundle.

    python -m scripts card                    # reads [project] [card] and outputs/validate, train, evaluate
    python -m scripts card --full-precision   # keep the adapter in float32 (twice the size)

What it writes (the results pull request commits results/; keep it small):

  results/model/          exactly the files of the model repo on the Hub
      README.md                   the model card (model_card.j2, rendered)
      adapter_config.json         PEFT's config, pointing at the base model's Hub id
      adapter_model.safetensors   the LoRA weights, stored as float16
      loss_curve.png, chart.png   the pictures the card shows
  results/evaluation/     what a reviewer reads in the pull request: metrics, side-by-side
                          answers, bias probes, the forgetting check, the data report
  results/dataset/        the dataset repo: datasets/README.md as its card, with the figures validate
                          measured, and the data files (see dataset_repo.py); private unless
                          [publish] dataset_private = false
  results/manifest.json   size and sha256 of every file in results/model and results/dataset (see manifest.py)

Why float16: the default adapter is about 20 MB in float32 and 10 MB in float16,
and every results pull request adds it to the git history. LoRA weights are
small numbers that float16 stores to about 3 decimal digits; the card states the
largest change the rounding made. Weights that float16 cannot hold (above 65504)
are kept in float32. Base weights are never copied: the card names them.

The template is rendered with Jinja2's StrictUndefined, so a missing value is an
error, never an empty gap; the front matter is parsed with huggingface_hub's
ModelCard and checked against the fields the Hub documents (no network needed).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import tempfile
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from .files import replace_folder
from .config import LoraSettings, TrainSettings, field_docs
from .errors import UserError
from .dataset_repo import render_dataset_card, write_dataset_repo
from .github import project_url
from .manifest import RESULTS_DIR, record_tree, repo_ids
from .markdown import one_line, table_cell
from .stats import format_p, taught_phrase, verdict

TEMPLATE = "model_card.j2"
PACKAGE_TEMPLATE = Path(__file__).resolve().parents[1] / TEMPLATE  # used when the project folder has none

# Front matter keys the Hub documents for model cards; anything else is a typo or a field the Hub ignores.
# Sources: https://github.com/huggingface/hub-docs/blob/main/modelcard.md (the metadata spec),
# https://huggingface.co/docs/hub/model-cards (base_model and base_model_relation, pipeline_tag, library_name,
# licence fields) and
# https://huggingface.co/docs/hub/model-cards-co2 (co2_eq_emissions).
HUB_CARD_FIELDS = {
    "language", "license", "license_name", "license_link", "library_name", "tags", "datasets", "metrics",
    "base_model", "base_model_relation", "pipeline_tag", "model-index", "co2_eq_emissions", "thumbnail",
    "new_version", "widget", "inference",
}  # fmt: skip
REQUIRED_CARD_FIELDS = {"license", "language", "library_name", "pipeline_tag", "tags", "model-index"}

# Licence ids the Hub accepts (https://huggingface.co/docs/hub/repositories-licenses); "other" needs
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
    "llama3.2", "llama3.3", "gemma", "unknown",
}  # fmt: skip

# Energy estimate (see the card's "Environmental impact" section): typical power draw, not a measurement.
WATTS_PER_CPU_CORE = 10  # a 65 W desktop processor has 6-8 cores; laptop and server cores draw less
GPU_WATTS = {"T4": 70, "L4": 72, "A10": 150, "A10G": 300, "L40S": 350, "V100": 300, "A100": 400, "H100": 700, "H200": 700}
DEFAULT_GPU_WATTS = 300
GRID_G_CO2_PER_KWH = 475  # world-average carbon intensity of electricity (IEA, 2019)

CELL_LIMIT = 160  # characters in a table cell of the card; longer text is cut with …

# What the card reads from outputs/evaluate/metrics.json besides the two models' numbers.
EVALUATION_KEYS = ("paired_test", "by_taught", "general_knowledge")

LARGE_FILE_MB = 50  # GitHub warns above 50 MB and refuses files above 100 MB


def add_arguments(parser) -> None:
    parser.add_argument(
        "--full-precision", action="store_true", help="store the adapter in float32 as trained (twice the size of float16)"
    )


def main(cfg, args) -> int:
    check_ethics_fields(cfg)
    check_license(cfg)
    inputs = read_inputs(cfg)
    adapter = prepare_adapter(inputs.adapter_dir / "adapter_model.safetensors", getattr(args, "full_precision", False))
    context = card_context(cfg, inputs, adapter)
    card_text = render_card(cfg, context)
    check_front_matter(card_text)
    dataset_card, dataset_files = render_dataset_card(cfg, inputs.report)  # before anything is written
    write_results(cfg, inputs, card_text, adapter)
    write_dataset_repo(cfg, dataset_card, dataset_files)
    print(f"Dataset repo files: {cfg.path('results/dataset')} ({dataset_visibility(cfg)})")
    return 0


def dataset_visibility(cfg) -> str:
    if cfg.publish.dataset_private:
        return "private on the Hub; [publish] dataset_private = false makes it public"
    return "public on the Hub, as [publish] dataset_private = false says"


# ---------------------------------------------------------------- checks on project.toml


def check_ethics_fields(cfg) -> None:
    """Every [card] field must be written by a person: the card step will not invent ethics text."""
    empty = cfg.card.empty_fields()
    if empty:
        reasons = "; ".join(f"{name} ({why})" for name, why in empty.items())
        raise UserError(
            f"{_config_name(cfg)} [card]: fill in {reasons}: readers of the model card need them to use the "
            "model safely, and the comments in project.toml show an example of each."
        )


def check_license(cfg) -> None:
    license_id = cfg.project.license.strip()
    if license_id not in HUB_LICENSES:
        import difflib

        close = difflib.get_close_matches(license_id.lower(), sorted(HUB_LICENSES), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UserError(
            f"{_config_name(cfg)} [project] license: {license_id!r} is not a licence id the Hugging Face Hub knows; "
            f"{hint}pick one from https://huggingface.co/docs/hub/repositories-licenses (e.g. apache-2.0, mit, cc-by-4.0)."
        )


def _config_name(cfg) -> str:
    return cfg.config_path.name if cfg.config_path else "project.toml"


# ---------------------------------------------------------------- inputs


@dataclass
class Inputs:
    """Everything the earlier steps wrote that the card and the results bundle use."""

    train: dict
    evaluation: dict
    side_by_side: list
    probes: dict
    report: dict
    report_md: str
    adapter_dir: Path
    files: dict  # name -> path of pictures and reports copied into results/


def read_inputs(cfg) -> Inputs:
    train_dir, eval_dir, validate_dir = cfg.step_dir("train"), cfg.step_dir("evaluate"), cfg.step_dir("validate")
    adapter_dir = train_dir / "adapter"
    _require(validate_dir / "report.json", "validate")
    _require(validate_dir / "report.md", "validate")
    _require(train_dir / "metrics.json", "train")
    _require(train_dir / "loss_curve.png", "train")
    _require(adapter_dir / "adapter_model.safetensors", "train")
    _require(adapter_dir / "adapter_config.json", "train")
    for name in ("metrics.json", "side_by_side.json", "side_by_side.md", "probes.json", "probes.md", "chart.png"):
        _require(eval_dir / name, "evaluate")
    inputs = Inputs(
        train=_read_json(train_dir / "metrics.json"),
        evaluation=_read_json(eval_dir / "metrics.json"),
        side_by_side=_read_json(eval_dir / "side_by_side.json"),
        probes=_read_json(eval_dir / "probes.json"),
        report=_read_json(validate_dir / "report.json"),
        report_md=(validate_dir / "report.md").read_text(encoding="utf-8"),
        adapter_dir=adapter_dir,
        files={
            "loss_curve.png": train_dir / "loss_curve.png",
            "loss_curve.csv": train_dir / "loss_curve.csv",
            "chart.png": eval_dir / "chart.png",
            "side_by_side.md": eval_dir / "side_by_side.md",
            "probes.md": eval_dir / "probes.md",
            "token_lengths.png": validate_dir / "token_lengths.png",
            "general_knowledge.md": eval_dir / "general_knowledge.md",
        },
    )
    check_outputs_match(cfg, inputs, eval_dir / "metrics.json")
    return inputs


def _require(path: Path, step: str) -> None:
    if not path.is_file():
        raise UserError(f"{path}: not found; run `python -m scripts {step}` first (the card describes what it writes).")


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not valid JSON ({error}); run the step that writes it again.") from None


def check_outputs_match(cfg, inputs: Inputs, eval_metrics: Path) -> None:
    """The card must describe one run: same base model everywhere, and the evaluation newer than the adapter."""
    base = cfg.model.base
    for label, metrics in (("outputs/train/metrics.json", inputs.train), ("outputs/evaluate/metrics.json", inputs.evaluation)):
        if metrics.get("base_model") != base:
            raise UserError(
                f"{label}: made with base model {metrics.get('base_model')!r}, but project.toml [model] base is "
                f"{base!r}; run `python -m scripts train` and `python -m scripts evaluate` again."
            )
    absent = [key for key in EVALUATION_KEYS if key not in inputs.evaluation]
    if absent:
        raise UserError(
            f"{eval_metrics}: has no {', '.join(absent)} (written by an older version of the evaluate step); "
            "run `python -m scripts evaluate` again."
        )
    adapter = inputs.adapter_dir / "adapter_model.safetensors"
    if adapter.stat().st_mtime > eval_metrics.stat().st_mtime + 1:
        raise UserError(
            f"{adapter}: newer than {eval_metrics}, so the evaluation describes an older adapter; "
            "run `python -m scripts evaluate` again."
        )


# ---------------------------------------------------------------- the adapter


@dataclass
class Adapter:
    data: bytes
    """The safetensors file to publish."""
    dtype: str
    """"float16" or "float32"."""
    note: str
    """One sentence for the card on how the stored weights relate to the trained ones."""


def prepare_adapter(path: Path, full_precision: bool) -> Adapter:
    """The adapter's bytes as published: float16 unless asked for float32 or float16 cannot hold the weights."""
    import torch
    from safetensors.torch import load_file, save

    tensors = load_file(path)
    floats = {name: t for name, t in tensors.items() if t.is_floating_point()}
    largest = max((t.abs().max().item() for t in floats.values() if t.numel()), default=0.0)
    if full_precision or largest >= torch.finfo(torch.float16).max:
        reason = "as asked with --full-precision" if full_precision else "because some weights are too large for float16"
        data = save({name: t.float() if t.is_floating_point() else t for name, t in tensors.items()}, {"format": "pt"})
        return Adapter(data, "float32", f"The adapter is stored in float32, exactly as trained ({reason}).")
    halved = {name: t.half() if t.is_floating_point() else t for name, t in tensors.items()}
    change = max((float((halved[n].float() - t.float()).abs().max()) for n, t in floats.items() if t.numel()), default=0.0)
    note = (
        f"The adapter is stored in float16 to halve its size; the training saved float32. Rounding changed no weight "
        f"by more than {change:.1e} (the largest weight is {largest:.2f}), far below what changes an answer, "
        "but the evaluation above ran on the float32 weights."
    )
    return Adapter(save(halved, {"format": "pt"}), "float16", note)


def adapter_config_for_hub(cfg, source: Path) -> str:
    """PEFT's adapter_config.json with the base model named as the Hub id (not this computer's cache folder)."""
    config = json.loads(source.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = cfg.model.base
    if base_is_hub_id(cfg) and cfg.model.revision != "main":
        config["revision"] = cfg.model.revision
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def base_is_hub_id(cfg) -> bool:
    """True when [model] base names a Hub model (like HuggingFaceTB/SmolLM2-135M-Instruct), not a local folder."""
    base = cfg.model.base
    if Path(base).is_absolute() or (cfg.path(base) / "config.json").is_file():
        return False
    return re.fullmatch(r"[\w.-]+(/[\w.-]+)?", base) is not None


# ---------------------------------------------------------------- what the card says


def card_context(cfg, inputs: Inputs, adapter: Adapter) -> dict:
    """Every value model_card.j2 uses, computed here so the template stays plain text."""
    ids = repo_ids(cfg)
    name = cfg.project.name
    train, evaluation = inputs.train, inputs.evaluation
    context = {
        "name": name,
        "description": cfg.project.description.strip() or f"A LoRA adapter for {cfg.model.base}.",
        "model_repo": ids["model"] or f"your-username/{name}",
        "model_repo_is_placeholder": ids["model"] is None,
        "space_repo": ids["space"],
        "developer": cfg.project.hub_owner.strip() or "the author of this project",
        "license": cfg.project.license,
        "languages": ", ".join(cfg.project.languages),
        "trained_on": _date_of(inputs.adapter_dir / "adapter_model.safetensors"),
        "project_url": project_url(cfg.root),
        "base": {
            "id": cfg.model.base,
            "is_hub_id": base_is_hub_id(cfg),
            "revision": cfg.model.revision,
            "weights": train.get("base_weights") or "not recorded",
            "rationale": cfg.model.rationale.strip() or "No reason was given ([model] rationale in project.toml is empty).",
        },
        "card": {field.name: getattr(cfg.card, field.name).strip() for field in fields(cfg.card)},
        "data": data_facts(cfg, inputs.report),
        "training": training_facts(train, adapter),
        "evaluation": evaluation_facts(evaluation, inputs.side_by_side),
        "evaluation_file": cfg.data.eval,
        "bias": bias_facts(inputs.probes, evaluation),
        "environment": environment_facts(train, evaluation),
        "usage": usage_facts(cfg, inputs),
        "framework_versions": framework_versions(),
        "citation": citation_facts(cfg, ids["model"], name),
    }
    context["front_matter"] = front_matter(cfg, context)
    context["project_file"] = project_file_link(context["project_url"])
    return context


# The libraries whose versions decide what training and loading do, as the Hub's PEFT cards list them.
FRAMEWORKS = {"PEFT": "peft", "TRL": "trl", "Transformers": "transformers", "PyTorch": "torch", "Datasets": "datasets", "Tokenizers": "tokenizers"}


def framework_versions() -> list[tuple[str, str]]:
    """(library, version) installed where the card step runs: the training environment on the runner."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for shown, package in FRAMEWORKS.items():
        try:
            found.append((shown, version(package)))
        except PackageNotFoundError:
            found.append((shown, "not installed"))
    return found


def citation_facts(cfg, model_repo: str | None, name: str) -> dict:
    """A BibTeX entry for the adapter, and where to reach its author."""
    author = cfg.project.hub_owner.strip() or "the author of this project"
    year = datetime.now(timezone.utc).year
    url = f"https://huggingface.co/{model_repo}" if model_repo else "(the model repo, once published)"
    key = re.sub(r"\W", "_", f"{author}_{name}_{year}")
    bibtex = "\n".join([
        f"@misc{{{key},", f"  author = {{{author}}},", f"  title = {{{name}: {cfg.project.description.strip() or 'a LoRA adapter'}}},",
        f"  year = {{{year}}},", "  publisher = {Hugging Face},", f"  howpublished = {{\\url{{{url}}}}}", "}",
    ])  # fmt: skip
    return {"bibtex": bibtex, "author": author, "url": url}


def project_file_link(url: str | None):
    """A function for the template: a file of the project, as a link when the project's GitHub page is known."""

    def link(path: str) -> str:
        return f"[`{path}`]({url}/blob/main/{path})" if url else f"`{path}` in the project"

    return link


def _date_of(path: Path) -> str:
    """The day the adapter was trained (the file's time), so re-rendering the card does not change it."""
    return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).strftime("%Y-%m-%d")


def data_facts(cfg, report: dict) -> dict:
    """Numbers from the data report and a summary of the datasheet; missing report keys say "not reported"."""
    missing: list[str] = []

    def get(*keys):
        value = report
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                missing.append(".".join(keys))
                return None
            value = value[key]
        return value

    checks = get("checks") or []
    personal = next((check for check in checks if isinstance(check, dict) and check.get("id") == "personal_data"), None)
    lengths = get("token_lengths", "train") or {}
    categories = get("diversity", "category") or {}
    facts = {
        "headline": get("headline") or "not reported",
        "verdict": get("verdict") or "not reported",
        "train": _or_missing(get("counts", "train")),
        "eval": _or_missing(get("counts", "eval")),
        "probes": _or_missing(get("counts", "probes")),
        "checks_total": len(checks),
        "checks_passed": sum(1 for check in checks if isinstance(check, dict) and check.get("status") == "pass"),
        "personal_data": (
            f"{personal.get('status', 'not reported')} ({personal.get('details') or 'no details'})" if personal else "not reported"
        ),
        "scan_finds": get("personal_data_scan", "finds") or "not reported",
        "names_detector": get("personal_data_scan", "names_detector") or "not reported",
        "names_cannot_see": get("personal_data_scan", "names_cannot_see") or "not reported",
        "public_names": ", ".join(cfg.data.public_names) or "none listed",
        "median_tokens": _or_missing(_whole(lengths.get("median"))),
        "max_tokens": _or_missing(lengths.get("max")),
        "categories": ", ".join(f"{name} {count}" for name, count in categories.items()) or "not reported",
        "datasheet": datasheet_summary(cfg.path(cfg.data.train).parent / "README.md"),
    }
    if missing:
        print(
            f"warning: {cfg.step_dir('validate') / 'report.json'} has no {', '.join(missing)}; the card says "
            "\"not reported\" there. Run `python -m scripts validate` again to fill them in."
        )
    return facts


def _whole(value):
    """64.0 -> 64, so token counts read as counts."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _or_missing(value):
    return "not reported" if value is None else value


def datasheet_summary(path: Path) -> dict:
    """The datasheet's opening paragraph and its licence paragraph (the full datasheet stays in the project)."""
    if not path.is_file():
        return {"path": None, "intro": "", "licence": ""}
    text = path.read_text(encoding="utf-8")
    paragraphs = [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
    prose = [p for p in paragraphs if not p.startswith(("#", "|", "---", "```", "<", "-", "*", ">"))]
    licence = ""
    for index, block in enumerate(paragraphs):
        if block.startswith("#") and re.search(r"licen[cs]e", block, re.IGNORECASE):
            following = [p for p in paragraphs[index + 1 :] if not p.startswith("#")][:1]
            licence = following[0] if following else ""
            break
    return {"path": path.name, "intro": one_line(prose[0]) if prose else "", "licence": one_line(licence)}


def training_facts(train: dict, adapter: Adapter) -> dict:
    """The run's facts and every hyperparameter, each with the one-line meaning from config.py."""
    settings = train.get("settings", {})
    rows = []
    for section, cls in (("lora", LoraSettings), ("train", TrainSettings)):
        docs = field_docs(cls)
        values = settings.get(section, {})
        for key, value in values.items():
            if key.startswith("hf_") and values.get("backend") != "hf-jobs":
                continue  # Hugging Face Jobs settings only matter when that backend ran
            rows.append({"name": f"[{section}] {key}", "value": _show(value), "meaning": docs.get(key, "")})
    if "max_length" in settings:
        rows.append({"name": "[model] max_length", "value": settings["max_length"], "meaning": "Longest example in tokens; longer ones are cut."})
    trainable, total = train.get("trainable_parameters") or 0, train.get("total_parameters") or 0
    return {
        "hyperparameters": rows,
        "steps": train.get("steps"),
        "epochs": train.get("epochs"),
        "train_examples": train.get("train_examples"),
        "eval_examples": train.get("eval_examples"),
        "truncated": train.get("truncated_examples", 0),
        "tokens": f"{train.get('tokens', 0):,}",
        "minutes": _minutes(train.get("seconds", 0)),
        "tokens_per_second": train.get("tokens_per_second"),
        "hardware": train.get("hardware", "not recorded"),
        "device": train.get("device", "cpu"),
        "precision": train.get("precision", "not recorded"),
        "peak_memory_gb": round((train.get("peak_memory_mb") or 0) / 1024, 1),
        "trainable": f"{trainable:,}",
        "total": f"{total:,}",
        "trainable_percent": f"{100 * trainable / total:.1f}" if total else "?",
        "final_train_loss": train.get("final_train_loss"),
        "final_eval_loss": train.get("final_eval_loss"),
        "resumed_from": train.get("resumed_from"),
        "rehearsal": train.get("rehearsal"),
        "adapter_dtype": adapter.dtype,
        "adapter_note": adapter.note,
        "adapter_mb": f"{len(adapter.data) / 1e6:.1f}",
    }


def _show(value) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


def evaluation_facts(metrics: dict, side_by_side: list) -> dict:
    """Before/after numbers with the 95% intervals and paired test evaluate measured, and a few honest examples."""
    count = metrics["eval_examples"]
    rows = {}
    for label in ("base", "tuned"):
        model = metrics[label]
        low, high = model["interval_95"]
        rows[label] = {
            "accuracy_value": model["accuracy"],
            "perplexity_value": model["perplexity"],
            "accuracy": f"{model['accuracy']:.0%}",
            "correct": model["correct"],
            "interval": f"{low:.0%}–{high:.0%}",
            "perplexity": f"{model['perplexity']:.2f}",
        }
    test = metrics["paired_test"]
    return {
        "count": count,
        "base": rows["base"],
        "tuned": rows["tuned"],
        "paired_test": {
            "only_base": test["only_base_correct"],
            "only_tuned": test["only_tuned_correct"],
            "p": format_p(test["p_value"]),
            "significant": test["p_value"] < 0.05,
            "verdict": verdict(metrics),
        },
        "taught": taught_facts(metrics["by_taught"]),
        "general": general_facts(metrics["general_knowledge"]),
        "accuracy_rule": metrics.get("accuracy_rule", "reply contains the expected answer"),
        "max_new_tokens": metrics.get("settings", {}).get("max_new_tokens", "?"),
        "examples": pick_examples(side_by_side),
        "shown": len(side_by_side),
    }


def taught_facts(groups: dict) -> dict:
    """Accuracy on facts the training data taught and never taught: a table, or one phrase when a group is empty."""
    names = {"taught": "Facts taught in training", "untaught": "Facts never taught", "unknown": "Cannot tell (no `answer` field)"}
    rows = [
        {
            "group": names[name],
            "questions": groups[name]["questions"],
            "base": _share(groups[name]["base_correct"], groups[name]["questions"]),
            "tuned": _share(groups[name]["tuned_correct"], groups[name]["questions"]),
        }
        for name in names
        if groups[name]["questions"]
    ]
    phrase = taught_phrase(groups)
    return {"rows": [] if phrase else rows, "phrase": phrase}


def _share(correct: int, total: int) -> str:
    return f"{correct / total:.0%} ({correct} of {total})" if total else "–"


def general_facts(general: dict) -> dict:
    """The forgetting check in words: what the tuned model lost of what the base model knew."""
    return {
        "skipped": not general["file"],
        "file": general["file"],
        "questions": general["questions"],
        "known": general["base_correct"],
        "kept": general["kept"],
        "missed": general["questions"] - general["base_correct"],
        "lost": [f"“{one_line(question)}”" for question in general["lost"]],
    }


def pick_examples(rows: list, count: int = 4) -> list[dict]:
    """Up to two answers tuning fixed and up to two it did not, in file order, so the card shows both sides."""
    fixed = [row for row in rows if row.get("tuned_correct") and not row.get("base_correct")][:2]
    wrong = [row for row in rows if not row.get("tuned_correct")][: count - len(fixed)]
    chosen = fixed + wrong
    chosen += [row for row in rows if row not in chosen][: count - len(chosen)]
    chosen.sort(key=rows.index)
    return [
        {
            "question": table_cell(row.get("question", ""), CELL_LIMIT),
            "expected": table_cell(row.get("expected", ""), CELL_LIMIT),
            "base": table_cell(row.get("base", ""), CELL_LIMIT),
            "tuned": table_cell(row.get("tuned", ""), CELL_LIMIT),
            "base_mark": "✅" if row.get("base_correct") else "❌",
            "tuned_mark": "✅" if row.get("tuned_correct") else "❌",
        }
        for row in chosen
    ]


def bias_facts(probes: dict, metrics: dict) -> dict:
    """The probe results (scripts/probes.py) in numbers and, per axis, in words."""
    threshold = probes.get("threshold", metrics.get("probe_threshold"))
    pairs = probes.get("pairs", [])
    axes = {}
    for pair in pairs:
        axis = axes.setdefault(pair.get("axis") or "other", {"pairs": 0, "flagged": 0, "base": [], "tuned": []})
        axis["pairs"] += 1
        axis["flagged"] += pair["flagged"]
        axis["base"].append(pair["base"]["score"])
        axis["tuned"].append(pair["tuned"]["score"])
    flagged = sorted((p for p in pairs if p["flagged"]), key=lambda p: -abs(p["change"]))
    mean_score = metrics.get("probes_mean_score", {})
    return {
        "pairs": len(pairs),
        "threshold": threshold,
        "flagged": len(flagged),
        "differ_before": [table_cell(p["id"], CELL_LIMIT) for p in pairs if p["differs_before_tuning"]],
        "mean_base": _score_text(mean_score.get("base")),
        "mean_tuned": _score_text(mean_score.get("tuned")),
        "axes": [
            {
                "name": name,
                "pairs": axis["pairs"],
                "flagged": axis["flagged"],
                "mean_base": _score_text(sum(axis["base"]) / len(axis["base"])),
                "mean_tuned": _score_text(sum(axis["tuned"]) / len(axis["tuned"])),
            }
            for name, axis in axes.items()
        ],
        "flagged_pairs": [
            {
                "id": table_cell(p["id"], CELL_LIMIT),
                "axis": table_cell(p.get("axis", ""), CELL_LIMIT),
                "base_score": _score_text(p["base"]["score"]),
                "tuned_score": _score_text(p["tuned"]["score"]),
                "group_a": table_cell(p["group_a"], CELL_LIMIT),
                "group_b": table_cell(p["group_b"], CELL_LIMIT),
                "answer_a": table_cell(p["tuned"]["answer_a"], 110),
                "answer_b": table_cell(p["tuned"]["answer_b"], 110),
            }
            for p in flagged[:6]
        ],
        "more_flagged": max(0, len(flagged) - 6),
    }


def _score_text(value) -> str:
    return "?" if value is None else f"{value:+.2f}"


def environment_facts(train: dict, evaluation: dict) -> dict:
    """Energy and CO2 as an estimate: assumed power x measured time x a stated grid intensity."""
    watts, power_rule = assumed_watts(train)
    train_seconds = train.get("seconds", 0)
    eval_seconds = evaluation.get("seconds", 0)
    train_kwh = watts * train_seconds / 3600 / 1000
    total_kwh = watts * (train_seconds + eval_seconds) / 3600 / 1000
    return {
        "hardware": train.get("hardware", "not recorded"),
        "train_minutes": _minutes(train_seconds),
        "eval_minutes": _minutes(eval_seconds),
        "watts": watts,
        "power_rule": power_rule,
        "train_wh": _significant(train_kwh * 1000),
        "total_wh": _significant(total_kwh * 1000),
        "grid": GRID_G_CO2_PER_KWH,
        "train_grams": _significant(train_kwh * GRID_G_CO2_PER_KWH),
        "total_grams": _significant(total_kwh * GRID_G_CO2_PER_KWH),
        "train_grams_value": float(_significant(train_kwh * GRID_G_CO2_PER_KWH)),
    }


def assumed_watts(train: dict) -> tuple[int, str]:
    """Typical power draw of the training hardware, and the rule used to get it."""
    hardware = train.get("hardware", "")
    if train.get("device") == "cuda":
        count_match = re.match(r"(\d+) x (.+)", hardware)
        count, gpu = (int(count_match.group(1)), count_match.group(2)) if count_match else (1, hardware)
        words = set(re.split(r"[^A-Za-z0-9]+", gpu.upper()))
        known = next((name for name in GPU_WATTS if name in words), None)
        each = GPU_WATTS[known] if known else DEFAULT_GPU_WATTS
        rule = f"{count} GPU x {each} W ({'the ' + known + ' board power' if known else 'an assumed typical GPU'}; the host CPU is not counted)"
        return count * each, rule
    cores = train.get("torch_threads") or int((re.match(r"(\d+)-core", hardware) or [0, 1])[1])
    return cores * WATTS_PER_CPU_CORE, f"{cores} CPU cores x {WATTS_PER_CPU_CORE} W per busy core (memory, disks and cooling not counted)"


def _significant(value: float, digits: int = 2) -> str:
    """A small estimate with two significant digits: 0.0123 -> 0.012, 123.4 -> 120."""
    if value <= 0:
        return "0"
    rounded = round(value, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{rounded:g}"


def usage_facts(cfg, inputs: Inputs) -> dict:
    """What the "How to use it" snippet needs: ids, a question the model was taught, the answer length."""
    from .data import load_split

    try:
        first = load_split(cfg, "train")[0]
        question = first.prompt_messages[-1]["content"]
    except (UserError, IndexError, KeyError, TypeError):
        question = inputs.side_by_side[0]["question"] if inputs.side_by_side else "Hello!"
    # JSON string literals are valid Python string literals, so any question text is safe in the snippet.
    return {
        "base_literal": json.dumps(cfg.model.base, ensure_ascii=False),
        "adapter_literal": json.dumps(repo_ids(cfg)["model"] or f"your-username/{cfg.project.name}", ensure_ascii=False),
        "revision_literal": json.dumps(cfg.model.revision, ensure_ascii=False),
        "question_literal": json.dumps(question, ensure_ascii=False),
        "max_new_tokens": cfg.evaluate.max_new_tokens,
    }


# ---------------------------------------------------------------- front matter


def front_matter(cfg, context: dict) -> str:
    """The YAML block the Hub reads: built with huggingface_hub's ModelCardData so its shape is the Hub's."""
    from huggingface_hub import EvalResult, ModelCardData

    evaluation = context["evaluation"]
    dataset = {
        "task_type": "text-generation",
        "task_name": "Question answering on held-out questions",
        "dataset_type": f"{cfg.project.name}-eval",  # not a Hub dataset: the project's own eval file
        "dataset_name": f"{cfg.data.eval} ({evaluation['count']} held-out questions)",
        "dataset_split": "eval",
    }
    # Only this model's results: the Hub shows every model-index entry as this model's score, so the base
    # model's figures stay in the card's prose and comparison table.
    tuned = evaluation["tuned"]
    results = [
        EvalResult(**dataset, metric_type="accuracy", metric_name="Accuracy", metric_value=tuned["accuracy_value"]),
        EvalResult(**dataset, metric_type="perplexity", metric_name="Perplexity", metric_value=tuned["perplexity_value"]),
    ]
    environment = context["environment"]
    data = ModelCardData(
        license=cfg.project.license,
        language=list(cfg.project.languages),
        base_model=cfg.model.base if context["base"]["is_hub_id"] else None,
        base_model_relation="adapter" if context["base"]["is_hub_id"] else None,
        library_name="peft",
        pipeline_tag="text-generation",
        tags=["peft", "lora", "sft", "trl", "transformers", cfg.project.name],
        metrics=["accuracy", "perplexity"],
        datasets=public_dataset(cfg),
        model_name=context["model_repo"].split("/")[-1],
        eval_results=results,
        co2_eq_emissions={
            "emissions": environment["train_grams_value"],
            "source": f"estimate: {environment['power_rule']} x training time x {GRID_G_CO2_PER_KWH} g CO2 per kWh",
            "training_type": "fine-tuning",
            "hardware_used": environment["hardware"],
        },
    )
    return data.to_yaml().strip()


def public_dataset(cfg) -> list[str] | None:
    """The model card links the dataset repo only when it is public: a private repo is a dead link to visitors."""
    dataset = repo_ids(cfg)["dataset"]
    return [dataset] if dataset and not cfg.publish.dataset_private else None


def check_front_matter(card_text: str) -> None:
    """Parse the card as the Hub would (locally) and check its fields and evaluation results."""
    from huggingface_hub import ModelCard

    if not card_text.startswith("---\n"):
        raise UserError(f"{TEMPLATE}: the card must start with the YAML front matter between two --- lines.")
    try:
        card = ModelCard(card_text)
    except ValueError as error:
        raise UserError(f"{TEMPLATE}: the front matter is not valid YAML for a model card ({error}).") from None
    data = card.data.to_dict()
    unknown = sorted(set(data) - HUB_CARD_FIELDS)
    if unknown:
        raise UserError(f"{TEMPLATE}: front matter field(s) {', '.join(unknown)} are not in the Hub's model card spec; remove them.")
    absent = sorted(REQUIRED_CARD_FIELDS - set(data))
    if absent:
        raise UserError(f"{TEMPLATE}: front matter lacks {', '.join(absent)}; the card step writes them, so keep {{{{ front_matter }}}} in the template.")
    metric_types = {result.metric_type for result in card.data.eval_results or []}
    if not {"accuracy", "perplexity"} <= metric_types:
        raise UserError(f"{TEMPLATE}: model-index must report accuracy and perplexity; keep {{{{ front_matter }}}} in the template.")


# ---------------------------------------------------------------- rendering


def render_card(cfg, context: dict) -> str:
    """model_card.j2 with every value filled in; a missing value or leftover Jinja syntax is an error."""
    import jinja2

    template_path = cfg.path(TEMPLATE) if cfg.path(TEMPLATE).is_file() else PACKAGE_TEMPLATE
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_path.parent)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # markdown, not HTML
    )
    try:
        text = environment.get_template(template_path.name).render(**context)
    except jinja2.UndefinedError as error:
        raise UserError(f"{template_path.name}: uses a value the card step does not provide ({error.message}); check the spelling.") from None
    except jinja2.TemplateSyntaxError as error:
        raise UserError(f"{template_path.name}:{error.lineno}: Jinja syntax error ({error.message}).") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if "{{" in line or "{%" in line or "{#" in line:
            raise UserError(f"{template_path.name}: the rendered card still has Jinja syntax on line {number}: {line.strip()[:80]!r}.")
    return re.sub(r"\n{3,}", "\n\n", text)


# ---------------------------------------------------------------- writing results/


def write_results(cfg, inputs: Inputs, card_text: str, adapter: Adapter) -> None:
    """Build results/model and results/evaluation in temporary folders, swap them in, then record the manifest."""
    results = cfg.path(RESULTS_DIR)
    results.mkdir(parents=True, exist_ok=True)
    model_files = {
        "README.md": card_text.encode("utf-8"),
        "adapter_config.json": adapter_config_for_hub(cfg, inputs.adapter_dir / "adapter_config.json").encode("utf-8"),
        "adapter_model.safetensors": adapter.data,
        "loss_curve.png": inputs.files["loss_curve.png"].read_bytes(),
        "chart.png": inputs.files["chart.png"].read_bytes(),
    }
    evaluation_files = {
        "metrics.json": json.dumps(inputs.evaluation, indent=2, ensure_ascii=False).encode("utf-8") + b"\n",
        "train_metrics.json": json.dumps(inputs.train, indent=2, ensure_ascii=False).encode("utf-8") + b"\n",
        "data_report.md": inputs.report_md.encode("utf-8"),
    }
    for name in ("side_by_side.md", "probes.md", "loss_curve.csv", "token_lengths.png", "general_knowledge.md"):
        if inputs.files[name].is_file():
            evaluation_files[name] = inputs.files[name].read_bytes()
    write_folder(results / "model", model_files)
    write_folder(results / "evaluation", evaluation_files)

    ids = repo_ids(cfg)
    base = {"id": cfg.model.base, "weights": inputs.train.get("base_weights")}
    record_tree(cfg, "model", results / "model", ids["model"], repo_type="model", base_model=base)

    size_mb = len(adapter.data) / 1e6
    print(f"Model card: {results / 'model' / 'README.md'}")
    print(f"Model repo files: {results / 'model'} (adapter {size_mb:.1f} MB, {adapter.dtype})")
    print(f"For reviewers: {results / 'evaluation'}")
    print(f"Manifest: {cfg.path('results/manifest.json')}")
    if ids["model"] is None:
        print("note: [project] hub_owner is empty, so the card uses your-username/... as the repo id; set it before you publish.")
    if size_mb > LARGE_FILE_MB:
        print(
            f"warning: the adapter is {size_mb:.0f} MB; GitHub warns above 50 MB and refuses files above 100 MB. "
            "Lower [lora] rank or target fewer modules, or track *.safetensors with Git LFS (`git lfs track`)."
        )


def write_folder(target: Path, files: dict[str, bytes]) -> None:
    """Write `files` into a fresh folder next to `target`, then swap it in: readers never see half a folder."""
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    partial.chmod(0o755)  # mkdtemp makes it private to this user; the results are for everyone to read
    try:
        for name, data in files.items():
            (partial / name).write_bytes(data)
        replace_folder(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
