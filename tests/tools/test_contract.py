"""The one rule contract of the three engines: every rule declares the ids it may report, each
engine refuses any other, and the catalogue's "How" column says which engines report each id."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from dlpilot.findings import CATALOGUE, Finding, finding
from dlpilot.tools._contract import RuleContractError, declared_ids, reports
from dlpilot.tools.checks import Context, ProbeRun, read_events
from dlpilot.tools.checks.rules import ENGINE_RULES, RULES
from dlpilot.tools.checks.rules import _judge as runtime_engine
from dlpilot.tools.checks.rules._context import RuntimeCheck
from dlpilot.tools.curves import _diagnose as curve_engine
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.rules import rule_class_prior, rule_training_length, rule_unstable
from dlpilot.tools.inspect._base import Project, Rule, SourceFile
from dlpilot.tools.inspect._run import all_rules, run_rules
from dlpilot.tools.inspect._walk import read_python

from .curves._synthetic import STEPS, healthy_run, make_run, series

ENGINES: dict[str, tuple[object, ...]] = {
    "static": tuple(all_rules()),
    "runtime": ENGINE_RULES,
    "curve": curve_engine.RULES,
}

NOT_YET_RUNTIME: set[str] = set()
"""Catalogued "S R" ids whose runtime rule is not written yet; the same list as PENDING_RUNTIME_IDS
of tests/tools/checks/test_check_script.py."""


def test_each_catalogue_ids_how_column_names_the_engines_whose_rules_declare_it() -> None:
    declared: dict[str, set[str]] = {}
    for engine, rules in ENGINES.items():
        for rule in rules:
            for id_ in declared_ids(rule):
                declared.setdefault(id_, set()).add(engine)
    for id_ in NOT_YET_RUNTIME:
        declared.setdefault(id_, set()).add("runtime")
    wrong = {
        id_: (sorted(spec.ways), sorted(declared.get(id_, ())))
        for id_, spec in CATALOGUE.items()
        if spec.ways != ("trials",) and set(spec.ways) != declared.get(id_, set())
    }
    assert wrong == {}, "catalogue How column (left) against the engines declaring the id (right)"


RECORDED = Path(__file__).resolve().parent / "checks" / "recorded"


def test_every_rule_of_each_engine_reports_only_its_declared_ids(tmp_path: Path) -> None:
    """Each rule on its own, on evidence of real runs: the recorded probe runs of the runtime
    test programs (runtime), those programs' code (static), synthetic curves (curve)."""
    reported: dict[str, set[str]] = {}
    for rec in sorted(d for d in RECORDED.iterdir() if (d / "script.jsonl").is_file()):
        run = read_events(rec / "script.jsonl")
        for check in RULES:
            ids = {f.id for f in check.judge(run, Context(root=tmp_path))}
            assert ids <= set(check.ids), (type(check).__name__, rec.name, ids)
            reported.setdefault("runtime", set()).update(ids)
        (tmp_path / f"{rec.name}.py").write_text((rec / "train.py.txt").read_text())
    project = Project(root=tmp_path, all_paths=sorted(p.name for p in tmp_path.glob("*.py")))
    for cls in all_rules():
        rule = cls()
        ids = set()
        for path in project.all_paths:
            parsed = read_python(tmp_path / path)
            assert parsed.tree is not None and parsed.text is not None
            sf = SourceFile(rel=path, path=tmp_path / path, text=parsed.text, tree=parsed.tree)
            ids |= {f.id for f in rule.visit(sf)}
        ids |= {f.id for f in rule.finish(project)}
        assert ids <= set(cls.ids), (cls.__name__, ids)
        reported.setdefault("static", set()).update(ids)
    for run in (healthy_run(), healthy_run("other", seed=3), diverging_run()):
        for fn in (*curve_engine.RUN_RULES, rule_unstable, rule_class_prior):
            ids = {f.id for f in fn(run)}
            assert ids <= set(declared_ids(fn)), (fn.__name__, ids)
            reported.setdefault("curve", set()).update(ids)
        ids = {f.id for f in rule_training_length(run, None, None)}
        assert ids <= set(declared_ids(rule_training_length))
    # the evidence is not empty: each engine reported something, so the checks above bit
    assert all(reported.get(e) for e in ENGINES), reported


def _stray(how: str) -> Finding:
    return finding("amp.no-grad-scaler", "reported by a rule that did not declare it", how=how)  # type: ignore[arg-type]


def test_every_engine_refuses_an_id_its_rule_did_not_declare(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    class StaticStray(Rule):
        ids: ClassVar[tuple[str, ...]] = ("loop.step-missing",)

        def visit(self, f: SourceFile) -> Iterable[Finding]:
            return [_stray("static")]

    (tmp_path / "a.py").write_text("x = 1\n")
    with pytest.raises(RuleContractError, match=r"StaticStray reported 'amp\.no-grad-scaler'"):
        run_rules(Project(root=tmp_path), ["a.py"], [StaticStray])

    class RuntimeStray(RuntimeCheck):
        ids = ("loop.step-missing",)

        def judge(self, run: ProbeRun, ctx: Context) -> Iterable[Finding]:
            return [_stray("runtime")]

    monkeypatch.setattr(runtime_engine, "RULES", (RuntimeStray(),))
    with pytest.raises(RuleContractError, match="RuntimeStray reported"):
        runtime_engine.judge_all(ProbeRun(), Context(root=tmp_path))

    @reports("curve.diverged")
    def curve_stray(run: Run) -> list[Finding]:
        return [_stray("curve")]

    monkeypatch.setattr(curve_engine, "RUN_RULES", (curve_stray,))
    with pytest.raises(RuleContractError, match="curve_stray reported"):
        curve_engine.diagnose_run(Run(name="r", source="mem", format="jsonl"))


def test_a_rule_must_declare_catalogue_ids() -> None:
    with pytest.raises(RuleContractError, match=r"no-such\.id"):
        reports("no-such.id")(lambda run: [])
    with pytest.raises(RuleContractError, match="declares no ids"):
        declared_ids(lambda run: [])


def diverging_run() -> Run:
    loss = 2.0 * np.exp(-STEPS / 200.0) + 0.1
    loss[600:] = np.linspace(0.2, 40.0, len(STEPS) - 600)
    return make_run("diverging", series("train/loss", STEPS, loss))
