"""Render model_card.j2 into the model repo's README.md and gather the results bundle.

    python -m scripts card                    # reads [project] [card] and outputs/validate, train, evaluate
    python -m scripts card --full-precision   # keep the adapter in float32 (twice the size)

Writes results/model/ (exactly the model repo: the card, the adapter in float16 by adapter.py, the
pictures), results/evaluation/ (what a reviewer reads), results/dataset/ (dataset_repo.py) and their
sha256 in results/manifest.json. The card's numbers and sentences come from card_facts.py; the template
is rendered with StrictUndefined and its front matter checked with huggingface_hub's ModelCard, offline.
What each folder holds and why: docs/design.md, "The results bundle and the manifest".
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path

from .adapter import Adapter, prepare_adapter
from .card_facts import (
    GRID_G_CO2_PER_KWH, base_licence, bias_facts, citation_facts, data_facts, environment_facts, evaluation_facts,
    framework_versions, training_facts, usage_facts,
)  # fmt: skip
from .files import replace_folder
from .errors import UserError
from .dataset_repo import render_dataset_card, write_dataset_repo
from .github import project_url
from .manifest import RESULTS_DIR, record_tree, repo_ids
from .outputs import (
    METRICS_FILE, EvaluateMetrics, TrainMetrics, ValidateReport, evaluate_metrics_path, published_json, read_evaluate_metrics,
    read_train_metrics, read_validate_report, train_metrics_path, validate_report_path,
)  # fmt: skip
from .validate_settings import check_card_placeholders, check_ethics_fields, check_license
from .templating import leftover_syntax

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

# What the card reads from outputs/evaluate/metrics.json that evaluate steps before 2026-11-29 did not write.
EVALUATION_KEYS = ("paired_test", "by_taught", "general_knowledge")

LARGE_FILE_MB = 50  # GitHub warns above 50 MB and refuses files above 100 MB


def add_arguments(parser) -> None:
    parser.add_argument(
        "--full-precision", action="store_true", help="store the adapter in float32 as trained (twice the size of float16)"
    )


def main(cfg, args) -> int:
    check_ethics_fields(cfg)
    check_card_placeholders(cfg)
    check_license(cfg)
    inputs = read_inputs(cfg)
    adapter = prepare_adapter(inputs.adapter_dir / "adapter_model.safetensors", args.full_precision)
    context = card_context(cfg, inputs, adapter)
    card_text = render_card(cfg, context)
    check_front_matter(card_text)
    dataset_card, dataset_files = render_dataset_card(cfg, inputs.report, project_url(cfg.root))  # before anything is written
    write_results(cfg, inputs, card_text, adapter)
    write_dataset_repo(cfg, dataset_card, dataset_files)
    print(f"Dataset repo files: {cfg.path('results/dataset')} ({dataset_visibility(cfg)})")
    return 0


def dataset_visibility(cfg) -> str:
    if cfg.publish.dataset_private:
        return "private on the Hub; [publish] dataset_private = false makes it public"
    return "public on the Hub, as [publish] dataset_private = false says"


# ---------------------------------------------------------------- inputs


@dataclass
class Inputs:
    """Everything the earlier steps wrote that the card and the results bundle use."""

    train: TrainMetrics
    evaluation: EvaluateMetrics
    side_by_side: list
    probes: dict
    report: ValidateReport
    report_md: str
    adapter_dir: Path
    files: dict  # name -> path of pictures and reports copied into results/


def read_inputs(cfg) -> Inputs:
    train_dir, eval_dir, validate_dir = cfg.step_dir("train"), cfg.step_dir("evaluate"), cfg.step_dir("validate")
    adapter_dir = train_dir / "adapter"
    _require(validate_report_path(cfg), "validate")
    _require(validate_dir / "report.md", "validate")
    _require(train_metrics_path(cfg), "train")
    _require(train_dir / "loss_curve.png", "train")
    _require(adapter_dir / "adapter_model.safetensors", "train")
    _require(adapter_dir / "adapter_config.json", "train")
    _require(evaluate_metrics_path(cfg), "evaluate")
    for name in ("side_by_side.json", "side_by_side.md", "probes.json", "probes.md", "chart.png"):
        _require(eval_dir / name, "evaluate")
    inputs = Inputs(
        train=read_train_metrics(cfg),
        evaluation=read_evaluate_metrics(cfg),
        side_by_side=_read_json(eval_dir / "side_by_side.json"),
        probes=_read_json(eval_dir / "probes.json"),
        report=read_validate_report(cfg),
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
    check_outputs_match(cfg, inputs, evaluate_metrics_path(cfg))
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
    made_with = {"outputs/train/metrics.json": inputs.train.base_model, "outputs/evaluate/metrics.json": inputs.evaluation.base_model}
    for label, used in made_with.items():
        if used != base:
            raise UserError(
                f"{label}: made with base model {used!r}, but project.toml [model] base is "
                f"{base!r}; run `python -m scripts train` and `python -m scripts evaluate` again."
            )
    absent = [key for key in EVALUATION_KEYS if getattr(inputs.evaluation, key) is None]
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
            "weights": train.base_weights or "not recorded",
            "rationale": cfg.model.rationale.strip() or "No reason was given ([model] rationale in project.toml is empty).",
            "licence": base_licence(cfg.model.base),
        },
        "card": {field.name: getattr(cfg.card, field.name).strip() for field in fields(cfg.card)},
        "data": data_facts(cfg, inputs.report),
        "training": training_facts(train, adapter),
        "evaluation": evaluation_facts(evaluation, inputs.side_by_side),
        "evaluation_file": cfg.data.eval,
        "bias": bias_facts(inputs.probes, evaluation),
        "environment": environment_facts(train, evaluation),
        "usage": usage_facts(cfg, inputs.side_by_side),
        "framework_versions": framework_versions(),
        "citation": citation_facts(cfg, ids["model"], name),
    }
    context["front_matter"] = front_matter(cfg, context)
    context["project_file"] = project_file_link(context["project_url"])
    return context


def project_file_link(url: str | None):
    """A function for the template: a file of the project, as a link when the project's GitHub page is known."""

    def link(path: str) -> str:
        return f"[`{path}`]({url}/blob/main/{path})" if url else f"`{path}` in the project"

    return link


def _date_of(path: Path) -> str:
    """The day the adapter was trained (the file's time), so re-rendering the card does not change it."""
    return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).strftime("%Y-%m-%d")


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
        template = environment.get_template(template_path.name)
        text = template.render(**context)
    except jinja2.UndefinedError as error:
        raise UserError(f"{template_path.name}: uses a value the card step does not provide ({error.message}); check the spelling.") from None
    except jinja2.TemplateSyntaxError as error:
        raise UserError(f"{template_path.name}:{error.lineno}: Jinja syntax error ({error.message}).") from None
    # Only what the template itself leaves is an error: a model's reply may say "{{ name }}", and stopping
    # the card step after training for that would lose the run.
    leftover = leftover_syntax(template, context)
    if leftover:
        raise UserError(f"{template_path.name}: the rendered card still has Jinja syntax on line {leftover[0]}: {leftover[1][:80]!r}.")
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
        METRICS_FILE: published_json(inputs.evaluation),
        "train_metrics.json": published_json(inputs.train),
        "data_report.md": inputs.report_md.encode("utf-8"),
    }
    for name in ("side_by_side.md", "probes.md", "loss_curve.csv", "token_lengths.png", "general_knowledge.md"):
        if inputs.files[name].is_file():
            evaluation_files[name] = inputs.files[name].read_bytes()
    write_folder(results / "model", model_files)
    write_folder(results / "evaluation", evaluation_files)

    ids = repo_ids(cfg)
    base = {"id": cfg.model.base, "weights": inputs.train.base_weights}
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
