"""Facts about one file that the setup rules read, gathered by a single walk of its tree.

All setup rules read the same :class:`FileFacts`. It is computed once per file and kept on the
file (``SourceFile.memo``), so the second rule asking gets it for free; from cheap substring tests
first (``_gates``) and at most one walk of the tree (``_walk``), which hands each node to one
collector per topic: training, loaders, augmentation, leaks (splits that overlap, statistics before
a split), checkpoints and machine paths. Facts are small (lines, names, booleans), so rules can
keep them between files with bounded memory. Project-wide text signals ("a seed is set
somewhere") are searches run lazily (``_signals``): a rule that already saw a signal never asks
again.
"""

from dlpilot.tools.inspect.code.setup.facts._file import FileFacts, Framework
from dlpilot.tools.inspect.code.setup.facts._signals import SIGNALS
from dlpilot.tools.inspect.code.setup.facts._walk import facts_for

__all__ = ["SIGNALS", "FileFacts", "Framework", "facts_for"]
