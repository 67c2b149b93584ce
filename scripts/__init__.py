"""The fine-tuning pipeline: one module per step, run as `python -m scripts <step>`."""
