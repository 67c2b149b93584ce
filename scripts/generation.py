"""Let a model write replies to chat prompts, in batches: shared by the steps that generate text.

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
                output = model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                    **sampling,
                )
            new_tokens = output[:, batch["input_ids"].shape[1] :]  # rows come grouped by prompt
            replies += [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
            if on_batch:
                on_batch(len(chunk))
    finally:
        tokenizer.padding_side = previous_side
    return replies
