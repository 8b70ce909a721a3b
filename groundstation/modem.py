"""``ttc modem tx`` / ``ttc modem rx``: CADU files to SigMF IQ recordings and back, with our numpy modem.

``ttc modem tx CADUS -o pass.sigmf-data`` reads a CADU file (or a station recording of CADUs, or ``-``)
in chunks and writes complex64 samples with SigMF metadata that says how they were made (modulation,
rates, convolutional code, NRZ-M in ``ttc:coding``). Optional impairments make it a test signal: AWGN at
``--ebn0-db`` (per information bit), a carrier offset and a Doppler ramp (``--freq-offset-hz``,
``--doppler-rate-hz-s``), a clock offset (``--clock-ppm``), random symbols before and after.

``ttc modem rx pass.sigmf-data -o pass.cadu`` demodulates (carrier, timing and phase recovery, then the
Viterbi decoder and NRZ-M decoding when the recording says so) and writes the CADUs the frame
synchroniser finds, octet-aligned, for ``ttc decode pass.cadu``; ``--symbols`` also keeps the soft bits
(float32, > 0 is a 1) for another deframer (``tools/gnuradio/ccsds_rx.py``). ``ttc decode
pass.sigmf-data`` does both steps and the decode in one command.

``--doppler-tle TLE --site LAT,LON,ALT`` applies the Doppler curve of that satellite's pass over that
station (skyfield, offline; :mod:`groundstation.doppler`) on transmit, and removes the predicted curve on
receive, so that the demodulator only has the prediction's error to find. Both stream in bounded memory.
"""

from __future__ import annotations

import itertools
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
import numpy as np

from protocol.convolutional import Convention
from protocol.errors import ProtocolError
from protocol.kiss import encode_frame, encode_timestamp
from protocol.links import ReceivedFrame
from protocol.links.recording import MAGIC, RecordingParser
from protocol.links.sigmffile import IqMeta, IqReader, SigmfWriter, data_path, is_sigmf
from protocol.modem import FrequencyProfile, IqChannel
from protocol.radio import CaduFinder, RadioConfig, RadioReceiver, RadioTransmitter

from .mission import selected

__all__ = ["modem"]

CHUNK_OCTETS = 1 << 16  # CADU octets modulated per step (~4 M samples at sps 8)
RX_BLOCK_SAMPLES = 1 << 18


def _radio_options(f: Any) -> Any:
    for opt in reversed([
        click.option("--modulation", type=click.Choice(["bpsk", "gmsk", "gfsk"]), default=None,
                     help="bpsk (RRC), gmsk or gfsk [tx default: bpsk; rx: what the recording says]"),
        click.option("--rate-bd", type=click.FloatRange(1, 1e9), default=None,
                     help="channel symbols per second [tx default: 9600]"),
        click.option("--sps", type=click.IntRange(2, 64), default=None, help="samples per channel symbol [tx default: 4]"),
        click.option("--convolutional", type=click.Choice([c.value for c in Convention]), default=None,
                     help="the CCSDS K=7 r=1/2 code in this convention (default: uncoded)"),
        click.option("--differential/--no-differential", default=None, help="NRZ-M precoding"),
    ]):
        f = opt(f)
    return f


def _doppler_options(f: Any) -> Any:
    f = click.option("--site", default=None, help="with --doppler-tle: the station, LAT,LON[,ALT_M] (WGS84)")(f)
    return click.option("--doppler-tle", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
                        help="a TLE file: the Doppler of the satellite's pass over --site (skyfield, offline)")(f)


def _doppler_mixer(tle_path: Path, site: str | None, carrier_hz: float | None, start: datetime, duration_s: float,
                   sample_rate_hz: float, *, sign: int) -> FrequencyProfile:
    """A mixer adding (sign +1) or removing (-1) the predicted Doppler of the pass."""
    from .doppler import Site, doppler_curve_hz, read_tle

    if site is None or carrier_hz is None:
        raise click.UsageError("--doppler-tle needs --site LAT,LON[,ALT_M] and the carrier (--center-freq-hz)")
    try:
        tle, where = read_tle(tle_path.read_text()), Site.parse(site)
    except ValueError as e:
        raise click.UsageError(str(e)) from e
    t, f = doppler_curve_hz(tle, where, start, duration_s, carrier_hz=carrier_hz)
    return FrequencyProfile(sample_rate_hz, t, sign * f)


def _overrides(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}


@click.group("modem", context_settings={"help_option_names": ["-h", "--help"]})
def modem() -> None:
    """CADUs to IQ recordings (SigMF) and back, with ttc's BPSK/GMSK modem and the CCSDS convolutional code."""


def _octet_chunks(path: Path) -> Any:
    """The CADU octets of ``path`` (a CADU file, a station recording of CADUs, or - for stdin) in chunks."""
    f = sys.stdin.buffer if str(path) == "-" else open(path, "rb")  # noqa: SIM115 - closed below
    try:
        first = f.read(CHUNK_OCTETS)
        if first.startswith(MAGIC):
            parser = RecordingParser()
            chunk = first
            while chunk:
                parser.feed(chunk)
                yield b"".join(ev.data for ev in parser.events() if isinstance(ev, ReceivedFrame))
                chunk = f.read(CHUNK_OCTETS)
            parser.close()
            yield b"".join(ev.data for ev in parser.events() if isinstance(ev, ReceivedFrame))
            return
        chunk = first
        while chunk:
            yield chunk
            chunk = f.read(CHUNK_OCTETS)
    finally:
        if f is not sys.stdin.buffer:
            f.close()


@modem.command("tx")
@click.argument("cadus", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="NAME.sigmf-data (NAME.sigmf-meta is written beside it)")
@_radio_options
@click.option("--ebn0-db", type=click.FloatRange(-10, 60), default=None, help="add AWGN at this Eb/N0 per information bit")
@click.option("--freq-offset-hz", type=float, default=0.0, show_default=True, help="carrier frequency offset")
@click.option("--doppler-rate-hz-s", type=float, default=0.0, show_default=True, help="a linear Doppler ramp")
@click.option("--clock-ppm", type=click.FloatRange(-2000, 2000), default=0.0, show_default=True,
              help="sample clock offset of the receiver")
@click.option("--center-freq-hz", type=float, default=None, help="the carrier frequency, for the metadata")
@click.option("--lead-symbols", type=click.IntRange(0, 10**8), default=2000, show_default=True,
              help="random symbols before and after the CADUs (acquisition, and the demodulator's tail)")
@click.option("--seed", type=int, default=0, show_default=True, help="seed of the noise and the lead symbols")
@_doppler_options
@click.option("--start-utc", type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"]),
              default=None, help="the recording's first sample (default: now); with --doppler-tle, when in the pass")
def tx(cadus: Path, output: Path, modulation: str | None, rate_bd: float | None, sps: int | None,
       convolutional: str | None, differential: bool | None, ebn0_db: float | None, freq_offset_hz: float,
       doppler_rate_hz_s: float, clock_ppm: float, center_freq_hz: float | None, lead_symbols: int, seed: int,
       doppler_tle: Path | None, site: str | None, start_utc: datetime | None) -> None:
    """Modulate a CADU file to a SigMF IQ recording (complex64)."""
    start = (start_utc.replace(tzinfo=timezone.utc) if start_utc else datetime.now(timezone.utc))
    try:
        radio = RadioConfig.from_dict({"modulation": "bpsk", "rate_bd": 9600.0, "sps": 4}, **_overrides(
            modulation=modulation, rate_bd=rate_bd, sps=sps, convolutional=convolutional, differential=differential))
        rng = np.random.default_rng(seed)
        transmitter = RadioTransmitter(radio)
        channel = IqChannel(radio.sample_rate_hz, sps=radio.sps, rng=rng,
                            ebn0_db=None if ebn0_db is None else radio.esn0_db(ebn0_db), offset_hz=freq_offset_hz,
                            rate_hz_s=doppler_rate_hz_s, clock_offset_ppm=clock_ppm)
        doppler = None
        if doppler_tle is not None:
            if str(cadus) == "-":
                raise click.UsageError("--doppler-tle needs a file (its length sets the pass time to predict)")
            symbols = (2 * lead_symbols + 8 * cadus.stat().st_size / radio.code_rate)
            doppler = _doppler_mixer(doppler_tle, site, center_freq_hz, start, symbols / radio.rate_bd + 5,
                                     radio.sample_rate_hz, sign=+1)
        meta = IqMeta(sample_rate_hz=radio.sample_rate_hz, center_freq_hz=center_freq_hz,
                      datetime_utc=start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                      modulation=radio.modulation, rate_bd=radio.rate_bd, coding=radio.as_dict(),
                      description=f"ttc modem tx of {cadus.name}")
        lead = rng.integers(0, 2, lead_symbols, dtype=np.uint8)
        octets = 0

        def air(samples: np.ndarray) -> np.ndarray:  # the pass's Doppler, then the receiver's channel
            return channel.feed(samples if doppler is None else doppler.feed(samples))

        with SigmfWriter(output, meta) as out:
            out.write(air(transmitter.feed_bits(lead)))
            for chunk in _octet_chunks(cadus):
                octets += len(chunk)
                out.write(air(transmitter.feed(chunk)))
            out.write(air(transmitter.feed_bits(rng.integers(0, 2, lead_symbols, dtype=np.uint8))))
            out.write(air(transmitter.flush()))
    except (ProtocolError, OSError, ValueError) as e:
        raise click.ClickException(f"modem tx: {e}") from e
    click.echo(f"{octets} octets -> {transmitter.symbols} symbols -> {out.samples} samples at "
               f"{radio.sample_rate_hz:g}/s ({out.samples / radio.sample_rate_hz:.2f} s of {radio.modulation} at "
               f"{radio.rate_bd:g} Bd{', ' + radio.convolutional.value + ' code' if radio.convolutional else ''}"
               f"{', NRZ-M' if radio.differential else ''}): {data_path(output)}", err=True)


def _start_ms(datetime_utc: str | None) -> int:
    """Milliseconds since 1970 of a SigMF capture's ``core:datetime`` (now when it has none)."""
    if datetime_utc:
        try:
            return int(datetime.fromisoformat(datetime_utc.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
    return int(datetime.now(timezone.utc).timestamp() * 1000)


@modem.command("rx")
@click.argument("recording", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the CADUs found here (ASM + codeblock, back to back, for ttc decode); a NAME.kss "
                   "gets KISS frames instead, each after a timestamp frame, as gr-satellites writes them")
@click.option("--symbols", "symbols_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the soft bits here (float32, > 0 is a 1)")
@_radio_options
@click.option("--codeblock-len", type=click.IntRange(8, 65536), default=None,
              help="octets after each ASM (default: the mission's downlink, 1020 for RS I=4)")
@click.option("--json", "as_json", is_flag=True, help="print the summary as one JSON object")
@_doppler_options
@click.option("--center-freq-hz", type=float, default=None,
              help="with --doppler-tle: the carrier (default: the recording's core:frequency)")
def rx(recording: Path, output: Path | None, symbols_path: Path | None, modulation: str | None,
       rate_bd: float | None, sps: int | None, convolutional: str | None, differential: bool | None,
       codeblock_len: int | None, as_json: bool, doppler_tle: Path | None, site: str | None,
       center_freq_hz: float | None) -> None:
    """Demodulate a SigMF IQ recording; write the CADUs (and soft bits) it holds.

    With --doppler-tle and --site the Doppler predicted for that pass (from the recording's start time
    and carrier) is removed before the demodulator, which then only has the prediction's error to find.
    """
    if not is_sigmf(recording):
        raise click.ClickException(f"{recording}: not a SigMF recording (NAME.sigmf-data with NAME.sigmf-meta)")
    try:
        reader = IqReader(recording)
        m = reader.meta
        radio = RadioConfig.from_dict({"modulation": m.modulation, "rate_bd": m.rate_bd, "sps": m.sps, **dict(m.coding)},
                                      **_overrides(modulation=modulation, rate_bd=rate_bd, sps=sps,
                                                   convolutional=convolutional, differential=differential))
        receiver = RadioReceiver(radio)
        finder = CaduFinder(codeblock_len or selected().downlink.codeblock_len)
        undo = None
        if doppler_tle is not None:
            if not m.datetime_utc:
                raise click.UsageError(f"{recording} has no core:datetime: the pass time to predict is unknown")
            undo = _doppler_mixer(doppler_tle, site, center_freq_hz if center_freq_hz is not None else m.center_freq_hz,
                                  datetime.fromisoformat(m.datetime_utc.replace("Z", "+00:00")),
                                  len(reader) / m.sample_rate_hz + 5, m.sample_rate_hz, sign=-1)
        cadu_f = open(output, "wb") if output else None  # noqa: SIM115 - closed below
        kss = output is not None and output.suffix.lower() == ".kss"
        t0_ms = _start_ms(m.datetime_utc)
        cadu_len = (codeblock_len or selected().downlink.codeblock_len) + 4
        sym_f = open(symbols_path, "wb") if symbols_path else None  # noqa: SIM115 - closed below
        try:
            for block in itertools.chain(reader.blocks(RX_BLOCK_SAMPLES), [None]):
                if block is not None and undo is not None:
                    block = undo.feed(block)
                soft = receiver.flush() if block is None else receiver.feed(block)
                found = finder.feed(soft) + (finder.close() if block is None else b"")
                if cadu_f is not None and kss:  # each CADU's time: the recording's start + its position
                    for i in range(0, len(found), cadu_len):
                        at_ms = t0_ms + int(1000 * receiver.bits / radio.bit_rate_bps)
                        cadu_f.write(encode_timestamp(at_ms) + encode_frame(found[i:i + cadu_len]))
                elif cadu_f is not None:
                    cadu_f.write(found)
                if sym_f is not None:
                    sym_f.write(soft.astype("<f4").tobytes())
        finally:
            for f in (cadu_f, sym_f):
                if f is not None:
                    f.close()
    except (ProtocolError, OSError, ValueError) as e:
        raise click.ClickException(f"modem rx: {e}") from e
    summary = {"file": str(recording), "samples": len(reader), "symbols": receiver.symbols, "bits": receiver.bits,
               "cadus": finder.cadus, "skipped_bits": finder.skipped_bits, "radio": radio.as_dict(),
               "freq_offset_hz": getattr(receiver.demodulator, "freq_offset_hz", None),
               "symbol_phase": receiver.symbol_phase}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        click.echo(f"{summary['samples']} samples -> {summary['symbols']} symbols -> {summary['bits']} bits -> "
                   f"{summary['cadus']} CADUs ({summary['skipped_bits']} bits outside them); carrier offset "
                   f"{summary['freq_offset_hz'] if summary['freq_offset_hz'] is not None else '?'} Hz")
    if finder.cadus == 0:
        raise click.ClickException(f"{recording}: no CADU found (modulation, rate or coding wrong?)")
