"""Batch-size finder: on CUDA, the largest batch that fits (doubling, then binary search) with a
safety margin; on CPU, measured throughput for a few sizes (there is no device memory to fill)."""

from __future__ import annotations

import copy
import gc
import statistics
import time
from typing import Any

import torch

from ._build import Parts, split_batch, to_device
from ._protocol import Events

START_BATCH = 2
"""First size tried on CUDA, as Lightning's scaler: tiny models fit far more, doubling is cheap."""

SEARCH_TOLERANCE = 0.02
"""Binary search stops when the gap between fitting and failing is this fraction of the fit."""

SAFETY_FACTOR = 0.9
"""Recommended size = this x the largest fitting size: room for fragmentation and longer inputs."""

ROUND_TO = 8
"""Round a recommended size above this down to a multiple of it (tensor-core friendly)."""

TIMED_MIN_S = 0.3
"""Time each size for at least this long (after one warm-up step) for a stable samples/s."""

TIMED_MIN_STEPS = 3
"""...and at least this many steps; the median step time is used (robust to a busy machine)."""

TIMED_MAX_STEPS = 20
"""...but never more steps than this per size."""

CPU_SIZES = (8, 16, 32, 64, 128, 256, 512, 1024)
"""Sizes measured on CPU, up to the cap: where throughput stops scaling is usually below 1024."""

CPU_STEP_BUDGET_S = 2.0
"""On CPU, stop growing once one step takes longer than this: larger sizes only cost time."""

KNEE_FRACTION = 0.9
"""Throughput knee: the smallest size reaching this fraction of the best samples/s measured."""

CPU_NOTE = (
    "CPU: batch size is limited by host memory and speed, not by device memory; no OOM search "
    "done. Throughput (samples/s) was measured instead; pick a size near where it stops scaling."
)


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError | torch.cuda.OutOfMemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


class _Trials:
    def __init__(self, parts: Parts, device: torch.device) -> None:
        self.parts = parts
        self.device = device
        self.model = parts.fresh_model().to(device)
        self.model.train()
        self.saved = copy.deepcopy(self.model.state_dict())
        self.log: list[dict[str, Any]] = []

    def run(self, size: int) -> dict[str, Any]:
        cuda = self.device.type == "cuda"
        x, y = split_batch(self.parts.train.batch_of(size))
        got = len(y)
        entry: dict[str, Any] = {"batch_size": got, "ok": True}
        opt = None
        try:
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(self.device)
            x, y = to_device(x, self.device), to_device(y, self.device)
            opt = self.parts.make_optimizer(self.model)
            self._step(opt, x, y)  # warm-up: allocates optimizer state and kernels
            self._sync()
            times: list[float] = []
            start = time.perf_counter()
            while len(times) < TIMED_MAX_STEPS and (
                len(times) < TIMED_MIN_STEPS or time.perf_counter() - start < TIMED_MIN_S
            ):
                t0 = time.perf_counter()
                self._step(opt, x, y)
                self._sync()
                times.append(time.perf_counter() - t0)
                if times[0] > CPU_STEP_BUDGET_S:
                    break  # one slow step says enough; repeats would only cost time
            step_s = statistics.median(times)
            entry.update(step_s=step_s, samples_per_s=got / step_s)
            if cuda:
                entry["peak_memory_bytes"] = int(torch.cuda.max_memory_allocated(self.device))
        except Exception as exc:
            if not _is_oom(exc):
                raise
            entry.update(ok=False, error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        finally:
            del x, y
            if opt is not None:
                opt.zero_grad(set_to_none=True)
                del opt
            self.model.zero_grad(set_to_none=True)
            self.model.load_state_dict(self.saved)
            gc.collect()
            if cuda:
                torch.cuda.empty_cache()
        self.log.append(entry)
        return entry

    def _step(self, opt: torch.optim.Optimizer, x: Any, y: Any) -> None:
        opt.zero_grad(set_to_none=True)
        loss = self.parts.compute_loss(self.parts.forward(self.model, x), y)
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)


def recommend(largest: int) -> int:
    size = max(1, int(largest * SAFETY_FACTOR))
    if size > ROUND_TO:
        size -= size % ROUND_TO
    return size


def knee(trials: list[dict[str, Any]]) -> int | None:
    good = [t for t in trials if t["ok"]]
    if not good:
        return None
    best = max(t["samples_per_s"] for t in good)
    return int(min(t["batch_size"] for t in good if t["samples_per_s"] >= KNEE_FRACTION * best))


def find_batch_size(parts: Parts, params: dict[str, Any], events: Events) -> dict[str, Any]:
    cap = int(params["max_batch_size"])
    cap_reason = "max_batch_size"
    size = parts.train.size()
    if size is not None and size < cap:
        cap, cap_reason = size, "dataset size"
    want = params.get("device", "auto")
    cuda = torch.cuda.is_available() and want in ("auto", "cuda")
    device = torch.device("cuda" if cuda else "cpu")
    trials = _Trials(parts, device)
    base: dict[str, Any] = {"device": device.type, "cap": cap, "cap_reason": cap_reason}
    if not cuda:
        sizes = [s for s in CPU_SIZES if s < cap] + [cap]
        sizes = sorted(set(s for s in sizes if s <= cap))
        for k, s in enumerate(sizes):
            events.emit(k, len(sizes), f"batch size {s}: measuring throughput on CPU", force=True)
            entry = trials.run(s)
            if not entry["ok"] or entry["step_s"] > CPU_STEP_BUDGET_S:
                break
        return {
            **base,
            "device_name": "cpu",
            "oom_search": False,
            "note": CPU_NOTE,
            "trials": trials.log,
            "max_fitting": None,
            "first_failing": next((t["batch_size"] for t in trials.log if not t["ok"]), None),
            "recommended": None,
            "throughput_knee": knee(trials.log),
        }
    good, bad = 0, None
    s = min(START_BATCH, cap)
    while True:
        events.emit(len(trials.log), None, f"batch size {s}: trying on CUDA", force=True)
        if trials.run(s)["ok"]:
            good = s
            if s >= cap:
                break
            s = min(2 * s, cap)
        else:
            bad = s
            break
    if good == 0 and bad is not None and bad > 1:
        if trials.run(1)["ok"]:
            good = 1
        else:
            bad = 1
    while bad is not None and good and bad - good > max(1, int(good * SEARCH_TOLERANCE)):
        mid = (good + bad) // 2
        events.emit(len(trials.log), None, f"batch size {mid}: binary search on CUDA", force=True)
        if trials.run(mid)["ok"]:
            good = mid
        else:
            bad = mid
    total = int(torch.cuda.get_device_properties(device).total_memory)
    note = None
    recommended = recommend(good) if good else None
    if bad is None and good:
        # The cap was reached with no out-of-memory: the margin is for a size near the limit,
        # so the cap itself is recommended while its peak leaves that margin free.
        peak = max((t.get("peak_memory_bytes") or 0) for t in trials.log if t["ok"])
        if peak <= SAFETY_FACTOR * total:
            recommended = good
        note = (
            f"the search stopped at the {cap_reason} ({cap}) without running out of memory; "
            f"peak memory {peak / 2**30:.2f} GiB of {total / 2**30:.1f} GiB"
        )
    return {
        **base,
        "device_name": torch.cuda.get_device_name(device),
        "total_memory_bytes": total,
        "oom_search": True,
        "note": note,
        "trials": trials.log,
        "max_fitting": good or None,
        "first_failing": bad,
        "recommended": recommended,
        "throughput_knee": knee(trials.log),
    }
