"""What the model card says, in numbers and short sentences, computed from the steps' outputs: the data
report's figures, the run and its hyperparameters, accuracy with its interval and the paired test, the
bias probes, energy and CO2 (an estimate), the usage snippet and a citation.

    context["evaluation"] = evaluation_facts(metrics, side_by_side)   # as scripts/card.py assembles them
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from pathlib import Path

from .adapter import Adapter
from .config import LoraSettings, TrainSettings, field_docs
from .dataset_repo import read_datasheet
from .errors import UserError
from .manifest import repo_ids
from .markdown import one_line, table_cell
from .outputs import ByTaught, EvaluateMetrics, GeneralKnowledge, TrainMetrics, ValidateReport, validate_report_path
from .stats import format_p, taught_phrase, verdict

# Energy estimate (see the card's "Environmental impact" section): typical power draw, not a measurement.
WATTS_PER_CPU_CORE = 10  # a 65 W desktop processor has 6-8 cores; laptop and server cores draw less
GPU_WATTS = {"T4": 70, "L4": 72, "A10": 150, "A10G": 300, "L40S": 350, "V100": 300, "A100": 400, "H100": 700, "H200": 700}
DEFAULT_GPU_WATTS = 300
GRID_G_CO2_PER_KWH = 475  # world-average carbon intensity of electricity (IEA, 2019)

CELL_LIMIT = 160  # characters in a table cell of the card; longer text is cut with …

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


def base_licence(model_id: str) -> str:
    """The base model's licence and its terms, from scripts/base_models.toml; else where to read them."""
    from .base_models import find

    listed = find(model_id)
    if listed is None:
        return f"not in scripts/base_models.toml: see the licence on {model_id}'s model card"
    return f"{listed.licence}: {listed.licence_terms}"


def tokens_per_word_text(figures: dict | None) -> str:
    """e.g. "en 1.31, ng 2.11 (English reference 1.31); more than English means the model saw less of it"."""
    if not figures:
        return "not reported"
    shown = ", ".join(f"{code} {row['tokens_per_word']}" for code, row in figures["languages"].items() if row["tokens_per_word"])
    return (
        f"{shown or 'no example attributed to a declared language'} (English reference {figures['english_reference']}); "
        "more tokens per word than English means the base model saw less of that language, and answers in it are weaker"
    )


def data_facts(cfg, report: ValidateReport) -> dict:
    """Numbers from the data report and a summary of the datasheet; what an older report lacks says "not reported"."""
    personal = report.check("personal_data")
    lengths = report.token_lengths.get("train") or {}
    categories = report.diversity.get("category") or {}
    scan = report.personal_data_scan
    facts = {
        "headline": report.headline,
        "verdict": report.verdict,
        "train": report.counts.train,
        "eval": report.counts.eval,
        "probes": report.counts.probes,
        "checks_total": len(report.checks),
        "checks_passed": sum(1 for check in report.checks if check.status == "pass"),
        "personal_data": f"{personal.status} ({personal.details or 'no details'})" if personal else "not reported",
        "scan_finds": scan.finds if scan else "not reported",
        "names_detector": scan.names_detector if scan else "not reported",
        "names_cannot_see": scan.names_cannot_see if scan else "not reported",
        "public_names": ", ".join(cfg.data.public_names) or "none listed",
        "median_tokens": _or_missing(_whole(lengths.get("median"))),
        "max_tokens": _or_missing(lengths.get("max")),
        "categories": ", ".join(f"{name} {count}" for name, count in categories.items()) or "not reported",
        "datasheet": datasheet_summary(cfg.path(cfg.data.train).parent / "README.md"),
        "tokens_per_word": tokens_per_word_text(report.tokens_per_word),
    }
    if scan is None:
        print(
            f"warning: {validate_report_path(cfg)} has no personal_data_scan (an older validate step); the card says "
            "\"not reported\" there. Run `python -m scripts validate` again to fill it in."
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
    # The body only, as publish reads it: split raw, a blank line inside the front matter or a byte order
    # mark (Windows editors) would make its YAML the "opening paragraph".
    _, body = read_datasheet(path)
    paragraphs = [block.strip() for block in re.split(r"\n\s*\n", body) if block.strip()]
    prose = [p for p in paragraphs if not p.startswith(("#", "|", "---", "```", "<", "-", "*", ">"))]
    licence = ""
    for index, block in enumerate(paragraphs):
        if block.startswith("#") and re.search(r"licen[cs]e", block, re.IGNORECASE):
            following = [p for p in paragraphs[index + 1 :] if not p.startswith("#")][:1]
            licence = following[0] if following else ""
            break
    return {"path": path.name, "intro": one_line(prose[0]) if prose else "", "licence": one_line(licence)}


def training_facts(train: TrainMetrics, adapter: Adapter) -> dict:
    """The run's facts and every hyperparameter, each with the one-line meaning from config.py."""
    settings = train.settings
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
    trainable, total = train.trainable_parameters, train.total_parameters
    return {
        "hyperparameters": rows,
        "steps": train.steps,
        "epochs": train.epochs,
        "train_examples": train.train_examples,
        "eval_examples": train.eval_examples,
        "truncated": train.truncated_examples,
        "tokens": f"{train.tokens:,}",
        "minutes": _minutes(train.seconds),
        "tokens_per_second": train.tokens_per_second,
        "hardware": train.hardware,
        "device": train.device,
        "precision": train.precision,
        "peak_memory_gb": round(train.peak_memory_mb / 1024, 1),
        "trainable": f"{trainable:,}",
        "total": f"{total:,}",
        "trainable_percent": f"{100 * trainable / total:.1f}" if total else "?",
        "final_train_loss": train.final_train_loss,
        "final_eval_loss": train.final_eval_loss,
        "resumed_from": train.resumed_from,
        "rehearsal": train.rehearsal,
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


def evaluation_facts(metrics: EvaluateMetrics, side_by_side: list) -> dict:
    """Before/after numbers with the 95% intervals and paired test evaluate measured, and a few honest examples."""
    rows = {}
    for label, model in (("base", metrics.base), ("tuned", metrics.tuned)):
        low, high = model.interval_95
        rows[label] = {
            "accuracy_value": model.accuracy,
            "perplexity_value": model.perplexity,
            "accuracy": f"{model.accuracy:.0%}",
            "correct": model.correct,
            "interval": f"{low:.0%}–{high:.0%}",
            "perplexity": f"{model.perplexity:.2f}",
        }
    test = metrics.paired_test
    return {
        "count": metrics.eval_examples,
        "base": rows["base"],
        "tuned": rows["tuned"],
        "paired_test": {
            "only_base": test.only_base_correct,
            "only_tuned": test.only_tuned_correct,
            "p": format_p(test.p_value),
            "significant": test.p_value < 0.05,
            "verdict": verdict(metrics),
        },
        "taught": taught_facts(metrics.by_taught),
        "general": general_facts(metrics.general_knowledge),
        "accuracy_rule": metrics.accuracy_rule,
        "max_new_tokens": metrics.settings.get("max_new_tokens", "?"),  # [evaluate] as run: a plain dict
        "examples": pick_examples(side_by_side),
        "shown": len(side_by_side),
    }


def taught_facts(by_taught: ByTaught) -> dict:
    """Accuracy on facts the training data taught and never taught: a table, or one phrase when a group is empty."""
    names = {"taught": "Facts taught in training", "untaught": "Facts never taught", "unknown": "Cannot tell (no `answer` field)"}
    rows = [
        {
            "group": names[name],
            "questions": group.questions,
            "base": _share(group.base_correct, group.questions),
            "tuned": _share(group.tuned_correct, group.questions),
        }
        for name, group in by_taught.groups().items()
        if group.questions
    ]
    phrase = taught_phrase(by_taught)
    return {"rows": [] if phrase else rows, "phrase": phrase}


def _share(correct: int, total: int) -> str:
    return f"{correct / total:.0%} ({correct} of {total})" if total else "–"


def general_facts(general: GeneralKnowledge) -> dict:
    """The forgetting check in words: what the tuned model lost of what the base model knew."""
    return {
        "skipped": not general.file,
        "file": general.file,
        "questions": general.questions,
        "known": general.base_correct,
        "kept": general.kept,
        "missed": general.questions - general.base_correct,
        "lost": [f"“{one_line(question)}”" for question in general.lost],
        # The control (scripts/evaluate.py random_update): what random changes of the same size lost.
        "chance_lost": general.chance_lost,
        "beyond_chance": general.beyond_chance,
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


def bias_facts(probes: dict, metrics: EvaluateMetrics) -> dict:
    """The probe results (scripts/probes.py) in numbers and, per axis, in words."""
    threshold = probes.get("threshold", metrics.probe_threshold)
    pairs = probes.get("pairs", [])
    axes = {}
    for pair in pairs:
        axis = axes.setdefault(pair.get("axis") or "other", {"pairs": 0, "flagged": 0, "base": [], "tuned": []})
        axis["pairs"] += 1
        axis["flagged"] += pair["flagged"]
        axis["base"].append(pair["base"]["score"])
        axis["tuned"].append(pair["tuned"]["score"])
    flagged = sorted((p for p in pairs if p["flagged"]), key=lambda p: -abs(p["change"]))
    mean_score = metrics.probes_mean_score
    return {
        "pairs": len(pairs),
        "threshold": threshold,
        "flagged": len(flagged),
        "differ_before": [table_cell(p["id"], CELL_LIMIT) for p in pairs if p["differs_before_tuning"]],
        "mean_base": _score_text(mean_score.base if mean_score else None),
        "mean_tuned": _score_text(mean_score.tuned if mean_score else None),
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


def environment_facts(train: TrainMetrics, evaluation: EvaluateMetrics) -> dict:
    """Energy and CO2 as an estimate: assumed power x measured time x a stated grid intensity."""
    watts, power_rule = assumed_watts(train)
    train_seconds = train.seconds
    eval_seconds = evaluation.seconds
    train_kwh = watts * train_seconds / 3600 / 1000
    total_kwh = watts * (train_seconds + eval_seconds) / 3600 / 1000
    return {
        "hardware": train.hardware,
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


def assumed_watts(train: TrainMetrics) -> tuple[int, str]:
    """Typical power draw of the training hardware, and the rule used to get it."""
    hardware = train.hardware
    if train.device == "cuda":
        count_match = re.match(r"(\d+) x (.+)", hardware)
        count, gpu = (int(count_match.group(1)), count_match.group(2)) if count_match else (1, hardware)
        words = set(re.split(r"[^A-Za-z0-9]+", gpu.upper()))
        known = next((name for name in GPU_WATTS if name in words), None)
        each = GPU_WATTS[known] if known else DEFAULT_GPU_WATTS
        rule = f"{count} GPU x {each} W ({'the ' + known + ' board power' if known else 'an assumed typical GPU'}; the host CPU is not counted)"
        return count * each, rule
    cores = train.torch_threads or int((re.match(r"(\d+)-core", hardware) or [0, 1])[1])
    return cores * WATTS_PER_CPU_CORE, f"{cores} CPU cores x {WATTS_PER_CPU_CORE} W per busy core (memory, disks and cooling not counted)"


def _significant(value: float, digits: int = 2) -> str:
    """A small estimate with two significant digits: 0.0123 -> 0.012, 123.4 -> 120."""
    if value <= 0:
        return "0"
    rounded = round(value, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{rounded:g}"


def usage_facts(cfg, side_by_side: list) -> dict:
    """What the "How to use it" snippet needs: ids, a question the model was taught, the answer length."""
    from .data import load_split

    try:
        first = load_split(cfg, "train")[0]
        question = first.prompt_messages[-1]["content"]
    except (UserError, IndexError, KeyError, TypeError):
        question = side_by_side[0]["question"] if side_by_side else "Hello!"
    # JSON string literals are valid Python string literals, so any question text is safe in the snippet.
    return {
        "base_literal": json.dumps(cfg.model.base, ensure_ascii=False),
        "adapter_literal": json.dumps(repo_ids(cfg)["model"] or f"your-username/{cfg.project.name}", ensure_ascii=False),
        "revision_literal": json.dumps(cfg.model.revision, ensure_ascii=False),
        "question_literal": json.dumps(question, ensure_ascii=False),
        "max_new_tokens": cfg.evaluate.max_new_tokens,
    }
