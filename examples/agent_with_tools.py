"""A small agent that uses your tuned model as one tool among others, through an OpenAI-compatible endpoint.

    make serve                                   # in one terminal: the exported model on http://127.0.0.1:8000/v1
    python examples/agent_with_tools.py          # in another: asks its demo questions, saves a transcript
    python examples/agent_with_tools.py "What is 17 * 23?" "Which river forms Namibia's northern border?"

Each question goes to one tool: arithmetic to a calculator, "what is the date" to the clock, and
everything else to the tuned Namibia model, asked with the standard `openai` client pointed at the
local server, the way apps and agent frameworks call hosted models. Point --base-url at any other
OpenAI-compatible server (llama.cpp's llama-server, Ollama's /v1, LM Studio) to use it instead.

The transcript (every question, the tool chosen and its answer) goes to
results/integration/transcript.json: commit it with your results; the rubric's Integration
criterion reads it as evidence that an app used your exported model. It also records what the
model was made from (the adapter's sha256, from outputs/export/export.json beside the served
folder: run this from the project folder), so the rubric counts it only while that is still the
current export; after you train and export again, run this again.
Needs: pip install openai
"""

from __future__ import annotations

import argparse
import ast
import datetime
import json
import operator
import re
import sys
import time
from pathlib import Path

from openai import APIConnectionError, OpenAI

DEMO_QUESTIONS = [
    "Which city is the seat of Namibia's central government?",
    "What is 365 * 24?",
    "What is the date today?",
    "Name the coastal desert that is often described as one of the oldest on Earth.",
]
MODEL_TOOL = "tuned model"


def parse_arguments():
    parser = argparse.ArgumentParser(description="Route questions to a calculator, a clock or the tuned model.")
    parser.add_argument("questions", nargs="*", help="questions to ask, in quotes (default: four demo questions)")
    parser.add_argument("--base-url", default="http://127.0.0.1:8000/v1", help="the OpenAI-compatible endpoint (default: make serve's)")
    parser.add_argument("--model", help="model name to ask for (default: the first one the server lists)")
    parser.add_argument("--max-tokens", type=int, default=48, help="longest answer in tokens (default 48, like the evaluation)")
    parser.add_argument("--transcript", default="results/integration/transcript.json", help="where to save the transcript")
    return parser.parse_args()


# ---------------------------------------------------------------- the tools


def calculator(question: str) -> str:
    """Arithmetic with + - * / and brackets, evaluated safely (no Python code runs)."""
    expression = arithmetic_in(question)
    return format(_evaluate(ast.parse(expression, mode="eval").body), "g")


def arithmetic_in(question: str) -> str | None:
    # numbers joined by + - * / (brackets allowed): "365 * 24", "(2 + 3) / 4"
    match = re.search(r"[(\s]*-?\d[\d.]*(?:[\s)]*[-+*/][\s(]*-?\d[\d.]*)+\)*", question)
    return match.group(0).strip() if match else None


_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _evaluate(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand)
    raise ValueError("not plain arithmetic")


def clock(question: str) -> str:
    return datetime.date.today().strftime("Today is %A, %d %B %Y.")


class TunedModel:
    """The tuned model behind the endpoint, asked with the standard openai client."""

    def __init__(self, base_url: str, model: str | None, max_tokens: int):
        # A local server needs no key, but the client insists on one.
        self.client = OpenAI(base_url=base_url, api_key="not-needed")
        self.model = model or self.client.models.list().data[0].id
        self.max_tokens = max_tokens

    def __call__(self, question: str) -> str:
        reply = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "user", "content": question}],
            temperature=0,  # greedy: the same answer every time, like the evaluation
            max_tokens=self.max_tokens,
        )
        return reply.choices[0].message.content.strip()


# ---------------------------------------------------------------- the agent


def choose_tool(question: str) -> str:
    """The router: simple rules here; a bigger agent would let a model choose from the tools' descriptions."""
    if arithmetic_in(question):
        return "calculator"
    if re.search(r"\b(date|day is it)\b", question, re.IGNORECASE):
        return "clock"
    return MODEL_TOOL


def answer_all(questions: list[str], model: TunedModel) -> list[dict]:
    tools = {"calculator": calculator, "clock": clock, MODEL_TOOL: model}
    turns = []
    for question in questions:
        tool = choose_tool(question)
        started = time.perf_counter()
        answer = tools[tool](question)
        turns.append({"question": question, "tool": tool, "answer": answer, "seconds": round(time.perf_counter() - started, 2)})
        print(f"Q: {question}\n   [{tool}] {answer}")
    return turns


def served_export(model: str) -> dict:
    """What export recorded about the served folder (outputs/export/export.json beside outputs/export/merged)."""
    record = Path(model).parent / "export.json"
    if not record.is_file():
        print(f"note: no {record} here, so the transcript cannot say which export answered; run this from the project folder.")
        return {}
    export = json.loads(record.read_text(encoding="utf-8"))
    return {"adapter_sha256": export.get("adapter_sha256"), "gguf_sha256": (export.get("gguf") or {}).get("sha256")}


def save_transcript(path: Path, base_url: str, model: str, turns: list[dict]) -> None:
    transcript = {
        "app": "examples/agent_with_tools.py",
        "endpoint": base_url,
        "model": model,
        **served_export(model),  # the rubric counts the transcript only while this is the current export
        "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "turns": turns,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(transcript, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"Transcript: {path}")


if __name__ == "__main__":
    args = parse_arguments()
    try:
        tuned = TunedModel(args.base_url, args.model, args.max_tokens)
    except APIConnectionError:
        print(f"error: no model server answers at {args.base_url}; start one with `make serve` (after export), then try again.", file=sys.stderr)
        sys.exit(2)
    turns = answer_all(args.questions or DEMO_QUESTIONS, tuned)
    save_transcript(Path(args.transcript), args.base_url, tuned.model, turns)
