"""The in-child probe: runs a user's training script under PyTorch hooks and records evidence.

Run as ``python -m dlpilot.sandbox.probe --out EVENTS.jsonl [bounds] -- script.py args...``. This
package is the only place in dlpilot that imports torch, and only its ``__main__`` and private
modules do; importing the package itself stays light, so the parent may read :data:`PROBE_VERSION`,
the option names and the bound defaults without torch. The evidence's contract (the events' and
the summary's keys and types) is :mod:`schema` (``from dlpilot.sandbox.probe import schema``;
``schema.Summary``, ``schema.BucketSummary``, ...), standard library only.

The event file is JSON lines, written and flushed as the run goes, so a crash still leaves the
evidence up to it. Its size is bounded however long the script would train: per-step events are
capped, everything else is a fixed-size aggregate in the ``summary`` events (written at steps 1, 2,
4, 8, ... and once at the end). Event kinds:

``start``      probe version, torch version, mode, bounds, script
``loader``     a DataLoader seen for the first time (sampler, batch size, dataset length)
``step``       one optimizer step (or one backward when there is no optimizer): loss, accuracy
``obs``        an observation that may precede a crash (label range, label dtype, loss shapes)
``summary``    every aggregate the parent's rules read (``final`` is true for the last one)
``exception``  the user's exception: type, message, user-code file and line, traceback tail
``end``        why the run stopped (``finished``, ``epochs``, ``steps``, ``time``,
               ``overfit-steps``, ``exception``, ``exit``) and the counters at that point
"""

from __future__ import annotations

from pathlib import Path

from . import _schema as schema
from ._schema import (
    DEFAULT_EPOCHS,
    DEFAULT_MAX_EVENT_BYTES,
    DEFAULT_MAX_SECONDS,
    DEFAULT_MAX_STEPS,
    DEFAULT_OVERFIT_STEPS,
    DEFAULT_SAMPLE_EVERY,
    DEFAULT_TRAIN_BATCHES,
    DEFAULT_VAL_BATCHES,
)

PROBE_VERSION = 1
"""Bumped when the event schema changes incompatibly."""

MODES = ("script", "overfit")

SITE_DIR = str(Path(__file__).resolve().parent / "site")
"""Put first on ``PYTHONPATH`` (with ``$DLPILOT_PROBE_DIR`` set), its ``sitecustomize`` probes
every Python process of a launcher (``torchrun``, ``bash run.sh``) that imports torch."""

SITE_DIR_VAR = "DLPILOT_PROBE_DIR"
"""Where each such process writes ``events-<pid>.jsonl``."""

SITE_CONFIG_VAR = "DLPILOT_PROBE_CONFIG"
"""JSON object of the probe's bounds for those processes."""

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_MAX_EVENT_BYTES",
    "DEFAULT_MAX_SECONDS",
    "DEFAULT_MAX_STEPS",
    "DEFAULT_OVERFIT_STEPS",
    "DEFAULT_SAMPLE_EVERY",
    "DEFAULT_TRAIN_BATCHES",
    "DEFAULT_VAL_BATCHES",
    "MODES",
    "PROBE_VERSION",
    "SITE_CONFIG_VAR",
    "SITE_DIR",
    "SITE_DIR_VAR",
    "schema",
]
