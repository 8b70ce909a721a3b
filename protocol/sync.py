"""Attached sync marker and frame synchronisation (CCSDS 131.0-B-5 §9).

* :data:`AttachedSyncMarker` -- the 32-bit ASM 0x1ACFFC1D (§9) that
  precedes every codeblock (uncoded, Reed-Solomon or convolutionally coded
  frames); :data:`Cadu` -- ASM + codeblock, the channel access data unit.
* :func:`attach_asm` -- ASM + codeblock octets.
* :class:`FrameSynchronizer` -- a sans-IO stream synchroniser (h11 style):
  ``feed()`` octets, then ``next_event()`` / ``events()`` give
  :class:`FrameFound` and :class:`Skipped` events. It finds the ASM at any
  bit position (the stream need not be octet aligned), tolerates up to
  ``max_bit_errors`` wrong bits in the ASM, recognises inverted polarity (all
  bits flipped, e.g. a BPSK phase ambiguity) and re-inverts the codeblock it
  delivers. Once a frame is found it is locked: the next ASM is checked first
  right after that frame (flywheel), and only if it is not there does it
  search again. Events do not depend on how the stream is chunked.
* Soft symbols and unpacked bits: :meth:`FrameSynchronizer.feed_symbols` takes float32 soft symbols
  (a demodulator's output; > 0 is a 1, as GNU Radio and gr-satellites have it) and
  :meth:`FrameSynchronizer.feed_bits` one bit per octet (0/1, a slicer's output); both are hard-decided
  and packed, first bit the most significant, the few bits short of an octet carried to the next call
  (and zero-filled to an octet at ``close()``), so the synchroniser's bit-shift and polarity search do
  the rest. :func:`bits_to_symbols` /
  :func:`octets_to_symbols` go the other way (0 -> -1.0, 1 -> +1.0), for a modulator or a test.
* :func:`sync_batch` -- the fast path for the common case on a ground
  station: octet-aligned, normal polarity, back-to-back CADUs; the ASM of
  every frame is checked at once with numpy.

What the standard leaves to the receiver: the search strategy, the ASM
bit-error tolerance and the flywheel. A real station picks a
small tolerance (0..4 of 32 bits) for acquisition, enables polarity
detection for PSK links, and codeblocks of 1020 or 1275 octets (RS I=4 or 5).
The ASM is never randomised (§10), so sync runs before derandomisation.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass, field

import construct as c
import numpy as np

from .errors import LocalProtocolError

__all__ = [
    "AttachedSyncMarker",
    "Cadu",
    "ASM",
    "ASM_LEN",
    "attach_asm",
    "FrameFound",
    "FrameRun",
    "Skipped",
    "NEED_DATA",
    "FrameSynchronizer",
    "SyncBatch",
    "sync_batch",
    "BitPacker",
    "octets_to_symbols",
    "bits_to_symbols",
    "symbols_to_bits",
]

LAYER = "frame sync"

#: §9: the 32-bit attached sync marker 1ACFFC1D (hex), first bit transmitted first.
AttachedSyncMarker = c.Const(bytes.fromhex("1ACFFC1D"))
#: §9: a channel access data unit is the ASM followed by one codeblock.
Cadu = c.Struct("asm" / AttachedSyncMarker, "codeblock" / c.GreedyBytes)

ASM: bytes = AttachedSyncMarker.value
ASM_LEN = len(ASM)
ASM_BITS = 8 * ASM_LEN
_ASM_INT = int.from_bytes(ASM, "big")
_MASK32 = (1 << ASM_BITS) - 1
_INVERT = bytes(range(255, -1, -1))  # bytes.translate table: every bit flipped
_WINDOW_OCTETS = 1 << 16  # search granularity: bounds the temporary arrays


def attach_asm(codeblock: bytes | bytearray | memoryview) -> bytes:
    """The CADU: ASM 1ACFFC1D followed by ``codeblock``."""
    if len(codeblock) == 0:
        raise LocalProtocolError(LAYER, "codeblock length", 0, "at least 1 octet")
    return ASM + bytes(codeblock)


@dataclass(frozen=True, slots=True)
class FrameFound:
    """A codeblock found after an ASM starting at bit ``bit_shift`` (0 = MSB) of stream octet ``offset``.

    ``codeblock`` is octet aligned and, when ``inverted``, already re-inverted.
    """

    codeblock: bytes
    offset: int
    bit_shift: int
    asm_bit_errors: int
    inverted: bool

    @property
    def offset_bits(self) -> int:
        """Stream position of the ASM's first bit."""
        return 8 * self.offset + self.bit_shift


@dataclass(frozen=True)
class FrameRun:
    """Frames the flywheel found back to back: the same as one :class:`FrameFound` per row, as arrays.

    ``codeblocks`` (N, frame_len) uint8, re-inverted when the link is;
    ``offsets`` (N,) the stream octets of their ASMs (all at bit shift 0);
    ``asm_bit_errors`` (N,).
    """

    codeblocks: np.ndarray
    offsets: np.ndarray
    asm_bit_errors: np.ndarray

    @classmethod
    def of(cls, found: FrameFound) -> FrameRun:
        """One found frame as a run of one."""
        return cls(np.frombuffer(found.codeblock, dtype=np.uint8).reshape(1, -1), np.array([found.offset]),
                   np.array([found.asm_bit_errors]))

    def __len__(self) -> int:
        return int(self.codeblocks.shape[0])


@dataclass(frozen=True, slots=True)
class Skipped:
    """Stream bits ``[offset_bits, offset_bits + length_bits)`` that did not belong to a frame."""

    offset_bits: int
    length_bits: int
    reason: str


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


#: Returned by :meth:`FrameSynchronizer.next_event` when more octets are needed.
NEED_DATA = _NeedData()

Event = FrameFound | Skipped


# --------------------------------------------------------------------------- bit counting

if hasattr(np, "bitwise_count"):
    def _popcount(words: np.ndarray) -> np.ndarray:
        return np.bitwise_count(words)
else:  # pragma: no cover - numpy < 2.0
    _BYTE_COUNTS = np.array([bin(v).count("1") for v in range(256)], dtype=np.uint8)

    def _popcount(words: np.ndarray) -> np.ndarray:
        octets = np.ascontiguousarray(words, dtype=np.uint64).view(np.uint8)
        return _BYTE_COUNTS[octets].reshape(words.shape + (8,)).sum(axis=-1, dtype=np.uint8)


def _asm_distances(octets: np.ndarray, count: int, shifts: int) -> np.ndarray:
    """(count, shifts) bit distances from the ASM of the 32 bits at bit s of octet b; ``octets`` has count+4."""
    x = octets.astype(np.uint64)
    w40 = ((x[:count] << np.uint64(32)) | (x[1:count + 1] << np.uint64(24)) | (x[2:count + 2] << np.uint64(16))
           | (x[3:count + 3] << np.uint64(8)) | x[4:count + 4])
    out = np.empty((count, shifts), dtype=np.uint8)
    asm = np.uint64(_ASM_INT)
    mask = np.uint64(_MASK32)
    for s in range(shifts):
        out[:, s] = _popcount(((w40 >> np.uint64(8 - s)) & mask) ^ asm)
    return out


# --------------------------------------------------------------------------- stream synchroniser

@dataclass
class FrameSynchronizer:
    """Sans-IO frame synchroniser: feed stream octets, read FrameFound / Skipped events.

    ``frame_len`` is the codeblock length after the ASM in octets (1020 for
    RS I=4). ``max_bit_errors`` (0..15) is the ASM tolerance while searching;
    ``locked_max_bit_errors`` (default: the same) applies at the position where
    the next ASM is expected after a frame. ``detect_inverted`` and
    ``search_bit_shifts`` enable the polarity and non-octet-aligned searches.
    The buffer never holds more than ``max_buffer_octets``; feeding more
    without draining events raises LocalProtocolError. ``close()`` ends the
    stream: the unused tail becomes a final Skipped event.
    """

    frame_len: int
    _: KW_ONLY
    max_bit_errors: int = 0
    locked_max_bit_errors: int | None = None
    detect_inverted: bool = True
    search_bit_shifts: bool = True
    max_buffer_octets: int = 1 << 23
    frames: int = 0
    skipped_bits: int = 0
    _buf: bytearray = field(default_factory=bytearray, repr=False)
    _base: int = field(default=0, repr=False)  # stream octet offset of _buf[0]
    _cursor: int = field(default=0, repr=False)  # stream bit after the last frame (start of a skipped run)
    _search: int = field(default=0, repr=False)  # first bit position not yet rejected as an ASM start
    _locked: tuple[int, bool] | None = field(default=None, repr=False)  # (bit shift, inverted)
    _check_expected: bool = field(default=False, repr=False)
    _pending: tuple[int, int, bool] | None = field(default=None, repr=False)  # ASM (bit pos, errors, inverted)
    _ready: deque = field(default_factory=deque, repr=False)
    _closed: bool = field(default=False, repr=False)
    _finished: bool = field(default=False, repr=False)
    _packer: BitPacker | None = field(default=None, repr=False)  # bits short of an octet (feed_bits/_symbols)

    def __post_init__(self) -> None:
        if not isinstance(self.frame_len, int) or self.frame_len < 1:
            raise LocalProtocolError(LAYER, "frame_len", self.frame_len, "at least 1 octet")
        if self.locked_max_bit_errors is None:
            self.locked_max_bit_errors = self.max_bit_errors
        for name in ("max_bit_errors", "locked_max_bit_errors"):
            value = getattr(self, name)
            # below 16 so that a normal and an inverted ASM can never both match
            if not isinstance(value, int) or not 0 <= value <= 15:
                raise LocalProtocolError(LAYER, name, value, "0..15 bits of 32")
        if self.max_buffer_octets < self.frame_len + ASM_LEN + 1:
            raise LocalProtocolError(LAYER, "max_buffer_octets", self.max_buffer_octets,
                                     f">= {self.frame_len + ASM_LEN + 1} (one CADU plus one octet)")

    # ---- input
    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Append received stream octets."""
        if self._closed:
            raise LocalProtocolError(LAYER, "synchroniser state", "closed", "feed() before close()")
        if len(self._buf) + len(chunk) > self.max_buffer_octets:
            raise LocalProtocolError(LAYER, "buffered octets", len(self._buf) + len(chunk),
                                     f"at most {self.max_buffer_octets}: read events() between feeds "
                                     f"or raise max_buffer_octets")
        self._buf += chunk

    def feed_bits(self, bits: np.ndarray) -> None:
        """Append received bits, one per element (0 or 1; any non-zero value is a 1)."""
        if self._packer is None:
            self._packer = BitPacker()
        self.feed(self._packer.pack(bits))

    def feed_symbols(self, symbols: np.ndarray) -> None:
        """Append soft symbols (float, > 0 is a 1), hard-decided."""
        self.feed_bits(symbols_to_bits(symbols))

    def close(self) -> None:
        """Mark the end of the stream: whatever is not a complete frame becomes a final Skipped event."""
        if self._packer is not None and self._packer.pending_bits:
            # the last bits short of an octet, zero-filled to one: a frame that ends inside that octet
            # (a bit stream need not end on the octet grid) is still delivered; the fill is never part of it
            self.feed(self._packer.flush())
        self._closed = True

    # ---- output
    def next_event(self) -> Event | _NeedData:
        """The next event, or NEED_DATA when more octets must be fed first."""
        while not self._ready:
            if not self._step():
                return NEED_DATA
        return self._ready.popleft()

    def events(self) -> Iterator[Event]:
        """Yield every event the buffered octets complete."""
        while True:
            ev = self.next_event()
            if ev is NEED_DATA:
                return
            yield ev  # type: ignore[misc]

    def next_run(self) -> FrameRun | None:
        """The frames the flywheel finds back to back in the buffered octets, at once; None when the next event
        is not such a frame (read it with :meth:`next_event`, then try again).

        Only while locked at bit shift 0 with no event waiting: every whole
        CADU buffered from the expected position on has its ASM checked
        against ``locked_max_bit_errors`` in one numpy pass, up to the first
        that fails -- exactly the frames :meth:`next_event` would give one by
        one; the failing one is left to it.
        """
        if self._ready or self._pending is not None or not self._check_expected or self._locked is None \
                or self._locked[0]:
            return None
        inverted = self._locked[1]
        cadu = ASM_LEN + self.frame_len
        first = self._cursor // 8
        rel = first - self._base
        count = (len(self._buf) - rel) // cadu
        if count <= 0:
            return None
        with memoryview(self._buf) as view:  # one copy; no export of _buf outlives this (it is trimmed below)
            block = np.frombuffer(view[rel:rel + count * cadu].tobytes(), dtype=np.uint8).reshape(count, cadu)
        words = np.ascontiguousarray(block[:, :ASM_LEN]).view(">u4").ravel()
        dist = _popcount(words ^ _ASM_WORD)
        if inverted:
            dist = ASM_BITS - dist
        bad = np.flatnonzero(dist > self.locked_max_bit_errors)
        run = count if bad.size == 0 else int(bad[0])
        if run == 0:
            return None
        codeblocks = block[:run, ASM_LEN:]
        end = self._cursor + 8 * cadu * run
        self.frames += run
        self._cursor = self._search = end
        self._trim(end)
        return FrameRun(codeblocks ^ np.uint8(0xFF) if inverted else codeblocks,
                        first + cadu * np.arange(run, dtype=np.int64), dist[:run])

    @property
    def locked(self) -> bool:
        """True when the last event was a frame (the next ASM is expected right after it)."""
        return self._locked is not None

    # ---- machinery
    def _end_bit(self) -> int:
        return 8 * (self._base + len(self._buf))

    def _step(self) -> bool:
        """Advance as far as one event; False when blocked on input (or finished)."""
        if self._pending is None and self._check_expected:
            if self._cursor + ASM_BITS > self._end_bit():
                return self._finish()
            shift, inverted = self._locked  # type: ignore[misc]
            errors = self._distance_at(self._cursor, inverted)
            self._check_expected = False
            if errors <= self.locked_max_bit_errors:  # type: ignore[operator]
                self._pending = (self._cursor, errors, inverted)
            else:
                self._locked = None
        if self._pending is None:
            self._pending = self._find()
            if self._pending is None:
                return self._finish()
        pos, errors, inverted = self._pending
        end = pos + ASM_BITS + 8 * self.frame_len
        if end > self._end_bit():
            return self._finish()
        if pos > self._cursor:
            self._skip(pos, "no ASM found")
        block = self._extract(pos + ASM_BITS, self.frame_len, inverted)
        self._ready.append(FrameFound(block, pos // 8, pos % 8, errors, inverted))
        self.frames += 1
        self._pending = None
        self._cursor = self._search = end
        self._locked = (end % 8, inverted)
        self._check_expected = True
        self._trim(end)
        return True

    def _finish(self) -> bool:
        """Blocked on input; at the end of a closed stream report the tail once."""
        if not self._closed or self._finished:
            return False
        self._finished = True
        end = self._end_bit()
        if self._pending is not None:
            if self._pending[0] > self._cursor:
                self._skip(self._pending[0], "no ASM found")
            self._skip(end, "stream ended inside a frame")
        elif end > self._cursor:
            self._skip(end, "stream ended")
        self._pending = None
        self._buf.clear()
        self._base = end // 8
        return bool(self._ready)

    def _skip(self, upto: int, reason: str) -> None:
        self._ready.append(Skipped(self._cursor, upto - self._cursor, reason))
        self.skipped_bits += upto - self._cursor
        self._cursor = upto

    def _trim(self, bit: int) -> None:
        drop = bit // 8 - self._base
        if drop > 0:
            del self._buf[:drop]
            self._base += drop

    def _distance_at(self, bit: int, inverted: bool) -> int:
        rel = bit // 8 - self._base
        shift = bit % 8
        word = int.from_bytes(self._buf[rel:rel + ASM_LEN + (1 if shift else 0)], "big")
        if shift:
            word = (word >> (8 - shift)) & _MASK32
        d = (word ^ _ASM_INT).bit_count()
        return ASM_BITS - d if inverted else d

    def _extract(self, bit: int, length: int, inverted: bool) -> bytes:
        rel = bit // 8 - self._base
        shift = bit % 8
        if shift == 0:
            out = bytes(self._buf[rel:rel + length])
        else:
            word = int.from_bytes(self._buf[rel:rel + length + 1], "big") >> (8 - shift)
            out = (word & ((1 << (8 * length)) - 1)).to_bytes(length, "big")
        return out.translate(_INVERT) if inverted else out

    def _find(self) -> tuple[int, int, bool] | None:
        """Earliest ASM start >= self._search whose 32 bits are all buffered, or None (search advanced)."""
        k = self.max_bit_errors
        shifts = 8 if self.search_bit_shifts else 1
        while True:
            last = self._end_bit() - ASM_BITS  # last candidate bit position with all 32 bits present
            if not self.search_bit_shifts:
                self._search = -(-self._search // 8) * 8
            if self._search > last:
                self._trim(self._search)
                return None
            first_octet = self._search // 8
            count = min(last // 8 - first_octet + 1, _WINDOW_OCTETS)
            rel = first_octet - self._base
            window = np.zeros(count + ASM_LEN, dtype=np.uint8)
            raw = self._buf[rel:rel + count + ASM_LEN]
            window[:len(raw)] = np.frombuffer(bytes(raw), dtype=np.uint8)
            dist = _asm_distances(window, count, shifts)
            hit = dist <= k
            if self.detect_inverted:
                hit |= dist >= ASM_BITS - k
            pos = 8 * (first_octet + np.arange(count))[:, None] + np.arange(shifts)[None, :]
            hit &= (pos >= self._search) & (pos <= last)
            flat = hit.ravel()
            idx = int(np.argmax(flat))
            if flat[idx]:
                p = int(pos.ravel()[idx])
                d = int(dist.ravel()[idx])
                self._search = p
                return (p, d, False) if d <= k else (p, ASM_BITS - d, True)
            self._search = min(8 * (first_octet + count), last + 1)
            self._trim(self._search)


# --------------------------------------------------------------------------- symbols and bits

class BitPacker:
    """Packs a stream of unpacked bits into octets (first bit most significant), keeping the remainder."""

    def __init__(self) -> None:
        self._rest = np.zeros(0, dtype=np.uint8)

    @property
    def pending_bits(self) -> int:
        """Bits received but short of a whole octet."""
        return len(self._rest)

    def flush(self) -> bytes:
        """The bits kept, zero-filled to a whole octet (b"" when none are kept)."""
        if not len(self._rest):
            return b""
        out = np.packbits(self._rest).tobytes()  # packbits pads the last octet with zeros
        self._rest = np.zeros(0, dtype=np.uint8)
        return out

    def pack(self, bits: np.ndarray) -> bytes:
        """The whole octets that ``bits`` (with the bits kept from before) make."""
        arr = np.asarray(bits)
        if arr.ndim != 1:
            raise LocalProtocolError(LAYER, "bits shape", arr.shape, "one dimension")
        arr = (arr != 0).astype(np.uint8)
        if len(self._rest):
            arr = np.concatenate((self._rest, arr))
        whole = len(arr) // 8 * 8
        self._rest = arr[whole:].copy()
        return np.packbits(arr[:whole]).tobytes()


def symbols_to_bits(symbols: np.ndarray) -> np.ndarray:
    """Hard decisions of soft symbols: 1 where the symbol is > 0, else 0 (uint8)."""
    arr = np.asarray(symbols)
    if arr.ndim != 1 or arr.dtype.kind not in "fiu":
        raise LocalProtocolError(LAYER, "soft symbols", f"{arr.dtype} of shape {arr.shape}",
                                 "a one-dimensional real array (float32: > 0 is a 1)")
    return (arr > 0).astype(np.uint8)


def bits_to_symbols(bits: np.ndarray) -> np.ndarray:
    """Antipodal symbols of bits: 0 -> -1.0, 1 -> +1.0 (float32)."""
    arr = np.asarray(bits)
    return np.where(arr != 0, np.float32(1.0), np.float32(-1.0)).astype(np.float32)


def octets_to_symbols(octets: bytes | bytearray | memoryview) -> np.ndarray:
    """The antipodal symbols of octets, first bit most significant (what a modulator sends)."""
    return bits_to_symbols(np.unpackbits(np.frombuffer(bytes(octets), dtype=np.uint8)))


# --------------------------------------------------------------------------- fast path

@dataclass(frozen=True)
class SyncBatch:
    """Result of :func:`sync_batch`: ``frames`` (N, frame_len) uint8 codeblocks, the octet ``offsets`` (N,) of
    their ASMs, ``asm_bit_errors`` (N,), the ``skipped`` octet ranges, and ``remainder``: the offset of the
    first octet not yet accounted for (keep ``buf[remainder:]`` and prepend it to the next buffer)."""

    frames: np.ndarray
    offsets: np.ndarray
    asm_bit_errors: np.ndarray
    skipped: tuple[Skipped, ...]
    remainder: int

    def __len__(self) -> int:
        return int(self.frames.shape[0])


_ASM_NP = np.frombuffer(ASM, dtype=np.uint8)
_ASM_WORD = np.uint32(_ASM_INT)


def _find_aligned(buf: bytes, arr: np.ndarray, start: int, max_bit_errors: int) -> int:
    """First octet offset >= start holding an ASM with at most max_bit_errors wrong bits, or -1."""
    if max_bit_errors == 0:
        return buf.find(ASM, start)
    n = arr.size
    while start + ASM_LEN <= n:
        count = min(n - ASM_LEN + 1 - start, _WINDOW_OCTETS)
        x = arr[start:start + count + ASM_LEN - 1].astype(np.uint32)
        words = (x[:count] << 24) | (x[1:count + 1] << 16) | (x[2:count + 2] << 8) | x[3:count + 3]
        hits = np.flatnonzero(_popcount(words ^ _ASM_WORD) <= max_bit_errors)
        if hits.size:
            return start + int(hits[0])
        start += count
    return -1


def sync_batch(buf: bytes | bytearray | memoryview, frame_len: int, *, max_bit_errors: int = 0) -> SyncBatch:
    """Every octet-aligned, normal-polarity CADU in ``buf`` (codeblocks of ``frame_len`` octets), checked at once."""
    if not isinstance(frame_len, int) or frame_len < 1:
        raise LocalProtocolError(LAYER, "frame_len", frame_len, "at least 1 octet")
    if not isinstance(max_bit_errors, int) or not 0 <= max_bit_errors <= 15:
        raise LocalProtocolError(LAYER, "max_bit_errors", max_bit_errors, "0..15 bits of 32")
    data = bytes(buf)
    arr = np.frombuffer(data, dtype=np.uint8)
    n = arr.size
    cadu = ASM_LEN + frame_len
    runs: list[np.ndarray] = []
    offsets: list[np.ndarray] = []
    errors: list[np.ndarray] = []
    skipped: list[Skipped] = []
    pos = 0
    while True:
        start = _find_aligned(data, arr, pos, max_bit_errors)
        if start < 0:
            tail = max(pos, n - ASM_LEN + 1)  # the last 3 octets may begin an ASM
            if tail > pos:
                skipped.append(Skipped(8 * pos, 8 * (tail - pos), "no ASM found"))
            pos = tail
            break
        count = (n - start) // cadu
        if count == 0:
            if start > pos:
                skipped.append(Skipped(8 * pos, 8 * (start - pos), "no ASM found"))
            pos = start
            break
        block = arr[start:start + count * cadu].reshape(count, cadu)
        heads = block[:, :ASM_LEN].astype(np.uint32)
        words = (heads[:, 0] << 24) | (heads[:, 1] << 16) | (heads[:, 2] << 8) | heads[:, 3]
        errs = _popcount(words ^ _ASM_WORD)
        bad = np.flatnonzero(errs > max_bit_errors)
        run = count if bad.size == 0 else int(bad[0])  # row 0 always matches: it was just found
        if start > pos:
            skipped.append(Skipped(8 * pos, 8 * (start - pos), "no ASM found"))
        runs.append(block[:run, ASM_LEN:])
        offsets.append(start + cadu * np.arange(run, dtype=np.int64))
        errors.append(errs[:run].astype(np.uint8))
        pos = start + run * cadu
    if runs:
        frames = np.concatenate(runs) if len(runs) > 1 else runs[0].copy()
        return SyncBatch(frames, np.concatenate(offsets), np.concatenate(errors), tuple(skipped), pos)
    return SyncBatch(np.empty((0, frame_len), dtype=np.uint8), np.empty(0, dtype=np.int64),
                     np.empty(0, dtype=np.uint8), tuple(skipped), pos)
