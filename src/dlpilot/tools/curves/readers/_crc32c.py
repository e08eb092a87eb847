"""CRC32C (Castagnoli) of many byte ranges of one buffer at once, with numpy only.

No C implementation of CRC32C is importable here (``crc32c``, ``google_crc32c`` are absent, and
``zlib.crc32`` is the IEEE polynomial), and a byte-at-a-time Python loop costs about a microsecond
per byte. TensorBoard event files hold many short records (a scalar event is ~40 bytes), so the
checksums are computed *across records* instead: one numpy operation advances every record's CRC
register by four bytes.

How, in short (a CRC register is a linear function of the message over GF(2)):

* ``reg0(m)``, the register run from 0 with no final xor, is unchanged by *leading* zero bytes, so
  every range is right-aligned to a multiple of four bytes by padding it in front with zeros (the
  bytes before the range are masked off in its first word).
* ``crc32c(m) == reg0(m) ^ crc32c(b"\\0" * len(m))``; the second term depends on the length only
  and is computed once per distinct length with polynomial arithmetic (as zlib's
  ``crc32_combine`` does).
* Ranges are sorted by word count, longest first, so at word column ``i`` the ranges that have
  started form a prefix of the sorted arrays; each column is one gather and a slicing-by-4 step
  done with two 64 Ki-entry tables.
* Ranges longer than ``_CHUNK`` bytes are cut into chunks that take part as ranges of their own;
  the chunk registers are then joined (``reg0(a+b) == shift(reg0(a), len(b)) ^ reg0(b)``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_POLY = 0x82F63B78  # CRC32C, bit-reversed
_CHUNK = 1024  # longest range done in one piece; longer ones are split into chunks of this size
_MASK_DELTA = 0xA282EAD8  # TFRecord's CRC mask constant


def _byte_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_T0 = _byte_table()


def _slice_tables() -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    t = [np.array(_T0, dtype=np.uint32)]
    for _ in range(3):
        prev = t[-1]
        t.append((prev >> np.uint32(8)) ^ t[0][prev & np.uint32(0xFF)])
    # After ``reg ^= word`` a 4-byte step is reg = T3[b0] ^ T2[b1] ^ T1[b2] ^ T0[b3]; fold byte
    # pairs into two 65536-entry tables (256 KiB each) to halve the number of gathers.
    lo = (t[3][np.arange(65536) & 0xFF] ^ t[2][np.arange(65536) >> 8]).astype(np.uint32)
    hi = (t[1][np.arange(65536) & 0xFF] ^ t[0][np.arange(65536) >> 8]).astype(np.uint32)
    return lo, hi


_LO, _HI = _slice_tables()


def _multmodp(a: int, b: int) -> int:
    """a(x) * b(x) modulo the CRC polynomial, bit-reversed representation."""
    m = 1 << 31
    p = 0
    while True:
        if a & m:
            p ^= b
            if (a & (m - 1)) == 0:
                break
        m >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return p


def _x2n_table() -> list[int]:
    table = [1 << 30]  # x^1
    for _ in range(31):
        table.append(_multmodp(table[-1], table[-1]))
    return table


_X2N = _x2n_table()


def _xpow8n(n: int) -> int:
    """x^(8n) mod p: the operator that moves a register past n zero bytes."""
    p = 1 << 31  # x^0
    k = 3
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32c_of_zeros(n: int) -> int:
    """CRC32C of ``n`` zero bytes."""
    return _multmodp(_xpow8n(n), 0xFFFFFFFF) ^ 0xFFFFFFFF


def crc32c(data: bytes) -> int:
    """CRC32C of one byte string (slow: for tests and single short values)."""
    c = 0xFFFFFFFF
    t = _T0
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _shift_tables(n: int) -> list[list[int]]:
    """Byte tables of the linear map 'move the register past n zero bytes'."""
    op = _xpow8n(n)
    return [[_multmodp(op, b << (8 * k)) for b in range(256)] for k in range(4)]


_SHIFT_CHUNK = _shift_tables(_CHUNK)


def _raw_registers(
    buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint32]:
    """reg0 (start 0, no final xor) of each range; every range at most _CHUNK bytes, starts >= 3."""
    out = np.zeros(starts.shape[0], dtype=np.uint32)
    if starts.shape[0] == 0:
        return out
    pad = (-lengths) % 4
    base = starts - pad  # byte offset of each range's first (partly masked) word
    words = (lengths + pad) // 4
    shifted = np.uint64(0xFFFFFFFF) << (pad.astype(np.uint64) * np.uint64(8))
    masks = (shifted & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    raw = buf.data  # a memoryview of the buffer, no copy
    for align in range(4):
        sel = np.flatnonzero((base % 4) == align)
        if sel.shape[0] == 0:
            continue
        count = (buf.shape[0] - align) // 4
        view = np.frombuffer(raw, dtype="<u4", offset=align, count=count)
        order = sel[np.argsort((-words[sel]).astype(np.int16), kind="stable")]  # radix sort
        w = words[order]
        wmax = int(w[0])
        if wmax == 0:
            continue
        first = (base[order] - align) // 4 + w - wmax  # word index at column 0 (may be negative)
        m = masks[order]
        # active[i]: how many ranges have started by column i (those with w >= wmax - i).
        active = np.searchsorted(-w, -(wmax - np.arange(wmax)), side="right")
        reg = np.zeros(order.shape[0], dtype=np.uint32)
        prev = 0
        for i in range(wmax):
            k = int(active[i])
            word = view[first[:k] + i]
            if k > prev:
                word[prev:k] &= m[prev:k]
            r = reg[:k]
            r ^= word
            reg[:k] = _LO[r & 0xFFFF] ^ _HI[r >> 16]  # uint32 fancy indexing: fastest here
            prev = k
        out[order] = reg
    return out


def crc32c_many(
    buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> npt.NDArray[np.uint32]:
    """CRC32C of ``buf[s:s+n]`` for every (s, n); ranges must start at byte 4 or later."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if starts.shape[0] and int(starts.min()) < 4:
        raise ValueError("ranges must start at byte 4 or later")
    long_sel = np.flatnonzero(lengths > _CHUNK)
    reg = np.zeros(starts.shape[0], dtype=np.uint32)
    short_sel = np.flatnonzero(lengths <= _CHUNK)
    reg[short_sel] = _raw_registers(buf, starts[short_sel], lengths[short_sel])
    if long_sel.shape[0]:
        # Split each long range: a head of (n % _CHUNK or _CHUNK) bytes, then whole chunks.
        n = lengths[long_sel]
        head = n - ((n - 1) // _CHUNK) * _CHUNK
        nchunks = 1 + (n - head) // _CHUNK
        owner = np.repeat(np.arange(long_sel.shape[0]), nchunks)
        first_idx = np.cumsum(nchunks) - nchunks
        j = np.arange(owner.shape[0]) - first_idx[owner]  # chunk number within its range
        c_len = np.where(j == 0, head[owner], _CHUNK)
        c_start = starts[long_sel][owner] + np.where(j == 0, 0, head[owner] + (j - 1) * _CHUNK)
        c_reg = _raw_registers(buf, c_start, c_len).tolist()
        s0, s1, s2, s3 = _SHIFT_CHUNK
        pos = 0
        for idx, cnt in zip(long_sel.tolist(), nchunks.tolist(), strict=True):
            r = 0
            for c in c_reg[pos : pos + cnt]:
                r = s0[r & 0xFF] ^ s1[(r >> 8) & 0xFF] ^ s2[(r >> 16) & 0xFF] ^ s3[r >> 24] ^ c
            pos += cnt
            reg[idx] = r
    uniq, inverse = np.unique(lengths, return_inverse=True)
    zeros = np.array([crc32c_of_zeros(int(u)) for u in uniq], dtype=np.uint32)
    return np.asarray(reg ^ zeros[inverse], dtype=np.uint32)


def masked(crc: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """TFRecord's masked CRC: rotate right by 15 bits and add a constant."""
    c = crc.astype(np.uint64)
    rot = ((c >> np.uint64(15)) | (c << np.uint64(17))) & np.uint64(0xFFFFFFFF)
    return ((rot + np.uint64(_MASK_DELTA)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)


__all__ = ["crc32c", "crc32c_many", "crc32c_of_zeros", "masked"]
