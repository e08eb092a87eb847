import math
import struct
from pathlib import Path

import numpy as np
import pytest

from dlpilot.errors import CurveReadError
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.readers import _tensorboard, read_run, read_runs
from dlpilot.tools.curves.readers._crc32c import crc32c, crc32c_many, crc32c_of_zeros, masked


def _event_file(d: Path) -> Path:
    (file,) = d.glob("events.out.tfevents.*")
    return file


def _torch_run(d: Path, steps: int = 300) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(d)) as w:
        for s in range(steps):
            w.add_scalar("Loss/train", 1.0 / (s + 1), s)
            if s % 10 == 0:
                w.add_scalar("Loss/val", 2.0 / (s + 1), s)
                w.add_scalar("learning_rate", 0.1 * 0.99**s, s)
        w.add_histogram("weights", np.arange(100.0), 0)
        w.add_text("note", "hello", 0)
    return d


def _records(path: Path) -> list[tuple[int, int]]:
    """(offset, data length) of each TFRecord: the framing, written out independently."""
    data = path.read_bytes()
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        out.append((pos, n))
        pos += n + 16
    return out


def test_crc32c_matches_the_castagnoli_check_value_and_tensorboards_own() -> None:
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c_of_zeros(32) == crc32c(bytes(32))
    rng = np.random.default_rng(0)
    buf = rng.integers(0, 256, size=50_000, dtype=np.uint8)
    lengths = np.array([0, 1, 2, 3, 4, 5, 8, 41, 1023, 1024, 1025, 5000, 20_000], dtype=np.int64)
    starts = rng.integers(4, buf.shape[0] - 20_000, size=lengths.shape[0]).astype(np.int64)
    got = masked(crc32c_many(buf, starts, lengths))
    raw = buf.tobytes()
    expected = [masked_crc32c(raw[s : s + n]) for s, n in zip(starts, lengths, strict=True)]
    assert got.tolist() == expected


@pytest.mark.slow
def test_scalars_from_torch_summarywriter_are_read_whole_and_match_tensorboard(
    tmp_path: Path,
) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    d = _torch_run(tmp_path / "runs" / "exp1")
    run = read_run(d)
    assert run.format == "tensorboard" and run.name == "exp1"
    assert run.warnings == []
    assert set(run.series) == {"train/loss", "val/loss", "lr"}
    acc = EventAccumulator(str(d), size_guidance={"scalars": 0})
    acc.Reload()
    for tag, name in [
        ("Loss/train", "train/loss"),
        ("Loss/val", "val/loss"),
        ("learning_rate", "lr"),
    ]:
        events = acc.Scalars(tag)
        series = run.series[name]
        assert series.original == tag
        assert series.steps.tolist() == [e.step for e in events]
        assert series.values.tolist() == [e.value for e in events]
        assert series.wall_times is not None
        assert series.wall_times.tolist() == [e.wall_time for e in events]
    assert len(run.series["train/loss"]) == 300


@pytest.mark.slow
def test_new_style_tensor_scalars_from_torch_are_read_in_float_and_double(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path)) as w:
        for s in range(5):
            w.add_scalar("f32", 0.5 * s, s, new_style=True)
            w.add_scalar("f64", 1e-300 * (s + 1), s, new_style=True, double_precision=True)
    run = read_run(tmp_path)
    assert run.series["f32"].values.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert run.series["f64"].values.tolist() == [1e-300 * (s + 1) for s in range(5)]


@pytest.mark.slow
def test_scalars_from_tensorboards_own_writer_with_tensor_content_are_read(tmp_path: Path) -> None:
    from tensorboard.summary import Writer

    w = Writer(str(tmp_path))
    for s in range(0, 50, 5):
        w.add_scalar("eval_loss", 1.0 / (s + 1), s, wall_time=1000.0 + s)
    w.close()
    run = read_run(tmp_path)
    loss = run.series["val/loss"]
    assert loss.steps.tolist() == list(range(0, 50, 5))
    assert loss.values.tolist() == [float(np.float32(1.0 / (s + 1))) for s in range(0, 50, 5)]
    assert loss.wall_times is not None and loss.wall_times[0] == 1000.0


@pytest.mark.slow
def test_a_torn_last_record_keeps_every_earlier_point_and_names_the_byte_offset(
    tmp_path: Path,
) -> None:
    d = _torch_run(tmp_path / "run")
    file = _event_file(d)
    records = _records(file)
    full = read_run(d)
    last_off = records[-1][0]
    data = file.read_bytes()
    file.write_bytes(data[: last_off + 20])
    run = read_run(d)
    assert any(str(file) in w and f"byte {last_off}" in w and "torn" in w for w in run.warnings)
    assert len(run.series["train/loss"]) == len(full.series["train/loss"])


@pytest.mark.slow
def test_a_checksum_mismatch_stops_reading_at_that_record_with_a_warning(tmp_path: Path) -> None:
    d = _torch_run(tmp_path / "run")
    file = _event_file(d)
    records = _records(file)
    off, n = records[100]
    data = bytearray(file.read_bytes())
    data[off + 12 + n // 2] ^= 0xFF  # flip bits inside the event data
    file.write_bytes(bytes(data))
    run = read_run(d)
    assert any(f"data checksum mismatch in the record at byte {off}" in w for w in run.warnings)
    # Records before 100: the file_version event and then one train/loss point per record.
    assert 0 < len(run.series["train/loss"]) < 100


@pytest.mark.slow
def test_a_corrupted_length_field_is_caught_by_its_own_checksum(tmp_path: Path) -> None:
    d = _torch_run(tmp_path / "run")
    file = _event_file(d)
    off, _ = _records(file)[50]
    data = bytearray(file.read_bytes())
    data[off] ^= 0x01
    file.write_bytes(bytes(data))
    run = read_run(d)
    assert any(f"byte {off}" in w for w in run.warnings)
    assert len(run.series["train/loss"]) < 50


@pytest.mark.slow
def test_a_logdir_with_several_run_subdirectories_gives_one_run_each(tmp_path: Path) -> None:
    _torch_run(tmp_path / "logs" / "a" / "train", steps=20)
    _torch_run(tmp_path / "logs" / "a" / "val", steps=20)
    _torch_run(tmp_path / "logs" / "b", steps=20)
    runs = read_runs(tmp_path / "logs")
    assert sorted(r.name for r in runs) == ["a/train", "a/val", "b"]


def test_a_file_that_is_not_an_event_file_cannot_be_read(tmp_path: Path) -> None:
    file = tmp_path / "events.out.tfevents.123.host"
    file.write_bytes(b"definitely not a TFRecord file, just some text of some length\n")
    with pytest.raises(CurveReadError, match="not a readable TensorBoard event file"):
        read_run(file)


@pytest.mark.slow
def test_nan_and_inf_scalars_from_torch_are_kept(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(str(tmp_path)) as w:
        w.add_scalar("loss", 1.0, 0)
        w.add_scalar("loss", float("nan"), 1)
        w.add_scalar("loss", float("inf"), 2)
    values = read_run(tmp_path).series["train/loss"].values
    assert values[0] == 1.0 and math.isnan(values[1]) and math.isinf(values[2])


def _same_series(a: Run, b: Run) -> None:
    assert set(a.series) == set(b.series)
    for name, s in a.series.items():
        t = b.series[name]
        assert s.steps.tolist() == t.steps.tolist()
        assert s.values.tolist() == t.values.tolist()
        assert s.wall_times is not None and t.wall_times is not None
        assert s.wall_times.tolist() == t.wall_times.tolist()


@pytest.mark.slow
@pytest.mark.parametrize("block", [1, 7, 45, 64, 1000])
def test_reading_in_blocks_smaller_than_a_record_gives_the_same_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    d = _torch_run(tmp_path / "run", steps=120)
    whole = read_run(d)
    monkeypatch.setattr(_tensorboard, "_BLOCK", block)
    run = read_run(d)
    assert run.warnings == []
    _same_series(run, whole)


@pytest.mark.slow
@pytest.mark.parametrize("block", [13, 100, 4096])
def test_damage_read_in_small_blocks_is_reported_at_the_same_byte_offset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    monkeypatch.setattr(_tensorboard, "_BLOCK", block)
    d = _torch_run(tmp_path / "run")
    file = _event_file(d)
    records = _records(file)
    original = file.read_bytes()
    # A flipped data byte.
    off, n = records[100]
    data = bytearray(original)
    data[off + 12 + n // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    run = read_run(d)
    assert any(f"data checksum mismatch in the record at byte {off}" in w for w in run.warnings)
    assert any("kept the 100 records before it" in w for w in run.warnings)
    # A length field that points far past the end of the file: its own checksum stops reading
    # before anything is allocated for it.
    off, _ = records[60]
    data = bytearray(original)
    data[off + 6] = 0x7F
    file.write_bytes(bytes(data))
    run = read_run(d)
    assert any(f"length checksum mismatch in the record at byte {off}" in w for w in run.warnings)
    # A torn last record.
    last_off = records[-1][0]
    file.write_bytes(original[: last_off + 20])
    run = read_run(d)
    assert any(f"torn record at byte {last_off} (20 bytes" in w for w in run.warnings)


def test_a_record_longer_than_the_file_with_a_valid_length_checksum_is_a_torn_record(
    tmp_path: Path,
) -> None:
    file = tmp_path / "events.out.tfevents.1.host"
    length = struct.pack("<Q", 10_000_000)
    header = length + struct.pack("<I", int(masked(np.array([crc32c(length)], np.uint32))[0]))
    file.write_bytes(header + b"x" * 100)
    with pytest.raises(CurveReadError, match=r"torn record at byte 0 \(112 bytes"):
        read_run(file)
