"""Run the opening that every row of a batch shares once, instead of once per row.

Chat templates open every prompt with the same tokens: SmolLM2's adds its system prompt, 24 of the
about 63 tokens of a bundled training example. A causal model's states for those tokens do not depend on
what follows them, so the model can run them for one row, copy their keys and values (the cache) to every
row, and run each row from there on. The numbers are the same up to float rounding (not with LoRA dropout
in training, which then runs every row whole); the model runs about a third fewer tokens. Training uses it with gradients (they flow back through the copies into the one
opening), evaluate without. Used by the train step's CPU loss and rehearsal (scripts/fast_training.py,
scripts/rehearsal.py) and by evaluate's scoring (scripts/evaluate.py).
"""

from __future__ import annotations

import torch

# An opening shorter than this saves less than the model's second call costs (a guess, not measured:
# SmolLM2's opening is 24 tokens; Gemma's, without a system prompt, a few).
MIN_SHARED_TOKENS = 8


def shared_length(input_ids: torch.Tensor, attention_mask: torch.Tensor, limit: int) -> int:
    """How many leading positions hold the same token, unpadded, in every row; at most `limit`."""
    same = (input_ids == input_ids[:1]).all(dim=0) & (attention_mask == 1).all(dim=0)
    return max(0, min(int(same.long().cumprod(dim=0).sum()), limit, input_ids.shape[1] - 1))


def cache_of_opening(model, input_ids: torch.Tensor, shared: int):
    """The keys and values of the first `shared` tokens, computed for one row and copied to every row (empty for 0)."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config.get_text_config(decoder=True))
    if shared:
        no_logits = torch.empty(0, dtype=torch.long, device=input_ids.device)
        model(input_ids=input_ids[:1, :shared], cache=cache, use_cache=True, logits_to_keep=no_logits)
        cache.batch_repeat_interleave(len(input_ids))
    return cache


def can_share(model, rows: int) -> bool:
    """Whether running the opening once gives what running every row gives, and saves something."""
    if rows < 2:
        return False
    if getattr(model, "is_activation_checkpointing", False) or hasattr(model, "module"):
        return False  # checkpointing recomputes each layer without a cache; DDP wants one forward per backward
    # With LoRA dropout in training, every row would share one random mask over the opening instead of its own.
    dropouts = [config.lora_dropout for config in getattr(model, "peft_config", {}).values()]
    return not (model.training and any(dropouts))


def final_hidden_states(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, limit: int) -> tuple[torch.Tensor, int]:
    """(hidden, offset): the last layer's (normalised) hidden states of positions offset, offset + 1, ... of a right-padded batch.

    `offset` is the rows' shared opening, at most `limit`: the caller needs no state before position `limit`.
    """
    shared = shared_length(input_ids, attention_mask, limit) if can_share(model, len(input_ids)) else 0
    if shared < MIN_SHARED_TOKENS:
        shared = 0
    no_logits = torch.empty(0, dtype=torch.long, device=input_ids.device)
    if not shared:
        outputs = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=[-1], logits_to_keep=no_logits, use_cache=False)
        return outputs.hidden_states[-1], 0
    outputs = model(
        input_ids=input_ids[:, shared:],
        attention_mask=attention_mask,  # the whole width: the opening's columns too
        position_ids=torch.arange(shared, input_ids.shape[1], device=input_ids.device).expand(len(input_ids), -1),
        cache=cache_of_opening(model, input_ids, shared),
        use_cache=True,
        output_hidden_states=[-1],  # only the last layer's
        logits_to_keep=no_logits,  # the caller runs the output layer on the positions it needs
    )
    return outputs.hidden_states[-1], shared
