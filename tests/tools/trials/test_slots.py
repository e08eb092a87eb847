"""Slots: GPUs from a fake ``nvidia-smi`` on PATH, placement over GPUs, CPU slots with limits."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dlpilot.errors import InvalidArgument
from dlpilot.tools.trials._slots import (
    list_gpus,
    machine_slots,
    parse_nvidia_smi,
    plan_slots,
    visible_gpus,
)

SMI = """GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0f4b7c1e-aaaa-bbbb-cccc-000000000000)
GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-9d2a11ff-aaaa-bbbb-cccc-111111111111)
GPU 2: NVIDIA H100 80GB HBM3 (UUID: GPU-77aa33bb-aaaa-bbbb-cccc-222222222222)
"""


def _fake_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str, code: int = 0) -> None:
    exe = tmp_path / "bin" / "nvidia-smi"
    exe.parent.mkdir()
    (tmp_path / "smi.txt").write_text(output)
    exe.write_text(
        f'#!/bin/sh\n[ "$1" = "-L" ] || exit 9\ncat {tmp_path / "smi.txt"}\nexit {code}\n'
    )
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{exe.parent}{os.pathsep}{os.environ['PATH']}")


def test_nvidia_smi_lines_give_index_uuid_and_name() -> None:
    gpus = parse_nvidia_smi(SMI + "some warning line\n")
    assert [g.index for g in gpus] == [0, 1, 2]
    assert gpus[1].uuid == "GPU-9d2a11ff-aaaa-bbbb-cccc-111111111111"
    assert gpus[0].name == "NVIDIA H100 80GB HBM3"


def test_a_fake_nvidia_smi_on_path_is_run_and_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_smi(tmp_path, monkeypatch, SMI)
    assert [g.index for g in list_gpus()] == [0, 1, 2]


def test_a_failing_nvidia_smi_means_no_gpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_smi(tmp_path, monkeypatch, "NVIDIA-SMI has failed\n", code=9)
    assert list_gpus() == []


def test_an_existing_cuda_visible_devices_narrows_and_orders_the_gpus() -> None:
    gpus = parse_nvidia_smi(SMI)
    assert visible_gpus(gpus, {}) == ["0", "1", "2"]
    assert visible_gpus(gpus, {"CUDA_VISIBLE_DEVICES": "2,0"}) == ["2", "0"]
    assert visible_gpus(gpus, {"CUDA_VISIBLE_DEVICES": ""}) == []
    assert visible_gpus(gpus, {"CUDA_VISIBLE_DEVICES": "-1"}) == []
    # CUDA stops at the first entry that names no GPU
    assert visible_gpus(gpus, {"CUDA_VISIBLE_DEVICES": "1,7,0"}) == ["1"]
    assert visible_gpus(gpus, {"CUDA_VISIBLE_DEVICES": "GPU-9d2a11ff"}) == ["GPU-9d2a11ff"]


def test_one_slot_per_gpu_each_with_its_own_device() -> None:
    slots = plan_slots("auto", gpus=["0", "1", "2"], cores=16)
    assert [s.name for s in slots] == ["cuda:0", "cuda:1", "cuda:2"]
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "1", "2"]
    assert all(s.kind == "gpu" for s in slots)


def test_several_trials_per_gpu_and_a_number_spread_round_robin() -> None:
    slots = plan_slots("auto", gpus=["2", "0"], trials_per_gpu=2, cores=16)
    assert [s.name for s in slots] == ["cuda:2", "cuda:0", "cuda:2#1", "cuda:0#1"]
    slots = plan_slots(3, gpus=["0", "1"], cores=16)
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["0", "1", "0"]


def test_without_gpus_cpu_slots_share_the_cores_as_thread_limits() -> None:
    slots = plan_slots("auto", gpus=[], cores=16)
    assert [s.name for s in slots] == ["cpu:0", "cpu:1", "cpu:2", "cpu:3"]
    assert {s.env["OMP_NUM_THREADS"] for s in slots} == {"4"}
    assert {s.env["MKL_NUM_THREADS"] for s in slots} == {"4"}
    assert all(s.env["CUDA_VISIBLE_DEVICES"] == "" for s in slots)
    assert len(plan_slots("auto", gpus=[], cores=2)) == 1
    three = plan_slots(3, gpus=[], cores=2)
    assert len(three) == 3 and three[0].env["OMP_NUM_THREADS"] == "1"


def test_machine_slots_use_the_fake_gpus_and_the_callers_visible_devices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_smi(tmp_path, monkeypatch, SMI)
    slots = machine_slots("auto", env={"CUDA_VISIBLE_DEVICES": "1,2"})
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["1", "2"]


def test_a_bad_parallel_value_is_named() -> None:
    with pytest.raises(InvalidArgument, match=r"parallel must be .* got 0"):
        plan_slots(0, gpus=[], cores=4)
