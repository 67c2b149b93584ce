"""The dataset repo on the Hub: the checked data files and datasets/README.md as its dataset card.

The card step calls `write_dataset_repo` (it reads the same validate report the model card
quotes). It writes results/dataset/ and records it in results/manifest.json:

    README.md       datasets/README.md with its front matter completed from what validate measured
                    (language, size_categories, configs) and an "At a glance" section of its figures
    train.jsonl     [data] train, byte for byte (the name keeps the file's own .jsonl or .json)
    eval.jsonl      [data] eval: the "eval" split
    probes.jsonl    [data] probes, as its own config "probes": its records are pairs of prompts, not
                    question/answer pairs, so a config of their own keeps the train/eval columns apart

The learner writes license, pretty_name and task_categories in the front matter of
datasets/README.md; the rest is measured. The Hub shows the card at huggingface.co/datasets/<repo>,
where a relative link such as `../docs/x.md` leads nowhere, so each relative link is made absolute:
to the file in this dataset repo when it is published there, else to the project's GitHub page
when that is known, else the link becomes plain text. The rehearsal and general-knowledge files are
the template's, not the learner's data, so they stay out.

The repo is private unless [publish] dataset_private = false (see scripts/manifest.py).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from urllib.parse import quote, unquote

from .data import read_records
from .errors import UserError
from .files import replace_folder
from .manifest import KNOWN_REPOS, record_tree, repo_ids
from .outputs import ValidateReport

# The Hub's size buckets for size_categories (https://huggingface.co/docs/hub/datasets-cards).
SIZE_CATEGORIES = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")]
FRONT_MATTER_EXAMPLE = "license: cc-by-4.0"
HUB_FILE_URL = "https://huggingface.co/datasets/{repo}/blob/main/{name}"

# An inline link or image, [text](target) or ![alt](target "title"), whose text may hold `code`; or a
# code span or fenced block, matched too so that a link written inside code is left as it is.
LINK_OR_CODE = re.compile(
    r"(?P<code>`+).*?(?P=code)"
    r'|(?P<image>!?)\[(?P<text>(?:[^\[\]`\n]|`[^`\n]*`)*)\]\((?P<target>[^()\s]+)(?P<title>\s+"[^"\n]*")?\)',
    re.DOTALL,
)
ABSOLUTE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|//|#)")  # https:, mailto:, //host/..., #a-heading


def datasheet_path(cfg) -> Path:
    """datasets/README.md: the README next to the training file (as the model card finds it)."""
    return cfg.path(cfg.data.train).parent / "README.md"


def dataset_files(cfg) -> dict[str, tuple[str, Path]]:
    """Name in the repo -> (split or config, local file); probes only when the project has that file."""
    files = {}
    for split, setting in (("train", cfg.data.train), ("eval", cfg.data.eval), ("probes", cfg.data.probes)):
        local = cfg.path(setting) if setting else None
        if split == "probes" and (local is None or not local.is_file()):
            continue
        files[f"{split}{local.suffix or '.jsonl'}"] = (split, local)
    return files


def read_datasheet(path: Path) -> tuple[dict, str]:
    """The datasheet's front matter (as a dict) and its text; a UserError naming the fix when either is unusable."""
    from huggingface_hub import DatasetCard

    if not path.is_file():
        raise UserError(f"{path}: not found; the dataset repo's card is this datasheet: write it (see the bundled example).")
    text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")  # as Windows editors save it: a BOM, CRLF
    if not text.strip():
        raise UserError(f"{path}: empty; the dataset repo's card is this datasheet: write it (see the bundled example).")
    if not text.startswith("---\n"):
        raise UserError(
            f"{path}:1: no front matter; start the file with three lines: ---, `{FRONT_MATTER_EXAMPLE}` "
            "(your data's licence) and --- again."
        )
    try:
        card = DatasetCard(text)
    except ValueError as error:
        raise UserError(f"{path}:1: the front matter between the --- lines is not valid YAML ({error}).") from None
    declared = card.data.to_dict()
    if not isinstance(declared.get("license"), str) or not declared["license"].strip():
        raise UserError(f"{path}:1: the front matter has no license; add a line `{FRONT_MATTER_EXAMPLE}` (your data's licence).")
    _require_hub_licence(path, text, declared["license"].strip())
    if not card.text.strip():  # the body deleted in the web editor: the dataset card would say nothing about the data
        raise UserError(
            f"{path}: nothing after the front matter, so the dataset card on the Hub and the model card would say nothing "
            "about where the data comes from, its consent and its gaps; write the datasheet below the second --- line "
            "(the bundled datasets/README.md shows its sections)."
        )
    return declared, card.text


def _require_hub_licence(path: Path, text: str, licence: str) -> None:
    """The Hub refuses a dataset card whose license is not one of its ids, so publish would fail after the merge."""
    import difflib

    from .validate_settings import HUB_LICENSES

    if licence in HUB_LICENSES or licence == "other":  # "other" is the Hub's for a licence it does not list
        return
    line = next((number for number, row in enumerate(text.splitlines(), start=1) if row.startswith("license:")), 1)
    close = difflib.get_close_matches(licence.lower().replace(" ", "-"), sorted(HUB_LICENSES), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise UserError(
        f"{path}:{line}: license {licence!r} is not a licence id the Hugging Face Hub knows, so it would refuse the "
        f"dataset card when publishing; {hint}pick one from https://huggingface.co/docs/hub/repositories-licenses "
        "(e.g. cc-by-4.0, cc0-1.0, odc-by)."
    )


def row_counts(cfg, files: dict[str, tuple[str, Path]], report: ValidateReport) -> dict[str, int]:
    """Records per split or config, which must be the ones validate counted (else the report is stale)."""
    rows = {}
    for name, (split, local) in files.items():
        rows[split] = len(read_records(local, display_name=str(local)))
        counted = getattr(report.counts, split)
        if counted != rows[split]:
            raise UserError(
                f"{local}: {rows[split]} records, but validate counted {counted}; run "
                "`python -m scripts validate` again so the dataset card shows what was checked."
            )
    return rows


def size_category(count: int) -> str:
    return next((label for limit, label in SIZE_CATEGORIES if count < limit), "n>1M")


def measured_languages(cfg, report: ValidateReport) -> list[str]:
    """The languages validate detected (most frequent first), else the ones project.toml declares."""
    detected = report.diversity.get("languages") or {}
    return [code for code in detected if code != "unsure"] or list(cfg.project.languages)


def front_matter(cfg, declared: dict, report: ValidateReport, files: dict, rows: dict) -> str:
    """The card's YAML: the learner's fields, plus what validate measured and the configs of the files."""
    from huggingface_hub import DatasetCardData

    splits = [{"split": split, "path": name} for name, (split, _) in files.items() if split != "probes"]
    configs = [{"config_name": "default", "data_files": splits, "default": True}]
    configs += [{"config_name": "probes", "data_files": [{"split": "test", "path": name}]} for name, (split, _) in files.items() if split == "probes"]
    fields = {
        **declared,
        "pretty_name": declared.get("pretty_name") or cfg.project.name,
        "task_categories": declared.get("task_categories") or ["text-generation"],
        "language": measured_languages(cfg, report),
        "size_categories": [size_category(rows["train"] + rows["eval"])],
        "configs": configs,
    }
    return DatasetCardData(**fields).to_yaml().strip()


def split_label(split: str) -> str:
    return "test (probes)" if split == "probes" else f"{split} (default)"


def at_a_glance(report: ValidateReport, files: dict, rows: dict) -> str:
    """Markdown with the figures validate measured: records, categories, languages, checks and findings."""
    checks = report.checks
    passed = sum(1 for check in checks if check.status == "pass")
    categories = report.diversity.get("category") or {}
    languages = report.diversity.get("languages") or {}
    lines = [
        "## At a glance",
        "",
        f"Measured by `python -m scripts validate` on the files in this repo: {report.headline}.",
        "",
        "| Split (config) | File | Records |",
        "|---|---|---:|",
        *(f"| {split_label(split)} | `{name}` | {rows[split]} |" for name, (split, _) in files.items()),
        "",
        f"- Categories (train): {', '.join(f'{name} {count}' for name, count in categories.items()) or 'not recorded'}",
        f"- Languages detected (texts): {', '.join(f'{code} {count}' for code, count in languages.items()) or 'not recorded'}",
        f"- Checks passed: {passed} of {len(checks)}",
    ]
    findings = [f"{check.title}: {check.status} ({check.details})" for check in checks if check.status != "pass"]
    lines += [f"- Finding: {finding}" for finding in findings] or ["- Findings: none; every check passed"]
    return "\n".join(lines) + "\n"


def render_dataset_card(cfg, report: ValidateReport, project_url: str | None = None) -> tuple[str, dict]:
    """The dataset card's text (checked), and the files that go with it.

    project_url: the project's GitHub page (None when unknown), for links to files not in the dataset repo.
    """
    declared, body = read_datasheet(datasheet_path(cfg))
    files = dataset_files(cfg)
    rows = row_counts(cfg, files, report)
    glance = at_a_glance(report, files, rows)
    body = links_for_the_hub(body, cfg, files, project_url).strip("\n")
    title, _, rest = body.partition("\n") if body.startswith("# ") else ("", "", body)
    parts = [part for part in (title, glance.strip("\n"), rest.strip("\n")) if part]  # the title stays on top
    text = f"---\n{front_matter(cfg, declared, report, files, rows)}\n---\n\n" + "\n\n".join(parts) + "\n"
    check_dataset_card(text)
    return text, files


def links_for_the_hub(body: str, cfg, files: dict, project_url: str | None) -> str:
    """The datasheet's relative links made absolute (see the module docstring); other links stay as they are."""
    folder = datasheet_path(cfg).parent
    published = {local.resolve(): name for name, (_, local) in files.items()}

    def rewrite(match: re.Match) -> str:
        if match.group("code") or ABSOLUTE.match(match.group("target")):
            return match.group(0)
        path, anchor, fragment = match.group("target").partition("#")
        local = (folder / unquote(path)).resolve()
        url = absolute_url(cfg, local, published, project_url)
        image, text, title = match.group("image"), match.group("text"), match.group("title") or ""
        if url:
            return f"{image}[{text}]({url}{anchor}{fragment}{title})"
        shown = project_path(cfg, local) or unquote(path)
        return text if image or shown in text else f"{text} (`{shown}` in the project's files)"

    return LINK_OR_CODE.sub(rewrite, body)


def absolute_url(cfg, local: Path, published: dict[Path, str], project_url: str | None) -> str | None:
    """The file in the dataset repo when published there, else on the project's GitHub page; None when neither."""
    dataset_repo = repo_ids(cfg)["dataset"]
    if local in published and dataset_repo:
        return HUB_FILE_URL.format(repo=dataset_repo, name=quote(published[local]))
    path = project_path(cfg, local)
    if path and project_url and local.exists():
        return f"{project_url}/blob/main/{quote(path)}"
    return None


def project_path(cfg, local: Path) -> str | None:
    """`local` relative to the project folder (as GitHub names it), or None when it lies outside."""
    try:
        return local.relative_to(cfg.root.resolve()).as_posix()
    except ValueError:
        return None


def check_dataset_card(text: str) -> None:
    """The front matter parses as the Hub's DatasetCard does (locally; the Hub's own validation needs the network)."""
    from huggingface_hub import DatasetCard

    data = DatasetCard(text).data.to_dict()
    absent = [key for key in ("license", "language", "task_categories", "size_categories", "pretty_name", "configs") if not data.get(key)]
    if absent:
        raise UserError(f"datasets/README.md: the dataset card's front matter lacks {', '.join(absent)}; fill them in.")


def write_dataset_repo(cfg, text: str, files: dict) -> Path:
    """Write results/dataset (the card and the data files) in a temporary folder, swap it in, and record it in the manifest.

    `text` and `files` come from render_dataset_card, called before anything is written.
    """
    target = cfg.root / KNOWN_REPOS["dataset"].folder
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".dataset.partial-", dir=target.parent))
    partial.chmod(0o755)
    try:
        (partial / "README.md").write_text(text, encoding="utf-8")
        for name, (_, local) in files.items():
            shutil.copyfile(local, partial / name)
        replace_folder(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    record_tree(cfg, "dataset", target, repo_ids(cfg)["dataset"], repo_type="dataset")
    return target
