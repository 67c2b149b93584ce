"""Serve the exported model on an OpenAI-compatible chat endpoint, for apps on this computer.

    python -m scripts serve                 # after export; or `make serve`
    python -m scripts serve --port 8080

Most apps and agent frameworks talk to a model through the OpenAI chat API. This step starts
transformers' own server (`transformers serve`) on outputs/export/merged, the tuned model that
export wrote, and prints the base URL to give an app:

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="not-needed")

examples/agent_with_tools.py is such an app; examples/chat_with_curl.sh asks with plain HTTP.
Stop the server with Ctrl+C. It listens on 127.0.0.1 only (this computer), not the network.

Why transformers' server: it is installed with transformers and needs only the `openai` package
besides, and it answers exactly like the evaluation (same library, greedy with temperature 0).
llama.cpp's server (llama-cpp-python[server]) serves the GGUF file faster, but PyPI has no wheel
for it: pip compiles llama.cpp, which took 37 minutes on a 2-core machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .errors import UserError

SERVED_FOLDER = "merged"  # inside outputs/export: the model export writes for apps


def add_arguments(parser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this computer only)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")


def main(cfg, args) -> int:
    model = served_model(cfg)
    command = server_command(model, args.host, args.port)
    print(f"OpenAI-compatible endpoint: http://{args.host}:{args.port}/v1   model: {model}")
    print("Ask it: python examples/agent_with_tools.py   (stop the server with Ctrl+C)", flush=True)
    # cwd is the project folder, so the model's name is the short relative path printed above.
    if os.name == "posix":
        # The server replaces this process, so Ctrl+C or a kill reaches it directly (no orphan left running).
        os.chdir(cfg.root)
        os.execv(command[0], command)
    try:
        return subprocess.run(command, cwd=cfg.root).returncode
    except KeyboardInterrupt:
        return 0


def served_model(cfg) -> str:
    """outputs/export/merged, relative to the project folder; a clear error when export has not run."""
    folder = cfg.step_dir("export") / SERVED_FOLDER
    if not (folder / "config.json").is_file():
        raise UserError(f"{folder}: no exported model (config.json missing); run `python -m scripts export` first.")
    try:
        return folder.resolve().relative_to(cfg.root.resolve()).as_posix()
    except ValueError:  # outputs kept outside the project folder
        return str(folder.resolve())


def server_command(model: str, host: str, port: int) -> list[str]:
    """`transformers serve`, from the same environment as this Python, with the model loaded once at start."""
    executable = shutil.which("transformers", path=str(Path(sys.executable).parent)) or shutil.which("transformers")
    if executable is None:
        raise UserError("the `transformers` command is not installed; run `make setup` (or pip install -r requirements.txt).")
    # --device cpu: the same numbers as the evaluation on this computer; float32 like the export's checks.
    return [executable, "serve", model, "--host", host, "--port", str(port), "--device", "cpu", "--dtype", "float32"]
