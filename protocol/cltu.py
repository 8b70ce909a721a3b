"""TC synchronisation and channel coding: CLTUs and BCH(63,56) (CCSDS 231.0-B-4).

* :data:`CodeBlock` -- one BCH(63,56) code block (§3.2): 7 information
  octets then a parity octet of 7 complemented parity bits from
  g(x) = x^7 + x^6 + x^2 + 1 and a filler bit 0. Tables for the parity and
  the syndrome are computed once from g(x); whole CLTUs are coded at once
  with numpy.
* :data:`StartSequence` (EB 90) and :data:`TailSequence`
  (C5 C5 C5 C5 C5 C5 C5 79) delimit a CLTU (§5.2). The last code block is
  completed with fill octets 0x55 (§5.3.2).
* :func:`encode` / :func:`decode` -- one TC transfer frame to a CLTU and back.
  The decoded data keeps the fill octets: only the frame's own length field
  says where the frame ends, so :func:`trim_fill` cuts it there.
* :class:`CltuDecoder` -- a sans-IO stream decoder (h11 style) that searches
  an octet stream for start sequences and emits :class:`Cltu`,
  :class:`CltuAborted` and :class:`Skipped` events, identical however the
  stream is chunked.

Decoding follows the standard's CLTU reception (§5.4): every code block is
checked; in error-correcting mode a single-bit error is corrected; a block
that cannot be decoded ends the CLTU. The tail sequence is built to be such
a block (its syndrome matches no single-bit error, even with one bit of it
flipped), so a tail with at most one bit error ends the CLTU normally; any
other rejected block aborts it. The code has minimum distance 4
(g(x) = (x + 1)(x^6 + x + 1)): every double-bit error is detected, odd
numbers of errors of three or more may be miscorrected, which is why the TC
frame FECF exists. The filler bit is not part of the code and is ignored.

Options supported: error-correcting mode (the default, what missions fly)
and error-detecting mode (``CltuConfig(correct=False)``); the TC
pseudo-randomiser of §6 (``CltuConfig(randomise=True)``), applied to the
frame and fill before BCH encoding and restarting with every CLTU. The
randomiser is a managed parameter that must match the spacecraft's decoder;
it is off by default (as in the golden vector) and a mission whose modulation
needs guaranteed bit transitions turns it on. Start sequences are searched
for on octet boundaries and must be error-free (231.0-B-4 allows no errors in
the start sequence).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import construct as c
import numpy as np

from .errors import LocalProtocolError, RemoteProtocolError, TruncatedError, UncorrectableError
from .layout import BitLayout
from .randomiser import tc_randomise
from .tcframe import MAX_FRAME_LEN, frame_length_octets

__all__ = [
    "CodeBlock",
    "ParityOctet",
    "StartSequence",
    "TailSequence",
    "CltuConfig",
    "Cltu",
    "CltuAborted",
    "Skipped",
    "CltuDecoder",
    "encode",
    "decode",
    "decode_stream",
    "trim_fill",
    "bch_encode_block",
    "bch_decode_block",
    "START_SEQUENCE",
    "TAIL_SEQUENCE",
    "FILL_OCTET",
    "INFO_LEN",
    "BLOCK_LEN",
]

LAYER = "CLTU"
INFO_LEN = 7  # information octets per code block
BLOCK_LEN = 8  # octets per code block
FILL_OCTET = 0x55  # §5.3.2: alternating 0 and 1, starting with 0
START_SEQUENCE = b"\xEB\x90"
TAIL_SEQUENCE = bytes.fromhex("C5C5C5C5C5C5C579")
GENERATOR = 0b11000101  # g(x) = x^7 + x^6 + x^2 + 1, §3.2.2

#: §5.2.2: the start sequence, 1110 1011 1001 0000.
StartSequence = c.Const(START_SEQUENCE)
#: §5.2.4: the tail sequence, an uncorrectable code block.
TailSequence = c.Const(TAIL_SEQUENCE)
#: §3.2.3-§3.2.4: the last octet of a code block: 7 complemented parity bits, filler bit 0.
ParityOctet = c.BitStruct(
    "parity" / c.BitsInteger(7),
    "filler" / c.Const(0, c.BitsInteger(1)),
)
#: §3.2: a BCH(63,56) code block of 7 information octets and the parity octet.
CodeBlock = c.Struct(
    "information" / c.Bytes(INFO_LEN),
    "parity" / ParityOctet,
)
_PARITY_BITS = BitLayout(ParityOctet)
_PARITY_SHIFT = _PARITY_BITS.field("parity").shift
_PARITY_MASK = _PARITY_BITS.field("parity").mask


# ---------------------------------------------------------------- BCH(63,56) tables


def _remainder(poly: int) -> int:
    """poly(x) mod g(x) over GF(2)."""
    for bit in range(poly.bit_length() - 1, 6, -1):
        if poly >> bit & 1:
            poly ^= GENERATOR << (bit - 7)
    return poly


def _parity_tables() -> np.ndarray:
    """(7, 256) uint8: contribution of octet value v at information octet i to x^7 m(x) mod g(x)."""
    tables = np.zeros((INFO_LEN, 256), dtype=np.uint8)
    for i in range(INFO_LEN):
        for v in range(256):
            tables[i, v] = _remainder(v << (8 * (INFO_LEN - 1 - i) + 7))
    return tables


_TABLES = _parity_tables()
_TABLES_PY = [list(map(int, row)) for row in _TABLES]
_ROWS = np.arange(INFO_LEN)


def _syndrome_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each 7-bit syndrome: kind (0 none, 1 single error, 2 uncorrectable), octet and mask to flip."""
    kind = np.full(128, 2, dtype=np.int8)
    octet = np.zeros(128, dtype=np.intp)
    mask = np.zeros(128, dtype=np.uint8)
    kind[0] = 0
    for degree in range(63):  # codeword bit of degree 0..62; degrees 0..6 are parity bits
        s = _remainder(1 << degree)
        kind[s] = 1
        if degree >= 7:
            d = degree - 7
            octet[s] = INFO_LEN - 1 - d // 8
            mask[s] = 1 << (d % 8)
    return kind, octet, mask


_KIND, _OCTET, _MASK = _syndrome_tables()
_NONE, _SINGLE, _UNCORRECTABLE = 0, 1, 2


def _parity_batch(info: np.ndarray) -> np.ndarray:
    """Uncomplemented 7-bit parity of each row of an (N, 7) uint8 array."""
    return np.bitwise_xor.reduce(_TABLES[_ROWS, info], axis=1)


def _encode_info(info: bytes) -> bytes:
    """Code blocks for information octets whose length is a multiple of 7."""
    arr = np.frombuffer(info, dtype=np.uint8).reshape(-1, INFO_LEN)
    out = np.empty((arr.shape[0], BLOCK_LEN), dtype=np.uint8)
    out[:, :INFO_LEN] = arr
    out[:, INFO_LEN] = ((_parity_batch(arr) ^ _PARITY_MASK) << _PARITY_SHIFT).astype(np.uint8)
    return out.tobytes()


def _decode_blocks(raw: bytes | bytearray | memoryview, *, correct: bool) -> tuple[np.ndarray, np.ndarray]:
    """Decode whole code blocks: (N, 7) corrected information and (N,) kind per block."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, BLOCK_LEN)
    info = blocks[:, :INFO_LEN].copy()
    received = ((blocks[:, INFO_LEN] >> _PARITY_SHIFT) & _PARITY_MASK) ^ _PARITY_MASK
    syndrome = _parity_batch(info) ^ received
    kind = _KIND[syndrome]
    if not correct:
        kind = np.where(kind == _SINGLE, _UNCORRECTABLE, kind).astype(np.int8)
    fix = np.flatnonzero(kind == _SINGLE)
    if fix.size:
        s = syndrome[fix]
        info[fix, _OCTET[s]] ^= _MASK[s]
    return info, kind


def bch_encode_block(info: bytes | bytearray | memoryview) -> bytes:
    """One 8-octet code block from 7 information octets."""
    if len(info) != INFO_LEN:
        raise LocalProtocolError(LAYER, "code block information length", len(info), "7 octets")
    parity = 0
    for i, v in enumerate(bytes(info)):
        parity ^= _TABLES_PY[i][v]
    return bytes(info) + bytes([((parity ^ _PARITY_MASK) << _PARITY_SHIFT)])


def bch_decode_block(block: bytes | bytearray | memoryview, *, correct: bool = True, offset: int = 0
                     ) -> tuple[bytes, int]:
    """The 7 information octets of one code block and the number of bits corrected (0 or 1)."""
    if len(block) != BLOCK_LEN:
        raise TruncatedError(LAYER, "code block", len(block), "8 octets", offset=offset)
    info, kind = _decode_blocks(bytes(block), correct=correct)
    if kind[0] == _UNCORRECTABLE:
        raise UncorrectableError(LAYER, "code block", bytes(block), _allowed(correct), offset=offset)
    return info.tobytes(), int(kind[0])


def _allowed(correct: bool) -> str:
    return "at most 1 bit error (error-correcting mode)" if correct else "no bit error (error-detecting mode)"


def _is_tail(block: bytes | bytearray | memoryview) -> bool:
    """True for the tail sequence with at most one bit error (still uncorrectable by design)."""
    diff = int.from_bytes(block, "big") ^ int.from_bytes(TAIL_SEQUENCE, "big")
    return diff & (diff - 1) == 0


# ---------------------------------------------------------------- configuration and results


@dataclass(frozen=True, slots=True, kw_only=True)
class CltuConfig:
    """Managed parameters of the CLTU layer, agreed with the spacecraft's decoder."""

    randomise: bool = False  # TC pseudo-randomiser, §6
    correct: bool = True  # error-correcting mode; False = error-detecting mode (§5.4)
    max_code_blocks: int = -(-MAX_FRAME_LEN // INFO_LEN)  # 147: one maximum-length TC frame

    def __post_init__(self) -> None:
        for name in ("randomise", "correct"):
            if not isinstance(getattr(self, name), bool):
                raise LocalProtocolError(LAYER, name, getattr(self, name), "True or False")
        if isinstance(self.max_code_blocks, bool) or not isinstance(self.max_code_blocks, int) \
                or self.max_code_blocks < 1:
            raise LocalProtocolError(LAYER, "max_code_blocks", self.max_code_blocks, "at least 1")


DEFAULT_CONFIG = CltuConfig()


@dataclass(frozen=True, slots=True)
class Cltu:
    """A CLTU found at stream ``offset``, ``length`` octets long, ending in its tail sequence.

    ``data`` is the derandomised information octets: the frame plus fill.
    """

    offset: int
    length: int
    data: bytes
    corrected_bits: int
    code_blocks: int


@dataclass(frozen=True, slots=True)
class CltuAborted:
    """A CLTU starting at ``offset`` was ended early by a rejected code block (or the stream's end).

    ``length`` counts its octets up to and including the rejected block (the
    search resumes after them), or up to the end of the stream. ``data`` holds the information octets of the blocks accepted before it,
    as the standard's decoder delivers them; ``block_index`` and
    ``block_offset`` locate the rejected block (``block_offset`` is a stream
    offset). ``error()`` gives the matching exception.
    """

    offset: int
    length: int
    data: bytes
    corrected_bits: int
    block_index: int
    block_offset: int
    reason: str

    def error(self) -> RemoteProtocolError:
        """The exception describing why the CLTU ended."""
        if self.reason.startswith("stream ended"):
            return TruncatedError(LAYER, "CLTU", self.block_offset - self.offset, "a tail sequence",
                                  offset=self.offset, detail=self.reason)
        return UncorrectableError(LAYER, f"code block {self.block_index}", self.reason,
                                  "a decodable block or the tail sequence", offset=self.block_offset)


@dataclass(frozen=True, slots=True)
class Skipped:
    """Stream octets ``[offset, offset+length)`` outside any CLTU."""

    offset: int
    length: int


# ---------------------------------------------------------------- one-shot encode / decode


def encode(frame: bytes | bytearray | memoryview, *, config: CltuConfig = DEFAULT_CONFIG) -> bytes:
    """The CLTU carrying ``frame`` (usually one TC transfer frame): start, code blocks, tail."""
    raw = bytes(frame)
    limit = config.max_code_blocks * INFO_LEN
    if not 1 <= len(raw) <= limit:
        raise LocalProtocolError(LAYER, "frame length", len(raw), f"1..{limit} octets")
    info = raw + bytes([FILL_OCTET]) * (-len(raw) % INFO_LEN)
    if config.randomise:
        info = tc_randomise(info)
    return START_SEQUENCE + _encode_info(info) + TAIL_SEQUENCE


def decode(cltu: bytes | bytearray | memoryview, *, config: CltuConfig = DEFAULT_CONFIG, offset: int = 0) -> Cltu:
    """Decode one whole CLTU (start sequence to tail sequence, nothing else) into frame plus fill octets."""
    raw = bytes(cltu)
    n = len(raw)
    if raw[:2] != START_SEQUENCE:
        if n < 2:
            raise TruncatedError(LAYER, "start sequence", n, "2 octets EB 90", offset=offset)
        raise RemoteProtocolError(LAYER, "start sequence", raw[:2], "EB 90", offset=offset)
    body = n - 2
    count = body // BLOCK_LEN - 1  # code blocks before the tail
    if body % BLOCK_LEN or count < 1 or not _is_tail(raw[-BLOCK_LEN:]):
        raise TruncatedError(LAYER, "CLTU", n, "EB 90, whole 8-octet code blocks, then the tail sequence",
                             offset=offset, detail="no tail sequence at the end")
    if count > config.max_code_blocks:
        raise RemoteProtocolError(LAYER, "code blocks", count, f"1..{config.max_code_blocks}", offset=offset)
    info, kind = _decode_blocks(raw[2:n - BLOCK_LEN], correct=config.correct)
    bad = np.flatnonzero(kind == _UNCORRECTABLE)
    if bad.size:
        i = int(bad[0])
        where = 2 + i * BLOCK_LEN
        raise UncorrectableError(LAYER, f"code block {i}", raw[where:where + BLOCK_LEN], _allowed(config.correct),
                                 offset=offset + where,
                                 detail="tail sequence before the end" if _is_tail(raw[where:where + 8]) else "")
    data = info.tobytes()
    if config.randomise:
        data = tc_randomise(data)
    return Cltu(offset=offset, length=n, data=data, corrected_bits=int(np.count_nonzero(kind)), code_blocks=count)


def trim_fill(data: bytes | bytearray | memoryview, *, offset: int = 0) -> bytes:
    """The TC transfer frame at the start of a CLTU's data, without the fill octets after it."""
    length = frame_length_octets(data, offset=offset)
    if len(data) < length:
        raise TruncatedError(LAYER, "frame in CLTU data", len(data), f"{length} octets (frame length field)",
                             offset=offset)
    if len(data) - length >= INFO_LEN:
        raise RemoteProtocolError(LAYER, "fill length", len(data) - length, f"0..{INFO_LEN - 1} octets",
                                  offset=offset + length, detail=f"frame length field says {length} octets")
    return bytes(data[:length])


# ---------------------------------------------------------------- stream decoder


@dataclass
class CltuDecoder:
    """Sans-IO CLTU decoder for an octet stream: feed chunks, read events.

    In search state it looks for the start sequence EB 90 on octet
    boundaries; octets it passes over are reported as one :class:`Skipped`
    event per run. In a CLTU it decodes 8-octet code blocks; the tail
    sequence ends the CLTU (:class:`Cltu`), any other rejected block ends it
    early (:class:`CltuAborted`) and the search resumes after that block.
    A CLTU longer than ``config.max_code_blocks`` blocks is aborted too, so
    the buffer stays bounded. ``close()`` ends the stream: a CLTU still open
    becomes a :class:`CltuAborted`, trailing octets a :class:`Skipped`.
    """

    config: CltuConfig = DEFAULT_CONFIG
    _buf: bytearray = field(default_factory=bytearray, repr=False)
    _offset: int = 0  # stream offset of _buf[0]
    _skip_start: int | None = None
    _cltu_start: int | None = None  # stream offset of the current CLTU's start sequence
    _info: bytearray = field(default_factory=bytearray, repr=False)
    _corrected: int = 0
    _blocks: int = 0
    _closed: bool = False
    cltus: int = 0
    aborted: int = 0
    skipped_octets: int = 0

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Append received octets."""
        if self._closed:
            raise LocalProtocolError(LAYER, "decoder state", "closed", "feed() before close()")
        self._buf += chunk

    def close(self) -> None:
        """Mark the end of the stream."""
        self._closed = True

    def events(self) -> Iterator[Cltu | CltuAborted | Skipped]:
        """Yield every event the buffered octets complete."""
        out: list[Cltu | CltuAborted | Skipped] = []
        pos = 0
        buf = self._buf
        while True:
            if self._cltu_start is None:
                pos = self._search(buf, pos, out)
                if self._cltu_start is None:
                    break
            pos = self._blocks_from(buf, pos, out)
            if self._cltu_start is not None:
                break
        del buf[:pos]
        self._offset += pos
        if self._closed:
            self._finish(out)
        yield from out

    def _search(self, buf: bytearray, pos: int, out: list[Cltu | CltuAborted | Skipped]) -> int:
        i = buf.find(START_SEQUENCE, pos)
        if i < 0:
            # keep a trailing EB: it may be the first half of a start sequence
            end = len(buf) - 1 if buf[-1:] == b"\xEB" else len(buf)
            if end > pos and self._skip_start is None:
                self._skip_start = self._offset + pos
            return max(pos, end)
        if i > pos and self._skip_start is None:
            self._skip_start = self._offset + pos
        self._flush_skip(self._offset + i, out)
        self._cltu_start = self._offset + i
        self._info.clear()
        self._corrected = 0
        self._blocks = 0
        return i + len(START_SEQUENCE)

    def _blocks_from(self, buf: bytearray, pos: int, out: list[Cltu | CltuAborted | Skipped]) -> int:
        whole = (len(buf) - pos) // BLOCK_LEN
        room = self.config.max_code_blocks + 1 - self._blocks  # blocks allowed, the tail included
        whole = min(whole, room)
        if whole == 0:
            return pos
        end = pos + whole * BLOCK_LEN
        info, kind = _decode_blocks(buf[pos:end], correct=self.config.correct)
        bad = np.flatnonzero(kind == _UNCORRECTABLE)
        good = int(bad[0]) if bad.size else whole
        self._info += info[:good].tobytes()
        self._corrected += int(np.count_nonzero(kind[:good]))
        self._blocks += good
        if good == whole:
            if self._blocks > self.config.max_code_blocks:  # the block after the limit was not a tail
                at = end - BLOCK_LEN
                self._blocks -= 1
                del self._info[-INFO_LEN:]
                self._corrected -= int(kind[good - 1] == _SINGLE)
                self._abort(at, f"more than {self.config.max_code_blocks} code blocks", out)
            return end
        at = pos + good * BLOCK_LEN
        block = buf[at:at + BLOCK_LEN]
        if _is_tail(block):
            self._complete(at + BLOCK_LEN, out)
        else:
            self._abort(at, f"uncorrectable code block {bytes(block).hex(' ').upper()}", out)
        return at + BLOCK_LEN

    def _data(self) -> bytes:
        data = bytes(self._info)
        return tc_randomise(data) if self.config.randomise else data

    def _complete(self, end: int, out: list[Cltu | CltuAborted | Skipped]) -> None:
        start = self._cltu_start if self._cltu_start is not None else 0
        if self._blocks == 0:
            self._abort(end - BLOCK_LEN, "tail sequence right after the start sequence", out)
            return
        out.append(Cltu(offset=start, length=self._offset + end - start, data=self._data(),
                        corrected_bits=self._corrected, code_blocks=self._blocks))
        self.cltus += 1
        self._cltu_start = None

    def _abort(self, at: int, reason: str, out: list[Cltu | CltuAborted | Skipped], *,
               end: int | None = None) -> None:
        start = self._cltu_start if self._cltu_start is not None else 0
        stop = self._offset + (at + BLOCK_LEN if end is None else end)
        out.append(CltuAborted(offset=start, length=stop - start, data=self._data(),
                               corrected_bits=self._corrected, block_index=self._blocks,
                               block_offset=self._offset + at, reason=reason))
        self.aborted += 1
        self._cltu_start = None

    def _flush_skip(self, end: int, out: list[Cltu | CltuAborted | Skipped]) -> None:
        if self._skip_start is not None:
            out.append(Skipped(self._skip_start, end - self._skip_start))
            self.skipped_octets += end - self._skip_start
            self._skip_start = None

    def _finish(self, out: list[Cltu | CltuAborted | Skipped]) -> None:
        buf = self._buf
        if self._cltu_start is not None:
            self._abort(0, "stream ended inside the CLTU", out, end=len(buf))
        elif buf and self._skip_start is None:
            self._skip_start = self._offset
        self._offset += len(buf)
        buf.clear()
        self._flush_skip(self._offset, out)


def decode_stream(data: bytes | bytearray | memoryview | Iterable[bytes], *,
                  config: CltuConfig = DEFAULT_CONFIG) -> list[Cltu | CltuAborted | Skipped]:
    """All events of a whole byte string (or an iterable of chunks), stream end included."""
    decoder = CltuDecoder(config)
    chunks = [data] if isinstance(data, (bytes, bytearray, memoryview)) else data
    out: list[Cltu | CltuAborted | Skipped] = []
    for chunk in chunks:
        decoder.feed(chunk)
        out.extend(decoder.events())
    decoder.close()
    out.extend(decoder.events())
    return out
