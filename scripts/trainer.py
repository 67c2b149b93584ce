"""The trainer of the train step: TRL's SFTTrainer with the rehearsal term added to the loss, and a stop
when the loss becomes NaN or infinite. scripts/fast_training.py builds its CPU speed-ups on top of it.
"""

from __future__ import annotations

import math

import torch
from transformers import TrainerCallback
from trl import SFTTrainer

from .rehearsal import base_targets, batch_indices, drift_loss


class TrainingDiverged(Exception):
    """The loss became NaN or infinite; the run cannot recover by itself."""


class RehearsalSFTTrainer(SFTTrainer):
    """TRL's SFTTrainer; with `rehearsal` (scripts/train.py load_rehearsal), plus the drift penalty on everyday questions."""

    def __init__(self, *args, rehearsal=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.rehearsal = rehearsal
        self._rehearsal_step, self._rehearsal_micro = -1, 0

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if return_outputs:  # evaluation asks for the outputs too: TRL's own loss, no rehearsal
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        loss = self.answer_loss(model, inputs, num_items_in_batch)
        if self.rehearsal is not None and model.training:
            loss = loss + self._rehearsal_loss(model, num_items_in_batch)
        return loss

    def answer_loss(self, model, inputs, num_items_in_batch):
        """The loss on the answer tokens: TRL's own (the speed layer computes it faster on a CPU)."""
        return super().compute_loss(model, inputs, False, num_items_in_batch)

    def _rehearsal_loss(self, model, num_items_in_batch) -> torch.Tensor:
        """The rehearsal batch's drift from the base model, weighted (scripts/rehearsal.py)."""
        rehearsal = self.rehearsal
        if rehearsal.targets is None:
            rehearsal.targets = base_targets(
                self.model, model, self.processing_class, rehearsal.prompts, self.args.per_device_eval_batch_size, rehearsal.max_length
            )
        indices = batch_indices(self._micro_step_index(), rehearsal.batch_size, len(rehearsal.prompts), self.args.seed)
        drift = drift_loss(self.model, model, rehearsal.targets, indices, self.processing_class.pad_token_id)
        self._metrics["train"]["rehearsal_kl"].append(drift.item())
        # The answer loss is already a share of the whole accumulated batch; this term must be too.
        if self._loss_already_split_across_accumulation(num_items_in_batch):
            drift = drift / self.current_gradient_accumulation_steps
        return rehearsal.weight * drift

    def _micro_step_index(self) -> int:
        """How many micro-batches came before this one: set by the step, so a resumed run agrees."""
        step = self.state.global_step
        if step != self._rehearsal_step:
            self._rehearsal_step, self._rehearsal_micro = step, 0
        index = step * self.args.gradient_accumulation_steps + self._rehearsal_micro
        self._rehearsal_micro += 1
        return index

    def _loss_already_split_across_accumulation(self, num_items_in_batch) -> bool:
        # The Trainer divides a loss by the accumulation steps itself unless it was normalised by
        # num_items_in_batch (the same rule as transformers' Trainer.training_step).
        if self.loss_is_scaled_for_ga is not None:
            return self.loss_is_scaled_for_ga
        return (self.model_accepts_loss_kwargs and num_items_in_batch is not None) or self.compute_loss_func is not None


class StopOnNonFiniteLoss(TrainerCallback):
    """Stop as soon as a logged loss is NaN or infinite: nothing good comes after that."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise TrainingDiverged(
                f"the training loss became {loss} at step {state.global_step}; lower [train] learning_rate in "
                "project.toml (try dividing it by 10), check the data report for very long examples, "
                'or set precision = "fp32".'
            )
