#!/usr/bin/python3
"""Soft symbols -> gr-satellites' CCSDS deframer -> frames, to a ttc gr+zmq link and/or a KISS file.

Run with the system's GNU Radio (``/usr/bin/python3``; the toolkit never imports GNU Radio)::

    /usr/bin/python3 tools/gnuradio/ccsds_rx.py --input pass.f32 --interleave 4 \\
        --zmq tcp://127.0.0.1:5600 --rate 19200
    ttc station --down 'gr+zmq://127.0.0.1:5600?carries=frames' ...

The input is float32 soft symbols (> 0 is a 1: what a demodulator, ``ttc modem rx --symbols`` or an SDR
flowgraph's BPSK demodulator gives), from a file or ``-`` (stdin); with ``--iq`` it is complex64 BPSK
samples (``ttc modem tx`` writes them), which gr-satellites' ``bpsk_demodulator`` turns into soft symbols. The deframer is gr-satellites'
``ccsds_rs_deframer`` or, with ``--convolutional``, ``ccsds_concatenated_deframer``: ASM search with
``--threshold`` bit errors, optional differential decoding, CCSDS descrambling, RS(255,223) decoding;
each frame leaves as a PDU whose metadata gr-satellites filled in. ``--zmq`` publishes them on a
``pub_msg_sink`` (it binds; ``ttc station --down gr+zmq://...?carries=frames`` connects), ``--kiss``
writes gr-satellites' own ``.kss`` file, and ``--frames`` writes the frames back to back (for tests).

gr-satellites keeps the last frame inside its fixed-length tagger until more symbols arrive, so the
input is followed by ``--pad`` idle symbols (default 100,000: the unscrambled path, which packs bits
first, holds more than 20,000 back). ``--rate`` throttles to a symbol rate,
for a live-like bridge (and, found in the tests, gr-satellites 4.4's concatenated deframer fed an
unthrottled file loses some frames at random, a race in its fixed-length tagger: 1e6 symbols/s is then
the default); without it the file is deframed as fast as GNU Radio goes and the flowgraph
waits ``--linger-s`` before it exits so that subscribers take the last PDUs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import grcompat  # noqa: F401  (before gr-satellites: the byte_t shim)
import numpy as np
import pmt
from gnuradio import blocks, gr, zeromq
from satellites.components.datasinks import kiss_file_sink, kiss_server_sink
from satellites.components.deframers import ccsds_concatenated_deframer, ccsds_rs_deframer
from satellites.components.demodulators import bpsk_demodulator


class FrameWriter(gr.basic_block):
    """Counts every PDU and writes its octets to a file back to back when given one (tests, scripts)."""

    def __init__(self, path: str | None) -> None:
        gr.basic_block.__init__(self, name="frame_writer", in_sig=None, out_sig=None)
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self._handle)
        self._f = open(path, "wb") if path else None  # noqa: SIM115 - closed by close()
        self.count = 0
        self.meta: list[str] = []

    def _handle(self, msg: pmt.pmt_t) -> None:
        if self._f is not None:
            self._f.write(bytes(pmt.u8vector_elements(pmt.cdr(msg))))
            self._f.flush()
        self.count += 1
        if not self.meta:
            self.meta.append(pmt.write_string(pmt.car(msg)))

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True, help="float32 soft symbols (> 0 is a 1), or - for stdin")
    ap.add_argument("--iq", action="store_true",
                    help="the input is complex64 BPSK IQ: gr-satellites' bpsk_demodulator makes the soft symbols")
    ap.add_argument("--baud", type=float, default=9600.0, help="with --iq: symbol rate")
    ap.add_argument("--sample-rate", type=float, default=76800.0, help="with --iq: sample rate (> 4 x baud)")
    ap.add_argument("--frame-size", type=int, default=892, help="transfer frame octets (RS: 223 x interleave)")
    ap.add_argument("--interleave", type=int, default=4, help="RS interleave depth (frame = 223 x I)")
    ap.add_argument("--no-rs", action="store_true", help="no Reed-Solomon (uncoded frames after the ASM)")
    ap.add_argument("--basis", choices=("dual", "conventional"), default="dual")
    ap.add_argument("--no-scrambler", action="store_true", help="frames not randomised")
    ap.add_argument("--differential", action="store_true", help="differential (NRZ-M) precoding")
    ap.add_argument("--convolutional", choices=("CCSDS", "NASA-DSN", "CCSDS uninverted", "NASA-DSN uninverted"),
                    default=None, help="concatenated: the K=7 r=1/2 code in this convention")
    ap.add_argument("--threshold", type=int, default=4, help="ASM bit errors allowed")
    ap.add_argument("--pad", type=int, default=100_000, help="idle symbols after the input (flushes the tagger)")
    ap.add_argument("--rate", type=float, default=None,
                    help="throttle to this many symbols/s (0: as fast as it goes; default 0, or 1e6 with "
                         "--convolutional: unthrottled, the concatenated deframer drops frames at random)")
    ap.add_argument("--zmq", default=None, help="publish frame PDUs on a pub_msg_sink bound here (tcp://HOST:PORT)")
    ap.add_argument("--kiss", default=None, help="write frames to this KISS file (gr-satellites' kiss_file_sink)")
    ap.add_argument("--frames", default=None, help="write frames back to back to this file")
    ap.add_argument("--kiss-server", type=int, default=None,
                    help="serve the frames as KISS over TCP on this port (gr-satellites' kiss_server_sink, "
                         "127.0.0.1): ttc station --down kiss+tcp://127.0.0.1:PORT?carries=frames")
    ap.add_argument("--lead-symbols", type=int, default=0,
                    help="random symbols before the input (time for a client to connect, with --rate)")
    ap.add_argument("--linger-s", type=float, default=1.0, help="seconds to wait for subscribers before exiting")
    args = ap.parse_args()
    if args.rate is None:
        args.rate = 1e6 if args.convolutional else 0.0

    data = sys.stdin.buffer.read() if args.input == "-" else open(args.input, "rb").read()  # noqa: SIM115
    rng = np.random.default_rng(0)
    if args.iq:
        samples = np.frombuffer(data, dtype=np.complex64)
        n_pad = int(args.pad * args.sample_rate / args.baud)
        pad = (rng.standard_normal(2 * n_pad).astype(np.float32) * 0.05).view(np.complex64)
        stream = np.concatenate((samples, pad)).astype(np.complex64)
        item = gr.sizeof_gr_complex
    else:
        symbols = np.frombuffer(data, dtype=np.float32)
        pad = rng.choice(np.array([-1.0, 1.0], np.float32), args.pad).astype(np.float32)
        lead = rng.choice(np.array([-1.0, 1.0], np.float32), args.lead_symbols).astype(np.float32)
        stream = np.concatenate((lead, symbols, pad)).astype(np.float32)
        item = gr.sizeof_float

    tmp = tempfile.NamedTemporaryFile(suffix=".f32", delete=False)  # noqa: SIM115 - removed below
    tmp.write(stream.tobytes())
    tmp.close()
    tb = gr.top_block("ccsds_rx")
    src = blocks.file_source(item, tmp.name, False)
    head = src
    if args.rate > 0:
        throttle = blocks.throttle(item, args.rate * (args.sample_rate / args.baud if args.iq else 1))
        tb.connect(src, throttle)
        head = throttle
    if args.iq:
        demod = bpsk_demodulator(args.baud, args.sample_rate, iq=True)
        tb.connect(head, demod)
        head = demod
    common = dict(frame_size=args.frame_size, precoding="differential" if args.differential else None,
                  rs_en=not args.no_rs, rs_basis=args.basis, rs_interleaving=args.interleave,
                  scrambler="none" if args.no_scrambler else "CCSDS", syncword_threshold=args.threshold)
    if args.convolutional:
        deframer = ccsds_concatenated_deframer(convolutional=args.convolutional, **common)
    else:
        deframer = ccsds_rs_deframer(**common)
    tb.connect(head, deframer)
    if args.zmq:
        pub = zeromq.pub_msg_sink(args.zmq, 100, True)
        tb.msg_connect((deframer, "out"), (pub, "in"))
        print(f"PUBLISHING {pub.last_endpoint()}", flush=True)
    if args.kiss:
        kss = kiss_file_sink(args.kiss)
        tb.msg_connect((deframer, "out"), (kss, "in"))
    if args.kiss_server is not None:
        server = kiss_server_sink("127.0.0.1", str(args.kiss_server))  # GNU Radio 3.10 takes the port as text
        tb.msg_connect((deframer, "out"), (server, "in"))
        print(f"KISS_SERVER 127.0.0.1:{args.kiss_server}", flush=True)
    writer = FrameWriter(args.frames)  # counts the PDUs always: how the end of the message traffic is seen
    tb.msg_connect((deframer, "out"), (writer, "in"))
    if args.zmq and args.linger_s > 0:
        time.sleep(args.linger_s)  # subscribers connect to the bound sink before the first PDU
    tb.start()
    tb.wait()
    # the stream blocks are done; PDUs may still be on their way through the message ports (the deframer
    # chain runs on its own threads): wait until the count has stood still for linger_s
    seen = -1
    while writer.count != seen:
        seen = writer.count
        time.sleep(max(0.2, args.linger_s))
    tb.stop()
    tb.wait()
    os.unlink(tmp.name)
    writer.close()
    print(f"FRAMES {writer.count}", flush=True)
    if writer.meta:
        print(f"META {writer.meta[0]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
