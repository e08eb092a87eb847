from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dlpilot.tools.trials import RoundFile, load_round
from dlpilot.tools.trials._round import _to_toml
from dlpilot.tools.trials._slots import Slot, plan_slots

SCRIPTS = Path(__file__).parent / "scripts"
PY = sys.executable
FAKE = SCRIPTS / "fake_train.py"


def fake_round(tmp: Path, **fields: Any) -> dict[str, Any]:
    """A round of the torch-free fake training script (fields override the defaults)."""
    data: dict[str, Any] = {
        "name": "fake",
        "command": f"{PY} {FAKE} --lr {{lr}} --seed {{seed}} --out {{trial_dir}}",
        "metrics": "{trial_dir}/metrics.jsonl",
        "objective": {"metric": "val/loss", "direction": "minimize", "take": "best"},
        "trials": 4,
        "parallel": 2,
        "sampler": "random",
        "pruner": {"kind": "none"},
        "trial_timeout_s": 60.0,
        "params": {
            "lr": {"role": "target", "type": "float", "low": 1e-4, "high": 1.0, "log": True}
        },
    }
    data.update(fields)
    return data


@pytest.fixture
def write_round(tmp_path: Path) -> Callable[..., RoundFile]:
    def write(**fields: Any) -> RoundFile:
        data = fake_round(tmp_path, **fields)
        path = tmp_path / "round.toml"
        path.write_text(_to_toml(data))
        return load_round(path)

    return write


def cpu_slots(n: int) -> list[Slot]:
    return plan_slots(n, gpus=[], cores=n)


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A PostgreSQL URL: a throwaway cluster on loopback, or $DLPILOT_TEST_POSTGRES_URL."""
    from ._postgres import postgres_url

    with postgres_url() as url:
        yield url
