"""Chat prompts and replies: tokenizing an answer after its prompt, and letting a model write replies in batches.

Greedy decoding (temperature 0) gives the model's single most likely reply, the same on every
run: what an evaluation needs. Sampling (temperature above 0) gives several different replies
to one prompt: what proposing new phrasings needs.
"""

from __future__ import annotations

from typing import Callable


def generate_answers(
    model,
    tokenizer,
    prompts: list[list[dict]],
    batch_size: int,
    max_new_tokens: int,
    samples: int = 1,
    temperature: float = 0.0,
    on_batch: Callable[[int], None] | None = None,
) -> list[str]:
    """`samples` replies per prompt, grouped by prompt, batched with left padding (so every prompt ends
    where generation starts). `on_batch(n)` is called after each batch of n prompts, for a progress bar."""
    import torch

    if samples > 1 and temperature <= 0:
        raise ValueError("greedy decoding gives one reply per prompt; use a temperature above 0 for several")
    sampling = {"do_sample": True, "temperature": temperature, "num_return_sequences": samples} if temperature > 0 else {"do_sample": False}
    previous_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    replies = []
    try:
        for first in range(0, len(prompts), batch_size):
            chunk = prompts[first : first + batch_size]
            texts = [tokenizer.apply_chat_template(p, add_generation_prompt=True, tokenize=False) for p in chunk]
            batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            with torch.no_grad():
                if temperature <= 0 and plain_greedy(model):
                    new_tokens = greedy_tokens(model, batch, max_new_tokens, stop_token_ids(model, tokenizer), tokenizer.pad_token_id)
                else:
                    output = model.generate(
                        **batch,
                        max_new_tokens=max_new_tokens,
                        pad_token_id=tokenizer.pad_token_id,
                        eos_token_id=stop_token_ids(model, tokenizer),
                        **sampling,
                    )
                    new_tokens = output[:, batch["input_ids"].shape[1] :]  # rows come grouped by prompt
            replies += [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
            if on_batch:
                on_batch(len(chunk))
    finally:
        tokenizer.padding_side = previous_side
    return replies


# generation_config.json settings that leave greedy decoding a plain argmax; any other (a repetition penalty,
# a minimum length, a static cache) goes through HF generate, which applies it.
PLAIN_GREEDY_SETTINGS = {
    "bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id", "use_cache", "output_attentions",
    "output_hidden_states", "return_dict_in_generate", "do_sample", "temperature", "top_k", "top_p", "min_p",
    "typical_p", "max_length", "max_new_tokens", "_from_model_config", "transformers_version",
}


def plain_greedy(model) -> bool:
    """True when the model's generation settings add nothing to greedy decoding that greedy_tokens would miss."""
    config = getattr(model, "generation_config", None)
    return config is None or set(config.to_diff_dict()) <= PLAIN_GREEDY_SETTINGS


def greedy_tokens(model, batch, max_new_tokens: int, stop_ids: list[int], pad_id: int):
    """The tokens HF generate writes greedily for a left-padded batch, each row padded with pad_id after its stop token.

    Why a loop of our own: HF generate keeps computing every row until the longest one ends (a tuned model's
    answers end after about half of the base model's), so here a row that wrote a stop token leaves the batch
    and the KV cache. Each step is the same forward pass as HF generate's, so the answers are the same.
    """
    import torch
    from transformers import DynamicCache

    input_ids, attention = batch["input_ids"], batch["attention_mask"]
    positions = (attention.long().cumsum(-1) - 1).masked_fill(attention == 0, 0)  # as HF generate numbers them
    cache = DynamicCache(config=model.config.get_text_config(decoder=True))
    rows = torch.arange(len(input_ids))  # which of the batch's rows are still writing
    written = [[] for _ in rows]
    stops = torch.tensor(stop_ids, device=input_ids.device)
    for _ in range(max_new_tokens):
        step = {"attention_mask": attention, "position_ids": positions, "cache": cache, "use_cache": True}
        logits = model(input_ids=input_ids, logits_to_keep=1, **step).logits
        next_tokens = logits[:, -1].float().argmax(dim=-1)
        for row, token in zip(rows.tolist(), next_tokens.tolist()):
            written[row].append(token)
        going = ~torch.isin(next_tokens, stops)
        if not going.any():
            break
        if not going.all():
            cache.batch_select_indices(going.nonzero().squeeze(1))
            rows, next_tokens, attention, positions = rows[going], next_tokens[going], attention[going], positions[going]
        input_ids = next_tokens[:, None]
        attention = torch.cat([attention, attention.new_ones(len(rows), 1)], dim=-1)
        positions = positions[:, -1:] + 1
    longest = max(len(tokens) for tokens in written)
    return torch.tensor([tokens + [pad_id] * (longest - len(tokens)) for tokens in written])


def stop_token_ids(model, tokenizer) -> list[int]:
    """The tokens that end a reply: the tokenizer's end-of-sequence token and the model's own stop tokens.

    Some families end an answer with a token of their own (Gemma's <end_of_turn>, Phi-3's <|end|>) that their
    generation_config.json lists beside the tokenizer's EOS; a tuned model learns to write that one.
    """
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    configured = configured if isinstance(configured, list) else [configured]
    return list(dict.fromkeys(token for token in [tokenizer.eos_token_id, *configured] if token is not None))


def tokenize_answers(tokenizer, prompt_messages: list[dict], answer: str, max_length: int) -> tuple[list[int], int]:
    """Token ids of prompt + answer, and where the answer starts (the same split training uses)."""
    prompt_ids = tokenizer.apply_chat_template(prompt_messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    full_ids = tokenizer.apply_chat_template(
        prompt_messages + [{"role": "assistant", "content": answer}], tokenize=True, return_dict=True
    )["input_ids"]
    start = 0
    while start < min(len(prompt_ids), len(full_ids)) and prompt_ids[start] == full_ids[start]:
        start += 1
    return full_ids[:max_length], start
