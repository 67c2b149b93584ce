"""Publish the reviewed model repo, dataset repo and Space to the Hugging Face Hub: exactly the files in results/manifest.json.

    python -m scripts publish                       # HF_TOKEN set: publish; not set: a dry run
    python -m scripts publish --dry-run             # never touches the network
    python -m scripts publish --trusted-publishing  # in GitHub Actions, without HF_TOKEN
    python -m scripts publish --from-tree DIR       # upload the trees a dry run wrote into DIR

It checks the manifest and re-hashes every file, rebuilds the GGUF file when outputs/export lacks it,
plans one commit per repo, and either copies the exact trees to outputs/publish/ (dry run) or makes each
repo exactly its reviewed tree: it uploads the files that differ from the Hub's copies and removes the files
the tree does not list. The steps, --from-tree and tokens: docs/design.md.

Exit codes: 0 published (or dry run written); 1 a file does not match the manifest,
or the Hub failed or could not be reached (one sentence saying what was published
before, if anything); 2 something to fix first (the message says what).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .files import replace_folder
from .errors import EXIT_CHECKS_FAILED, EXIT_OK, UserError
from .files import sha256_of, write_atomic
from .manifest import GGUF_TYPES, KNOWN_REPOS, MANIFEST, listed_file, private_repos, read_manifest, repo_folder, repo_ids, verify

HUB = "https://huggingface.co"  # HF_ENDPOINT overrides it, as in huggingface_hub


def add_arguments(parser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="write the exact repo trees to outputs/publish/ and upload nothing")
    parser.add_argument(
        "--trusted-publishing",
        action="store_true",
        help="in GitHub Actions without HF_TOKEN: get a short-lived token per repo from the job's OIDC id token",
    )
    parser.add_argument(
        "--from-tree",
        metavar="DIR",
        type=Path,
        help="upload the repo trees a dry run wrote into DIR (DIR/model, DIR/dataset, DIR/space) once every file matches "
        "results/manifest.json; nothing is rebuilt (the CI publishing job)",
    )


def main(cfg, args) -> int:
    manifest = read_manifest(cfg)
    problems = verify(cfg, manifest)
    if problems:
        return refused(
            f"Nothing was published: {MANIFEST} and the files it lists are not what the results pull request showed:",
            problems,
            "Run `python -m scripts card` (and `space`) again and have the new results reviewed, or restore the files.",
        )
    if args.from_tree is not None:
        return publish_from_tree(cfg, manifest, args.from_tree, args)
    problems = prepare_derived(cfg, manifest)
    if problems:
        return refused(f"Nothing was published: these files of the model repo do not match {MANIFEST}:", problems)
    plan = make_plan(cfg, manifest)
    mode = publishing_mode(args)
    if mode == "dry-run":
        write_dry_run(cfg, plan)
        return EXIT_OK
    return publish(cfg, plan, mode)


# ---------------------------------------------------------------- the plan


@dataclass
class RepoPlan:
    """One Hub repo and the one commit that would bring it up to date."""

    name: str
    repo_id: str | None
    repo_type: str
    space_sdk: str | None
    private: bool
    """Created private (create_repo does not change the visibility of a repo that exists already)."""
    folder: Path
    files: list[dict]
    """The committed files (under `folder`), as the manifest lists them."""
    commit_message: str
    commit_description: str
    notes: list[str] = field(default_factory=list)
    derived: list[dict] = field(default_factory=list)
    """Files made from the committed ones (under `derived_folder`): the GGUF file and the Modelfile."""
    derived_folder: Path | None = None
    derived_command: str | None = None

    def uploads(self) -> list[tuple[dict, Path, bool]]:
        """Every file of the repo: (manifest item, local file, derived?); paths checked again, right before use."""
        committed = [(item, listed_file(self.folder, item["path"]), False) for item in self.files]
        return committed + [(item, listed_file(self.derived_folder, item["path"]), True) for item in self.derived]

    def url(self) -> str | None:
        if not self.repo_id:
            return None
        prefix = {"space": "spaces/", "dataset": "datasets/"}.get(self.repo_type, "")
        return f"{_endpoint()}/{prefix}{self.repo_id}"


def make_plan(cfg, manifest: dict) -> list[RepoPlan]:
    """One RepoPlan per repo in the manifest (checked by `verify` first), with notes where project.toml disagrees with it.

    The repo type and folder come from KNOWN_REPOS, never from the manifest.
    """
    configured, private = repo_ids(cfg), private_repos(cfg)
    commit = manifest.get("project_commit")
    plans = []
    for name, entry in manifest["repos"].items():
        if name not in KNOWN_REPOS:
            raise UserError(f"{MANIFEST} repos.{name}: not a repo publish knows; run `python -m scripts card` and `space` again.")
        known = KNOWN_REPOS[name]
        files = entry.get("files", [])
        derived = entry.get("derived") or {}
        message = f"Publish reviewed {name} files" + (f" from {commit[:12]}" if commit else "")
        description = (
            f"Exactly the files listed in {MANIFEST} (written {manifest.get('created', '?')}), "
            "uploaded by `python -m scripts publish`.\n\n"
            + "\n".join(f"{f['sha256']}  {f['path']}" for f in files + derived.get("files", []))
        )
        if derived.get("files"):
            description += f"\n\n{', '.join(f['path'] for f in derived['files'])}: made from the files above by `{derived['command']}`."
        plan = RepoPlan(
            name=name,
            repo_id=entry.get("repo_id"),
            repo_type=known.repo_type,
            space_sdk=(entry.get("space_sdk") or cfg.publish.space_kind) if known.repo_type == "space" else None,
            private=private[name],
            folder=repo_folder(cfg, name),
            files=files,
            commit_message=message,
            commit_description=description,
            derived=derived.get("files", []),
            derived_folder=cfg.root / derived["folder"] if derived.get("files") else None,
            derived_command=derived.get("command"),
        )
        notes = [repo_id_note(name, plan.repo_id, configured.get(name)), privacy_note(name, entry.get("private"), plan.private)]
        plan.notes += [note for note in notes if note]
        plans.append(plan)
    for name in KNOWN_REPOS:
        if name not in manifest["repos"]:
            print(f"note: the manifest lists no {name} repo (run `python -m scripts {KNOWN_REPOS[name].step}`); it is not planned.")
    check_static_space_has_its_model(plans)
    return plans


def repo_id_note(name: str, recorded: str | None, wanted: str | None) -> str | None:
    """Why the manifest's repo_id is not the one project.toml gives (a publish with a token then refuses), or None."""
    if recorded == wanted:
        return None if wanted else "no repo id: set [project] hub_owner in project.toml, then run card and space again"
    if wanted is None:
        return (
            f"repo_id is {recorded!r}, but project.toml names no {name} repo ([project] hub_owner is empty); set hub_owner "
            f"(or [publish] {name}_repo) to the repo you mean, then run card and space again"
        )
    return f"repo_id is {recorded!r}, but project.toml now names {wanted}; run card and space again so the reviewed files name it too"


def privacy_note(name: str, recorded, wanted: bool) -> str | None:
    """Why the reviewed privacy differs from project.toml's now (a publish with a token then refuses), or None.

    An older manifest says nothing about the model and the Space; the dataset's privacy is always reviewed.
    """
    if recorded == wanted or recorded is None and name != "dataset":
        return None
    shown = {True: "private", False: "public", None: "not recorded"}
    key = "dataset_private" if name == "dataset" else "private"
    return (
        f"the reviewed {name} repo is {shown.get(recorded, repr(recorded))}, but project.toml ([publish] {key}) now makes it "
        f"{shown[wanted]}; run card and space again so the results pull request shows it"
    )


def check_static_space_has_its_model(plans: list[RepoPlan]) -> None:
    """A static Space downloads its GGUF file from the model repo: without one there, the page cannot work."""
    by_name = {plan.name: plan for plan in plans}
    space, model = by_name.get("space"), by_name.get("model")
    if space is None or model is None or space.space_sdk != "static":
        return
    if not any(item["path"].endswith(".gguf") for item, _, _ in model.uploads()):
        space.notes.append(
            "the static Space loads a GGUF file from the model repo, but the manifest lists none: run "
            "`python -m scripts export` after card (it exports results/model and records the file), then space"
        )


def plan_as_dict(plans: list[RepoPlan], dry_run: bool, results: dict | None = None) -> dict:
    return {
        "dry_run": dry_run,
        "repos": [
            {
                "name": plan.name,
                "repo_id": plan.repo_id,
                "repo_type": plan.repo_type,
                "space_sdk": plan.space_sdk,
                "private": plan.private,
                "url": plan.url(),
                "commit_message": plan.commit_message,
                "files": plan.files,
                "derived": plan.derived,
                **({"derived_command": plan.derived_command} if plan.derived else {}),
                "notes": plan.notes,
                **({"result": results[plan.name]} if results and plan.name in results else {}),
            }
            for plan in plans
        ],
    }


def plan_as_text(plans: list[RepoPlan]) -> str:
    lines = []
    for plan in plans:
        kind = f"space, sdk {plan.space_sdk}" if plan.repo_type == "space" else plan.repo_type
        kind += ", private" if plan.private else ", public"
        lines.append(f"{plan.name}: {plan.repo_id or '(no repo id yet)'} ({kind})")
        lines.append(f"  commit message: {plan.commit_message}")
        for item, _, derived in plan.uploads():
            made = "  (not committed; made by the command below)" if derived else ""
            lines.append(f"  {item['sha256']}  {item['size']:>10} bytes  {item['path']}{made}")
        if plan.derived:
            lines.append(f"  derived files made from the reviewed files by: {plan.derived_command}")
        for note in plan.notes:
            lines.append(f"  note: {note}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- dry run


def publishing_mode(args) -> str:
    """"dry-run", "token" or "trusted"; without a token or --trusted-publishing it is always a dry run."""
    if args.dry_run:
        return "dry-run"
    if args.trusted_publishing:
        return "trusted"
    if os.environ.get("HF_TOKEN", "").strip():
        return "token"
    print("No HF_TOKEN is set, so this is a dry run: nothing is uploaded.")
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(GITHUB_SETUP_HINT)  # the run is green: the learner must learn here why the Hub stays empty
    return "dry-run"


# Where the publish workflow looks for a credential on GitHub (docs/mentor.md, step 3), named in its summary.
GITHUB_SETUP_HINT = (
    "To publish from GitHub, add the secret HF_TOKEN (a Hugging Face token with the Write role) to the environment "
    "`huggingface` (Settings > Environments > huggingface), or set up trusted publishing and the variable "
    "HF_TRUSTED_PUBLISHING = true (docs/mentor.md, step 3); then Actions > Publish > Run workflow, on main."
)


def write_dry_run(cfg, plans: list[RepoPlan]) -> None:
    """Byte copies of every repo tree plus the plan, swapped into outputs/publish/ in one rename."""
    target = cfg.step_dir("publish")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".publish.partial-", dir=target.parent))
    partial.chmod(0o755)
    try:
        for plan in plans:
            for item, local, _ in plan.uploads():
                copy = partial / plan.name / item["path"]
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy_verified(local, copy, item)
        text = plan_as_text(plans)
        (partial / "plan.json").write_text(json.dumps(plan_as_dict(plans, dry_run=True), indent=2) + "\n", encoding="utf-8")
        (partial / "plan.txt").write_text(text, encoding="utf-8")
        replace_folder(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    print(text, end="")
    print(f"Dry run: the exact repo trees and the plan are in {target}; nothing was uploaded.")


def verified_bytes(path: Path, item: dict) -> bytes:
    """The file's bytes, checked once more against the manifest right before they are used."""
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != item["sha256"]:
        raise UserError(f"{path}: changed while publishing; run publish again.")
    return data


def refused(heading: str, problems: list[str], fix: str = "") -> int:
    """Say why nothing was published, one problem a line (and the fix); the exit code for failed checks."""
    print(heading)
    for problem in problems:
        print(f"  {problem}")
    if fix:
        print(fix)
    return EXIT_CHECKS_FAILED


def verified_path(path: Path, item: dict) -> Path:
    """Like verified_bytes for a large file: hashed while streaming, never held in memory whole."""
    if sha256_of(path) != item["sha256"]:
        raise UserError(f"{path}: changed while publishing; run publish again.")
    return path


def copy_verified(source: Path, copy: Path, item: dict) -> None:
    """Copy a file in blocks, hashing what is written; the copy must have the manifest's sha256."""
    digest = hashlib.sha256()
    with source.open("rb") as reader, copy.open("wb") as writer:
        for block in iter(lambda: reader.read(1 << 20), b""):
            digest.update(block)
            writer.write(block)
    if digest.hexdigest() != item["sha256"]:
        raise UserError(f"{source}: changed while publishing; run publish again.")


# ---------------------------------------------------------------- --from-tree: the trees another job made


def publish_from_tree(cfg, manifest: dict, tree: Path, args) -> int:
    """Publish the trees a dry run wrote into `tree`, once each holds exactly the manifest's files and bytes."""
    plans = make_plan(cfg, manifest)
    for plan in plans:
        plan.folder = tree / plan.name  # a dry run copies a repo's committed and derived files into one folder
        plan.derived_folder = tree / plan.name if plan.derived else None
    problems = tree_problems(tree, plans)
    if problems:
        return refused(f"Nothing was published: the trees in {tree} differ from {MANIFEST} (what the results pull request showed):", problems)
    mode = publishing_mode(args)
    if mode == "dry-run":
        print(plan_as_text(plans), end="")
        print(f"Dry run: every file in {tree} matches {MANIFEST}; nothing was uploaded.")
        return EXIT_OK
    return publish(cfg, plans, mode)


def tree_problems(tree: Path, plans: list[RepoPlan]) -> list[str]:
    """One line per file of the trees that is missing, a symlink, changed, or not in the manifest."""
    problems = []
    for plan in plans:
        root = tree / plan.name
        listed = {item["path"] for item, _, _ in plan.uploads()}
        for item, local, _ in plan.uploads():
            shown = f"{plan.name}/{item['path']}"
            if local.is_symlink() or not local.resolve().is_relative_to(root.resolve()):
                problems.append(f"{shown}: a link, or outside {root}")
            elif not local.is_file():
                problems.append(f"{shown}: missing")
            elif local.stat().st_size != item["size"] or sha256_of(local) != item["sha256"]:
                problems.append(f"{shown}: sha256 differs from {MANIFEST}")
        found = root.rglob("*") if root.is_dir() else []
        present = {path.relative_to(root).as_posix() for path in found if path.is_symlink() or not path.is_dir()}
        problems += [f"{plan.name}/{extra}: not in {MANIFEST}" for extra in sorted(present - listed)]
    return problems


# ---------------------------------------------------------------- derived files (the GGUF file and the Modelfile)


def prepare_derived(cfg, manifest: dict) -> list[str]:
    """Make sure every derived file is on disk with the manifest's sha256, rebuilding it if needed.

    Returns one line per file that could not be made to match (an empty list means all is well).
    """
    problems = []
    for name, entry in manifest["repos"].items():
        derived = entry.get("derived") or {}
        files = derived.get("files", [])
        if not files:
            continue
        folder = cfg.root / derived["folder"]
        reasons = [reason for item in files if (reason := mismatch(folder, derived["folder"], item))]
        if not reasons:
            print(f"{name}: {', '.join(item['path'] for item in files)} in {derived['folder']} match {MANIFEST}.")
            continue
        print(f"{name}: {'; '.join(reasons)}.")
        print(f"Rebuilding them from the reviewed files with `{derived['command']}` (a minute or two) ...", flush=True)
        code = rebuild(cfg, entry, derived)
        if code != EXIT_OK:
            problems.append(f"`{derived['command']}` failed (exit {code}); its messages are above")
            continue
        made = read_export_report(folder)
        for item in files:
            reason = mismatch(folder, derived["folder"], item)
            if reason:
                problems.append(
                    f"{reason}, also when rebuilt from the reviewed files: the base model weights, the GGUF converter or "
                    f"the libraries probably differ from the ones used for review ({differences(derived, made)}); nothing "
                    "is uploaded; train again (a dependency update merged while the results waited changes the libraries)"
                )
    return problems


def mismatch(folder: Path, shown: str, item: dict) -> str | None:
    """Why the local copy of a derived file is not the one in the manifest, or None when it is."""
    path = folder / item["path"]
    if not path.is_file():
        return f"{shown}/{item['path']}: missing"
    if path.stat().st_size != item["size"] or sha256_of(path) != item["sha256"]:
        return f"{shown}/{item['path']}: sha256 differs from {MANIFEST}"
    return None


def rebuild_command(cfg, entry: dict, derived: dict) -> list[str]:
    """The export command that remakes the derived files, built here from checked values, never run from text."""
    if derived.get("adapter") != entry["folder"] or derived.get("gguf_type") not in GGUF_TYPES:
        raise UserError(
            f"{MANIFEST}: the derived files of the model repo name adapter {derived.get('adapter')!r} and GGUF type "
            f"{derived.get('gguf_type')!r}; they must be made from {entry['folder']}: run `python -m scripts export` again."
        )
    config = ["--config", str(cfg.config_path)] if cfg.config_path else []
    return [
        sys.executable, "-m", "scripts", "export", *config,
        "--adapter", derived["adapter"], "--gguf-type", derived["gguf_type"], "--no-manifest",
    ]  # fmt: skip


def rebuild(cfg, entry: dict, derived: dict) -> int:
    """Run the export again, showing its progress; the same base weights as at review (the bundled copy stays offline)."""
    command = rebuild_command(cfg, entry, derived)
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    if derived.get("base_source") == "bundled":
        env["HF_HUB_OFFLINE"] = "1"  # not the Hub's bf16 weights: the review used the bundled offline copy
    sys.stdout.flush()
    return subprocess.run(command, cwd=package_root, env=env, check=False).returncode


def read_export_report(folder: Path) -> dict:
    try:
        return json.loads((folder / "export.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def differences(derived: dict, made: dict) -> str:
    """What the review's export and this one say about their inputs, where they differ."""
    pairs = [
        ("base weights", derived.get("base_weights"), made.get("base_weights")),
        ("converter", derived.get("converter"), (made.get("gguf") or {}).get("converter")),
        ("libraries", derived.get("libraries"), made.get("libraries")),
    ]
    changed = [f"{what}: {then or 'not recorded'!r} at review, {now!r} now" for what, then, now in pairs if then != now]
    return "; ".join(changed) or f"both used {derived.get('base_weights')}, {derived.get('converter')} and {derived.get('libraries')}"


# ---------------------------------------------------------------- publishing for real


def publish(cfg, plans: list[RepoPlan], mode: str) -> int:
    check_ready(plans)
    import httpx2  # the HTTP library of huggingface_hub 2.4: its connection errors are not HfHubHTTPError
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi()
    results = {}
    for plan in plans:
        token = None
        try:
            token = os.environ["HF_TOKEN"].strip() if mode == "token" else trusted_publishing_token(plan)
            results[plan.name] = publish_repo(api, plan, token)
        except HfHubHTTPError as error:  # the Hub answered, with an error status
            message, yours_to_fix = hub_error_message(error, plan)
            if yours_to_fix:
                raise UserError(_scrub(message, token)) from None
            print(f"error: {_scrub(message, token)}{published_so_far(results)}")
            return EXIT_CHECKS_FAILED
        except httpx2.HTTPError as error:  # no answer: connection refused, name not found, timeout, dropped connection
            print(
                f"error: the Hub at {_endpoint()} could not be reached for {plan.repo_id} ({type(error).__name__}: "
                f"{_scrub(_first_line(error), token)}); check the network and https://status.huggingface.co, then run "
                f"publish again{published_so_far(results)}"
            )
            return EXIT_CHECKS_FAILED
        except (OSError, ValueError) as error:  # a file could not be read, or the Hub refused the card's metadata
            print(f"error: {plan.repo_id}: {_scrub(_first_line(error), token)}{published_so_far(results)}")
            return EXIT_CHECKS_FAILED
        print(f"{plan.name}: {results[plan.name]['summary']}")
    write_atomic(cfg.step_dir("publish") / "plan.json", json.dumps(plan_as_dict(plans, dry_run=False, results=results), indent=2) + "\n")
    return EXIT_OK


def published_so_far(results: dict) -> str:
    """The end of an error sentence: what is already on the Hub (a commit per repo cannot be undone) and what is not."""
    if not results:
        return "; nothing was published."
    names = list(results)
    done = names[0] + " was" if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]} were"
    return f"; {done} published, nothing more (publishing again changes only what still differs)."


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def check_ready(plans: list[RepoPlan]) -> None:
    """Stop before any upload when a repo id is missing or project.toml disagrees with the reviewed files."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        raise UserError("HF_HUB_OFFLINE=1 is set, so the Hub cannot be reached; unset it to publish, or add --dry-run.")
    for plan in plans:
        if plan.notes:
            raise UserError(f"{MANIFEST} [{plan.name}]: {plan.notes[0]}, then have the results reviewed before publishing.")


def trusted_publishing_token(plan: RepoPlan) -> str:
    """A short-lived token for this one repo, from the CI job's OIDC id token (huggingface_hub's HF_OIDC_RESOURCE)."""
    from huggingface_hub import get_token
    from huggingface_hub.errors import HfHubHTTPError, OIDCError

    prefix = {"space": "spaces/", "dataset": "datasets/"}.get(plan.repo_type, "")
    resource = f"{prefix}{plan.repo_id}"
    previous = os.environ.get("HF_OIDC_RESOURCE")
    os.environ["HF_OIDC_RESOURCE"] = resource
    try:
        token = get_token()
    except (OIDCError, HfHubHTTPError) as error:
        raise UserError(
            f"trusted publishing for {resource} failed ({type(error).__name__}); give the job `permissions: id-token: write` "
            f"and add this workflow as a Trusted Publisher in the settings of {plan.url()}, or set HF_TOKEN instead."
        ) from None
    finally:
        if previous is None:
            os.environ.pop("HF_OIDC_RESOURCE", None)
        else:
            os.environ["HF_OIDC_RESOURCE"] = previous
    if not token:
        raise UserError(f"trusted publishing for {resource} gave no token; set HF_TOKEN instead.")
    mask_in_actions_log(token)
    return token


def mask_in_actions_log(secret: str) -> None:
    """Ask GitHub Actions to show `secret` as *** in the job's log from here on (HF_TOKEN, a secret, is masked already).

    The token exchanged at run time is no stored secret, so Actions does not know it; the `::add-mask::` workflow
    command tells it. Printed before anything else could print the token.
    """
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::add-mask::{secret}", flush=True)


def publish_repo(api, plan: RepoPlan, token: str) -> dict:
    """Create the repo if needed, then one commit that makes it the reviewed tree: the files whose content differs
    on the Hub, and the removal of files the reviewed tree no longer lists."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    api.create_repo(
        plan.repo_id,
        repo_type=plan.repo_type,
        space_sdk=plan.space_sdk if plan.repo_type == "space" else None,
        exist_ok=True,
        private=plan.private,
        token=token,
    )
    changed, stale = files_to_upload(api, plan, token), files_not_reviewed(api, plan, token)
    if not changed and not stale:
        return {"commit": None, "uploaded": [], "removed": [], "summary": f"{plan.url()} already has every file; no commit made."}
    operations = [
        CommitOperationAdd(
            path_in_repo=item["path"],
            path_or_fileobj=str(verified_path(local, item)) if derived else verified_bytes(local, item),
        )
        for item, local, derived in changed
    ] + [CommitOperationDelete(path_in_repo=path) for path in stale]
    info = api.create_commit(
        plan.repo_id,
        operations,
        commit_message=plan.commit_message,
        commit_description=plan.commit_description,
        repo_type=plan.repo_type,
        token=token,
    )
    uploaded = [item["path"] for item, _, _ in changed]
    removed = f"; removed, as the reviewed files no longer list them: {', '.join(stale)}" if stale else ""
    return {"commit": info.oid, "uploaded": uploaded, "removed": stale, "summary": f"{len(uploaded)} file(s) committed{removed}: {info.commit_url}"}


def files_not_reviewed(api, plan: RepoPlan, token: str) -> list[str]:
    """Every file on the Hub that the reviewed tree does not list, whoever put it there: an earlier publish's GGUF of
    another type, probes.jsonl after [data] probes was emptied, files uploaded by hand. Left there, they would be published beside files a mentor never saw with them. Two kinds stay:
    the Hub's own .gitattributes (which files go to large-file storage), and files under .git/ or .cache/, which no
    commit made through the Hub's API can touch."""
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError
    from huggingface_hub.utils import FORBIDDEN_FOLDERS

    try:
        on_hub = api.list_repo_files(plan.repo_id, repo_type=plan.repo_type, token=token)
    except (RevisionNotFoundError, EntryNotFoundError):
        return []  # an empty repo has no main branch yet
    reviewed = {item["path"] for item, _, _ in plan.uploads()}
    kept = {".gitattributes"}
    return sorted(
        path for path in on_hub if path not in reviewed and path not in kept and not set(path.split("/")) & set(FORBIDDEN_FOLDERS)
    )


def files_to_upload(api, plan: RepoPlan, token: str) -> list[tuple[dict, Path, bool]]:
    """The repo's files (derived ones included) whose content on the Hub differs from ours (all of them in a new repo)."""
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

    uploads = plan.uploads()
    try:
        remote = api.get_paths_info(plan.repo_id, [item["path"] for item, _, _ in uploads], repo_type=plan.repo_type, token=token)
    except (RevisionNotFoundError, EntryNotFoundError):
        return uploads  # an empty repo has no main branch yet
    on_hub = {entry.path: entry for entry in remote if hasattr(entry, "blob_id")}
    return [(item, local, derived) for item, local, derived in uploads if not same_content(on_hub.get(item["path"]), item, local)]


def same_content(remote, item: dict, local: Path) -> bool:
    """LFS files carry a sha256 on the Hub; small files only their git blob id, which we compute the same way git does."""
    if remote is None or remote.size != item["size"]:
        return False
    if remote.lfs is not None:
        return remote.lfs.sha256 == item["sha256"]
    return remote.blob_id == git_blob_id(local.read_bytes())


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def hub_error_message(error, plan: RepoPlan) -> tuple[str, bool]:
    """One sentence with the fix, and whether the learner must fix something (exit 2) rather than retry (exit 1)."""
    status = error.response.status_code if getattr(error, "response", None) is not None else None
    server = (getattr(error, "server_message", None) or str(error)).strip().splitlines()[0] if str(error) else ""
    namespace = plan.repo_id.split("/")[0]
    if status == 401:
        return (
            f"the Hub refused the token (401: invalid or expired) for {plan.repo_id}; create a new token with the "
            f"Write role at {HUB}/settings/tokens and save it as the HF_TOKEN secret (or environment variable)."
        ), True
    if plan.repo_type == "space" and plan.space_sdk != "static" and (status == 402 or _mentions_hardware(server)):
        return (
            f"the Hub will not run the {plan.space_sdk} Space {plan.repo_id} on this account ({status}): a Gradio Space "
            'on a free account needs ZeroGPU or paid hardware; set [publish] space_kind = "static" in project.toml '
            "(free for everyone), then run space and card again."
        ), True
    if status == 403:
        return (
            f"the token may not write to {plan.repo_id} (403); use a token with the Write role (a fine-grained token "
            f"needs write access to the {namespace} namespace), or set [publish] model_repo and space_repo to a "
            "namespace you own."
        ), True
    if status == 402:
        return f"the Hub asks for payment to create {plan.repo_id} (402: {server}); choose a free option or another namespace.", True
    return f"the Hub answered {status} for {plan.repo_id}: {server}; check https://status.huggingface.co and try again.", False


def _mentions_hardware(message: str) -> bool:
    words = ("hardware", "zerogpu", "sdk", "upgrade", "pro plan", "payment")
    return any(word in message.lower() for word in words)


def _scrub(text: str, token: str | None) -> str:
    """Never show the token, even if an error message echoes it."""
    return text.replace(token, "***") if token else text


def _endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", HUB).rstrip("/")
