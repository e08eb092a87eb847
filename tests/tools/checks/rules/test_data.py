"""data.class-imbalance on hand-written evidence: skew among classes, not a vocabulary's gaps."""

from __future__ import annotations

from pathlib import Path

from dlpilot.tools.checks import Context, ProbeRun, judge_all

CTX = Context(root=Path("/project"))


def _ids(counts: list[int]) -> set[str]:
    run = ProbeRun(start={"ev": "start"}, summary={"labels": {"class_counts": counts}}, steps=[])
    return {f.id for f in judge_all(run, CTX)}


def test_a_few_classes_with_one_ten_times_rarer_are_imbalanced():
    assert "data.class-imbalance" in _ids([400, 380, 35])


def test_a_class_that_never_appears_among_a_few_is_imbalanced():
    assert "data.class-imbalance" in _ids([300, 310, 0])


def test_token_ids_never_used_as_targets_do_not_make_a_vocabulary_imbalanced():
    # a tagger over 50 token ids: padding (id 0) is never a target, the rest are near uniform
    counts = [0] + [180 + (i % 7) for i in range(49)]
    assert "data.class-imbalance" not in _ids(counts)


def test_balanced_classes_are_fine():
    assert "data.class-imbalance" not in _ids([200, 210, 190, 205])


def _ids_ignoring(counts: list[int], ignored: list[int]) -> set[str]:
    labels = {"class_counts": counts, "ignored_classes": ignored}
    run = ProbeRun(start={"ev": "start"}, summary={"labels": labels}, steps=[])
    return {f.id for f in judge_all(run, CTX)}


def test_a_padding_class_given_as_ignore_index_is_not_a_missing_class():
    # tags 1..4 balanced, 0 is the padding the loss ignores
    assert "data.class-imbalance" not in _ids_ignoring([0, 2828, 2943, 2767, 2747], [0])
    # the same counts without the loss saying 0 is ignored: class 0 is missing
    assert "data.class-imbalance" in _ids_ignoring([0, 2828, 2943, 2767, 2747], [])
    # skew among the real classes is still skew
    assert "data.class-imbalance" in _ids_ignoring([0, 2828, 2943, 2767, 120], [0])


def test_a_class_never_seen_is_named_and_a_skewed_ratio_is_given():
    run = ProbeRun(
        start={"ev": "start"}, summary={"labels": {"class_counts": [0, 0, 700, 650]}}, steps=[]
    )
    (f,) = [f for f in judge_all(run, CTX) if f.id == "data.class-imbalance"]
    assert f.message.startswith("Class id(s) 0, 1 never occur as a target")
    run = ProbeRun(
        start={"ev": "start"}, summary={"labels": {"class_counts": [700, 650, 30]}}, steps=[]
    )
    (f,) = [f for f in judge_all(run, CTX) if f.id == "data.class-imbalance"]
    assert "range from 30 to 700 (ratio 23.3)" in f.message
