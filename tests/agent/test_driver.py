from __future__ import annotations

import copy
import re
import typing
from pathlib import Path
from typing import Any

import anthropic.types
import pytest
from anthropic._data import DEPRECATED_MODELS

from dlpilot.agent import DEFAULT_MODEL, AgentError, MissingApiKey, drive_round
from dlpilot.errors import InvalidArgument
from dlpilot.runbook import OPS, Runbook
from dlpilot.tools.trials import load_round
from tests.agent._fake import Body, HttpError, ScriptedClaude, end_turn, tool_calls
from tests.helpers.answers import ALL, CURVES_EVIDENCE, METRIC, answer

STATUS = ("runbook_status", {})


def _answers_on_disk(project: Path) -> dict[int, dict[str, Any]]:
    rnd = Runbook(project).state().current
    return {n: rec.answer for n, rec in rnd.answers.items()}


def test_a_model_that_walks_steps_one_to_seven_leaves_validated_answers_and_the_round_file(
    project,
):
    fake = ScriptedClaude(
        [
            tool_calls(STATUS, text="Reading where the runbook stands."),
            tool_calls(answer(1, why="train.py trains a 10-class CNN")),
            tool_calls(answer(2), answer(3)),
            tool_calls(("runbook_add_evidence", CURVES_EVIDENCE)),
            tool_calls(answer(4, why="e1: 1% train error, 7% dev error")),
            tool_calls(answer(5), answer(6)),
            tool_calls(answer(7)),
        ]
    )
    lines: list[str] = []
    result = drive_round(project, client=fake.client(), through=7, progress=lines.append)

    assert result.done and result.stop == "done"
    assert result.answered == [1, 2, 3, 4, 5, 6, 7]
    assert (result.round, result.start_step, result.step) == (1, 1, 8)
    assert result.turns == len(fake.requests) == 7  # no call after the last step was answered
    assert result.rejected == 0
    assert "claude: runbook_answer: step 7 answered" in lines and len(lines) == 9
    # the answers are the runbook's, validated and persisted, attributed to the agent
    rnd = Runbook(project).state().current
    assert sorted(rnd.answers) == [1, 2, 3, 4, 5, 6, 7]
    assert rnd.answers[4].answer["bottleneck"] == "variance"
    assert rnd.answers[1].by == "agent" and "10-class" in rnd.answers[1].why
    assert Runbook(project).status().step == 8
    round_file = load_round(project / rnd.round_file)
    assert round_file.name == "r1-dropout" and set(round_file.params) == {"dropout", "lr"}
    # what the model was told and given
    first = fake.requests[0]
    assert first["model"] == DEFAULT_MODEL
    assert "seed 001 section 7" in first["system"]
    assert "step 1 (task)" in first["messages"][0]["content"]
    assert "through step 7" in first["messages"][0]["content"]
    # each tool result is the op's typed output as JSON
    (status_result,) = fake.tool_results(1)
    assert '"step":1' in status_result["content"] and "is_error" not in status_result


def test_a_wrong_answer_goes_back_with_the_reason_and_the_model_corrects_it(project):
    wrong = {**METRIC, "direction": "sideways"}

    def correct_itself(body: Body) -> Body:
        (result,) = [b for b in body["messages"][-1]["content"] if b["type"] == "tool_result"]
        assert result.get("is_error") is True
        return tool_calls(answer(2, METRIC, why="the metric is maximized"))

    fake = ScriptedClaude([tool_calls(answer(1)), tool_calls(answer(2, wrong)), correct_itself])
    result = drive_round(project, client=fake.client(), through=2)

    assert result.done and result.answered == [1, 2]
    assert result.rejected == 1
    refused = result.tool_calls[1]
    assert not refused.ok and "field 'direction' = 'sideways'" in refused.error
    # the request sent back to the model carries the runbook's reason
    (sent,) = fake.tool_results(2)
    assert sent["is_error"] is True
    assert (
        "step 2 (metric)" in sent["content"] and "field 'direction' = 'sideways'" in sent["content"]
    )
    assert _answers_on_disk(project)[2]["direction"] == "maximize"


def test_an_answer_to_a_later_step_is_refused_naming_the_missing_step(project):
    fake = ScriptedClaude([tool_calls(answer(3)), end_turn("I will wait for steps 1 and 2.")])
    result = drive_round(project, client=fake.client())

    (sent,) = fake.tool_results(1)
    assert sent["is_error"] is True and "step 3 (baseline) needs step 2 (metric)" in sent["content"]
    assert result.stop == "end_turn" and result.answered == []
    assert _answers_on_disk(project) == {}  # nothing was recorded


def test_a_tool_that_does_not_exist_is_refused_naming_the_real_tools(project):
    fake = ScriptedClaude(
        [
            tool_calls(("runbook_skip_to", {"step": 7})),
            end_turn("There is no way to skip; stopping here."),
        ]
    )
    result = drive_round(project, client=fake.client())

    (sent,) = fake.tool_results(1)
    assert sent["is_error"] is True
    assert "no tool 'runbook_skip_to'" in sent["content"]
    for op in OPS:
        assert op.name in sent["content"]
    assert result.stop == "end_turn" and result.rejected == 1
    assert "ended its turn" in result.message and "no way to skip" in result.message
    assert Runbook(project).status().step == 1


@pytest.mark.parametrize(("status", "kind"), [(529, "overloaded_error"), (500, "api_error")])
def test_an_api_error_mid_round_keeps_the_answers_and_a_new_drive_continues(project, status, kind):
    fake = ScriptedClaude(
        [
            tool_calls(answer(1)),
            tool_calls(answer(2)),
            HttpError(status, kind, "try again later"),
        ]
    )
    with pytest.raises(AgentError, match=rf"HTTP {status}.*run the same command again") as info:
        drive_round(project, client=fake.client(), through=7)

    assert "round 1 is at step 3" in str(info.value)
    partial = info.value.result
    assert partial is not None and partial.stop == "api_error"
    assert partial.answered == [1, 2] and len(partial.usage.calls) == 2
    assert sorted(_answers_on_disk(project)) == [1, 2]

    def continue_at_step_three(body: Body) -> Body:
        assert "step 3 (baseline)" in body["messages"][0]["content"]
        return tool_calls(answer(3))

    again = ScriptedClaude([continue_at_step_three])
    result = drive_round(project, client=again.client(), through=3)
    assert result.done and result.start_step == 3 and result.answered == [3]
    assert sorted(_answers_on_disk(project)) == [1, 2, 3]


def test_a_drive_through_step_nine_stops_when_the_round_is_closed(project):
    rb = Runbook(project)
    for n in range(1, 8):
        rb.answer(n, ALL[n])
    fake = ScriptedClaude([tool_calls(answer(8)), tool_calls(answer(9))])
    result = drive_round(project, client=fake.client(), through=9)

    assert result.done and result.answered == [8, 9] and len(fake.requests) == 2
    assert (result.round, result.new_round, result.step) == (1, 2, 4)
    assert result.message == "round 1 closed; round 2 starts at step 4"
    assert "Steps 8 and 9" in fake.requests[0]["messages"][0]["content"]
    history = Runbook(project).history()
    assert history.rounds[0].decision is not None and history.rounds[0].decision["promote"]


def test_a_drive_whose_steps_are_already_answered_makes_no_call(project):
    rb = Runbook(project)
    rb.answer(1, ALL[1])
    rb.answer(2, ALL[2])
    fake = ScriptedClaude([])
    result = drive_round(project, client=fake.client(), through=2)
    assert result.done and result.turns == 0 and fake.requests == []


def test_the_drive_stops_at_the_turn_limit_and_says_so(project):
    fake = ScriptedClaude([tool_calls(STATUS) for _ in range(5)])
    result = drive_round(project, client=fake.client(), max_turns=3)

    assert result.stop == "max_turns" and not result.done
    assert result.turns == len(fake.requests) == 3
    assert "turn limit" in result.message and "running again continues" in result.message
    assert result.step == 1


def test_a_reply_cut_at_max_tokens_stops_the_drive(project):
    cut = end_turn("The answer to step 1 is")
    cut["stop_reason"] = "max_tokens"
    fake = ScriptedClaude([cut])
    result = drive_round(project, client=fake.client(), max_tokens=16)
    assert result.stop == "max_tokens" and "max_tokens" in result.message
    assert fake.requests[0]["max_tokens"] == 16


def test_the_token_budget_stops_the_drive_before_the_next_call(project):
    fake = ScriptedClaude([tool_calls(STATUS, usage=(900, 200)) for _ in range(3)])
    result = drive_round(project, client=fake.client(), token_budget=2000)
    assert result.stop == "token_budget" and result.turns == 2
    assert result.usage.total_tokens == 2200


def _with_usage(body: Body, **usage: int) -> Body:
    body = copy.deepcopy(body)
    body["usage"].update(usage)
    return body


def test_usage_is_summed_over_the_calls_and_priced_for_a_known_model(project):
    replies = [
        _with_usage(tool_calls(STATUS), input_tokens=1000, output_tokens=100,
                    cache_creation_input_tokens=2000),
        _with_usage(tool_calls(answer(1)), input_tokens=2000, output_tokens=200,
                    cache_read_input_tokens=10000),
    ]  # fmt: skip
    fake = ScriptedClaude(replies)
    result = drive_round(project, client=fake.client(), model="claude-sonnet-4-6", through=1)

    usage = result.usage
    assert [(c.input_tokens, c.output_tokens) for c in usage.calls] == [(1000, 100), (2000, 200)]
    assert (usage.input_tokens, usage.output_tokens) == (3000, 300)
    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (2000, 10000)
    # $3 / $15 per million; cache writes 1.25x and reads 0.1x the input price
    expected = (3000 * 3 + 300 * 15 + 2000 * 3 * 1.25 + 10000 * 3 * 0.1) / 1e6
    assert result.cost_usd == pytest.approx(expected)
    assert fake.requests[0]["model"] == "claude-sonnet-4-6"
    summary = result.summary()
    assert summary["cost_usd"] == result.cost_usd and summary["turns"] == 2
    assert summary["usage"] == {
        "input_tokens": 3000, "output_tokens": 300, "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 10000,
    }  # fmt: skip


def test_an_unpriced_model_reports_usage_but_no_cost(project):
    fake = ScriptedClaude([tool_calls(answer(1))])
    result = drive_round(project, client=fake.client(), model="claude-local-test", through=1)
    assert result.usage.input_tokens == 1000 and result.cost_usd is None


def test_the_tools_sent_are_exactly_the_runbook_ops_and_their_input_schemas(project):
    fake = ScriptedClaude([end_turn("nothing to do")])
    drive_round(project, client=fake.client())

    sent = fake.requests[0]["tools"]
    assert [t["name"] for t in sent] == [op.name for op in OPS]
    for tool, op in zip(sent, OPS, strict=True):
        # the same definition the MCP server registers: Op.tool(), the input model's schema
        assert tool == op.tool()
        assert tool["input_schema"] == op.input.model_json_schema()


def test_without_a_key_and_a_client_the_drive_says_to_set_anthropic_api_key(project):
    with pytest.raises(MissingApiKey, match="ANTHROPIC_API_KEY is not set"):
        drive_round(project, env={})
    assert not (project / ".dlpilot").exists()


@pytest.mark.parametrize(
    "kwargs",
    [{"max_turns": 0}, {"max_tokens": 0}, {"token_budget": -1}, {"through": 10}, {"model": " "}],
)
def test_bad_limits_are_refused_naming_the_value(project, kwargs):
    ((name, value),) = kwargs.items()
    shown = repr(value) if isinstance(value, str) else str(value)
    with pytest.raises(InvalidArgument, match=rf"{name} = {re.escape(shown)}:"):
        drive_round(project, client=ScriptedClaude([]).client(), **kwargs)


def test_the_default_model_is_a_current_model_of_the_sdk():
    literal = typing.get_args(anthropic.types.ModelParam)[0]
    assert DEFAULT_MODEL in typing.get_args(literal)
    assert DEFAULT_MODEL not in DEPRECATED_MODELS
    assert "sonnet" in DEFAULT_MODEL and DEFAULT_MODEL != "claude-sonnet-4-5"


async def test_the_tools_sent_are_the_ones_the_mcp_server_lists_for_the_runbook(project):
    from mcp import Client

    from dlpilot.server import build_server

    async with Client(build_server([project])) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    if not any(op.name in listed for op in OPS):
        pytest.skip("this build's MCP server does not register the runbook tools yet")
    fake = ScriptedClaude([end_turn("nothing to do")])
    drive_round(project, client=fake.client())
    for tool in fake.requests[0]["tools"]:
        served = listed[tool["name"]]
        assert served.description == tool["description"]
        # the server adds only the project (the driver binds it to its runbook)
        assert set(served.input_schema["properties"]) == {
            "project",
            *tool["input_schema"]["properties"],
        }
