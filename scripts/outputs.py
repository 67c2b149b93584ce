"""The results one step hands to the next, as dataclasses: where each file lives, and one function that
writes it and one that reads it.

    write_train_metrics(cfg, metrics)     # train: outputs/train/metrics.json
    read_train_metrics(cfg)               # card, rubric: a TrainMetrics, or None when train has not run
    write_evaluate_metrics(cfg, metrics)  # evaluate: outputs/evaluate/metrics.json
    read_evaluate_metrics(cfg)            # card, rubric, run: an EvaluateMetrics, or None when evaluate has not run
    write_validate_report(folder, report) # validate: report.json, into its staging folder (outputs/validate/ at the end)
    read_validate_report(cfg)             # card, rubric, models: a ValidateReport, or None when validate has not run

A field a writer forgets or misspells is a TypeError at the writer; a field an older version of a step
did not write yet has a default here (noted beside it), so its files stay readable.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from .errors import UserError
from .files import write_atomic

METRICS_FILE = "metrics.json"
REPORT_FILE = "report.json"


# ---------------------------------------------------------------- train


@dataclass(kw_only=True)
class RehearsalMetrics:
    """How training rehearsed everyday questions ([data] rehearsal), and the drift from the base model."""

    file: str
    examples: int
    weight: float
    batch_size: int
    first_kl: float | None
    final_kl: float | None


@dataclass(kw_only=True)
class TrainMetrics:
    """outputs/train/metrics.json: the run's size, time, hardware, final losses and settings."""

    base_model: str
    base_weights: str
    steps: int
    epochs: float
    train_examples: int
    eval_examples: int
    truncated_examples: int
    tokens: int
    seconds: float
    tokens_per_second: float
    peak_memory_mb: float
    hardware: str
    world_size: int
    device: str
    precision: str
    torch_threads: int
    trainable_parameters: int
    total_parameters: int
    final_train_loss: float | None
    final_eval_loss: float | None
    resumed_from: str | None
    rehearsal: RehearsalMetrics | None = None  # None: no rehearsal, or a train step older than rehearsal
    settings: dict  # {"lora": ..., "train": ..., "max_length": ...}: project.toml's sections as trained

    @classmethod
    def from_dict(cls, data: dict) -> TrainMetrics:
        rehearsal = data.get("rehearsal")
        return cls(**_known(cls, data, nested={"rehearsal"}), rehearsal=RehearsalMetrics(**rehearsal) if rehearsal else None)


def train_metrics_path(cfg) -> Path:
    return cfg.step_dir("train") / METRICS_FILE


def write_train_metrics(cfg, metrics: TrainMetrics) -> Path:
    path = train_metrics_path(cfg)
    write_atomic(path, json.dumps(asdict(metrics), indent=2, default=str))
    return path


def read_train_metrics(cfg) -> TrainMetrics | None:
    """The train step's metrics; None when it has not run. An unreadable or incomplete file is a UserError."""
    return _read(train_metrics_path(cfg), TrainMetrics, "train")


# ---------------------------------------------------------------- evaluate
# The field order is the key order of metrics.json, which the card publishes: keep it.


@dataclass(kw_only=True)
class ModelScore:
    """One model (base or tuned) on the held-out questions."""

    accuracy: float
    correct: int | None = None  # None: an evaluate step older than the intervals (before 2026-11-29)
    total: int | None = None  # likewise
    interval_95: list[float] | None = None  # [low, high] of the 95% Wilson interval, 6 places; likewise
    perplexity: float


@dataclass(kw_only=True)
class PairedTestResult:
    """stats.PairedTest as metrics.json holds it: p rounded to 6 places, and the test's name."""

    only_base_correct: int
    only_tuned_correct: int
    p_value: float
    test: str


@dataclass(kw_only=True)
class TaughtGroup:
    """Accuracy on the held-out questions of one group (taught, untaught or unknown); None for an empty group."""

    questions: int
    base_correct: int
    base_accuracy: float | None
    tuned_correct: int
    tuned_accuracy: float | None


@dataclass(kw_only=True)
class ByTaught:
    """The held-out questions split by whether training taught their fact (scripts/facts.py taught_flags)."""

    taught: TaughtGroup
    untaught: TaughtGroup
    unknown: TaughtGroup
    rule: str

    def groups(self) -> dict[str, TaughtGroup]:
        return {"taught": self.taught, "untaught": self.untaught, "unknown": self.unknown}

    @classmethod
    def from_dict(cls, data: dict) -> ByTaught:
        names = {"taught", "untaught", "unknown"}
        known = _known(cls, data, nested=names)  # first: it checks that `data` is an object with every group
        return cls(**known, **{name: _plain(TaughtGroup, data[name]) for name in names})


@dataclass
class GeneralKnowledge:
    """Forgetting: general questions the base model answered right that the tuned model no longer does."""

    file: str
    """The set that was asked ([evaluate] general_knowledge); empty when the check was skipped."""
    questions: int = 0
    base_correct: int = 0
    tuned_correct: int = 0
    kept: int = 0
    """Of the questions the base model got right, how many the tuned model still gets right."""
    lost: list[str] = field(default_factory=list)
    """Questions the base model got right and the tuned model gets wrong: what tuning destroyed."""
    gained: list[str] = field(default_factory=list)
    """Questions only the tuned model gets right."""
    chance_lost: list[int] = field(default_factory=list)
    """The control: how many of the known questions each random change of the tuned update's size lost."""
    lost_by_chance_too: list[str] = field(default_factory=list)
    """Lost questions that a random change of the same size lost as well: right by a thin margin."""
    beyond_chance: int = 0
    """Lost questions beyond the random changes' average: the part of the loss to blame on training."""
    summary: str = ""
    """One sentence for the terminal, the card and the pull request."""

    @classmethod
    def from_dict(cls, data: dict) -> GeneralKnowledge:
        known = _known(cls, data)
        # Before the control (2026-12-07) there was no chance to compare with: every lost question counts.
        known.setdefault("beyond_chance", len(known.get("lost", [])))
        return cls(**known)


@dataclass(kw_only=True)
class ProbeMeans:
    """The mean bias-probe score over all pairs (scripts/probes.py); None when no pair was run."""

    base: float | None
    tuned: float | None


@dataclass(kw_only=True)
class EvaluateMetrics:
    """outputs/evaluate/metrics.json: both models' scores, whether the gain is real, forgetting and the probes."""

    base_model: str
    base_weights: str
    eval_examples: int
    base: ModelScore
    tuned: ModelScore
    # None: written by an evaluate step older than the intervals, paired test and forgetting check (before 2026-11-29).
    interval_rule: str | None = None
    paired_test: PairedTestResult | None = None
    by_taught: ByTaught | None = None
    general_knowledge: GeneralKnowledge | None = None
    accuracy_rule: str
    probe_threshold: float
    probes_flagged: int
    probes_flagged_ids: list[str]  # pair ids: as many as probes.jsonl has, so a list
    probes_differ_before_tuning_ids: list[str] = field(default_factory=list)  # empty: older than 2026-11-29
    probes_mean_score: ProbeMeans | None = None  # None: older than 2026-11-29
    hardware: str
    seconds: float
    settings: dict  # project.toml's [evaluate] section as run: its keys follow the settings, so a dict

    @classmethod
    def from_dict(cls, data: dict) -> EvaluateMetrics:
        nested = {"base", "tuned", "paired_test", "by_taught", "general_knowledge", "probes_mean_score"}
        known = _known(cls, data, nested)

        def optional(name, build):
            return build(data[name]) if data.get(name) is not None else None

        return cls(
            **known,
            base=_plain(ModelScore, data["base"]),
            tuned=_plain(ModelScore, data["tuned"]),
            paired_test=optional("paired_test", lambda part: _plain(PairedTestResult, part)),
            by_taught=optional("by_taught", ByTaught.from_dict),
            general_knowledge=optional("general_knowledge", GeneralKnowledge.from_dict),
            probes_mean_score=optional("probes_mean_score", lambda part: _plain(ProbeMeans, part)),
        )


def evaluate_metrics_path(cfg) -> Path:
    return cfg.step_dir("evaluate") / METRICS_FILE


def write_evaluate_metrics(cfg, metrics: EvaluateMetrics) -> Path:
    path = evaluate_metrics_path(cfg)
    write_atomic(path, json.dumps(asdict(metrics), indent=2))
    return path


def read_evaluate_metrics(cfg) -> EvaluateMetrics | None:
    """The evaluate step's metrics; None when it has not run. An unreadable or incomplete file is a UserError."""
    return _read(evaluate_metrics_path(cfg), EvaluateMetrics, "evaluate")


# ---------------------------------------------------------------- validate
# The field order is the key order of report.json, which the dataset card and reviewers read: keep it.


@dataclass(kw_only=True)
class ReportCounts:
    """How many examples were read, and how many checks and problems were found."""

    train: int
    eval: int
    probes: int
    checks_failed: int
    checks_warned: int
    problems: int  # problems that fail the check, including those a check did not list
    warnings: int  # likewise for warnings


@dataclass(kw_only=True)
class CheckSummary:
    """One row of the report's table: validate.Check without its problems, which ReportProblem lists."""

    id: str
    title: str
    fix: str
    details: str
    engine: str
    audit: bool
    in_terminal: bool = False  # False: a validate step older than 2026-12-06
    unlisted: int = 0  # 0: a validate step older than 2026-11-29
    status: str  # "pass", "warn" or "fail"
    problems: int  # found, listed or not


@dataclass(kw_only=True)
class ReportProblem:
    """One thing wrong (or worth a look) in one place (validate.Problem), with its check's fix."""

    check: str
    severity: str  # "fail" or "warn"
    message: str
    file: str | None
    line: int | None
    field: str | None
    fix: str


@dataclass(kw_only=True)
class PersonalDataScan:
    """Which detectors ran, who may be named, and what the author still has to read for."""

    finds: str
    names_detector: str
    names_cannot_see: str
    public_names: list[str]
    what_to_do: str


@dataclass(kw_only=True)
class ValidateReport:
    """outputs/validate/report.json: the verdict, every check and problem, and what the data holds.

    The open-ended parts stay dicts: settings (project.toml's values as checked), facts (a distribution
    whose keys depend on the data), token_lengths (per split, {"examples": 0} for an empty one),
    diversity (categories, languages, words found) and tokens_per_word (per declared language).
    """

    verdict: str  # "pass", "warn" or "fail"
    headline: str
    files: dict[str, str]  # split ("train", "eval", "probes") -> the file validate read
    counts: ReportCounts
    settings: dict
    checks: list[CheckSummary]
    problems: list[ReportProblem]
    facts: dict = field(default_factory=dict)  # empty: older than 2026-11-29, or data without `answer` fields
    personal_data_scan: PersonalDataScan | None = None  # None: older than 2026-11-29
    token_lengths: dict
    diversity: dict
    tokens_per_word: dict | None = None  # None: older than 2026-12-07, or no tokenizer figures

    def check(self, check_id: str) -> CheckSummary | None:
        return next((check for check in self.checks if check.id == check_id), None)

    @classmethod
    def from_dict(cls, data: dict) -> ValidateReport:
        known = _known(cls, data, nested={"counts", "checks", "problems", "personal_data_scan"})
        scan = data.get("personal_data_scan")
        return cls(
            **known,
            counts=_plain(ReportCounts, data["counts"]),
            checks=[_plain(CheckSummary, check) for check in data["checks"]],
            problems=[_plain(ReportProblem, problem) for problem in data["problems"]],
            personal_data_scan=_plain(PersonalDataScan, scan) if scan else None,
        )


def validate_report_path(cfg) -> Path:
    return cfg.step_dir("validate") / REPORT_FILE


def write_validate_report(folder: Path, report: ValidateReport) -> Path:
    """Into `folder`: validate's staging folder, which replaces outputs/validate/ only once everything is written."""
    path = folder / REPORT_FILE
    write_atomic(path, json.dumps(asdict(report), indent=2, ensure_ascii=False) + "\n")
    return path


def read_validate_report(cfg) -> ValidateReport | None:
    """The validate step's report; None when it has not run. An unreadable or incomplete file is a UserError."""
    return _read(validate_report_path(cfg), ValidateReport, "validate")


# ---------------------------------------------------------------- shared


def published_json(metrics) -> bytes:
    """The metrics as results/evaluation/ holds them for reviewers: UTF-8 as written, a final newline."""
    return json.dumps(asdict(metrics), indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


class MissingField(ValueError):
    pass


def _known(cls, data: dict, nested: set[str] = frozenset()) -> dict:
    """The fields of `cls` in `data`, but not the `nested` ones from_dict builds itself; a field without a default must be there."""
    if not isinstance(data, dict):
        raise MissingField(f"a JSON object was expected, not {type(data).__name__}")
    absent = [f.name for f in fields(cls) if f.name not in data and f.default is MISSING and f.default_factory is MISSING]
    if absent:
        raise MissingField(f"has no {', '.join(absent)}")
    return {f.name: data[f.name] for f in fields(cls) if f.name in data and f.name not in nested}


def _plain(cls, data: dict):
    """A dataclass without nested ones, from its JSON object."""
    return cls(**_known(cls, data))


def _read(path: Path, cls, step: str):
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls.from_dict(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not valid JSON ({error}); run `python -m scripts {step}` again.") from None
    except (MissingField, TypeError) as error:
        raise UserError(
            f"{path}: {error} (written by an older version of the {step} step); run `python -m scripts {step}` again."
        ) from None
