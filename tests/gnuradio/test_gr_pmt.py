"""Our PMT codec and gr+zmq link against the real GNU Radio 3.10: its serialize_str, and gr-zeromq blocks."""

from __future__ import annotations

import json
import subprocess
import time

import numpy as np

from protocol.links import Carries, open_receiver, open_sender
from protocol.pmt import Pair, decode_pdu, dumps, loads

SERIALISE = r"""
import grcompat, pmt, json, sys
d = pmt.make_dict()
d = pmt.dict_add(d, pmt.intern("rs_errors"), pmt.from_long(3))
d = pmt.dict_add(d, pmt.intern("syncword_errors"), pmt.from_long(1))
d = pmt.dict_add(d, pmt.intern("time"), pmt.from_double(1764741600.25))
values = {
    "pdu": pmt.cons(d, pmt.init_u8vector(4, [0x1a, 0xcf, 0xfc, 0x1d])),
    "nil_pdu": pmt.cons(pmt.PMT_NIL, pmt.init_u8vector(0, [])),
    "f32": pmt.init_f32vector(3, [0.5, -1.0, 2.0]),
    "c32": pmt.init_c32vector(2, [1 + 2j, -3j]),
    "tuple": pmt.make_tuple(pmt.from_long(-7), pmt.intern("x"), pmt.PMT_T),
    "u64": pmt.from_uint64(2**63 + 5),
    "big": pmt.from_long(-(2**40)),
    "cplx": pmt.from_complex(0.5 - 0.25j),
}
json.dump({k: pmt.serialize_str(v).hex() for k, v in values.items()}, sys.stdout)
"""


def test_our_octets_equal_gnuradio_serialize_str(gnuradio) -> None:  # noqa: ANN001
    theirs = {k: bytes.fromhex(v) for k, v in json.loads(gnuradio.run("-c", SERIALISE).stdout).items()}
    meta = {"rs_errors": 3, "syncword_errors": 1, "time": 1764741600.25}
    ours = {
        "pdu": dumps(Pair(meta, b"\x1a\xcf\xfc\x1d")),
        "nil_pdu": dumps(Pair(None, b"")),
        "f32": dumps(np.array([0.5, -1.0, 2.0], np.float32)),
        "c32": dumps(np.array([1 + 2j, -3j], np.complex64)),
        "tuple": dumps((-7, "x", True)),
        "u64": dumps(2**63 + 5),
        "big": dumps(-(2**40)),
        "cplx": dumps(0.5 - 0.25j),
    }
    assert ours == theirs
    assert decode_pdu(theirs["pdu"]) == (b"\x1a\xcf\xfc\x1d", meta)
    assert list(decode_pdu(theirs["pdu"])[1]) == ["rs_errors", "syncword_errors", "time"]  # GNU Radio's order kept
    assert loads(theirs["tuple"]) == (-7, "x", True)


PARSE = r"""
import grcompat, pmt, sys
msg = pmt.deserialize_str(sys.stdin.buffer.read())
meta, data = pmt.car(msg), pmt.cdr(msg)
print(pmt.symbol_to_string(pmt.dict_ref(meta, pmt.intern("station"), pmt.PMT_NIL)),
      pmt.to_double(pmt.dict_ref(meta, pmt.intern("snr_db"), pmt.PMT_NIL)),
      bytes(pmt.u8vector_elements(data)).hex())
"""


def test_gnuradio_reads_our_pdus(gnuradio) -> None:  # noqa: ANN001
    from protocol.pmt import encode_pdu

    out = gnuradio.run("-c", PARSE, input=encode_pdu(b"\x01\x02\xff", {"station": "almaty", "snr_db": 7.5})).stdout
    assert out.decode().split() == ["almaty", "7.5", "0102ff"]


RELAY = r"""
import grcompat, sys, time, signal
from gnuradio import gr, zeromq
src_addr = sys.argv[1]
tb = gr.top_block()
src = zeromq.sub_msg_source(src_addr, 100, False)   # connects to our gr+zmq sender
dst = zeromq.pub_msg_sink("tcp://127.0.0.1:*", 100, True)  # binds; our gr+zmq receiver connects
tb.msg_connect((src, "out"), (dst, "in"))
tb.start()
print("READY", dst.last_endpoint(), flush=True)
signal.signal(signal.SIGTERM, lambda *a: (tb.stop(), tb.wait(), sys.exit(0)))
while True:
    time.sleep(0.2)
"""


def test_pdus_through_gr_zeromq_blocks_both_ways(gnuradio) -> None:  # noqa: ANN001
    """Our sender -> gr-zeromq sub_msg_source -> pub_msg_sink -> our receiver: frames and metadata intact."""
    tx = open_sender("gr+zmq://127.0.0.1:0")
    proc = subprocess.Popen([gnuradio.python, "-c", RELAY, tx.address], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=gnuradio.env())
    rx = None
    try:
        ready, dst = proc.stdout.readline().decode().split()
        assert ready == "READY"
        rx = open_receiver("gr+zmq://" + dst.removeprefix("tcp://") + "?carries=frames")
        frames = [bytes([i]) * (10 + i) for i in range(20)]
        got = []
        deadline = time.monotonic() + 30
        while not got and time.monotonic() < deadline:  # PUB/SUB joins late: probe until one arrives
            tx.send(b"probe", meta={"n": 1})
            f = rx.recv(0.1)
            if f is not None:
                got.append(f)
        assert got, "nothing came through the flowgraph"
        assert got[0].data == b"probe" and got[0].meta == {"n": 1} and got[0].carries is Carries.FRAMES
        while rx.recv(0.3) is not None:
            pass
        for i, f in enumerate(frames):
            tx.send(f, meta={"i": i})
        out = []
        while len(out) < len(frames):
            f = rx.recv(5.0)
            assert f is not None, f"timed out after {len(out)} frames"
            out.append(f)
        assert [f.data for f in out] == frames
        assert [f.meta["i"] for f in out] == list(range(len(frames)))
        assert rx.counters.frames_in >= len(frames) + 1 and rx.counters.rejected == 0
    finally:
        proc.terminate()
        proc.wait(10)
        tx.close()
        if rx is not None:
            rx.close()
