from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from dlpilot.agent import ClaudeAgent, claude_agent, drive_round
from dlpilot.runbook import Runbook, RunbookError
from tests.agent._fake import Body, ScriptedClaude, end_turn, tool_calls
from tests.helpers.answers import ALL, STUDY, TRIALS, answer


def test_the_agent_answers_one_step_at_a_time_in_one_conversation(project):
    fake = ScriptedClaude([tool_calls(answer(n)) for n in (1, 2, 3)])
    agent = claude_agent(client=fake.client())
    rb = Runbook(project)
    for _ in range(3):
        agent.answer_step(rb, rb.status().step, trials_cap=None)

    assert agent.name == "claude"
    assert sorted(rb.state().current.answers) == [1, 2, 3] and rb.status().step == 4
    assert len(fake.requests) == 3  # one call per step: each stops once its step is answered
    # the second step goes on in the same conversation: the first step's tool result, then
    # where the runbook stands now
    second = fake.requests[1]["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    result_block, note = second[-1]["content"]
    assert result_block["type"] == "tool_result" and '"step":1' in result_block["content"]
    assert note["type"] == "text" and "step 2 (metric)" in note["text"]
    assert "through step 2" in note["text"]
    summary = agent.summary()
    assert summary is not None and summary["turns"] == 3 and summary["answered"] == [1, 2, 3]


def test_the_agent_raises_a_runbook_error_with_the_reason_when_a_step_is_not_answered(project):
    fake = ScriptedClaude([end_turn("The task is unclear; a person should say what it is for.")])
    agent = ClaudeAgent(client=fake.client())
    with pytest.raises(RunbookError, match=r"step 1: Claude did not answer it.*task is unclear"):
        agent.answer_step(Runbook(project), 1, trials_cap=None)


def _walk_to(project: Path, upto: int) -> None:
    rb = Runbook(project)
    for n in range(1, upto + 1):
        rb.answer(n, ALL[n])


def test_the_trial_cap_refuses_a_bigger_budget_and_the_model_lowers_it(project):
    _walk_to(project, 5)
    capped_study = {**STUDY, "trials": 4}
    capped_round = copy.deepcopy(TRIALS)
    capped_round["round"]["trials"] = 4

    def lower_study(body: Body) -> Body:
        (sent,) = [b for b in body["messages"][-1]["content"] if b["type"] == "tool_result"]
        assert (
            sent["is_error"]
            and "field 'trials' = 6 exceeds the round's cap of 4" in sent["content"]
        )
        return tool_calls(answer(6, capped_study))

    def lower_round(body: Body) -> Body:
        (sent,) = [b for b in body["messages"][-1]["content"] if b["type"] == "tool_result"]
        assert sent["is_error"] and "field 'round.trials' = 6 exceeds" in sent["content"]
        return tool_calls(answer(7, capped_round))

    fake = ScriptedClaude([tool_calls(answer(6)), lower_study, tool_calls(answer(7)), lower_round])
    result = drive_round(project, client=fake.client(), trials_cap=4, through=7)

    assert result.done and result.rejected == 2 and result.answered == [6, 7]
    assert "capped at 4 trials" in fake.requests[0]["messages"][0]["content"]
    answers = Runbook(project).state().current.answers
    assert answers[6].answer["trials"] == 4 and answers[7].answer["round"]["trials"] == 4


def test_under_a_trial_cap_the_rules_proposal_cannot_be_taken_as_is_for_step_six(project):
    _walk_to(project, 5)
    accept = ("runbook_answer", {"step": 6, "accept_proposal": True})
    fake = ScriptedClaude([tool_calls(accept), end_turn("stopping")])
    result = drive_round(project, client=fake.client(), trials_cap=4)
    (sent,) = fake.tool_results(1)
    assert sent["is_error"] and "instead of accept_proposal" in sent["content"]
    assert result.answered == [] and 6 not in Runbook(project).state().current.answers


def _accept_the_current_step(body: Body) -> Body:
    """A model that reads the step it is asked for and takes the rules' proposal."""
    last = body["messages"][-1]["content"]
    texts = [last] if isinstance(last, str) else [b["text"] for b in last if b["type"] == "text"]
    found = re.search(r"at step (\d+)", texts[-1])
    assert found, texts[-1]
    step = int(found.group(1))
    return tool_calls(("runbook_answer", {"step": step, "accept_proposal": True}))


def test_dlpilot_round_walks_a_whole_round_with_the_claude_agent(project):
    rounds = pytest.importorskip("dlpilot.rounds", reason="dlpilot round is not in this build")
    fake = ScriptedClaude([_accept_the_current_step] * 9)
    agent = claude_agent(client=fake.client())
    launcher = rounds.FakeLauncher()
    outcome = rounds.walk_round(project, agent=agent, launcher=launcher, launch=True)

    assert outcome.agent == "claude" and outcome.launched
    assert outcome.reason == "round 1 closed; round 2 starts at step 4"
    # the model accepted the rules' proposals: the answers are its own, not the rules'
    answers = Runbook(project).state().rounds[0].answers
    assert sorted(answers) == list(range(1, 10))
    assert all(
        a.by == "agent" and "accepted the rules' proposal" in a.why for a in answers.values()
    )
    summary = agent.summary()
    assert summary is not None and summary["answered"] == list(range(1, 10))
    assert summary["turns"] == len(fake.requests) == 9
    # what summary.json carries about the model: its turns, token usage and cost estimate
    assert outcome.agent_usage is not None and outcome.agent_usage["turns"] == 9
    assert "usage" in outcome.agent_usage
    history = Runbook(project).history()
    assert history.rounds[0].decision is not None
