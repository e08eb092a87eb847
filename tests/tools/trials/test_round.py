from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlpilot.tools.trials import (
    CategoricalParam,
    FixedParam,
    FloatParam,
    RoundFileError,
    fill,
    load_round,
    parse_round,
)

TOML = """\
name = "toy-lr-dropout"
command = "python train.py --lr {lr} --drop {dropout} --w {width} --seed {seed} --out {trial_dir}"
workdir = "."
metrics = "{trial_dir}/metrics.jsonl"
objective = { metric = "val/loss", direction = "minimize", take = "best" }
trials = 24
parallel = "auto"
trial_timeout_s = 3600
sampler = "tpe"
pruner = { kind = "asha", min_step = 100 }
seeds = { top = 2, runs = 3 }
baseline = { lr = 1e-3, dropout = 0.1, width = 128 }
storage = ""

[params.lr]
role = "target"
type = "float"
low = 1e-4
high = 0.3
log = true

[params.dropout]
role = "nuisance"
type = "float"
low = 0.0
high = 0.5

[params.width]
role = "nuisance"
type = "categorical"
choices = [32, 64, 128, 256]
"""


def _minimal(**over: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "r",
        "command": "python t.py --lr {lr}",
        "metrics": "{trial_dir}/m.jsonl",
        "objective": {"metric": "val/loss"},
        "params": {"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}},
    }
    data.update(over)
    return data


def test_the_documented_toml_round_file_reads_with_every_field(tmp_path: Path) -> None:
    path = tmp_path / "round.toml"
    path.write_text(TOML)
    r = load_round(path)
    assert r.name == "toy-lr-dropout" and r.trials == 24 and r.sampler == "tpe"
    assert r.targets == ["lr"] and r.nuisance == ["dropout", "width"]
    assert isinstance(r.params["lr"], FloatParam) and r.params["lr"].log
    assert isinstance(r.params["width"], CategoricalParam)
    assert r.pruner.kind == "asha" and r.pruner.min_step == 100
    assert r.seeds.top == 2 and r.seeds.runs == 3
    assert r.work_dir == tmp_path.resolve()


def test_yaml_and_json_round_files_give_the_same_model_as_toml(tmp_path: Path) -> None:
    import tomllib

    import yaml

    data = tomllib.loads(TOML)
    (tmp_path / "a.toml").write_text(TOML)
    (tmp_path / "a.json").write_text(json.dumps(data))
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(data))
    models = [load_round(tmp_path / f"a.{ext}") for ext in ("toml", "json", "yaml")]
    dumps = [m.model_dump() for m in models]
    assert dumps[0] == dumps[1] == dumps[2]


def test_a_round_written_as_toml_reads_back_equal(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text(TOML)
    r = load_round(tmp_path / "a.toml")
    (tmp_path / "b.toml").write_text(r.to_toml())
    assert load_round(tmp_path / "b.toml").model_dump() == r.model_dump()


def test_a_bad_field_is_named_with_its_value() -> None:
    with pytest.raises(RoundFileError, match=r"trials = -3"):
        parse_round(_minimal(trials=-3))
    with pytest.raises(RoundFileError, match=r"objective\.direction = 'up'"):
        parse_round(_minimal(objective={"metric": "val/loss", "direction": "up"}))
    with pytest.raises(RoundFileError, match=r"unknown field 'trails'"):
        parse_round(_minimal(trails=3))


def test_a_range_upside_down_or_a_log_range_through_zero_is_refused() -> None:
    with pytest.raises(RoundFileError, match=r"params\.lr.*low = 0\.1 must be below high = 0\.01"):
        parse_round(_minimal(params={"lr": {"type": "float", "low": 0.1, "high": 0.01}}))
    with pytest.raises(RoundFileError, match=r"log-scale range needs low > 0"):
        parse_round(_minimal(params={"lr": {"type": "float", "low": 0.0, "high": 1, "log": True}}))


def test_a_command_without_a_varied_parameters_placeholder_is_refused() -> None:
    params = {
        "lr": {"type": "float", "low": 1e-4, "high": 1e-1},
        "wd": {"type": "float", "low": 0.0, "high": 0.1},
    }
    with pytest.raises(RoundFileError, match=r"no placeholder for \{wd\}"):
        parse_round(_minimal(params=params))
    assert parse_round(_minimal(params=params, params_from_env=True)).varied.keys() == {"lr", "wd"}


def test_an_unknown_placeholder_names_the_known_ones() -> None:
    with pytest.raises(RoundFileError, match=r"uses \{lrr\}.*parameter \(lr\)"):
        parse_round(_minimal(command="python t.py --lr {lr} --x {lrr}"))


def test_a_fixed_parameter_needs_only_its_value_whatever_its_type() -> None:
    r = parse_round(
        _minimal(
            command="python t.py --lr {lr} --bs {batch}",
            params={
                "lr": {"type": "float", "low": 1e-4, "high": 1e-1},
                "batch": {"role": "fixed", "type": "int", "low": 1, "value": 64},
            },
        )
    )
    assert isinstance(r.params["batch"], FixedParam) and r.fixed == {"batch": 64}
    assert list(r.varied) == ["lr"]
    with pytest.raises(RoundFileError, match=r"fixed parameter needs a value"):
        parse_round(_minimal(params={"lr": {"role": "fixed", "type": "float"}}))


def test_scientific_is_read_as_target() -> None:
    r = parse_round(
        _minimal(params={"lr": {"role": "scientific", "type": "float", "low": 0.1, "high": 1}})
    )
    assert r.targets == ["lr"]


def test_the_round_can_live_in_the_pyproject_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.dlpilot]\n"
        'train_command = "python train.py --lr {lr} --out {trial_dir}"\n'
        "[tool.dlpilot.trials]\n"
        'name = "from-table"\n'
        'metrics = "{trial_dir}/metrics.jsonl"\n'
        'objective = { metric = "val/acc", direction = "maximize" }\n'
        "[tool.dlpilot.search_space.lr]\n"
        'type = "float"\nlow = 1e-4\nhigh = 1e-1\nlog = true\n'
    )
    r = load_round(tmp_path / "pyproject.toml")
    assert r.name == "from-table" and r.command.startswith("python train.py")
    assert r.objective.direction == "maximize"


def test_fill_writes_floats_exactly_and_booleans_as_words() -> None:
    assert fill(
        "--lr {lr} --aug {aug} --out {trial_dir}", {"lr": 1e-4, "aug": True, "trial_dir": "d"}
    ) == ("--lr 0.0001 --aug true --out d")


def test_a_file_that_does_not_parse_says_which_format_failed(tmp_path: Path) -> None:
    (tmp_path / "r.toml").write_text("name = \n")
    with pytest.raises(RoundFileError, match=r"is not valid toml"):
        load_round(tmp_path / "r.toml")
    with pytest.raises(RoundFileError, match=r"must end in"):
        load_round(tmp_path / "r.txt")
