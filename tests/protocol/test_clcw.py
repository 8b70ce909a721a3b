"""CLCW (CCSDS 232.0-B-4 §4.2.1.11 / 232.1-B-2 §4.2): bit positions, round trips against construct, fuzz."""

from __future__ import annotations

import construct
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.clcw import CLCW_LEN, Clcw, ClcwLayout, CopInEffect
from protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError, TruncatedError

clcws = st.builds(
    Clcw,
    vcid=st.integers(0, 63),
    report_value=st.integers(0, 255),
    lockout=st.booleans(),
    wait=st.booleans(),
    retransmit=st.booleans(),
    no_rf_available=st.booleans(),
    no_bit_lock=st.booleans(),
    farm_b_counter=st.integers(0, 3),
    status_field=st.integers(0, 7),
)


def test_hand_built_word() -> None:
    # type 0, version 00, status 101, COP 01 | VCID 000111, spare 00 | noRF 1, nolock 0, lockout 1, wait 0,
    # retransmit 1, FARM-B 11, spare 0 | report 0x5A
    word = 0b0_00_101_01_000111_00_1_0_1_0_1_11_0_01011010
    clcw = Clcw.from_int(word)
    assert clcw == Clcw(vcid=7, report_value=0x5A, lockout=True, wait=False, retransmit=True,
                        no_rf_available=True, no_bit_lock=False, farm_b_counter=3, status_field=5)
    assert clcw.to_int() == word
    assert clcw.cop_in_effect is CopInEffect.COP1


@pytest.mark.parametrize(("name", "bit"), [
    ("no_rf_available", 15), ("no_bit_lock", 14), ("lockout", 13), ("wait", 12), ("retransmit", 11)])
def test_each_flag_sits_at_its_bit(name: str, bit: int) -> None:
    base = Clcw(vcid=0, report_value=0)
    assert Clcw(vcid=0, report_value=0, **{name: True}).to_int() ^ base.to_int() == 1 << bit


def test_default_word_is_cop1_only() -> None:
    assert Clcw(vcid=0, report_value=0).encode() == bytes([0x01, 0, 0, 0])


@settings(deadline=None, max_examples=500)
@given(clcws)
def test_round_trip_and_agreement_with_construct(clcw: Clcw) -> None:
    raw = clcw.encode()
    assert len(raw) == CLCW_LEN
    assert Clcw.decode(raw) == clcw
    assert Clcw.from_int(clcw.to_int()) == clcw
    parsed = ClcwLayout.parse(raw)
    for name in ("vcid", "report_value", "lockout", "wait", "retransmit", "no_rf_available", "no_bit_lock",
                 "farm_b_counter", "status_field"):
        assert parsed[name] == getattr(clcw, name), name
    assert int(parsed.cop_in_effect) == 1
    built = ClcwLayout.build(dict(parsed))
    assert built == raw


@pytest.mark.parametrize(("word", "field"), [
    (0x8100_0000, "control word type"),
    (0x2100_0000, "version"),
    (0x0000_0000, "COP in effect"),
    (0x0300_0000, "COP in effect"),
    (0x0101_0000, "spare"),
    (0x0100_0100, "spare"),
])
def test_decoder_rejects_invalid_words(word: int, field: str) -> None:
    with pytest.raises(RemoteProtocolError, match=field):
        Clcw.decode(word.to_bytes(4, "big"), offset=10)


def test_decoder_rejects_wrong_length() -> None:
    with pytest.raises(TruncatedError):
        Clcw.decode(b"\x01\x00\x00")
    with pytest.raises(RemoteProtocolError):
        Clcw.decode(b"\x01\x00\x00\x00\x00")
    with pytest.raises(RemoteProtocolError):
        Clcw.from_int(1 << 32)


@pytest.mark.parametrize("kwargs", [
    dict(vcid=64, report_value=0), dict(vcid=0, report_value=256), dict(vcid=0, report_value=0, farm_b_counter=4),
    dict(vcid=0, report_value=0, status_field=8), dict(vcid=0, report_value=0, cop_in_effect=2),
    dict(vcid=0, report_value=0, lockout=1), dict(vcid=True, report_value=0),
])
def test_encoder_rejects_invalid_fields(kwargs: dict) -> None:
    with pytest.raises(LocalProtocolError):
        Clcw(**kwargs)


@settings(deadline=None, max_examples=1000)
@given(st.binary(max_size=6))
def test_fuzz(raw: bytes) -> None:
    try:
        clcw = Clcw.decode(raw)
    except ProtocolError:
        return
    assert clcw.encode() == raw


def _construct_accepts(raw: bytes) -> bool:
    try:
        parsed = ClcwLayout.parse(raw)  # Const fields reject a bad type, version or spare
    except construct.ConstError:
        return False
    return int(parsed.cop_in_effect) == 1  # construct's Enum passes unknown codes through; ours rejects them


@settings(deadline=None, max_examples=500)
@given(st.integers(0, 0xFFFFFFFF))
def test_fuzz_decoder_accepts_exactly_what_the_declaration_accepts(word: int) -> None:
    raw = word.to_bytes(4, "big")
    try:
        clcw = Clcw.decode(raw)
    except ProtocolError:
        assert not _construct_accepts(raw)
        return
    assert _construct_accepts(raw)
    assert clcw.encode() == raw
