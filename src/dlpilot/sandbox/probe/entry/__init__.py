"""The in-child side of entry-point mode: build the project's parts from its ``[tool.dlpilot]``
factories and run the precise checks, the LR range test and the batch-size finder on them.

Run as ``python -m dlpilot.sandbox.probe.entry REQUEST.json`` with the project directory as the
working directory. The request names the task, the validated table, the task's parameters and two
files: an events file (JSON lines ``{"done", "total", "message"}``, read by the parent for
progress) and a result file (one JSON object, written last). Only the standard library and torch
are used here, so the child runs under any interpreter that has torch. A failure in user code is
raised as :class:`EntryStageError` naming the stage, so the parent reports "building the model
from glyphs.model:build_model: TypeError: ..." rather than a bare traceback.

Importing this package does not import torch; the task modules do.
"""

from ._protocol import EntryStageError

__all__ = ["EntryStageError"]
