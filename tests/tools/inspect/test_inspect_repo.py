from __future__ import annotations

import ast
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import pytest

from dlpilot.errors import InvalidArgument
from dlpilot.findings import Finding, Severity, finding
from dlpilot.tools.control import Control
from dlpilot.tools.inspect import (
    InspectionReport,
    _walk,
    inspect_files,
    inspect_repo,
    render_text,
)
from dlpilot.tools.inspect._base import Project, Rule, SourceFile
from dlpilot.tools.inspect._run import run_rules

from ._gitrepo import make_repo, write


def _skipped(report: InspectionReport) -> dict[str, str]:
    return {s.file: s.reason for s in report.skipped}


def test_a_missing_path_is_an_invalid_argument_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(InvalidArgument, match="nope"):
        inspect_repo(missing)


def test_a_file_instead_of_a_directory_is_an_invalid_argument_naming_it(tmp_path: Path) -> None:
    f = tmp_path / "train.py"
    f.write_text("x = 1\n")
    with pytest.raises(InvalidArgument, match=r"not a directory.*train\.py"):
        inspect_repo(f)


def test_an_empty_directory_is_inspected_without_error(tmp_path: Path) -> None:
    report = inspect_repo(tmp_path)
    assert report.files_scanned == 0
    assert report.is_git is False
    assert report.root == str(tmp_path.resolve())
    assert set(report.counts) == set(Severity)
    assert "No findings." in render_text(report) or report.findings


def test_a_non_git_directory_says_which_git_checks_it_could_not_make(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": "print('hi')\n"})
    report = inspect_repo(tmp_path)
    assert report.is_git is False
    assert report.files_scanned == 1
    not_checked = {n.id for n in report.not_checked}
    assert {"repo.dirty", "repo.large-files"} <= not_checked
    assert not report.by_id("repo.dirty")


def test_non_utf8_source_without_a_coding_cookie_is_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_bytes(b"name = '\xff\xfe caf\xe9'\n")
    report = inspect_repo(tmp_path)
    assert "not UTF-8" in _skipped(report)["bad.py"]
    assert report.files_scanned == 0


def test_latin1_source_with_a_coding_cookie_is_decoded_and_inspected(tmp_path: Path) -> None:
    (tmp_path / "old.py").write_bytes(b"# -*- coding: latin-1 -*-\nname = 'caf\xe9'\n")
    report = inspect_repo(tmp_path)
    assert report.files_scanned == 1
    assert "old.py" not in _skipped(report)


def test_an_unknown_coding_cookie_is_skipped_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "odd.py").write_bytes(b"# coding: klingon\nname = '\xff'\n")
    assert "klingon" in _skipped(inspect_repo(tmp_path))["odd.py"]


def test_a_syntax_error_is_skipped_with_its_line(tmp_path: Path) -> None:
    write(tmp_path, {"ok.py": "x = 1\n", "broken.py": "x = 1\ndef f(:\n    pass\n"})
    report = inspect_repo(tmp_path)
    assert report.files_scanned == 1
    assert "syntax error at line 2" in _skipped(report)["broken.py"]


def test_nul_bytes_in_source_are_skipped_not_raised(tmp_path: Path) -> None:
    (tmp_path / "nul.py").write_bytes(b"x = 1\n\x00\n")
    assert "nul.py" in _skipped(inspect_repo(tmp_path))


def test_a_file_above_the_size_limit_is_skipped_with_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_walk, "MAX_FILE_BYTES", 1000)
    write(tmp_path, {"small.py": "x = 1\n", "huge.py": "x = 1\n" * 500})
    report = inspect_repo(tmp_path)
    assert "larger than 1000 bytes" in _skipped(report)["huge.py"]
    assert report.files_scanned == 1


def test_symlink_loops_and_links_out_of_the_tree_are_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    outside = tmp_path / "outside"
    write(root, {"pkg/model.py": "x = 1\n"})
    write(outside, {"secret_code.py": "y = 2\n"})
    os.symlink(root, root / "pkg" / "loop")  # loops back to the root
    os.symlink(outside, root / "out")  # leaves the tree
    os.symlink(outside / "secret_code.py", root / "linked.py")  # file link leaving the tree
    os.symlink(root / "pkg" / "model.py", root / "alias.py")  # file link inside the tree
    os.symlink(root / "nowhere", root / "dangling.py")
    report = inspect_repo(root)
    assert report.files_scanned == 2  # pkg/model.py and alias.py


def test_virtualenvs_caches_and_vcs_directories_are_not_walked(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "train.py": "x = 1\n",
            ".venv/lib/a.py": "x = 1\n",
            "venv/lib/b.py": "x = 1\n",
            "my-env/pyvenv.cfg": "home = /usr/bin\n",
            "my-env/lib/c.py": "x = 1\n",
            "node_modules/d.py": "x = 1\n",
            "__pycache__/e.py": "x = 1\n",
            "build/lib/f.py": "x = 1\n",
            ".tox/py/g.py": "x = 1\n",
            "lib/site-packages/h.py": "x = 1\n",
            ".git/hooks/i.py": "x = 1\n",
            "pkg.egg-info/j.py": "x = 1\n",
        },
    )
    assert inspect_repo(tmp_path).files_scanned == 1


def test_discovery_stops_at_its_file_bound_and_says_so(tmp_path: Path) -> None:
    write(tmp_path, {f"m{i}.py": "x = 1\n" for i in range(10)})
    found = _walk.discover(tmp_path, max_files=4)
    assert found.truncated
    assert len(found.paths) == 4
    assert "stopped after 4 files" in found.skipped[-1].reason


def test_discovery_does_not_descend_past_its_depth_bound(tmp_path: Path) -> None:
    write(tmp_path, {"a/b/c/d/deep.py": "x = 1\n", "a/top.py": "x = 1\n"})
    found = _walk.discover(tmp_path, max_depth=2)
    assert found.paths == ["a/top.py"]
    assert any("deeper than 2" in s.reason for s in found.skipped)


def test_progress_is_reported_every_200_files_and_at_the_end(tmp_path: Path) -> None:
    write(tmp_path, {f"m{i:03}.py": "x = 1\n" for i in range(450)})
    calls: list[tuple[float, float | None, str]] = []
    report = inspect_repo(
        tmp_path, control=Control(progress=lambda d, t, m: calls.append((d, t, m)))
    )
    assert report.files_scanned == 450
    done = [d for d, _, _ in calls]
    assert 200 in done and 400 in done and done[-1] == 450
    assert all(t == 450 for _, t, _ in calls)


def test_a_cancelled_inspection_stops_and_says_so(tmp_path: Path) -> None:
    write(tmp_path, {f"m{i}.py": "x = 1\n" for i in range(5)})
    cancel = threading.Event()
    cancel.set()
    report = inspect_repo(tmp_path, control=Control(cancel=cancel))
    assert report.cancelled
    assert report.files_scanned == 0
    assert "cancelled" in render_text(report)


class _Recorder(Rule):
    ids: ClassVar[tuple[str, ...]] = ("loop.forward-called-directly", "repo.no-tests")
    seen: ClassVar[list[str]] = []

    def visit(self, f: SourceFile) -> Iterable[Finding]:
        self.seen.append(f.rel)
        assert isinstance(f.tree, ast.Module)
        for node in ast.walk(f.tree):
            if isinstance(node, ast.Attribute) and node.attr == "forward":
                yield finding(
                    "loop.forward-called-directly",
                    "call model(x)",
                    how="static",
                    file=f.rel,
                    line=node.lineno,
                )

    def finish(self, project: Project) -> Iterable[Finding]:
        self.seen.append("finish")
        return [finding("repo.no-tests", "no tests", how="static")]


def test_every_file_is_streamed_through_each_rule_then_finish_runs_once(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "model.forward(x)\n", "b.py": "y = 1\nm.forward(1)\n"})
    _Recorder.seen.clear()
    report = run_rules(Project(root=tmp_path), ["a.py", "b.py"], [_Recorder])
    assert _Recorder.seen == ["a.py", "b.py", "finish"]
    assert [(f.id, f.evidence[0].location()) for f in report.findings] == [
        ("loop.forward-called-directly", "a.py:1"),
        ("loop.forward-called-directly", "b.py:2"),
        ("repo.no-tests", ""),
    ]
    assert report.counts[Severity.INFO] == 3
    assert report.checks_run == ["loop.forward-called-directly", "repo.no-tests"]


def test_the_text_report_groups_findings_by_severity_with_file_and_line(tmp_path: Path) -> None:
    findings = [
        finding("repo.secrets", "an API key in config", how="static", file="cfg.py", line=3),
        finding("repo.no-tests", "no tests", how="static"),
        finding("repro.no-seed", "no seed", how="static", file="train.py", line=1),
    ]
    report = InspectionReport(root="/p", findings=findings, files_scanned=2)
    text = render_text(report)
    assert text.index("Errors (1)") < text.index("Warnings (1)") < text.index("Info (1)")
    assert "at cfg.py:3" in text and "[repro.no-seed]" in text


def test_the_report_round_trips_through_json(tmp_path: Path) -> None:
    write(tmp_path, {"broken.py": "def (:\n"})
    report = inspect_repo(tmp_path)
    again = InspectionReport.model_validate_json(report.model_dump_json())
    assert again == report


def test_inspect_files_runs_only_on_the_given_files(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": "x = 1\n", "other.py": "y = 2\n", "notes.txt": "hi\n"})
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere.py"
    outside.write_text("z = 3\n")
    report = inspect_files(tmp_path, ["train.py", tmp_path / "train.py", "notes.txt", outside])
    assert report.files_scanned == 1
    reasons = _skipped(report)
    assert reasons["notes.txt"] == "not a Python file"
    assert reasons[str(outside)] == "outside the inspected root"


def test_inspect_repo_reads_git_facts_of_a_real_repository(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "r", {"train.py": "x = 1\n", "README.md": "pip install\n"})
    report = inspect_repo(root)
    assert report.is_git is True
    assert report.files_scanned == 1


_NO_ZERO_GRAD = """\
import torch

model = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
for step in range(10):
    x = torch.randn(8, 4)
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
"""


def test_a_subdirectory_of_a_repository_gives_paths_from_the_repository_root(
    tmp_path: Path,
) -> None:
    root = make_repo(
        tmp_path / "r",
        {
            "README.md": "pip install\n",
            "projects/adder/train.py": _NO_ZERO_GRAD,
            "projects/adder/broken.py": "def f(:\n",
            "other/train.py": _NO_ZERO_GRAD,
        },
    )
    report = inspect_repo(root / "projects" / "adder")
    assert report.root == str(root.resolve())
    assert report.scope == "projects/adder"
    files = {e.file for f in report.by_id("loop.zero-grad-missing") for e in f.evidence}
    assert files == {"projects/adder/train.py"}  # other/ is outside the inspected directory
    assert set(_skipped(report)) == {"projects/adder/broken.py"}
    assert "only projects/adder/" in render_text(report)
    whole = inspect_repo(root)
    assert whole.scope == ""
    assert {e.file for f in whole.by_id("loop.zero-grad-missing") for e in f.evidence} == {
        "other/train.py",
        "projects/adder/train.py",
    }


def test_a_directory_outside_any_repository_is_its_own_root(tmp_path: Path) -> None:
    write(tmp_path / "proj", {"sub/train.py": _NO_ZERO_GRAD})
    report = inspect_repo(tmp_path / "proj" / "sub")
    assert report.root == str((tmp_path / "proj" / "sub").resolve())
    assert report.scope == ""
    assert {e.file for f in report.by_id("loop.zero-grad-missing") for e in f.evidence} == {
        "train.py"
    }
