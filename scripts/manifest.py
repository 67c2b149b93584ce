"""results/manifest.json: the list of every file that will be published, with its sha256.

The results pull request shows a reviewer the files under results/; the merge
publishes them. The manifest ties the two together: `publish` re-hashes every
file it lists and refuses to upload anything if one byte changed since the step
that wrote it. Its shape:

    {
      "schema": 1,
      "created": "2026-01-31T12:00:00Z",        # when the manifest was last written (UTC)
      "project_commit": "3f2c...",              # `git rev-parse HEAD` of the project, or null outside git
      "base_model": {"id": "HuggingFaceTB/SmolLM2-135M-Instruct", "weights": "which weights were used"},
      "repos": {
        "model": {"repo_id": "you/namibia-qa", "repo_type": "model", "space_sdk": null,
                  "folder": "results/model",
                  "files": [{"path": "README.md", "size": 1234, "sha256": "ab12..."}, ...]},
        "space": {"repo_id": "you/namibia-qa-demo", "repo_type": "space", "space_sdk": "static",
                  "folder": "results/space", "files": [...]}
      }
    }

`repo_id` is null while `[project] hub_owner` is empty (a dry run still works).

How a step adds its folder (the card step does "model", the space step "space"):

    from .manifest import record_tree, repo_ids
    record_tree(cfg, "space", cfg.path("results/space"), repo_ids(cfg)["space"],
                repo_type="space", space_sdk=cfg.publish.space_kind)

`record_tree` hashes every file under the folder, keeps the other repos'
entries as they are, and replaces the manifest atomically (a temporary file,
then a rename), so a crash never leaves half a manifest behind.
`verify(cfg)` re-hashes everything and returns one line per problem.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from .errors import UserError

RESULTS_DIR = "results"
MANIFEST = "results/manifest.json"
SCHEMA = 1
REPO_TYPES = ("model", "space")


# ---------------------------------------------------------------- repo ids


def repo_ids(cfg) -> dict[str, str | None]:
    """The Hub repos to publish to: [publish] model_repo/space_repo, else hub_owner/name and hub_owner/name-demo.

    A value is None when neither the repo nor [project] hub_owner is set.
    """
    owner, name = cfg.project.hub_owner.strip(), cfg.project.name.strip()
    model = cfg.publish.model_repo.strip() or (f"{owner}/{name}" if owner else None)
    space = cfg.publish.space_repo.strip() or (f"{owner}/{name}-demo" if owner else None)
    return {"model": model, "space": space}


# ---------------------------------------------------------------- hashing and writing


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def list_tree(folder: Path) -> list[dict]:
    """Every file under `folder` (sorted, '/'-separated relative paths) with its size and sha256."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return [
        {"path": p.relative_to(folder).as_posix(), "size": p.stat().st_size, "sha256": sha256_of(p)}
        for p in files
    ]


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write a file completely or not at all: a temporary file in the same folder, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(temporary, 0o644)  # mkstemp makes files private to this user; results are for everyone to read
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
    if repo_type not in REPO_TYPES:
        raise ValueError(f"repo_type must be one of {REPO_TYPES}, not {repo_type!r}")
    if not folder.is_dir():
        raise UserError(f"{folder}: folder not found; the step that writes it must run before it is recorded.")
    path = manifest_path(cfg)
    manifest = read_manifest(cfg) if path.is_file() else {"repos": {}}
    manifest["repos"][name] = {
        "repo_id": repo_id,
        "repo_type": repo_type,
        "space_sdk": space_sdk,
        "folder": _relative(cfg, folder),
        "files": list_tree(folder),
    }
    manifest.update(
        schema=SCHEMA,
        created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        project_commit=project_commit(cfg.root),
    )
    if base_model is not None:
        manifest["base_model"] = base_model
    ordered = {key: manifest[key] for key in ("schema", "created", "project_commit", "base_model") if key in manifest}
    ordered["repos"] = manifest["repos"]
    write_atomic(path, json.dumps(ordered, indent=2) + "\n")
    return ordered


def repo_folder(cfg, entry: dict) -> Path:
    """The local folder a manifest entry describes."""
    return cfg.path(entry["folder"])


def verify(cfg, manifest: dict | None = None) -> list[str]:
    """Re-hash every listed file; one line per missing or changed file (an empty list means all is well)."""
    manifest = manifest if manifest is not None else read_manifest(cfg)
    problems = []
    for name, entry in manifest["repos"].items():
        folder = repo_folder(cfg, entry)
        for item in entry.get("files", []):
            file = folder / item["path"]
            shown = f"{entry['folder']}/{item['path']}"
            if not file.is_file():
                problems.append(f"{shown}: missing (listed in {MANIFEST} for the {name} repo)")
            elif file.stat().st_size != item["size"] or sha256_of(file) != item["sha256"]:
                problems.append(f"{shown}: changed since {MANIFEST} was written (sha256 differs)")
    return problems


def _relative(cfg, folder: Path) -> str:
    try:
        return folder.resolve().relative_to(cfg.root.resolve()).as_posix()
    except ValueError:
        return str(folder.resolve())
