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
  * a free GitHub runner: on GitHub, export (merge the adapter, write the GGUF file; scripts/export.py) runs on
    the runner after training whatever [train] backend says, and publish runs it again. Its disk and memory
    grow with the parameter count (the figures below); a model that needs more than the runner has stops there,
    after training, and a gated one cannot be downloaded at all (the workflows have no Hugging Face token).
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
# Rehearsal ([train] rehearsal_weight above 0) adds a forward and backward pass over a few short everyday questions
# per step: training took about 40% longer on the bundled example (bench/README.md, "rehearsal on the base model's
# own replies").
REHEARSAL_COST = 1.4

# A free GitHub-hosted runner of a public repository (ubuntu-latest), from
# https://docs.github.com/en/actions/reference/runners/github-hosted-runners
RUNNER_MEMORY_GB = 16
RUNNER_DISK_GB = 14
RUNNER_INSTALL_GB = 2.5  # what `make setup` puts on that disk first (the .venv is 2.3 GB)
# Export per parameter of the base model, on disk: the Hub's copy in bf16 (2 bytes), the merged model in float32 (4),
# the f16 GGUF file (2), and publish's copy of the GGUF file in the tree it uploads (2). In memory: measured on
# a 2-core CPU without llama-cpp-python (`/usr/bin/time -v python -m scripts export`), 0.66 GB at 3.2M parameters
# and 2.75 GB at SmolLM2-135M: about 16 bytes per parameter (the merged model in float32 is still held while
# transformers reads the GGUF file back in float32 to check its answers) on top of 0.7 GB for Python and the libraries.
EXPORT_DISK_BYTES_PER_PARAMETER = 10
EXPORT_MEMORY_BYTES_PER_PARAMETER = 16
EXPORT_MEMORY_BASE_GB = 0.7


@dataclass(frozen=True)
class BaseModel:
    id: str
    family: str
    parameters_millions: int
    licence: str
    licence_terms: str
    languages: list[str]
    gated: bool = False
    """The Hub asks each user to accept the licence first, so a download needs a token of an account that did."""

    def weights_gb(self, bytes_per_parameter: float) -> float:
        return self.parameters_millions * 1e6 * bytes_per_parameter / 1e9

    def cpu_seconds(self, tokens: float) -> float:
        return cpu_seconds(self.parameters_millions, tokens)

    def t4_seconds(self, tokens: float) -> float:
        return t4_seconds(self.parameters_millions, tokens)

    def t4_precision(self) -> str:
        """float16 where the weights fit a T4 with room to train; else 4-bit (QLoRA)."""
        return "fp16" if self.weights_gb(2) < T4_MEMORY_GB / 2 else "4-bit"


    def on_github(self) -> str:
        """Whether the whole flow (train, export, publish) can run on GitHub's free runners; if not, why."""
        reasons = ["gated"] if self.gated else []
        too_big = runner_problem(self.parameters_millions)
        reasons += [f"export needs {too_big}"] if too_big else []
        return f"no: {'; '.join(reasons)}" if reasons else "yes"


def cpu_seconds(parameters_millions: float, tokens: float) -> float:
    """Seconds to train on `tokens` on a 2-core CPU in float32 (see above); also a model not in the catalogue."""
    return tokens / (CPU_TOKENS_PER_SECOND_135M * 135 / parameters_millions)


def t4_seconds(parameters_millions: float, tokens: float) -> float:
    """Seconds to train on `tokens` on one T4 (see above)."""
    return tokens * LORA_FLOPS_PER_PARAMETER_TOKEN * parameters_millions * 1e6 / T4_FLOPS


def export_needs_gb(parameters_millions: float) -> tuple[float, float]:
    """(disk, memory) in GB that export and publish need on a GitHub runner (see the figures above)."""
    parameters = parameters_millions * 1e6
    disk = RUNNER_INSTALL_GB + parameters * EXPORT_DISK_BYTES_PER_PARAMETER / 1e9
    memory = EXPORT_MEMORY_BASE_GB + parameters * EXPORT_MEMORY_BYTES_PER_PARAMETER / 1e9
    return disk, memory


def runner_problem(parameters_millions: float) -> str | None:
    """What export would lack on a free GitHub runner, e.g. "~62 GB of memory and ~41 GB of disk"; None where it fits."""
    disk, memory = export_needs_gb(parameters_millions)
    lacking = [f"~{needed:.0f} GB of {what}" for needed, has, what in
               ((memory, RUNNER_MEMORY_GB, "memory"), (disk, RUNNER_DISK_GB, "disk")) if needed > has]  # fmt: skip
    return " and ".join(lacking) or None


def largest_for_runner_millions() -> int:
    """The most parameters (in millions) whose export fits a free GitHub runner."""
    by_disk = (RUNNER_DISK_GB - RUNNER_INSTALL_GB) * 1e3 / EXPORT_DISK_BYTES_PER_PARAMETER
    by_memory = (RUNNER_MEMORY_GB - EXPORT_MEMORY_BASE_GB) * 1e3 / EXPORT_MEMORY_BYTES_PER_PARAMETER
    return int(min(by_disk, by_memory))


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
        "| model | family | parameters | licence | languages (model card) | weights in memory: CPU fp32 / T4 | all the way on GitHub, free |",
        "|---|---|---|---|---|---|---|",
    ]
    for model in models:
        t4 = model.t4_precision()
        t4_gb = model.weights_gb(2 if t4 == "fp16" else 0.5)
        lines.append(
            f"| `{model.id}` | {model.family} | {_size(model)} | {model.licence} | {languages_text(model)} | "
            f"{model.weights_gb(4):.1f} GB / {t4_gb:.1f} GB ({t4}) | {model.on_github()} |"
        )
    return "\n".join(lines)


def _size(model: BaseModel) -> str:
    millions = model.parameters_millions
    return f"{millions}M" if millions < 1000 else f"{millions / 1000:.1f}B"
