"""The results one step hands to the next, as dataclasses: where each file lives, and one function that
writes it and one that reads it.

    write_train_metrics(cfg, metrics)     # train: outputs/train/metrics.json
    read_train_metrics(cfg)               # card, rubric: a TrainMetrics, or None when train has not run

A field a writer forgets or misspells is a TypeError at the writer; a field an older version of a step
did not write yet has a default here (noted beside it), so its files stay readable.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

from .errors import UserError
from .files import write_atomic

METRICS_FILE = "metrics.json"


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
