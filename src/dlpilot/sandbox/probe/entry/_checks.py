"""The entry checks: labels against the model's output, the initial loss, input statistics, split
overlap, loss/output compatibility and the single-batch overfit test.

Each problem is a dict ``{"id", "message", "detail", "step"?}``; the parent turns it into a
:class:`dlpilot.findings.Finding` (catalogue ids only). The overfit test only records its curve:
the parent judges it by the same rule as a script's overfit run.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch
from torch import nn

from ._build import Parts, ignore_index, split_batch
from ._protocol import Events, stage

STAT_BATCHES = 8
"""Batches drawn for input and label statistics: a few hundred samples, under a second on CPU."""

UNNORMALIZED_SCALE = 10.0
"""An input feature with |mean| or std above this is far from normalized (raw 0..255 pixels are
~100); features scaled to about unit range stay well below it."""

CONSTANT_MIN_SAMPLES = 16
"""Fewest samples before "every label is the same" means constant rather than a small draw."""

IMBALANCE_RATIO = 10.0
"""Most / least frequent class count above which the label distribution counts as skewed."""

IMBALANCE_MIN_PER_CLASS = 20
"""Judge imbalance only with this many sampled labels per class on average (else noise)."""

PROB_ROW_SUM_TOL = 1e-3
"""Rows of the output summing to 1 within this tolerance are probabilities (softmax output)."""

HASH_LIMIT = 20_000
"""Samples hashed per split for the overlap check: bounded time on large datasets."""

OVERLAP_EXAMPLES = 5
"""Pairs of overlapping (train, val) indices shown in the evidence."""

OVERFIT_MAX_BATCH = 128
"""Largest batch the overfit test uses (seed 004: one batch of 32-128 samples)."""


def run_checks(parts: Parts, params: dict[str, Any], events: Events) -> dict[str, Any]:
    problems: list[dict[str, Any]] = []
    stats: dict[str, Any] = {"loss_kind": parts.kind}
    total = 4 + (1 if params.get("overfit", True) else 0)
    events.emit(0, total, "reading training batches", force=True)
    model = parts.fresh_model()
    model.train()
    xs: list[Any] = []
    ys: list[Any] = []
    outs: list[torch.Tensor] = []
    with torch.no_grad():
        for batch in parts.train.batches(STAT_BATCHES):
            x, y = split_batch(batch)
            xs.append(x)
            ys.append(y)
            outs.append(parts.forward(model, x))
    if not xs:
        raise RuntimeError("train_data yielded no batches")
    stats["samples"] = sum(len(y) for y in ys)
    events.emit(1, total, "input statistics", force=True)
    _input_stats(xs, ys, problems, stats)
    events.emit(2, total, "labels against the model output and the loss", force=True)
    labels_ok = _labels(parts, outs, ys, problems, stats)
    if labels_ok:
        _initial_loss(parts, outs, ys, problems, stats)
    events.emit(3, total, "split overlap", force=True)
    _split_overlap(parts, problems, stats)
    result: dict[str, Any] = {"problems": problems, "stats": stats, "overfit": None}
    if params.get("overfit", True) and labels_ok:
        events.emit(4, total, "overfit test", force=True)
        result["overfit"] = overfit(parts, int(params.get("overfit_steps", 200)), problems, events)
    events.emit(total, total, "done", force=True)
    return result


# --- data ---------------------------------------------------------------------------------------


def _as_float(t: Any) -> torch.Tensor | None:
    """Inputs whose statistics mean something: floats and uint8 images, not token ids."""
    if not isinstance(t, torch.Tensor):
        return None
    if t.is_floating_point() or t.dtype == torch.uint8:
        return t.detach().float().cpu()
    return None


def _input_stats(
    xs: list[Any], ys: list[Any], problems: list[dict[str, Any]], stats: dict[str, Any]
) -> None:
    floats = [f for f in (_as_float(x) for x in xs) if f is not None]
    if floats:
        flat = torch.cat([f.reshape(-1) for f in floats])
        bad = int((~torch.isfinite(flat)).sum())
        if bad:
            problems.append(
                {
                    "id": "data.nonfinite",
                    "message": f"{bad} of {flat.numel()} input values are NaN or Inf",
                    "detail": {"stream": "inputs", "nonfinite": bad, "values": flat.numel()},
                }
            )
        finite = flat[torch.isfinite(flat)]
        if finite.numel():
            mean, std = float(finite.mean()), float(finite.std()) if finite.numel() > 1 else 0.0
            stats["inputs"] = {
                "mean": mean,
                "std": std,
                "min": float(finite.min()),
                "max": float(finite.max()),
            }
            _unnormalized(floats, mean, std, problems)
        try:
            joined = torch.cat(floats)
        except RuntimeError:  # samples of different shapes: compare values only
            joined = None
        constant = (
            bool((joined == joined[0]).all()) if joined is not None and len(joined) > 1 else False
        )
        if constant and len(joined) >= CONSTANT_MIN_SAMPLES:  # type: ignore[arg-type]
            problems.append(
                {
                    "id": "data.constant",
                    "message": f"all {len(joined)} sampled inputs are identical",  # type: ignore[arg-type]
                    "detail": {"stream": "inputs", "samples": len(joined)},  # type: ignore[arg-type]
                }
            )
    tensors = [y for y in ys if isinstance(y, torch.Tensor)]
    if tensors:
        labels = torch.cat([y.detach().reshape(-1).cpu() for y in tensors])
        if labels.is_floating_point():
            bad = int((~torch.isfinite(labels)).sum())
            if bad:
                problems.append(
                    {
                        "id": "data.nonfinite",
                        "message": f"{bad} of {labels.numel()} label values are NaN or Inf",
                        "detail": {"stream": "labels", "nonfinite": bad, "values": labels.numel()},
                    }
                )
        if labels.numel() >= CONSTANT_MIN_SAMPLES and bool((labels == labels[0]).all()):
            problems.append(
                {
                    "id": "data.constant",
                    "message": f"all {labels.numel()} sampled labels equal {labels[0].item()!r}",
                    "detail": {
                        "stream": "labels",
                        "samples": labels.numel(),
                        "value": float(labels[0].item()),
                    },
                }
            )


def _unnormalized(
    floats: list[torch.Tensor], mean: float, std: float, problems: list[dict[str, Any]]
) -> None:
    worst: dict[str, Any] | None = None
    try:
        joined = torch.cat(floats)
    except RuntimeError:
        joined = None
    if joined is not None and joined.dim() >= 2 and joined.shape[0] > 1:
        per = joined.transpose(0, 1).reshape(joined.shape[1], -1)
        per = torch.where(torch.isfinite(per), per, torch.zeros_like(per))
        means, stds = per.mean(dim=1), per.std(dim=1)
        score = torch.maximum(means.abs(), stds)
        k = int(score.argmax())
        if float(score[k]) > UNNORMALIZED_SCALE:
            worst = {"feature": k, "mean": float(means[k]), "std": float(stds[k])}
    elif max(abs(mean), std) > UNNORMALIZED_SCALE:
        worst = {"feature": None, "mean": mean, "std": std}
    if worst is None:
        return
    where = "" if worst["feature"] is None else f" (feature/channel {worst['feature']})"
    problems.append(
        {
            "id": "data.unnormalized",
            "message": (
                f"inputs are far from normalized{where}: mean {worst['mean']:.3g}, "
                f"std {worst['std']:.3g} (threshold |mean| or std > {UNNORMALIZED_SCALE:g}); "
                "standardize with training-set statistics"
            ),
            "detail": {
                **worst,
                "overall_mean": mean,
                "overall_std": std,
                "threshold": UNNORMALIZED_SCALE,
            },
        }
    )


# --- labels, loss -------------------------------------------------------------------------------


def _labels(
    parts: Parts,
    outs: list[torch.Tensor],
    ys: list[Any],
    problems: list[dict[str, Any]],
    stats: dict[str, Any],
) -> bool:
    """Label dtype, range and shape against the output and the loss; False when the loss cannot
    be computed meaningfully (the loss-based checks are then skipped)."""
    out, y = outs[0], ys[0]
    if not isinstance(y, torch.Tensor):
        return False
    stats["output_shape"] = list(out.shape)
    stats["target_shape"] = list(y.shape)
    stats["target_dtype"] = str(y.dtype).replace("torch.", "")
    kind = parts.kind
    if kind in ("ce", "nll"):
        if out.dim() < 2:
            return True
        c = int(out.shape[1])
        stats["num_outputs"] = c
        if y.is_floating_point() and tuple(y.shape) != tuple(out.shape):
            problems.append(
                {
                    "id": "loss.label-dtype",
                    "message": (
                        f"{parts.config['loss']} gets float labels of shape {tuple(y.shape)}; "
                        "class-index targets must be integers (torch.long), or class "
                        f"probabilities of the output's shape {tuple(out.shape)}"
                    ),
                    "detail": {"dtype": stats["target_dtype"], "target_shape": list(y.shape)},
                }
            )
            return False
        if y.is_floating_point():
            _softmax_before(parts, outs, problems)
            return True
        labels = torch.cat([t.reshape(-1).cpu() for t in ys if isinstance(t, torch.Tensor)])
        ignore = _ignore_index(parts)
        valid = labels[labels != ignore]
        bad = valid[(valid < 0) | (valid >= c)]
        if bad.numel():
            configured = parts.config.get("num_classes")
            problems.append(
                {
                    "id": "loss.label-out-of-range",
                    "message": (
                        f"{bad.numel()} of {valid.numel()} sampled labels lie outside [0, {c}) "
                        f"(the model outputs {c} classes"
                        + (f", the table says num_classes = {configured}" if configured else "")
                        + f"); label values seen {int(valid.min())}..{int(valid.max())}"
                    ),
                    "detail": {
                        "num_outputs": c,
                        "num_classes": configured,
                        "out_of_range": bad.numel(),
                        "labels": valid.numel(),
                        "min": int(valid.min()),
                        "max": int(valid.max()),
                        "examples": sorted({int(v) for v in bad[:50].tolist()})[:10],
                        "ignore_index": ignore,
                    },
                }
            )
            return False
        _class_balance(valid, c, problems, stats)
        _softmax_before(parts, outs, problems)
        return True
    if kind in ("bce", "bce_logits", "regression"):
        if not y.is_floating_point():
            problems.append(
                {
                    "id": "loss.label-dtype",
                    "message": (
                        f"{parts.config['loss']} needs float targets, got {stats['target_dtype']}; "
                        "convert with .float()"
                    ),
                    "detail": {"dtype": stats["target_dtype"], "loss_kind": kind},
                }
            )
            return False
        if tuple(out.shape) != tuple(y.shape):
            try:
                shape = torch.broadcast_shapes(out.shape, y.shape)  # type: ignore[no-untyped-call]
            except RuntimeError:
                return True  # the loss raises on its own, which the run reports
            problems.append(
                {
                    "id": "loss.shape-broadcast",
                    "message": (
                        f"prediction {tuple(out.shape)} and target {tuple(y.shape)} differ and "
                        f"broadcast to {tuple(shape)}: every prediction is compared with every "
                        "target; squeeze or reshape one of them"
                    ),
                    "detail": {
                        "output_shape": list(out.shape),
                        "target_shape": list(y.shape),
                        "broadcast_shape": list(shape),
                    },
                }
            )
        if kind == "bce_logits" and _all_in_unit(outs):
            problems.append(
                {
                    "id": "loss.sigmoid-before-bce-logits",
                    "message": (
                        "every model output lies in [0, 1] although BCEWithLogitsLoss applies "
                        "the sigmoid itself; drop the final sigmoid"
                    ),
                    "detail": _range_detail(outs),
                }
            )
    return True


def _ignore_index(parts: Parts) -> int:
    return ignore_index(parts.loss)


def _all_in_unit(outs: list[torch.Tensor]) -> bool:
    return all(float(o.min()) >= 0.0 and float(o.max()) <= 1.0 for o in outs)


def _range_detail(outs: list[torch.Tensor]) -> dict[str, Any]:
    return {
        "output_min": min(float(o.min()) for o in outs),
        "output_max": max(float(o.max()) for o in outs),
    }


def _softmax_before(parts: Parts, outs: list[torch.Tensor], problems: list[dict[str, Any]]) -> None:
    if not _all_in_unit(outs):
        return
    sums = torch.cat([o.sum(dim=1).reshape(-1) for o in outs])
    rows_sum_one = bool(((sums - 1).abs() <= PROB_ROW_SUM_TOL).all())
    what = "rows sum to 1 (softmax probabilities)" if rows_sum_one else "all lie in [0, 1]"
    wants = "log-probabilities (log_softmax)" if parts.kind == "nll" else "raw logits"
    problems.append(
        {
            "id": "loss.softmax-before-ce",
            "message": (
                f"the model's outputs {what} but {parts.config['loss']} expects {wants}; "
                "remove the final softmax/sigmoid"
                + (" or use log_softmax" if parts.kind == "nll" else "")
            ),
            "detail": {
                **_range_detail(outs),
                "rows_sum_to_one": rows_sum_one,
                "tolerance": PROB_ROW_SUM_TOL,
            },
        }
    )


def _class_balance(
    labels: torch.Tensor, c: int, problems: list[dict[str, Any]], stats: dict[str, Any]
) -> None:
    counts = torch.bincount(labels.long(), minlength=c)[:c]
    stats["class_counts"] = counts.tolist()
    if labels.numel() < IMBALANCE_MIN_PER_CLASS * c:
        return
    most, least = int(counts.max()), int(counts.min())
    ratio = most / least if least else math.inf
    if ratio <= IMBALANCE_RATIO:
        return
    missing = [k for k in range(c) if counts[k] == 0]
    problems.append(
        {
            "id": "data.class-imbalance",
            "message": (
                f"label distribution is skewed: class {int(counts.argmax())} has {most} of "
                f"{labels.numel()} sampled labels, class {int(counts.argmin())} {least}"
                + (f"; classes never seen: {missing[:10]}" if missing else "")
                + f" (ratio above {IMBALANCE_RATIO:g})"
            ),
            "detail": {
                "counts": counts.tolist(),
                "ratio": ratio if least else None,
                "threshold": IMBALANCE_RATIO,
            },
        }
    )


def _initial_loss(
    parts: Parts,
    outs: list[torch.Tensor],
    ys: list[Any],
    problems: list[dict[str, Any]],
    stats: dict[str, Any],
) -> None:
    with torch.no_grad():
        losses = [float(parts.compute_loss(o, y)) for o, y in zip(outs, ys, strict=True)]
    l0 = sum(losses) / len(losses)
    stats["initial_loss"] = l0
    if not math.isfinite(l0):
        problems.append(
            {
                "id": "loss.nonfinite",
                "message": f"the loss of the untrained model is {l0} on the first batches",
                "detail": {"losses": losses[:STAT_BATCHES]},
                "step": 0,
            }
        )
        return
    if parts.kind not in ("ce", "nll") or outs[0].dim() < 2:
        return
    c = int(outs[0].shape[1])
    expected = math.log(c)
    stats["expected_initial_loss"] = expected
    if abs(l0 - expected) >= expected:
        problems.append(
            {
                "id": "loss.initial-mismatch",
                "message": (
                    f"initial loss {l0:.3g} is far from ln({c}) = {expected:.3g} expected of an "
                    "untrained classifier (|L0 - ln C| >= ln C): check the output layer's "
                    "initialisation and scale, and the labels"
                ),
                "detail": {
                    "initial_loss": l0,
                    "ln_c": expected,
                    "num_outputs": c,
                    "threshold": "abs(L0 - ln C) >= ln C",
                },
            }
        )


# --- split overlap ------------------------------------------------------------------------------


def _digest(x: Any) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    _feed(h, x)
    return h.digest()


def _feed(h: Any, x: Any) -> None:
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu().contiguous()
        if t.dtype == torch.bfloat16:
            t = t.float()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.numpy().tobytes())
    elif isinstance(x, dict):
        for k in sorted(x, key=str):
            h.update(str(k).encode())
            _feed(h, x[k])
    elif isinstance(x, list | tuple):
        for v in x:
            _feed(h, v)
    else:
        h.update(repr(x).encode())


def _split_overlap(parts: Parts, problems: list[dict[str, Any]], stats: dict[str, Any]) -> None:
    if parts.val is None:
        stats["split_overlap"] = "not checked: no val_data in the table"
        return
    train: dict[bytes, int] = {}
    for i, x in parts.train.inputs(HASH_LIMIT):
        train.setdefault(_digest(x), i)
    hits: list[tuple[int, int]] = []
    checked = 0
    for j, x in parts.val.inputs(HASH_LIMIT):
        checked += 1
        hit = train.get(_digest(x))
        if hit is not None:
            hits.append((hit, j))
    stats["split_overlap"] = {
        "train_hashed": len(train),
        "val_hashed": checked,
        "overlap": len(hits),
    }
    if not hits:
        return
    problems.append(
        {
            "id": "data.split-overlap",
            "message": (
                f"{len(hits)} of {checked} validation samples also occur in the training data "
                f"(identical inputs), e.g. train[{hits[0][0]}] == val[{hits[0][1]}]"
            ),
            "detail": {
                "overlap": len(hits),
                "val_checked": checked,
                "train_checked": len(train),
                "fraction": len(hits) / checked,
                "examples": [list(p) for p in hits[:OVERLAP_EXAMPLES]],
                "limit_per_split": HASH_LIMIT,
            },
        }
    )


# --- overfit ------------------------------------------------------------------------------------


def _disable_dropout(model: nn.Module) -> int:
    n = 0
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.eval()
            n += 1
    return n


def overfit(
    parts: Parts, steps: int, problems: list[dict[str, Any]], events: Events
) -> dict[str, Any]:
    """Train a fresh model on one fixed batch for the whole budget (dropout modules in eval mode,
    weight decay 0) and record the curve; stop early only when the loss turns non-finite (a
    ``loss.nonfinite`` problem). The parent judges the curve; non-finite losses arrive as None."""
    torch.manual_seed(0)
    size = min(parts.train.batch_size, OVERFIT_MAX_BATCH)
    x, y = split_batch(parts.train.batch_of(size))
    model = parts.fresh_model()
    model.train()
    dropouts = _disable_dropout(model)
    opt = parts.make_optimizer(model)
    decayed = 0
    for group in opt.param_groups:
        if group.get("weight_decay"):
            group["weight_decay"] = 0.0
            decayed += 1
    classify = (
        parts.kind in ("ce", "nll") and isinstance(y, torch.Tensor) and not y.is_floating_point()
    )
    losses: list[float] = []
    accuracies: list[float | None] = []
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        pred = parts.forward(model, x)
        loss = parts.compute_loss(pred, y)
        value = float(loss.detach())
        losses.append(value)
        accuracies.append(_accuracy(pred, y, parts) if classify else None)
        if not math.isfinite(value):
            problems.append(
                {
                    "id": "loss.nonfinite",
                    "message": (
                        f"the loss became {value} at step {step} of the overfit test "
                        f"(lr {parts.lr:g})"
                    ),
                    "detail": {"lr": parts.lr, "phase": "overfit test"},
                    "step": step,
                }
            )
            break
        with stage(f"back-propagating the loss of {parts.config['model']}"):
            loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
        events.emit(step + 1, steps, f"overfit test: step {step + 1}/{steps}, loss {value:.4g}")
    return {
        "losses": losses,
        "accuracies": accuracies if classify else None,
        "batch_size": len(y) if hasattr(y, "__len__") else size,
        "lr": parts.lr,
        "dropout_modules_disabled": dropouts,
        "weight_decay_groups_zeroed": decayed,
    }


def _accuracy(pred: torch.Tensor, y: torch.Tensor, parts: Parts) -> float | None:
    if pred.dim() < 2 or pred.shape[0] != y.shape[0]:
        return None
    keep = y != _ignore_index(parts)
    if not bool(keep.any()):
        return None
    hits = (pred.detach().argmax(dim=1) == y)[keep]
    return float(hits.float().mean())
