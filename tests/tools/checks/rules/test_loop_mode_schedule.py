"""The loop / mode / schedule rules of the detection issue on hand-written evidence (no torch):
clip calls against the step's backward, backwards of a loader walked in eval mode, the rate's
fall within the first epoch, gradients reset unused before a step."""

from __future__ import annotations

from pathlib import Path

from dlpilot.tools.checks import Context, ProbeRun, judge_all

CTX = Context(root=Path("/project"))


def _ids(summary: dict[str, object]) -> set[str]:
    run = ProbeRun(start={"ev": "start"}, summary=summary, steps=[])
    return {f.id for f in judge_all(run, CTX)}


def _clip(clipped: int, early: int) -> dict[str, object]:
    return {
        "steps": 40,
        "clip": {"clipped_steps": clipped, "early_steps": early, "early_first_step": 1},
    }


def test_clipping_before_backward_at_every_step_is_reported() -> None:
    assert "loop.clip-before-backward" in _ids(_clip(40, 40))


def test_clipping_after_backward_or_a_one_off_early_clip_is_not() -> None:
    assert "loop.clip-before-backward" not in _ids(_clip(40, 0))
    assert "loop.clip-before-backward" not in _ids(_clip(40, 1))
    assert "loop.clip-before-backward" not in _ids({"steps": 40})


def _mode(rows: list[list[int]], eval_backwards: int = 0) -> dict[str, object]:
    return {
        "steps": 30,
        "mode": {
            "train_backwards": sum(r[1] for r in rows),
            "eval_backwards": eval_backwards,
            "eval_first_step": 21 if eval_backwards else None,
            "eval_names": ["2"] if eval_backwards else [],
            "loaders": rows,
        },
    }


def test_backwards_of_a_loader_walked_in_eval_mode_are_steps_during_eval_not_eval_training() -> (
    None
):
    ids = _ids(_mode([[0, 20, 0, 0, 20], [1, 10, 10, 10, 10]], eval_backwards=10))
    assert "mode.step-during-eval" in ids
    assert "mode.eval-during-training" not in ids


def test_training_left_in_eval_mode_after_validation_stays_eval_during_training() -> None:
    ids = _mode([[0, 40, 20, 20]], eval_backwards=20)
    assert "mode.eval-during-training" in _ids(ids)
    assert "mode.step-during-eval" not in _ids(ids)


def test_both_bugs_together_are_both_reported() -> None:
    ids = _ids(_mode([[0, 40, 20, 20], [1, 10, 10, 10]], eval_backwards=30))
    assert {"mode.step-during-eval", "mode.eval-during-training"} <= ids


def test_two_loaders_both_trained_in_training_mode_are_no_finding() -> None:
    ids = _ids(_mode([[0, 20, 0, 0], [1, 20, 0, 0]]))
    assert not ids & {"mode.step-during-eval", "mode.eval-during-training"}


def test_a_saliency_pass_in_validation_that_never_steps_is_not_steps_during_eval() -> None:
    summary = _mode([[0, 20, 0, 0, 20], [1, 10, 10, 10, 0]], eval_backwards=10)
    assert not _ids(summary) & {"mode.step-during-eval", "mode.eval-during-training"}


def test_eval_mode_backwards_without_any_optimizer_step_are_not_steps_during_eval() -> None:
    summary = _mode([[0, 20, 0, 0], [1, 10, 10, 0]])
    summary["steps"] = 0
    assert "mode.step-during-eval" not in _ids(summary)


def _drop(ratio: float) -> dict[str, object]:
    drop = {"ratio": ratio, "lr": 0.1 * ratio, "before": 0.1, "group": 0, "step": 9}
    return {"optimizers": [{"type": "SGD", "steps": 40, "lr_drop": drop | {"epoch_steps": 24}}]}


def test_a_rate_that_collapses_within_the_first_epoch_is_a_schedule_mismatch() -> None:
    assert "lr.schedule-mismatch" in _ids(_drop(0.0))
    assert "lr.schedule-mismatch" in _ids(_drop(0.001))


def test_a_rate_that_decays_by_a_fraction_within_the_first_epoch_is_not() -> None:
    assert "lr.schedule-mismatch" not in _ids(_drop(0.5))
    assert "lr.schedule-mismatch" not in _ids(_drop(0.02))


def test_gradients_reset_unused_before_every_step_are_a_misplaced_zero_grad() -> None:
    loop = {"discarded_steps": 2, "discarded_first_step": 1}
    assert "loop.zero-grad-misplaced" in _ids({"steps": 2, "loop": loop})
    loop = {"discarded_steps": 1, "discarded_first_step": 1}
    assert "loop.zero-grad-misplaced" not in _ids({"steps": 40, "loop": loop})


def test_an_unshuffled_validation_loader_that_steps_is_not_also_an_unshuffled_training_one() -> (
    None
):
    def loader(lid: int, sampler: str) -> dict[str, object]:
        return {"lid": lid, "kind": "train", "sampler": sampler, "same_order": None}

    summary = _mode([[0, 20, 0, 0, 20], [1, 10, 10, 10, 10]], eval_backwards=10)
    summary["loaders"] = [loader(0, "RandomSampler"), loader(1, "SequentialSampler")]
    ids = _ids(summary)
    assert "mode.step-during-eval" in ids
    assert "data.train-not-shuffled" not in ids
    # the same unshuffled loader walked in training mode is a training loader
    summary["loaders"] = [loader(0, "SequentialSampler"), loader(1, "RandomSampler")]
    assert "data.train-not-shuffled" in _ids(summary)


def test_an_eval_mode_stage_after_all_training_is_not_a_validation_pass_but_training_in_eval() -> (
    None
):
    # pre-training on loader 0 (backwards 1-40), then fine-tuning on loader 1 with the model in
    # eval mode (backwards 41-60): training never resumes after it, so it is no validation pass
    later = _mode([[0, 40, 0, 0, 40, 1, 40], [1, 20, 20, 20, 20, 41, 60]], eval_backwards=20)
    ids = _ids(later)
    assert "mode.step-during-eval" not in ids
    assert "mode.eval-during-training" in ids
    # the same loader walked between training epochs (a shared epoch function) still is one
    between = _mode([[0, 40, 0, 0, 40, 1, 60], [1, 20, 20, 20, 20, 21, 40]], eval_backwards=20)
    assert "mode.step-during-eval" in _ids(between)


def test_a_training_epoch_begun_after_the_eval_mode_pass_makes_it_a_validation_pass() -> None:
    # the probe stopped the run as the training loader began its next epoch: no training-mode
    # backward came after the pass, but an epoch of the training loader did
    rows = [[0, 20, 0, 0, 20, 1, 20], [1, 10, 10, 10, 10, 21, 30]]
    summary = _mode(rows, eval_backwards=10)
    summary["loaders"] = [{"lid": 0, "iter_at": 30}, {"lid": 1, "iter_at": 20}]
    assert "mode.step-during-eval" in _ids(summary)
    summary["loaders"] = [{"lid": 0, "iter_at": 0}, {"lid": 1, "iter_at": 20}]
    assert "mode.step-during-eval" not in _ids(summary)
