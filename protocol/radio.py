"""The radio chain, sans-IO: CADU octets <-> complex baseband samples, with the channel coding in between.

Transmit (:class:`RadioTransmitter`): octets -> bits (first bit the most significant) -> differential
precoding (NRZ-M, optional) -> convolutional code (CCSDS 131.0-B-5 §3, optional, in one of
:class:`~protocol.convolutional.Convention`) -> BPSK with root-raised-cosine pulses, or GMSK / GFSK
(:mod:`protocol.modem`) -> complex64 samples at ``sps`` per channel symbol.

Receive (:class:`RadioReceiver`): samples -> demodulator -> soft channel symbols -> Viterbi decoder
(when coded; its symbol-pair phase found on the first symbols) -> differential decoding -> soft bits
(float32, > 0 is a 1), which :meth:`protocol.stack.DownlinkDecoder.feed_symbols` and
:class:`CaduFinder` take as they are (any bit offset, either polarity: the frame synchroniser resolves
BPSK's 180-degree ambiguity, or NRZ-M removes it).

The order of precoding and coding is gr-satellites' (its concatenated deframer decodes the convolutional
code first and the differential code after), so what this chain sends its deframers take, and back.
With a rate-1/2 code, Eb/N0 counts information bits: Es/N0 = Eb/N0 - 3.01 dB (:meth:`RadioConfig.esn0_db`).

:class:`RadioConfig` is also what an IQ recording says about itself (``ttc:coding`` in SigMF), as a dict
(:meth:`RadioConfig.as_dict` / :meth:`RadioConfig.from_dict`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np

from .convolutional import Convention, ConvolutionalEncoder, ViterbiDecoder, best_symbol_phase
from .errors import LocalProtocolError
from .modem import (
    BpskDemodulator,
    BpskModulator,
    DifferentialDecoder,
    DifferentialEncoder,
    GfskDemodulator,
    GfskModulator,
    SoftDifferentialDecoder,
)
from .sync import ASM, FrameFound, FrameSynchronizer, bits_to_symbols

__all__ = ["MODULATIONS", "RadioConfig", "RadioTransmitter", "RadioReceiver", "CaduFinder"]

LAYER = "radio"
MODULATIONS = ("bpsk", "gmsk", "gfsk")
_PHASE_SYMBOLS = 2 * 4096 + 1  # soft symbols looked at to find the convolutional code's pair phase


@dataclass(frozen=True)
class RadioConfig:
    """How bits become samples: modulation, rates, pulse shape and the channel coding around it."""

    _: KW_ONLY
    modulation: str = "bpsk"
    rate_bd: float = 9600.0  # channel symbols per second
    sps: int = 4  # samples per channel symbol
    rolloff: float = 0.35  # BPSK root-raised-cosine roll-off
    bt: float = 0.5  # GMSK / GFSK Gaussian filter bandwidth-time product
    h: float = 0.5  # GFSK modulation index (GMSK: 0.5)
    convolutional: Convention | None = None
    differential: bool = False
    max_freq_offset_hz: float | None = None  # the demodulator's search range (None: its default)

    def __post_init__(self) -> None:
        if self.modulation not in MODULATIONS:
            raise LocalProtocolError(LAYER, "modulation", self.modulation, ", ".join(MODULATIONS))
        if not self.rate_bd > 0:
            raise LocalProtocolError(LAYER, "rate_bd", self.rate_bd, "> 0 symbols/s")
        if isinstance(self.convolutional, str):
            object.__setattr__(self, "convolutional", Convention(self.convolutional))

    @property
    def sample_rate_hz(self) -> float:
        """Samples per second."""
        return self.rate_bd * self.sps

    @property
    def code_rate(self) -> float:
        """Information bits per channel symbol (1/2 with the convolutional code)."""
        return 0.5 if self.convolutional is not None else 1.0

    @property
    def bit_rate_bps(self) -> float:
        """Information bits per second."""
        return self.rate_bd * self.code_rate

    def esn0_db(self, ebn0_db: float) -> float:
        """Es/N0 per channel symbol for an Eb/N0 per information bit."""
        return ebn0_db + 10 * math.log10(self.code_rate)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready settings (what ``ttc:coding`` holds in a SigMF recording)."""
        out: dict[str, Any] = {"modulation": self.modulation, "rate_bd": self.rate_bd, "sps": self.sps,
                               "differential": self.differential,
                               "convolutional": None if self.convolutional is None else self.convolutional.value}
        out.update({"rolloff": self.rolloff} if self.modulation == "bpsk" else {"bt": self.bt, "h": self.h})
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], **overrides: Any) -> RadioConfig:
        """The config a dict (and then ``overrides``, where not None) says."""
        fields = {k: d[k] for k in ("modulation", "rate_bd", "sps", "rolloff", "bt", "h", "differential",
                                    "convolutional") if d.get(k) is not None}
        fields.update({k: v for k, v in overrides.items() if v is not None})
        if "sps" in fields:
            sps = float(fields["sps"])
            if sps != int(sps):
                raise LocalProtocolError(LAYER, "sps", sps, "a whole number of samples per symbol")
            fields["sps"] = int(sps)
        return cls(**fields)


class RadioTransmitter:
    """Octets in, complex64 samples out; streaming (the coder and modulator states carry over)."""

    def __init__(self, config: RadioConfig) -> None:
        self.config = config
        self._diff = DifferentialEncoder() if config.differential else None
        self._conv = ConvolutionalEncoder(convention=config.convolutional) if config.convolutional else None
        if config.modulation == "bpsk":
            self._mod: Any = BpskModulator(config.sps, rolloff=config.rolloff)
        else:
            self._mod = GfskModulator(config.sps, h=0.5 if config.modulation == "gmsk" else config.h, bt=config.bt)
        self.symbols = 0

    def feed(self, octets: bytes | bytearray | memoryview) -> np.ndarray:
        """The samples for ``octets``."""
        return self.feed_bits(np.unpackbits(np.frombuffer(bytes(octets), dtype=np.uint8)))

    def feed_bits(self, bits: np.ndarray) -> np.ndarray:
        """The samples for ``bits`` (0/1)."""
        b = np.asarray(bits, dtype=np.uint8)
        if self._diff is not None:
            b = self._diff.feed(b)
        if self._conv is not None:
            b = self._conv.encode(b)
        self.symbols += len(b)
        return self._mod.feed(b)

    def flush(self) -> np.ndarray:
        """The modulator's tail (the last pulses)."""
        return self._mod.flush()


class RadioReceiver:
    """Complex samples in, soft bits out (float32, > 0 is a 1); streaming, bounded."""

    def __init__(self, config: RadioConfig) -> None:
        self.config = config
        opts = {} if config.max_freq_offset_hz is None else {"max_freq_offset_hz": config.max_freq_offset_hz}
        if config.modulation == "bpsk":
            # coded, the demodulator works at Es/N0 3 dB below the information Eb/N0 (near 0 dB at the code's
            # threshold): a 256-symbol timing block then slips now and then, and every slip costs a frame or
            # two (measured: FER 0.14 at Eb/N0 3 dB); 1024-symbol blocks take it to 0.007 and still follow
            # 240 ppm of clock offset
            timing = 1024 if config.convolutional is not None else 256
            self._demod: Any = BpskDemodulator(config.sps, rate_bd=config.rate_bd, rolloff=config.rolloff,
                                               timing_block_symbols=timing, **opts)
        else:
            self._demod = GfskDemodulator(config.sps, h=0.5 if config.modulation == "gmsk" else config.h,
                                          rate_bd=config.rate_bd, **opts)
        self._viterbi: ViterbiDecoder | None = None
        self._held = np.zeros(0, dtype=np.float32)  # soft symbols kept until the pair phase is known
        self.symbol_phase: int | None = None
        self._diff_hard = DifferentialDecoder() if config.differential and config.convolutional else None
        self._diff_soft = SoftDifferentialDecoder() if config.differential and not config.convolutional else None
        self.symbols = 0  # channel symbols demodulated
        self.bits = 0  # soft bits handed out

    @property
    def demodulator(self) -> Any:
        """The demodulator (its carrier, timing and phase estimates, for a display)."""
        return self._demod

    def feed(self, samples: np.ndarray) -> np.ndarray:
        """Soft bits for the samples so far."""
        return self._decode(self._demod.feed(samples), final=False)

    def flush(self) -> np.ndarray:
        """The stream ended: the remaining soft bits."""
        return self._decode(self._demod.flush(), final=True)

    def _decode(self, soft: np.ndarray, *, final: bool) -> np.ndarray:
        self.symbols += len(soft)
        conv = self.config.convolutional
        if conv is None:
            out = soft if self._diff_soft is None else self._diff_soft.feed(soft)
        else:
            out = self._viterbi_bits(soft, conv, final=final)
        self.bits += len(out)
        return out.astype(np.float32, copy=False)

    def _viterbi_bits(self, soft: np.ndarray, conv: Convention, *, final: bool) -> np.ndarray:
        if self._viterbi is None:
            self._held = np.concatenate((self._held, soft))
            if len(self._held) < _PHASE_SYMBOLS and not final:
                return np.zeros(0, dtype=np.float32)
            if len(self._held) < 17:  # too short to judge (or to decode)
                return np.zeros(0, dtype=np.float32)
            self.symbol_phase = best_symbol_phase(self._held, convention=conv)
            self._viterbi = ViterbiDecoder(convention=conv, symbol_phase=self.symbol_phase)
            soft, self._held = self._held, np.zeros(0, dtype=np.float32)
        bits = self._viterbi.decode(soft)
        if final:
            bits = np.concatenate((bits, self._viterbi.flush()))
        if self._diff_hard is not None:
            bits = self._diff_hard.feed(bits)
        return bits_to_symbols(bits)


class CaduFinder:
    """Soft bits in, whole CADUs out (ASM + codeblock, octet-aligned, polarity corrected): a demodulated
    stream made into what ``ttc decode`` and the station read."""

    def __init__(self, codeblock_len: int, *, max_bit_errors: int = 4) -> None:
        self._sync = FrameSynchronizer(frame_len=codeblock_len, max_bit_errors=max_bit_errors)
        self.cadus = 0

    def feed(self, soft_bits: np.ndarray) -> bytes:
        """The CADUs the bits so far complete, back to back."""
        self._sync.feed_symbols(soft_bits)
        return self._take()

    def close(self) -> bytes:
        """The stream ended: the CADUs still in the buffer."""
        self._sync.close()
        return self._take()

    @property
    def skipped_bits(self) -> int:
        """Bits that belonged to no CADU."""
        return self._sync.skipped_bits

    def _take(self) -> bytes:
        out = [ASM + ev.codeblock for ev in self._sync.events() if isinstance(ev, FrameFound)]
        self.cadus += len(out)
        return b"".join(out)
