#!/usr/bin/python3
"""CADUs or CLTUs from a ttc link (or a file) -> GNU Radio's BPSK modulator -> an IQ file (SigMF) or an SDR sink.

Run with the system's GNU Radio (``/usr/bin/python3``; the toolkit never imports GNU Radio)::

    ttc spacecraft --down gr+zmq://127.0.0.1:5600 ...            # or a station's --up gr+zmq://...
    /usr/bin/python3 tools/gnuradio/ccsds_tx.py --zmq tcp://127.0.0.1:5600 --output pass.sigmf-data \\
        --sps 8 --differential --duration-s 30
    ttc decode pass.sigmf-data

The source is a ``sub_msg_source`` that connects to a ttc ``gr+zmq`` sender (each PDU one CADU or CLTU)
or, with ``--input``, a file of octets. The octets go, most significant bit first, into GNU Radio's
``digital.generic_mod`` with the BPSK constellation (bit 1 -> +1, as ttc's modulator), root-raised-cosine
pulses of roll-off ``--rolloff`` at ``--sps`` samples per symbol, and GNU Radio's differential encoder
with ``--differential`` (NRZ-M, as CCSDS and gr-satellites have it). The samples go to
``NAME.sigmf-data`` with a ``NAME.sigmf-meta`` written here (SigMF core fields plus ``ttc:coding``), which
``ttc decode`` and ``ttc modem rx`` read; an SDR sink (osmosdr, UHD) would take the place of the file sink.
With ``--zmq`` it runs for ``--duration-s`` (or until SIGTERM) and prints ``READY`` once connected.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import grcompat  # noqa: F401  (the byte_t shim, the log level)
from gnuradio import blocks, digital, gr, zeromq


def _meta(path: Path, *, sample_rate: float, baud: float, sps: int, differential: bool, rolloff: float,
          center_freq_hz: float | None) -> None:
    info = {"core:datatype": "cf32_le", "core:sample_rate": sample_rate, "core:version": "1.2.0",
            "core:recorder": f"GNU Radio {gr.version()} digital.generic_mod (tools/gnuradio/ccsds_tx.py)",
            "core:extensions": [{"name": "ttc", "version": "1.0.0", "optional": True}],
            "ttc:modulation": "bpsk", "ttc:rate_bd": baud, "ttc:sps": sps,
            "ttc:coding": {"modulation": "bpsk", "rate_bd": baud, "sps": sps, "rolloff": rolloff,
                           "differential": differential, "convolutional": None}}
    capture = {"core:sample_start": 0,
               "core:datetime": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    if center_freq_hz is not None:
        capture["core:frequency"] = center_freq_hz
    path.write_text(json.dumps({"global": info, "captures": [capture], "annotations": []}, indent=2))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src_group = ap.add_mutually_exclusive_group(required=True)
    src_group.add_argument("--zmq", help="a ttc gr+zmq sender to take PDUs from (tcp://HOST:PORT; connects)")
    src_group.add_argument("--input", help="a file of octets (CADUs back to back) to modulate")
    ap.add_argument("--output", required=True, help="NAME.sigmf-data (NAME.sigmf-meta is written beside it)")
    ap.add_argument("--baud", type=float, default=9600.0, help="symbols per second")
    ap.add_argument("--sps", type=int, default=8, help="samples per symbol")
    ap.add_argument("--rolloff", type=float, default=0.35, help="RRC excess bandwidth")
    ap.add_argument("--differential", action="store_true", help="NRZ-M (GNU Radio's differential encoder)")
    ap.add_argument("--center-freq-hz", type=float, default=None, help="for the metadata")
    ap.add_argument("--duration-s", type=float, default=None, help="with --zmq: stop after this long")
    args = ap.parse_args()

    out = Path(args.output)
    name = out.name.removesuffix(".sigmf-data").removesuffix(".sigmf-meta")
    data_path, meta_path = out.with_name(name + ".sigmf-data"), out.with_name(name + ".sigmf-meta")
    tb = gr.top_block("ccsds_tx")
    mod = digital.generic_mod(digital.constellation_bpsk(), differential=args.differential,
                              samples_per_symbol=args.sps, excess_bw=args.rolloff)
    sink = blocks.file_sink(gr.sizeof_gr_complex, str(data_path), False)
    sink.set_unbuffered(False)
    if args.input:
        src = blocks.file_source(gr.sizeof_char, args.input, False)
        tb.connect(src, mod, sink)
        tb.run()
    else:
        pdus = zeromq.sub_msg_source(args.zmq, 100, False)
        to_stream = blocks.pdu_to_tagged_stream(blocks.byte_t, "packet_len")
        gate = blocks.tag_gate(gr.sizeof_char, False)  # the modulator is no tagged-stream block
        tb.msg_connect((pdus, "out"), (to_stream, "pdus"))
        tb.connect(to_stream, gate, mod, sink)
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        signal.signal(signal.SIGINT, lambda *_: done.set())
        tb.start()
        print("READY " + json.dumps({"output": str(data_path)}), flush=True)
        done.wait(args.duration_s)
        tb.stop()
        tb.wait()
    sink.close()
    _meta(meta_path, sample_rate=args.baud * args.sps, baud=args.baud, sps=args.sps, differential=args.differential,
          rolloff=args.rolloff, center_freq_hz=args.center_freq_hz)
    print(f"WROTE {data_path.stat().st_size // 8} samples to {data_path}", flush=True)
    return 0


if __name__ == "__main__":
    time.tzset()
    sys.exit(main())
