"""The README's round-file example is a valid round, as documented."""

from __future__ import annotations

import re
from pathlib import Path

from dlpilot.tools.trials import load_round

README = Path(__file__).parents[3] / "README.md"


def test_the_readme_round_example_loads_with_its_documented_fields(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)
    example = next(b for b in blocks if b.startswith('name = "toy-lr-dropout"'))
    (tmp_path / "round.toml").write_text(example)
    round_ = load_round(tmp_path / "round.toml")
    assert round_.trials == 24 and round_.sampler == "tpe" and round_.pruner.min_step == 100
    assert round_.targets == ["lr"] and round_.nuisance == ["dropout", "width"]
    assert round_.seeds.top == 2 and round_.seeds.runs == 3
    assert round_.baseline == {"lr": 1e-3, "dropout": 0.1, "width": 128}
