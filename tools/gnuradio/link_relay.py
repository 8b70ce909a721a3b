#!/usr/bin/python3
"""A GNU Radio flowgraph in the ZeroMQ hop between ``ttc spacecraft`` and ``ttc station`` (gr+zmq links).

Run with the system's GNU Radio (``/usr/bin/python3``; the toolkit never imports GNU Radio)::

    ttc spacecraft --down gr+zmq://127.0.0.1:0 --up 'gr+zmq://127.0.0.1:0?bind=1'     # READY gives both
    /usr/bin/python3 tools/gnuradio/link_relay.py --sc-down tcp://127.0.0.1:P1 --sc-up tcp://127.0.0.1:P2 \\
        --mode radio --ebn0-db 7
    ttc station --down 'gr+zmq://127.0.0.1:P3?carries=frames' --up 'gr+zmq://127.0.0.1:P4?bind=0' ...

Downlink: ``sub_msg_source`` (connects to the spacecraft's CADU PDUs) -> in ``--mode radio``:
``pdu_to_tagged_stream`` -> bits (MSB first) -> antipodal soft symbols -> AWGN at ``--ebn0-db`` ->
gr-satellites' ``ccsds_rs_deframer`` (ASM search, descrambling, RS decoding) -> frame PDUs; in
``--mode pdu`` the CADU PDUs pass as they are -> ``pub_msg_sink`` (binds, the station connects; with
``--mode radio`` the station takes ``?carries=frames``). Uplink: ``sub_msg_source`` (binds, the station's
gr+zmq sender connects to it with ``?bind=0``) -> ``pub_msg_sink`` (connects to the spacecraft's uplink
receiver, which binds). Every endpoint this flowgraph binds is printed on one line,
``READY {"gs_down": ..., "gs_up": ...}``, once it runs. SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

import grcompat  # noqa: F401  (before gr-satellites: the byte_t shim)
import numpy as np
from gnuradio import analog, blocks, digital, gr, zeromq
from satellites.components.deframers import ccsds_rs_deframer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sc-down", required=True, help="the spacecraft's CADU PDUs (tcp://HOST:PORT; connects)")
    ap.add_argument("--sc-up", required=True, help="the spacecraft's CLTU receiver (tcp://HOST:PORT; connects)")
    ap.add_argument("--gs-down", default="tcp://127.0.0.1:*", help="where the station takes frames (binds)")
    ap.add_argument("--gs-up", default="tcp://127.0.0.1:*", help="where the station sends CLTUs (binds)")
    ap.add_argument("--mode", choices=("pdu", "radio"), default="radio",
                    help="pdu: relay the PDUs; radio: CADUs to soft symbols, noise, gr-satellites' deframer")
    ap.add_argument("--ebn0-db", type=float, default=None, help="AWGN on the soft symbols (radio mode)")
    ap.add_argument("--frame-size", type=int, default=892)
    ap.add_argument("--interleave", type=int, default=4)
    ap.add_argument("--basis", choices=("dual", "conventional"), default="dual")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    tb = gr.top_block("link_relay")
    down_src = zeromq.sub_msg_source(args.sc_down, 100, False)
    down_sink = zeromq.pub_msg_sink(args.gs_down, 100, True)
    if args.mode == "pdu":
        tb.msg_connect((down_src, "out"), (down_sink, "in"))
    else:
        to_stream = blocks.pdu_to_tagged_stream(blocks.byte_t, "packet_len")
        # the PDU length tags must not reach the deframer, whose own tagged-stream blocks use the same key
        gate = blocks.tag_gate(gr.sizeof_char, False)
        unpack = blocks.packed_to_unpacked_bb(1, gr.GR_MSB_FIRST)
        to_float = blocks.char_to_float(1, 1)
        mapper = blocks.add_const_ff(-0.5)  # 0/1 -> -0.5/+0.5: antipodal, > 0 is a 1
        scale = blocks.multiply_const_ff(2.0)
        deframer = ccsds_rs_deframer(frame_size=args.frame_size, rs_interleaving=args.interleave,
                                     rs_basis=args.basis, scrambler="CCSDS", syncword_threshold=4)
        chain = [to_stream, gate, unpack, to_float, mapper, scale]
        if args.ebn0_db is not None:  # Es = Eb = 1 per symbol: noise variance N0/2 per real dimension
            sigma = float(np.sqrt(0.5 / 10 ** (args.ebn0_db / 10)))
            noise = analog.noise_source_f(analog.GR_GAUSSIAN, sigma, args.seed)
            adder = blocks.add_ff()
            tb.connect(noise, (adder, 1))
            chain.append(adder)
        tb.msg_connect((down_src, "out"), (to_stream, "pdus"))
        tb.connect(*chain, deframer)
        tb.msg_connect((deframer, "out"), (down_sink, "in"))
        _ = digital  # the slicer inside the deframer comes from gr-digital (imported for a clear error)
    up_src = zeromq.sub_msg_source(args.gs_up, 100, True)
    up_sink = zeromq.pub_msg_sink(args.sc_up, 100, False)
    tb.msg_connect((up_src, "out"), (up_sink, "in"))

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    tb.start()
    print("READY " + json.dumps({"gs_down": down_sink.last_endpoint(), "gs_up": up_src.last_endpoint()}), flush=True)
    done.wait()
    tb.stop()
    tb.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
