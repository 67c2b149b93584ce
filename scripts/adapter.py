"""The adapter as it is published: float16 (half the size of the float32 that training saves) unless
float16 cannot hold its weights (above 65504) or --full-precision asks for float32.

    adapter = prepare_adapter(Path("outputs/train/adapter/adapter_model.safetensors"), full_precision=False)

Every results pull request adds the adapter to the git history, so its size matters; LoRA weights are
small numbers that float16 stores to about 3 decimal digits, and the note says the largest change the
rounding made, for the model card.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Adapter:
    data: bytes
    """The safetensors file to publish."""
    dtype: str
    """"float16" or "float32"."""
    note: str
    """One sentence for the card on how the stored weights relate to the trained ones."""


def prepare_adapter(path: Path, full_precision: bool) -> Adapter:
    """The adapter's bytes as published: float16 unless asked for float32 or float16 cannot hold the weights."""
    import torch
    from safetensors.torch import load_file, save

    tensors = load_file(path)
    floats = {name: t for name, t in tensors.items() if t.is_floating_point()}
    largest = max((t.abs().max().item() for t in floats.values() if t.numel()), default=0.0)
    if full_precision or largest >= torch.finfo(torch.float16).max:
        reason = "as asked with --full-precision" if full_precision else "because some weights are too large for float16"
        data = save({name: t.float() if t.is_floating_point() else t for name, t in tensors.items()}, {"format": "pt"})
        return Adapter(data, "float32", f"The adapter is stored in float32, exactly as trained ({reason}).")
    halved = {name: t.half() if t.is_floating_point() else t for name, t in tensors.items()}
    change = max((float((halved[n].float() - t.float()).abs().max()) for n, t in floats.items() if t.numel()), default=0.0)
    note = (
        f"The adapter is stored in float16 to halve its size; the training saved float32. Rounding changed no weight "
        f"by more than {change:.1e} (the largest weight is {largest:.2f}), far below what changes an answer, "
        "but the evaluation above ran on the float32 weights."
    )
    return Adapter(save(halved, {"format": "pt"}), "float16", note)
