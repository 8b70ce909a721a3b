"""What gr-satellites' own encoder blocks produce, we decode: its encode_rs (dual and conventional basis,
interleave 1..5) gives our codeblocks octet for octet, and our decoder corrects errors in them."""

from __future__ import annotations

import numpy as np
import pytest

from protocol.reedsolomon import Basis, ReedSolomon, RSConfig

ENCODE_RS = r"""
import grcompat, pmt, sys, time
from gnuradio import gr, blocks
import satellites
dual, interleave = sys.argv[1] == "dual", int(sys.argv[2])
data = sys.stdin.buffer.read()
n = 223 * interleave
tb = gr.top_block()
enc = satellites.encode_rs(dual, interleave)
dbg = blocks.message_debug()
tb.msg_connect((enc, "out"), (dbg, "store"))
tb.start()
frames = [data[i:i + n] for i in range(0, len(data), n)]
for f in frames:
    enc.to_basic_block()._post(pmt.intern("in"), pmt.cons(pmt.PMT_NIL, pmt.init_u8vector(len(f), list(f))))
deadline = time.time() + 30
while dbg.num_messages() < len(frames) and time.time() < deadline:
    time.sleep(0.02)
tb.stop()
tb.wait()
sys.stdout.buffer.write(b"".join(bytes(pmt.u8vector_elements(pmt.cdr(dbg.get_message(i))))
                                 for i in range(dbg.num_messages())))
"""


@pytest.mark.parametrize("interleave", [1, 4, 5])
@pytest.mark.parametrize("basis", [Basis.DUAL, Basis.CONVENTIONAL])
def test_gr_satellites_encode_rs_equals_ours_and_we_decode_it(gnuradio, interleave: int, basis: Basis) -> None:  # noqa: ANN001
    rng = np.random.default_rng(interleave)
    rs = ReedSolomon(RSConfig(interleave=interleave, basis=basis))
    frames = rng.integers(0, 256, (6, 223 * interleave), dtype=np.uint8)
    theirs = gnuradio.run("-c", ENCODE_RS, "dual" if basis is Basis.DUAL else "conventional", str(interleave),
                          input=frames.tobytes()).stdout
    blocks = np.frombuffer(theirs, dtype=np.uint8).reshape(len(frames), 255 * interleave)
    assert np.array_equal(blocks, rs.encode_batch(frames))
    damaged = blocks.copy()
    for row in damaged:  # 16 wrong octets in each interleaved codeword (octets j, j + I, ...): the code's limit
        for j in range(interleave):
            where = j + interleave * rng.choice(255, 16, replace=False)
            row[where] ^= rng.integers(1, 256, 16, dtype=np.uint8)
    out = rs.decode_batch(damaged)
    assert not out.uncorrectable.any() and np.array_equal(out.data, frames)


CONV_ENCODE = r"""
import grcompat, pmt, sys, time
from gnuradio import gr, blocks
import satellites
bits = list(sys.stdin.buffer.read())
tb = gr.top_block()
# gr-satellites' polynomials have the newest bit in the least significant place (as gr-fec's): the CCSDS
# G1 = 0o171 and G2 = 0o133 are 79 and 109 there
enc = satellites.convolutional_encoder(7, [79, 109])
dbg = blocks.message_debug()
tb.msg_connect((enc, "out"), (dbg, "store"))
tb.start()
enc.to_basic_block()._post(pmt.intern("in"), pmt.cons(pmt.PMT_NIL, pmt.init_u8vector(len(bits), bits)))
deadline = time.time() + 20
while dbg.num_messages() < 1 and time.time() < deadline:
    time.sleep(0.02)
tb.stop()
tb.wait()
sys.stdout.buffer.write(bytes(pmt.u8vector_elements(pmt.cdr(dbg.get_message(0)))))
"""


def test_gr_satellites_convolutional_encoder_output_decodes_here(gnuradio) -> None:  # noqa: ANN001
    """gr-satellites' own convolutional_encoder block (a terminated code: six zero bits flush it)."""
    from protocol.convolutional import convolutional_encode, viterbi_decode

    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2, 3000, dtype=np.uint8)
    theirs = np.frombuffer(gnuradio.run("-c", CONV_ENCODE, input=bits.tobytes()).stdout, dtype=np.uint8)
    flushed = np.concatenate((bits, np.zeros(6, np.uint8)))
    assert np.array_equal(theirs, convolutional_encode(flushed, convention="CCSDS uninverted"))
    noisy = (theirs.astype(np.float32) * 2 - 1) + rng.normal(0, 0.7, len(theirs)).astype(np.float32)
    decoded = viterbi_decode(noisy, convention="CCSDS uninverted", start_state=0)
    assert np.array_equal(decoded[:len(bits)], bits)  # soft decisions through noise (Es/N0 ~ 3 dB)
