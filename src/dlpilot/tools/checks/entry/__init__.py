"""Entry-point mode: precise checks driven by the ``[tool.dlpilot]`` table of a project.

The table names factories (model, training / validation data, loss, optimizer) as
``"module:attr"``; a child process builds the parts from them (torch lives only there) and runs
the checks, the LR range test or the batch-size finder. This package validates the table, starts
the child through :mod:`dlpilot.sandbox`, forwards its progress, and returns pydantic results.
``dlpilot init`` uses :func:`propose_entry_table` / :func:`write_entry_table` to draft a table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dlpilot.tools._lazy import lazy_exports
from dlpilot.tools.checks.entry._results import (
    BatchSizeResult,
    BatchTrial,
    DeviceInfo,
    EntryReport,
    LrRangeResult,
)

if TYPE_CHECKING:
    from dlpilot.tools.checks.entry._api import (
        find_batch_size,
        lr_range_test,
        probe_device,
        run_entry_checks,
    )
    from dlpilot.tools.checks.entry._config import (
        DLPILOT_TOML,
        PYPROJECT,
        EntryConfig,
        load_entry_config,
    )
    from dlpilot.tools.checks.entry._plot import LrPlotData, lr_plot_data, plot_lr_range
    from dlpilot.tools.checks.entry._propose import propose_entry_table, write_entry_table
    from dlpilot.tools.checks.entry._text import render_batch_size, render_lr_range

__getattr__ = lazy_exports(
    __name__,
    {
        "find_batch_size": "_api",
        "lr_range_test": "_api",
        "probe_device": "_api",
        "run_entry_checks": "_api",
        "DLPILOT_TOML": "_config",
        "PYPROJECT": "_config",
        "EntryConfig": "_config",
        "load_entry_config": "_config",
        "LrPlotData": "_plot",
        "lr_plot_data": "_plot",
        "plot_lr_range": "_plot",
        "propose_entry_table": "_propose",
        "write_entry_table": "_propose",
        "render_batch_size": "_text",
        "render_lr_range": "_text",
    },
)

__all__ = [
    "DLPILOT_TOML",
    "PYPROJECT",
    "BatchSizeResult",
    "BatchTrial",
    "DeviceInfo",
    "EntryConfig",
    "EntryReport",
    "LrPlotData",
    "LrRangeResult",
    "find_batch_size",
    "load_entry_config",
    "lr_plot_data",
    "lr_range_test",
    "plot_lr_range",
    "probe_device",
    "propose_entry_table",
    "render_batch_size",
    "render_lr_range",
    "run_entry_checks",
    "write_entry_table",
]
