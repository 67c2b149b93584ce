"""The CPU speed layer of the train step: the same training, computed faster on a small machine.

    [train] speed_layer = true    # the default; false trains with TRL's and PEFT's own code

It relies on private hooks of transformers, TRL and PEFT (versions pinned in requirements.txt), so it
can be switched off if an upgrade breaks it; tests/test_train.py checks that it trains what they do.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from peft.tuners.lora import Linear as LoraLinear
from torch.utils.data import Sampler
from transformers.trainer_pt_utils import LengthGroupedSampler

from .shared_opening import final_hidden_states
from .trainer import RehearsalSFTTrainer


# The model classes on which tests/test_families.py shows that the speed layer (OneStepLoraLinear and the
# answer-only loss) gives the same loss and gradients as PEFT's and TRL's own code. Any other model trains
# with PEFT's and TRL's code, a little slower.
SPEED_LAYER_ARCHITECTURES = (
    "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM",
    "Gemma2ForCausalLM", "Gemma3ForCausalLM", "Phi3ForCausalLM",
)  # fmt: skip


def speed_layer_proven(model_config) -> bool:
    """True when the model's class is one the speed layer was checked on."""
    return any(name in SPEED_LAYER_ARCHITECTURES for name in getattr(model_config, "architectures", None) or [])


def use_one_step_lora(config) -> None:
    """Make PEFT build OneStepLoraLinear layers from this LoraConfig (PEFT's experimental hook for custom layers)."""
    config._register_custom_module({torch.nn.Linear: OneStepLoraLinear})


class OneStepLoraLinear(LoraLinear):
    """PEFT's LoRA layer, adding the adapter's output to the base output in one step; used on CPUs.

    PEFT computes base(x) + B(A(x)) * scale: the adapter writes a full-width output (1,536 values per token
    in SmolLM2's MLP layers), multiplies all of it by the scale, then adds it to the base output, in each of
    210 layers, forward and backward. Here the scale multiplies the rank-r product A(x) instead (16 values
    per token; the same sum), and the matrix multiply by B adds its result straight into the base output
    (addmm_), and under autocast the input is not cast to float32 first, as PEFT does (autocast would cast it
    straight back). Measured in paired runs on a 2-core CPU: training steps 2-8% faster (bench/README.md).
    Anything but a plain single adapter (DoRA, mixed or merged adapters, a LoRA bias) takes PEFT's own
    path; the saved adapter is PEFT's usual one.
    """

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        if args or kwargs or not self._plain_single_adapter():
            return super().forward(x, *args, **kwargs)
        adapter = self.active_adapters[0]
        lora_A, lora_B = self.lora_A[adapter], self.lora_B[adapter]
        flat_x = x.reshape(-1, x.shape[-1])  # (tokens, features): addmm_ works on 2-D matrices
        result = self.base_layer(flat_x)
        lora_input = self.lora_dropout[adapter](flat_x)
        if not torch.is_autocast_enabled(flat_x.device.type):
            # PEFT casts each LoRA input to float32, the LoRA weights' precision. Under autocast the product is
            # computed in bf16 anyway, so that cast and autocast's cast back would be two wasted copies per layer.
            lora_input = self._cast_input_dtype(lora_input, lora_A.weight.dtype)
        scaled = (lora_A(lora_input) * self.scaling[adapter]).to(result.dtype)
        result.addmm_(scaled, lora_B.weight.to(result.dtype).t())  # result += scaled @ B^T, in place
        return result.view(*x.shape[:-1], result.shape[-1])

    def _plain_single_adapter(self) -> bool:
        adapters = self.active_adapters
        return (
            not self.disable_adapters
            and not self.merged
            and len(adapters) == 1
            and adapters[0] in self.lora_A
            and adapters[0] not in self.lora_variant
            and self.lora_B[adapters[0]].bias is None
        )


# Config fields that make a model change its logits after the output layer; the CPU fast path below does not
# repeat those changes, so such models keep TRL's own loss (the same list TRL's fused output layer checks).
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling")


class FastSFTTrainer(RehearsalSFTTrainer):
    """The train step's SFTTrainer (scripts/trainer.py) with two changes that make training on a small machine faster.

    1. Batches of the most similar lengths (`LengthBucketSampler`), on every device: less padding to compute.
    2. On a CPU, the loss from the answer tokens only. The output layer of a small model is large
       (SmolLM2-135M: 576 x 49,152 weights, a fifth of the model), and the loss needs it only where there is
       a label. TRL's own fused output layer skips the other positions on a GPU, but on a CPU it scores every
       position, in float32. This computes the same loss, the same way TRL normalises it, from the final
       hidden states of the answer positions only: a training step is about 1.5x faster (bench/README.md).
       GPUs keep TRL's loss unchanged.
    3. In that CPU loss, the opening every example shares (the chat template's system prompt, 24 of about
       63 tokens on the bundled example) runs once per batch instead of once per example
       (scripts/shared_opening.py); the rehearsal batches do the same.
    """

    def _get_train_sampler(self, train_dataset=None):
        # The Trainer's (private) hook for its training sampler; transformers is pinned, and the tests use it.
        sampler = super()._get_train_sampler(train_dataset)
        if isinstance(sampler, LengthGroupedSampler):  # train_sampling_strategy="group_by_length"
            seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
            return LengthBucketSampler(sampler.lengths, self.args.train_batch_size, seed)
        return sampler

    def answer_loss(self, model, inputs, num_items_in_batch):
        if self.args.device.type != "cpu" or self._changes_logits():
            return super().answer_loss(model, inputs, num_items_in_batch)
        return self._answer_only_loss(model, inputs, num_items_in_batch)

    def _answer_only_loss(self, model, inputs, num_items_in_batch):
        # Through the (possibly DDP-wrapped) model, so multi-process training still syncs gradients. The rows'
        # shared opening (the chat template's system prompt) runs once for the whole batch.
        labels = inputs["labels"]
        first_label = int((labels != -100).any(dim=0).long().argmax())  # the earliest answer token's column
        hidden, offset = final_hidden_states(model, inputs["input_ids"], inputs["attention_mask"], limit=first_label - 1)
        labels = labels[:, offset + 1 :]  # position t predicts token t + 1
        answer = labels != -100
        output_layer = self.model.get_output_embeddings()  # self.model is never DDP-wrapped
        hidden = hidden[:, :-1][answer]  # the final, normalised hidden states
        # Autocast covers only the model's forward, so compute in the weights' own precision, as it would.
        logits = output_layer(hidden.to(output_layer.weight.dtype)).float()
        targets = labels[answer]
        loss = F.cross_entropy(logits, targets, reduction="sum")
        # As TRL does: divide by the answer tokens of the whole (accumulated, all-process) batch.
        denominator = targets.numel() if num_items_in_batch is None else num_items_in_batch
        loss = loss / torch.as_tensor(denominator).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes  # DDP averages gradients across processes
        self._log_token_accuracy(logits, targets)
        return loss

    def _changes_logits(self) -> bool:
        text_config = self.model.config.get_text_config()
        return any(getattr(text_config, name, None) is not None for name in _LOGIT_TRANSFORMS)

    @torch.no_grad()
    def _log_token_accuracy(self, logits, targets) -> None:
        """The share of answer tokens the model would have written itself: shown next to the loss in the log."""
        if targets.numel():
            mode = "train" if self.model.training else "eval"
            correct = (logits.argmax(-1) == targets).float().mean().item()
            self._metrics[mode]["mean_token_accuracy"].append(correct)


class LengthBucketSampler(Sampler):
    """Batches of examples of the most similar lengths, in a new random order every epoch.

    Every batch is padded to its longest example, so neighbours in length waste the least. Each epoch: a
    random few examples make up the one short batch (when the examples do not divide into full batches); the
    rest are sorted by length (equal lengths in random order) and cut into batches; the batch holding the
    longest examples comes first, so a batch too big for memory fails at once rather than at the end of an
    epoch; the other batches follow in random order, and the short batch last.

    The Trainer's own "group_by_length" sorts only within random groups of a few batches, which left 9% of
    the computed tokens as padding on the bundled example, and this 3%: 5-6% more real tokens per second in
    paired runs (bench/README.md). The order depends only on the seed and the epoch, so a resumed run (which
    skips the batches already trained in that epoch) and every process of a multi-process run see the same
    batches as an uninterrupted run.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int):
        self.lengths, self.batch_size, self.seed, self.epoch = lengths, batch_size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch  # the Trainer calls this at the start of every epoch, also when resuming

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        shuffled = torch.randperm(len(self.lengths), generator=generator).tolist()
        leftover = len(shuffled) % self.batch_size
        short_batch, rest = shuffled[:leftover], shuffled[leftover:]
        by_length = sorted(rest, key=lambda index: self.lengths[index])  # a stable sort keeps ties shuffled
        batches = [by_length[start : start + self.batch_size] for start in range(0, len(by_length), self.batch_size)]
        longest = batches.pop() if batches else []
        order = torch.randperm(len(batches), generator=generator).tolist()
        # The data loader cuts this flat list into batches again by position, so the short batch must be last.
        return iter(longest + [index for i in order for index in batches[i]] + short_batch)
