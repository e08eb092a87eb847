"""Runtime rules, overfit verdict and exception mapping on hand-written evidence (no torch)."""

from __future__ import annotations

import math
from pathlib import Path

from dlpilot.tools.checks import Context, ProbeRun, judge_all, judge_curve, plot_data, verdict
from dlpilot.tools.checks._evidence import EventReader
from dlpilot.tools.checks._exceptions import explain
from dlpilot.tools.checks._models import UserException
from dlpilot.tools.checks.entry._api import _judge_overfit

CTX = Context(root=Path("/project"))


def _run(summary: dict[str, object], steps: list[dict[str, object]] | None = None) -> ProbeRun:
    run = ProbeRun(start={"ev": "start"}, summary=summary, steps=steps or [])
    return run


def _ids(run: ProbeRun) -> set[str]:
    return {f.id for f in judge_all(run, CTX)}


def test_empty_evidence_gives_no_finding() -> None:
    assert _ids(_run({})) == set()


def test_zero_grad_missing_needs_half_the_transitions() -> None:
    assert "loop.zero-grad-missing" in _ids(_run({"loop": {"transitions": 10, "not_zeroed": 9}}))
    assert "loop.zero-grad-missing" not in _ids(
        _run({"loop": {"transitions": 10, "not_zeroed": 1}})
    )


def test_step_missing_is_not_reported_when_parameters_change_by_hand() -> None:
    base = {"steps": 0, "backwards": 20, "loop": {"manual_update": False}}
    assert "loop.step-missing" in _ids(_run(base))
    assert "loop.step-missing" not in _ids(_run({**base, "loop": {"manual_update": True}}))


def test_initial_loss_rule_uses_ln_c() -> None:
    def first(value: float) -> ProbeRun:
        return _run(
            {
                "loss": {
                    "first_class_loss": {
                        "fn": "cross_entropy",
                        "value": value,
                        "classes": 10,
                        "reduction": "mean",
                    }
                }
            }
        )

    assert "loss.initial-mismatch" not in _ids(first(2.4))
    assert "loss.initial-mismatch" in _ids(first(2 * math.log(10) + 0.1))


def test_dead_relu_is_judged_per_unit() -> None:
    acts = [{"kind": "relu", "site": "fc", "batches": 5, "units": 10, "dead": 7}]
    assert "act.dead-relu" in _ids(_run({"acts": acts}))
    acts[0]["dead"] = 6
    assert "act.dead-relu" not in _ids(_run({"acts": acts}))


def test_exploding_growth_uses_the_finite_prefix() -> None:
    series = [[i, 2.0**i, None, None] for i in range(15)] + [[15, "nan", None, None]]
    assert "grad.exploding" in _ids(_run({"grads": {"series": series}}))
    flat = [[i, 1.0, None, None] for i in range(15)]
    assert "grad.exploding" not in _ids(_run({"grads": {"series": flat}}))


def test_a_learning_rate_finding_names_a_cause_found_in_the_same_run() -> None:
    big_steps = {"params": {"ratio": [[i, -0.8, 0.05, 0] for i in range(10)]}}
    alone = [f for f in judge_all(_run(big_steps), CTX) if f.id == "lr.too-high"]
    assert len(alone) == 1 and "possible_causes" not in alone[0].evidence[0].detail
    with_cause = _run({**big_steps, "loop": {"transitions": 10, "not_zeroed": 9}})
    [f] = [f for f in judge_all(with_cause, CTX) if f.id == "lr.too-high"]
    assert f.evidence[0].detail["possible_causes"] == ["loop.zero-grad-missing"]
    assert "gradients accumulate" in f.message and "Fix that first" in f.message


def test_lr_too_low_looks_at_the_largest_ratio() -> None:
    warmup = [[i, -5.0 + i * 0.4, 1e-3, 0] for i in range(6)]  # ends at -3.0
    assert "lr.too-low" not in _ids(_run({"params": {"ratio": warmup}}))
    tiny = [[i, -6.0, 1e-7, 0] for i in range(6)]
    assert "lr.too-low" in _ids(_run({"params": {"ratio": tiny}}))


def test_exceptions_map_to_catalogued_causes() -> None:
    def exc(msg: str) -> str | None:
        f = explain(UserException(type="E", message=msg), file="t.py", line=3)
        return f.id if f else None

    assert exc("Target 10 is out of bounds.") == "loss.label-out-of-range"
    assert exc("expected target dtype to be Long or Byte, but got Float") == "loss.label-dtype"
    assert exc("Found dtype Long but expected Float") == "loss.label-dtype"
    assert exc("something else entirely") is None


def _overfit_run(losses: list[float], accs: list[float] | None = None) -> ProbeRun:
    steps = [
        {"n": i + 1, "loss": v, **({"acc": accs[i]} if accs else {})} for i, v in enumerate(losses)
    ]
    return _run({"overfit": {"replayed": 5}, "loaders": []}, steps)


def test_overfit_verdicts() -> None:
    falling = [2.0 * 0.97**i for i in range(200)]
    assert verdict(_overfit_run(falling), 200).verdict == "passed"
    flat = [2.0 - 0.001 * i for i in range(200)]
    failed = verdict(_overfit_run(flat), 200)
    assert failed.verdict == "failed" and failed.finding is not None
    assert failed.finding.id == "overfit.single-batch-failed"
    short = verdict(_overfit_run(flat[:20]), 200)
    assert short.verdict == "inconclusive"
    stuck_at_40 = [2.0 * (0.4 + 0.6 * 0.97**i) for i in range(200)]
    low_acc = verdict(_overfit_run(stuck_at_40, [0.5] * 200), 200)
    assert low_acc.verdict == "failed" and low_acc.classification


def test_a_loss_near_zero_passes_even_below_full_accuracy() -> None:
    # a causal language model: some prefixes have several next tokens, so 99% token accuracy is
    # out of reach while the loss goes to ~0.5% of its start
    losses = [3.9 * 0.005 ** (i / 199) for i in range(200)]
    result = judge_curve(losses, [min(0.988, i / 150) for i in range(200)], budget=200)
    assert result.verdict == "passed", result.reason


def test_full_accuracy_with_a_high_loss_floor_is_inconclusive_not_failed() -> None:
    # NT-Xent at temperature 0.5 cannot fall much below 70% of its start: a fitted batch anyway
    losses = [4.14 * (0.7 + 0.3 * 0.98**i) for i in range(200)]
    result = judge_curve(losses, [min(1.0, i / 50) for i in range(200)], budget=200)
    assert result.verdict == "inconclusive" and result.finding is None
    assert "levels off" in result.reason
    # label smoothing's floor is lower: a quarter of the start with full accuracy passes
    smoothed = [2.3 * (0.2 + 0.8 * 0.97**i) for i in range(200)]
    assert judge_curve(smoothed, [1.0] * 200, budget=200).verdict == "passed"


def test_a_loss_mostly_down_but_not_to_zero_is_inconclusive_not_failed() -> None:
    vae = judge_curve([45.0 * 0.24 ** (i / 199) for i in range(200)], [0.98] * 200, budget=200)
    assert vae.verdict == "inconclusive" and vae.finding is None
    assert "most of the way" in vae.reason


def test_several_optimizers_stepping_give_no_single_batch_verdict() -> None:
    flat = [1.4 - 0.001 * i for i in range(200)]
    run = _overfit_run(flat, [0.59] * 200)
    assert verdict(run, 200).verdict == "failed"
    run.summary["optimizers"] = [{"type": "Adam", "steps": 100}, {"type": "Adam", "steps": 100}]
    gan = verdict(run, 200)
    assert gan.verdict == "inconclusive" and gan.finding is None and "GAN" in gan.reason


def test_a_two_class_fit_at_loss_0_07_with_full_accuracy_passes() -> None:
    # Adam at 1e-3 fits a 2-class batch to 100% with the loss near 0.07 (10% of ln 2) after 200
    # steps: ~0 in practice. (The entry child's old absolute 0.05 failed it; now one rule.)
    losses = [math.log(2) * (0.07 / math.log(2)) ** (i / 199) for i in range(200)]
    accs = [min(1.0, 0.5 + i / 100) for i in range(200)]
    result = judge_curve(losses, accs, budget=200)
    assert result.verdict == "passed" and result.classification, result.reason
    assert result.final_accuracy == 1.0 and result.finding is None


def test_a_regression_falling_to_3_percent_passes_to_8_is_open_and_levelling_at_40_fails() -> None:
    # (The entry child's old 2% rule failed the first.)
    passed = judge_curve([4.0 * 0.03 ** (i / 199) for i in range(200)], None, budget=200)
    assert passed.verdict == "passed" and not passed.classification, passed.reason
    short = judge_curve([4.0 * 0.08 ** (i / 199) for i in range(200)], None, budget=200)
    assert short.verdict == "inconclusive" and "still falling" in short.reason
    # at 40% and still falling steadily (~0 by step ~650): the budget ran out, not the model
    steady = judge_curve([4.0 * 0.4 ** (i / 199) for i in range(200)], None, budget=200)
    assert steady.verdict == "inconclusive" and "still falling steadily" in steady.reason
    levelled = judge_curve([4.0 * (0.4 + 0.6 * 0.95**i) for i in range(200)], None, budget=200)
    assert levelled.verdict == "failed" and levelled.finding is not None
    assert levelled.finding.id == "overfit.single-batch-failed"


def test_a_curve_without_a_finite_loss_is_inconclusive() -> None:
    assert judge_curve([], None, budget=200).reason == "no training loss was observed"
    nan = judge_curve([math.nan] * 3, None, budget=200)
    assert nan.verdict == "inconclusive" and nan.reason == "the loss was never finite"
    assert nan.losses == [None] * 3


def test_script_and_entry_mode_give_one_verdict_for_one_curve() -> None:
    falling = [2.0 * 0.97**i for i in range(200)]
    flat = [2.0 - 0.001 * i for i in range(200)]
    diverged = [2.0 * 0.99**i for i in range(120)] + [math.inf]
    two_class = [math.log(2) * (0.07 / math.log(2)) ** (i / 199) for i in range(200)]
    cases: list[tuple[list[float], list[float] | None]] = [
        (falling, None),
        (flat, None),
        (diverged, None),
        (flat[:20], None),
        (two_class, [min(1.0, 0.5 + i / 100) for i in range(200)]),
        (falling, [0.5] * 200),
    ]
    entry_only = {"run", "batch_size", "lr", "dropout_modules_disabled"}
    entry_only |= {"weight_decay_groups_zeroed"}
    for losses, accs in cases:
        script = verdict(_overfit_run(losses, accs), 200)
        # what the entry child sends: non-finite losses as None (strict JSON), its batch and lr
        child = {
            "losses": [v if math.isfinite(v) else None for v in losses],
            "accuracies": accs,
            "batch_size": 32,
            "lr": 1e-3,
            "dropout_modules_disabled": 0,
            "weight_decay_groups_zeroed": 1,
        }
        entry = _judge_overfit(child, 200)
        assert entry.model_dump(exclude=entry_only) == script.model_dump(exclude=entry_only)
        assert entry.batch_size == 32 and entry.lr == 1e-3


def test_plot_data_is_computed_apart_from_drawing() -> None:
    result = verdict(_overfit_run([1.0, 0.5, float("nan"), 0.1] * 20), 80)
    data = plot_data(result)
    assert len(data.steps) == 60 and all(math.isfinite(v) for v in data.losses)
    assert data.log_scale


def test_event_reader_skips_a_cut_off_last_line(tmp_path: Path) -> None:
    path = tmp_path / "ev.jsonl"
    path.write_text('{"ev":"start"}\n{"ev":"step","n":1,"loss":0.5}\n{"ev":"step","n"')
    reader = EventReader(path)
    run = reader.poll()
    assert run.started and run.step_count == 1
    run = reader.finish()
    assert run.bad_lines == 1
