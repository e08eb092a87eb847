"""``python -m dlpilot`` is the ``dlpilot`` command."""

import sys

from dlpilot.cli import main

sys.exit(main())
