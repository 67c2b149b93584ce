"""The chat prompt formats of common model families, for apps that cannot run a Jinja chat template (Ollama).

A Hugging Face tokenizer formats a chat with its Jinja chat template; Ollama's Modelfile wants a Go
text/template instead, and no converter covers every template. So each family's format is written here
once as plain pieces (what comes before and after a user turn, an answer, a system prompt), and
`matching_format` picks the format whose pieces reproduce the tokenizer's own prompts exactly, on a
one-turn and a multi-turn chat. The Go template is built from the same pieces, so what was compared is
what Ollama gets. The pieces come from the families' published chat templates (their tokenizer_config.json
files, also kept in llama.cpp's models/templates/).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptFormat:
    """One family's chat format as the text around each turn."""

    name: str
    user: tuple[str, str]
    """Text before and after a user turn."""
    assistant: tuple[str, str]
    """Text before and after an answer in the chat history."""
    generation_prompt: str
    """What follows the last user turn, where the model starts writing."""
    stop: str
    """The token that ends an answer."""
    system: tuple[str, str] | None = None
    """Text before and after a system prompt; None when the family has no system role."""

    def render(self, messages: list[dict], system: str = "") -> str:
        """The prompt text, exactly as the Go template below writes it."""
        text = f"{self.system[0]}{system}{self.system[1]}" if system and self.system else ""
        for message in messages:
            before, after = {"user": self.user, "assistant": self.assistant}[message["role"]]
            text += f"{before}{message['content']}{after}"
        return text + self.generation_prompt

    def go_template(self) -> str:
        """The same prompt in Go text/template syntax, for an Ollama Modelfile (no {{- trimming: it would eat newlines)."""
        system = f"{{{{ if .System }}}}{self.system[0]}{{{{ .System }}}}{self.system[1]}{{{{ end }}}}" if self.system else ""
        turns = (
            f'{{{{ range .Messages }}}}{{{{ if eq .Role "user" }}}}{self.user[0]}{{{{ .Content }}}}{self.user[1]}'
            f'{{{{ else if eq .Role "assistant" }}}}{self.assistant[0]}{{{{ .Content }}}}{self.assistant[1]}{{{{ end }}}}{{{{ end }}}}'
        )
        return system + turns + self.generation_prompt


FORMATS = (
    # SmolLM2, Qwen 2.5 and 3, and many others (Qwen3 adds an empty <think></think> block only to answers it was
    # trained on, never to the prompt).
    PromptFormat(
        "ChatML",
        user=("<|im_start|>user\n", "<|im_end|>\n"),
        assistant=("<|im_start|>assistant\n", "<|im_end|>\n"),
        generation_prompt="<|im_start|>assistant\n",
        stop="<|im_end|>",
        system=("<|im_start|>system\n", "<|im_end|>\n"),
    ),
    # Gemma 2 and 3: the answer's role is "model", and Gemma 2 has no system role.
    PromptFormat(
        "Gemma",
        user=("<start_of_turn>user\n", "<end_of_turn>\n"),
        assistant=("<start_of_turn>model\n", "<end_of_turn>\n"),
        generation_prompt="<start_of_turn>model\n",
        stop="<end_of_turn>",
    ),
    # Phi-3, Phi-3.5 and Phi-4-mini.
    PromptFormat(
        "Phi-3",
        user=("<|user|>\n", "<|end|>\n"),
        assistant=("<|assistant|>\n", "<|end|>\n"),
        generation_prompt="<|assistant|>\n",
        stop="<|end|>",
        system=("<|system|>\n", "<|end|>\n"),
    ),
    # Mistral's [INST] format as its v3 (Tekken) tokenizers write it: Mistral Nemo, Ministral, Mistral Small.
    PromptFormat(
        "Mistral [INST]",
        user=("[INST]", "[/INST]"),
        assistant=("", "</s>"),
        generation_prompt="",
        stop="</s>",
    ),
)

# Questions and an answer with no space at either end: some templates (Gemma's) trim the content.
_ONE_TURN = [{"role": "user", "content": "QUESTION"}]
_TWO_TURNS = [{"role": "user", "content": "FIRST"}, {"role": "assistant", "content": "ANSWER"}, {"role": "user", "content": "SECOND"}]


@dataclass(frozen=True)
class MatchedFormat:
    format: PromptFormat
    default_system: str
    """The system prompt the template adds when a chat has none ("" when it adds none)."""
    starts_with_bos: bool
    """The template writes the BOS token first; llama.cpp adds it itself (tokenizer.ggml.add_bos_token)."""


def matching_format(tokenizer) -> MatchedFormat | None:
    """The format that reproduces the tokenizer's chat template exactly, or None when none does."""
    one = _prompt(tokenizer, _ONE_TURN)
    two = _prompt(tokenizer, _TWO_TURNS)
    if one is None or two is None:
        return None
    readings = [(one, two, False)]  # the prompts as they are, and without a BOS token the template writes first
    bos = tokenizer.bos_token or ""
    if bos and one.startswith(bos) and two.startswith(bos):  # (SmolLM2's BOS is <|im_start|>: try both)
        readings.append((one[len(bos) :], two[len(bos) :], True))
    for candidate in FORMATS:
        if tokenizer.convert_tokens_to_ids(candidate.stop) in (None, tokenizer.unk_token_id):
            continue  # the format's stop marker is not one token of this vocabulary
        for first, second, starts_with_bos in readings:
            system = _default_system(candidate, first)
            if system is not None and candidate.render(_ONE_TURN, system) == first and candidate.render(_TWO_TURNS, system) == second:
                return MatchedFormat(candidate, system, starts_with_bos)
    return None


def _prompt(tokenizer, messages: list[dict]) -> str | None:
    try:
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    except Exception:  # a template may refuse a chat shape (jinja raise_exception); then no format matches
        return None


def _default_system(candidate: PromptFormat, prompt: str) -> str | None:
    """The system prompt a template put before the first user turn on its own; None when the text does not fit."""
    if prompt.startswith(candidate.user[0]):
        return ""
    if candidate.system and prompt.startswith(candidate.system[0]):
        rest = prompt[len(candidate.system[0]) :]
        end = rest.find(candidate.system[1] + candidate.user[0])
        return rest[:end] if end > 0 else None
    return None
