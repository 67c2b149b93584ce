"""The publish step and results/manifest.json.

What is covered:
  * the dry run writes byte copies of every repo tree whose sha256 equal the manifest,
    plus the plan (repo ids, commit messages, sha256 of every file); with no HF_TOKEN
    it is always a dry run;
  * a file changed or deleted after the manifest was written stops publish (exit 1,
    naming the file) before anything is written or uploaded;
  * the real client path, up to the network boundary: `python -m scripts publish` runs
    in a subprocess with HF_TOKEN set and HF_ENDPOINT pointing at FakeHub, a small
    http.server on 127.0.0.1 that answers the endpoints huggingface_hub 2.4 calls
    (repos/create, validate-yaml, paths-info, preupload, commit, oauth/token and repo
    info). The tests check the repos created (type, Space sdk, private), that each repo
    gets one commit with exactly the manifest's files and bytes, that a re-run with
    nothing changed makes no commit, that only a changed file is re-uploaded, the
    401/403/402 messages, the missing-hub_owner error, trusted publishing (one
    short-lived token per repo) and that the token never appears in the output.

What is not covered (the real Hub is not reachable here): the Hub's own checks (its
YAML validation, licence list, permissions, quotas), LFS and Xet uploads of large files
(FakeHub asks for plain "regular" uploads, so the bytes travel inside the commit
request), and the GitHub Actions side of trusted publishing (the test supplies the
OIDC id token through HF_OIDC_ID_TOKEN).
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

from conftest import REPO, set_values
from scripts.__main__ import main as cli
from test_card import card_project, tiny_adapter_dir  # noqa: F401  (fixtures)

TOKEN = "hf_TestSecretToken1234567890"


# ---------------------------------------------------------------- a project with results/


@pytest.fixture
def results_project(card_project):
    """A project whose card step ran and whose space step recorded a small static Space."""
    from scripts.config import load_settings
    from scripts.manifest import record_tree

    assert cli(["card", "--config", str(card_project)]) == 0
    cfg = load_settings(card_project)
    space = card_project.parent / "results" / "space"
    space.mkdir()
    (space / "README.md").write_text("---\ntitle: namibia-qa demo\nsdk: static\n---\n")
    (space / "index.html").write_text("<!doctype html><h1>Ask about Namibia</h1>\n")
    (space / "assets").mkdir()
    (space / "assets" / "app.js").write_text("console.log('hello');\n")
    record_tree(cfg, "space", space, "learner/namibia-qa-demo", repo_type="space", space_sdk="static")
    return card_project


def manifest_of(config: Path) -> dict:
    return json.loads((config.parent / "results" / "manifest.json").read_text())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- the manifest


def test_manifest_lists_both_repos_and_verifies_clean(results_project):
    from scripts.config import load_settings
    from scripts.manifest import verify

    manifest = manifest_of(results_project)
    assert set(manifest["repos"]) == {"model", "space"}
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
        assert repo["commit_message"].startswith(f"Publish reviewed {repo['name']} files")
        copied = sorted(p.relative_to(out / repo["name"]).as_posix() for p in (out / repo["name"]).rglob("*") if p.is_file())
        assert copied == [item["path"] for item in entry["files"]]  # exactly the listed files, nothing more
        for item in entry["files"]:
            assert sha256((out / repo["name"] / item["path"]).read_bytes()) == item["sha256"]
            assert item["sha256"] in printed
    assert {repo["repo_id"] for repo in plan["repos"]} == {"learner/namibia-qa", "learner/namibia-qa-demo"}
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
        self.fail: dict[str, tuple[int, str]] = {}  # "create", "create space", "commit", ... -> (status, message)
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
                self._reply(404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})

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
                if action in hub.fail:
                    status, message = hub.fail[action]
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
                hub.repos[key] = {"sdk": payload.get("sdk"), "private": payload.get("visibility") == "private", "files": {}, "commits": []}
                return self._reply(200, {"url": f"{hub.url}/{key[1]}"})

            def _paths_info(self, repo: dict, paths: list[str]):
                entries = []
                for path in paths:
                    if path in repo["files"]:
                        data = repo["files"][path]
                        entry = {"type": "file", "path": path, "size": len(data), "oid": _git_blob_id(data)}
                        if path.endswith((".safetensors", ".png")):  # the Hub stores binary files with LFS
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
                repo["files"].update(files)
                oid = hashlib.sha1(body).hexdigest()
                repo["commits"].append({"summary": header["summary"], "description": header["description"], "files": files})
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


def test_publish_creates_both_repos_with_one_commit_each_of_exactly_the_manifest(results_project, fake_hub):
    result = publish_against(fake_hub, results_project)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert TOKEN not in output
    manifest = manifest_of(results_project)
    model, space = ("model", "learner/namibia-qa"), ("space", "learner/namibia-qa-demo")
    assert fake_hub.repos[space]["sdk"] == "static" and fake_hub.repos[model]["private"] is False
    for (repo_type, repo_id), name in ((model, "model"), (space, "space")):
        commits = fake_hub.commits(repo_type, repo_id)
        assert len(commits) == 1, f"{repo_id}: one atomic commit"
        entry = manifest["repos"][name]
        uploaded = commits[0]["files"]
        assert sorted(uploaded) == sorted(item["path"] for item in entry["files"])
        for item in entry["files"]:
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
    assert used == {"models": "hf_oidc_learner_namibia-qa", "spaces": "hf_oidc_spaces_learner_namibia-qa-demo"}
    assert "hf_oidc_" not in result.stdout + result.stderr
