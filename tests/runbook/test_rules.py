from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from dlpilot.runbook import Runbook, RunbookError, call
from dlpilot.tools.trials import BestTrial, RoundAnswer, StudySummary, TrialRecord
from tests.conftest import EXAMPLE


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "glyph"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("runs", ".dlpilot"))
    return root


def _curves(run: Path, *, train: list[float], dev: list[float]) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    lines = [
        {"step": 10 * (i + 1), "train/acc": 1 - t, "val/acc": 1 - d, "train/loss": 2 * t + 0.01,
         "val/loss": 2 * d + 0.01}
        for i, (t, d) in enumerate(zip(train, dev, strict=True))
    ]  # fmt: skip
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return run


def _decay(end: float, n: int = 20) -> list[float]:
    return [end + 0.5 * math.exp(-5 * i / n) for i in range(n)]


def _accept(rb: Runbook, *steps: int) -> None:
    for n in steps:
        call(rb, "runbook_answer", {"step": n, "accept_proposal": True})


def test_an_error_level_finding_makes_the_bottleneck_bugs(project):
    rb = Runbook(project)
    _accept(rb, 1, 2, 3)
    finding = {
        "id": "runtime.loss-nonfinite", "severity": "error", "message": "loss is nan at step 3",
        "evidence": [{"how": "runtime", "step": 3}],
    }  # fmt: skip
    rb.add_evidence("check", "dlpilot check -- python train.py", {"findings": [finding]})
    proposal = rb.propose(4)
    assert proposal.answer["bottleneck"] == "bugs"
    assert proposal.answer["findings"] == ["runtime.loss-nonfinite"]
    assert "5.2" in proposal.why
    _accept(rb, 4, 5)
    assert rb.state().current.answers[5].answer["kind"] == "fix-bugs"
    with pytest.raises(RunbookError, match="bottleneck is bugs"):
        rb.propose(6)


def test_without_curves_the_bottleneck_rule_says_what_to_gather(project):
    rb = Runbook(project)
    _accept(rb, 1, 2, 3)
    with pytest.raises(RunbookError, match="no training curves recorded yet"):
        rb.propose(4)


def test_a_dev_error_far_above_train_error_is_variance_with_the_numbers(project, tmp_path):
    rb = Runbook(project)
    _accept(rb, 1, 2, 3)
    run = _curves(project / "runs" / "a", train=_decay(0.01), dev=_decay(0.10))
    call(rb, "runbook_gather", {"kinds": ["curves"], "curves": str(run)})
    proposal = rb.propose(4)
    assert proposal.answer["bottleneck"] == "variance"
    assert proposal.answer["numbers"]["dev_error"] == pytest.approx(0.10, abs=0.01)
    assert "train_error" in proposal.why and "§4.1" in proposal.why


def test_the_curves_path_must_lie_inside_the_project(project, tmp_path):
    with pytest.raises(RunbookError, match="outside the project"):
        call(Runbook(project), "runbook_gather", {"kinds": ["curves"], "curves": "../.."})


def test_a_high_train_error_is_bias_and_the_goal_is_a_larger_model(project, tmp_path):
    rb = Runbook(project)
    _accept(rb, 1, 2, 3)
    run = _curves(project / "runs" / "base", train=_decay(0.30), dev=_decay(0.31))
    call(rb, "runbook_gather", {"kinds": ["curves"], "curves": str(run)})
    _accept(rb, 4)
    assert rb.state().current.answers[4].answer["bottleneck"] == "bias"
    goal = rb.propose(5)
    assert goal.answer["kind"] == "reduce-bias" and goal.answer["targets"] == ["width"]
    _accept(rb, 5)
    study = rb.propose(6).answer
    assert study["params"]["width"] == {"role": "target", "type": "int", "low": 16, "high": 64,
                                        "log": True}  # fmt: skip
    lr = study["params"]["lr"]
    assert lr["role"] == "nuisance" and lr["log"] is True
    assert lr["low"] == pytest.approx(3e-4) and lr["high"] == pytest.approx(3e-2)
    assert study["params"]["batch_size"] == {"role": "fixed", "type": "fixed", "value": 64}
    assert study["sampler"] == "qmc"


def test_the_lr_range_test_informs_the_learning_rate_space(project, tmp_path):
    rb = Runbook(project)
    _accept(rb, 1, 2, 3)
    run = _curves(project / "runs" / "b", train=_decay(0.01), dev=_decay(0.10))
    call(rb, "runbook_gather", {"kinds": ["curves"], "curves": str(run)})
    rb.add_evidence("lr-range", "dlpilot lr-range", {"suggestion": 0.01, "min_loss_lr": 0.02})
    _accept(rb, 4, 5)
    proposal = rb.propose(6)
    lr = proposal.answer["params"]["lr"]
    assert lr["low"] == pytest.approx(0.003 / math.sqrt(10), rel=1e-3)
    assert lr["high"] == pytest.approx(0.02)  # capped at the loss minimum, not 0.01 * 10**0.5
    assert "LR range test" in proposal.why


def test_a_compute_bound_project_gets_stage_one_of_the_two_stage_plan(project):
    rb = Runbook(project)
    _accept(rb, 1, 2, 3)
    run = _curves(project / "runs" / "b", train=_decay(0.01), dev=_decay(0.10))
    with rb.store.transaction() as state:
        from dlpilot.runbook._rules._evidence import curves_evidence

        curves_evidence(state, run, seconds=3 * 3600.0)
    _accept(rb, 4, 5)
    study = rb.propose(6).answer
    assert study["compute_bound"] is True and study["stage"] == 1
    assert study["params"]["epochs"]["value"] == 1  # 15% of 8 epochs
    assert study["stage_fraction"] == pytest.approx(0.15)


def _summary(name: str, best: float, base: float, spread: float | None) -> dict:
    trials = [
        TrialRecord(number=0, state="complete", kind="baseline", value=base,
                    params={"dropout": 0.2, "lr": 0.003, "weight_decay": 1e-4}),
        TrialRecord(number=1, state="complete", value=best,
                    params={"dropout": 0.49, "lr": 0.001, "weight_decay": 1e-3}),
    ]  # fmt: skip
    return StudySummary(
        study=name,
        direction="maximize",
        metric="val/acc",
        trials=trials,
        baseline=trials[0],
        best=BestTrial(number=1, value=best, params=trials[1].params),
        answer=RoundAnswer(seed_spread=spread),
    ).model_dump(mode="json")


@pytest.mark.parametrize(
    ("best", "spread", "promote", "words"),
    [(0.95, 0.005, True, "exceeds the seed spread"),
     (0.921, 0.005, False, "does not exceed"),
     (0.95, None, False, "no seed spread")],
)  # fmt: skip
def test_step_nine_promotes_only_beyond_the_seed_spread(project, best, spread, promote, words):
    rb = Runbook(project)
    _accept(rb, 1, 2, 3)
    run = _curves(project / "runs" / "b", train=_decay(0.01), dev=_decay(0.10))
    call(rb, "runbook_gather", {"kinds": ["curves"], "curves": str(run)})
    _accept(rb, 4, 5, 6, 7)
    name = rb.state().current.answers[7].answer["round"]["name"]
    rb.add_evidence("trials", "fake", _summary(name, best, 0.92, spread))
    analysis = rb.propose(8).answer
    assert analysis["boundary"] == [{"param": "dropout", "side": "high", "value": 0.49}]
    assert analysis["diagnosis"] == "insufficient data"  # the trials have no curve directories
    _accept(rb, 8)
    decision = rb.propose(9)
    assert decision.answer["promote"] is promote and words in decision.answer["reason"]
    assert "Expand the search range of dropout" in decision.answer["next_goal"]
    _accept(rb, 9)
    assert rb.status().round == 2 and rb.status().step == 4


def test_a_trials_summary_of_another_study_is_refused(project):
    rb = Runbook(project)
    _accept(rb, 1, 2, 3)
    run = _curves(project / "runs" / "b", train=_decay(0.01), dev=_decay(0.10))
    call(rb, "runbook_gather", {"kinds": ["curves"], "curves": str(run)})
    _accept(rb, 4, 5, 6, 7)
    rb.add_evidence("trials", "fake", _summary("other-study", 0.9, 0.9, 0.01))
    with pytest.raises(RunbookError, match="not this round's"):
        rb.propose(8)
