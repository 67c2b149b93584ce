"""The hardware Hugging Face Jobs offers, and its price: shared by dispatch (which starts the job) and
validate (which refuses a flavor the job could not start on, before the merge)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flavor:
    gpus: int
    usd_per_hour: float


# Hugging Face Jobs hardware and its price per hour, billed by the minute while the job runs.
# Source: https://huggingface.co/docs/hub/jobs-pricing (CPU and T4 rows) and the hardware table on
# https://huggingface.co/pricing (the other GPUs), read in June 2026. Prices change: when the Hub can be
# reached, the live price from `list_jobs_hardware()` is used instead of this table.
PRICES_CHECKED = "June 2026"
PRICE_SOURCE = "https://huggingface.co/docs/hub/jobs-pricing"
FLAVORS: dict[str, Flavor] = {
    "cpu-basic": Flavor(0, 0.01),
    "cpu-upgrade": Flavor(0, 0.03),
    "t4-small": Flavor(1, 0.40),
    "t4-medium": Flavor(1, 0.60),
    "l4x1": Flavor(1, 0.80),
    "l4x4": Flavor(4, 3.80),
    "l40sx1": Flavor(1, 1.80),
    "l40sx4": Flavor(4, 8.30),
    "l40sx8": Flavor(8, 23.50),
    "a10g-small": Flavor(1, 1.00),
    "a10g-large": Flavor(1, 1.50),
    "a10g-largex2": Flavor(2, 3.00),
    "a10g-largex4": Flavor(4, 5.00),
    "a100-large": Flavor(1, 2.50),
    "a100x4": Flavor(4, 10.00),
    "a100x8": Flavor(8, 20.00),
    "h200": Flavor(1, 5.00),
    "h200x2": Flavor(2, 10.00),
    "h200x4": Flavor(4, 20.00),
    "h200x8": Flavor(8, 40.00),
}


def gpu_flavors() -> list[str]:
    """The flavors that have a GPU: the ones a training job can use."""
    return [name for name, flavor in FLAVORS.items() if flavor.gpus]
