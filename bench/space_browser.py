"""The static Space in headless Chromium: tokens per second on one thread vs several, and f16 vs Q8_0.

    .venv/bin/python bench/space_browser.py                      # the project's export (outputs/export)
    .venv/bin/python bench/space_browser.py --config path/to/project.toml --questions 5 --cores 4

Needs a project where `export` and `space` have run (outputs/export, results/space) and Debian's
chromium. The page is served on 127.0.0.1 twice: without the Space's isolation headers (wllama
falls back to one thread) and with them (several threads), and the same eval questions are asked.
Then the merged model is converted to Q8_0 with llama.cpp's converter and run the same way: its
size, load time, tokens per second and how many greedy answers equal PyTorch's.
The browser is told the machine has --cores cores (wllama uses half): on a 2-core machine it would
otherwise pick one thread. Prints a table and a final `ratio:` line (multi-thread / single-thread).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the DevTools driver the browser tests use


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "project.toml"))
    parser.add_argument("--questions", type=int, default=5, help="eval questions to ask (default 5)")
    parser.add_argument("--cores", type=int, default=4, help="cores the browser reports (wllama uses half; default 4)")
    parser.add_argument("--no-q8", action="store_true", help="skip the Q8_0 comparison")
    return parser.parse_args()


def run_page(space_dir: Path, gguf: Path, questions: list[str], isolated: bool, cores: int) -> dict:
    """Load `gguf` on the page and ask every question; load time, threads, answers, tokens/s."""
    from scripts.space import preview_server
    from space_helpers import Browser, _ask, find_chromium

    server = preview_server(space_dir, gguf.parent, isolated=isolated)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Browser(find_chromium()) as browser:
            browser.send("Emulation.setHardwareConcurrencyOverride", hardwareConcurrency=cores)
            browser.open(f"http://127.0.0.1:{server.server_address[1]}/?model=/model/{gguf.name}")
            status = "document.getElementById('status')"
            started = time.perf_counter()
            browser.evaluate("document.getElementById('load-button').click()")
            browser.wait_for(f"{status}.dataset.state === 'ready'", 600, "the model to load")
            load_seconds = time.perf_counter() - started
            answers = [_ask(browser, question) for question in questions]
            speeds = browser.evaluate("[...document.querySelectorAll('.message.assistant')].map(m => Number(m.dataset.tokensPerSecond))")
            return {
                "threads": int(browser.evaluate(f"{status}.dataset.threads")),
                "load_seconds": load_seconds,
                "answers": answers,
                "tokens_per_second": sum(speeds) / len(speeds),
            }
    finally:
        server.shutdown()
        server.server_close()


def pytorch_answers(merged: Path, questions: list[str], max_new_tokens: int) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from scripts.generation import generate_answers

    tokenizer = AutoTokenizer.from_pretrained(merged)
    model = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32).eval()
    prompts = [[{"role": "user", "content": question}] for question in questions]
    return generate_answers(model, tokenizer, prompts, batch_size=1, max_new_tokens=max_new_tokens)


def q8_copy(export_dir: Path, into: Path) -> Path:
    from scripts.export import convert_to_gguf, converter_folder

    gguf = into / "model-q8_0.gguf"
    convert_to_gguf(converter_folder(), export_dir / "merged", gguf, "q8_0", "bench")
    return gguf


def main() -> int:
    args = parse_arguments()
    from scripts.config import load_settings
    from scripts.export import check_questions

    cfg = load_settings(args.config)
    export_dir = cfg.step_dir("export")
    space_dir = cfg.path("results/space")
    f16 = export_dir / json.loads((export_dir / "export.json").read_text())["gguf"]["file"]
    questions = check_questions(cfg, args.questions)
    reference = pytorch_answers(export_dir / "merged", questions, cfg.evaluate.max_new_tokens)

    rows = [("f16, no isolation headers", f16, run_page(space_dir, f16, questions, False, args.cores))]
    rows.append(("f16, with the Space's headers", f16, run_page(space_dir, f16, questions, True, args.cores)))
    scratch = Path(tempfile.mkdtemp(prefix="bench-q8-"))
    try:
        if not args.no_q8:
            q8 = q8_copy(export_dir, scratch)
            rows.append(("Q8_0, with the Space's headers", q8, run_page(space_dir, q8, questions, True, args.cores)))
        print("| page | file size | threads | load | tokens/s | greedy answers = PyTorch's |\n|---|---:|---:|---:|---:|---:|")
        for name, gguf, run in rows:
            same = sum(a == b for a, b in zip(run["answers"], reference))
            print(
                f"| {name} | {gguf.stat().st_size / 1e6:.0f} MB | {run['threads']} | {run['load_seconds']:.1f} s "
                f"| {run['tokens_per_second']:.1f} | {same} of {len(questions)} |"
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    single, multi = rows[0][2]["tokens_per_second"], rows[1][2]["tokens_per_second"]
    print(f"ratio: {multi / single:.2f}x tokens/s with several threads vs one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
