"""The one command parser knows the launchers people type: no process is started here."""

from __future__ import annotations

import sys

import pytest

from dlpilot.errors import InvalidArgument, PathNotAllowed
from dlpilot.tools.checks import parse_command, parse_env_options
from dlpilot.tools.checks._envvars import defaulted_reads, dropped_variables


def _project(tmp_path):
    (tmp_path / "train.py").write_text("print('hi')\n")
    (tmp_path / "run.sh").write_text("python train.py\n")
    (tmp_path / "Makefile").write_text("train:\n\tpython train.py\n")
    return tmp_path


def test_torchrun_runs_the_torch_launcher_module_with_dlpilots_interpreter(tmp_path):
    cwd = _project(tmp_path)
    cmd = parse_command(["torchrun", "--nproc_per_node=2", "train.py", "--lr", "1"], cwd)
    assert cmd.launcher == "torchrun"
    assert cmd.rest[1:3] == ["-m", "torch.distributed.run"]
    assert cmd.rest[3:] == ["--nproc_per_node=2", "train.py", "--lr", "1"]
    assert cmd.file == cwd / "train.py"
    same = parse_command(["python", "-m", "torch.distributed.run", "train.py"], cwd)
    assert same.launcher == "torchrun" and same.file == cwd / "train.py"


def test_env_bash_make_and_accelerate_are_launchers_or_variables(tmp_path):
    cwd = _project(tmp_path)
    env = parse_command(["env", "A=1", "B=x=y", "python", "train.py"], cwd)
    assert env.launcher is None and env.env == {"A": "1", "B": "x=y"}
    assert env.rest == ["train.py"]
    assert parse_command(["bash", "run.sh"], cwd).file == cwd / "run.sh"
    assert parse_command(["make", "train"], cwd).launcher == "make"
    acc = parse_command(["accelerate", "launch", "--num_processes=2", "train.py"], cwd)
    assert acc.launcher == "accelerate" and acc.file == cwd / "train.py"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["env", "1BAD=2", "python", "train.py"], "1BAD"),
        (["env", "-i", "python", "train.py"], "-i"),
        (["bash", "missing.sh"], "missing.sh"),
        (["bash", "-c", "python train.py"], "script file"),
        (["accelerate", "config"], "accelerate launch"),
    ],
)
def test_a_bad_launcher_command_is_refused_naming_the_bad_part(tmp_path, argv, named):
    with pytest.raises(InvalidArgument, match=named):
        parse_command(argv, _project(tmp_path))


def test_make_without_a_makefile_is_refused(tmp_path):
    with pytest.raises(InvalidArgument, match="no Makefile"):
        parse_command(["make", "train"], tmp_path)


def test_with_a_guard_a_launcher_must_name_a_file_inside_the_roots(tmp_path):
    cwd = _project(tmp_path)

    def guard(path):
        if not str(path).startswith(str(cwd)):
            raise PathNotAllowed(f"outside: {path}")
        return path

    assert parse_command(["torchrun", "train.py"], cwd, guard=guard).file == cwd / "train.py"
    with pytest.raises(InvalidArgument, match="names no file"):
        parse_command(["torchrun", "-m", "somewhere.else"], cwd, guard=guard)
    with pytest.raises(PathNotAllowed):
        parse_command(["bash", "/etc/profile"], cwd, guard=guard)


def test_env_options_are_parsed_and_a_bad_one_is_named():
    assert parse_env_options(["A=1", "B="]) == {"A": "1", "B": ""}
    with pytest.raises(InvalidArgument, match="NOEQUALS"):
        parse_env_options(["NOEQUALS"])


def test_a_keyerror_on_a_dropped_variable_names_it_but_not_one_that_was_passed(monkeypatch):
    monkeypatch.setenv("TRAIN_LR", "0.1")
    monkeypatch.setenv("DATA_DIR", "/data")
    tb = 'File "train.py", line 3\n    root = os.environ["DATA_DIR"]\nKeyError: \'TRAIN_LR\''
    assert dropped_variables("KeyError", "'TRAIN_LR'", tb, {}, ("PATH",)) == [
        "TRAIN_LR",
        "DATA_DIR",
    ]
    assert dropped_variables("KeyError", "'TRAIN_LR'", "", {"TRAIN_LR": "1"}, ()) == []
    assert dropped_variables("KeyError", "'NOT_SET_ANYWHERE_X'", "", {}, ()) == []
    assert dropped_variables("ValueError", "bad", "", {}, ()) == []


def test_python_itself_is_still_a_plain_command(tmp_path):
    cmd = parse_command([sys.executable, "train.py"], _project(tmp_path))
    assert cmd.launcher is None and cmd.rest == ["train.py"]


def test_an_overfit_run_cut_short_by_micro_steps_says_so(tmp_path):
    from dlpilot.tools.checks._evidence import read_events
    from dlpilot.tools.checks._models import ChildRun, OverfitResult
    from dlpilot.tools.checks._run import accumulation_note

    events = tmp_path / "events.jsonl"
    events.write_text('{"ev":"start"}\n{"ev":"end","steps":19,"backwards":760,"reason":"time"}\n')
    run = read_events(events)
    child = ChildRun(
        mode="overfit", cause="ok", stopped_by="time", exit_code=0, wall_s=60, steps=19, summary=""
    )
    over = OverfitResult(
        verdict="inconclusive", reason="", steps=19, step_budget=200, classification=True, run=child
    )
    note = accumulation_note(run, over)
    assert note is not None and "~40 backward passes" in note and "only 19" in note
    plain = run.end or {}
    plain["backwards"] = 19
    assert accumulation_note(run, over) is None


def _run_of(tmp_path, name, events):
    from dlpilot.tools.checks._evidence import read_events

    path = tmp_path / name
    path.write_text("\n".join(events) + "\n")
    return read_events(path)


def test_rank_0_is_judged_and_a_peers_late_error_is_not_blamed_on_it(tmp_path):
    from dlpilot.tools.checks._launch import merge

    agent = _run_of(tmp_path, "a", ['{"ev":"process","pid":1}', '{"ev":"start"}'])
    rank1 = _run_of(
        tmp_path,
        "b",
        [
            '{"ev":"process","pid":3,"rank":1}',
            '{"ev":"start"}',
            '{"ev":"exception","type":"RuntimeError","message":"Connection closed by peer"}',
            '{"ev":"end","steps":9,"user_files":["/p/b.py"]}',
        ],
    )
    rank0 = _run_of(
        tmp_path,
        "c",
        [
            '{"ev":"process","pid":2,"rank":0}',
            '{"ev":"start"}',
            '{"ev":"end","steps":10,"user_files":["/p/a.py"]}',
        ],
    )
    main, infos = merge([agent, rank1, rank0])
    assert main is rank0 and main.exception is None
    assert (main.end or {})["user_files"] == ["/p/a.py", "/p/b.py"]
    assert [(i.rank, i.primary) for i in infos] == [(0, True), (1, False), (None, False)]


def test_when_nothing_trained_the_crashed_ranks_exception_says_why(tmp_path):
    from dlpilot.tools.checks._launch import merge

    rank0 = _run_of(tmp_path, "a", ['{"ev":"process","pid":2,"rank":0}', '{"ev":"start"}'])
    rank1 = _run_of(
        tmp_path,
        "b",
        [
            '{"ev":"process","pid":3,"rank":1}',
            '{"ev":"start"}',
            '{"ev":"exception","type":"KeyError","message":"\'MASTER_ADDR\'"}',
        ],
    )
    main, _ = merge([rank0, rank1])
    assert main.exception is not None and main.exception["type"] == "KeyError"


def test_reads_with_a_default_of_dropped_variables_are_named_from_the_files_that_ran(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("DATA_ROOT", "/data")
    monkeypatch.setenv("RUN_NAME", "a")
    monkeypatch.setenv("SEEN_ELSEWHERE", "x")
    (tmp_path / "train.py").write_text(
        "import os\nroot = os.environ.get('DATA_ROOT')\nname = os.getenv(\"RUN_NAME\", 'r')\n"
        "home = os.environ.get('NOT_SET_ANYWHERE_Y')\n"
    )
    (tmp_path / "unrun.py").write_text("import os\nos.getenv('SEEN_ELSEWHERE')\n")
    read = defaulted_reads(tmp_path, ["train.py", "missing.py"], {}, ("PATH",))
    assert read == ["DATA_ROOT", "RUN_NAME"]  # not one unset here, nor one of a file not run
    assert defaulted_reads(tmp_path, ["train.py"], {"DATA_ROOT": "/d"}, ("RUN_*",)) == []
    assert defaulted_reads(tmp_path, [str(tmp_path / "train.py")], {}, ()) == []
