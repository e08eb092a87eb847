from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dlpilot.runbook import Runbook, StateFileError
from tests.helpers.answers import ALL

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path


def _state_file(project: Path) -> Path:
    return project / ".dlpilot" / "runbook" / "state.json"


def test_the_state_is_written_with_its_schema_and_version(project):
    Runbook(project).answer(1, ALL[1])
    data = json.loads(_state_file(project).read_text())
    assert data["schema"] == "dlpilot.runbook.state" and data["version"] == 1
    assert data["rounds"][0]["answers"]["1"]["answer"]["task_type"] == "classification"
    assert not list(_state_file(project).parent.glob(".state.json.*"))  # no temporary left


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"hello": "world"}', "is not a dlpilot runbook state"),
        ('{"schema": "dlpilot.runbook.state", "version": 99}', "has version 99"),
        ('{"schema": "dlpilot.runbook.state", "version": 1, "rounds": 3}', "does not match"),
    ],
)
def test_a_corrupt_or_foreign_state_file_is_refused_and_left_as_it_is(project, text, message):
    path = _state_file(project)
    path.parent.mkdir(parents=True)
    path.write_text(text)
    rb = Runbook(project)
    with pytest.raises(StateFileError, match=message) as err:
        rb.status()
    assert str(path) in str(err.value)
    with pytest.raises(StateFileError, match=message):
        rb.answer(1, ALL[1])
    assert path.read_text() == text


def test_a_missing_state_file_with_rounds_on_disk_is_refused(project):
    rb = Runbook(project)
    for n in range(1, 8):
        rb.answer(n, ALL[n])
    _state_file(project).unlink()
    with pytest.raises(StateFileError, match=r"is missing but .* holds rounds"):
        rb.status()


def test_a_missing_project_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="is not a directory"):
        Runbook(tmp_path / "nope")


_WRITER = """
import sys
from dlpilot.runbook import Runbook
rb = Runbook(sys.argv[1])
tag, count, size = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for i in range(count):
    rb.add_evidence("note", f"{tag}-{i}", {"pad": "x" * size}, summary=tag)
"""


def _writer(project: Path, tag: str, count: int, size: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(project), tag, str(count), str(size)], env=env
    )


@pytest.mark.slow
def test_two_processes_writing_at_once_lose_nothing(project):
    writers = [_writer(project, tag, 25, 100) for tag in ("a", "b")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    state = Runbook(project).state()
    sources = [e.source for e in state.evidence]
    assert sorted(sources) == sorted([f"{t}-{i}" for t in "ab" for i in range(25)])
    assert len({e.id for e in state.evidence}) == 50


@pytest.mark.slow
def test_a_writer_killed_mid_write_leaves_a_valid_state(project):
    rb = Runbook(project)
    rb.answer(1, ALL[1])
    before = 0
    for delay in (0.3, 0.45, 0.6, 0.8):
        writer = _writer(project, "k", 1000, 400_000)  # each write is several MB
        time.sleep(delay)
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
        state = rb.state()  # parses: the old state or a newer one, never a torn file
        assert state.current.answers[1].answer["task_type"] == "classification"
        assert len(state.evidence) >= before
        before = len(state.evidence)
    assert before > 0  # the kills landed while the writer was writing
    rb.answer(2, ALL[2])  # the lock died with the writer
    assert rb.status().step == 3


@pytest.mark.parametrize("link", [".dlpilot", ".dlpilot/runbook", ".dlpilot/runbook/state.json"])
def test_a_state_location_that_links_out_of_the_project_is_refused_and_nothing_is_written_there(
    tmp_path, link
):
    project, outside = tmp_path / "project", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    where = project / link
    where.parent.mkdir(parents=True, exist_ok=True)
    target = outside / "state.json" if link.endswith(".json") else outside
    where.symlink_to(target)
    rb = Runbook(project)
    with pytest.raises(StateFileError, match="outside the project") as err:
        rb.answer(1, ALL[1])
    assert link.split("/")[-1] in str(err.value)
    with pytest.raises(StateFileError, match="outside the project"):
        rb.status()
    assert list(outside.rglob("*")) == []


def test_a_round_directory_that_links_out_of_the_project_gets_no_round_file(tmp_path):
    project, outside = tmp_path / "project", tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    rb = Runbook(project)
    for n in range(1, 7):
        rb.answer(n, ALL[n])
    rounds = project / ".dlpilot" / "runbook" / "rounds"
    rounds.mkdir(parents=True, exist_ok=True)
    (rounds / "1").symlink_to(outside)
    with pytest.raises(StateFileError, match="outside the project"):
        rb.answer(7, ALL[7])
    assert list(outside.rglob("*")) == []
    assert rb.status().step == 7  # the state still waits for step 7
