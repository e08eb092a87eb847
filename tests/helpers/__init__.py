"""Helpers shared by several test packages: valid runbook answers (``answers``) and a tiny real
torch training script (``TRAIN_MLP``)."""

from pathlib import Path

TRAIN_MLP = Path(__file__).parent / "train_mlp.py"
"""An MLP on generated data, its train and validation loss per epoch into <out>/metrics.jsonl:
a plain top-level script (no __main__ block), run as a real child by the trials and round tests."""
