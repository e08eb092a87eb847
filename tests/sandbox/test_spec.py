"""Fast, in-process tests of the child spec and result (``_spec``): results, errors,
environment, specs; and the bounded capture."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from dlpilot.errors import (
    ChildCrashed,
    ChildOutOfMemory,
    ChildTimeout,
    InvalidArgument,
    SandboxError,
)
from dlpilot.sandbox import (
    ChildResult,
    ChildSpec,
    build_env,
    python_executable,
    python_module_argv,
    raise_for_cause,
)
from dlpilot.sandbox._capture import BoundedCapture
from dlpilot.sandbox._netguard import MARKER

TRACEBACK = """\
Traceback (most recent call last):
  File "train.py", line 3, in <module>
    main()
ValueError: labels out of range
  note: the model has 10 outputs
"""


def result(cause: str, **fields: object) -> ChildResult:
    values: dict[str, object] = {
        "argv": ["/usr/bin/python3", "train.py"],
        "cause": cause,
        "exit_code": 1,
        "signal": None,
        "wall_s": 1.25,
        "timeout_s": 30.0,
    }
    values.update(fields)
    return ChildResult(**values)  # type: ignore[arg-type]


def test_describe_of_a_crash_quotes_the_exception_line_of_the_traceback() -> None:
    text = result("crash", stderr_tail=TRACEBACK).describe()
    assert text.startswith("crash")
    assert "ValueError: labels out of range" in text


def test_describe_names_each_cause_first() -> None:
    for cause in ("ok", "exit", "crash", "signal", "timeout", "oom", "cancelled"):
        text = result(cause, signal=signal.SIGSEGV if cause == "signal" else None).describe()
        assert text.startswith(cause), text
        assert "\n" not in text


def test_describe_of_a_timeout_says_the_limit_and_whether_sigkill_was_needed() -> None:
    text = result("timeout", exit_code=None, killed_with=signal.SIGKILL).describe()
    assert "30 s limit" in text
    assert "SIGKILL" in text


def test_describe_of_a_signal_names_the_signal() -> None:
    text = result("signal", exit_code=None, signal=signal.SIGSEGV).describe()
    assert "SIGSEGV" in text


def test_last_error_line_falls_back_to_stdout_when_stderr_is_empty() -> None:
    res = result("exit", exit_code=2, stdout_tail="epoch 1\nerror: no data found\n\n")
    assert res.last_error_line() == "error: no data found"
    assert res.output_tail.startswith("epoch 1")


def test_raise_for_cause_returns_an_ok_result() -> None:
    res = result("ok", exit_code=0)
    assert raise_for_cause(res) is res


@pytest.mark.parametrize(
    ("cause", "kind"),
    [
        ("timeout", ChildTimeout),
        ("oom", ChildOutOfMemory),
        ("crash", ChildCrashed),
        ("exit", ChildCrashed),
        ("signal", ChildCrashed),
        ("cancelled", SandboxError),
    ],
)
def test_raise_for_cause_raises_the_matching_sandbox_error(
    cause: str, kind: type[SandboxError]
) -> None:
    res = result(cause, exit_code=7, stderr_tail=TRACEBACK)
    with pytest.raises(kind) as info:
        raise_for_cause(res)
    assert type(info.value) is kind
    assert info.value.exit_code == 7
    assert "labels out of range" in info.value.output_tail
    assert str(info.value).startswith("python3: " + cause)


def test_bounded_capture_keeps_head_and_tail_and_counts_the_rest() -> None:
    capture = BoundedCapture(2048)
    capture.feed(b"first line\n")
    for i in range(10_000):
        capture.feed(f"line {i}\n".encode())
    capture.feed(b"last line\n")
    text = capture.text()
    assert text.startswith("first line\n")
    assert text.endswith("last line\n")
    assert capture.omitted > 50_000
    assert f"left out {capture.omitted} bytes" in text
    assert len(text) < 2048 + 100
    tail = capture.tail_text(3).splitlines()
    assert tail == ["line 9998", "line 9999", "last line"]


def test_bounded_capture_of_short_output_is_the_whole_output() -> None:
    capture = BoundedCapture(4096)
    capture.feed(b"a\nb\n")
    capture.feed(b"c\n")
    assert capture.text() == "a\nb\nc\n"
    assert capture.tail_text() == "a\nb\nc"
    assert capture.omitted == 0


def test_build_env_passes_only_allowed_parent_variables_and_adds_extras(tmp_path: Path) -> None:
    parent = {
        "PATH": "/bin",
        "LC_ALL": "C.UTF-8",
        "OPENAI_API_KEY": "sk-secret",
        "AWS_SECRET_ACCESS_KEY": "x",
    }
    env = build_env(ChildSpec([sys.executable], cwd=tmp_path, env={"SEED": "3"}), parent)
    assert env["PATH"] == "/bin"
    assert env["LC_ALL"] == "C.UTF-8"
    assert env["SEED"] == "3"
    assert "OPENAI_API_KEY" not in env
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert env["PYTHONUNBUFFERED"] == "1"


def test_build_env_passes_the_locale_variables_by_name_not_any_lc_prefixed_one(
    tmp_path: Path,
) -> None:
    parent = {"LC_CTYPE": "C.UTF-8", "LC_TIME": "C", "LC_API_TOKEN": "tok", "LC_X": "y"}
    env = build_env(ChildSpec([sys.executable], cwd=tmp_path), parent)
    assert env["LC_CTYPE"] == "C.UTF-8" and env["LC_TIME"] == "C"
    assert "LC_API_TOKEN" not in env and "LC_X" not in env


def test_a_nul_byte_in_an_argument_is_refused_naming_the_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"argv\[2\] holds a NUL byte"):
        ChildSpec([sys.executable, "x.py", "a\x00b"], cwd=tmp_path)


def test_build_env_under_no_network_sets_offline_switches_unless_given(tmp_path: Path) -> None:
    spec = ChildSpec([sys.executable], cwd=tmp_path, no_network=True, env={"WANDB_MODE": "x"})
    env = build_env(spec, {})
    assert env["HF_HUB_OFFLINE"] == "1"
    assert env["WANDB_MODE"] == "x"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("argv", []),
        ("argv", "python train.py"),
        ("timeout_s", 0),
        ("timeout_s", float("inf")),
        ("memory_limit_bytes", -1),
        ("output_limit_bytes", 10),
        ("kill_grace_s", -1.0),
        ("env", {"A": 1}),
        ("env_allow", "PATH"),
    ],
)
def test_a_spec_with_a_bad_value_is_refused_naming_the_value(
    tmp_path: Path, field: str, value: object
) -> None:
    fields: dict[str, object] = {"argv": [sys.executable], "cwd": tmp_path, field: value}
    with pytest.raises(InvalidArgument, match=field):
        ChildSpec(**fields)  # type: ignore[arg-type]


def test_python_executable_is_this_interpreter_unless_dlpilot_python_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DLPILOT_PYTHON", raising=False)
    assert python_executable() == sys.executable
    monkeypatch.setenv("DLPILOT_PYTHON", "/opt/env/bin/python")
    assert python_executable() == "/opt/env/bin/python"
    assert python_module_argv("pkg.train", "--epochs", "1") == [
        "/opt/env/bin/python",
        "-m",
        "pkg.train",
        "--epochs",
        "1",
    ]


def test_python_module_argv_refuses_an_option_as_module() -> None:
    with pytest.raises(InvalidArgument, match="-c"):
        python_module_argv("-c")


def test_the_network_guard_module_does_nothing_when_imported_by_name() -> None:
    import socket

    assert not getattr(socket, "_dlpilot_no_network", False)
    assert MARKER.startswith("dlpilot")
