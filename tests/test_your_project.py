"""Your project, every step, on a tiny model: what `make check` runs on each push of your copy.

The rest of the suite tests the template itself on its bundled example (its counts and its
accuracy), so once you replace the example's data some of those tests no longer apply to your
copy. This test is the one that does: it takes YOUR project.toml and the data files it names,
swaps only the base model for a tiny random one (so it runs in a minute on a free runner) and
caps training at two steps, then runs the whole pipeline the way `make demo` does: validate,
train, evaluate, card, export, space, publish (a dry run: no token) and the rubric.

It catches settings or data that make a step fail. It does not tell you whether your model
learns (the Train workflow trains the real model after you merge your pull request) and it reaches no
network service (the Hub, GitHub).
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from conftest import REPO, run_cli, set_values
from scripts.config import load_settings
from scripts.outputs import read_evaluate_metrics

# Settings a quick run on a CPU needs, whatever the project asks for (a GPU, many steps, ...).
QUICK_TRAIN = {"max_steps": 2, "save_steps": 2, "logging_steps": 1, "precision": "fp32", "backend": "runner"}


def copy_project(destination: Path, tiny_model: Path) -> Path:
    """project.toml, datasets/ and any other file its [data] and [evaluate] sections name, set to
    train the tiny model for two steps on this CPU."""
    shutil.copy2(REPO / "project.toml", destination / "project.toml")
    if (REPO / "datasets").is_dir():
        shutil.copytree(REPO / "datasets", destination / "datasets")
    settings = tomllib.loads((REPO / "project.toml").read_text(encoding="utf-8"))
    named = [*settings.get("data", {}).values(), *settings.get("evaluate", {}).values()]
    for value in named:
        if isinstance(value, str) and value.endswith(".jsonl") and (REPO / value).is_file():
            target = destination / value
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / value, target)
    config = destination / "project.toml"
    set_values(config, "model", add_missing=True, base=str(tiny_model), quantization="none")
    set_values(config, "train", add_missing=True, **QUICK_TRAIN)
    return config


def test_every_step_runs_on_your_settings_and_data(tmp_path, tiny_model_dir):
    config = copy_project(tmp_path, tiny_model_dir)

    result = run_cli("run", "--config", str(config), timeout=900)

    assert result.returncode == 0, f"the pipeline stopped:\n{result.stdout[-4000:]}\n{result.stderr[-3000:]}"
    outputs, results = tmp_path / "outputs", tmp_path / "results"
    assert (outputs / "train" / "adapter" / "adapter_model.safetensors").is_file()
    assert read_evaluate_metrics(load_settings(config)).eval_examples > 0
    assert (results / "model" / "README.md").is_file() and (results / "manifest.json").is_file()


def test_a_mistake_in_the_data_fails_the_check_with_its_file_and_line(tmp_path, tiny_model_dir):
    """The check above can fail: a copy with one broken line stops at validate, naming the line."""
    config = copy_project(tmp_path, tiny_model_dir)
    train_file = tmp_path / tomllib.loads(config.read_text(encoding="utf-8"))["data"]["train"]
    with train_file.open("a", encoding="utf-8") as handle:
        handle.write('{"messages": [{"role": "user", "content": "no closing brace"}\n')
    lines = len(train_file.read_text(encoding="utf-8").splitlines())

    result = run_cli("run", "--config", str(config), timeout=900)

    assert result.returncode == 2, result.stdout[-2000:]
    assert f"{train_file.name}:{lines}" in result.stdout + result.stderr
    assert not (tmp_path / "outputs" / "train").exists()
