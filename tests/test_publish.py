"""The publish step and results/manifest.json.

What is covered:
  * the dry run writes byte copies of every repo tree whose sha256 equal the manifest,
    plus the plan (repo ids, commit messages, sha256 of every file); with no HF_TOKEN
    it is always a dry run;
  * a file changed or deleted after the manifest was written stops publish (exit 1,
    naming the file) before anything is written or uploaded;
  * a manifest edited to point outside what was reviewed (a "../" path, an absolute
    path, an outside folder, a symbolic link, an unknown repo, another repo id, an
    unlisted file) stops publish before its first request to the Hub;
  * the real client path, up to the network boundary: `python -m scripts publish` runs
    in a subprocess with HF_TOKEN set and HF_ENDPOINT pointing at FakeHub, a small
    http.server on 127.0.0.1 that answers the endpoints huggingface_hub 2.4 calls
    (repos/create, validate-yaml, paths-info, preupload, commit, oauth/token and repo
    info). The tests check the repos created (type, Space sdk, private), that each repo
    gets one commit with exactly the manifest's files and bytes, that a re-run with
    nothing changed makes no commit, that only a changed file is re-uploaded, the
    401/403/402 messages, the missing-hub_owner error, trusted publishing (one
    short-lived token per repo) and that the token never appears in the output;
    a closed port and a connection dropped mid-commit (the real httpx2 errors of the
    real client) give one sentence and exit 1; under GITHUB_ACTIONS=true each
    exchanged token is printed once, as `::add-mask::<token>`, before anything else.

  * derived files (the GGUF file the static Space loads, and the Modelfile): a real export
    of the tiny model from results/model records them in the manifest; the dry run's model
    tree holds them with the manifest's sha256; with outputs/export deleted, publish runs
    the export again and the rebuilt GGUF has the same sha256; a manifest whose GGUF hash
    was changed makes publish refuse (exit 1); the real client uploads the GGUF in the
    same commit as the reviewed files, and not again when it is unchanged.

What is not covered (the real Hub is not reachable here): the Hub's own checks (its
YAML validation, licence list, permissions, quotas), LFS and Xet uploads of large files
(FakeHub asks for plain "regular" uploads, so the bytes travel inside the commit
request), and the GitHub Actions side of trusted publishing (the test supplies the
OIDC id token through HF_OIDC_ID_TOKEN, and no runner reads the ::add-mask:: line).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote

import pytest

from conftest import REPO, make_project, set_values
from scripts import export
from scripts.__main__ import main as cli
from space_helpers import copy_project
import test_card

# pytest finds fixtures by their names in this module: the card step's, shared with test_card.py.
card_project, tiny_adapter_dir = test_card.card_project, test_card.tiny_adapter_dir
write_outputs = test_card.write_outputs

TOKEN = "hf_TestSecretToken1234567890"
GGUF = "namibia-qa-f16.gguf"


# ---------------------------------------------------------------- a project with results/


@pytest.fixture
def results_project(card_project):
    """A project whose card step ran, with stand-in derived files and a small static Space recorded."""
    from scripts.config import load_settings
    from scripts.manifest import record_tree

    assert cli(["card", "--config", str(card_project)]) == 0
    cfg = load_settings(card_project)
    add_stand_in_derived_files(card_project)
    space = card_project.parent / "results" / "space"
    space.mkdir()
    (space / "README.md").write_text("---\ntitle: namibia-qa demo\nsdk: static\n---\n")
    (space / "index.html").write_text("<!doctype html><h1>Ask about Namibia</h1>\n")
    (space / "assets").mkdir()
    (space / "assets" / "app.js").write_text("console.log('hello');\n")
    record_tree(cfg, "space", space, "learner/namibia-qa-demo", repo_type="space", space_sdk="static")
    return card_project


def add_stand_in_derived_files(config: Path) -> None:
    """A small stand-in GGUF and Modelfile in outputs/export, recorded as export records them (no real export: fast).

    Their sha256 match the manifest, so publish uses them as they are and never needs to rebuild them.
    """
    from scripts.config import load_settings
    from scripts.manifest import list_tree, record_derived

    out = config.parent / "outputs" / "export"
    out.mkdir(parents=True)
    (out / GGUF).write_bytes(b"GGUF" + bytes(range(256)) * 64)
    (out / "Modelfile").write_text(f"FROM ./{GGUF}\n")
    model = config.parent / "results" / "model"
    inputs = {item["path"]: item["sha256"] for item in list_tree(model) if item["path"].startswith("adapter_")}
    record_derived(load_settings(config), "model", {
        "command": "python -m scripts export --adapter results/model", "adapter": "results/model", "gguf_type": "f16",
        "folder": "outputs/export", "base_source": "bundled", "base_weights": "test weights", "converter": "test",
        "inputs": inputs, "files": sorted(list_tree(out), key=lambda item: item["path"] != GGUF),  # as export lists them
    })  # fmt: skip


def manifest_of(config: Path) -> dict:
    return json.loads((config.parent / "results" / "manifest.json").read_text())


def all_files(entry: dict) -> list[dict]:
    """A repo's committed and derived files, as the manifest lists them."""
    return entry["files"] + (entry.get("derived") or {}).get("files", [])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- the manifest


def test_manifest_lists_the_three_repos_and_verifies_clean(results_project):
    from scripts.config import load_settings
    from scripts.manifest import verify

    manifest = manifest_of(results_project)
    assert set(manifest["repos"]) == {"model", "dataset", "space"}
    dataset = manifest["repos"]["dataset"]
    assert dataset["repo_type"] == "dataset" and dataset["repo_id"] == "learner/namibia-qa-data" and dataset["private"] is True
    assert [item["path"] for item in dataset["files"]] == ["README.md", "eval.jsonl", "probes.jsonl", "train.jsonl"]
    space = manifest["repos"]["space"]
    assert space["repo_type"] == "space" and space["space_sdk"] == "static" and space["repo_id"] == "learner/namibia-qa-demo"
    assert [item["path"] for item in space["files"]] == ["README.md", "assets/app.js", "index.html"]
    assert verify(load_settings(results_project)) == []
    leftovers = [p.name for p in (results_project.parent / "results").iterdir() if "partial" in p.name or p.name.startswith(".")]
    assert leftovers == []


# ---------------------------------------------------------------- dry run


def test_dry_run_trees_and_plan_match_the_manifest(results_project, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert cli(["publish", "--config", str(results_project)]) == 0  # no token: a dry run by itself
    printed = capsys.readouterr().out
    assert "No HF_TOKEN is set, so this is a dry run" in printed
    out = results_project.parent / "outputs" / "publish"
    manifest = manifest_of(results_project)
    plan = json.loads((out / "plan.json").read_text())
    assert plan["dry_run"] is True
    for repo in plan["repos"]:
        entry = manifest["repos"][repo["name"]]
        assert repo["repo_id"] == entry["repo_id"] and repo["files"] == entry["files"]
        assert repo["derived"] == (entry.get("derived") or {}).get("files", [])
        assert repo["commit_message"].startswith(f"Publish reviewed {repo['name']} files")
        copied = sorted(p.relative_to(out / repo["name"]).as_posix() for p in (out / repo["name"]).rglob("*") if p.is_file())
        assert copied == sorted(item["path"] for item in all_files(entry))  # exactly the listed files, nothing more
        for item in all_files(entry):
            assert sha256((out / repo["name"] / item["path"]).read_bytes()) == item["sha256"]
            assert item["sha256"] in printed
    assert {item["path"] for item in plan["repos"][0]["derived"]} == {GGUF, "Modelfile"}
    assert {repo["repo_id"] for repo in plan["repos"]} == {"learner/namibia-qa", "learner/namibia-qa-data", "learner/namibia-qa-demo"}
    assert {repo["name"]: repo["private"] for repo in plan["repos"]} == {"model": False, "dataset": True, "space": False}
    assert (out / "plan.txt").read_text() in printed


@pytest.mark.parametrize("damage", ["edit", "delete"])
def test_a_file_changed_after_the_manifest_stops_publish(results_project, damage, capsys):
    readme = results_project.parent / "results" / "model" / "README.md"
    if damage == "edit":
        readme.write_text(readme.read_text() + "\nOne more line nobody reviewed.\n")
    else:
        readme.unlink()
    assert cli(["publish", "--dry-run", "--config", str(results_project)]) == 1
    printed = capsys.readouterr().out
    assert "results/model/README.md: " + ("changed since" if damage == "edit" else "missing") in printed
    assert "Nothing was published" in printed
    assert not (results_project.parent / "outputs" / "publish").exists()


def test_missing_manifest_says_which_steps_to_run(tmp_path, capsys):
    from conftest import make_project

    config = make_project(tmp_path, "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert cli(["publish", "--config", str(config)]) == 2
    assert "run `python -m scripts card` and `python -m scripts space` first" in capsys.readouterr().err


# ---------------------------------------------------------------- a fake Hub on 127.0.0.1


class FakeHub:
    """Just enough of the Hub's HTTP API for huggingface_hub's create_repo, get_paths_info and create_commit."""

    def __init__(self):
        self.repos: dict[tuple[str, str], dict] = {}  # (repo type, repo id) -> {"sdk", "private", "files", "commits"}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, token)
        self.fail: dict[str, tuple[int, str] | str] = {}  # "create", "create space", "commit", ... -> (status, message) or "drop"
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def commits(self, repo_type: str, repo_id: str) -> list[dict]:
        return self.repos.get((repo_type, repo_id), {}).get("commits", [])

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                self._record()
                parts = unquote(self.path.split("?")[0]).strip("/").split("/")
                repo = hub.repos.get((parts[1][:-1], f"{parts[2]}/{parts[3]}")) if len(parts) >= 6 and parts[4] == "tree" else None
                if repo is None:
                    return self._reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                # list_repo_files: the whole tree in one page (the Hub pages by 1000 entries).
                return self._reply(200, [{"type": "file", "path": path, "size": len(data), "oid": _git_blob_id(data)} for path, data in repo["files"].items()])

            def do_POST(self):
                token = self._record()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = unquote(self.path.split("?")[0]).strip("/").split("/")
                if parts[:2] == ["oauth", "token"]:
                    resource = json.loads(body)["resource"]
                    return self._reply(200, {"access_token": f"hf_oidc_{resource.replace('/', '_')}", "expires_in": 3600})
                if parts[:3] == ["api", "repos", "create"]:
                    return self._create(json.loads(body), token)
                if parts[:2] == ["api", "validate-yaml"]:
                    return self._reply(200, {"errors": [], "warnings": []})
                repo_type, repo_id, action = parts[1][:-1], f"{parts[2]}/{parts[3]}", parts[4]
                repo = hub.repos.get((repo_type, repo_id))
                if repo is None:
                    return self._reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
                failure = hub.fail.get(f"{action} {repo_type}") or hub.fail.get(action)  # e.g. "commit space": only Spaces
                if failure == "drop":  # the connection breaks before any answer
                    self.close_connection = True
                    return None
                if failure:
                    status, message = failure
                    return self._reply(status, {"error": f"{message} (token {token})"})  # a careless server echoes it
                if action == "paths-info":
                    return self._paths_info(repo, parse_qs(body.decode())["paths"])
                if action == "preupload":
                    files = json.loads(body)["files"]
                    return self._reply(200, {"files": [self._upload_mode(repo, f["path"]) for f in files]})
                if action == "commit":
                    return self._commit(repo, repo_type, repo_id, body)
                return self._reply(404, {"error": f"FakeHub does not know {self.path}"})

            def _record(self) -> str:
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                hub.requests.append((self.command, self.path, token))
                return token

            def _create(self, payload: dict, token: str):
                key = (payload.get("type") or "model", f"{payload['organization']}/{payload['name']}")
                failure = hub.fail.get(f"create {key[0]}") or hub.fail.get("create")  # e.g. "create space": only Spaces
                if failure:
                    return self._reply(failure[0], {"error": f"{failure[1]} (token {token})"})
                if key in hub.repos:  # the Hub's 409 also carries the url, which create_repo(exist_ok=True) returns
                    return self._reply(409, {"error": "You already created this repo", "url": f"{hub.url}/{key[1]}"})
                # As the Hub does, a new repo starts with a .gitattributes (which files go to large-file storage).
                files = {".gitattributes": b"*.gguf filter=lfs diff=lfs merge=lfs -text\n"}
                if key[0] == "space":  # and a Space with the Hub's starter card and, for a static one, its starter page
                    files["README.md"] = b"---\ntitle: New Space\n---\n"
                    if payload.get("sdk") == "static":
                        files |= {"index.html": b"<p>Welcome to your static Space!</p>\n", "style.css": b"body {}\n"}
                hub.repos[key] = {"sdk": payload.get("sdk"), "private": payload.get("visibility") == "private", "files": files, "commits": []}
                return self._reply(200, {"url": f"{hub.url}/{key[1]}"})

            def _paths_info(self, repo: dict, paths: list[str]):
                entries = []
                for path in paths:
                    if path in repo["files"]:
                        data = repo["files"][path]
                        entry = {"type": "file", "path": path, "size": len(data), "oid": _git_blob_id(data)}
                        if path.endswith((".safetensors", ".png", ".gguf")):  # the Hub stores binary files with LFS
                            entry["lfs"] = {"oid": sha256(data), "size": len(data), "pointerSize": 134}
                        entries.append(entry)
                return self._reply(200, entries)

            def _upload_mode(self, repo: dict, path: str) -> dict:
                # Plain "regular" uploads: the bytes travel base64-encoded inside the commit request (no LFS/Xet).
                remote = repo["files"].get(path)
                return {"path": path, "uploadMode": "regular", "shouldIgnore": False, "oid": _git_blob_id(remote) if remote else None}

            def _commit(self, repo: dict, repo_type: str, repo_id: str, body: bytes):
                lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
                header = next(line["value"] for line in lines if line["key"] == "header")
                files = {line["value"]["path"]: base64.b64decode(line["value"]["content"]) for line in lines if line["key"] == "file"}
                deleted = [line["value"]["path"] for line in lines if line["key"] == "deletedFile"]
                repo["files"].update(files)
                for path in deleted:
                    del repo["files"][path]
                oid = hashlib.sha1(body).hexdigest()
                repo["commits"].append({"summary": header["summary"], "description": header["description"], "files": files, "deleted": deleted})
                prefix = "spaces/" if repo_type == "space" else ""
                return self._reply(200, {"commitUrl": f"{hub.url}/{prefix}{repo_id}/commit/{oid}", "commitOid": oid, "success": True})

            def _reply(self, status: int, payload, headers: dict | None = None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@pytest.fixture
def fake_hub():
    hub = FakeHub()
    yield hub
    hub.server.shutdown()
    hub.server.server_close()


def publish_against(hub: FakeHub, config: Path, *extra: str, token: str | None = TOKEN, env: dict | None = None):
    """`python -m scripts publish` in a subprocess whose Hub is the fake one (the real client code runs)."""
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("HF_", "HUGGING_FACE")) and "PROXY" not in key.upper()
    }
    environment.update(
        HF_ENDPOINT=hub.url,
        HF_HUB_OFFLINE="0",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HOME=str(config.parent / ".hf-home"),  # no token file from this machine
        NO_PROXY="127.0.0.1,localhost",
        PYTHONPATH=str(REPO),
        **({"HF_TOKEN": token} if token else {}),
        **(env or {}),
    )
    return subprocess.run(
        [sys.executable, "-m", "scripts", "publish", "--config", str(config), *extra],
        cwd=REPO, capture_output=True, text=True, timeout=120, env=environment,
    )  # fmt: skip


def test_publish_creates_the_three_repos_with_one_commit_each_of_exactly_the_manifest(results_project, fake_hub):
    result = publish_against(fake_hub, results_project)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert TOKEN not in output
    manifest = manifest_of(results_project)
    model, space = ("model", "learner/namibia-qa"), ("space", "learner/namibia-qa-demo")
    dataset = ("dataset", "learner/namibia-qa-data")
    assert fake_hub.repos[space]["sdk"] == "static" and fake_hub.repos[model]["private"] is False
    # The dataset repo is created private (create_repo's visibility field); the Hub then hiding it from others,
    # and a repo that already exists as public staying public (create_repo changes no visibility), are the
    # Hub's side of the network boundary and are not tested here.
    assert fake_hub.repos[dataset]["private"] is True
    for (repo_type, repo_id), name in ((model, "model"), (dataset, "dataset"), (space, "space")):
        commits = fake_hub.commits(repo_type, repo_id)
        assert len(commits) == 1, f"{repo_id}: one atomic commit"
        entry = manifest["repos"][name]
        uploaded = commits[0]["files"]
        assert sorted(uploaded) == sorted(item["path"] for item in all_files(entry))  # derived files in the same commit
        for item in all_files(entry):
            assert sha256(uploaded[item["path"]]) == item["sha256"]  # byte-identical to what was reviewed
            assert f"{item['sha256']}  {item['path']}" in commits[0]["description"]
        assert commits[0]["summary"].startswith(f"Publish reviewed {name} files")
    assert {token for _, _, token in fake_hub.requests} == {TOKEN}  # every request carried the token
    plan = json.loads((results_project.parent / "outputs" / "publish" / "plan.json").read_text())
    assert plan["dry_run"] is False and all(repo["result"]["commit"] for repo in plan["repos"])


def test_publishing_again_with_nothing_changed_makes_no_commit(results_project, fake_hub):
    assert publish_against(fake_hub, results_project).returncode == 0
    result = publish_against(fake_hub, results_project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already has every file; no commit made" in result.stdout
    assert len(fake_hub.commits("model", "learner/namibia-qa")) == 1
    assert len(fake_hub.commits("space", "learner/namibia-qa-demo")) == 1


def test_only_a_changed_file_is_uploaded(results_project, fake_hub):
    from scripts.config import load_settings
    from scripts.manifest import record_tree

    assert publish_against(fake_hub, results_project).returncode == 0
    space = results_project.parent / "results" / "space"
    (space / "index.html").write_text("<!doctype html><h1>Ask me about Namibia</h1>\n")
    record_tree(load_settings(results_project), "space", space, "learner/namibia-qa-demo", repo_type="space", space_sdk="static")
    assert publish_against(fake_hub, results_project).returncode == 0
    commits = fake_hub.commits("space", "learner/namibia-qa-demo")
    assert len(commits) == 2 and list(commits[1]["files"]) == ["index.html"]
    assert len(fake_hub.commits("model", "learner/namibia-qa")) == 1


def test_a_file_the_reviewed_tree_no_longer_lists_is_removed_in_the_same_commit(results_project, fake_hub):
    """An earlier publish's file that the new reviewed tree does not hold (a GGUF of another type, probes.jsonl
    after probes were turned off) must not stay on the Hub beside files the mentor reviewed without it."""
    assert publish_against(fake_hub, results_project).returncode == 0
    model = fake_hub.repos[("model", "learner/namibia-qa")]
    model["files"]["namibia-qa-q8_0.gguf"] = b"an older export"
    result = publish_against(fake_hub, results_project)
    assert result.returncode == 0, result.stdout + result.stderr
    commits = fake_hub.commits("model", "learner/namibia-qa")
    assert len(commits) == 2 and commits[1]["files"] == {} and commits[1]["deleted"] == ["namibia-qa-q8_0.gguf"]
    assert "removed, as the reviewed files no longer list them: namibia-qa-q8_0.gguf" in result.stdout
    entry = manifest_of(results_project)["repos"]["model"]
    assert sorted(model["files"]) == sorted([".gitattributes", *(item["path"] for item in all_files(entry))])  # the Hub's own stays
    space = fake_hub.repos[("space", "learner/namibia-qa-demo")]
    # The Hub's starter README.md and index.html were replaced; its style.css, which this tree has none of, removed.
    assert len(space["commits"]) == 1 and space["commits"][0]["deleted"] == ["style.css"]
    entry = manifest_of(results_project)["repos"]["space"]
    assert sorted(space["files"]) == sorted([".gitattributes", *(item["path"] for item in all_files(entry))])


@pytest.mark.parametrize(
    "endpoint, status, expected",
    [
        ("create", 401, "the Hub refused the token (401: invalid or expired)"),
        ("create", 403, "the token may not write to learner/namibia-qa (403)"),
        ("commit", 403, "a fine-grained token needs write access to the learner namespace"),
    ],
)
def test_refusals_give_one_sentence_with_the_fix_and_never_the_token(results_project, fake_hub, endpoint, status, expected):
    fake_hub.fail[endpoint] = (status, "refused")
    result = publish_against(fake_hub, results_project)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert expected in output and "Traceback" not in output
    assert output.count("error:") == 1 and TOKEN not in output


def test_a_gradio_space_refused_for_payment_suggests_a_static_space(results_project, fake_hub):
    from scripts.config import load_settings
    from scripts.manifest import record_tree

    space = results_project.parent / "results" / "space"
    record_tree(load_settings(results_project), "space", space, "learner/namibia-qa-demo", repo_type="space", space_sdk="gradio")
    fake_hub.fail["create space"] = (402, "Payment required: this Space hardware needs a PRO plan")
    result = publish_against(fake_hub, results_project)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "a Gradio Space on a free account needs ZeroGPU or paid hardware" in output
    assert 'space_kind = "static"' in output and TOKEN not in output


def test_missing_hub_owner_with_a_token_stops_before_any_request(card_project, fake_hub):
    set_values(card_project, "project", hub_owner="")
    assert cli(["card", "--config", str(card_project)]) == 0
    result = publish_against(fake_hub, card_project)
    assert result.returncode == 2
    assert "no repo id: set [project] hub_owner in project.toml" in result.stderr
    assert fake_hub.requests == []


def test_trusted_publishing_uses_one_short_lived_token_per_repo(results_project, fake_hub):
    """No HF_TOKEN: huggingface_hub exchanges the CI's OIDC id token for a token scoped to each repo."""
    result = publish_against(fake_hub, results_project, "--trusted-publishing", token=None, env={"HF_OIDC_ID_TOKEN": "ci-jwt"})
    assert result.returncode == 0, result.stdout + result.stderr
    used = {}
    for method, path, token in fake_hub.requests:
        if "/commit/" in path:
            used[path.split("/")[2]] = token
    assert used == {
        "models": "hf_oidc_learner_namibia-qa",
        "datasets": "hf_oidc_datasets_learner_namibia-qa-data",
        "spaces": "hf_oidc_spaces_learner_namibia-qa-demo",
    }
    assert "hf_oidc_" not in result.stdout + result.stderr


def test_a_hub_that_cannot_be_reached_gives_one_sentence_and_exit_1(results_project, fake_hub):
    """A closed port: huggingface_hub's HTTP library (httpx2) raises ConnectError, which is no HfHubHTTPError."""
    closed = FakeHub()
    closed.server.shutdown()
    closed.server.server_close()  # nothing listens there any more
    result = publish_against(closed, results_project)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and TOKEN not in output
    assert f"error: the Hub at {closed.url} could not be reached for learner/namibia-qa (ConnectError" in output
    assert "check the network and https://status.huggingface.co, then run publish again; nothing was published." in output
    assert output.count("error:") == 1
    assert not (results_project.parent / "outputs" / "publish").exists()  # no plan.json claiming a result


def test_a_connection_dropped_during_the_commit_publishes_nothing(results_project, fake_hub):
    fake_hub.fail["commit"] = "drop"
    result = publish_against(fake_hub, results_project)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and TOKEN not in output
    assert "could not be reached for learner/namibia-qa (RemoteProtocolError" in output and "nothing was published." in output
    assert fake_hub.commits("model", "learner/namibia-qa") == [] and ("space", "learner/namibia-qa-demo") not in fake_hub.repos


def test_a_connection_dropped_after_the_model_repo_says_what_was_published(results_project, fake_hub):
    """A commit per repo cannot be undone: the sentence says the model and dataset repos are on the Hub and the Space is not."""
    fake_hub.fail["commit space"] = "drop"
    result = publish_against(fake_hub, results_project)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "could not be reached for learner/namibia-qa-demo (RemoteProtocolError" in output
    assert "model and dataset were published, nothing more (publishing again changes only what still differs)." in output
    assert len(fake_hub.commits("model", "learner/namibia-qa")) == 1 and fake_hub.commits("space", "learner/namibia-qa-demo") == []
    assert not (results_project.parent / "outputs" / "publish").exists()  # no plan.json claiming a finished publish


def test_the_exchanged_token_is_masked_in_the_github_actions_log(results_project, fake_hub):
    """Under Actions, each short-lived token is announced with ::add-mask:: before anything could print it."""
    fake_hub.fail["commit"] = (500, "the Hub broke")  # and FakeHub echoes the token it was sent in its error
    environment = {"HF_OIDC_ID_TOKEN": "ci-jwt", "GITHUB_ACTIONS": "true"}
    result = publish_against(fake_hub, results_project, "--trusted-publishing", token=None, env=environment)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()  # stdout, where the runner reads workflow commands
    token = "hf_oidc_learner_namibia-qa"
    assert [line for line in lines if token in line] == [f"::add-mask::{token}"]  # on no other line
    assert token not in result.stderr
    error = next(number for number, line in enumerate(lines) if "the Hub answered 500 for learner/namibia-qa" in line)
    assert lines.index(f"::add-mask::{token}") < error  # masked before the first message that could show it
    outside_actions = publish_against(fake_hub, results_project, "--trusted-publishing", token=None, env={"HF_OIDC_ID_TOKEN": "ci-jwt"})
    assert "::add-mask::" not in outside_actions.stdout + outside_actions.stderr


# ---------------------------------------------------------------- the manifest cannot point outside what was reviewed
#
# Each attack edits results/manifest.json (a file in the repository, so a pull request can change it) the way
# an attacker would: the hashes are right, only the structure points elsewhere. Publish must refuse before its
# first request to the Hub (FakeHub records every request), naming the manifest entry and the fix. A refused
# manifest is a failed check, like a changed file: exit 1; a repo id that differs from project.toml stays what
# it was before, something the learner fixes in project.toml: exit 2.


def tamper(config: Path, change) -> None:
    """Apply `change` to the manifest's dict and write it back."""
    manifest_file = config.parent / "results" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    change(manifest)
    manifest_file.write_text(json.dumps(manifest, indent=2))


def outside_file(config: Path, name: str = "outside.txt") -> tuple[Path, dict]:
    """A file beside the project folder (not in it), and the manifest item that would upload it."""
    secret = config.parent.parent / f"{config.parent.name}-{name}"
    secret.write_text("a file nobody reviewed\n")
    return secret, {"path": secret.name, "size": secret.stat().st_size, "sha256": sha256(secret.read_bytes())}


def refused(hub: FakeHub, config: Path, code: int = 1) -> str:
    """Publish with a token; it must exit with `code`, no traceback, and no request at all to the Hub."""
    result = publish_against(hub, config)
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output and TOKEN not in output
    assert hub.requests == [] and hub.repos == {}  # nothing created, nothing committed, not even asked
    return output


def test_a_path_with_dot_dot_is_refused(results_project, fake_hub):
    _, item = outside_file(results_project)
    item["path"] = f"../../../{item['path']}"  # results/model/../../../x: beside the project
    tamper(results_project, lambda m: m["repos"]["model"]["files"].append(item))
    output = refused(fake_hub, results_project)
    assert "repos.model.files[" in output and f"{item['path']}' must stay inside its folder" in output
    assert "run `python -m scripts card` again to rewrite it" in output


def test_an_absolute_path_is_refused(results_project, fake_hub):
    secret, item = outside_file(results_project, "hostname")  # like /etc/hostname, but a file that surely exists
    item["path"] = str(secret)
    tamper(results_project, lambda m: m["repos"]["space"]["files"].append(item))
    output = refused(fake_hub, results_project)
    assert f"repos.space.files[3].path '{secret}' is absolute" in output
    assert "run `python -m scripts space` again to rewrite it" in output


def test_a_folder_outside_results_is_refused(results_project, fake_hub):
    secret, item = outside_file(results_project, "etc")  # folder: "/etc" with its hostname, in effect
    def point_at_outside(manifest):
        manifest["repos"]["model"].update(folder=str(secret.parent), files=[item])
    tamper(results_project, point_at_outside)
    output = refused(fake_hub, results_project)
    assert f"repos.model.folder is '{secret.parent}', but the model repo is published only from results/model" in output


def test_a_derived_folder_or_path_outside_the_export_folder_is_refused(results_project, fake_hub):
    secret, item = outside_file(results_project, "derived")
    def derived_from_outside(manifest):
        manifest["repos"]["model"]["derived"].update(folder=str(secret.parent), files=[item])
    tamper(results_project, derived_from_outside)
    output = refused(fake_hub, results_project)
    assert f"repos.model.derived.folder is '{secret.parent}'; derived files can only come from the export step's folder outputs/export" in output
    assert "run `python -m scripts export` again" in output
    tamper(results_project, lambda m: m["repos"]["model"]["derived"].update(folder="outputs/export", files=[{**item, "path": "../../" + item["path"]}]))
    assert "repos.model.derived.files[0].path" in refused(fake_hub, results_project)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_symbolic_link_is_refused(results_project, fake_hub, what):
    """A link in results/ to a file (or a folder) outside it, and a manifest listing the outside file's sha256."""
    secret, item = outside_file(results_project)
    space = results_project.parent / "results" / "space"
    if what == "file":
        (space / "assets" / "app.js").unlink()
        (space / "assets" / "app.js").symlink_to(secret)
        shown = "results/space/assets/app.js"
    else:
        (space / "assets" / "app.js").unlink()
        (space / "assets").rmdir()
        (space / "assets").symlink_to(secret.parent, target_is_directory=True)
        (secret.parent / "app.js").write_text("console.log('not reviewed');\n")
        item = {"path": "app.js", "size": (secret.parent / "app.js").stat().st_size, "sha256": sha256((secret.parent / "app.js").read_bytes())}
        shown = "results/space/assets"
    def list_the_outside_file(manifest):
        for entry in manifest["repos"]["space"]["files"]:
            if entry["path"] == "assets/app.js":
                entry.update(size=item["size"], sha256=item["sha256"])
    tamper(results_project, list_the_outside_file)
    output = refused(fake_hub, results_project)
    assert f"{shown}: a symbolic link or special file; publish uploads only regular files" in output
    assert "run `python -m scripts space` again" in output


def test_an_unknown_repo_key_is_refused(results_project, fake_hub):
    def add_a_repo(manifest):
        manifest["repos"]["extra"] = {**manifest["repos"]["model"], "repo_id": "attacker/copy"}
    tamper(results_project, add_a_repo)
    output = refused(fake_hub, results_project)
    assert "results/manifest.json repos.extra: not a repo publish knows (only model, dataset, space); remove this entry" in output


@pytest.mark.parametrize("hub_owner", ["learner", ""])
def test_a_repo_id_other_than_project_toml_gives_is_refused(results_project, fake_hub, hub_owner):
    """Also when [project] hub_owner is empty: then project.toml names no repo and the manifest may name none."""
    set_values(results_project, "project", hub_owner=hub_owner)
    tamper(results_project, lambda m: m["repos"]["model"].update(repo_id="attacker/namibia-qa"))
    output = refused(fake_hub, results_project, code=2)
    assert "results/manifest.json [model]: repo_id is 'attacker/namibia-qa', but project.toml" in output
    assert "run card and space again" in output


def test_an_unlisted_file_in_a_repo_folder_is_refused(results_project, fake_hub):
    (results_project.parent / "results" / "space" / "assets" / "extra.js").write_text("fetch('https://example.com');\n")
    output = refused(fake_hub, results_project)
    assert "results/space/assets/extra.js: not listed in results/manifest.json repos.space.files" in output
    assert "delete it, or run `python -m scripts space` again" in output


def test_text_that_would_start_a_line_in_the_log_is_refused(results_project):
    """A newline in a printed value could forge a GitHub Actions `::command::` line in the publish job's log."""
    from scripts.config import load_settings
    from scripts.manifest import verify

    manifest = manifest_of(results_project)
    manifest["project_commit"] = "abc1234\n::notice::forged"
    manifest["repos"]["space"]["repo_id"] = "learner/namibia-qa-demo\n::error::forged"
    manifest["repos"]["model"]["derived"]["command"] = "python -m scripts export\n::warning::forged"
    problems = "\n".join(verify(load_settings(results_project), manifest))
    assert "results/manifest.json project_commit is 'abc1234\\n::notice::forged', not a git commit" in problems
    assert "repos.space.repo_id is 'learner/namibia-qa-demo\\n::error::forged', not a repo id" in problems
    assert "repos.model.derived.command is 'python -m scripts export\\n::warning::forged', not the export command" in problems
    assert "\n::" not in problems  # every value is shown with its newline escaped


def test_the_upload_path_checks_every_path_again(results_project):
    """Defence in depth: a plan made without `verify` still refuses to read a file outside its folder."""
    from scripts.config import load_settings
    from scripts.errors import UserError
    from scripts.manifest import read_manifest
    from scripts.publish import make_plan

    cfg = load_settings(results_project)
    manifest = read_manifest(cfg)
    _, item = outside_file(results_project)
    manifest["repos"]["model"]["files"].append({**item, "path": "../../../" + item["path"]})
    with pytest.raises(UserError, match="must stay inside its folder .*; nothing is uploaded"):
        for plan in make_plan(cfg, manifest):
            plan.uploads()


def test_record_tree_refuses_a_symbolic_link(results_project):
    from scripts.config import load_settings
    from scripts.errors import UserError
    from scripts.manifest import record_tree

    secret, _ = outside_file(results_project)
    space = results_project.parent / "results" / "space"
    (space / "linked.txt").symlink_to(secret)
    with pytest.raises(UserError, match="linked.txt: a symbolic link"):
        record_tree(load_settings(results_project), "space", space, "learner/namibia-qa-demo", repo_type="space", space_sdk="static")


# ---------------------------------------------------------------- derived files: checks that need no export


def test_card_run_again_keeps_the_derived_files_of_the_same_adapter(results_project):
    derived = manifest_of(results_project)["repos"]["model"]["derived"]
    assert cli(["card", "--config", str(results_project)]) == 0  # e.g. after editing model_card.j2
    assert manifest_of(results_project)["repos"]["model"]["derived"] == derived


def test_derived_files_made_from_another_adapter_stop_publish(results_project, capsys):
    manifest_file = results_project.parent / "results" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["repos"]["model"]["derived"]["inputs"]["adapter_model.safetensors"] = "0" * 64
    manifest_file.write_text(json.dumps(manifest))
    assert cli(["publish", "--dry-run", "--config", str(results_project)]) == 1
    printed = capsys.readouterr().out
    assert f"{GGUF}, Modelfile of the model repo were made from another adapter_model.safetensors" in printed
    assert "run `python -m scripts export --adapter results/model` again" in printed
    assert not (results_project.parent / "outputs" / "publish").exists()


def test_a_static_space_without_a_gguf_in_the_model_repo_is_not_published(results_project, fake_hub, capsys):
    from scripts.config import load_settings
    from scripts.manifest import record_derived

    record_derived(load_settings(results_project), "model", None)
    assert cli(["publish", "--dry-run", "--config", str(results_project)]) == 0  # a dry run shows the problem
    assert "the static Space loads a GGUF file from the model repo, but the manifest lists none" in capsys.readouterr().out
    result = publish_against(fake_hub, results_project)
    assert result.returncode == 2
    assert "run `python -m scripts export` after card" in result.stderr
    assert fake_hub.requests == []


# ---------------------------------------------------------------- derived files: a real export of the tiny model


@pytest.fixture(scope="module")
def exported_results(tmp_path_factory, tiny_model_dir, tiny_adapter_dir):
    """card, export and space run for real on the tiny model (once per module; tests work on copies)."""
    folder = tmp_path_factory.mktemp("exported-results")
    config = make_project(folder, tiny_model_dir)
    set_values(config, "project", hub_owner="learner")
    write_outputs(folder, tiny_adapter_dir, base=str(tiny_model_dir))
    for step in ("card", "export", "space"):
        assert cli([step, "--config", str(config)]) == 0, step
    return config


@pytest.fixture
def exported_copy(exported_results, tmp_path):
    return copy_project(exported_results, tmp_path / "project")


def test_export_from_results_model_records_the_gguf_and_modelfile(exported_results):
    project = exported_results.parent
    report = json.loads((project / "outputs" / "export" / "export.json").read_text())
    assert report["adapter"] == "results/model" and report["base_source"] == "local"
    model = manifest_of(exported_results)["repos"]["model"]
    derived = model["derived"]
    assert derived["command"] == "python -m scripts export --adapter results/model"
    assert derived["folder"] == "outputs/export" and derived["gguf_type"] == "f16"
    assert [item["path"] for item in derived["files"]] == [GGUF, "Modelfile"]
    for item in derived["files"]:
        data = (project / "outputs" / "export" / item["path"]).read_bytes()
        assert sha256(data) == item["sha256"] and len(data) == item["size"]
    assert derived["files"][0]["sha256"] == report["gguf"]["sha256"]
    listed = {item["path"]: item["sha256"] for item in model["files"]}
    assert derived["inputs"] == {name: listed[name] for name in ("adapter_config.json", "adapter_model.safetensors")}
    assert not any(item["path"].endswith(".gguf") for item in model["files"])  # never committed


def test_dry_run_model_tree_holds_the_gguf_with_the_manifest_sha256(exported_copy, capsys):
    assert cli(["publish", "--dry-run", "--config", str(exported_copy)]) == 0
    printed = capsys.readouterr().out
    assert "match results/manifest.json" in printed and "Rebuilding" not in printed  # outputs/export was used
    item = manifest_of(exported_copy)["repos"]["model"]["derived"]["files"][0]
    tree = exported_copy.parent / "outputs" / "publish" / "model"
    assert sha256((tree / GGUF).read_bytes()) == item["sha256"]
    assert f"{item['sha256']}" in printed and "python -m scripts export --adapter results/model" in printed
    plan = json.loads((tree.parent / "plan.json").read_text())
    assert GGUF in [entry["path"] for entry in plan["repos"][0]["derived"]]


def test_publish_rebuilds_a_missing_gguf_to_the_same_sha256(exported_copy, capsys):
    import shutil

    project = exported_copy.parent
    manifest_before = (project / "results" / "manifest.json").read_bytes()
    shutil.rmtree(project / "outputs" / "export")
    assert cli(["publish", "--dry-run", "--config", str(exported_copy)]) == 0
    printed = capsys.readouterr().out
    assert f"outputs/export/{GGUF}: missing" in printed and "Rebuilding them from the reviewed files" in printed
    item = manifest_of(exported_copy)["repos"]["model"]["derived"]["files"][0]
    assert sha256((project / "outputs" / "export" / GGUF).read_bytes()) == item["sha256"]
    assert sha256((project / "outputs" / "publish" / "model" / GGUF).read_bytes()) == item["sha256"]
    assert (project / "results" / "manifest.json").read_bytes() == manifest_before  # the rebuild records nothing


def test_a_gguf_hash_that_no_rebuild_gives_is_refused(exported_copy, capsys):
    manifest_file = exported_copy.parent / "results" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["repos"]["model"]["derived"]["files"][0]["sha256"] = "f" * 64  # not what the reviewed files give
    # as if reviewed before a dependency update: the message names the libraries then and now
    manifest["repos"]["model"]["derived"]["libraries"] = "torch 2.12.0, transformers 5.23.0"
    manifest_file.write_text(json.dumps(manifest))
    assert cli(["publish", "--dry-run", "--config", str(exported_copy)]) == 1
    printed = capsys.readouterr().out
    assert f"outputs/export/{GGUF}: sha256 differs from results/manifest.json" in printed
    assert "Rebuilding them" in printed and "Nothing was published" in printed
    assert "the base model weights, the GGUF converter or the libraries probably differ from the ones used for review" in printed
    assert f"libraries: 'torch 2.12.0, transformers 5.23.0' at review, '{export.library_versions()}' now" in printed
    assert "train again (a dependency update merged while the results waited changes the libraries)" in printed
    assert not (exported_copy.parent / "outputs" / "publish").exists()


def test_the_real_client_uploads_the_gguf_in_the_same_commit(exported_copy, fake_hub):
    result = publish_against(fake_hub, exported_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    model = manifest_of(exported_copy)["repos"]["model"]
    (commit,) = fake_hub.commits("model", "learner/namibia-qa")
    assert sorted(commit["files"]) == sorted(item["path"] for item in all_files(model))
    assert sha256(commit["files"][GGUF]) == model["derived"]["files"][0]["sha256"]
    assert "made from the files above by `python -m scripts export --adapter results/model`" in commit["description"]
    again = publish_against(fake_hub, exported_copy)
    assert again.returncode == 0 and "already has every file" in again.stdout  # an unchanged GGUF is not sent again
    assert len(fake_hub.commits("model", "learner/namibia-qa")) == 1


# ---------------------------------------------------------------- the dataset repo


def test_the_dry_run_dataset_tree_loads_with_the_datasets_library(results_project, monkeypatch, tmp_path):
    """The library's own loader reads the card's `configs` (offline): the right splits with the right row counts."""
    import datasets
    from huggingface_hub import DatasetCard

    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    assert cli(["publish", "--dry-run", "--config", str(results_project)]) == 0
    tree = results_project.parent / "outputs" / "publish" / "dataset"
    lines = {name: len((REPO / "datasets" / name).read_text().splitlines()) for name in ("train.jsonl", "eval.jsonl", "probes.jsonl")}
    default = datasets.load_dataset(str(tree))
    assert {split: len(rows) for split, rows in default.items()} == {"train": lines["train.jsonl"], "eval": lines["eval.jsonl"]}
    probes = datasets.load_dataset(str(tree), "probes")
    assert {split: len(rows) for split, rows in probes.items()} == {"test": lines["probes.jsonl"]}

    card = DatasetCard((tree / "README.md").read_text())
    data = card.data.to_dict()
    assert data["license"] == "cc-by-4.0" and data["language"] == ["en"] and data["size_categories"] == ["n<1K"]
    assert data["pretty_name"] == "Namibia Q&A example dataset" and "question-answering" in data["task_categories"]
    assert f"| train (default) | `train.jsonl` | {lines['train.jsonl']} |" in card.text  # validate's figures, rendered
    assert "## 7. Consent and personal data" in card.text  # the datasheet follows


def test_a_dataset_made_public_since_the_review_is_refused(results_project, fake_hub):
    """The reviewer saw "private"; project.toml saying public now must not publish the data."""
    set_values(results_project, "publish", dataset_private=False)
    output = refused(fake_hub, results_project, code=2)
    assert "results/manifest.json [dataset]: the reviewed dataset repo is private, but project.toml ([publish] dataset_private)" in output


def test_a_dataset_privacy_that_is_not_true_or_false_is_refused(results_project, fake_hub):
    tamper(results_project, lambda m: m["repos"]["dataset"].update(private="no"))
    output = refused(fake_hub, results_project)
    assert "results/manifest.json repos.dataset.private is 'no', not true or false" in output


def test_a_dataset_file_changed_after_the_review_is_refused(results_project, fake_hub):
    train = results_project.parent / "results" / "dataset" / "train.jsonl"
    train.write_text(train.read_text() + '{"messages": [{"role": "user", "content": "unreviewed"}]}\n')
    output = refused(fake_hub, results_project)
    assert "results/dataset/train.jsonl: changed since results/manifest.json was written (sha256 differs)" in output


def test_a_public_dataset_is_created_public(results_project, fake_hub):
    """With dataset_private = false before the card step, the reviewed and the created repo are public."""
    set_values(results_project, "publish", dataset_private=False)
    assert cli(["card", "--config", str(results_project)]) == 0
    assert manifest_of(results_project)["repos"]["dataset"]["private"] is False
    result = publish_against(fake_hub, results_project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert fake_hub.repos[("dataset", "learner/namibia-qa-data")]["private"] is False
