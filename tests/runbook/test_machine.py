from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from dlpilot.runbook import STEPS, Runbook, RunbookError, dependents
from dlpilot.tools.trials import load_round
from tests.helpers.answers import ALL, BOTTLENECK, GOAL, METRIC, STUDY


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "train.py").write_text("print('hi')\n")
    return tmp_path


def _walk(rb: Runbook, upto: int) -> None:
    for n in range(1, upto + 1):
        if n not in rb.state().current.answers:
            rb.answer(n, ALL[n], by="test")


def test_a_fresh_runbook_starts_at_step_one_with_its_question(project):
    status = Runbook(project).status()
    assert (status.round, status.step, status.name) == (1, 1, "task")
    assert "task" in status.question
    assert status.answer_schema["properties"]["task_type"]
    assert not (project / ".dlpilot").exists()  # reading writes nothing


def test_a_step_cannot_be_answered_before_its_prerequisite(project):
    rb = Runbook(project)
    with pytest.raises(RunbookError, match=r"step 2 \(metric\) needs step 1 \(task\)"):
        rb.answer(2, METRIC)


def test_an_invalid_answer_names_the_step_and_the_field(project):
    rb = Runbook(project)
    rb.answer(1, ALL[1])
    bad = copy.deepcopy(METRIC)
    del bad["splits"]["dev"]
    with pytest.raises(RunbookError, match=r"step 2 \(metric\): field 'splits.dev' is missing"):
        rb.answer(2, bad)
    bad = {**METRIC, "direction": "sideways"}
    with pytest.raises(RunbookError, match=r"field 'direction' = 'sideways'"):
        rb.answer(2, bad)
    assert rb.status().step == 2  # nothing was recorded


def test_train_dev_is_required_when_training_data_differs_from_deployment(project):
    rb = Runbook(project)
    rb.answer(1, ALL[1])
    bad = copy.deepcopy(METRIC)
    bad["splits"]["train_matches_deployment"] = False
    with pytest.raises(RunbookError, match="train_dev is needed"):
        rb.answer(2, bad)


def test_answering_a_step_twice_asks_for_a_revision(project):
    rb = Runbook(project)
    rb.answer(1, ALL[1])
    with pytest.raises(RunbookError, match=r"already answered.*revise"):
        rb.answer(1, ALL[1])


def test_revising_a_step_reopens_its_dependents_and_says_which(project):
    rb = Runbook(project)
    _walk(rb, 6)
    result = rb.revise(4)
    assert result.reopened == [4, 5, 6]
    assert "5 (goal)" in result.message and "6 (study)" in result.message
    assert sorted(rb.state().current.answers) == [1, 2, 3]
    assert rb.status().step == 4


def test_the_transition_table_knows_what_depends_on_what():
    assert dependents(3) == [4, 5, 6, 7, 8, 9]
    assert dependents(8) == [9]
    assert all(r < s.number for s in STEPS.values() for r in s.requires)


def test_a_bugs_bottleneck_blocks_the_study_until_it_is_revised(project):
    rb = Runbook(project)
    _walk(rb, 3)
    with pytest.raises(RunbookError, match="findings"):
        rb.answer(4, {**BOTTLENECK, "bottleneck": "bugs"})
    rb.answer(4, {**BOTTLENECK, "bottleneck": "bugs", "findings": ["S101"]})
    assert "bugs" in (rb.status().blocked or "")
    with pytest.raises(RunbookError, match="fix-bugs"):
        rb.answer(5, GOAL)
    rb.answer(5, {"kind": "fix-bugs", "question": "fix S101"})
    with pytest.raises(RunbookError, match="bottleneck is bugs"):
        rb.answer(6, STUDY)


def test_step_six_must_optimize_step_twos_metric(project):
    rb = Runbook(project)
    _walk(rb, 5)
    bad = {**STUDY, "objective": {"metric": "val/loss", "direction": "minimize"}}
    with pytest.raises(RunbookError, match=r"objective.metric.*val/acc"):
        rb.answer(6, bad)


def test_step_seven_writes_a_round_file_that_loads_back(project):
    rb = Runbook(project)
    _walk(rb, 6)
    result = rb.answer(7, ALL[7])
    path = Path(result.files[0])
    assert path.name == "round.toml" and path.is_file()
    loaded = load_round(path)
    assert loaded.work_dir == project.resolve()
    assert set(loaded.params) == {"dropout", "lr"}
    assert tomllib.loads(path.read_text())["name"] == "r1-dropout"


def test_step_seven_refuses_a_round_that_disagrees_with_the_study(project):
    rb = Runbook(project)
    _walk(rb, 6)
    bad = copy.deepcopy(ALL[7])
    bad["round"]["params"]["lr"]["role"] = "target"
    with pytest.raises(RunbookError, match=r"round.params"):
        rb.answer(7, bad)
    bad = copy.deepcopy(ALL[7])
    bad["round"]["command"] = "python train.py --out {trial_dir}"
    with pytest.raises(RunbookError, match=r"step 7.*placeholder"):
        rb.answer(7, bad)


def test_a_promotion_within_the_seed_spread_is_refused(project):
    rb = Runbook(project)
    _walk(rb, 8)
    with pytest.raises(RunbookError, match="does not exceed the seed spread"):
        rb.answer(9, {**ALL[9], "improvement": 0.001})


def test_step_nine_closes_the_round_and_the_next_starts_at_step_four(project):
    rb = Runbook(project)
    _walk(rb, 8)
    result = rb.answer(9, ALL[9])
    assert result.new_round == 2 and result.next_step == 4
    state = rb.state()
    assert [r.number for r in state.rounds] == [1, 2]
    assert state.rounds[0].closed and state.rounds[0].decision["promote"] is True
    new = state.current
    assert sorted(new.answers) == [1, 2, 3]
    assert new.answers[3].answer["config"] == {"lr": 0.002, "dropout": 0.35}
    assert new.baseline["value"] == 0.95
    history = rb.history()
    assert len(history.rounds) == 2 and history.rounds[0].answers[7]
