"""Every failure of the ``dlpilot`` command says why, with exit status 2; ``--json`` prints one
JSON object even then."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def _dlpilot(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlpilot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_script_that_exits_non_zero_before_training_is_exit_2_with_the_code(tmp_path):
    (tmp_path / "train.py").write_text("import sys\nprint('bad config')\nsys.exit(4)\n")
    out = _dlpilot("check", "--json", "--", "python", "train.py", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    report = json.loads(out.stdout)  # one JSON object
    assert "code 4" in report["error"] and "bad config" in report["error"]
    assert "nothing was checked" in out.stderr


def test_json_is_one_object_with_the_error_when_the_command_cannot_start(tmp_path):
    out = _dlpilot("check", "--json", "--", "python", "missing.py", cwd=tmp_path)
    assert out.returncode == 2
    assert "missing.py" in json.loads(out.stdout)["error"]
    out = _dlpilot("curves", "--json", str(tmp_path / "nothing"), cwd=tmp_path)
    assert out.returncode == 2
    assert "nothing" in json.loads(out.stdout)["error"]


def test_json_is_one_object_even_when_the_arguments_are_bad(tmp_path):
    out = _dlpilot("check", "--json", "--steps", "many", "--", "python", "t.py", cwd=tmp_path)
    assert out.returncode == 2
    assert "error" in json.loads(out.stdout) and "--steps" in out.stderr


def test_a_path_the_os_refuses_as_too_long_is_exit_2_naming_it_shortened(tmp_path):
    long = "x" * 100_000  # the kernel takes at most 128 KiB per argument
    out = _dlpilot("curves", "--json", long, cwd=tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    error = json.loads(out.stdout)["error"]
    assert "xxxx" in error and len(error) < 1000


def test_a_jsonl_line_nested_100000_deep_is_skipped_and_the_rest_is_read(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "metrics.jsonl").write_text(
        '{"step": 1, "loss": 1.0}\n' + deep + '\n{"step": 2, "loss": 0.5}\n'
    )
    out = _dlpilot("curves", "--json", "metrics.jsonl", cwd=tmp_path)
    assert out.returncode in (0, 1), out.stderr[-2000:]
    diagnosis = json.loads(out.stdout)
    text = json.dumps(diagnosis)
    assert "line 2" in text and "nested too deeply" in text
