"""results/manifest.json: the list of every file that will be published, with its size and sha256.

    record_tree(cfg, "space", cfg.path("results/space"), repo_ids(cfg)["space"], repo_type="space", space_sdk="static")
    record_derived(cfg, "model", derived)   # export: the GGUF file and Modelfile, rebuilt at publish
    problems = verify(cfg)                  # publish: one line per file that changed or does not belong

A step that writes a repo folder records it (card: model and dataset; space: space); writes replace the
manifest atomically. Its shape, derived files and what verify accepts: docs/design.md.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .files import sha256_of, write_atomic
from .errors import UserError

RESULTS_DIR = "results"
MANIFEST = "results/manifest.json"
SCHEMA = 1


@dataclass(frozen=True)
class KnownRepo:
    """A Hub repo that publish may upload to, and the only folder its files may come from."""

    repo_type: str
    folder: str
    step: str
    """The step that writes the folder and records it (the fix for most problems is to run it again)."""


# The card step writes the dataset repo too: it reads the same validate report the model card quotes.
KNOWN_REPOS = {
    "model": KnownRepo("model", f"{RESULTS_DIR}/model", "card"),
    "dataset": KnownRepo("dataset", f"{RESULTS_DIR}/dataset", "card"),
    "space": KnownRepo("space", f"{RESULTS_DIR}/space", "space"),
}
SPACE_SDKS = ("static", "gradio")  # [publish] space_kind
# The GGUF types export can make (a derived file's "gguf_type"); the lossy ones may answer a little differently.
GGUF_TYPES = ("f16", "f32", "q8_0")
LOSSY_GGUF_TYPES = ("q8_0",)
SHA256 = re.compile(r"[0-9a-f]{64}")


# ---------------------------------------------------------------- repo ids


def repo_ids(cfg) -> dict[str, str | None]:
    """The Hub repos to publish to: [publish] model_repo/space_repo/dataset_repo, else hub_owner/name,
    hub_owner/name-demo and hub_owner/name-data.

    A value is None when neither the repo nor [project] hub_owner is set.
    """
    owner, name = cfg.project.hub_owner.strip(), cfg.project.name.strip()
    model = cfg.publish.model_repo.strip() or (f"{owner}/{name}" if owner else None)
    space = cfg.publish.space_repo.strip() or (f"{owner}/{name}-demo" if owner else None)
    dataset = cfg.publish.dataset_repo.strip() or (f"{owner}/{name}-data" if owner else None)
    return {"model": model, "space": space, "dataset": dataset}


def private_repos(cfg) -> dict[str, bool]:
    """Which repos are created private: the dataset unless [publish] dataset_private = false, the others as [publish] private."""
    return {"model": cfg.publish.private, "space": cfg.publish.private, "dataset": cfg.publish.dataset_private}


# ---------------------------------------------------------------- paths that stay inside their folder


def path_problem(path) -> str | None:
    """Why `path` cannot name a file inside a repo folder, or None when it can."""
    if not isinstance(path, str) or not path:
        return "is not a file path"
    if "\\" in path or re.match(r"[A-Za-z]:", path) or any(ord(char) < 32 for char in path):
        return 'must use "/" between folders, with no drive letter or control character'
    if path.startswith("/"):
        return "is absolute; it must be relative to its folder"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return 'must stay inside its folder (no "..", "." or empty part)'
    return None


def one_line(text) -> bool:
    """Text printed in a log must not start a new line of its own (GitHub reads `::command::` lines there)."""
    return isinstance(text, str) and bool(text) and not any(ord(char) < 32 for char in text)


def first_symlink(root: Path, relative: str) -> str | None:
    """The first part of `relative` under `root` that is a symbolic link (e.g. "assets" of "assets/app.js"), or None."""
    parts = relative.split("/")
    for count in range(1, len(parts) + 1):
        if (root / "/".join(parts[:count])).is_symlink():
            return "/".join(parts[:count])
    return None


def tree_of(folder: Path) -> tuple[list[str], list[str]]:
    """The regular files under `folder` and anything else found there (links, pipes), as sorted relative paths.

    Symbolic links are reported, never followed: a linked folder is not entered.
    """
    files, others = [], []
    for top, folders, names in os.walk(folder):  # followlinks=False
        for name in folders + names:
            path = Path(top) / name
            mode = path.lstat().st_mode
            if stat.S_ISDIR(mode):
                continue
            (files if stat.S_ISREG(mode) else others).append(path.relative_to(folder).as_posix())
    return sorted(files), sorted(others)


# ---------------------------------------------------------------- hashing and writing


def list_tree(folder: Path) -> list[dict]:
    """Every file under `folder` (sorted, '/'-separated relative paths) with its size and sha256."""
    files, others = tree_of(folder)
    if others:
        raise UserError(
            f"{folder / others[0]}: a symbolic link (or another special file); the Hub gets only regular files, "
            "so replace it with the file itself and run this step again."
        )
    return [
        {"path": path, "size": (folder / path).stat().st_size, "sha256": sha256_of(folder / path)} for path in files
    ]


def project_commit(root: Path) -> str | None:
    """The project's current git commit, or None outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and commit else None


# ---------------------------------------------------------------- reading, recording, verifying


def manifest_path(cfg) -> Path:
    return cfg.path(MANIFEST)


def read_manifest(cfg) -> dict:
    """The manifest as a dict; a UserError that says which step to run when it is missing or broken."""
    path = manifest_path(cfg)
    if not path.is_file():
        raise UserError(f"{MANIFEST}: not found; run `python -m scripts card` and `python -m scripts space` first.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{MANIFEST}: not valid JSON ({error}); run `python -m scripts card` again to rewrite it.") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("repos"), dict):
        raise UserError(f'{MANIFEST}: no "repos" section; run `python -m scripts card` again to rewrite it.')
    return manifest


def record_tree(
    cfg,
    name: str,
    folder: Path,
    repo_id: str | None,
    *,
    repo_type: str = "model",
    space_sdk: str | None = None,
    base_model: dict | None = None,
) -> dict:
    """Hash every file in `folder` and save it in the manifest as the repo called `name`; returns the manifest.

    `base_model` ({"id": ..., "weights": ...}) replaces the manifest's base model when given.
    """
    known = KNOWN_REPOS.get(name)
    if known is None or known.repo_type != repo_type or _relative(cfg, folder) != known.folder:
        raise ValueError(f"{name} ({repo_type}, {folder}) is not one of the repos publish knows: {KNOWN_REPOS}")
    if not folder.is_dir():
        raise UserError(f"{folder}: folder not found; the step that writes it must run before it is recorded.")
    path = manifest_path(cfg)
    manifest = read_manifest(cfg) if path.is_file() else {"repos": {}}
    entry = {
        "repo_id": repo_id,
        "repo_type": repo_type,
        "space_sdk": space_sdk,
        "private": private_repos(cfg)[name],  # shown to the reviewer; publish refuses when project.toml changed it since
        "folder": _relative(cfg, folder),
        "files": list_tree(folder),
    }
    derived = (manifest["repos"].get(name) or {}).get("derived")
    if derived and not stale_inputs(derived, entry["files"]):
        entry["derived"] = derived  # made from the very same files: still valid
    manifest["repos"][name] = entry
    if base_model is not None:
        manifest["base_model"] = base_model
    return _save(cfg, manifest)


def record_derived(cfg, name: str, derived: dict | None) -> dict:
    """Save (or, with None, remove) the derived files of the repo called `name`; returns the manifest.

    `derived` has the shape shown in docs/design.md; the repo must already be recorded.
    """
    manifest = read_manifest(cfg)
    entry = manifest["repos"].get(name)
    if entry is None:
        raise UserError(f"{MANIFEST}: no {name} repo recorded yet; run `python -m scripts card` first.")
    if derived is None:
        entry.pop("derived", None)
    else:
        entry["derived"] = derived
    return _save(cfg, manifest)


def stale_inputs(derived: dict, files: list[dict]) -> list[str]:
    """The inputs of derived files whose sha256 is not (or no longer) the one listed among the committed `files`."""
    listed = {item["path"]: item["sha256"] for item in files}
    return [path for path, digest in derived.get("inputs", {}).items() if listed.get(path) != digest]


def _save(cfg, manifest: dict) -> dict:
    manifest.update(
        schema=SCHEMA,
        created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        project_commit=project_commit(cfg.root),
    )
    ordered = {key: manifest[key] for key in ("schema", "created", "project_commit", "base_model") if key in manifest}
    ordered["repos"] = manifest["repos"]
    write_atomic(manifest_path(cfg), json.dumps(ordered, indent=2) + "\n")
    return ordered


def repo_folder(cfg, name: str) -> Path:
    """The local folder of the repo called `name`: always the known one, whatever the manifest says."""
    return cfg.root / KNOWN_REPOS[name].folder


def listed_file(folder: Path, path: str) -> Path:
    """`folder`/`path` for reading a listed file, refusing a path that leaves the folder or passes through a link."""
    reason = path_problem(path)
    link = None if reason else first_symlink(folder, path)
    if reason or link:
        raise UserError(f"{folder}: the listed file {path!r} {reason or 'is reached through a symbolic link'}; nothing is uploaded.")
    return folder / path


def derived_folder(cfg) -> str:
    """Where derived files may be: the export step's folder (outputs/export), relative to the project."""
    return _relative(cfg, cfg.step_dir("export"))


def verify(cfg, manifest: dict | None = None) -> list[str]:
    """Check the manifest's structure, then re-hash every listed file; one line per problem (none: all is well).

    Every line names the manifest entry or the file, and what to do.
    """
    manifest = manifest if manifest is not None else read_manifest(cfg)
    problems = []
    commit = manifest.get("project_commit")
    if not (commit is None or isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{7,64}", commit)):
        problems.append(f"{MANIFEST} project_commit is {commit!r}, not a git commit; run `python -m scripts card` again")
    for name, entry in manifest["repos"].items():
        known = KNOWN_REPOS.get(name)
        if known is None:
            steps = " and ".join(dict.fromkeys(f"`python -m scripts {k.step}`" for k in KNOWN_REPOS.values()))
            problems.append(
                f'{MANIFEST} repos.{name}: not a repo publish knows (only {", ".join(KNOWN_REPOS)}); remove this entry, '
                f"or run {steps} again to rewrite the manifest, and have the results reviewed"
            )
            continue
        fix = f"run `python -m scripts {known.step}` again to rewrite it, and have the results reviewed"
        shape = entry_shape_problems(cfg, name, entry, known, fix)
        problems += shape or file_problems(cfg, name, entry, known) + derived_problems(cfg, name, entry)
    return problems


def entry_shape_problems(cfg, name: str, entry, known: KnownRepo, fix: str) -> list[str]:
    """What is wrong with the entry itself (type, folder, file list), before any file is looked at."""
    at = f"{MANIFEST} repos.{name}"
    if not isinstance(entry, dict):
        return [f"{at}: not an object with repo_id, folder and files; {fix}"]
    problems = []
    if entry.get("repo_type", "model") != known.repo_type:
        problems.append(f'{at}.repo_type is {entry.get("repo_type")!r}, but the {name} repo is a {known.repo_type} repo; {fix}')
    sdk = entry.get("space_sdk")
    if sdk is not None and (known.repo_type != "space" or sdk not in SPACE_SDKS):
        problems.append(f"{at}.space_sdk is {sdk!r}; only a Space has one, {' or '.join(SPACE_SDKS)}; {fix}")
    if not isinstance(entry.get("private", False), bool):
        problems.append(f"{at}.private is {entry.get('private')!r}, not true or false; {fix}")
    if not (entry.get("repo_id") is None or one_line(entry.get("repo_id"))):
        problems.append(f"{at}.repo_id is {entry.get('repo_id')!r}, not a repo id; {fix}")
    if entry.get("folder") != known.folder:
        problems.append(f"{at}.folder is {entry.get('folder')!r}, but the {name} repo is published only from {known.folder}; {fix}")
    link = first_symlink(cfg.root, known.folder)
    if link:
        problems.append(f"{link}: a symbolic link; {known.folder} must be a real folder in the project: replace the link, then {fix}")
    problems += file_list_problems(f"{at}.files", entry.get("files", []), fix)
    derived = entry.get("derived")
    if derived is not None:
        problems += derived_shape_problems(cfg, f"{at}.derived", derived, fix)
    return problems


def file_list_problems(at: str, files, fix: str) -> list[str]:
    """Each item must be {"path": a path inside the folder, "size": bytes, "sha256": 64 hex digits}, each path once."""
    if not isinstance(files, list):
        return [f"{at}: not a list of files; {fix}"]
    problems, seen = [], set()
    for number, item in enumerate(files):
        if not isinstance(item, dict):
            problems.append(f"{at}[{number}]: not a file entry; {fix}")
            continue
        path = item.get("path")
        reason = path_problem(path)
        if reason:
            problems.append(f"{at}[{number}].path {path!r} {reason}; {fix}")
        elif path in seen:
            problems.append(f"{at}[{number}].path {path!r} is listed twice; {fix}")
        seen.add(path)
        size, digest = item.get("size"), item.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0 or not isinstance(digest, str) or not SHA256.fullmatch(digest):
            problems.append(f"{at}[{number}] ({path!r}): size or sha256 is not valid; {fix}")
    return problems


def derived_shape_problems(cfg, at: str, derived, fix: str) -> list[str]:
    if not isinstance(derived, dict):
        return [f"{at}: not an object; {fix}"]
    export_fix = "run `python -m scripts export` again to rewrite it, and have the results reviewed"
    folder, expected = derived.get("folder"), derived_folder(cfg)
    if folder != expected or path_problem(folder):
        return [f"{at}.folder is {folder!r}; derived files can only come from the export step's folder {expected}; {export_fix}"]
    problems = file_list_problems(f"{at}.files", derived.get("files", []), export_fix)
    if not one_line(derived.get("command")):
        problems.append(f"{at}.command is {derived.get('command')!r}, not the export command; {export_fix}")
    inputs = derived.get("inputs", {})
    if not isinstance(inputs, dict) or not all(isinstance(v, str) for v in inputs.values()):
        problems.append(f"{at}.inputs: not a map from file name to sha256; {export_fix}")
    link = first_symlink(cfg.root, folder)
    if link:
        problems.append(f"{link}: a symbolic link; {folder} must be a real folder in the project: delete the link, then {export_fix}")
    return problems


def file_problems(cfg, name: str, entry: dict, known: KnownRepo) -> list[str]:
    """Compare the folder on disk with the entry: the same files, none missing, none added, none changed, no links."""
    folder = repo_folder(cfg, name)
    step = f"`python -m scripts {known.step}`"
    if not folder.is_dir():
        return [f"{known.folder}: folder not found (listed in {MANIFEST} for the {name} repo); run {step} again"]
    on_disk, others = tree_of(folder)
    problems = [
        f"{known.folder}/{path}: a symbolic link or special file; publish uploads only regular files: replace it with "
        f"the file itself, run {step} again and have the results reviewed"
        for path in others
    ]
    listed = {item["path"] for item in entry.get("files", [])}
    problems += [
        f"{known.folder}/{path}: not listed in {MANIFEST} repos.{name}.files (added after the review?); delete it, "
        f"or run {step} again (it rewrites the folder) and have the results reviewed"
        for path in on_disk
        if path not in listed
    ]
    for item in entry.get("files", []):
        file, shown = folder / item["path"], f"{known.folder}/{item['path']}"
        if first_symlink(folder, item["path"]):
            continue  # reported above, never read through
        if not file.is_file():
            problems.append(f"{shown}: missing (listed in {MANIFEST} for the {name} repo)")
        elif file.stat().st_size != item["size"] or sha256_of(file) != item["sha256"]:
            problems.append(f"{shown}: changed since {MANIFEST} was written (sha256 differs)")
    return problems


def derived_problems(cfg, name: str, entry: dict) -> list[str]:
    """Derived files must not be links, and must have been made from the files listed now."""
    derived = entry.get("derived")
    if not derived:
        return []
    problems = []
    for item in derived.get("files", []):
        link = first_symlink(cfg.root / derived["folder"], item["path"])
        if link:
            problems.append(
                f"{derived['folder']}/{link}: a symbolic link; delete it (publish rebuilds the derived files with "
                f"`{derived.get('command', 'python -m scripts export')}`)"
            )
    stale = stale_inputs(derived, entry.get("files", []))
    if stale:
        made = ", ".join(item["path"] for item in derived.get("files", [])) or "the derived files"
        problems.append(
            f"{MANIFEST}: {made} of the {name} repo were made from another {', '.join(stale)} than "
            f"{entry['folder']} has now; run `{derived.get('command', 'python -m scripts export')}` again"
        )
    return problems


def _relative(cfg, folder: Path) -> str:
    try:
        return folder.resolve().relative_to(cfg.root.resolve()).as_posix()
    except ValueError:
        return str(folder.resolve())
