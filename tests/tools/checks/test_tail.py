"""The one JSON-lines tailer both child runners read their events with."""

from __future__ import annotations

from pathlib import Path

from dlpilot.tools.checks._tail import JsonLinesTail


def test_only_complete_lines_are_read_and_the_rest_waits_for_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    tail = JsonLinesTail(path)
    assert tail.poll() == []  # not written yet
    path.write_bytes(b'{"a": 1}\n{"b"')
    assert tail.poll() == [{"a": 1}]
    with path.open("ab") as fh:
        fh.write(b': 2}\n[1, 2]\nnot json\n{"c": 3}')
    assert tail.poll() == [{"b": 2}]
    assert tail.bad_lines == 2  # a list and a broken line
    assert tail.finish() == [{"c": 3}]  # the last line, written without a newline
    assert tail.finish() == []
