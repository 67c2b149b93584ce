"""The space step: the static page (its files, and the page run for real in headless Chromium on
the exported tiny model) and the Gradio app (started on 127.0.0.1 and called with gradio_client).

For the tiny model the answers are gibberish, but greedy decoding makes them deterministic, so the
browser's answers (llama.cpp in WebAssembly, on the GGUF file) must equal PyTorch's exactly.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from urllib.parse import urlsplit

import pytest
import yaml

from conftest import REPO, run_cli, set_values
from scripts import space
from scripts.manifest import list_tree
from space_helpers import (
    answers_from_static_page,
    copy_project,
    exported_tiny_project,
    find_chromium,
    gradio_app_url,
    gradio_space_project,
    pytorch_answers,
)

# The vendored wllama files, pinned: `npm pack @wllama/wllama@3.8.1` gives these bytes (see VERSION.txt).
WLLAMA_SHA256 = {
    "wllama.js": "e5506753e41a59c11f61f2c52422045be9fc76e32a7e47f037aaad5df4ec723e",
    "wllama.wasm": "551f13439366eff11e057b1b91fe46a7fdac29d56d67372d4c5f19a549dfe70c",
    "LICENCE": "5866e3bd7e3cbd3f7c8bea6efd8a1e7fa7cc8de68c30f428aff7c6584a0fb720",
    # `npm pack @wllama/wllama-compat@3.8.1`: the build for browsers without JSPI or Memory64 (Safari)
    "compat/wllama.js": "2649eeb408988841c372e54805adfa25aed5d02f850c09add78c2f3ac0f3fce1",
    "compat/wllama.wasm": "2db3f67d0bcc19cdf8f14f129e46cab691bff898954808f8a2dc4c586eb5bb68",
}
HUB_COLORS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed, so the static page is not run: apt-get install -y chromium",
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir):
    return exported_tiny_project(tmp_path_factory, tiny_model_dir)


@pytest.fixture
def static_space(exported, tmp_path):
    config = copy_project(exported, tmp_path / "project")
    result = run_cli("space", "--config", str(config))
    assert result.returncode == 0, result.stderr[-3000:]
    return config


def front_matter(readme: str) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", readme, re.S)
    assert match, "README.md must start with a --- YAML block ---"
    return yaml.safe_load(match.group(1))


def eval_questions(config, count=3) -> list[str]:
    lines = (config.parent / "datasets" / "eval.jsonl").read_text().splitlines()[:count]
    return [json.loads(line)["messages"][0]["content"] for line in lines]


def test_static_space_has_the_page_the_runtime_and_a_hub_header(static_space):
    folder = static_space.parent / "results" / "space"
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert files == {
        "README.md", "index.html", "app.js", "style.css",
        "vendor/wllama/wllama.js", "vendor/wllama/wllama.wasm", "vendor/wllama/LICENCE", "vendor/wllama/VERSION.txt",
        "vendor/wllama/compat/wllama.js", "vendor/wllama/compat/wllama.wasm",
    }
    header = front_matter((folder / "README.md").read_text())
    assert header["sdk"] == "static" and header["app_file"] == "index.html"
    assert header["title"] == "namibia-qa" and header["emoji"] and header["license"] == "apache-2.0"
    assert {header["colorFrom"], header["colorTo"]} <= HUB_COLORS
    assert header["models"] == ["your-username/namibia-qa"]
    assert 0 < len(header["short_description"]) <= 60

    for name in ("README.md", "index.html"):
        text = (folder / name).read_text()
        assert "{{" not in text and "{%" not in text, name
    page = (folder / "index.html").read_text()
    config = json.loads(re.search(r'<script type="application/json" id="space-config">(.*?)</script>', page).group(1))
    assert config["model_url"] == "https://huggingface.co/your-username/namibia-qa/resolve/main/namibia-qa-f16.gguf"
    assert config["max_new_tokens"] == 48
    assert "A learning project, not a source of truth." in page
    assert "Answering short factual questions about Namibia" in page  # [card] intended_use
    assert "Legal, medical, financial" in page  # [card] out_of_scope_use
    assert "A 135M-parameter model" in page  # [card] limitations


def test_vendored_runtime_is_the_pinned_wllama_release(static_space):
    for folder in (REPO / "template" / "space-static" / "vendor" / "wllama", static_space.parent / "results" / "space" / "vendor" / "wllama"):
        for name, digest in WLLAMA_SHA256.items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, folder / name
    version = (REPO / "template" / "space-static" / "vendor" / "wllama" / "VERSION.txt").read_text()
    assert f"@wllama/wllama {space.WLLAMA_VERSION} and @wllama/wllama-compat {space.WLLAMA_VERSION}" in version
    assert WLLAMA_SHA256["compat/wllama.wasm"] in version and WLLAMA_SHA256["compat/wllama.js"] in version


def test_the_page_may_load_only_its_own_files_and_the_model(static_space):
    """The Content-Security-Policy: the browser itself refuses anything else (a CDN, another site, inline code)."""
    page = (static_space.parent / "results" / "space" / "index.html").read_text()
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page).group(1)
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval'"  # and WebAssembly
    assert directives["worker-src"] == "'self' blob:"  # wllama starts its workers from blob: URLs
    assert directives["connect-src"] == "'self' https://huggingface.co https://*.huggingface.co https://*.hf.co"
    assert set(directives) == {"default-src", "script-src", "worker-src", "connect-src", "object-src", "base-uri", "form-action"}
    assert directives["object-src"] == directives["base-uri"] == directives["form-action"] == "'none'"
    assert page.index("Content-Security-Policy") < page.index("<script")  # in force before any script
    app = (static_space.parent / "results" / "space" / "app.js").read_text()
    assert 'setCompat("default")' not in app and "./vendor/wllama/compat/wllama.wasm" in app  # not wllama's CDN copy


def test_space_is_recorded_in_the_manifest(static_space):
    results = static_space.parent / "results"
    entry = json.loads((results / "manifest.json").read_text())["repos"]["space"]
    assert entry["repo_type"] == "space" and entry["space_sdk"] == "static" and entry["folder"] == "results/space"
    assert entry["repo_id"] is None  # hub_owner is empty in the example project
    assert entry["files"] == list_tree(results / "space")


def test_hub_owner_names_the_repos_and_card_text_is_escaped(exported, tmp_path):
    config = copy_project(exported, tmp_path / "project")
    set_values(config, "project", hub_owner="learner")
    set_values(config, "card", limitations="Knows <b>little</b> & guesses.")
    result = run_cli("space", "--config", str(config))
    assert result.returncode == 0, result.stderr
    folder = config.parent / "results" / "space"
    assert front_matter((folder / "README.md").read_text())["models"] == ["learner/namibia-qa"]
    page = (folder / "index.html").read_text()
    assert "https://huggingface.co/learner/namibia-qa/resolve/main/namibia-qa-f16.gguf" in page
    assert "Knows &lt;b&gt;little&lt;/b&gt; &amp; guesses." in page
    manifest = json.loads((config.parent / "results" / "manifest.json").read_text())
    assert manifest["repos"]["space"]["repo_id"] == "learner/namibia-qa-demo"


INJECTED = 'x\nsdk: docker\nevil: "yes"'  # a project.toml value with a newline and a YAML key inside


@pytest.mark.parametrize("kind", ["static", "gradio"])
def test_front_matter_values_cannot_add_keys(tmp_path, kind):
    """Every value in the Space header is serialised (tojson): a newline stays inside its value."""
    import jinja2.meta
    from huggingface_hub import SpaceCard

    template = REPO / "template" / f"space-{kind}" / "README.md.j2"
    names = jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(template.read_text()))
    context = {name: INJECTED for name in names} | {"versions": {"gradio": INJECTED}, "custom_headers": {"x-test": INJECTED}}
    (tmp_path / "template").mkdir()
    shutil.copyfile(template, tmp_path / "template" / "README.md.j2")
    space.render_tree(tmp_path / "template", tmp_path / "out", context)
    text = (tmp_path / "out" / "README.md").read_text()
    header = front_matter(text)
    assert "evil" not in header and header["sdk"] == kind
    assert header["title"] == header["license"] == header["models"][-1] == header["short_description"] == INJECTED
    assert SpaceCard(text).data.to_dict()["sdk"] == kind  # huggingface_hub's parser agrees


def test_a_newline_in_project_toml_stays_inside_the_space_header(exported, tmp_path):
    config = copy_project(exported, tmp_path / "project")
    set_values(config, "project", license=INJECTED, hub_owner="learner")
    result = run_cli("space", "--config", str(config))
    assert result.returncode == 0, result.stderr
    header = front_matter((config.parent / "results" / "space" / "README.md").read_text())
    assert "evil" not in header and header["sdk"] == "static" and header["license"] == INJECTED


def test_static_space_without_export_is_exit_2(tiny_project):
    result = run_cli("space", "--config", str(tiny_project))
    assert result.returncode == 2
    assert "outputs/export/export.json: not found" in result.stderr and "python -m scripts export" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tiny_project.parent / "results" / "space").exists()


@needs_chromium
@pytest.mark.parametrize("like_safari", [False, True], ids=["chromium", "without-jspi-like-safari"])
def test_static_page_answers_like_pytorch_in_headless_chromium(static_space, tiny_model_dir, tmp_path, like_safari):
    """The page answers, and no request leaves 127.0.0.1 (the browser's proxy for every other host records them).

    Without WebAssembly JSPI, as in Safari, wllama runs its compat build: vendored, not fetched from a CDN.
    """
    pytest.importorskip("websocket", reason="websocket-client is not installed: pip install -r requirements.txt")
    project = static_space.parent
    questions = eval_questions(static_space)
    expected = pytorch_answers(tiny_model_dir, project / "outputs" / "train" / "adapter", questions, 48)

    name = "space-static-compat.png" if like_safari else "space-static.png"
    screenshot = tmp_path / name
    run = answers_from_static_page(project, questions, screenshot, CHROMIUM, like_safari=like_safari)
    keep = REPO / "outputs" / "test-screenshots"  # outputs/ is git-ignored; a person can look at the page here
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(screenshot, keep / name)
    assert run.answers == expected
    assert run.outside_requests == []
    assert not [line for line in run.console if "Content Security Policy" in line]
    compat = [urlsplit(url).path for url in run.fetched if "/compat/" in url]  # the compat build, from the Space
    assert compat == (["/vendor/wllama/compat/wllama.js"] if like_safari else [])


def test_gradio_space_answers_like_pytorch(exported, tmp_path_factory, tiny_model_dir, request):
    from gradio_client import Client

    config = gradio_space_project(tmp_path_factory, exported)
    folder = config.parent / "results" / "space"
    assert {p.name for p in folder.iterdir()} == {"README.md", "app.py", "requirements.txt"}

    import gradio

    header = front_matter((folder / "README.md").read_text())
    assert header["sdk"] == "gradio" and header["sdk_version"] == gradio.__version__ and header["app_file"] == "app.py"
    assert header["suggested_hardware"] == "zero-a10g"
    assert "ZeroGPU" in (folder / "README.md").read_text()
    requirements = [line for line in (folder / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert requirements and all(re.fullmatch(r"[a-z]+==[0-9][0-9.]*", line) for line in requirements), requirements
    assert "@on_gpu_when_lent" in (folder / "app.py").read_text()
    entry = json.loads((config.parent / "results" / "manifest.json").read_text())["repos"]["space"]
    assert entry["space_sdk"] == "gradio"

    question = eval_questions(config, 1)[0]
    adapter = config.parent / "outputs" / "train" / "adapter"
    expected = pytorch_answers(tiny_model_dir, adapter, [question], 48)
    url = gradio_app_url(request, config, tiny_model_dir)  # started once; tests/test_examples.py calls it too
    answer = Client(url, verbose=False).predict(question, api_name="/chat")
    assert [answer] == expected


def test_templates_fail_loudly_on_a_missing_value_or_leftover_jinja(tmp_path):
    from scripts.errors import UserError

    source = tmp_path / "template"
    source.mkdir()
    (source / "page.html.j2").write_text("<p>{{ title }} {{ nope }}</p>")
    (source / "logo.bin").write_bytes(b"\x00{{ not a template }}\xff")
    with pytest.raises(UserError, match=r"page\.html\.j2: 'nope' is undefined"):
        space.render_tree(source, tmp_path / "out", {"title": "x"})

    (source / "page.html.j2").write_text("<p>{{ title }}</p>")
    space.render_tree(source, tmp_path / "out2", {"title": "What does {% raw %} do in {{ Jinja }}?"})
    assert (tmp_path / "out2" / "logo.bin").read_bytes() == b"\x00{{ not a template }}\xff"  # copied as is
    # a value is text, written as it is (an eval question about Jinja, a limitation that says {{name}})
    assert (tmp_path / "out2" / "page.html").read_text() == "<p>What does {% raw %} do in {{ Jinja }}?</p>"

    (source / "page.html.j2").write_text("<p>{{ title }}</p>\n<p>{% raw %}{{ oops }}{% endraw %}</p>")
    with pytest.raises(UserError, match=r"page\.html\.j2: the rendered page\.html still has Jinja syntax on line 2: '<p>\{\{ oops \}\}</p>'"):
        space.render_tree(source, tmp_path / "out3", {"title": "x"})


def test_static_space_sends_the_isolation_headers(static_space):
    """custom_headers in the Space's README (the Spaces config reference allows them); the preview sends the same."""
    header = front_matter((static_space.parent / "results" / "space" / "README.md").read_text())
    assert header["custom_headers"] == {
        "cross-origin-embedder-policy": "require-corp", "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "cross-origin",
    }  # fmt: skip
    assert header["custom_headers"] == space.ISOLATION_HEADERS


@needs_chromium
def test_with_the_headers_the_page_is_isolated_and_wllama_uses_several_threads(static_space):
    pytest.importorskip("websocket", reason="websocket-client is not installed: pip install -r requirements.txt")
    from space_helpers import threads_on_static_page

    isolated = threads_on_static_page(static_space.parent, CHROMIUM, isolated=True)
    assert isolated["isolated"] is True and isolated["threads"] == 2, isolated  # half of 4 cores
    assert "2 threads" in isolated["status"]
    plain = threads_on_static_page(static_space.parent, CHROMIUM, isolated=False)
    assert plain["isolated"] is False and plain["threads"] == 1, plain
