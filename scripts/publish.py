"""Publish the reviewed model repo and Space to the Hugging Face Hub: exactly the files in results/manifest.json.

    python -m scripts publish                       # HF_TOKEN set: publish; not set: a dry run
    python -m scripts publish --dry-run             # never touches the network
    python -m scripts publish --trusted-publishing  # in GitHub Actions, without HF_TOKEN (see below)

In order:
  1. re-hash every file results/manifest.json lists; a missing or changed file stops
     everything (exit 1, naming the file) before anything is uploaded, because what
     is published must be byte-identical to what the results pull request showed;
  2. plan one commit per repo (model, and the Space when the space step recorded one);
  3. dry run: copy the exact trees to outputs/publish/model/ and outputs/publish/space/,
     and write the plan (repo ids, commit message, sha256 of every file) to
     outputs/publish/plan.json and plan.txt;
  4. for real: `create_repo(..., exist_ok=True)` for each repo (a Space with the
     sdk from [publish] space_kind), compare the Hub's copies with the manifest
     (`get_paths_info`: LFS files by sha256, small files by git blob id), and make
     one atomic `create_commit` with only the files that differ. When nothing
     differs there is no commit at all. Files on the Hub that the manifest does not
     list are left alone (nothing is deleted).

Tokens. The token is read from HF_TOKEN and passed to huggingface_hub; it is never
printed (error messages are scrubbed of it). Use a token with the Write role.
With --trusted-publishing there is no stored token: huggingface_hub (2.4+)
exchanges GitHub Actions' OIDC id token for a short-lived token scoped to one repo
(the `HF_OIDC_RESOURCE` mechanism of Hugging Face "Trusted Publishers",
https://huggingface.co/docs/hub/trusted-publishers). This step asks for one token
per repo. It needs `permissions: id-token: write` on the job, and both repos must
already exist with this workflow added as a Trusted Publisher in their settings.

Exit codes: 0 published (or dry run written); 1 a file does not match the manifest,
or the Hub failed; 2 something to fix first (the message says what).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EXIT_CHECKS_FAILED, EXIT_OK, UserError
from .manifest import MANIFEST, read_manifest, repo_folder, repo_ids, verify, write_atomic

HUB = "https://huggingface.co"  # HF_ENDPOINT overrides it, as in huggingface_hub


def add_arguments(parser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="write the exact repo trees to outputs/publish/ and upload nothing")
    parser.add_argument(
        "--trusted-publishing",
        action="store_true",
        help="in GitHub Actions without HF_TOKEN: get a short-lived token per repo from the job's OIDC id token",
    )


def main(cfg, args) -> int:
    manifest = read_manifest(cfg)
    problems = verify(cfg, manifest)
    if problems:
        print(f"Nothing was published: these files differ from {MANIFEST} (what the results pull request showed):")
        for problem in problems:
            print(f"  {problem}")
        print("Run `python -m scripts card` (and `space`) again and have the new results reviewed, or restore the files.")
        return EXIT_CHECKS_FAILED
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
    folder: Path
    files: list[dict]
    commit_message: str
    commit_description: str
    notes: list[str] = field(default_factory=list)

    def url(self) -> str | None:
        if not self.repo_id:
            return None
        prefix = "spaces/" if self.repo_type == "space" else ""
        return f"{_endpoint()}/{prefix}{self.repo_id}"


def make_plan(cfg, manifest: dict) -> list[RepoPlan]:
    """One RepoPlan per repo in the manifest, with notes where project.toml disagrees with it."""
    configured = repo_ids(cfg)
    commit = manifest.get("project_commit")
    plans = []
    for name, entry in manifest["repos"].items():
        files = entry.get("files", [])
        message = f"Publish reviewed {name} files" + (f" from {commit[:12]}" if commit else "")
        description = (
            f"Exactly the files listed in {MANIFEST} (written {manifest.get('created', '?')}), "
            "uploaded by `python -m scripts publish`.\n\n" + "\n".join(f"{f['sha256']}  {f['path']}" for f in files)
        )
        plan = RepoPlan(
            name=name,
            repo_id=entry.get("repo_id"),
            repo_type=entry.get("repo_type", "model"),
            space_sdk=entry.get("space_sdk") or (cfg.publish.space_kind if entry.get("repo_type") == "space" else None),
            folder=repo_folder(cfg, entry),
            files=files,
            commit_message=message,
            commit_description=description,
        )
        wanted = configured.get(name)
        if plan.repo_id is None:
            plan.notes.append("no repo id: set [project] hub_owner in project.toml, then run card and space again")
        elif wanted and wanted != plan.repo_id:
            plan.notes.append(f"project.toml now names {wanted}; run card and space again so the reviewed files name it too")
        plans.append(plan)
    if "space" not in manifest["repos"]:
        print("note: the manifest lists no Space (run `python -m scripts space`); only the model repo is planned.")
    return plans


def plan_as_dict(plans: list[RepoPlan], dry_run: bool, results: dict | None = None) -> dict:
    return {
        "dry_run": dry_run,
        "repos": [
            {
                "name": plan.name,
                "repo_id": plan.repo_id,
                "repo_type": plan.repo_type,
                "space_sdk": plan.space_sdk,
                "url": plan.url(),
                "commit_message": plan.commit_message,
                "files": plan.files,
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
        lines.append(f"{plan.name}: {plan.repo_id or '(no repo id yet)'} ({kind})")
        lines.append(f"  commit message: {plan.commit_message}")
        for item in plan.files:
            lines.append(f"  {item['sha256']}  {item['size']:>10} bytes  {item['path']}")
        for note in plan.notes:
            lines.append(f"  note: {note}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- dry run


def publishing_mode(args) -> str:
    """"dry-run", "token" or "trusted"; without a token or --trusted-publishing it is always a dry run."""
    if getattr(args, "dry_run", False):
        return "dry-run"
    if getattr(args, "trusted_publishing", False):
        return "trusted"
    if os.environ.get("HF_TOKEN", "").strip():
        return "token"
    print("No HF_TOKEN is set, so this is a dry run: nothing is uploaded.")
    return "dry-run"


def write_dry_run(cfg, plans: list[RepoPlan]) -> None:
    """Byte copies of every repo tree plus the plan, swapped into outputs/publish/ in one rename."""
    target = cfg.step_dir("publish")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".publish.partial-", dir=target.parent))
    partial.chmod(0o755)
    try:
        for plan in plans:
            for item in plan.files:
                copy = partial / plan.name / item["path"]
                copy.parent.mkdir(parents=True, exist_ok=True)
                copy.write_bytes(verified_bytes(plan.folder, item))
        text = plan_as_text(plans)
        (partial / "plan.json").write_text(json.dumps(plan_as_dict(plans, dry_run=True), indent=2) + "\n", encoding="utf-8")
        (partial / "plan.txt").write_text(text, encoding="utf-8")
        old = target.with_name(".publish.old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(partial, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    print(text, end="")
    print(f"Dry run: the exact repo trees and the plan are in {target}; nothing was uploaded.")


def verified_bytes(folder: Path, item: dict) -> bytes:
    """The file's bytes, checked once more against the manifest right before they are used."""
    data = (folder / item["path"]).read_bytes()
    if hashlib.sha256(data).hexdigest() != item["sha256"]:
        raise UserError(f"{folder / item['path']}: changed while publishing; run publish again.")
    return data


# ---------------------------------------------------------------- publishing for real


def publish(cfg, plans: list[RepoPlan], mode: str) -> int:
    check_ready(plans)
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi()
    results = {}
    for plan in plans:
        token = os.environ["HF_TOKEN"].strip() if mode == "token" else trusted_publishing_token(plan)
        try:
            results[plan.name] = publish_repo(api, plan, token, private=cfg.publish.private)
        except HfHubHTTPError as error:
            message, yours_to_fix = hub_error_message(error, plan)
            if yours_to_fix:
                raise UserError(_scrub(message, token)) from None
            print(f"error: {_scrub(message, token)}")
            return EXIT_CHECKS_FAILED
        except (OSError, ValueError) as error:  # network down, or the Hub refused the card's metadata
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            print(f"error: {plan.repo_id}: {_scrub(first_line, token)}; nothing more was published.")
            return EXIT_CHECKS_FAILED
        print(f"{plan.name}: {results[plan.name]['summary']}")
    write_atomic(cfg.step_dir("publish") / "plan.json", json.dumps(plan_as_dict(plans, dry_run=False, results=results), indent=2) + "\n")
    return EXIT_OK


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

    resource = f"spaces/{plan.repo_id}" if plan.repo_type == "space" else plan.repo_id
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
    return token


def publish_repo(api, plan: RepoPlan, token: str, private: bool) -> dict:
    """Create the repo if needed, then one commit with the files whose content differs on the Hub."""
    from huggingface_hub import CommitOperationAdd

    api.create_repo(
        plan.repo_id,
        repo_type=plan.repo_type,
        space_sdk=plan.space_sdk if plan.repo_type == "space" else None,
        exist_ok=True,
        private=private,
        token=token,
    )
    changed = files_to_upload(api, plan, token)
    if not changed:
        return {"commit": None, "uploaded": [], "summary": f"{plan.url()} already has every file; no commit made."}
    operations = [CommitOperationAdd(path_in_repo=item["path"], path_or_fileobj=verified_bytes(plan.folder, item)) for item in changed]
    info = api.create_commit(
        plan.repo_id,
        operations,
        commit_message=plan.commit_message,
        commit_description=plan.commit_description,
        repo_type=plan.repo_type,
        token=token,
    )
    uploaded = [item["path"] for item in changed]
    return {"commit": info.oid, "uploaded": uploaded, "summary": f"{len(uploaded)} file(s) committed: {info.commit_url}"}


def files_to_upload(api, plan: RepoPlan, token: str) -> list[dict]:
    """The manifest's files whose content on the Hub differs from ours (all of them in a new repo)."""
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

    try:
        remote = api.get_paths_info(plan.repo_id, [item["path"] for item in plan.files], repo_type=plan.repo_type, token=token)
    except (RevisionNotFoundError, EntryNotFoundError):
        return list(plan.files)  # an empty repo has no main branch yet
    on_hub = {entry.path: entry for entry in remote if hasattr(entry, "blob_id")}
    return [item for item in plan.files if not same_content(on_hub.get(item["path"]), item, plan.folder)]


def same_content(remote, item: dict, folder: Path) -> bool:
    """LFS files carry a sha256 on the Hub; small files only their git blob id, which we compute the same way git does."""
    if remote is None or remote.size != item["size"]:
        return False
    if remote.lfs is not None:
        return remote.lfs.sha256 == item["sha256"]
    return remote.blob_id == git_blob_id((folder / item["path"]).read_bytes())


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
