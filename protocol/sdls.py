"""SDLS, the Space Data Link Security protocol (CCSDS 355.0-B-2), on TC frames: AES-256-GCM.

Sans-IO like the rest of :mod:`protocol`: keys come in as bytes from whoever
loaded them (a key file on the ground, a key store on board); nothing here
reads a file, and no key ever appears in an error, a repr or a log.

Where the fields go in a TC frame (355.0-B-2 §4.1, §4.2.2):

    primary header (5) | segment header (1, when the VC has one) |
    security header: SPI (2) | IV (iv_len) | sequence number ARSN (arsn_len) |
    frame data field (plaintext, or ciphertext with authenticated encryption) |
    security trailer: MAC (mac_len) | FECF (2)

* :class:`SecurityAssociation` -- one SA's managed parameters (§5): SPI, the
  channel it protects (SCID, VCID), the key ID, the service (authenticated
  encryption, or authentication only), IV, ARSN and MAC lengths, the
  anti-replay window, and the authentication bit mask (ABM) over the primary
  header, segment header and security header. :meth:`SecurityAssociation.default`
  authenticates every bit of them (SCID, VCID, bypass and control flags, frame
  sequence number, length, MAP ID, SPI, IV, ARSN), unlike an all-zero mask.
* :func:`protect` -- ApplySecurity: a plain :class:`protocol.tcframe.TcFrame`
  in, the protected frame out (its data field now security header, data and
  MAC; the frame length grows accordingly and is authenticated as it will be
  sent).
* :class:`SdlsReceiver` -- ProcessSecurity on board: each frame's SPI picks its
  SA, the anti-replay check runs, the MAC is verified (and the data decrypted);
  a frame that fails is refused with a :class:`SecurityError` naming the
  reason (``unknown_spi``, ``wrong_channel``, ``truncated``, ``replay``,
  ``outside_window``, ``bad_mac``), counted, and its sequence number never
  advances the window. Only what passes goes on to FARM-1.

AES-GCM: the IV is the GCM nonce (12 octets); the additional authenticated
data is the ABM-masked headers (and, for authentication only, the frame data
after them: GMAC over everything the frame carries before the MAC). The MAC
is the GCM tag, truncated to ``mac_len`` octets when shorter than 16.

Checked against NASA CryptoLib's TC frames (tests/protocol/test_sdls.py): for the same SA settings, key and
IV our frames are theirs byte for byte. CryptoLib's default SAs have an all-zero ABM, so their AAD is zeros
of the headers' length; ours covers the headers unless an SA says otherwise. A MAC length of 0 (with
encryption) is the encryption-only service, which authenticates nothing.

Anti-replay (§4.2.2.3, §5.2.3): with ``arsn_len`` > 0 the ARSN is the counter;
with ``arsn_len`` 0 the IV itself, read as a big-endian integer, is (GCM must
never see a nonce twice under one key, so the IV counts up anyway). A frame
is accepted when its counter is ahead of the last accepted one by 1..window.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import LocalProtocolError, RemoteProtocolError, check_range
from .tcframe import MAX_FRAME_LEN, PRIMARY_HEADER_LEN, FrameType, TcFrame

__all__ = ["SecurityAssociation", "SecurityError", "Refusal", "SdlsReceiver", "SdlsSender", "protect",
           "parse_key_store", "KEY_LEN", "SPI_RESERVED"]

LAYER = "SDLS"
KEY_LEN = 32  # AES-256
SPI_LEN = 2
GCM_TAG_LEN = 16
SPI_RESERVED = (0x0000, 0xFFFF)  # 355.0-B-2 §4.1.1.2.2: not assignable to an SA


class Refusal(enum.Enum):
    """Why ProcessSecurity refused a frame."""

    UNKNOWN_SPI = "unknown_spi"
    WRONG_CHANNEL = "wrong_channel"
    TRUNCATED = "truncated"
    REPLAY = "replay"
    OUTSIDE_WINDOW = "outside_window"
    BAD_MAC = "bad_mac"
    NO_KEY = "no_key"


class SecurityError(RemoteProtocolError):
    """A frame SDLS refused: ``reason`` (a :class:`Refusal`), the SPI when known; never key material."""

    def __init__(self, reason: Refusal, field: str, value: object, allowed: str, *, spi: int | None = None,
                 offset: int = 0) -> None:
        super().__init__(LAYER, field, value, allowed, offset=offset, detail=f"refused: {reason.value}")
        self.reason = reason
        self.spi = spi


@dataclass(frozen=True, slots=True)
class SecurityAssociation:
    """The managed parameters of one SA (355.0-B-2 §5.2)."""

    spi: int
    scid: int
    vcid: int
    key_id: int
    encrypt: bool = True  # authenticated encryption (encryption only with mac_len 0); False: authentication only
    iv_len: int = 12
    arsn_len: int = 0  # 0: the IV is the anti-replay counter
    arsn_window: int = 64
    mac_len: int = 16
    segment_header: bool = True
    abm: bytes = field(default=b"", repr=False)  # mask over primary + segment + security header; b"": all ones

    def __post_init__(self) -> None:
        check_range(LAYER, "SPI", self.spi, 1, 0xFFFE)
        check_range(LAYER, "spacecraft ID", self.scid, 0, 0x3FF)
        check_range(LAYER, "virtual channel ID", self.vcid, 0, 63)
        check_range(LAYER, "key ID", self.key_id, 0, 0xFFFF)
        if self.iv_len != 12:
            raise LocalProtocolError(LAYER, "IV length", self.iv_len, "12 octets (the AES-GCM nonce)")
        check_range(LAYER, "ARSN length", self.arsn_len, 0, 8)
        check_range(LAYER, "anti-replay window", self.arsn_window, 1, 1 << 20)
        if self.mac_len != 0 or not self.encrypt:  # 0: encryption only, which 355.0 allows (nothing authenticated)
            check_range(LAYER, "MAC length", self.mac_len, 4, GCM_TAG_LEN)
        want = self.header_len
        if self.abm and len(self.abm) != want:
            raise LocalProtocolError(LAYER, "authentication bit mask length", len(self.abm),
                                     f"{want} octets (primary, segment and security headers)")

    @classmethod
    def default(cls, spi: int, scid: int, vcid: int, key_id: int, **options: object) -> SecurityAssociation:
        """An SA that authenticates and encrypts, with a 16-octet MAC over every header bit."""
        return cls(spi=spi, scid=scid, vcid=vcid, key_id=key_id, **options)  # type: ignore[arg-type]

    @property
    def security_header_len(self) -> int:
        """SPI, IV and ARSN octets."""
        return SPI_LEN + self.iv_len + self.arsn_len

    @property
    def header_len(self) -> int:
        """The octets the ABM covers: primary header, segment header, security header."""
        return PRIMARY_HEADER_LEN + int(self.segment_header) + self.security_header_len

    @property
    def overhead(self) -> int:
        """Octets SDLS adds to a frame."""
        return self.security_header_len + self.mac_len

    @property
    def mask(self) -> bytes:
        """The authentication bit mask in effect (all ones unless the SA gives one)."""
        return self.abm or b"\xff" * self.header_len

    def mask_for(self, segment_header: bool) -> bytes:
        """The mask for a frame with or without a segment header: BC frames never carry one (232.0-B-4
        §4.1.3.1), so on an SA of a VC with segment headers their mask skips that octet."""
        if segment_header == self.segment_header:
            return self.mask
        if self.segment_header:  # a BC frame on a VC whose AD/BD frames have a segment header
            return self.mask[:PRIMARY_HEADER_LEN] + self.mask[PRIMARY_HEADER_LEN + 1:]
        return self.mask[:PRIMARY_HEADER_LEN] + b"\xff" + self.mask[PRIMARY_HEADER_LEN:]

    @property
    def counter_len(self) -> int:
        """Octets of the anti-replay counter (the ARSN, or the IV when there is no ARSN)."""
        return self.arsn_len or self.iv_len


def _check_key(key: bytes) -> None:
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_LEN:
        raise LocalProtocolError(LAYER, "key length", len(key) if isinstance(key, (bytes, bytearray)) else "?",
                                 f"{KEY_LEN} octets (AES-256)")


def _masked(header: bytes, mask: bytes) -> bytes:
    return bytes(a & b for a, b in zip(header, mask))


def _seal(key: bytes, iv: bytes, plaintext: bytes, aad: bytes, mac_len: int) -> tuple[bytes, bytes]:
    enc = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
    enc.authenticate_additional_data(aad)
    ct = enc.update(plaintext) + enc.finalize()
    return ct, enc.tag[:mac_len]


def _open(key: bytes, iv: bytes, ciphertext: bytes, aad: bytes, mac: bytes) -> bytes:
    if not mac:  # encryption only: GCM's counter mode undoes itself, there is no tag to check
        return _seal(key, iv, ciphertext, aad, 0)[0]
    dec = Cipher(algorithms.AES(key), modes.GCM(iv, mac, min_tag_length=len(mac))).decryptor()
    dec.authenticate_additional_data(aad)
    return dec.update(ciphertext) + dec.finalize()


def protect(sa: SecurityAssociation, key: bytes, frame: TcFrame, *, iv: bytes, arsn: int = 0,
            fecf: bool = True) -> TcFrame:
    """ApplySecurity (355.0-B-2 §4.2.2.2): ``frame`` with the security header and trailer in its data field."""
    _check_key(key)
    if (frame.scid, frame.vcid) != (sa.scid, sa.vcid):
        raise LocalProtocolError(LAYER, "frame SCID/VCID", (frame.scid, frame.vcid), f"({sa.scid}, {sa.vcid}) "
                                 f"(the channel of SPI {sa.spi})")
    segmented = frame.segment is not None
    if segmented != sa.segment_header and frame.frame_type is not FrameType.BC:
        raise LocalProtocolError(LAYER, "segment header", segmented, f"{sa.segment_header} (SA)")
    if len(iv) != sa.iv_len:
        raise LocalProtocolError(LAYER, "IV length", len(iv), f"{sa.iv_len} octets")
    if sa.arsn_len:
        check_range(LAYER, "ARSN", arsn, 0, (1 << (8 * sa.arsn_len)) - 1)
    sec = sa.spi.to_bytes(SPI_LEN, "big") + bytes(iv) + (arsn.to_bytes(sa.arsn_len, "big") if sa.arsn_len else b"")
    total = frame.encoded_len(fecf=fecf) + sa.overhead
    if total > MAX_FRAME_LEN:
        raise LocalProtocolError(LAYER, "protected frame length", total,
                                 f"at most {MAX_FRAME_LEN} octets ({sa.overhead} of them SDLS)")
    placeholder = replace(frame, data=sec + frame.data + bytes(sa.mac_len))
    header = placeholder.encode(fecf=fecf)[:PRIMARY_HEADER_LEN + int(segmented)] + sec
    aad = _masked(header, sa.mask_for(segmented))
    if sa.encrypt:
        body, mac = _seal(key, iv, frame.data, aad, sa.mac_len)
    else:
        body = frame.data
        _, mac = _seal(key, iv, b"", aad + frame.data, sa.mac_len)
    return replace(frame, data=sec + body + mac)


class SdlsSender:
    """The ground's side of one SA: protects frames with a fresh IV (and ARSN) each time.

    ``iv`` and ``arsn`` are the last ones used (persist them with the key file: GCM must never reuse an IV
    under one key); each :meth:`protect` counts both up by one first.
    """

    def __init__(self, sa: SecurityAssociation, key: bytes, *, iv: int = 0, arsn: int = 0, fecf: bool = True) -> None:
        _check_key(key)
        self.sa, self._key, self.fecf = sa, bytes(key), fecf
        self.iv, self.arsn = iv, arsn

    def __repr__(self) -> str:
        return f"SdlsSender(spi={self.sa.spi}, key_id={self.sa.key_id}, iv={self.iv}, arsn={self.arsn})"

    def protect(self, frame: TcFrame) -> TcFrame:
        """``frame`` protected under the next IV/ARSN."""
        self.iv = (self.iv + 1) % (1 << (8 * self.sa.iv_len))
        if self.sa.arsn_len:
            self.arsn = (self.arsn + 1) % (1 << (8 * self.sa.arsn_len))
        return protect(self.sa, self._key, frame, iv=self.iv.to_bytes(self.sa.iv_len, "big"), arsn=self.arsn,
                       fecf=self.fecf)


@dataclass
class _Window:
    last: int | None = None  # the last counter accepted (None: none yet)


@dataclass
class SdlsCounters:
    """Frames ProcessSecurity passed, and those it refused, by reason."""

    accepted: int = 0
    refused: dict[str, int] = field(default_factory=lambda: {r.value: 0 for r in Refusal})


class SdlsReceiver:
    """ProcessSecurity on board (355.0-B-2 §4.2.2.3) for a set of SAs; ``key_of(key_id)`` gives the key
    (None when the store has none: the frame is refused)."""

    def __init__(self, sas: list[SecurityAssociation], key_of: Callable[[int], bytes | None], *,
                 state: dict[int, int] | None = None, fecf: bool = True) -> None:
        self.fecf = fecf
        self.sas = {sa.spi: sa for sa in sas}
        if len(self.sas) != len(sas):
            raise LocalProtocolError(LAYER, "SPI", [sa.spi for sa in sas], "one SA per SPI")
        self._key_of = key_of
        self._windows = {spi: _Window((state or {}).get(spi)) for spi in self.sas}
        self.counters = SdlsCounters()

    def state(self) -> dict[int, int]:
        """SPI -> the last anti-replay counter accepted (to persist across reboots)."""
        return {spi: w.last for spi, w in self._windows.items() if w.last is not None}

    def process(self, frame: TcFrame) -> TcFrame:
        """The frame with its security header and trailer removed (and its data decrypted), or
        :class:`SecurityError`; only a frame that passes moves its SA's anti-replay window."""
        try:
            out, spi, counter = self._check(frame)
        except SecurityError as e:
            self.counters.refused[e.reason.value] += 1
            raise
        self._windows[spi].last = counter
        self.counters.accepted += 1
        return out

    def _check(self, frame: TcFrame) -> tuple[TcFrame, int, int]:
        data = frame.data
        base = PRIMARY_HEADER_LEN + int(frame.segment is not None)
        if len(data) < SPI_LEN:
            raise SecurityError(Refusal.TRUNCATED, "security header", len(data), "an SPI (2 octets) at least",
                                offset=base)
        spi = int.from_bytes(data[:SPI_LEN], "big")
        sa = self.sas.get(spi)
        if sa is None:
            raise SecurityError(Refusal.UNKNOWN_SPI, "SPI", spi, f"one of {sorted(self.sas)}", offset=base)
        segmented = frame.segment is not None
        if (frame.scid, frame.vcid) != (sa.scid, sa.vcid) or (
                segmented != sa.segment_header and frame.frame_type is not FrameType.BC):
            raise SecurityError(Refusal.WRONG_CHANNEL, "frame SCID/VCID", (frame.scid, frame.vcid),
                                f"({sa.scid}, {sa.vcid}), the channel of SPI {spi}", spi=spi, offset=0)
        n_sec = sa.security_header_len
        if len(data) < n_sec + sa.mac_len + 1:
            raise SecurityError(Refusal.TRUNCATED, "frame data field", len(data),
                                f"at least {n_sec + sa.mac_len + 1} octets (security header, data, MAC)", spi=spi,
                                offset=base)
        iv = data[SPI_LEN:SPI_LEN + sa.iv_len]
        counter_field = data[SPI_LEN + sa.iv_len:n_sec] if sa.arsn_len else iv
        counter = int.from_bytes(counter_field, "big")
        last = self._windows[spi].last
        if last is not None:
            ahead = (counter - last) % (1 << (8 * sa.counter_len))
            if ahead == 0 or ahead > (1 << (8 * sa.counter_len)) // 2:
                raise SecurityError(Refusal.REPLAY, "anti-replay sequence number", counter,
                                    f"above {last} (the last accepted)", spi=spi, offset=base + SPI_LEN)
            if ahead > sa.arsn_window:
                raise SecurityError(Refusal.OUTSIDE_WINDOW, "anti-replay sequence number", counter,
                                    f"{last + 1}..{last + sa.arsn_window} (window {sa.arsn_window})", spi=spi,
                                    offset=base + SPI_LEN)
        key = self._key_of(sa.key_id)
        if key is None:
            raise SecurityError(Refusal.NO_KEY, "key ID", sa.key_id, "a key the store holds", spi=spi)
        header = frame.encode(fecf=self.fecf)[:base] + data[:n_sec]  # the primary header as received
        aad = _masked(header, sa.mask_for(segmented))
        body, mac = data[n_sec:len(data) - sa.mac_len], data[len(data) - sa.mac_len:]
        try:
            if sa.encrypt:
                plain = _open(key, iv, body, aad, mac)
            else:
                _open(key, iv, b"", aad + body, mac)
                plain = body
        except InvalidTag:
            raise SecurityError(Refusal.BAD_MAC, "MAC", mac.hex(), "the MAC of this frame under the SA's key",
                                spi=spi, offset=base + len(data) - sa.mac_len) from None
        return replace(frame, data=plain), spi, counter


def parse_key_store(data: object) -> tuple[list[SecurityAssociation], dict[int, bytes]]:
    """The SAs and active keys of a key store document (the JSON of ``ttc keys``' key file; the edges read
    the file and check who may read it, this only parses). Raises :class:`LocalProtocolError` naming the
    entry at fault, never a key's value."""
    if not isinstance(data, dict):
        raise LocalProtocolError(LAYER, "key store", type(data).__name__, "a JSON object")
    try:
        scid, vcid = int(data["scid"]), int(data["vcid"])
        keys: dict[int, bytes] = {}
        for key_id, entry in data["keys"].items():
            if entry.get("state") != "active":
                continue
            key = bytes.fromhex(entry["key"])
            if len(key) != KEY_LEN:
                raise LocalProtocolError(LAYER, f"key {key_id} length", len(key), f"{KEY_LEN} octets")
            keys[int(key_id)] = key
        sas = [SecurityAssociation(spi=int(v["spi"]), scid=scid, vcid=vcid, key_id=int(v["key_id"]),
                                   encrypt=bool(v["encrypt"]), iv_len=int(v["iv_len"]), arsn_len=int(v["arsn_len"]),
                                   arsn_window=int(v["arsn_window"]), mac_len=int(v["mac_len"]))
               for v in data["sas"].values() if v.get("state", "operational") != "expired"]
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise LocalProtocolError(LAYER, "key store entry", type(e).__name__, "the ttc-sdls-keys/1 layout",
                                 detail=str(e) if isinstance(e, KeyError) else "") from None
    return sas, keys
