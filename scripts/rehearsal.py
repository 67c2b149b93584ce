"""Rehearsal: keep what the base model already knew while the adapter learns your facts.

At the first training step `base_targets` has the base model (adapter switched off) answer every
rehearsal question (`[data] rehearsal`, a JSONL file like datasets/rehearsal.jsonl) greedily, and keeps
its probabilities on those replies: the TOP_K likeliest tokens of each position plus one bucket for all
the others. Each step, `batch_indices` picks a small batch of them (set by the seed and the step, so a
resumed run sees the same batches) and `drift_loss` gives the KL divergence of the tuned model's
probabilities from the base model's, which trainer.py adds to the loss times `[train] rehearsal_weight`.
Reads and writes no file. Why, and why the base model's own replies: docs/design.md, "Training: the
recipe and the speed layer"; what it kept and cost on the bundled example: bench/README.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .generation import generate_answers, tokenize_answers
from .shared_opening import final_hidden_states

TOP_K = 32  # base-model tokens kept per answer position
REPLY_TOKENS = 48  # the longest base-model reply rehearsed; everyday answers are short


@dataclass
class RehearsalTargets:
    """Everyday questions, the base model's replies, and its next-token probabilities on them."""

    replies: list[str]
    input_ids: list[list[int]]
    answer_starts: list[int]  # index of each answer's first token
    top_ids: list[torch.Tensor]  # per example: (answer tokens, TOP_K) token ids
    log_probs: list[torch.Tensor]  # per example: (answer tokens, TOP_K + 1): those tokens', then all the others together


def encode(tokenizer, prompts: list[list[dict]], replies: list[str], max_length: int) -> tuple[list[list[int]], list[int]]:
    """Token ids of each rehearsal question + reply (chat template) and where the reply starts."""
    encoded = [tokenize_answers(tokenizer, prompt, reply, max_length) for prompt, reply in zip(prompts, replies)]
    return [ids for ids, _ in encoded], [start for _, start in encoded]


def padded_batch(input_ids: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids and their attention mask."""
    width = max(len(ids) for ids in input_ids)
    ids = torch.tensor([row + [pad_id] * (width - len(row)) for row in input_ids], device=device)
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in input_ids], device=device)
    return ids, mask


def answer_logits(model, output_layer, input_ids, attention_mask, starts: list[int], lengths: list[int]) -> list[torch.Tensor]:
    """Per example, the logits that predict each answer token (position t predicts token t + 1).

    The output layer runs on those positions only: on a small model it is a fifth of the weights.
    """
    hidden, offset = final_hidden_states(model, input_ids, attention_mask, limit=min(starts) - 1)  # shared opening once
    rows = [hidden[row, start - 1 - offset : length - 1 - offset] for row, (start, length) in enumerate(zip(starts, lengths))]
    stacked = output_layer(torch.cat(rows).to(output_layer.weight.dtype)).float()
    return list(stacked.split([len(row) for row in rows]))


@torch.no_grad()
def base_targets(peft_model, model, tokenizer, prompts: list[list[dict]], batch_size: int, max_length: int) -> RehearsalTargets:
    """The base model's (adapter off) greedy replies to the rehearsal questions, and its likeliest next tokens on them."""
    output_layer = peft_model.get_output_embeddings()
    top_ids, top_log_probs = [], []
    was_training = peft_model.training
    peft_model.eval()  # no dropout in the reference
    try:
        with peft_model.disable_adapter():
            replies = generate_answers(peft_model, tokenizer, prompts, batch_size, REPLY_TOKENS)
            input_ids, starts = encode(tokenizer, prompts, replies, max_length)
            for first in range(0, len(input_ids), batch_size):
                chunk = input_ids[first : first + batch_size]
                ids, mask = padded_batch(chunk, tokenizer.pad_token_id, peft_model.device)
                logits = answer_logits(model, output_layer, ids, mask, starts[first : first + batch_size], [len(r) for r in chunk])
                for example_logits in logits:
                    values, indices = torch.log_softmax(example_logits, -1).topk(TOP_K, dim=-1)
                    top_ids.append(indices.cpu())
                    top_log_probs.append(with_rest_bucket(values).cpu())
    finally:
        peft_model.train(was_training)
    return RehearsalTargets(replies, input_ids, starts, top_ids, top_log_probs)


def with_rest_bucket(top_log_probs: torch.Tensor) -> torch.Tensor:
    """Append log(1 - the kept tokens' probability): the chance of every other token, as one outcome."""
    kept = torch.logsumexp(top_log_probs, dim=-1, keepdim=True).clamp(max=-1e-6)  # below log(1) = 0
    rest = torch.log(-torch.expm1(kept))  # log(1 - exp(kept)), precise when kept is near 0
    return torch.cat([top_log_probs, rest], dim=-1)


def batch_indices(step_index: int, batch_size: int, count: int, seed: int) -> list[int]:
    """Which rehearsal examples the `step_index`-th micro-batch uses: consecutive slices of shuffled passes."""
    indices = []
    for position in range(step_index * batch_size, (step_index + 1) * batch_size):
        rehearsal_pass, offset = divmod(position, count)
        order = torch.randperm(count, generator=torch.Generator().manual_seed(seed + rehearsal_pass))
        indices.append(int(order[offset]))
    return indices


def drift_loss(peft_model, model, targets: RehearsalTargets, indices: list[int], pad_id: int) -> torch.Tensor:
    """Mean KL divergence, per answer token, from the base model's probabilities to the tuned model's."""
    chunk = [targets.input_ids[i] for i in indices]
    ids, mask = padded_batch(chunk, pad_id, peft_model.device)
    starts = [targets.answer_starts[i] for i in indices]
    logits = answer_logits(model, peft_model.get_output_embeddings(), ids, mask, starts, [len(r) for r in chunk])
    total, tokens = 0.0, 0
    for example_logits, i in zip(logits, indices):
        tuned = with_rest_bucket(torch.log_softmax(example_logits, -1).gather(-1, targets.top_ids[i].to(example_logits.device)))
        base = targets.log_probs[i].to(example_logits.device)
        total = total + (base.exp() * (base - tuned)).sum()
        tokens += base.shape[0]
    return total / max(tokens, 1)
