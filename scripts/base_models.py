"""The candidate base models of scripts/base_models.toml, and estimates of what training each would take.

Shared by the `models` step (the table a learner reads in week 1), validate (licence warnings) and the
card (the base model's licence terms). The estimates are rough, and say so:

  * memory: the weights alone, 4 bytes per parameter in float32 on a CPU, 2 in float16 on a GPU (T4) and
    about 0.5 in 4-bit (QLoRA); training needs more on top (activations, the optimizer's LoRA state).
  * CPU time: SmolLM2-135M trained at 268 real tokens/s in float32 on a 2-core CPU (bench/README.md), and a
    step's work grows with the parameter count, so a model N times bigger is taken as N times slower.
  * T4 time: a LoRA step costs about 4 x parameters floating-point operations per token (forward, and the
    backward pass through the frozen weights); a T4 peaks at 65 TFLOP/s in float16 and training reaches
    about a quarter of that. Not measured here (no GPU).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

CATALOGUE = Path(__file__).resolve().parent / "base_models.toml"  # beside the code: a copy of the template, the HF Job and Colab all have scripts/

CPU_TOKENS_PER_SECOND_135M = 268  # measured: bench/README.md, training in float32 on a 2-core CPU
T4_FLOPS = 65e12 * 0.25  # peak float16 TFLOP/s of a T4, times the share training usually reaches
T4_MEMORY_GB = 15  # what a T4 has free for a model
LORA_FLOPS_PER_PARAMETER_TOKEN = 4


@dataclass(frozen=True)
class BaseModel:
    id: str
    family: str
    parameters_millions: int
    licence: str
    licence_terms: str
    languages: list[str]

    def weights_gb(self, bytes_per_parameter: float) -> float:
        return self.parameters_millions * 1e6 * bytes_per_parameter / 1e9

    def cpu_seconds(self, tokens: float) -> float:
        return tokens / (CPU_TOKENS_PER_SECOND_135M * 135 / self.parameters_millions)

    def t4_seconds(self, tokens: float) -> float:
        return tokens * LORA_FLOPS_PER_PARAMETER_TOKEN * self.parameters_millions * 1e6 / T4_FLOPS

    def t4_precision(self) -> str:
        """float16 where the weights fit a T4 with room to train; else 4-bit (QLoRA)."""
        return "fp16" if self.weights_gb(2) < T4_MEMORY_GB / 2 else "4-bit"


def load_catalogue(path: Path = CATALOGUE) -> list[BaseModel]:
    with path.open("rb") as file:
        return [BaseModel(**entry) for entry in tomllib.load(file)["model"]]


def find(model_id: str) -> BaseModel | None:
    """The catalogue's entry for a Hub id (None for a model not listed, or a local folder)."""
    return next((model for model in load_catalogue() if model.id == model_id), None)


def languages_text(model: BaseModel) -> str:
    return ", ".join(model.languages)


def readme_table(models: list[BaseModel]) -> str:
    """The README's table: what does not depend on the learner's data."""
    lines = [
        "| model | family | parameters | licence | languages (model card) | weights in memory: CPU fp32 / T4 |",
        "|---|---|---|---|---|---|",
    ]
    for model in models:
        t4 = model.t4_precision()
        t4_gb = model.weights_gb(2 if t4 == "fp16" else 0.5)
        lines.append(
            f"| `{model.id}` | {model.family} | {_size(model)} | {model.licence} | {languages_text(model)} | "
            f"{model.weights_gb(4):.1f} GB / {t4_gb:.1f} GB ({t4}) |"
        )
    return "\n".join(lines)


def _size(model: BaseModel) -> str:
    millions = model.parameters_millions
    return f"{millions}M" if millions < 1000 else f"{millions / 1000:.1f}B"
