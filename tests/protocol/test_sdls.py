"""SDLS on TC frames (CCSDS 355.0-B-2), AES-256-GCM: round trips, and every kind of attack refused with
its reason (forged, tampered bit by bit, replayed, reordered beyond the window, truncated, unknown SPI)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.crc import crc16
from protocol.errors import LocalProtocolError, ProtocolError
from protocol.sdls import Refusal, SdlsReceiver, SdlsSender, SecurityAssociation, SecurityError, protect
from protocol.tcframe import FrameType, SegmentHeader, TcFrame

SCID, VC = 0x1AB, 0
KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def plain(data: bytes = b"\x18\x10\xc0\x00\x00\x05PING!!", n_s: int = 9) -> TcFrame:
    return TcFrame(scid=SCID, vcid=VC, data=data, frame_type=FrameType.AD, sequence_number=n_s,
                   segment=SegmentHeader(0))


def on_board(sa: SecurityAssociation, key: bytes = KEY) -> SdlsReceiver:
    return SdlsReceiver([sa], lambda key_id: key if key_id == sa.key_id else None)


def received(frame: TcFrame) -> TcFrame:
    """The frame as the spacecraft decodes it off the air (FECF checked)."""
    return TcFrame.decode(frame.encode(), segment_header=True)


SAS = [SecurityAssociation.default(5, SCID, VC, 1),
       SecurityAssociation(spi=6, scid=SCID, vcid=VC, key_id=1, encrypt=False),
       SecurityAssociation(spi=7, scid=SCID, vcid=VC, key_id=1, arsn_len=4, mac_len=8)]


@pytest.mark.parametrize("sa", SAS, ids=["encrypt", "authenticate-only", "arsn4-mac8"])
def test_round_trip_and_layout(sa: SecurityAssociation) -> None:
    """355.0-B-2 §4.1: security header (SPI, IV, ARSN) after the segment header, the MAC before the FECF;
    the data encrypted with authenticated encryption, in clear with authentication only."""
    tx, rx = SdlsSender(sa, KEY), on_board(sa)
    frame = plain()
    protected = tx.protect(frame)
    raw = protected.encode()
    assert len(raw) == len(frame.encode()) + sa.overhead
    assert raw[6:8] == sa.spi.to_bytes(2, "big") and raw[8:20] == (1).to_bytes(12, "big")
    if sa.arsn_len:
        assert raw[20:24] == (1).to_bytes(4, "big")
    body = raw[6 + sa.security_header_len:len(raw) - 2 - sa.mac_len]
    assert (body == frame.data) is (not sa.encrypt)
    assert rx.process(received(protected)) == frame
    # the same bytes from the layout alone: nonce = the IV field, AAD = every octet before the data (AESGCM API)
    aad = raw[:6 + sa.security_header_len]
    if sa.encrypt:
        want = AESGCM(KEY).encrypt(raw[8:20], frame.data, aad)
        assert body == want[:-16] and raw[-2 - sa.mac_len:-2] == want[-16:][:sa.mac_len]
    else:
        assert raw[-2 - sa.mac_len:-2] == AESGCM(KEY).encrypt(raw[8:20], b"", aad + frame.data)[:sa.mac_len]


# NASA CryptoLib's TC unit tests (test/unit/et_dt_validation.c): frames in hex with their SA settings.
# AUTH_DECRYPTION_TEST: SA 4, AES-256-GCM authenticated encryption, 16-octet MAC, no ARSN, an all-zero ABM
# (CryptoLib's default: nothing of the headers authenticated), key FEDCBA98 76543210 x4, IV ...01,
# a BD frame of SCID 3 on VC 1 with segment header FF, the PUS packet 1880d2ca0008197f0b0031000039c5.
CRYPTOLIB_AE = ("2003043400FF0004000000000000000000000001"
                "7E1D8EEA8D45CEBA17888E0CDCD747DC78E5F372F997F2A63AA5DFC168395DC987")
# NIST_DEC_VALIDATION AES_GCM_256_IV_96_PT_128_TEST_0: SA 9, encryption only (no MAC), the NIST GCM vector's
# key, IV and plaintext inside a BD frame of SCID 3, VC 0, segment header FF.
CRYPTOLIB_NIST = "2003002500FF0009B6AC8E4963F49207FFD6374C1224DFEFB72A20D49E09256908874979AD6F"


@pytest.mark.parametrize(("sa", "key", "iv", "data", "expected"), [
    (SecurityAssociation(spi=4, scid=3, vcid=1, key_id=130, abm=bytes(20)), bytes.fromhex("FEDCBA9876543210" * 4),
     (1).to_bytes(12, "big"), "1880d2ca0008197f0b0031000039c5", CRYPTOLIB_AE),
    (SecurityAssociation(spi=9, scid=3, vcid=0, key_id=136, mac_len=0),
     bytes.fromhex("ef9f9284cf599eac3b119905a7d18851e7e374cf63aea04358586b0f757670f8"),
     bytes.fromhex("b6ac8e4963f49207ffd6374c"), "722ee47da4b77424733546c2d400c4e5", CRYPTOLIB_NIST),
], ids=["cryptolib-auth-encryption-sa4", "cryptolib-nist-gcm-sa9"])
def test_cryptolib_tc_vectors_byte_for_byte(sa: SecurityAssociation, key: bytes, iv: bytes, data: str,
                                             expected: str) -> None:
    """Our ApplySecurity gives CryptoLib's frames exactly (header, segment header, SPI, IV, ciphertext, MAC,
    FECF), and our ProcessSecurity takes them back to the plaintext."""
    from protocol.tcframe import SequenceFlags

    frame = TcFrame(scid=sa.scid, vcid=sa.vcid, data=bytes.fromhex(data), frame_type=FrameType.BD,
                    segment=SegmentHeader(63, SequenceFlags.UNSEGMENTED))
    assert protect(sa, key, frame, iv=iv).encode().hex() == expected.lower()
    rx = SdlsReceiver([sa], lambda _k: key)
    assert rx.process(TcFrame.decode(bytes.fromhex(expected), segment_header=True)) == frame


def test_the_default_sa_authenticates_every_header_bit() -> None:
    """The default SA's mask covers the whole primary, segment and security header: SCID, VCID, bypass and
    control flags, N(S), the length, MAP ID, SPI and IV (CryptoLib's defaults leave them all unmasked)."""
    sa = SAS[0]
    assert sa.mask == b"\xff" * (5 + 1 + 2 + 12)


def _reflag(raw: bytearray) -> bytes:
    """The attacker can always recompute the FECF: only the MAC protects the frame."""
    body = bytes(raw[:-2])
    return body + crc16(body).to_bytes(2, "big")


def _truncated(raw: bytes, keep: int) -> bytes:
    """The first ``keep`` octets of a frame with its length field and FECF made consistent again."""
    out = bytearray(raw[:keep]) + b"\0\0"
    length = len(out) - 1
    out[2] = (out[2] & 0xFC) | (length >> 8)
    out[3] = length & 0xFF
    return _reflag(out)


def _verdict(rx: SdlsReceiver, raw: bytes) -> str:
    """What the spacecraft's chain does with these frame octets: 'accepted' or the reason it refused."""
    try:
        frame = TcFrame.decode(raw, segment_header=True)
    except ProtocolError:
        return "frame layer"
    try:
        rx.process(frame)
    except SecurityError as e:
        assert str(KEY.hex()) not in str(e) and KEY.hex()[:16] not in repr(e.args)  # never key material
        return e.reason.value
    return "accepted"


def test_ten_thousand_attacks_none_accepted_each_with_its_reason() -> None:
    """Forged (wrong key), tampered (every byte of a frame, header and data, flipped, FECF recomputed),
    replayed, reordered beyond the window, truncated and unknown-SPI frames: 0 accepted of >= 10,000."""
    rng = random.Random(1)
    sa = SAS[0]
    tx = SdlsSender(sa, KEY)
    rx = on_board(sa)
    reasons: dict[str, int] = {}
    attempts = 0

    def attack(raw: bytes, kind: str) -> None:
        nonlocal attempts
        attempts += 1
        verdict = _verdict(rx, raw)
        assert verdict != "accepted", kind
        reasons[f"{kind}: {verdict}"] = reasons.get(f"{kind}: {verdict}", 0) + 1

    genuine: list[bytes] = []
    for k in range(200):
        raw = tx.protect(plain(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 60))), n_s=k % 256)).encode()
        for pos in range(len(raw) - 2):  # tampered: each byte in turn
            bad = bytearray(raw)
            bad[pos] ^= 1 << rng.randrange(8)
            attack(_reflag(bad), "tampered")
        assert _verdict(rx, raw) == "accepted"
        genuine.append(raw)
    for _ in range(2000):  # the next IV the spacecraft expects, under another key
        attack(SdlsSender(sa, OTHER_KEY, iv=tx.iv).protect(plain()).encode(), "forged")
    for _ in range(1000):
        attack(rng.choice(genuine), "replayed")
    ahead = SdlsSender(sa, KEY, iv=tx.iv + sa.arsn_window)
    for _ in range(500):
        attack(ahead.protect(plain()).encode(), "beyond window")
    for _ in range(1000):  # a fresh genuine frame (never received), cut short
        raw = SdlsSender(sa, KEY, iv=tx.iv).protect(plain(bytes(rng.randrange(1, 60)))).encode()
        attack(_truncated(raw, rng.randrange(7, len(raw) - 2)), "truncated")
    stranger = SecurityAssociation.default(99, SCID, VC, 1)
    for _ in range(500):
        attack(protect(stranger, KEY, plain(), iv=rng.randbytes(12)).encode(), "unknown SPI")
    assert attempts >= 10_000
    assert rx.counters.accepted == 200
    assert reasons["forged: bad_mac"] == 2000 and reasons["replayed: replay"] == 1000
    assert reasons["beyond window: outside_window"] == 500 and reasons["unknown SPI: unknown_spi"] == 500
    assert set(r for r in reasons if r.startswith("truncated: ")) <= {"truncated: truncated", "truncated: bad_mac"}
    assert any(r.startswith("tampered: ") for r in reasons) and any(r.startswith("truncated: ") for r in reasons)
    # the genuine stream goes on: nothing above moved the window
    assert _verdict(rx, tx.protect(plain()).encode()) == "accepted"


def test_window_accepts_a_gap_and_refuses_older_frames() -> None:
    """§5.2.3: a counter 1..window ahead of the last accepted passes (frames lost between are fine);
    one not ahead is a replay, even one never seen (the window only moves forward)."""
    sa = SecurityAssociation(spi=9, scid=SCID, vcid=VC, key_id=1, arsn_len=2, arsn_window=10)
    tx, rx = SdlsSender(sa, KEY), on_board(sa)
    frames = [tx.protect(plain(n_s=k)) for k in range(15)]
    assert rx.process(received(frames[0])).sequence_number == 0
    assert rx.process(received(frames[9])).sequence_number == 9  # 9 ahead: within 10
    for old in (frames[3], frames[9]):
        with pytest.raises(SecurityError) as e:
            rx.process(received(old))
        assert e.value.reason is Refusal.REPLAY
    assert rx.state() == {9: 10}  # ARSN 10 (the sender counts from 1)
    again = SdlsReceiver([sa], lambda _k: KEY, state=rx.state())  # after a reboot: the same window
    with pytest.raises(SecurityError, match="replay"):
        again.process(received(frames[8]))
    assert again.process(received(frames[14])).sequence_number == 14


def test_bc_frames_are_protected_on_the_same_sa() -> None:
    """Unlock and Set V(R) frames carry no segment header: the SA's mask skips that octet for them."""
    from protocol.tcframe import SetVr, Unlock

    sa = SAS[0]
    tx, rx = SdlsSender(sa, KEY), on_board(sa)
    for command in (Unlock(), SetVr(42)):
        bc = TcFrame.control(SCID, VC, command)
        protected = tx.protect(bc)
        back = rx.process(TcFrame.decode(protected.encode(), segment_header=True))
        assert back == bc and back.control_command() == command
    assert len(sa.mask_for(False)) == sa.header_len - 1


def test_wrong_channel_and_missing_key_are_refused() -> None:
    sa = SAS[0]
    tx = SdlsSender(sa, KEY)
    other_vc = protect(replace(sa, vcid=1), KEY, replace(plain(), vcid=1), iv=bytes(11) + b"\x01")
    with pytest.raises(SecurityError) as e:
        on_board(sa).process(received(other_vc))
    assert e.value.reason is Refusal.WRONG_CHANNEL
    with pytest.raises(SecurityError) as e:
        SdlsReceiver([sa], lambda _k: None).process(received(tx.protect(plain())))
    assert e.value.reason is Refusal.NO_KEY


def test_sa_and_key_checks_and_no_key_in_reprs() -> None:
    for bad in (dict(spi=0), dict(spi=0xFFFF), dict(iv_len=16), dict(mac_len=3), dict(arsn_len=9),
                dict(abm=b"\xff")):
        with pytest.raises(LocalProtocolError):
            SecurityAssociation(**{"spi": 1, "scid": SCID, "vcid": VC, "key_id": 1, **bad})  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="key length"):
        SdlsSender(SAS[0], b"short")
    sender = SdlsSender(SAS[0], KEY)
    assert KEY.hex() not in repr(sender) and str(KEY) not in repr(sender)
    with pytest.raises(LocalProtocolError, match="protected frame length"):
        sender.protect(plain(bytes(1015)))


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=120), st.integers(0, 255))
def test_fuzzed_frames_raise_only_security_errors(data: bytes, n_s: int) -> None:
    rx = SdlsReceiver(SAS, lambda _k: KEY)
    frame = TcFrame(scid=SCID, vcid=VC, data=data, frame_type=FrameType.AD, sequence_number=n_s,
                    segment=SegmentHeader(0))
    with pytest.raises(SecurityError):
        rx.process(frame)
