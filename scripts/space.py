"""Render the demo Space from template/ into results/space/, and record it in results/manifest.json.

    python -m scripts space             # [publish] space_kind; static (default) needs `card`, then `export`, first
    python -m scripts space --preview   # static: then serve the page on http://127.0.0.1:8000 until Ctrl+C

Reads project.toml, template/space-<kind>/ (the project's own, else the one beside these scripts), the
first eval questions (as examples to click) and, for the static page, outputs/export/export.json. Files
ending in .j2 are rendered with Jinja (StrictUndefined: a missing value is an error) and saved without
.j2; every other file is copied byte for byte. Warns when results/manifest.json does not list the GGUF
file the static page loads. The two kinds, the browser page and why its model file lives in the model
repo: docs/design.md, "The demo Space".
"""

from __future__ import annotations

import json
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from .files import replace_folder
from .errors import EXIT_OK, UserError
from .templating import leftover_syntax

SPACE_DIR = "results/space"
WLLAMA_VERSION = "3.8.1"
CONTEXT_LENGTH = 2048  # tokens the page keeps in memory: a question and its answer fit easily
PLACEHOLDER_OWNER = "your-username"
EXAMPLE_QUESTIONS = 3


def add_arguments(parser) -> None:
    parser.add_argument(
        "--preview", action="store_true",
        help="static Space: then serve the page and the exported model on http://127.0.0.1:PORT until Ctrl+C",
    )
    parser.add_argument("--port", type=int, default=8000, help="port for --preview (default 8000)")


def main(cfg, args) -> int:
    kind = cfg.publish.space_kind
    source = template_folder(cfg, kind)
    context = space_context(cfg, kind)
    target = cfg.path(SPACE_DIR)
    render_into_place(source, target, context)
    record_in_manifest(cfg, target, kind)
    print_summary(cfg, target, kind, context)
    if kind == "static":
        warn_unless_published(cfg, exported_gguf(cfg))
    if args.preview:
        preview(cfg, target, kind, context, args.port)
    return EXIT_OK


# ---------------------------------------------------------------- what goes into the templates


def template_folder(cfg, kind: str) -> Path:
    """The project's template/space-<kind>/, else the copy that ships beside these scripts."""
    for root in (cfg.root, Path(__file__).resolve().parents[1]):
        folder = root / "template" / f"space-{kind}"
        if folder.is_dir():
            return folder
    raise UserError(f"template/space-{kind}: folder not found; restore it from the template repository.")


def space_context(cfg, kind: str) -> dict:
    """Every value the templates use; both kinds get the same names where they overlap."""
    model_repo = model_repo_id(cfg)
    description = cfg.project.description.strip() or f"A fine-tuned {cfg.model.base} (LoRA)."
    context = {
        "title": cfg.project.name,
        "description": description,
        "short_description": _shorten(description, 60),  # the Hub allows 60 characters
        "language": (cfg.project.languages or ["en"])[0],
        "license": cfg.project.license,
        "base_model": cfg.model.base,
        "base_revision": cfg.model.revision,
        "model_repo": model_repo,
        "max_new_tokens": cfg.evaluate.max_new_tokens,
        "examples": example_questions(cfg),
        "intended_use": cfg.card.intended_use.strip() or "Not written yet: fill in [card] intended_use in project.toml.",
        "out_of_scope_use": cfg.card.out_of_scope_use.strip() or "Not written yet: fill in [card] out_of_scope_use.",
        "limitations": cfg.card.limitations.strip() or "Not written yet: fill in [card] limitations in project.toml.",
    }
    if kind == "static":
        context |= static_context(cfg, model_repo)
    else:
        context |= gradio_context(description)
    return context


def model_repo_id(cfg) -> str:
    """The model repo the Space loads from; a placeholder until [project] hub_owner is set."""
    from .manifest import repo_ids

    return repo_ids(cfg)["model"] or f"{PLACEHOLDER_OWNER}/{cfg.project.name}"


# The static Space's response headers (its README's custom_headers; the preview server sends the same).
# COOP + COEP make the page cross-origin isolated, the browser's condition for SharedArrayBuffer, without
# which wllama runs llama.cpp on one thread. require-corp still lets the page fetch the model from the Hub
# (a CORS request); cross-origin-resource-policy lets the Hub page embed the Space in its iframe.
ISOLATION_HEADERS = {
    "cross-origin-embedder-policy": "require-corp",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "cross-origin",
}


def static_context(cfg, model_repo: str) -> dict:
    """What the browser page needs: where the GGUF file is and how big it is (from outputs/export/export.json)."""
    gguf = exported_gguf(cfg)
    model_url = f"https://huggingface.co/{model_repo}/resolve/main/{gguf['file']}"
    size = f"{gguf['size'] / 1e6:.0f} MB"
    return {
        "gguf_file": gguf["file"],
        "model_size": size,
        "wllama_version": WLLAMA_VERSION,
        "custom_headers": ISOLATION_HEADERS,
        "space_config": {
            "model_url": model_url,
            "model_size": size,
            "context_length": CONTEXT_LENGTH,
            "max_new_tokens": cfg.evaluate.max_new_tokens,
        },
    }


def exported_gguf(cfg) -> dict:
    report = cfg.step_dir("export") / "export.json"
    if not report.is_file():
        raise UserError(
            f"{_shown(cfg, report)}: not found; the static Space runs the exported GGUF file in the browser, "
            "so run `python -m scripts export` first."
        )
    gguf = json.loads(report.read_text(encoding="utf-8")).get("gguf")
    if not gguf:
        raise UserError(
            f"{_shown(cfg, report)}: the export has no GGUF file (made with --no-gguf?); "
            "run `python -m scripts export` without --no-gguf."
        )
    return gguf


def gradio_context(description: str) -> dict:
    return {
        "gradio_description": description + " Each question is answered on its own. A small model: check its answers.",
        "versions": {name: _installed_version(name) for name in ("gradio", "torch", "transformers", "peft", "accelerate")},
    }


def example_questions(cfg) -> list[str]:
    """A few held-out questions to click on: the page shows honestly how the model does on unseen ones."""
    from .data import load_split

    try:
        examples = load_split(cfg, "eval")[:EXAMPLE_QUESTIONS]
    except UserError:
        return []
    return [example.prompt_messages[-1]["content"] for example in examples]


def _installed_version(package: str) -> str:
    try:
        return metadata.version(package).split("+")[0]  # "2.13.0+cpu" -> "2.13.0": the Hub installs its own build
    except metadata.PackageNotFoundError:
        raise UserError(f"{package} is not installed, but the Gradio Space pins its version; run `make setup`.") from None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


# ---------------------------------------------------------------- rendering


def render_into_place(source: Path, target: Path, context: dict) -> None:
    """Render `source` into a temporary folder beside `target`, check it, then swap it in."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        render_tree(source, partial, context)
        partial.chmod(0o755)
        replace_folder(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def render_tree(source: Path, target: Path, context: dict) -> None:
    """Render every *.j2 file (dropping the suffix) and copy every other file as is."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(source),
        undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        keep_trailing_newline=True,
    )
    for path in sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        relative = path.relative_to(source)
        out = target / relative
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".j2":
            out = out.with_suffix("")
            try:
                template = environment.get_template(relative.as_posix())
                text = template.render(**context)
            except jinja2.UndefinedError as error:
                raise UserError(f"{path}: {error.message}; the template uses a value the space step does not provide.") from None
            leftover = leftover_syntax(template, context)  # a value may hold "{{" (an eval question about Jinja, say)
            if leftover:
                raise UserError(f"{path}: the rendered {out.name} still has Jinja syntax on line {leftover[0]}: {leftover[1][:80]!r}; check the template's tags.")
            out.write_text(text, encoding="utf-8")
        else:
            shutil.copyfile(path, out)
        out.chmod(0o644)


# ---------------------------------------------------------------- trying it locally


def preview_server(space_dir: Path, model_dir: Path, port: int = 0, isolated: bool = True):
    """A web server on 127.0.0.1 for the rendered Space: the page at /, the exported model files at /model/.

    Port 0 picks a free port (read it from `server.server_address[1]`). Call `serve_forever()` to run it.
    isolated: send ISOLATION_HEADERS like the Space does (False: as a plain host would, one thread).
    """
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class PreviewHandler(SimpleHTTPRequestHandler):
        extensions_map = {
            **SimpleHTTPRequestHandler.extensions_map,
            ".wasm": "application/wasm",  # browsers compile WebAssembly only when it is served with this type
            ".js": "text/javascript",
            ".gguf": "application/octet-stream",
        }

        def translate_path(self, path):
            if path.startswith("/model/"):
                self.directory, path = str(model_dir), path[len("/model") :]
            else:
                self.directory = str(space_dir)
            return super().translate_path(path)  # keeps the standard checks against ../ tricks

        def end_headers(self):
            for name, value in (ISOLATION_HEADERS.items() if isolated else ()):
                self.send_header(name, value)
            super().end_headers()

        def log_message(self, format, *args):
            pass  # quiet: the page's own status line says what is happening

    return ThreadingHTTPServer(("127.0.0.1", port), PreviewHandler)


def preview(cfg, target: Path, kind: str, context: dict, port: int) -> None:
    if kind != "static":
        print(f"--preview serves the static page; for the Gradio app run `python app.py` in {_shown(cfg, target)}.")
        return
    server = preview_server(target, cfg.step_dir("export"), port)
    url = f"http://127.0.0.1:{server.server_address[1]}/?model=/model/{context['gguf_file']}"
    print(f"\nPreview (this computer only): {url}\nPress Ctrl+C to stop.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# ---------------------------------------------------------------- manifest and summary


def record_in_manifest(cfg, target: Path, kind: str) -> None:
    from .manifest import record_tree, repo_ids

    record_tree(cfg, "space", target, repo_ids(cfg)["space"], repo_type="space", space_sdk=kind)


def warn_unless_published(cfg, gguf: dict) -> None:
    """The page loads the GGUF file from the model repo: say so when publish would not upload this one."""
    from .manifest import read_manifest

    model = read_manifest(cfg)["repos"].get("model") or {}
    listed = {item["path"]: item["sha256"] for item in (model.get("derived") or {}).get("files", [])}
    if listed.get(gguf["file"]) == gguf["sha256"]:
        return
    print(
        f"warning: results/manifest.json does not list this {gguf['file']} for the model repo, so publish would not "
        "upload it and the published page could not load its model. Run `python -m scripts card`, then "
        "`python -m scripts export` (it exports results/model and records the file), then this step again."
    )


def print_summary(cfg, target: Path, kind: str, context: dict) -> None:
    files = sorted(p for p in target.rglob("*") if p.is_file())
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"Space ({kind}): {_shown(cfg, target)}/ ({len(files)} files, {size_mb:.1f} MB); recorded in results/manifest.json")
    if kind == "static":
        print(f"The page loads {context['gguf_file']} ({context['model_size']}) from {context['space_config']['model_url']}")
        print("Try the page on this computer before publishing: python -m scripts space --preview")
    else:
        print("Run it here: python app.py in that folder (BASE_MODEL and ADAPTER may name local folders).")
    if context["model_repo"].startswith(PLACEHOLDER_OWNER + "/"):
        print(f"note: [project] hub_owner is empty, so the Space points at {context['model_repo']}; set it before you publish.")


def _shown(cfg, path: Path) -> str:
    try:
        return path.resolve().relative_to(cfg.root.resolve()).as_posix()
    except ValueError:
        return str(path)
