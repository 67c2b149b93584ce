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

Derived files. The model repo also gets files too big for a git repository (GitHub
refuses files over 100 MB): the GGUF file the static Space runs in the browser (about
270 MB for the default model) and the Ollama Modelfile. They are not committed; the
manifest records their size and sha256 and how to rebuild them from reviewed files,
because export is deterministic (the same adapter, base weights and converter give the
same bytes). The export step adds them to the model repo's entry:

        "model": {..., "files": [...],
                  "derived": {
                    "command": "python -m scripts export --adapter results/model",
                    "adapter": "results/model", "gguf_type": "f16",   # what `publish` rebuilds with
                    "folder": "outputs/export",                        # where export wrote them
                    "base_source": "bundled", "base_weights": "...", "converter": "...",
                    "inputs": {"adapter_config.json": "9c1e...", "adapter_model.safetensors": "77aa..."},
                    "files": [{"path": "namibia-qa-f16.gguf", "size": 270994880, "sha256": "5d0f..."},
                              {"path": "Modelfile", "size": 512, "sha256": "0b8e..."}]}}

`inputs` are the sha256 of the reviewed files they were made from: `verify` reports
derived files whose inputs are no longer the listed files, and `record_tree` keeps the
derived entry when the card step rewrites results/model with the same adapter (a
re-run after editing model_card.j2) and drops it when the adapter changed.
`publish` uses the files in `folder` when their sha256 match, else runs the command
again, and refuses to upload a rebuilt file whose sha256 differs from the manifest.

How a step adds its folder (the card step does "model", the space step "space"):

    from .manifest import record_tree, repo_ids
    record_tree(cfg, "space", cfg.path("results/space"), repo_ids(cfg)["space"],
                repo_type="space", space_sdk=cfg.publish.space_kind)

`record_tree` hashes every file under the folder, keeps the other repos'
entries as they are, and replaces the manifest atomically (a temporary file,
then a rename), so a crash never leaves half a manifest behind.
`record_derived` does the same for a repo's derived files.
`verify(cfg)` re-hashes every committed file and returns one line per problem.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from .files import sha256_of, write_atomic
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



def list_tree(folder: Path) -> list[dict]:
    """Every file under `folder` (sorted, '/'-separated relative paths) with its size and sha256."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return [
        {"path": p.relative_to(folder).as_posix(), "size": p.stat().st_size, "sha256": sha256_of(p)}
        for p in files
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
    if repo_type not in REPO_TYPES:
        raise ValueError(f"repo_type must be one of {REPO_TYPES}, not {repo_type!r}")
    if not folder.is_dir():
        raise UserError(f"{folder}: folder not found; the step that writes it must run before it is recorded.")
    path = manifest_path(cfg)
    manifest = read_manifest(cfg) if path.is_file() else {"repos": {}}
    entry = {
        "repo_id": repo_id,
        "repo_type": repo_type,
        "space_sdk": space_sdk,
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

    `derived` has the shape shown in the module docstring; the repo must already be recorded.
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
        derived = entry.get("derived")
        stale = stale_inputs(derived, entry.get("files", [])) if derived else []
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
