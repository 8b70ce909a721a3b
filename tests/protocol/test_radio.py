"""The radio chain: CADUs -> (NRZ-M) -> (convolutional code) -> BPSK/GMSK IQ -> channel -> back to the same
frames, through the real DownlinkDecoder; streaming in any chunks; settings as a SigMF recording keeps them."""

from __future__ import annotations

import numpy as np
import pytest

from protocol.convolutional import Convention
from protocol.errors import LocalProtocolError
from protocol.links.sigmffile import IqMeta, IqReader, data_path, is_sigmf, meta_path, write_sigmf
from protocol.modem import IqChannel
from protocol.radio import CaduFinder, RadioConfig, RadioReceiver, RadioTransmitter
from protocol.stack import DownlinkConfig, DownlinkDecoder, DownlinkEncoder
from protocol.vchannel import VcPacket

CONFIG = DownlinkConfig.cubesat(scid=0x2A, interleave=4)


def _traffic(n_cadus: int) -> tuple[bytes, list[bytes]]:
    enc = DownlinkEncoder(CONFIG, {0: 0})
    packets = [bytes([0x08, 0x10, 0xC0 | (i >> 8), i & 0xFF, 0x00, 99]) + bytes([i & 0xFF]) * 100
               for i in range(n_cadus * 8)]
    for p in packets:
        enc.submit(0, p)
    return enc.cadus(n_cadus), packets


def _fly(radio: RadioConfig, cadus: bytes, *, ebn0_db: float | None, chunk: int, seed: int = 1,
         **impairments: float) -> tuple[bytes, DownlinkDecoder]:
    rng = np.random.default_rng(seed)
    tx = RadioTransmitter(radio)
    lead = rng.integers(0, 256, 300, dtype=np.uint8).tobytes()  # random bits before: acquisition
    iq = np.concatenate((tx.feed(lead), tx.feed(cadus), tx.feed(lead), tx.flush()))
    channel = IqChannel(radio.sample_rate_hz, sps=radio.sps, rng=rng,
                        ebn0_db=None if ebn0_db is None else radio.esn0_db(ebn0_db), **impairments)
    rx, finder, dec = RadioReceiver(radio), CaduFinder(CONFIG.codeblock_len), DownlinkDecoder(CONFIG)
    found = b""
    for i in range(0, len(iq), chunk):
        soft = rx.feed(channel.feed(iq[i:i + chunk]))
        found += finder.feed(soft)
        dec.feed_symbols(soft)
    soft = rx.flush()
    found += finder.feed(soft) + finder.close()
    dec.feed_symbols(soft)
    dec.close()
    return found, dec


@pytest.mark.parametrize("radio", [
    RadioConfig(modulation="bpsk", sps=4),
    RadioConfig(modulation="bpsk", sps=2, differential=True),
    RadioConfig(modulation="bpsk", sps=4, convolutional=Convention.CCSDS),
    RadioConfig(modulation="bpsk", sps=4, convolutional=Convention.NASA_DSN, differential=True),
    RadioConfig(modulation="gmsk", sps=4),
], ids=["bpsk", "bpsk-nrzm-sps2", "bpsk-conv", "bpsk-conv-dsn-nrzm", "gmsk"])
def test_frames_survive_a_real_world_like_channel(radio: RadioConfig) -> None:
    cadus, packets = _traffic(12)
    ebn0 = 11.0 if radio.modulation == "gmsk" else (4.5 if radio.convolutional else 7.0)
    found, dec = _fly(radio, cadus, ebn0_db=ebn0, chunk=30_011, offset_hz=350.0, rate_hz_s=-60.0,
                      clock_offset_ppm=40.0, delay_samples=0.37)
    got = [ev.data for ev in dec.events() if isinstance(ev, VcPacket)]
    assert got == packets[:len(got)] and len(got) >= len(packets) - 8  # the last CADU's tail packet may be cut
    assert dec.counters.rs_uncorrectable == 0 and dec.counters.frames == 12
    assert len(found) == 12 * CONFIG.cadu_len  # the CADU finder found all twelve, octet-aligned
    if radio.convolutional is not None:  # what the Viterbi decoder leaves, RS need not touch
        assert dec.counters.rs_corrected <= 12


def test_noiseless_round_trip_is_exact_and_chunking_does_not_matter() -> None:
    cadus, _ = _traffic(6)
    for radio in (RadioConfig(), RadioConfig(convolutional=Convention.CCSDS, differential=True)):
        whole, _ = _fly(radio, cadus, ebn0_db=None, chunk=1 << 22)
        bits, _ = _fly(radio, cadus, ebn0_db=None, chunk=977)
        assert whole == bits == cadus


def test_settings_round_trip_through_a_dict_and_bad_ones_are_typed() -> None:
    radio = RadioConfig(modulation="gfsk", rate_bd=9600, sps=8, h=0.35, bt=0.3, convolutional=Convention.CCSDS)
    assert RadioConfig.from_dict(radio.as_dict()) == radio
    assert RadioConfig.from_dict(radio.as_dict(), sps=4).sps == 4
    assert radio.sample_rate_hz == 76800 and radio.bit_rate_bps == 4800
    assert radio.esn0_db(4.0) == pytest.approx(4.0 - 3.0103, abs=1e-3)
    with pytest.raises(LocalProtocolError, match="modulation"):
        RadioConfig(modulation="qpsk")
    with pytest.raises(LocalProtocolError, match="sps"):
        RadioConfig.from_dict({"sps": 2.5})
    with pytest.raises(ValueError):
        RadioConfig(convolutional="turbo")  # type: ignore[arg-type]


def test_sigmf_recording_round_trip(tmp_path) -> None:  # noqa: ANN001
    radio = RadioConfig(sps=4, differential=True)
    cadus, _ = _traffic(3)
    tx = RadioTransmitter(radio)
    iq = np.concatenate((tx.feed(cadus), tx.flush()))
    meta = IqMeta(sample_rate_hz=radio.sample_rate_hz, center_freq_hz=437.1e6, datetime_utc="2026-12-03T06:00:00Z",
                  modulation=radio.modulation, rate_bd=radio.rate_bd, coding=radio.as_dict())
    dpath, mpath = write_sigmf(tmp_path / "pass.sigmf-data", iq, meta)
    assert dpath == data_path(tmp_path / "pass") and mpath == meta_path(tmp_path / "pass.sigmf-data")
    assert is_sigmf(dpath) and is_sigmf(mpath) and not is_sigmf(tmp_path / "pass.bin")
    r = IqReader(mpath, verify_checksum=True)
    assert r.meta == meta and len(r) == len(iq) and r.meta.sps == 4
    assert np.array_equal(np.concatenate(list(r.blocks(1000))), iq.astype(np.complex64))
    assert RadioConfig.from_dict(r.meta.coding) == radio
    dpath.write_bytes(dpath.read_bytes()[:-3])
    from protocol.errors import RemoteProtocolError
    with pytest.raises(RemoteProtocolError, match="data file size"):
        IqReader(mpath)
    with pytest.raises(LocalProtocolError, match="metadata file"):
        IqReader(tmp_path / "none.sigmf-data")
