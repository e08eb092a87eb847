from __future__ import annotations

import pytest

from dlpilot.runbook import OPS, Runbook, RunbookError, call, get_op


def test_every_op_is_a_tool_definition_with_a_json_schema():
    names = [op.name for op in OPS]
    assert len(set(names)) == len(names)
    for op in OPS:
        tool = op.tool()
        assert set(tool) == {"name", "description", "input_schema"}
        assert tool["input_schema"]["type"] == "object"
        assert op.output.model_json_schema()["type"] == "object"


def test_an_unknown_op_lists_the_ones_that_exist():
    with pytest.raises(
        RunbookError, match=r"no runbook operation 'runbook_launch'.*runbook_status"
    ):
        get_op("runbook_launch")


def test_bad_arguments_name_the_op_and_the_field(tmp_path):
    rb = Runbook(tmp_path)
    with pytest.raises(RunbookError, match=r"runbook_answer: field 'step' = 12"):
        call(rb, "runbook_answer", {"step": 12, "accept_proposal": True})
    with pytest.raises(RunbookError, match="field 'answer' is missing"):
        call(rb, "runbook_answer", {"step": 1})
    with pytest.raises(RunbookError, match="not a field"):
        call(rb, "runbook_status", {"verbose": True})


def test_an_answer_given_through_the_registry_is_recorded_with_its_why(tmp_path):
    rb = Runbook(tmp_path)
    result = call(rb, "runbook_answer", {
        "step": 1, "why": "the README says so",
        "answer": {"task_type": "regression", "business_goal": "predict load"},
    })  # fmt: skip
    assert result.next_step == 2
    record = rb.state().current.answers[1]
    assert record.why == "the README says so" and record.by == "agent"


def test_an_agent_that_accepts_the_proposal_is_recorded_as_the_agent_with_the_rules_why(tmp_path):
    rb = Runbook(tmp_path)
    proposal = rb.propose(1)
    call(rb, "runbook_answer", {"step": 1, "accept_proposal": True})
    record = rb.state().current.answers[1]
    assert record.by == "agent"
    assert record.answer.items() >= proposal.answer.items()
    assert record.why == f"accepted the rules' proposal: {proposal.why}"
    (tmp_path / "other").mkdir()
    other = Runbook(tmp_path / "other")
    call(other, "runbook_answer", {"step": 1, "accept_proposal": True, "why": "the README agrees"})
    assert other.state().current.answers[1].why == "the README agrees"
