"""Entry-point mode: precise checks driven by the ``[tool.dlpilot]`` table of a project.

The table names factories (model, training / validation data, loss, optimizer) as
``"module:attr"``; a child process builds the parts from them (torch lives only there) and runs
the checks, the LR range test or the batch-size finder. This package validates the table, starts
the child through :mod:`dlpilot.sandbox`, forwards its progress, and returns pydantic results.
``dlpilot init`` uses :func:`propose_entry_table` / :func:`write_entry_table` to draft a table.
"""

from ._api import find_batch_size, lr_range_test, probe_device, run_entry_checks
from ._config import EntryConfig, load_entry_config
from ._plot import LrPlotData, lr_plot_data, plot_lr_range
from ._propose import propose_entry_table, write_entry_table
from ._results import (
    BatchSizeResult,
    BatchTrial,
    DeviceInfo,
    EntryReport,
    LrRangeResult,
    OverfitPoint,
    OverfitResult,
)

__all__ = [
    "BatchSizeResult",
    "BatchTrial",
    "DeviceInfo",
    "EntryConfig",
    "EntryReport",
    "LrPlotData",
    "LrRangeResult",
    "OverfitPoint",
    "OverfitResult",
    "find_batch_size",
    "load_entry_config",
    "lr_plot_data",
    "lr_range_test",
    "plot_lr_range",
    "probe_device",
    "propose_entry_table",
    "run_entry_checks",
    "write_entry_table",
]
