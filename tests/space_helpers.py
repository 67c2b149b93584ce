"""Helpers for the export, Space and examples tests: a tiny LoRA adapter, PyTorch reference answers,
a Gradio app started on 127.0.0.1, and a small headless-Chromium driver.

The browser is driven over the Chrome DevTools Protocol rather than with Selenium or Playwright:
it needs only Debian's `chromium` and the `websocket-client` package, and every step a test
takes (type, press Enter, read the page, take a screenshot) is one DevTools command below.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# ---------------------------------------------------------------- models


def make_tiny_adapter(model_dir: Path, adapter_dir: Path) -> Path:
    """A LoRA adapter with random (not zero) weights, so merging it visibly changes the answers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    config = LoraConfig(
        r=4, lora_alpha=8, init_lora_weights=False, task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )
    get_peft_model(model, config).save_pretrained(adapter_dir)
    return adapter_dir


def pytorch_answers(model_dir: Path, adapter_dir: Path, questions: list[str], max_new_tokens: int) -> list[str]:
    """The reference: greedy answers of base + adapter in PyTorch, one question at a time."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from scripts.generation import generate_answers

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, adapter_dir).eval()
    prompts = [[{"role": "user", "content": question}] for question in questions]
    return generate_answers(model, tokenizer, prompts, batch_size=1, max_new_tokens=max_new_tokens)


# ---------------------------------------------------------------- a Gradio app on this machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_gradio_app(app_dir: Path, base: Path, adapter: Path, timeout: float = 180):
    """Start the rendered app.py with `python app.py` on 127.0.0.1; yields its URL; stops it afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "BASE_MODEL": str(base),
        "ADAPTER": str(adapter),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
    }
    log = tempfile.TemporaryFile()
    process = subprocess.Popen([sys.executable, "app.py"], cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"app.py exited with code {process.returncode}:\n{log.read().decode()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "config", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"app.py did not answer on {url} within {timeout:.0f} s") from None
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


# ---------------------------------------------------------------- headless Chromium

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
    "--remote-debugging-port=0",
    # Chromium's own requests from a fresh profile that reach even a proxied browser context: the
    # search engine preconnect and the AI-mode eligibility check (www.google.com), autofill (a page with a form).
    "--disable-features=PreconnectToSearch,AimEnabled,AutofillServerCommunication",
]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class OutsideWorld:
    """The browser's proxy for every host but this computer: it records each request and refuses it (403).

    Chromium sends requests for 127.0.0.1 directly and everything else here, so `requests` lists every
    attempt to reach another site, whoever made it (the page, a worker, wllama).
    """

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[str] = []
        world = self

        class Refuse(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _refuse(self):
                world.requests.append(f"{self.command} {self.path}")
                self.send_error(403, "this test allows no request outside 127.0.0.1")

            do_CONNECT = do_GET = do_HEAD = do_POST = do_PUT = do_OPTIONS = _refuse

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
        self.proxy = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        return False


class Browser:
    """One headless Chromium with one tab; use it as a context manager.

    proxy: the tab gets a browser context of its own whose requests to other hosts than 127.0.0.1 go
    through this proxy (Chromium's own background requests, e.g. to Google, keep the default context).
    """

    def __init__(self, executable: str, proxy: str | None = None):
        import websocket  # websocket-client

        self.profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
        self.process = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = self._devtools_port()
        self.ids = itertools.count(1)
        self.browser_socket = None
        if proxy:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=10) as response:
                address = json.load(response)["webSocketDebuggerUrl"]
            self.browser_socket = self.socket = websocket.create_connection(address, timeout=60, suppress_origin=True)
            context = self.send("Target.createBrowserContext", proxyServer=proxy)["browserContextId"]
            target = self.send("Target.createTarget", url="about:blank", browserContextId=context)["targetId"]
            address = f"ws://127.0.0.1:{port}/devtools/page/{target}"  # the browser socket stays open: it owns the context
        else:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=10) as response:
                address = next(target for target in json.load(response) if target["type"] == "page")["webSocketDebuggerUrl"]
        self.socket = websocket.create_connection(address, timeout=60, suppress_origin=True)
        self.console: list[str] = []
        self.send("Runtime.enable")
        self.send("Page.enable")

    def _devtools_port(self, timeout: float = 30) -> int:
        # Chromium writes the port it chose into the profile folder once it listens.
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.is_file() and marker.read_text().strip():
                return int(marker.read_text().splitlines()[0])
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with code {self.process.returncode}")
            time.sleep(0.1)
        raise TimeoutError("chromium did not open its DevTools port")

    def send(self, method: str, **params):
        """Send one DevTools command and return its result (console messages are kept on the way)."""
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("method") == "Runtime.consoleAPICalled":
                args = message["params"]["args"]
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif message.get("method") == "Runtime.exceptionThrown":
                self.console.append(message["params"]["exceptionDetails"].get("exception", {}).get("description", "error"))
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'", timeout=30)

    def wait_for(self, expression: str, timeout: float, what: str = ""):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.2)
        recent = "\n".join(self.console[-10:])
        raise TimeoutError(f"waited {timeout:.0f} s for {what or expression}; last console messages:\n{recent}")

    def type_text(self, text: str) -> None:
        self.send("Input.insertText", text=text)

    def press_enter(self) -> None:
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            self.socket.close()
            if self.browser_socket:
                self.browser_socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ---------------------------------------------------------------- one exported tiny project per test session

_EXPORTED: dict[str, Path] = {}


def exported_tiny_project(tmp_path_factory, tiny_model_dir: Path) -> Path:
    """A project on the tiny model with a random adapter, exported once per test session (it takes a while).

    Returns its project.toml. Tests that write into a project copy it first with `copy_project`.
    """
    if "project" not in _EXPORTED:
        from conftest import make_project, run_cli

        config = make_project(tmp_path_factory.mktemp("exported"), tiny_model_dir)
        make_tiny_adapter(tiny_model_dir, config.parent / "outputs" / "train" / "adapter")
        result = run_cli("export", "--config", str(config))
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        _EXPORTED["project"] = config
        _EXPORTED["stdout"] = result.stdout
    return _EXPORTED["project"]


def export_stdout() -> str:
    return _EXPORTED["stdout"]


def copy_project(config: Path, into: Path) -> Path:
    """A private copy of a project folder (datasets, outputs, results); returns the copy's project.toml."""
    shutil.copytree(config.parent, into, dirs_exist_ok=True)
    return into / config.name


def gradio_space_project(tmp_path_factory, exported_config: Path) -> Path:
    """A copy of the exported project with the Gradio Space rendered into results/space (once per session)."""
    if "gradio" not in _EXPORTED:
        from conftest import run_cli, set_values

        config = copy_project(exported_config, tmp_path_factory.mktemp("gradio-space"))
        set_values(config, "publish", space_kind="gradio")
        result = run_cli("space", "--config", str(config))
        assert result.returncode == 0, result.stderr[-3000:]
        _EXPORTED["gradio"] = config
    return _EXPORTED["gradio"]


def gradio_app_url(request, config: Path, base: Path) -> str:
    """The rendered app.py of `config`, running on 127.0.0.1 until the test session ends (started once)."""
    if "gradio_url" not in _EXPORTED:
        stack = contextlib.ExitStack()
        app = config.parent / "results" / "space"
        adapter = config.parent / "outputs" / "train" / "adapter"
        _EXPORTED["gradio_url"] = stack.enter_context(running_gradio_app(app, base, adapter))
        request.config.add_cleanup(stack.close)
    return _EXPORTED["gradio_url"]


# ---------------------------------------------------------------- the static page, asked for real


@dataclass
class PageRun:
    answers: list[str]
    outside_requests: list[str]
    """Every request the browser tried to send anywhere but the page's own server on 127.0.0.1."""
    console: list[str]
    fetched: list[str]
    """The URLs the page itself fetched (its workers' fetches are not listed here)."""


def answers_from_static_page(
    project: Path, questions: list[str], screenshot: Path, chromium: str, *, like_safari: bool = False
) -> PageRun:
    """Serve results/space and outputs/export of `project` on 127.0.0.1, load the model in headless
    Chromium, type each question and press Enter; returns the page's answers (and every request that
    tried to leave 127.0.0.1) and saves a screenshot.

    like_safari: hide WebAssembly JSPI from the page, as Safari lacks it, so wllama runs its compat build.
    """
    import threading

    from scripts.space import preview_server

    gguf = json.loads((project / "outputs" / "export" / "export.json").read_text())["gguf"]["file"]
    server = preview_server(project / "results" / "space", project / "outputs" / "export")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with OutsideWorld() as outside, Browser(chromium, proxy=outside.proxy) as browser:
            if like_safari:
                browser.send("Page.addScriptToEvaluateOnNewDocument", source="delete WebAssembly.Suspending;")
            _load_model(browser, server, gguf)
            answers = [_ask(browser, question) for question in questions]
            browser.screenshot(screenshot)
            fetched = browser.evaluate("performance.getEntriesByType('resource').map(entry => entry.name)")
            return PageRun(answers, list(outside.requests), list(browser.console), fetched)
    finally:
        server.shutdown()
        server.server_close()


def _load_model(browser: "Browser", server, gguf: str) -> str:
    """Open the static page served by `server`, press Load and wait until the model is ready; the status element."""
    browser.open(f"http://127.0.0.1:{server.server_address[1]}/?model=/model/{gguf}")
    browser.evaluate("document.getElementById('load-button').click()")
    status = "document.getElementById('status')"
    state = browser.wait_for(f"['ready', 'error'].includes({status}.dataset.state) && {status}.dataset.state", 300, "the model to load")
    assert state == "ready", browser.evaluate(f"{status}.textContent")
    return status


def _ask(browser: "Browser", question: str) -> str:
    count = browser.evaluate("document.querySelectorAll('.message.assistant').length")
    browser.evaluate("document.getElementById('question').focus()")
    browser.type_text(question)
    browser.press_enter()
    last = f"document.querySelectorAll('.message.assistant')[{count}]"
    state = browser.wait_for(f"{last} && {last}.dataset.state !== 'thinking' && {last}.dataset.state", 300, "an answer")
    text = browser.evaluate(f"{last}.textContent")
    assert state == "done", text
    return text


def threads_on_static_page(project: Path, chromium: str, *, isolated: bool, cores: int = 4) -> dict:
    """Load the model on the static page served with or without the Space's isolation headers, on a
    browser that reports `cores` processor cores; returns crossOriginIsolated and wllama's thread count."""
    import threading

    from scripts.space import preview_server

    gguf = json.loads((project / "outputs" / "export" / "export.json").read_text())["gguf"]["file"]
    server = preview_server(project / "results" / "space", project / "outputs" / "export", isolated=isolated)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Browser(chromium) as browser:
            # wllama uses half the cores it is told about; the test machine may have only 2.
            browser.send("Emulation.setHardwareConcurrencyOverride", hardwareConcurrency=cores)
            status = _load_model(browser, server, gguf)
            return {
                "isolated": browser.evaluate("window.crossOriginIsolated"),
                "threads": int(browser.evaluate(f"{status}.dataset.threads")),
                "status": browser.evaluate(f"{status}.textContent"),
            }
    finally:
        server.shutdown()
        server.server_close()
