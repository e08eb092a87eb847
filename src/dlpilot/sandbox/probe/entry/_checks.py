"""The entry checks' measurements: input and label statistics, labels against the model's output
and the loss, the initial loss, split overlap and the single-batch overfit curve.

The child measures and decides nothing: it returns ``{"stats", "measured", "overfit"}``, where
``stats`` is the summary shown to the user and ``measured`` the statistics that
``dlpilot.tools.checks.rules`` judges with the same thresholds as a script's run (finding ids,
messages and thresholds live there). The constants here bound the work and set measuring
tolerances only.
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

PROB_ROW_SUM_TOL = 1e-3
"""Rows of the output summing to 1 within this tolerance are probabilities (softmax output)."""

HASH_LIMIT = 20_000
"""Samples hashed per split for the overlap check: bounded time on large datasets."""

OVERLAP_EXAMPLES = 5
"""Pairs of overlapping (train, val) indices kept as examples."""

OUT_OF_RANGE_EXAMPLES = 10
"""Distinct out-of-range label values kept as examples."""

OVERFIT_MAX_BATCH = 128
"""Largest batch the overfit test uses (seed 004: one batch of 32-128 samples)."""


def run_checks(parts: Parts, params: dict[str, Any], events: Events) -> dict[str, Any]:
    measured: dict[str, Any] = {"loss_kind": parts.kind, "loss": str(parts.config["loss"])}
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
    _input_stats(xs, ys, measured, stats)
    events.emit(2, total, "labels against the model output and the loss", force=True)
    labels_ok = _labels(parts, outs, ys, measured, stats)
    if labels_ok:
        _initial_loss(parts, outs, ys, measured, stats)
    events.emit(3, total, "split overlap", force=True)
    _split_overlap(parts, measured, stats)
    result: dict[str, Any] = {"measured": measured, "stats": stats, "overfit": None}
    if params.get("overfit", True) and labels_ok:
        events.emit(4, total, "overfit test", force=True)
        result["overfit"] = overfit(parts, int(params.get("overfit_steps", 200)), events)
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
    xs: list[Any], ys: list[Any], measured: dict[str, Any], stats: dict[str, Any]
) -> None:
    floats = [f for f in (_as_float(x) for x in xs) if f is not None]
    if floats:
        flat = torch.cat([f.reshape(-1) for f in floats])
        finite = flat[torch.isfinite(flat)]
        inputs: dict[str, Any] = {
            "values": flat.numel(),
            "nonfinite": int((~torch.isfinite(flat)).sum()),
        }
        if finite.numel():
            mean, std = float(finite.mean()), float(finite.std()) if finite.numel() > 1 else 0.0
            stats["inputs"] = {
                "mean": mean,
                "std": std,
                "min": float(finite.min()),
                "max": float(finite.max()),
            }
            # per batch, as the script probe measures the model input: the largest batch RMS
            rms = [
                float(v.pow(2).mean().sqrt())
                for v in (f[torch.isfinite(f)] for f in floats)
                if v.numel()
            ]
            inputs.update(rms_max=max(rms), abs_max=float(finite.abs().max()))
        try:
            joined = torch.cat(floats)
        except RuntimeError:  # samples of different shapes: compare values only
            joined = None
        if joined is not None and len(joined) > 1:
            inputs["samples"] = len(joined)
            inputs["identical"] = bool((joined == joined[0]).all())
        measured["inputs"] = inputs
    tensors = [y for y in ys if isinstance(y, torch.Tensor)]
    if tensors:
        labels = torch.cat([y.detach().reshape(-1).cpu() for y in tensors])
        floating = labels.is_floating_point()
        measured["labels"] = {
            "values": labels.numel(),
            "nonfinite": int((~torch.isfinite(labels)).sum()) if floating else 0,
            "identical": bool((labels == labels[0]).all()) if labels.numel() else False,
            "first": float(labels[0].item()) if labels.numel() else None,
        }


# --- labels, loss -------------------------------------------------------------------------------


def _labels(
    parts: Parts,
    outs: list[torch.Tensor],
    ys: list[Any],
    measured: dict[str, Any],
    stats: dict[str, Any],
) -> bool:
    """Label dtype, range and shape against the output and the loss; False when the loss cannot
    be computed meaningfully (the loss-based measurements are then skipped)."""
    out, y = outs[0], ys[0]
    if not isinstance(y, torch.Tensor):
        return False
    stats["output_shape"] = list(out.shape)
    stats["target_shape"] = list(y.shape)
    stats["target_dtype"] = str(y.dtype).replace("torch.", "")
    shapes = {
        "dtype": stats["target_dtype"],
        "output_shape": list(out.shape),
        "target_shape": list(y.shape),
    }
    kind = parts.kind
    if kind in ("ce", "nll"):
        if out.dim() < 2:
            return True
        c = int(out.shape[1])
        stats["num_outputs"] = c
        if y.is_floating_point() and tuple(y.shape) != tuple(out.shape):
            measured["wrong_dtype"] = {**shapes, "wants": "integer"}
            return False
        if y.is_floating_point():
            measured["outputs"] = _outputs(outs)
            return True
        labels = torch.cat([t.reshape(-1).cpu() for t in ys if isinstance(t, torch.Tensor)])
        ignore = ignore_index(parts.loss)
        valid = labels[labels != ignore]
        bad = valid[(valid < 0) | (valid >= c)]
        measured["label_range"] = {
            "num_outputs": c,
            "num_classes": parts.config.get("num_classes"),
            "out_of_range": bad.numel(),
            "labels": valid.numel(),
            "min": int(valid.min()) if valid.numel() else None,
            "max": int(valid.max()) if valid.numel() else None,
            "examples": sorted({int(v) for v in bad[:50].tolist()})[:OUT_OF_RANGE_EXAMPLES],
            "ignore_index": ignore,
        }
        if bad.numel():
            return False
        counts = torch.bincount(valid.long(), minlength=c)[:c].tolist()
        stats["class_counts"] = counts
        measured["class_counts"] = counts
        measured["ignored_classes"] = [ignore] if 0 <= ignore < c else []
        measured["outputs"] = _outputs(outs)
        return True
    if kind in ("bce", "bce_logits", "regression"):
        if not y.is_floating_point():
            measured["wrong_dtype"] = {**shapes, "wants": "float"}
            return False
        if tuple(out.shape) != tuple(y.shape):
            try:
                shape = torch.broadcast_shapes(out.shape, y.shape)  # type: ignore[no-untyped-call]
            except RuntimeError:
                return True  # the loss raises on its own, which the run reports
            measured["broadcast"] = {**shapes, "broadcast_shape": list(shape)}
        measured["outputs"] = _outputs(outs)
    return True


def _outputs(outs: list[torch.Tensor]) -> dict[str, Any]:
    """The output range, whether every output lies in [0, 1] and whether rows sum to 1."""
    in_unit = all(float(o.min()) >= 0.0 and float(o.max()) <= 1.0 for o in outs)
    rows = [o.sum(dim=1).reshape(-1) for o in outs if o.dim() >= 2]
    sums = torch.cat(rows) if rows else None
    return {
        "output_min": min(float(o.min()) for o in outs),
        "output_max": max(float(o.max()) for o in outs),
        "in_unit": in_unit,
        "rows_sum_to_one": bool(((sums - 1).abs() <= PROB_ROW_SUM_TOL).all())
        if sums is not None and sums.numel()
        else False,
        "tolerance": PROB_ROW_SUM_TOL,
    }


def _initial_loss(
    parts: Parts,
    outs: list[torch.Tensor],
    ys: list[Any],
    measured: dict[str, Any],
    stats: dict[str, Any],
) -> None:
    with torch.no_grad():
        losses = [float(parts.compute_loss(o, y)) for o, y in zip(outs, ys, strict=True)]
    l0 = sum(losses) / len(losses)
    stats["initial_loss"] = l0
    classes = int(outs[0].shape[1]) if parts.kind in ("ce", "nll") and outs[0].dim() >= 2 else None
    if classes is not None and math.isfinite(l0):
        stats["expected_initial_loss"] = math.log(classes)
    measured["initial_loss"] = {"value": l0, "losses": losses[:STAT_BATCHES], "classes": classes}


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


def _split_overlap(parts: Parts, measured: dict[str, Any], stats: dict[str, Any]) -> None:
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
    measured["split_overlap"] = {
        "overlap": len(hits),
        "val_checked": checked,
        "train_checked": len(train),
        "examples": [list(p) for p in hits[:OVERLAP_EXAMPLES]],
        "limit_per_split": HASH_LIMIT,
    }


# --- overfit ------------------------------------------------------------------------------------


def _disable_dropout(model: nn.Module) -> int:
    n = 0
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.eval()
            n += 1
    return n


def overfit(parts: Parts, steps: int, events: Events) -> dict[str, Any]:
    """Train a fresh model on one fixed batch for the whole budget (dropout modules in eval mode,
    weight decay 0) and record the curve; stop early only when the loss turns non-finite. The
    parent judges the curve; non-finite losses arrive as None (strict JSON has no NaN)."""
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
    keep = y != ignore_index(parts.loss)
    if not bool(keep.any()):
        return None
    hits = (pred.detach().argmax(dim=1) == y)[keep]
    return float(hits.float().mean())
