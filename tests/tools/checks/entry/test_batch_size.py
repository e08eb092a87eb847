from __future__ import annotations

import functools
from pathlib import Path

import pytest

from dlpilot.errors import InvalidArgument
from dlpilot.tools.checks.entry import find_batch_size, probe_device

from ._projects import DATA, make_project

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "glyph_classifier"


@functools.cache
def _cuda() -> bool:
    return probe_device().cuda


def test_bad_arguments_are_refused():
    with pytest.raises(InvalidArgument, match="max_batch_size"):
        find_batch_size(EXAMPLE, max_batch_size=0)
    with pytest.raises(InvalidArgument, match="device"):
        find_batch_size(EXAMPLE, device="tpu")


def test_on_cpu_the_finder_says_so_and_measures_throughput():
    r = find_batch_size(EXAMPLE, max_batch_size=128, device="cpu")
    assert r.device == "cpu" and not r.oom_search
    assert r.note is not None and "no OOM search done" in r.note
    assert r.recommended is None and r.max_fitting is None
    assert [t.batch_size for t in r.trials] == [8, 16, 32, 64, 128]
    assert all(t.ok and t.samples_per_s and t.samples_per_s > 0 for t in r.trials)
    assert r.throughput_knee in {t.batch_size for t in r.trials}
    assert r.cap == 128 and r.cap_reason == "max_batch_size"


# A model whose activations take about 2 MB a sample (one 2**17-wide hidden layer) over a
# million samples: a GPU runs out of memory long before the dataset caps the search.
WIDE_MODEL = """\
from torch import nn


def build_model():
    return nn.Sequential(nn.Linear(4, 1 << 17), nn.ReLU(), nn.Linear(1 << 17, 3))
"""


@pytest.mark.cuda
def test_on_cuda_the_finder_searches_up_to_out_of_memory_and_keeps_a_margin(tmp_path: Path):
    if not _cuda():
        pytest.skip("needs a CUDA GPU: torch in the child sees none")
    data = DATA.replace("blobs(512, 1)", "blobs(1_000_000, 1)")
    project = make_project(tmp_path, model=WIDE_MODEL, data=data)
    r = find_batch_size(project, max_batch_size=1 << 20, device="cuda")
    assert r.device == "cuda" and r.oom_search and r.note is None
    assert r.cap_reason == "dataset size" and r.cap == 1_000_000
    assert r.first_failing is not None and r.max_fitting is not None
    assert r.max_fitting < r.first_failing <= r.max_fitting * 1.05 + 1  # binary search closed in
    assert r.recommended is not None and r.recommended <= 0.9 * r.max_fitting
    assert r.recommended % 8 == 0
    failed = [t for t in r.trials if not t.ok]
    assert failed and all("out of memory" in (t.error or "").lower() for t in failed)
    assert all(t.peak_memory_bytes for t in r.trials if t.ok)


@pytest.mark.cuda
def test_on_cuda_a_small_dataset_caps_the_search_and_the_cap_is_recommended():
    if not _cuda():
        pytest.skip("needs a CUDA GPU: torch in the child sees none")
    r = find_batch_size(EXAMPLE, max_batch_size=1 << 20, device="cuda")
    assert r.first_failing is None
    assert r.cap_reason == "dataset size" and r.max_fitting == r.cap == 3000
    # a few MB of a GPU's memory: no margin is needed below a size that never ran out of memory
    assert r.recommended == 3000
    assert r.note is not None and "dataset size (3000) without running out of memory" in r.note
