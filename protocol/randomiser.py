"""CCSDS pseudo-randomisers (bit transition generators).

* TM: CCSDS 131.0-B-5 §10.4, h(x) = x^8 + x^7 + x^5 + x^3 + 1, registers all
  ones at the start of each ASM-delimited codeblock; period 255 octets; the
  ASM itself is not randomised.
* TC: CCSDS 231.0-B-4 §6, h(x) = x^8 + x^6 + x^4 + x^3 + x^2 + x + 1, registers
  all ones at the start of each CLTU's first code block; applied to the
  TC transfer frame (and fill) before BCH encoding.

Randomising is an XOR with a fixed sequence, so the same call randomises and
derandomises. Both sequences are generated once from their polynomials.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TM_SEQUENCE", "TC_SEQUENCE", "tm_randomise", "tc_randomise", "randomise_batch"]

PERIOD = 255  # octets: both LFSRs have maximal period 2^8 - 1 bits, repeated 8 times = 255 octets


def _sequence(taps: tuple[int, ...]) -> bytes:
    """One period (255 octets) of the LFSR sequence with b[n+8] = XOR of b[n+t] for t in taps."""
    bits = [1] * 8
    while len(bits) < PERIOD * 8:
        k = len(bits) - 8
        v = 0
        for t in taps:
            v ^= bits[k + t]
        bits.append(v)
    return bytes(int("".join(map(str, bits[i * 8:i * 8 + 8])), 2) for i in range(PERIOD))


#: One period of the TM sequence: FF 48 0E C0 9A 0D 70 BC ...
TM_SEQUENCE = _sequence((0, 3, 5, 7))
#: One period of the TC sequence: FF 39 9E 5A 68 E9 06 F5 ...
TC_SEQUENCE = _sequence((0, 1, 2, 3, 4, 6))

_TM = np.frombuffer(TM_SEQUENCE, dtype=np.uint8)
_TC = np.frombuffer(TC_SEQUENCE, dtype=np.uint8)


def _xor(data: bytes | bytearray | memoryview, seq: np.ndarray) -> bytes:
    arr = np.frombuffer(data, dtype=np.uint8)
    n = arr.size
    reps = -(-n // PERIOD)
    return (arr ^ np.tile(seq, reps)[:n]).tobytes()


def tm_randomise(data: bytes | bytearray | memoryview) -> bytes:
    """XOR one codeblock (everything after the ASM) with the TM sequence; self-inverse."""
    return _xor(data, _TM)


def tc_randomise(data: bytes | bytearray | memoryview) -> bytes:
    """XOR one CLTU's information octets with the TC sequence; self-inverse."""
    return _xor(data, _TC)


def randomise_batch(blocks: np.ndarray) -> np.ndarray:
    """XOR every row of a (N, L) uint8 array of codeblocks with the TM sequence (new array)."""
    n = blocks.shape[1]
    seq = np.tile(_TM, -(-n // PERIOD))[:n]
    return blocks ^ seq
