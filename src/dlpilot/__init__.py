"""dlpilot: find what is wrong with a PyTorch project's training, then help it train better.

The library's entry points live in ``dlpilot.tools`` (plain Python, typed results); the MCP server
in ``dlpilot.server`` and the command line in ``dlpilot.cli`` only adapt them.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
