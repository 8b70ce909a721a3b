"""Reed-Solomon (255,223) coding of TM codeblocks (CCSDS 131.0-B-5 §4).

Supported, as the standard specifies for E = 16:

* GF(2^8) with field polynomial F(x) = x^8 + x^7 + x^2 + x + 1 (0x187, §4.3);
  code generator g(x) = prod_{j=112}^{143} (x - alpha^(11 j)) (§4.3), so
  32 check symbols per codeword and up to 16 symbol errors corrected.
* Interleaving depth I = 1..8 (the standard allows 1, 2, 3, 4, 5 and 8; 6 and 7 work
  the same way and are accepted for tests and non-standard links): octet k of
  the codeblock belongs to codeword k mod I.
* Shortened codewords (virtual fill, §4.3): Q leading zero symbols of every
  codeword are not transmitted, so a codeblock is I*(255-Q) octets carrying
  I*(223-Q) octets of data (the transfer frame).
* Symbol representation (§4.3-4.4, Annex F): Berlekamp's *dual basis* -- what real
  missions fly (S-NPP, and the CCSDS default) -- or the conventional basis.

A real mission picks I = 4 or 5, dual basis, no virtual fill (a 892- or
1115-octet transfer frame).

Speed: :meth:`ReedSolomon.decode_batch` computes the 32 syndromes of every
codeword at once with numpy (a table of each symbol's syndrome contribution
per position, XOR-accumulated over the positions) and runs the pure-Python
Berlekamp-Massey / Chien / Forney decoder only on codewords whose syndromes
are not all zero, so error-free data decodes at numpy speed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache

import numpy as np

from .errors import LocalProtocolError, RemoteProtocolError, UncorrectableError

__all__ = [
    "Basis",
    "RSConfig",
    "RSDecoded",
    "RSBatchDecoded",
    "ReedSolomon",
    "UNCORRECTABLE",
    "FIELD_POLY",
    "FIRST_ROOT",
    "ROOT_STEP",
    "CHECK_SYMBOLS",
    "MAX_ERRORS",
    "CONVENTIONAL_TO_DUAL",
    "DUAL_TO_CONVENTIONAL",
    "generator_poly",
]

LAYER = "Reed-Solomon (255,223)"

N_FULL = 255  #: symbols in an unshortened codeword
CHECK_SYMBOLS = 32  #: 2E check symbols per codeword, §4.3
K_FULL = N_FULL - CHECK_SYMBOLS  #: 223 information symbols
MAX_ERRORS = CHECK_SYMBOLS // 2  #: E = 16 correctable symbol errors per codeword
FIELD_POLY = 0x187  #: x^8 + x^7 + x^2 + x + 1, §4.3
FIRST_ROOT = 112  #: g(x) roots are (alpha^11)^j for j = 112 .. 143, §4.3
ROOT_STEP = 11
UNCORRECTABLE = -1  #: marks an uncorrectable codeword in ``corrected_symbols``
INTERLEAVE_DEPTHS = range(1, 9)

#: Rows of the conventional -> dual basis matrix T (§4 / Annex F): the dual octet
#: is the row vector of conventional bits (MSB first) times T over GF(2), i.e. the
#: XOR of row i for every set bit i. So conventional 0x01 -> 0x7B, 0x80 -> 0x8D.
_DUAL_MATRIX_ROWS = (0x8D, 0xEF, 0xEC, 0x86, 0xFA, 0x99, 0xAF, 0x7B)


class Basis(enum.Enum):
    """Representation of the symbols on the link (§4, Annex F)."""

    DUAL = "dual"  # Berlekamp's dual basis: the CCSDS representation, what missions use
    CONVENTIONAL = "conventional"  # polynomial basis, alpha^7..alpha^0


# --------------------------------------------------------------------------- GF(2^8)

def _gf_tables() -> tuple[list[int], list[int]]:
    exp = [0] * 510
    log = [0] * 256
    x = 1
    for i in range(255):
        exp[i] = x
        log[x] = i
        x <<= 1
        if x & 0x100:
            x ^= FIELD_POLY
    for i in range(255, 510):
        exp[i] = exp[i - 255]
    return exp, log


_EXP, _LOG = _gf_tables()
_EXP_NP = np.array(_EXP, dtype=np.uint8)
_LOG_NP = np.array(_LOG, dtype=np.int64)


def _mul(a: int, b: int) -> int:
    if a == 0 or b == 0:
        return 0
    return _EXP[_LOG[a] + _LOG[b]]


def _mul_table() -> np.ndarray:
    """MUL[a, b] = a*b in GF(2^8), (256, 256) uint8."""
    la = _LOG_NP[:, None] + _LOG_NP[None, :]
    out = _EXP_NP[la % 255]
    out[0, :] = 0
    out[:, 0] = 0
    return out


_MUL = _mul_table()


def _root_log(j: int) -> int:
    """log_alpha of the j-th root beta^(112+j), beta = alpha^11."""
    return (ROOT_STEP * (FIRST_ROOT + j)) % 255


def generator_poly() -> tuple[int, ...]:
    """Coefficients of g(x), highest degree first (33 values, conventional basis), §4.3."""
    g = [1]
    for j in range(CHECK_SYMBOLS):
        root = _EXP[_root_log(j)]
        nxt = g + [0]
        for i in range(1, len(nxt)):
            nxt[i] ^= _mul(g[i - 1], root)
        g = nxt
    return tuple(g)


# --------------------------------------------------------------------------- dual basis

def _dual_tables() -> tuple[np.ndarray, np.ndarray]:
    c2d = np.zeros(256, dtype=np.uint8)
    for v in range(256):
        d = 0
        for i, row in enumerate(_DUAL_MATRIX_ROWS):
            if v & (0x80 >> i):
                d ^= row
        c2d[v] = d
    if len(set(c2d.tolist())) != 256:  # pragma: no cover - the matrix is invertible
        raise RuntimeError("dual basis matrix is singular")
    d2c = np.zeros(256, dtype=np.uint8)
    d2c[c2d] = np.arange(256, dtype=np.uint8)
    return c2d, d2c


#: CONVENTIONAL_TO_DUAL[v] is octet v re-expressed in the dual basis (Annex F).
CONVENTIONAL_TO_DUAL, DUAL_TO_CONVENTIONAL = _dual_tables()
_C2D_LIST = CONVENTIONAL_TO_DUAL.tolist()


# --------------------------------------------------------------------------- tables

@cache
def _encode_table(basis: Basis) -> np.ndarray:
    """(223*256, 4) uint64: row 256*i+s = the 32 check symbols of symbol s at data index i alone."""
    g = generator_poly()
    low = np.array(g[1:], dtype=np.uint8)  # x^32 = sum g_k x^(32-k) (mod g), char 2
    rem = np.zeros((K_FULL, CHECK_SYMBOLS), dtype=np.uint8)  # x^(254-i) mod g, degree 31 first
    r = low.copy()  # x^32 mod g
    for d in range(CHECK_SYMBOLS, N_FULL):
        rem[N_FULL - 1 - d] = r
        top = int(r[0])
        r = np.concatenate([r[1:], np.zeros(1, np.uint8)])
        if top:
            r ^= _MUL[top][low]
    sym = np.arange(256, dtype=np.uint8)
    if basis is Basis.DUAL:
        sym = DUAL_TO_CONVENTIONAL[sym]
    table = _MUL[sym[None, :, None], rem[:, None, :]]  # (223, 256, 32)
    if basis is Basis.DUAL:
        table = CONVENTIONAL_TO_DUAL[table]
    return np.ascontiguousarray(table).reshape(K_FULL * 256, CHECK_SYMBOLS).view(np.uint64)


@cache
def _syndrome_table(basis: Basis) -> np.ndarray:
    """(255*256, 4) uint64: row 256*i+s = the 32 syndromes (conventional) of symbol s at index i alone."""
    powers = np.arange(N_FULL - 1, -1, -1, dtype=np.int64)  # degree of codeword index i
    logs = np.array([_root_log(j) for j in range(CHECK_SYMBOLS)], dtype=np.int64)
    root_pow = _EXP_NP[(powers[:, None] * logs[None, :]) % 255]  # (255, 32): root_j^(254-i)
    sym = np.arange(256, dtype=np.uint8)
    if basis is Basis.DUAL:
        sym = DUAL_TO_CONVENTIONAL[sym]
    table = _MUL[sym[None, :, None], root_pow[:, None, :]]  # (255, 256, 32)
    return np.ascontiguousarray(table).reshape(N_FULL * 256, CHECK_SYMBOLS).view(np.uint64)


class _Table:
    """A (L*256, 4) uint64 per-(index, symbol) contribution table, also split into L (256, 4) tables."""

    def __init__(self, table: np.ndarray) -> None:
        self.full = table
        self.rows = [table[256 * i:256 * (i + 1)] for i in range(table.shape[0] // 256)]
        self.base = 256 * np.arange(table.shape[0] // 256, dtype=np.intp)


def _columns(blocks: np.ndarray, depth: int) -> np.ndarray:
    """(b, n*depth) interleaved blocks -> (n, b*depth) contiguous: row t = symbol t of every codeword."""
    b = blocks.shape[0]
    return np.ascontiguousarray(blocks.reshape(b, -1, depth).transpose(1, 0, 2)).reshape(-1, b * depth)


_FEW_CODEWORDS = 64  # below this, one gather + reduce beats a Python loop of per-index gathers


def _accumulate(table: _Table, columns: np.ndarray, first_index: int) -> np.ndarray:
    """XOR over t of table row (first_index + t, columns[t]): (n, M) uint8 -> (M, 4) uint64.

    For many codewords: one gather + XOR per symbol index across all M codewords
    (measured faster than one (n, M, 4) gather and a reduction: less memory
    traffic). For a few codewords (a single codeblock) the loop overhead
    dominates, so it does the one big gather instead.
    """
    n, m = columns.shape
    if m < _FEW_CODEWORDS:
        idx = columns.astype(np.intp) + table.base[first_index:first_index + n, None]
        return np.bitwise_xor.reduce(table.full[idx], axis=0)
    acc = np.zeros((m, 4), dtype=np.uint64)
    tmp = np.empty_like(acc)
    for t in range(n):
        np.take(table.rows[first_index + t], columns[t], axis=0, out=tmp)
        acc ^= tmp
    return acc


# --------------------------------------------------------------------------- config and results

@dataclass(frozen=True, slots=True)
class RSConfig:
    """Codeblock parameters: interleaving depth I, symbol basis, virtual fill Q (§4.3)."""

    interleave: int = 4
    basis: Basis = Basis.DUAL
    virtual_fill: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.interleave, int) or self.interleave not in INTERLEAVE_DEPTHS:
            raise LocalProtocolError(LAYER, "interleave depth", self.interleave, "1..8")
        if not isinstance(self.virtual_fill, int) or not 0 <= self.virtual_fill < K_FULL:
            raise LocalProtocolError(LAYER, "virtual fill", self.virtual_fill, f"0..{K_FULL - 1} symbols")
        try:
            object.__setattr__(self, "basis", Basis(self.basis))
        except ValueError as e:
            raise LocalProtocolError(LAYER, "basis", self.basis, "dual or conventional") from e

    @property
    def codeword_len(self) -> int:
        """Transmitted symbols per codeword, 255 - Q."""
        return N_FULL - self.virtual_fill

    @property
    def codeword_data_len(self) -> int:
        """Information symbols per codeword, 223 - Q."""
        return K_FULL - self.virtual_fill

    @property
    def codeblock_len(self) -> int:
        """Octets in a codeblock, I*(255 - Q)."""
        return self.interleave * self.codeword_len

    @property
    def data_len(self) -> int:
        """Data (transfer frame) octets in a codeblock, I*(223 - Q)."""
        return self.interleave * self.codeword_data_len

    @property
    def check_len(self) -> int:
        """Check-symbol octets in a codeblock, 32*I."""
        return self.interleave * CHECK_SYMBOLS


@dataclass(frozen=True, slots=True)
class RSDecoded:
    """One decoded codeblock: corrected data and the symbols corrected per codeword (-1: uncorrectable)."""

    data: bytes
    corrected_symbols: tuple[int, ...]

    @property
    def uncorrectable(self) -> bool:
        """True when at least one codeword had more errors than the code corrects."""
        return UNCORRECTABLE in self.corrected_symbols

    @property
    def corrected_total(self) -> int:
        """Symbols corrected in the correctable codewords."""
        return sum(n for n in self.corrected_symbols if n > 0)


@dataclass(frozen=True)
class RSBatchDecoded:
    """N decoded codeblocks: ``data`` (N, data_len) uint8, ``corrected_symbols`` (N, I) int16 (-1: uncorrectable).

    The data of an uncorrectable codeword is returned as received.
    """

    data: np.ndarray
    corrected_symbols: np.ndarray

    @property
    def uncorrectable(self) -> np.ndarray:
        """(N,) bool: the codeblock has at least one uncorrectable codeword."""
        return (self.corrected_symbols == UNCORRECTABLE).any(axis=1)

    def __len__(self) -> int:
        return int(self.data.shape[0])


# --------------------------------------------------------------------------- the decoder proper

def _berlekamp_massey(synd: list[int]) -> list[int] | None:
    """Error locator Lambda(x), lowest degree first, from the 32 syndromes; None if it needs > 16 errors."""
    exp, log = _EXP, _LOG
    synd_log = [log[v] if v else -1 for v in synd]
    size = 2 * CHECK_SYMBOLS + 2  # deg Lambda <= L always; room for x^shift * B before the length check
    lam = [1] + [0] * size
    prev = [1] + [0] * size
    prev_len = 0  # L of prev, which bounds its degree
    length = 0
    shift = 1
    prev_disc_log = 0
    for n in range(CHECK_SYMBOLS):
        d = synd[n]
        for i in range(1, length + 1):
            sl = synd_log[n - i]
            if lam[i] and sl >= 0:
                d ^= exp[log[lam[i]] + sl]
        if d == 0:
            shift += 1
            continue
        coef_log = log[d] - prev_disc_log + 255
        saved = lam[:] if 2 * length <= n else None
        for i in range(prev_len + 1):
            if prev[i]:
                lam[i + shift] ^= exp[(coef_log + log[prev[i]]) % 255]
        if saved is not None:
            prev_len, length = length, n + 1 - length
            if length > MAX_ERRORS:
                return None  # L never decreases: more errors than the code corrects
            prev = saved
            prev_disc_log = log[d]
            shift = 1
        else:
            shift += 1
    return lam[:length + 1]


_CHIEN_STEP = (ROOT_STEP * np.arange(N_FULL, dtype=np.int64)) % 255  # log of beta^p


def _chien(lam: list[int], n_transmitted: int) -> list[int]:
    """Degrees p < n_transmitted (transmitted positions) with Lambda(beta^-p) = 0, beta = alpha^11."""
    ks = [k for k in range(1, len(lam)) if lam[k]]
    logs = np.array([_LOG[lam[k]] for k in ks], dtype=np.int64)[:, None]
    steps = np.array(ks, dtype=np.int64)[:, None] * _CHIEN_STEP[None, :n_transmitted]
    terms = _EXP_NP[(logs - steps) % 255]
    acc = np.bitwise_xor.reduce(terms, axis=0) ^ np.uint8(lam[0])
    return np.flatnonzero(acc == 0).tolist()


def _solve(synd: list[int], n_transmitted: int) -> list[tuple[int, int]] | None:
    """(transmitted index, conventional error magnitude) pairs, or None if uncorrectable."""
    exp, log = _EXP, _LOG
    lam = _berlekamp_massey(synd)
    if lam is None or len(lam) == 1:
        return None
    nu = len(lam) - 1
    degrees = _chien(lam, n_transmitted)
    if len(degrees) != nu:
        return None  # Lambda has roots outside the transmitted positions, or does not split: > 16 errors
    # Error evaluator Omega(x) = S(x) Lambda(x) mod x^32; only its terms below x^nu can be non-zero
    # when the decoding is consistent, and only those are evaluated.
    lam_terms = [(k, log[c]) for k, c in enumerate(lam) if c]
    omega_terms = []
    for i in range(nu):
        v = 0
        for k, lk in lam_terms:
            if k > i:
                break
            if synd[i - k]:
                v ^= exp[lk + log[synd[i - k]]]
        if v:
            omega_terms.append((i, log[v]))
    deriv_terms = [(k - 1, log[lam[k]]) for k in range(1, nu + 1, 2) if lam[k]]  # Lambda'(x), char 2
    out = []
    for p in degrees:
        x_log = (ROOT_STEP * p) % 255  # X = beta^p
        inv_log = 255 - x_log
        num = 0
        for i, lw in omega_terms:
            num ^= exp[(lw + inv_log * i) % 255]
        den = 0
        for i, ld in deriv_terms:
            den ^= exp[(ld + inv_log * i) % 255]
        if num == 0 or den == 0:
            return None
        # Forney with first root b = 112: e = X^(1-b) Omega(X^-1) / Lambda'(X^-1)
        mag_log = (x_log * (1 - FIRST_ROOT) + log[num] - log[den]) % 255
        out.append((n_transmitted - 1 - p, exp[mag_log]))
    return out


# --------------------------------------------------------------------------- codec

@cache
def _table(build: object, basis: Basis) -> _Table:
    return _Table(build(basis))  # type: ignore[operator]


class ReedSolomon:
    """RS(255,223) encoder/decoder for one :class:`RSConfig` (stateless; tables shared per basis)."""

    def __init__(self, config: RSConfig | None = None) -> None:
        self.config = config or RSConfig()
        self._enc = _table(_encode_table, self.config.basis)
        self._syn = _table(_syndrome_table, self.config.basis)
        # ~4096 codewords per pass keeps the (M, 32) accumulators in cache (measured best on 2 cores)
        self._chunk_rows = max(1, 4096 // self.config.interleave)

    # ---- encoding
    def encode(self, data: bytes | bytearray | memoryview) -> bytes:
        """Codeblock (data + interleaved check symbols) for ``data_len`` octets of data."""
        cfg = self.config
        if len(data) != cfg.data_len:
            raise LocalProtocolError(LAYER, "data length", len(data), f"exactly {cfg.data_len} octets "
                                     f"(I={cfg.interleave}, virtual fill {cfg.virtual_fill})")
        arr = np.frombuffer(bytes(data), dtype=np.uint8).reshape(1, -1)
        return self.encode_batch(arr).tobytes()

    def encode_batch(self, data: np.ndarray) -> np.ndarray:
        """Codeblocks (N, codeblock_len) uint8 for data (N, data_len) uint8."""
        cfg = self.config
        data = np.asarray(data)
        if data.ndim != 2 or data.shape[1] != cfg.data_len or data.dtype != np.uint8:
            raise LocalProtocolError(LAYER, "data array", f"{data.dtype}{data.shape}",
                                     f"uint8 of shape (N, {cfg.data_len})")
        n_blocks, depth = data.shape[0], cfg.interleave
        out = np.empty((n_blocks, cfg.codeblock_len), dtype=np.uint8)
        out[:, :cfg.data_len] = data
        for lo in range(0, n_blocks, self._chunk_rows):
            hi = min(n_blocks, lo + self._chunk_rows)
            parity = _accumulate(self._enc, _columns(data[lo:hi], depth), cfg.virtual_fill)
            parity8 = parity.view(np.uint8).reshape(hi - lo, depth, CHECK_SYMBOLS)
            out[lo:hi, cfg.data_len:] = parity8.transpose(0, 2, 1).reshape(hi - lo, -1)
        return out

    # ---- decoding
    def syndromes_batch(self, codeblocks: np.ndarray) -> np.ndarray:
        """Syndromes (N, I, 32) uint8 (conventional basis) of codeblocks (N, codeblock_len) uint8."""
        cfg = self.config
        cb = self._check_blocks(codeblocks)
        n_blocks = cb.shape[0]
        out = np.empty((n_blocks, cfg.interleave, CHECK_SYMBOLS), dtype=np.uint8)
        for lo in range(0, n_blocks, self._chunk_rows):
            hi = min(n_blocks, lo + self._chunk_rows)
            acc = _accumulate(self._syn, _columns(cb[lo:hi], cfg.interleave), cfg.virtual_fill)
            out[lo:hi] = acc.view(np.uint8).reshape(hi - lo, cfg.interleave, CHECK_SYMBOLS)
        return out

    def decode_batch(self, codeblocks: np.ndarray) -> RSBatchDecoded:
        """Correct N codeblocks (N, codeblock_len) uint8; never raises for uncorrectable codewords."""
        cfg = self.config
        cb = self._check_blocks(codeblocks)
        synd = self.syndromes_batch(cb)
        corrected = np.zeros((cb.shape[0], cfg.interleave), dtype=np.int16)
        bad_rows, bad_words = np.nonzero(synd.any(axis=2))
        if bad_rows.size == 0:
            return RSBatchDecoded(cb[:, :cfg.data_len].copy(), corrected)
        fixed = cb.copy()
        dual = cfg.basis is Basis.DUAL
        depth = cfg.interleave
        for row, word in zip(bad_rows.tolist(), bad_words.tolist()):
            errors = _solve(synd[row, word].tolist(), cfg.codeword_len)
            if errors is None:
                corrected[row, word] = UNCORRECTABLE
                continue
            for t, magnitude in errors:
                fixed[row, t * depth + word] ^= _C2D_LIST[magnitude] if dual else magnitude
            corrected[row, word] = len(errors)
        # Belt and braces: a corrected codeword must now have zero syndromes.
        rows = np.unique(bad_rows)
        check = self.syndromes_batch(fixed[rows]).any(axis=2)
        for i, word in zip(*np.nonzero(check & (corrected[rows] != UNCORRECTABLE))):
            row = rows[i]
            corrected[row, word] = UNCORRECTABLE
            fixed[row, word::depth] = cb[row, word::depth]
        return RSBatchDecoded(fixed[:, :cfg.data_len].copy(), corrected)

    def decode(self, codeblock: bytes | bytearray | memoryview, *, offset: int = 0) -> RSDecoded:
        """Correct one codeblock; reports (does not raise for) uncorrectable codewords."""
        cfg = self.config
        if len(codeblock) != cfg.codeblock_len:
            raise RemoteProtocolError(LAYER, "codeblock length", len(codeblock),
                                      f"exactly {cfg.codeblock_len} octets (I={cfg.interleave}, "
                                      f"virtual fill {cfg.virtual_fill})", offset=offset)
        arr = np.frombuffer(bytes(codeblock), dtype=np.uint8).reshape(1, -1)
        res = self.decode_batch(arr)
        return RSDecoded(res.data[0].tobytes(), tuple(int(v) for v in res.corrected_symbols[0]))

    def correct(self, codeblock: bytes | bytearray | memoryview, *, offset: int = 0) -> bytes:
        """Corrected data of one codeblock; raises UncorrectableError if any codeword is uncorrectable."""
        res = self.decode(codeblock, offset=offset)
        if res.uncorrectable:
            words = [i for i, n in enumerate(res.corrected_symbols) if n == UNCORRECTABLE]
            raise UncorrectableError(LAYER, "codeword", words[0], f"at most {MAX_ERRORS} symbol errors",
                                     offset=offset + words[0],
                                     detail=f"uncorrectable codewords {words} of {self.config.interleave}")
        return res.data

    def _check_blocks(self, codeblocks: np.ndarray) -> np.ndarray:
        cb = np.asarray(codeblocks)
        if cb.ndim != 2 or cb.shape[1] != self.config.codeblock_len or cb.dtype != np.uint8:
            raise LocalProtocolError(LAYER, "codeblock array", f"{cb.dtype}{cb.shape}",
                                     f"uint8 of shape (N, {self.config.codeblock_len})")
        return cb
