"""TensorBoard event files (``events.out.tfevents.*``), read without TensorFlow or tensorboard.

One job, reading one format, in ~640 lines: the framing, the CRC checks and the protobuf
decoding are done by hand (a numpy path across records and an exact per-record fallback that
must agree with it), to need no protobuf or TensorFlow. Split, the two decoders would sit apart
from the block loop that chooses between them and that the curve benchmark times as one.

A file is a sequence of TFRecords::

    uint64 length | uint32 masked_crc32c(length) | data[length] | uint32 masked_crc32c(data)

(little-endian), each ``data`` an ``Event`` protobuf. Only what scalars need is decoded, by hand::

    Event    { double wall_time = 1; int64 step = 2; Summary summary = 5; }
    Summary  { repeated Value value = 1; }
    Value    { string tag = 1; float simple_value = 2; SummaryMetadata metadata = 9;
               TensorProto tensor = 8; }
    SummaryMetadata { PluginData plugin_data = 1 { string plugin_name = 1; } }
    TensorProto { DataType dtype = 1; bytes tensor_content = 4; repeated float float_val = 5;
                  repeated double double_val = 6; repeated int32 int_val = 7;
                  repeated int64 int64_val = 10; repeated int32 half_val = 13; }

Scalars come as ``simple_value`` (torch's ``SummaryWriter.add_scalar``, TF1) or as a one-element
``tensor`` (TF2 ``tf.summary.scalar``, ``tensorboard.summary.Writer``, torch with
``new_style=True``). A tensor is taken as a scalar when it has exactly one numeric element and its
tag's plugin (declared by the tag's first value; later values usually omit the metadata) is
``scalars`` or absent. Every point is kept.

A file is read in blocks of about 4 MiB; each block's whole records are framed, checked and
decoded with numpy across records, and a record cut by the block's end is carried into the next
block. Memory thus follows the points kept (24 bytes a point), not the file's size. Both checksums
of every record are verified (``_crc32c.crc32c_many``, vectorized over records). Reading stops
at the first torn record or checksum mismatch; what came before is kept and the file, byte offset
and reason go to ``Run.warnings``. Several event files in one directory (a
resumed run) are read in the order they were written (the timestamp in their names, then their
first event's wall time), so a resumed run's step that goes back is seen as one (``_base``).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dlpilot.errors import CurveReadError
from dlpilot.tools.curves._model import Run
from dlpilot.tools.curves.readers._base import Reader, SeriesBuilder, run_name_for
from dlpilot.tools.curves.readers._crc32c import crc32c, crc32c_many, masked

_HEADER = struct.Struct("<Q")
_F64 = struct.Struct("<d")
_F32 = struct.Struct("<f")
_U32 = struct.Struct("<I")
_BLOCK = 4 << 20  # bytes read at a time (~85,000 scalar records): bounds the working memory
_FILE_TIME = re.compile(r"tfevents\.(\d+)")

# TensorFlow DataType enum values that hold one number per element.
_DT_FLOAT, _DT_DOUBLE, _DT_INT32, _DT_INT64, _DT_HALF, _DT_BFLOAT16 = 1, 2, 3, 9, 19, 14
_CONTENT_DTYPES = {
    _DT_FLOAT: "<f4",
    _DT_DOUBLE: "<f8",
    _DT_INT32: "<i4",
    _DT_INT64: "<i8",
    _DT_HALF: "<f2",
}


def is_event_file(path: Path) -> bool:
    return "tfevents" in path.name and path.is_file()


def _file_order(path: Path) -> tuple[int, float, str]:
    """Event files in the order they were written: the whole second in the name, then the wall
    time of the first event (two writers opened in one second, by a resumed run), then the name."""
    m = _FILE_TIME.search(path.name)
    return (int(m.group(1)) if m else 0, _first_wall_time(path), path.name)


def _first_wall_time(path: Path) -> float:
    """The wall time of a file's first event (``Event.wall_time`` is field 1, a double, and
    writers put it first), or infinity when it cannot be read."""
    try:
        with path.open("rb") as f:
            head = f.read(12 + 9)
    except OSError:
        return float("inf")
    if len(head) < 21 or head[12] != 0x09:
        return float("inf")
    wall: float = _F64.unpack_from(head, 13)[0]
    return wall


class TensorBoardReader(Reader):
    """A directory's event files form one run (TensorBoard's own rule); a file alone is a run."""

    format = "tensorboard"

    def detect(self, path: Path) -> bool:
        if path.is_file():
            return "tfevents" in path.name
        if path.is_dir():
            return any(is_event_file(p) for p in path.iterdir())
        return False

    def read(self, path: Path) -> list[Run]:
        if path.is_dir():
            files = sorted((p for p in path.iterdir() if is_event_file(p)), key=_file_order)
        else:
            files = [path]
        if not files:
            raise CurveReadError(f"{path}: no TensorBoard event files (events.out.tfevents.*)")
        run = Run(name=run_name_for(path), source=str(path), format=self.format)
        builder = SeriesBuilder()
        failures = []
        for file in files:
            try:
                _read_file(file, builder, run.warnings)
            except CurveReadError as e:
                failures.append(str(e))
        if len(failures) == len(files):
            raise CurveReadError("; ".join(failures))
        run.warnings.extend(f"skipped: {f}" for f in failures)
        return [builder.build(run)]


def _read_file(path: Path, builder: SeriesBuilder, warnings: list[str]) -> None:
    """Read one event file in blocks of about ``_BLOCK`` bytes: frame, check and decode each block
    (a record cut by the block's end is carried into the next), so memory follows the points kept,
    not the file's size."""
    try:
        f = path.open("rb")
    except OSError as e:
        raise CurveReadError(f"{path}: cannot read TensorBoard event file: {e}") from e
    decoder = _Decoder(path, builder, warnings)
    kept = 0  # records read, checked and decoded
    base = 0  # file offset of data[0]
    stop = ""  # why reading stopped before the end, or ''
    with f:
        try:
            size = os.fstat(f.fileno()).st_size
            carry = b""
            want = _BLOCK
            while True:
                block = f.read(want)
                at_end = len(block) < want
                data = carry + block if carry else block
                del block, carry
                offsets, lengths, end = _frame(data)
                good, problem = _verify(data, offsets, lengths)
                decoder.decode(data, offsets[:good], lengths[:good])
                kept += good
                if problem:
                    i = offsets[good]
                    stop = f"{problem} in the record at byte {base + i}"
                    break
                base += end
                carry = data[end:]
                del data
                torn = _next_record(carry, base, size, at_end)
                if isinstance(torn, str):
                    stop = torn
                    break
                if torn < 0:
                    break  # the end of the file, on a record boundary
                want = max(_BLOCK, torn - len(carry))
        except OSError as e:
            raise CurveReadError(f"{path}: cannot read TensorBoard event file: {e}") from e
    if kept == 0 and stop:
        raise CurveReadError(f"{path}: not a readable TensorBoard event file ({stop})")
    if stop:
        warnings.append(f"{path}: {stop}; kept the {kept} records before it")
    decoder.finish()


def _next_record(carry: bytes, base: int, size: int, at_end: bool) -> int | str:
    """After a block: the bytes the next record needs in all (> 0), -1 at the clean end of the
    file, or the reason to stop (a torn record, a bad length checksum)."""
    if not carry:
        return -1 if at_end else _BLOCK
    torn = (
        f"torn record at byte {base} ({len(carry) if at_end else size - base} bytes of an "
        "incomplete record at the end; the file may still be being written)"
    )
    if at_end:
        return torn
    if len(carry) < 12:
        return _BLOCK
    (n,) = _HEADER.unpack_from(carry, 0)
    (stored,) = _U32.unpack_from(carry, 8)
    if int(masked(np.array([crc32c(carry[:8])], dtype=np.uint32))[0]) != stored:
        return f"length checksum mismatch in the record at byte {base}"
    if base + 16 + n > size:
        return torn  # it cannot be complete in the file as it was when opened
    return int(16 + n)


def _frame(data: bytes) -> tuple[list[int], list[int], int]:
    """Offsets and data lengths of the whole records at the start of ``data``, and the position
    after the last of them."""
    offsets: list[int] = []
    lengths: list[int] = []
    add_off = offsets.append
    add_len = lengths.append
    unpack = _HEADER.unpack_from
    size = len(data)
    pos = 0
    while pos + 12 <= size:
        (n,) = unpack(data, pos)
        if pos + 16 + n > size:
            break
        add_off(pos)
        add_len(n)
        pos += 16 + n
    return offsets, lengths, pos


def _verify(data: bytes, offsets: list[int], lengths: list[int]) -> tuple[int, str]:
    """How many leading records pass both checksums, and which failed after them ('' if none)."""
    n = len(offsets)
    if n == 0:
        return 0, ""
    buf = np.frombuffer(data, dtype=np.uint8)
    offs = np.asarray(offsets, dtype=np.int64)
    lens = np.asarray(lengths, dtype=np.int64)
    stored_len = _gather_u32(buf, offs + 8)
    stored_data = _gather_u32(buf, offs + 12 + lens)
    # Ranges for crc32c_many must start at byte 4 or later; the first header is done alone.
    len_crc = np.empty(n, dtype=np.uint32)
    len_crc[0] = crc32c(data[offsets[0] : offsets[0] + 8])
    if n > 1:
        len_crc[1:] = crc32c_many(buf, offs[1:], np.full(n - 1, 8, dtype=np.int64))
    data_crc = crc32c_many(buf, offs + 12, lens)
    bad_len = masked(len_crc) != stored_len
    bad_data = masked(data_crc) != stored_data
    bad = np.flatnonzero(bad_len | bad_data)
    if bad.shape[0] == 0:
        return n, ""
    i = int(bad[0])
    return i, ("length" if bool(bad_len[i]) else "data") + " checksum mismatch"


def _gather_u32(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    idx = at[:, None] + np.arange(4)
    return np.ascontiguousarray(buf[idx]).view("<u4").reshape(-1)


class _Decoder:
    """Decodes the checked records of one file, block by block, into ``builder`` (one part per
    tag and block, in file order). Tag ids and plugin names last for the whole file: a tag's
    plugin is declared by its first value only."""

    def __init__(self, path: Path, builder: SeriesBuilder, warnings: list[str]) -> None:
        self.path = path
        self.builder = builder
        self.warnings = warnings
        self.tag_ids: dict[bytes, int] = {}
        self.names: list[str] = []
        self.plugins: dict[int, str] = {}
        self.undecodable = 0

    def decode(self, data: bytes, offsets: list[int], lengths: list[int]) -> None:
        if not offsets:
            return
        offs = np.asarray(offsets, dtype=np.int64)
        lens = np.asarray(lengths, dtype=np.int64)
        fast = _fast_scalars(data, offs, lens)
        rest = np.arange(offs.shape[0]) if fast is None else np.flatnonzero(~fast[0])
        ids, recs, steps, values, walls = self._decode_events(
            data, offs[rest].tolist(), lens[rest].tolist(), rest.tolist()
        )
        if fast is not None:
            matched, fast_tags, fast_ids, fast_steps, fast_values, fast_walls = fast
            remap = np.array([self._tag_id(t) for t in fast_tags], dtype=np.int64)
            if ids.shape[0] == 0:
                ids, steps, values, walls = remap[fast_ids], fast_steps, fast_values, fast_walls
            else:
                ids = np.concatenate([ids, remap[fast_ids]])
                recs = np.concatenate([recs, np.flatnonzero(matched)])
                steps = np.concatenate([steps, fast_steps])
                values = np.concatenate([values, fast_values])
                walls = np.concatenate([walls, fast_walls])
                by_record = np.argsort(recs, kind="stable")  # file order: the last write wins
                ids, steps, values, walls = (
                    ids[by_record],
                    steps[by_record],
                    values[by_record],
                    walls[by_record],
                )
        if ids.shape[0] == 0:
            return
        count = len(self.names)
        order = np.argsort(ids, kind="stable")
        bounds = np.searchsorted(ids[order], np.arange(count + 1)).tolist()
        for tid in range(count):
            if bounds[tid] == bounds[tid + 1]:
                continue
            sel = order[bounds[tid] : bounds[tid + 1]]
            self.builder.add(self.names[tid], steps[sel], values[sel], walls[sel])

    def finish(self) -> None:
        if self.undecodable:
            self.warnings.append(
                f"{self.path}: {self.undecodable} event(s) could not be decoded and were skipped"
            )

    def _tag_id(self, tag: bytes) -> int:
        tid = self.tag_ids.get(tag)
        if tid is None:
            tid = self.tag_ids[tag] = len(self.names)
            self.names.append(tag.decode("utf-8", "replace"))
        return tid

    def _decode_events(
        self, data: bytes, offsets: list[int], lengths: list[int], records: list[int]
    ) -> tuple[
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
    ]:
        """(tag id, record, step, value, wall time) of each scalar in the given records, decoded
        one field at a time (any event shape)."""
        tag_id = self._tag_id
        plugins = self.plugins
        t_recs: list[int] = []
        t_ids: list[int] = []
        t_steps: list[int] = []
        t_values: list[float] = []
        t_walls: list[float] = []
        add_rec, add_id, add_step, add_value, add_wall = (
            t_recs.append,
            t_ids.append,
            t_steps.append,
            t_values.append,
            t_walls.append,
        )
        f64 = _F64.unpack_from
        f32 = _F32.unpack_from
        for rec, off, n in zip(records, offsets, lengths, strict=True):
            p = off + 12
            end = p + n
            wall = 0.0
            step = 0
            s_start = s_end = 0
            try:
                while p < end:
                    key = data[p]
                    p += 1
                    if key == 0x09:  # wall_time, double
                        wall = f64(data, p)[0]
                        p += 8
                    elif key == 0x10:  # step, varint
                        b = data[p]
                        p += 1
                        if b < 0x80:
                            step = b
                        else:
                            step, p = _varint_rest(data, p, b)
                            if step >= 1 << 63:
                                step -= 1 << 64
                    elif key == 0x2A:  # summary
                        ln = data[p]
                        p += 1
                        if ln >= 0x80:
                            ln, p = _varint_rest(data, p, ln)
                        s_start, s_end = p, p + ln
                        p = s_end
                    else:
                        p = _skip(data, p, key)
                if p != end:
                    raise ValueError("field runs past the end of the event")
                if s_end:
                    p = s_start
                    while p < s_end:
                        key = data[p]
                        ln = data[p + 1]
                        p += 2
                        if ln >= 0x80:
                            ln, p = _varint_rest(data, p, ln)
                        if key != 0x0A:  # Summary has no field but value = 1
                            raise ValueError("unexpected field in Summary")
                        v_end = p + ln
                        # Fast path: torch's Value{tag=1, simple_value=2} and nothing else.
                        tl = data[p + 1]
                        if (
                            data[p] == 0x0A
                            and tl < 0x80
                            and p + 7 + tl == v_end
                            and data[p + 2 + tl] == 0x15
                        ):
                            add_id(tag_id(data[p + 2 : p + 2 + tl]))
                            add_rec(rec)
                            add_step(step)
                            add_value(f32(data, p + 3 + tl)[0])
                            add_wall(wall)
                        else:
                            got = _decode_value(data, p, v_end, tag_id, plugins)
                            if got is not None:
                                add_id(got[0])
                                add_rec(rec)
                                add_step(step)
                                add_value(got[1])
                                add_wall(wall)
                        p = v_end
            except (IndexError, ValueError, struct.error):
                self.undecodable += 1
        return (
            np.asarray(t_ids, dtype=np.int64),
            np.asarray(t_recs, dtype=np.int64),
            np.asarray(t_steps, dtype=np.int64),
            np.asarray(t_values, dtype=np.float64),
            np.asarray(t_walls, dtype=np.float64),
        )


def _fast_scalars(
    data: bytes, offs: npt.NDArray[np.int64], lens: npt.NDArray[np.int64]
) -> (
    tuple[
        npt.NDArray[np.bool_],
        list[bytes],
        npt.NDArray[np.int64],
        npt.NDArray[np.int64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
    ]
    | None
):
    """Decode, with numpy over all records at once, the events of the one shape torch's
    ``add_scalar`` writes: ``09 wall(8) [10 step-varint] 2A L 0A L 0A TL tag 15 value(4)`` with
    one-byte lengths. Returns (which records matched, tags, tag index, step, value, wall time) of
    the matching records; the others go through the general decoder."""
    n = offs.shape[0]
    if n == 0:
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    size = buf.shape[0]
    d = offs + 12
    end = d + lens

    def at(i: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
        out: npt.NDArray[np.uint8] = buf[np.minimum(i, size - 1)]
        return out

    ok = (lens >= 9 + 8) & (at(d) == 0x09)
    has_step = at(d + 9) == 0x10
    # The step varint, one byte column at a time while any record's varint goes on.
    step = np.zeros(n, dtype=np.uint64)
    k = np.zeros(n, dtype=np.int64)  # varint length
    going = has_step.copy()
    first = d + 10
    for j in range(10):
        b = at(first + j)
        step |= np.where(going, (b & 0x7F).astype(np.uint64) << np.uint64(7 * j), 0).astype(
            np.uint64
        )
        k += going
        going &= b >= 0x80
        if not bool(going.any()):
            break
    ok &= ~going  # a varint longer than ten bytes
    p = np.where(has_step, first + k, d + 9)
    l1, l2, tl = at(p + 1).astype(np.int64), at(p + 3).astype(np.int64), at(p + 5).astype(np.int64)
    ok &= (at(p) == 0x2A) & (at(p + 2) == 0x0A) & (at(p + 4) == 0x0A)
    ok &= (l1 < 0x80) & (l1 == l2 + 2) & (l2 == tl + 7) & (p + 2 + l1 == end)
    ok &= at(p + 6 + tl) == 0x15
    sel = np.flatnonzero(ok)
    if sel.shape[0] == 0:
        return None
    p, tl = p[sel], tl[sel]
    tag_start = p + 6
    # Tag ids: hash the tag bytes column by column, then check every tag against its group's.
    width = int(tl.max())
    h = tl.astype(np.uint64)
    for j in range(width):
        col = np.where(j < tl, at(tag_start + j), 0).astype(np.uint64)
        h = h * np.uint64(1099511628211) + col
    _, first_of, inverse = np.unique(h, return_index=True, return_inverse=True)
    del h
    tags = [data[int(tag_start[i]) : int(tag_start[i] + tl[i])] for i in first_of.tolist()]
    inverse = inverse.reshape(-1)
    rep = tag_start[first_of][inverse]
    same = tl == tl[first_of][inverse]
    for j in range(width):
        same &= (j >= tl) | (at(tag_start + j) == at(rep + j))
    if not bool(same.all()):
        return None  # a hash collision: let the general decoder do it all
    value_at = (p + 7 + tl)[:, None] + np.arange(4)
    values = np.ascontiguousarray(buf[value_at]).view("<f4").reshape(-1).astype(np.float64)
    wall_at = (d[sel] + 1)[:, None] + np.arange(8)
    walls = np.ascontiguousarray(buf[wall_at]).view("<f8").reshape(-1)
    steps = step[sel].view(np.int64)
    return ok, tags, inverse.astype(np.int64), steps, values, walls


def _varint_rest(data: bytes, p: int, first: int) -> tuple[int, int]:
    """A varint whose first byte (>= 0x80) was already read; returns (value, next position)."""
    result = first & 0x7F
    shift = 7
    while True:
        b = data[p]
        p += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, p
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _varint(data: bytes, p: int) -> tuple[int, int]:
    b = data[p]
    if b < 0x80:
        return b, p + 1
    return _varint_rest(data, p + 1, b)


def _skip(data: bytes, p: int, key: int) -> int:
    """Position after the value of a field whose one-byte key was just read."""
    if key & 0x80:
        raise ValueError("multi-byte field keys do not occur in Event")
    wire = key & 7
    if wire == 0:
        _, p = _varint(data, p)
        return p
    if wire == 1:
        return p + 8
    if wire == 2:
        ln, p = _varint(data, p)
        return p + ln
    if wire == 5:
        return p + 4
    raise ValueError(f"unsupported wire type {wire}")


def _fields(data: bytes, p: int, end: int) -> list[tuple[int, int, int, int]]:
    """(field number, wire type, start, end-or-varint-value) of each field in data[p:end]."""
    out = []
    while p < end:
        key, p = _varint(data, p)
        field, wire = key >> 3, key & 7
        if wire == 0:
            val, p = _varint(data, p)
            out.append((field, wire, val, p))
        elif wire == 1:
            out.append((field, wire, p, p + 8))
            p += 8
        elif wire == 2:
            ln, p = _varint(data, p)
            out.append((field, wire, p, p + ln))
            p += ln
        elif wire == 5:
            out.append((field, wire, p, p + 4))
            p += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    if p != end:
        raise ValueError("field runs past the end of its message")
    return out


def _decode_value(
    data: bytes, p: int, end: int, tag_id: Callable[[bytes], int], plugins: dict[int, str]
) -> tuple[int, float] | None:
    """(tag id, value) of a scalar Summary.Value in data[p:end], or None if it is not a scalar."""
    tag = b""
    simple: float | None = None
    tensor: tuple[int, int] | None = None
    plugin: str | None = None
    for field, wire, a, b in _fields(data, p, end):
        if field == 1 and wire == 2:
            tag = data[a:b]
        elif field == 2 and wire == 5:
            simple = _F32.unpack_from(data, a)[0]
        elif field == 8 and wire == 2:
            tensor = (a, b)
        elif field == 9 and wire == 2:
            plugin = _plugin_name(data, a, b)
    tid = tag_id(tag)
    if plugin is not None and tid not in plugins:
        plugins[tid] = plugin
    if simple is not None:
        return tid, simple
    if tensor is None or plugins.get(tid, "scalars") not in ("scalars", ""):
        return None
    value = _tensor_scalar(data, *tensor)
    return None if value is None else (tid, value)


def _plugin_name(data: bytes, p: int, end: int) -> str:
    for field, wire, a, b in _fields(data, p, end):
        if field == 1 and wire == 2:  # plugin_data
            for f2, w2, a2, b2 in _fields(data, a, b):
                if f2 == 1 and w2 == 2:
                    return data[a2:b2].decode("utf-8", "replace")
    return ""


def _tensor_scalar(data: bytes, p: int, end: int) -> float | None:
    """The value of a one-element numeric TensorProto, else None."""
    dtype = 0
    content = b""
    numbers: list[float] = []
    for field, wire, a, b in _fields(data, p, end):
        if field == 1 and wire == 0:
            dtype = a
        elif field == 4 and wire == 2:
            content = data[a:b]
        elif field == 5:  # float_val, packed (wire 2) or not (wire 5)
            numbers.extend(np.frombuffer(data[a:b], dtype="<f4").tolist())
        elif field == 6:  # double_val
            numbers.extend(np.frombuffer(data[a:b], dtype="<f8").tolist())
        elif field in (7, 10, 13):  # int_val, int64_val, half_val: varints
            numbers.extend(_varints(data, a, b) if wire == 2 else [a])
    if content:
        np_dtype = _CONTENT_DTYPES.get(dtype)
        if np_dtype is None:
            return None
        arr = np.frombuffer(content, dtype=np_dtype)
        return float(arr[0]) if arr.shape[0] == 1 else None
    if len(numbers) != 1 or dtype not in (*_CONTENT_DTYPES, _DT_BFLOAT16):
        return None
    value = numbers[0]
    if dtype == _DT_HALF:
        return float(np.array([int(value)], dtype=np.uint16).view(np.float16)[0])
    if dtype == _DT_INT64 and value >= 1 << 63:
        return float(int(value) - (1 << 64))
    if dtype == _DT_INT32 and value >= 1 << 63:
        return float(int(value) - (1 << 64))
    return float(value)


def _varints(data: bytes, p: int, end: int) -> list[float]:
    out: list[float] = []
    while p < end:
        v, p = _varint(data, p)
        out.append(float(v))
    return out


__all__ = ["TensorBoardReader", "is_event_file"]
