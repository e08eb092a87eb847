"""The round's sampler and pruner as Optuna objects; the grid of a round."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from optuna.pruners import HyperbandPruner, MedianPruner, NopPruner, SuccessiveHalvingPruner
from optuna.samplers import GPSampler, GridSampler, QMCSampler, RandomSampler, TPESampler

from dlpilot.tools.trials import RoundFile
from dlpilot.tools.trials._search import grid, make_pruner, make_sampler

GRIDDED = {
    "lr": {"type": "float", "low": 0.1, "high": 0.3, "step": 0.1},
    "depth": {"type": "int", "low": 2, "high": 6, "step": 2},
    "act": {"type": "categorical", "choices": ["relu", "gelu"]},
    "wd": {"role": "fixed", "value": 0.01},
}


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("qmc", QMCSampler),
        ("tpe", TPESampler),
        ("gp", GPSampler),
        ("random", RandomSampler),
        ("grid", GridSampler),
    ],
)
def test_each_sampler_kind_gives_its_optuna_sampler(
    write_round: Callable[..., RoundFile], kind: str, cls: type
) -> None:
    round_ = write_round(sampler=kind, params=GRIDDED, command="t {lr} {depth} {act} {wd}")
    assert isinstance(make_sampler(round_, "host:1"), cls)


def test_the_qmc_sequence_is_the_same_on_every_worker(
    write_round: Callable[..., RoundFile],
) -> None:
    round_ = write_round(sampler="qmc", seed=5)
    a, b = make_sampler(round_, "h:1"), make_sampler(round_, "h:2")
    assert a._seed == b._seed == 5  # type: ignore[attr-defined]


def test_a_grid_holds_every_value_of_every_varied_parameter(
    write_round: Callable[..., RoundFile],
) -> None:
    round_ = write_round(sampler="grid", params=GRIDDED, command="t {lr} {depth} {act}")
    space = grid(round_)
    assert space["lr"] == pytest.approx([0.1, 0.2, 0.3])
    assert space["depth"] == [2, 4, 6] and space["act"] == ["relu", "gelu"]
    assert "wd" not in space


def test_each_pruner_kind_gives_its_optuna_pruner(write_round: Callable[..., RoundFile]) -> None:
    asha = make_pruner(write_round(pruner={"kind": "asha", "min_step": 100}))
    assert isinstance(asha, SuccessiveHalvingPruner) and asha._min_resource == 100
    hyper = make_pruner(write_round(pruner={"kind": "hyperband", "min_step": 5, "max_step": 90}))
    assert isinstance(hyper, HyperbandPruner)
    median = make_pruner(write_round(pruner={"kind": "median", "min_step": 7}))
    assert isinstance(median, MedianPruner) and median._n_warmup_steps == 7
    assert isinstance(make_pruner(write_round(pruner={"kind": "none"})), NopPruner)
