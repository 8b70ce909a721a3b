"""KISS framing: escapes, port nibble, gr-satellites' timestamp frames; streams fed octet by octet and split
at every index; garbage, broken escapes, over-long and truncated frames; a .kss file written and read."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from protocol.errors import LocalProtocolError
from protocol.kiss import (
    FEND,
    FESC,
    Command,
    KissControl,
    KissDecoder,
    KissFrame,
    KissRejected,
    decode_stream,
    encode_frame,
    encode_timestamp,
    escape,
    unescape,
)


def _events(stream: bytes, chunk: int | None = None, **kw: int) -> list:
    d = KissDecoder(**kw)
    out = []
    step = chunk or max(1, len(stream))
    for i in range(0, len(stream), step):
        d.feed(stream[i:i + step])
        out += list(d.events())
    d.close()
    return out + list(d.events())


def test_golden_escapes_and_type_octet() -> None:
    # the KISS paper's rules: FEND -> FESC TFEND, FESC -> FESC TFESC; type octet = port << 4 | command
    assert escape(b"\xc0\xdb\x01") == b"\xdb\xdc\xdb\xdd\x01"
    assert encode_frame(b"\xc0\xdb\x01") == b"\xc0\x00\xdb\xdc\xdb\xdd\x01\xc0"
    assert encode_frame(b"A", port=3) == b"\xc0\x30A\xc0"
    assert encode_frame(b"\x05", command=Command.TXDELAY) == b"\xc0\x01\x05\xc0"
    # gr-satellites' pdu_to_kiss timestamp: control 0x09 + ms since 1970 as u64 big endian
    assert encode_timestamp(1764741600123) == b"\xc0\x09" + (1764741600123).to_bytes(8, "big") + b"\xc0"
    assert unescape(b"\xdb\xdd\xdc") == b"\xdb\xdc"  # an escaped FESC followed by a literal TFEND octet
    assert unescape(b"\xdb\xdb\xdc") is None and unescape(b"ab\xdb") is None
    with pytest.raises(LocalProtocolError, match="port"):
        encode_frame(b"", port=16)
    with pytest.raises(LocalProtocolError, match="command"):
        encode_frame(b"", command=0x20)


def test_frames_ports_timestamps_and_controls() -> None:
    stream = (b"noise" + encode_timestamp(1000) + encode_frame(b"one\xc0") + b"\xc0\xc0"
              + encode_frame(b"two", port=2) + encode_frame(b"\x10", command=Command.TXDELAY)
              + b"\xc0\xff\xc0")
    events = _events(stream)
    assert events[0] == KissFrame(0, b"one\xc0", 1000, offset=16)  # 5 noise + 11 of the timestamp frame
    assert events[1] == KissFrame(2, b"two", None, offset=stream.index(b"\xc0\x20"))
    assert events[2] == KissControl(0, Command.TXDELAY, b"\x10", offset=stream.index(b"\xc0\x01"))
    assert isinstance(events[3], KissControl) and events[3].command == Command.RETURN
    assert len(events) == 4


def test_bad_frames_are_reported_with_offset_and_reason() -> None:
    good = encode_frame(b"ok")
    broken = b"\xc0\x00ab\xdb\x41cd\xc0"  # FESC then 'A'
    ts_bad = b"\xc0\x09\x00\x01\xc0"  # a timestamp of 2 octets
    long = encode_frame(bytes(100))
    stream = good + broken + ts_bad + long + good + b"\xc0\x00tail-without-end"
    events = _events(stream, max_frame_octets=50)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["KissFrame", "KissRejected", "KissRejected", "KissRejected", "KissFrame", "KissRejected"]
    assert "broken escape" in events[1].reason and events[1].offset == len(good)
    assert "timestamp frame of 2 octets" in events[2].reason
    assert "longer than 50" in events[3].reason and events[3].offset == len(good + broken + ts_bad)
    assert "stream ended" in events[5].reason


def test_unbounded_garbage_is_not_buffered() -> None:
    d = KissDecoder(max_frame_octets=100)
    d.feed(b"\xc0")
    for _ in range(1000):
        d.feed(b"\x41" * 1000)  # a peer that never sends FEND
        assert len(d._buf) <= 2 * 100 + 1
    d.feed(b"\xc0" + encode_frame(b"after"))
    events = list(d.events())
    assert isinstance(events[0], KissRejected) and events[0].length == 1_000_002
    assert events[1].data == b"after"


_frame_lists = st.lists(st.tuples(st.integers(0, 15), st.binary(max_size=60),
                                  st.none() | st.integers(0, (1 << 64) - 1)), max_size=8)


def _stream(frames: list) -> bytes:
    out = b""
    for port, data, ts in frames:
        if ts is not None:
            out += encode_timestamp(ts, port=port)
        out += encode_frame(data, port=port)
    return out


@settings(max_examples=200, deadline=None)
@given(_frame_lists)
def test_round_trip_any_chunking(frames: list) -> None:
    stream = _stream(frames)
    expected = [(p, d, ts) for p, d, ts in frames]
    for chunk in (None, 1, 7):
        got = [(e.port, e.data, e.timestamp_ms) for e in _events(stream, chunk)]
        assert got == expected


@settings(max_examples=40, deadline=None)
@given(_frame_lists.filter(bool))
def test_split_at_every_index(frames: list) -> None:
    stream = _stream(frames)
    whole = _events(stream)
    for cut in range(len(stream) + 1):
        d = KissDecoder()
        d.feed(stream[:cut])
        got = list(d.events())
        d.feed(stream[cut:])
        d.close()
        assert got + list(d.events()) == whole


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_garbage_never_raises(data: bytes) -> None:
    events = _events(data, 13)
    for e in events:
        assert isinstance(e, (KissFrame, KissControl, KissRejected))
    # nothing that had no FEND-delimited body comes out as a frame
    if FEND not in data:
        assert events == []
    assert FESC not in b"".join(e.data for e in events if isinstance(e, KissFrame)) or FESC in data


def test_kss_file_round_trip(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "pass.kss"
    frames = [bytes([i]) * (i + 1) + b"\xc0\xdb" for i in range(30)]
    path.write_bytes(b"".join(encode_timestamp(1_700_000_000_000 + i) + encode_frame(f) for i, f in enumerate(frames)))
    with path.open("rb") as f:
        got = [e for e in decode_stream(iter(lambda: f.read(17), b"")) if isinstance(e, KissFrame)]
    assert [e.data for e in got] == frames and [e.timestamp_ms for e in got] == [1_700_000_000_000 + i for i in range(30)]
