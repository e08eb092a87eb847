"""The in-memory form of training curves, shared by readers, diagnosis, plots, trials and runbook.

Readers produce ``Run`` objects; everything else reads them. Series hold numpy arrays (a run may
have millions of points); the typed pydantic results that tools return are summaries built from
these, never a dump of every point unless asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(eq=False)
class Series:
    """One metric of one run: ``steps`` ascending (int64), ``values`` float64, same length.

    ``name`` is the normalized metric name (``train/loss``, ``val/loss``, ``val/acc``, ``lr`` ...);
    ``original`` is the name as the log wrote it.
    """

    name: str
    original: str
    steps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    wall_times: npt.NDArray[np.float64] | None = None
    # Steps where the log went back to (a resumed run continued from there); see SeriesBuilder.
    resumed_at: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.steps.shape[0])


@dataclass(eq=False)
class Run:
    """All the series of one run, where they came from, and the warnings met while reading."""

    name: str
    source: str  # path of the file or directory read
    format: str  # "jsonl", "csv", "tensorboard", "hf-trainer", "mlflow"
    series: dict[str, Series] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Steps a resumed run continued from (the step counter went back there in the log): what
    # came after is a continuation, not a trend. From the series with the most points.
    resumed_at: list[int] = field(default_factory=list)

    def get(self, name: str) -> Series | None:
        return self.series.get(name)


__all__ = ["Run", "Series"]
