"""Slots: where trials run. One trial per GPU (or ``trials_per_gpu``), else CPU slots.

GPUs are found without importing torch: ``nvidia-smi -L`` lists them, and an existing
``CUDA_VISIBLE_DEVICES`` narrows (and orders) the list, as CUDA itself would. Each GPU slot runs
its trial with ``CUDA_VISIBLE_DEVICES`` set to its one device; each CPU slot caps the math
libraries' threads (``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``) so
parallel trials do not fight over the cores.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from dlpilot.errors import InvalidArgument

NVIDIA_SMI_TIMEOUT_S = 10.0
"""``nvidia-smi -L`` answers in well under a second; a hung driver must not hang the runner."""

CPU_THREADS_PER_SLOT = 4
"""Cores per CPU slot under ``parallel = "auto"``: small trainings stop scaling past a few
threads, so more slots of a few threads each use a machine better than one wide slot."""

_GPU_LINE = re.compile(r"^GPU (\d+):.*?(?:\(UUID: (\S+?)\))?\s*$")
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class Gpu:
    """One GPU as ``nvidia-smi -L`` lists it: its index and UUID (``GPU-...``)."""

    index: int
    uuid: str = ""
    name: str = ""


@dataclass(frozen=True)
class Slot:
    """A place one trial runs at a time: ``name`` (``cuda:0``, ``cuda:0#1``, ``cpu:2``) and the
    environment its trials get on top of the sandbox's allow-listed one."""

    name: str
    kind: Literal["gpu", "cpu"]
    env: dict[str, str] = field(default_factory=dict, hash=False)


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """The GPUs of ``nvidia-smi -L`` output (lines ``GPU 0: NAME (UUID: GPU-...)``)."""
    gpus = []
    for line in text.splitlines():
        match = _GPU_LINE.match(line.strip())
        if match:
            name = line.split(":", 1)[1].split("(UUID:")[0].strip()
            gpus.append(Gpu(int(match.group(1)), match.group(2) or "", name))
    return gpus


def list_gpus() -> list[Gpu]:
    """Every GPU the driver reports (``nvidia-smi -L``); none when it is missing or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        done = subprocess.run(  # a fixed argv, no shell
            [exe, "-L"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_nvidia_smi(done.stdout) if done.returncode == 0 else []


def visible_gpus(gpus: list[Gpu], env: Mapping[str, str]) -> list[str]:
    """The device ids trials may use: every GPU's index, or the entries of an existing
    ``CUDA_VISIBLE_DEVICES`` (indices or UUIDs) that name a present GPU, in its order. CUDA
    stops at the first invalid entry, and so does this."""
    if "CUDA_VISIBLE_DEVICES" not in env:
        return [str(g.index) for g in gpus]
    chosen: list[str] = []
    for entry in (e.strip() for e in env["CUDA_VISIBLE_DEVICES"].split(",")):
        ok = any(
            entry == str(g.index)
            or (g.uuid and g.uuid.startswith(entry) and entry.startswith("GPU-"))
            for g in gpus
        )
        if not entry or not ok or entry in chosen:
            break
        chosen.append(entry)
    return chosen


def cpu_count() -> int:
    """Cores this process may run on (its affinity mask, not the machine's total)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def plan_slots(
    parallel: int | Literal["auto"],
    *,
    gpus: list[str],
    trials_per_gpu: int = 1,
    cores: int = 1,
) -> list[Slot]:
    """The slots of a round. With GPUs: ``len(gpus) * trials_per_gpu`` slots under ``"auto"``,
    else ``parallel`` slots spread round-robin over the GPUs. Without: ``"auto"`` gives one CPU
    slot per :data:`CPU_THREADS_PER_SLOT` cores (at least one), and the cores are shared out
    evenly as thread limits."""
    if parallel != "auto" and (
        isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1
    ):
        raise InvalidArgument(f"parallel must be 'auto' or a number >= 1, got {parallel!r}")
    if trials_per_gpu < 1:
        raise InvalidArgument(f"trials_per_gpu must be >= 1, got {trials_per_gpu!r}")
    if gpus:
        count = len(gpus) * trials_per_gpu if parallel == "auto" else parallel
        slots = []
        for i in range(count):
            device = gpus[i % len(gpus)]
            lap = i // len(gpus)
            name = f"cuda:{device}" + (f"#{lap}" if lap else "")
            slots.append(Slot(name, "gpu", {"CUDA_VISIBLE_DEVICES": device}))
        return slots
    cores = max(1, cores)
    count = max(1, cores // CPU_THREADS_PER_SLOT) if parallel == "auto" else parallel
    threads = str(max(1, cores // count))
    env = {var: threads for var in _THREAD_VARS}
    # An empty CUDA_VISIBLE_DEVICES hides any GPU the driver did not list from the trials too.
    env["CUDA_VISIBLE_DEVICES"] = ""
    return [Slot(f"cpu:{i}", "cpu", dict(env)) for i in range(count)]


def machine_slots(
    parallel: int | Literal["auto"],
    trials_per_gpu: int = 1,
    env: Mapping[str, str] | None = None,
) -> list[Slot]:
    """:func:`plan_slots` for this machine: its GPUs (``nvidia-smi -L``, narrowed by this
    process's ``CUDA_VISIBLE_DEVICES``) and its cores."""
    gpus = visible_gpus(list_gpus(), os.environ if env is None else env)
    return plan_slots(parallel, gpus=gpus, trials_per_gpu=trials_per_gpu, cores=cpu_count())


__all__ = [
    "CPU_THREADS_PER_SLOT",
    "Gpu",
    "Slot",
    "cpu_count",
    "list_gpus",
    "machine_slots",
    "parse_nvidia_smi",
    "plan_slots",
    "visible_gpus",
]
