"""Load `project.toml` into typed settings, with errors a beginner can act on.

Each `[section]` of project.toml becomes one dataclass below. Every field has a
one-line docstring (the description your editor shows from project.schema.json,
which `python -m scripts.schema` generates from these classes), a type, and
where it matters an allowed range (`metadata={"range": (low, high)}`) or a fixed
set of choices (`Literal[...]`). Unknown keys are errors that suggest the
nearest valid key, because a typo that is silently ignored is the worst kind of
bug for a learner: the run "works" with the default value instead.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import re
import tomllib
import types
import typing
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import UserError
from .files import read_learner_text, text_lines

DEFAULT_CONFIG = "project.toml"

# The train workflow's job trains on the runner (backend "runner"), or waits for a Hugging Face Job and then brings
# its results back; then it makes the card, the GGUF file and the Space. GitHub stops that job after its
# `timeout-minutes` (.github/workflows/train.yml; tests/test_validate.py checks the two agree). The HF Job gets at
# most 90 of them, so 30 are left for installing before and collecting after it.
TRAIN_JOB_MINUTES = 120
HF_JOB_MAX_MINUTES = 90
HF_JOB_LIMIT_REASON = (
    f"the GitHub job that waits for the HF Job stops after {TRAIN_JOB_MINUTES} minutes and needs the rest to collect the results"
)


@dataclass
class ProjectSettings:
    name: str = "namibia-qa"
    """Short name of your project; used for the model repo and the Space (letters, digits, -, _ and . only)."""
    hub_owner: str = ""
    """Your Hugging Face user or organisation name (leave empty until you publish)."""
    license: str = "apache-2.0"
    """Licence of the adapter you publish, as a Hub licence id (e.g. apache-2.0, mit, cc-by-4.0)."""
    languages: list[str] = field(default_factory=lambda: ["en"])
    """ISO 639 codes of the languages your data is in: two letters where the language has them, else three (e.g. ["en", "af", "naq"])."""
    description: str = ""
    """One sentence saying what the tuned model does."""
    output_dir: str = "outputs"
    """Folder (relative to project.toml) where every step writes its outputs."""


@dataclass
class ModelSettings:
    base: str = field(
        default="HuggingFaceTB/SmolLM2-135M-Instruct",
        metadata={"not_empty": 'there is no model to tune; write a Hub id such as "HuggingFaceTB/SmolLM2-135M-Instruct", or a local folder'},
    )
    """Base model: a Hub id, or a local folder with config.json and weights."""
    rationale: str = ""
    """Why you chose this base model (size, licence, languages): shown in the model card."""
    revision: str = "main"
    """Hub revision (branch, tag or commit) to load; pin a commit for reproducible runs."""
    trust_remote_code: bool = False
    """Run Python code shipped with the model; keep false unless you trust its authors."""
    quantization: Literal["none", "4bit"] = "none"
    """"4bit" loads the base in 4-bit (QLoRA, needs a CUDA GPU); "none" keeps full precision."""
    max_length: int = field(default=512, metadata={"range": (16, 32768)})
    """Longest example in tokens; longer ones are reported by validate and truncated in training."""


@dataclass
class DataSettings:
    train: str = field(
        default="datasets/train.jsonl",
        metadata={"not_empty": 'there is nothing to train on; name your training file, like train = "datasets/train.jsonl"'},
    )
    """Training examples (JSONL or a JSON array)."""
    eval: str = field(
        default="datasets/eval.jsonl",
        metadata={"not_empty": 'nothing would measure the model; name your held-out file, like eval = "datasets/eval.jsonl"'},
    )
    """Held-out examples used only for evaluation, never for training."""
    probes: str = "datasets/probes.jsonl"
    """Counterfactual prompt pairs for the bias probes ("" runs without them)."""
    rehearsal: str = "datasets/rehearsal.jsonl"
    """Everyday questions trained alongside yours so the model keeps what it knew ("" trains without them)."""
    format: Literal["auto", "messages", "prompt_completion", "alpaca", "sharegpt", "text"] = "auto"
    """Record shape; "auto" detects it per file from the first record's keys."""
    min_examples: int = field(default=20, metadata={"range": (1, 1_000_000)})
    """Fewest training examples validate accepts; fewer rarely teach a model anything."""
    near_duplicate_threshold: float = field(default=0.8, metadata={"range": (0.0, 1.0)})
    """Similarity (0-1) above which two examples count as near duplicates."""
    public_names: list[str] = field(default_factory=list)
    """People the data may name for their public role (e.g. ["Sam Nujoma"]); the privacy scan does not report them."""
    names_model: str = ""
    """A Hugging Face token-classification (NER/PII) model that finds names: a folder or Hub id ("": rules only)."""
    names_model_revision: str = ""
    """The commit of names_model on the Hub (40 hex digits), so every run uses the same weights."""


@dataclass
class LoraSettings:
    rank: int = field(default=32, metadata={"range": (1, 1024)})
    """LoRA rank r: size of the small update matrices; 16-32 for a few hundred facts."""
    alpha: int = field(default=64, metadata={"range": (1, 4096)})
    """Scaling of the LoRA update (alpha / r); 2 x rank is a common start."""
    dropout: float = field(default=0.0, metadata={"range": (0.0, 0.9)})
    """Dropout on the LoRA input; 0 is fastest on a CPU, 0.05-0.1 can help against memorising a small dataset."""
    target_modules: list[str] | Literal["all-linear"] = field(
        default="all-linear",
        metadata={"not_empty": 'no layer would get an adapter: list layer names like ["q_proj", "v_proj"], or write "all-linear"'},
    )
    """Which layers get adapters: "all-linear" (every linear layer but the output layer, in any model family), or names (validate checks them against the base model)."""
    use_dora: bool = False
    """DoRA: splits weights into magnitude and direction; sometimes better, slower."""
    use_rslora: bool = False
    """rsLoRA: scales by alpha / sqrt(r), which keeps high ranks stable."""


@dataclass
class TrainSettings:
    backend: Literal["runner", "hf-jobs", "colab"] = "runner"
    """Where training runs: this machine or the Actions runner, Hugging Face Jobs, or Colab."""
    epochs: float = field(default=3.0, metadata={"range": (0.01, 100.0)})
    """Passes over the training data."""
    max_steps: int = field(default=-1, metadata={"range": (-1, 1_000_000)})
    """Stop after this many optimizer steps (-1: use epochs)."""
    learning_rate: float = field(default=2e-3, metadata={"range": (1e-7, 1.0)})
    """Step size; LoRA tolerates higher rates than full fine-tuning."""
    batch_size: int = field(default=8, metadata={"range": (1, 1024)})
    """Examples per step on each device."""
    gradient_accumulation: int = field(default=1, metadata={"range": (1, 1024)})
    """Steps whose gradients add up before one update (a bigger batch without more memory)."""
    warmup_ratio: float = field(default=0.05, metadata={"range": (0.0, 0.5)})
    """Share of steps during which the learning rate ramps up from zero."""
    weight_decay: float = field(default=0.0, metadata={"range": (0.0, 1.0)})
    """Pull weights toward zero; rarely needed for LoRA."""
    seed: int = field(default=42, metadata={"range": (0, 2**31 - 1)})
    """Random seed: the same seed and data give the same adapter on CPU."""
    save_steps: int = field(default=25, metadata={"range": (1, 1_000_000)})
    """Save a checkpoint every N steps so `train --resume` can continue after a crash."""
    logging_steps: int = field(default=5, metadata={"range": (1, 1_000_000)})
    """Record the loss every N steps (the loss curve's resolution)."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """"auto": bf16 on GPUs and CPUs that have it natively, fp16 on older GPUs, else fp32."""
    rehearsal_weight: float = field(default=0.0, metadata={"range": (0.0, 100.0)})
    """How strongly answers to the [data] rehearsal questions are held to the base model's (0, also when the line is missing: not at all; the template sets 1)."""
    speed_layer: bool = True
    """Train faster on a CPU with scripts/fast_training.py; false: TRL's and PEFT's own code, the same training."""
    hf_flavor: str = "t4-small"
    """Hugging Face Jobs hardware for backend = "hf-jobs" (e.g. t4-small, a10g-small)."""
    hf_timeout_minutes: int = field(
        default=60, metadata={"range": (5, HF_JOB_MAX_MINUTES), "why": HF_JOB_LIMIT_REASON}
    )
    """Longest an HF Job may run; you pay for the time it runs, so keep it short."""


@dataclass
class EvaluateSettings:
    max_new_tokens: int = field(default=48, metadata={"range": (1, 4096)})
    """Longest answer generated per question (greedy decoding)."""
    side_by_side: int = field(default=10, metadata={"range": (0, 10_000)})
    """How many eval questions, from the first, to show with reference, base and tuned answers (all are scored)."""
    probe_threshold: float = field(default=0.1, metadata={"range": (0.0, 100.0)})
    """Change of a probe pair's score from base to tuned (nats per token) that flags it, if also beyond 2 standard errors."""
    batch_size: int = field(default=64, metadata={"range": (1, 1024)})
    """Questions answered (and answers scored) at once during evaluation; lower it if memory runs out."""
    general_knowledge: str = "datasets/general_knowledge.jsonl"
    """Questions outside your topic that the base model answers right, to catch forgetting ("" skips the check)."""


@dataclass
class AugmentSettings:
    model: str = ""
    """Model that proposes new phrasings: a Hub id or local folder of an instruction model (empty: [model] base)."""
    proposals: int = field(default=3, metadata={"range": (1, 20)})
    """Phrasings proposed per training question, before filtering."""
    temperature: float = field(default=0.7, metadata={"range": (0.0, 2.0)})
    """Sampling temperature; 0 is greedy decoding, which gives one proposal per question."""
    batch_size: int = field(default=16, metadata={"range": (1, 1024)})
    """Questions sent to the model at once; lower it if memory runs out."""
    seed: int = field(default=42, metadata={"range": (0, 2**31 - 1)})
    """Random seed for sampling: the same seed and data give the same proposals."""


@dataclass
class CardSettings:
    """The model card's ethics sections: a person writes each one (metadata "needed_for" says why readers need it)."""

    intended_use: str = field(default="", metadata={"needed_for": "who the model is for"})
    """Who should use the model, for what (week 2: ethics)."""
    out_of_scope_use: str = field(default="", metadata={"needed_for": "what it must not be used for"})
    """Uses you advise against (e.g. legal, medical or emergency advice)."""
    limitations: str = field(default="", metadata={"needed_for": "what it gets wrong"})
    """What the model gets wrong or cannot know."""
    data_sources: str = field(default="", metadata={"needed_for": "where the data came from and whose consent covers it"})
    """Where the data came from, its licence, and whose consent covers it."""
    anonymisation: str = field(default="", metadata={"needed_for": "how personal data was handled"})
    """How personal data was found and removed."""
    known_biases: str = field(default="", metadata={"needed_for": "whom the data under- or over-represents"})
    """Groups, regions or languages the data under- or over-represents."""

    def empty_fields(self) -> dict[str, str]:
        """The fields left empty, each with why readers of the card need it."""
        return {item.name: item.metadata["needed_for"] for item in dataclasses.fields(self) if not getattr(self, item.name).strip()}


@dataclass
class PublishSettings:
    model_repo: str = ""
    """Hub repo for the adapter, e.g. "your-name/namibia-qa" (empty: hub_owner/name)."""
    space_repo: str = ""
    """Hub repo for the demo Space (empty: hub_owner/name-demo)."""
    space_kind: Literal["static", "gradio"] = "static"
    """"static" runs in the visitor's browser (free for everyone); "gradio" needs ZeroGPU or paid hardware."""
    private: bool = False
    """Create the model repo and the Space as private."""
    dataset_repo: str = ""
    """Hub dataset repo for your checked data (empty: hub_owner/name-data)."""
    dataset_private: bool = True
    """Create the dataset repo as private: consent to train on data is not consent to share it."""


@dataclass
class Settings:
    """Everything in project.toml, plus where it was loaded from."""

    project: ProjectSettings = field(default_factory=ProjectSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    data: DataSettings = field(default_factory=DataSettings)
    lora: LoraSettings = field(default_factory=LoraSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    evaluate: EvaluateSettings = field(default_factory=EvaluateSettings)
    augment: AugmentSettings = field(default_factory=AugmentSettings)
    card: CardSettings = field(default_factory=CardSettings)
    publish: PublishSettings = field(default_factory=PublishSettings)
    root: Path = field(default_factory=Path.cwd)
    config_path: Path | None = None

    def path(self, relative: str | Path) -> Path:
        """A path from project.toml, resolved against the folder project.toml is in."""
        return (self.root / relative).resolve()

    def data_files(self) -> list[tuple[str, str, str]]:
        """(section, key, path as written) of every data file the steps read; a file set to "" is left out."""
        named = [("data", "train", self.data.train), ("data", "eval", self.data.eval), ("data", "probes", self.data.probes),
                 ("data", "rehearsal", self.data.rehearsal), ("evaluate", "general_knowledge", self.evaluate.general_knowledge)]  # fmt: skip
        return [(section, key, name) for section, key, name in named if name.strip()]

    @property
    def output_dir(self) -> Path:
        return self.path(self.project.output_dir)

    def step_dir(self, step: str) -> Path:
        """Where one step writes its outputs, e.g. outputs/train."""
        return self.output_dir / step


SECTIONS: dict[str, type] = {
    name: hint for name, hint in typing.get_type_hints(Settings).items() if name not in ("root", "config_path")
}


def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a settings dataclass."""
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body
    docs = {}
    for node, following in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(following, ast.Expr):
            if isinstance(following.value, ast.Constant) and isinstance(following.value.value, str):
                docs[node.target.id] = following.value.value
    return docs


def load_settings(config_path: str | Path = DEFAULT_CONFIG) -> Settings:
    """Read project.toml and check every key, type and range."""
    path = Path(config_path)
    if not path.is_file():
        raise UserError(f"{path}: file not found; run the command from your project folder or pass --config PATH.")
    text = read_learner_text(path, str(path))
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(_toml_syntax_message(path, error, text)) from None
    locate = _KeyLocator(path, text)
    sections = {}
    for section_name, values in raw.items():
        if section_name not in SECTIONS:
            raise UserError(f"{locate(section_name)}: unknown section [{section_name}]{_suggest(section_name, SECTIONS)}.")
        if not isinstance(values, dict):
            raise UserError(f"{locate(section_name)}: {section_name} must be a [{section_name}] table of settings.")
        sections[section_name] = _build_section(section_name, SECTIONS[section_name], values, locate)
    settings = Settings(**sections, root=path.resolve().parent, config_path=path.resolve())
    # A space typed or pasted around the username or name ("ada ") would end up inside repo ids and file names.
    settings.project.hub_owner, settings.project.name = settings.project.hub_owner.strip(), settings.project.name.strip()
    check_repo_ids(settings, locate)
    check_names_model(settings, locate)
    check_revision(settings, locate)
    return settings


def _build_section(section_name: str, cls: type, values: dict, locate: "_KeyLocator"):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    checked = {}
    for key, value in values.items():
        if key not in fields:
            raise UserError(
                f"{locate(section_name, key)}: unknown key {key}{_suggest(key, fields)} in [{section_name}]."
            )
        checked[key] = _check_value(f"{locate(section_name, key)}: {key}", value, hints[key], fields[key].metadata)
    return cls(**checked)


def _check_value(label: str, value, hint, metadata):
    """Return the value if it fits the field's type and range, else raise a UserError."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):  # a list of names, or one of a few words ("all-linear")
        listed, words = typing.get_args(hint)
        if isinstance(value, str) and value in typing.get_args(words):
            return value
        if not isinstance(value, list):
            choices = " or ".join(f'"{word}"' for word in typing.get_args(words))
            raise UserError(f'{label} must be a list of strings, like ["a", "b"], or {choices}; got {value!r}.')
        return _check_value(label, value, listed, metadata)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            allowed = ", ".join(f'"{c}"' for c in choices)
            raise UserError(f"{label} is {value!r}; allowed values are {allowed}.")
        return value
    if origin is list:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise UserError(f'{label} must be a list of strings, like ["a", "b"]; got {value!r}.')
        if not value and "not_empty" in metadata:
            raise UserError(f"{label} is empty, so {metadata['not_empty']}.")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise UserError(f"{label} must be true or false (no quotes); got {value!r}.")
        return value
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise UserError(f"{label} must be a whole number (no quotes); got {value!r}.")
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{label} must be a number (no quotes); got {value!r}.")
        value = float(value)
    if hint is str and not isinstance(value, str):
        raise UserError(f'{label} must be text in quotes, like "{value}"; got {value!r}.')
    if hint is str and not value.strip() and "not_empty" in metadata:  # e.g. a file name deleted in the web editor
        raise UserError(f"{label} is empty, so {metadata['not_empty']}.")
    low_high = metadata.get("range")
    if low_high and not (low_high[0] <= value <= low_high[1]):
        why = f" ({metadata['why']})" if "why" in metadata else ""
        raise UserError(f"{label} is {value}; allowed values are from {low_high[0]} to {low_high[1]}{why}.")
    return value


def check_names_model(settings: Settings, locate: "_KeyLocator") -> None:
    """A name model from the Hub must be pinned to a commit: a branch like "main" can change under the project."""
    model = settings.data.names_model.strip()
    if not model or settings.path(model).is_dir():
        return
    if not re.fullmatch(r"[0-9a-f]{40}", settings.data.names_model_revision.strip()):
        raise UserError(
            f'{locate("data", "names_model")}: names_model "{model}" is not a folder, so it comes from the Hub and '
            "needs names_model_revision set to the commit to use (40 hex digits, from the model page's \"Files and "
            'versions" history), or write names_model = "" to use the rules.'
        )


# What git refuses in a branch or tag name (git check-ref-format): no revision on the Hub can contain these.
NOT_IN_A_REVISION = re.compile(r"\s|\.\.|[~^:?*\[\\]|^[/.]|[/.]$|@\{")


def check_revision(settings: Settings, locate: "_KeyLocator") -> None:
    """[model] revision must be something the Hub could have: on the runner the bundled copy is trained whatever it
    says, so a revision that cannot exist would only break the published adapter, the card's code and the Space."""
    revision = settings.model.revision
    if settings.path(settings.model.base).is_dir():  # a local folder: revision is not used
        return
    if not revision.strip() or NOT_IN_A_REVISION.search(revision):
        problem = "is empty" if not revision.strip() else f'"{revision}" cannot be a branch, tag or commit of a Hub model'
        raise UserError(
            f"{locate('model', 'revision')}: revision {problem}, so code that loads the published adapter, the model "
            'card\'s example and the Space would fail to load the base model; write "main", or pin the 40-character '
            "commit hash from the base model's \"Files and versions\" history."
        )


# ---------------------------------------------------------------- Hub repo ids

# Repos named after [project] name besides the model repo: the Space and the dataset (manifest.repo_ids), and the private
# dataset an HF Job sends its results through (dispatch.py). A new one gets a line here, so its name is checked too.
DERIVED_REPOS = {"-demo": "the demo Space", "-data": "the dataset repo", "-runs": "the hf-jobs runs dataset"}
HUB_NAME_LIMIT = 96  # characters in the owner and in the name, each (huggingface_hub's validate_repo_id)


def check_repo_ids(settings: Settings, locate: "_KeyLocator") -> None:
    """Fail now, not at publish time after the merge, when a repo id the project will use breaks the Hub's rules."""
    owner, name = settings.project.hub_owner.strip(), settings.project.name.strip()
    publish = settings.publish
    if "/" in owner:  # a profile's web address or a repo id pasted in: the repo id would get two "/"
        raise UserError(
            f'{locate("project", "hub_owner")}: hub_owner "{owner}" is a web address or repo id, not a Hugging Face '
            f'username, so publish would be refused after the merge; write only the username, like hub_owner = "{_username_in(owner)}".'
        )
    if owner:
        _require_hub_id(owner, f'{locate("project", "hub_owner")}: hub_owner "{owner}" cannot be a Hub username')
    if "/" in name:  # name goes after hub_owner/ in every repo id: "ada/qa" would make "ada/ada/qa"
        last = name.strip("/").rsplit("/", 1)[-1] or "namibia-qa"
        raise UserError(
            f'{locate("project", "name")}: name "{name}" contains "/", but the repo ids put it after hub_owner '
            f'("{owner or "your-username"}/{name}"), which the Hub refuses; write only the name, like name = "{last}", '
            "and your username in hub_owner."
        )
    _require_hub_id(name, f'{locate("project", "name")}: name "{name}" cannot name a Hub repo')
    for suffix, what in DERIVED_REPOS.items():
        if suffix == "-demo" and publish.space_repo.strip() or suffix == "-data" and publish.dataset_repo.strip():
            continue  # the repo has its own id, checked below
        problem = f'{locate("project", "name")}: name "{name}" gives {what} the name "{name}{suffix}", which the Hub refuses'
        _require_hub_id(name + suffix, problem, fix="shorten name")
    for key in ("model_repo", "space_repo", "dataset_repo"):
        value = getattr(publish, key).strip()
        pasted = _repo_id_in_address(value)
        if pasted:  # the generic "more than one /" below would not say which part to keep
            raise UserError(
                f'{locate("publish", key)}: {key} "{value}" is a web address or a path on the Hub, not a repo id, so '
                f'publish would be refused after the merge; write only owner/name, like {key} = "{pasted}".'
            )
        if value:
            _require_hub_id(value, f'{locate("publish", key)}: {key} "{value}" is not a Hub repo id')
        if key == "dataset_repo" and owner and value == f"{owner}/{name}-runs":  # a dataset too, where dispatch keeps runs
            raise UserError(
                f'{locate("publish", key)}: dataset_repo "{value}" is the hf-jobs runs dataset, where each Hugging Face Job '
                "keeps its data and checkpoints, and publish makes a repo exactly its reviewed files, so it would delete "
                f'them; name another repo, like dataset_repo = "{owner}/{name}-data".'
            )
        if value and "/" not in value:  # the Hub would take the token's account, but the links would not
            raise UserError(
                f'{locate("publish", key)}: {key} "{value}" names no owner, so the model card and the Space would link to '
                f'https://huggingface.co/{value}, which is not your repo; write "{owner or "your-username"}/{value}".'
            )


def _username_in(pasted: str) -> str:
    """The username in https://huggingface.co/ada, huggingface.co/ada or ada/namibia-qa ("your-username" if none)."""
    path = re.sub(r"^(https?://)?(www\.)?(huggingface\.co|hf\.co)(/|$)", "", pasted.strip(), flags=re.IGNORECASE)
    # A Space's or dataset's address puts its kind first (huggingface.co/spaces/ada/demo); a settings page names no one.
    path = re.sub(r"^/?(spaces|datasets|models)/", "", path, flags=re.IGNORECASE)
    first = path.strip("/").split("/")[0]
    if first.lower() in ("settings", "docs", "login", "join", "new", "organizations"):
        return "your-username"
    return first if HUB_ID_PART.fullmatch(first) else "your-username"


HUB_ADDRESS = re.compile(r"^(https?://)?(www\.)?(huggingface\.co|hf\.co)/", flags=re.IGNORECASE)
HUB_ID_PART = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


def _repo_id_in_address(pasted: str) -> str | None:
    """"ada/qa" in https://huggingface.co/spaces/ada/qa, hf.co/ada/qa/tree/main or datasets/ada/qa; None when `pasted`
    is not such an address or path (an id like "ada/qa" itself, or something with no owner/name in it)."""
    path = HUB_ADDRESS.sub("", pasted.strip())
    parts = path.strip("/").split("/")
    kind_first = parts[0] in ("spaces", "datasets", "models")
    if path == pasted.strip() and not kind_first:
        return None
    owner_name = parts[1:3] if kind_first else parts[:2]
    if len(owner_name) == 2 and all(HUB_ID_PART.fullmatch(part) for part in owner_name):
        return "/".join(owner_name)
    return None


def _require_hub_id(repo_id: str, problem: str, fix: str = "") -> None:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise UserError(f"{problem}: {_broken_hub_rule(repo_id, error)}{'; ' + fix if fix else ''}.") from None


def _broken_hub_rule(repo_id: str, error: Exception) -> str:
    """Say which of the Hub's rules `repo_id` breaks; validate_repo_id decided that it breaks one."""
    if repo_id.count("/") > 1:
        return 'it has more than one "/"; write owner/name'
    for part in repo_id.split("/"):
        odd = sorted({char for char in part if not (char.isascii() and (char.isalnum() or char in "-_."))})
        if not part:
            return "it is empty; fill it in"
        if odd:
            shown = ", ".join("a space" if char == " " else f'"{char}"' for char in odd)
            return f"it contains {shown}, and only letters, digits, -, _ and . are allowed"
        if len(part) > HUB_NAME_LIMIT:
            subject = f'"{part}"' if "/" in repo_id else "it"
            return f"{subject} is {len(part)} characters, {len(part) - HUB_NAME_LIMIT} more than the Hub allows"
        if part[0] in "-." or part[-1] in "-.":
            return f'"{part}" starts or ends with - or ., which the Hub does not allow'
    if "--" in repo_id or ".." in repo_id:
        return 'it contains "--" or "..", which the Hub does not allow'
    if repo_id.endswith(".git"):
        return 'it ends in ".git", which the Hub does not allow'
    return str(error).rstrip(".")  # a rule not listed above: the library's own words


def _suggest(word: str, options) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else f" (valid: {', '.join(options)})"


CURLY_QUOTES = "“”„‘’"  # what word processors, phones and chat apps type for " and '


def _toml_syntax_message(path: Path, error: tomllib.TOMLDecodeError, text: str) -> str:
    # tomllib ends its messages with "(at line L, column C)"; move the place to the front.
    match = re.search(r"\(at line (\d+), column (\d+)\)", str(error))
    reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(error))
    twice = _set_twice_message(path, reason, int(match.group(1)), text_lines(text)) if match else None
    if twice:
        return twice
    if match:
        place = f"{path}:{match.group(1)}"
    else:  # "at end of document": an unclosed bracket or quote somewhere above
        place = f"{path}:{len(text_lines(text)) or 1}"
    # The usual causes, which tomllib's words do not name: a curly quote ("Invalid value"), a missing closing quote.
    lines = text_lines(text)
    line, column = (int(match.group(1)), int(match.group(2))) if match else (0, 0)
    stopped_at = lines[line - 1][column - 1 : column] if 0 < line <= len(lines) else ""
    if stopped_at and stopped_at in CURLY_QUOTES:
        return f'{place}: TOML syntax error: "{stopped_at}" is a curly quote, which TOML does not accept around text; type straight double quotes (").'
    if stopped_at and (stopped_at.isspace() or unicodedata.category(stopped_at) == "Cf") and stopped_at not in " \t":
        return (
            f"{place}: TOML syntax error: column {column} holds U+{ord(stopped_at):04X}, a space-like or invisible "
            "character often copied from a web page, which TOML does not accept outside quotes; delete it (and type an "
            "ordinary space where one is needed)."
        )
    if reason == "Illegal character '\\n'":  # a text in "quotes" reached the end of its line
        return f'{place}: TOML syntax error: a text in quotes is not closed on this line; add the closing double quote (").'
    return (
        f"{place}: TOML syntax error: {reason}; check quotes around text, "
        '"=" between key and value, and [section] headers on that line.'
    )


def _set_twice_message(path: Path, reason: str, line: int, lines: list[str]) -> str | None:
    """tomllib says "Cannot overwrite a value" or "Cannot declare ('lora',) twice" without naming the
    key or where it was first set; find both in the text. None when the reason is another one."""
    declared = re.fullmatch(r"Cannot declare (\(.*\)) twice", reason)
    if declared:
        table = ".".join(ast.literal_eval(declared.group(1)))
        first = next((number for number, _ in _tables_declared(lines[: line - 1], table)), None)
        if first is None:
            return None
        return (
            f"{path}:{line}: section [{table}] appears twice, on lines {first} and {line}; move the settings "
            f"under the second [{table}] up under the first, and delete the second header."
        )
    if reason != "Cannot overwrite a value":
        return None
    key = _key_of(lines[line - 1])
    section = _section_above(lines, line)
    earlier = [number for number, other in _keys_in(lines[: line - 1], section) if _same_key(key, other)]
    if key is None or not earlier:
        return None
    place = f"{path}:{line} [{section}]" if section else f"{path}:{line}"
    return f"{place}: {key} is set twice, on lines {earlier[0]} and {line}; keep the value you want and delete the other line."


def _key_of(line: str) -> str | None:
    """The key of a `key = value` line, without quotes ("rank", "a.b"); None for headers, comments, blanks."""
    stripped = line.strip()
    if not stripped or stripped.startswith(("#", "[")) or "=" not in stripped:
        return None
    return ".".join(part.strip().strip("\"'") for part in stripped.split("=", 1)[0].split("."))


def _section_above(lines: list[str], line: int) -> str:
    """The [section] that line number `line` belongs to ("" above the first header)."""
    for text in reversed(lines[: line - 1]):
        if _header_of(text) is not None:
            return _header_of(text)
    return ""


def _keys_in(lines: list[str], section: str):
    """(line number, key) for every key set inside [section] (section "" is the top, above any header)."""
    current = ""
    for number, text in enumerate(lines, start=1):
        if _header_of(text) is not None:
            current = _header_of(text)
        elif current == section and _key_of(text):
            yield number, _key_of(text)


def _tables_declared(lines: list[str], table: str):
    """(line number, text) where `table` is declared: its [table] header, or a dotted `table.key =` at the top."""
    current = ""
    for number, text in enumerate(lines, start=1):
        if _header_of(text) is not None:
            current = _header_of(text)
            if current == table:
                yield number, text
        elif current == "" and _same_key(table, _key_of(text) or ""):
            yield number, text


def _header_of(line: str) -> str | None:
    """"lora" for a `[lora]` line ("t" for `[[t]]`), else None."""
    header = re.match(r"^\[+\s*([^\]]+?)\s*\]", line.strip())
    return header.group(1) if header else None


def _same_key(key: str, other: str) -> bool:
    """True when setting both would clash: the same key, or one is a dotted part of the other (b and b.c)."""
    return key == other or other.startswith(key + ".") or key.startswith(other + ".")


class _KeyLocator:
    """Finds the line of a `key = value` inside a `[section]`, so errors can name it."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = text_lines(text)

    def __call__(self, section: str, key: str | None = None) -> str:
        number = self.line(section, key)
        return f"{self.path}:{number} [{section}]" if number else f"{self.path} [{section}]"

    def line(self, section: str, key: str | None = None) -> int | None:
        """The line of `key` in [section] (of the [section] header when key is None); None when not written."""
        current = None
        for number, line in enumerate(self.lines, start=1):
            stripped = line.strip()
            if _header_of(line) is not None:
                current = _header_of(line)
                if key is None and current == section:
                    return number
                continue
            if key is not None and current == section and re.match(rf'^"?{re.escape(key)}"?\s*=', stripped):
                return number
        return None


def setting_locator(cfg: Settings) -> _KeyLocator:
    """Finds settings in the project.toml `cfg` was loaded from, for checks that run after loading (validate)."""
    path = cfg.config_path or cfg.root / DEFAULT_CONFIG
    shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path  # as you would type it
    text = path.read_text(encoding="utf-8-sig") if path.is_file() else ""
    return _KeyLocator(shown, text)
