"""dlpilot's probe for every Python process a launcher starts (``torchrun``, ``bash run.sh``).

The sandbox puts this directory first on ``PYTHONPATH`` and names an output directory in
``$DLPILOT_PROBE_DIR``. Python imports this module at start-up; it arms the probe (which
activates only once the process imports torch, see ``dlpilot.sandbox.probe._site``), then runs the
``sitecustomize`` that would have run without it, so a project's or a distribution's own start-up
code is kept. Nothing here may fail the user's process: errors are reported on stderr and ignored.
"""

import os
import sys


def _arm() -> None:
    if not os.environ.get("DLPILOT_PROBE_DIR"):
        return
    try:
        from dlpilot.sandbox.probe._site import arm

        arm()
    except Exception as exc:  # the user's process must run on, unprobed
        sys.stderr.write(f"dlpilot probe: not armed in this process: {exc!r}\n")


def _chain() -> None:
    """Run the next ``sitecustomize`` on ``sys.path`` (the one this module shadows)."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # as Python itself does for a failing sitecustomize
        sys.stderr.write(f"Error in sitecustomize ({spec.origin}): {exc!r}\n")


_arm()
_chain()
