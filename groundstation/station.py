"""The ground station daemon: owns the link, the archive, limit checking, verification and the local API.

    python -m groundstation.station --down URL --up URL --archive PATH --api URL --events URL [--record PATH]

One loop, one thread: downlink receive -> TM decode chain
(:class:`protocol.stack.DownlinkDecoder` with the mission dictionary's
downlink settings) -> PUS decode with the mission dictionary -> archive (SQLite WAL) -> limit checks, verification matching ->
commit -> publish on the live stream (an XPUB socket: the station reads the
subscriptions and builds a per-parameter message only when some subscriber's
prefix matches its topic). Then API requests (ROUTER): queries
are answered from the archive; a command is validated against the
dictionary, recorded, committed and handed to COP-1 (:mod:`groundstation.uplink`:
PUS-C TC -> AD or BD TC frames through FOP-1 -> SDLS when keyed -> CLTUs). Every receive has a timeout,
every queue a bound; every input the station refuses is counted (see
``counters`` in the API) and logged to stderr, and none stops the loop.

Prints ``READY {json}`` with the bound endpoints once it is ready; exits 0 on
SIGTERM/SIGINT after committing and closing its sockets with linger 0.
COP-1 (FOP-1, AD frames) is not here yet: commands go as BD frames.
"""

from __future__ import annotations

import json
import math
import logging
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from itertools import repeat
from types import FrameType as PyFrame
from typing import Any

import click
import numpy as np
import zmq

from protocol import __version__
from protocol.errors import LocalProtocolError, ProtocolError
from protocol.links import Carries, FrameReceiver, FrameSender, ReceivedFrame, open_receiver, open_sender
from protocol.links.recording import RecordingWriter
from protocol.links.zmqlink import zmq_address
from protocol.clcw import Clcw
from protocol.dictionary import DecodedTm, MissionDictionary, ParameterSample, Severity, UnknownName
from protocol.mission import MISSION, AlarmLevel
from protocol.pus import (
    AcceptanceFailure,
    AcceptanceSuccess,
    AckFlags,
    CompletionFailure,
    CompletionSuccess,
    InsertActivities,
    ProgressFailure,
    ProgressSuccess,
    PusTc,
    ScheduledActivity,
    StartFailure,
    StartSuccess,
    StoreAck,
    StoreAcknowledge,
    StoreRange,
    StoreRetransmit,
    StoreStatusReport,
    StoreUnavailableReport,
    decode_body,
)
from protocol.spacepacket import decode_header
from protocol.stack import (
    CodeblockUncorrectable,
    DownlinkConfig,
    DownlinkDecoder,
    PacketGap,
    UplinkConfig,
)
from protocol.links.missions import MissionLoadError, load_mission
from protocol.timecode import CucTime, utc_iso_columns
from protocol.tmcolumns import PacketTable, TelemetryColumns
from protocol.vchannel import DecodeError, FrameGap, OcfReceived, VcPacket

from .alerts import DETECTION_PACKET, detection_alert
from .api import STAGES, ApiError, Request, parse_request, reply_error, reply_ok
from .archive import Archive, iso_ns
from .limits import AlarmTracker
from .mission import selected
from .linkstatus import LinkStatus
from .playback import Gap, StoreTracker
from .uplink import DIRECTIVES, CommandUplink, Note

__all__ = ["Station", "StationCounters", "zmq_endpoint", "DEFAULT_API", "DEFAULT_EVENTS",
           "downlink_config", "uplink_config"]

log = logging.getLogger("groundstation.station")

DEFAULT_API = "tcp://127.0.0.1:5570"
DEFAULT_EVENTS = "tcp://127.0.0.1:5571"
POLL_MS = 100
MAX_FRAMES_PER_BATCH = 256  # CADUs decoded per commit: bounds the time API requests wait ...
MAX_BATCH_S = 0.2  # ... and so does this when packets are many and small (shorter costs throughput: more commits)
MAX_REQUESTS_PER_TURN = 64
#: From this downlink rate on (frames/s; 4.6 Mbit/s of 1115-octet CADUs) a turn waits until COALESCE_S after the
#: previous one, so frames arriving one by one are decoded, archived and committed together: at 10 Mbit/s
#: about 11 per turn instead of 2. Frames wait up to that long more; API requests do not wait.
COALESCE_FRAMES_PER_S = 500.0
COALESCE_S = 0.01
API_HWM = 1000
PUB_HWM = 10_000
COUNTERS_INTERVAL_S = 1.0
#: Verdicts the station gives itself when the spacecraft's reports do not come (see _check_verdicts).
LOST_AFTER_S = 30.0  # sent this long ago, no acceptance report, and the ground has caught up: lost
COMPLETION_TIMEOUT_S = 120.0  # accepted this long ago, no completion, and the ground has caught up: timed out
VERDICT_CHECK_S = 1.0
IN_FLIGHT = ("queued", "sent", "accepted", "started", "progress", "scheduled", "unknown")
STORE_LINK_TIMEOUT_S = 10.0
DEFAULT_INTERVAL_S = 5.0  # a parameter's expected interval until two of its values have been received

DEFAULT_CADU_RETENTION_DAYS = 7
DEFAULT_CADU_RETENTION_MB = 4096
CADU_EXPIRY_PERIOD_S = 10.0  # acknowledgements and requests go up only while frames came down this recently
OBT_MEMO_SIZE = 1024  # distinct on-board time stamps whose conversions are kept (reports of one tick share one)

# compact JSON for the live stream: thousands of messages a second, each encoded once
#: Longest subscription message a live-stream client may send (a topic prefix: a few dozen octets); beyond it
#: libzmq drops the peer (a 20 MB subscription took the station to 2.2 GiB before this bound).
MAX_SUBSCRIPTION_OCTETS = 4096
_encode_json = json.JSONEncoder(default=str, separators=(",", ":")).encode

_STAGE_OF_BODY: dict[type, tuple[str, bool]] = {
    AcceptanceSuccess: ("accepted", True), AcceptanceFailure: ("accepted", False),
    StartSuccess: ("started", True), StartFailure: ("started", False),
    ProgressSuccess: ("progress", True), ProgressFailure: ("progress", False),
    CompletionSuccess: ("completed", True), CompletionFailure: ("completed", False),
}


def downlink_config(mission: MissionDictionary = MISSION) -> DownlinkConfig:
    """The mission's TM link, from its dictionary (the reference: TM frames with CLCW, RS I=4 dual, randomised)."""
    return mission.downlink


def uplink_config(mission: MissionDictionary = MISSION) -> UplinkConfig:
    """The mission's TC link, from its dictionary (the reference: VC 0, MAP 0, FECF, randomised CLTUs)."""
    return mission.uplink


def zmq_endpoint(url: str) -> str:
    """The libzmq endpoint of an API URL: tcp:// and ipc:// as they are, zmq://H:P and zmq+ipc:// translated."""
    try:
        return zmq_address(url)
    except LocalProtocolError as e:
        raise click.BadParameter(f"{url!r}: allowed tcp://HOST:PORT, ipc:///path, zmq://HOST:PORT") from e


def _freshness_of(age_s: float, interval_s: float, stale_factor: float, expire_factor: float) -> str:
    """FRESH, STALE (older than stale_factor x its interval) or EXPIRED (than expire_factor x)."""
    if age_s > expire_factor * interval_s:
        return "EXPIRED"
    return "STALE" if age_s > stale_factor * interval_s else "FRESH"


@dataclass
class StationCounters:
    """What the station did and refused, beyond the link decoder's own counters."""

    api_requests: int = 0
    api_errors: int = 0
    api_errors_by_code: dict[str, int] = field(default_factory=dict)
    commands_sent: int = 0
    commands_refused: int = 0
    cltus_sent: int = 0
    tm_packets: int = 0
    tm_undecodable: int = 0
    tm_unknown: int = 0
    parameters: int = 0
    onboard_events: int = 0
    idle_cadus_not_archived: int = 0  # idle CADUs decoded but not kept in the archive (--archive-idle keeps them)
    detections: int = 0  # DETECTION reports of the onboard image analysis (alerts raised)
    link_events: int = 0
    verification_reports: int = 0
    verification_unmatched: int = 0
    alarms_raised: int = 0
    alarms_cleared: int = 0
    alarms_withdrawn: int = 0  # standing alarms taken back because they came from a dictionary the spacecraft does not fly
    internal_errors: int = 0
    recorded_cadus: int = 0
    radio_frames: int = 0  # frames a radio (gr+zmq ?carries=frames) delivered already decoded
    radio_rs_corrected: int = 0  # RS symbols that radio says it corrected in them (PDU metadata rs_errors)
    dictionary_mismatches: int = 0  # packets carrying another dictionary's fingerprint (not decoded further)
    playback_packets: int = 0  # packets archived from the replay VC, or late after the gap they had left
    duplicate_packets: int = 0  # packets that came again though archived already (not archived twice)
    clcws: int = 0  # CLCWs of our uplink VC heard in the OCF of downlink frames
    clcws_other: int = 0  # OCF words that were no CLCW of our uplink VC (another VC's, a type-2 report, invalid)
    store_acks_sent: int = 0  # TC[15,128] acknowledgements sent
    store_requests_sent: int = 0  # TC[15,129] retransmission requests sent
    cadus_expired: int = 0  # raw CADUs deleted by the retention policy (--cadu-retention-days / -mb)
    store_cltus_sent: int = 0  # CLTUs of those two (cltus_sent counts the operators' commands)
    packets_lost: int = 0  # counts the on-board store no longer held when asked (TM[15,131])

    def refuse(self, code: str) -> None:
        """Count one refused API request."""
        self.api_errors += 1
        self.api_errors_by_code[code] = self.api_errors_by_code.get(code, 0) + 1


class _Table:
    """One declaration's packets of a run, decoded as columns, as plain Python values per row (what the archive
    and the live stream take): ``raws``, ``engs``, ``levels`` hold a tuple per packet, in the parameters'
    order; ``odd`` marks a packet with a value out of limits or invalid; ``fingerprint`` the spacecraft's
    dictionary fingerprint per packet when this declaration carries it."""

    __slots__ = ("engs", "fingerprint", "levels", "name", "names", "obt", "obt_tai", "odd", "raws", "time_ok",
                 "topics", "units", "apid", "seq", "service", "subtype")

    def __init__(self, t: PacketTable, fingerprint_parameter: str | None) -> None:
        cols = list(t.parameters.values())
        self.name = t.name
        self.names = tuple(col.name for col in cols)
        self.topics = tuple("parameter." + name for name in self.names)
        self.units = tuple(col.unit for col in cols)
        self.raws = list(zip(*(col.raw.tolist() for col in cols)))
        self.engs = list(zip(*(col.engineering.tolist() for col in cols)))
        levels = np.stack([col.level for col in cols], axis=1) if cols else np.zeros((len(t), 0), dtype=np.int8)
        self.levels = list(map(tuple, levels.tolist()))
        self.odd = np.any(levels != 0, axis=1).tolist()
        self.obt_tai = t.obt_tai_s.tolist()
        self.obt, time_ok = utc_iso_columns(t.obt_tai_s, t.obt_unix_us)
        self.time_ok = time_ok.tolist()
        self.apid, self.seq = t.apid.tolist(), t.sequence_count.tolist()
        self.service, self.subtype = t.service.tolist(), t.subtype.tolist()
        fp = t.parameters.get(fingerprint_parameter) if fingerprint_parameter else None
        self.fingerprint = None if fp is None else [int(v) for v in fp.raw.tolist()]


class _PacketValues:
    """A packet's parameter values waiting for the live stream: row ``row`` of ``table``."""

    __slots__ = ("row", "table")

    def __init__(self, table: _Table, row: int) -> None:
        self.table, self.row = table, row


class Station:
    """The station: link ends, decoder/encoder, archive, API sockets. One thread owns all of it."""

    def __init__(self, *, down_url: str, up_url: str, archive_path: str | Path, api_url: str = DEFAULT_API,
                 events_url: str = DEFAULT_EVENTS, record_path: str | Path | None = None,
                 synchronous: str = "NORMAL", mission: MissionDictionary = MISSION,
                 archive_idle: bool = False, keys_dir: str | Path | None = None, insecure: bool = False,
                 cadu_retention_s: float | None = DEFAULT_CADU_RETENTION_DAYS * 86400.0,
                 cadu_retention_octets: int | None = DEFAULT_CADU_RETENTION_MB << 20,
                 stale_factor: float = 3.0, expire_factor: float = 10.0,
                 sdls_keys: str | Path | None = None) -> None:
        self.mission = mission
        # idle CADUs carry nothing: at 1 Mbit/s they are 3-4 GB a day of archive; the recording keeps them
        self.archive_idle = archive_idle
        # raw CADUs are the bulk of the archive (packets and values are kept for good): the oldest go
        self.cadu_retention_s = cadu_retention_s or None
        self._cadu_keep_rows = cadu_retention_octets // mission.downlink.cadu_len if cadu_retention_octets else None
        self._next_expiry = 0.0
        self.archive = Archive(archive_path, synchronous=synchronous)
        self.decoder = DownlinkDecoder(mission.downlink)
        self.counters = StationCounters()
        self.alarms = AlarmTracker(self.archive.active_alarms())
        # store-and-forward: which counts of each APID the archive holds, what to acknowledge and ask again
        self.store = StoreTracker(self.archive.state("store.tracker"))
        self.store_apid = mission.apid_of_service(15)  # None: the spacecraft keeps no store we can talk to
        self.replay_vcid = mission.link.downlink.replay_vcid
        self._last_frame_mono: float | None = None
        self.link = LinkStatus()
        # parameter -> [ERT of its newest real-time value, spacing of its last two (None: one so far), freshness]
        self._fresh: dict[str, list[Any]] = {}
        self.stale_factor, self.expire_factor = stale_factor, expire_factor
        self._status_report_ns: int | None = None  # ground time of the last real-time TM[15,130]
        self._next_verdict_check = 0.0
        self._mark_unknown()
        self.started_ns = time.time_ns()
        # messages to publish after the next commit, in order: (topic, payload, None), or for a parameter value
        # (None, sample, context) -- built at publish time only when a subscription wants it (see _flush)
        self._pending: list[tuple[str | None, Any, Any]] = []
        self._subscriptions: set[bytes] = set()  # topic prefixes some subscriber holds (from the XPUB socket)
        self._wanted: dict[str, bool] = {}  # parameter topic -> matched by a subscription (cleared when they change)
        self._topics: dict[str, bytes] = {}  # topic -> its encoded form (a few hundred names, reused)
        self._obt_memo: dict[Any, tuple[float, str | None]] = {}
        #: (on-board TAI seconds, ERT ns) of the newest live packet: the spacecraft's clock as last seen, for
        #: checking time tags against on-board time (a simulated spacecraft's clock is not the station's)
        self._onboard_clock: tuple[float, int] | None = None
        self._turn_events: list[tuple[Any, int]] = []
        # the newest CLCW of our uplink VC, the OCF event it came in and its ERT
        self.last_clcw: tuple[Clcw, OcfReceived, int] | None = None
        self._last_turn_mono = time.monotonic()
        self._frames_per_s = 0.0  # the downlink's recent frame rate (see COALESCE_FRAMES_PER_S)  # the decoder's events of this turn, with their CADU's ERT
        self._tm_columns = TelemetryColumns(mission)
        # False: every packet by the per-packet path (the reference the tests compare the batch path with)
        self.batch_packets = True
        self._ert_iso: tuple[int, str] = (-1, "")
        # the spacecraft's dictionary, as its fingerprint parameter reports it: unverified until it is seen
        fp_name = mission.fingerprint_parameter
        self._fp_packets = {tm.name for tm in mission.packets.values() if any(p.name == fp_name for p in tm.parameters)}
        self.dictionary_state = "unverified"
        self.spacecraft_fingerprint: int | None = None
        # first packet decoded since the spacecraft last confirmed our dictionary (None: none since): what a
        # mismatch withdraws, for it was decoded before we knew better
        self._unconfirmed_from: int | None = None
        self._stop = False
        self._down_done = False
        ctx = zmq.Context.instance()
        self.receiver: FrameReceiver = open_receiver(down_url)
        self.sender: FrameSender = open_sender(up_url, carries=Carries.CLTUS)
        # COP-1: FOP-1 on the uplink VC; commands go AD once AD service is initiated (ttc cop1 initiate)
        # SDLS: every uplink frame protected with the key file's operational SA (355.0-B-2, AES-256-GCM)
        sdls = None
        if sdls_keys is not None:
            from .sdlskeys import KeyFile

            sdls = KeyFile.load(Path(sdls_keys)).sender()
        self.cop1 = CommandUplink(mission, self.sender, sdls=sdls)
        self.recorder = RecordingWriter(record_path) if record_path else None
        self.router = ctx.socket(zmq.ROUTER)
        # XPUB, not PUB: it hands us the subscriptions, so unsubscribed parameter messages are never built
        self.pub = ctx.socket(zmq.XPUB)
        for sock, hwm in ((self.router, API_HWM), (self.pub, PUB_HWM)):
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDHWM, hwm)
            sock.setsockopt(zmq.RCVHWM, hwm)
        # a peer sending an oversized message is disconnected by libzmq instead of filling our memory
        self.router.setsockopt(zmq.MAXMSGSIZE, 1 << 20)
        self.pub.setsockopt(zmq.MAXMSGSIZE, MAX_SUBSCRIPTION_OCTETS)  # subscriptions are messages to an XPUB
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 0)
        # CURVE: only clients in the key directory's authorized_clients/ may command or read (docs/threat-model.md)
        from .keys import ensure_keys, serve_curve

        self.station_key = None if insecure else serve_curve(
            (self.router, self.pub), ensure_keys(keys_dir), context=ctx).public.decode()
        self.router.bind(zmq_endpoint(api_url))
        self.pub.bind(zmq_endpoint(events_url))
        self.endpoints = {
            "down": down_url,
            "up": self.sender.url,
            "api": self.router.getsockopt_string(zmq.LAST_ENDPOINT),
            "events": self.pub.getsockopt_string(zmq.LAST_ENDPOINT),
            "archive": str(Path(archive_path).resolve()),
        }
        if record_path:
            self.endpoints["record"] = str(Path(record_path).resolve())
        if self.station_key is not None:  # the CURVE server key clients need (their station.key holds it)
            self.endpoints["station_key"] = self.station_key

    # ================================================================== loop
    def stop(self) -> None:
        """Ask the loop to finish its turn and return."""
        self._stop = True

    def run(self) -> None:
        """Serve until :meth:`stop` (or a signal) is called."""
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        down_handle = self.receiver.wait_handle()
        if down_handle is not None:
            poller.register(down_handle, zmq.POLLIN)
        api_only = zmq.Poller()
        api_only.register(self.router, zmq.POLLIN)
        next_counters = time.monotonic()
        while not self._stop:
            # a replayed recording has no socket to wait on: do not wait while it still has frames
            busy = down_handle is None and not self._down_done and not self.receiver.waiting
            poller.poll(0 if busy else POLL_MS)
            wait_s = self._last_turn_mono + COALESCE_S - time.monotonic()
            if self._frames_per_s >= COALESCE_FRAMES_PER_S and wait_s > 0:
                # a fast downlink: let a few milliseconds of frames gather into one turn (one commit, one
                # batch) instead of a turn per frame; an API request ends the wait at once
                api_only.poll(wait_s * 1e3)
            self._turn()
            now = time.monotonic()
            if now >= next_counters:
                self._publish("counters", self.counters_dict())
                self._publish_freshness()
                next_counters = now + COUNTERS_INTERVAL_S

    def _turn(self) -> None:
        self.cop1.tick(time.monotonic())
        self._cop1_notes()
        n = 0
        until = time.monotonic() + MAX_BATCH_S
        while n < MAX_FRAMES_PER_BATCH and not self._down_done and time.monotonic() < until:
            frame = self.receiver.recv(0)
            if frame is None:
                # a recording replayed in real time says "not due yet" (waiting) apart from its end
                if self.receiver.finished:
                    self._down_done = True
                    log.info("downlink recording replayed to its end (%d CADUs)", self.decoder.counters.cadus)
                break
            self._cadu(frame)
            n += 1
        self._handle_events()
        self._cop1_notes()
        self._flush()
        now = time.monotonic()
        if n:  # the downlink's frame rate, smoothed over a few turns
            per_s = n / max(now - self._last_turn_mono, 1e-4)
            self._frames_per_s += 0.25 * (per_s - self._frames_per_s)
        elif now - self._last_turn_mono > COALESCE_S:
            self._frames_per_s = 0.0
        self._last_turn_mono = now
        for _ in range(MAX_REQUESTS_PER_TURN):
            try:
                parts = self.router.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            self._request(parts)
        self._store_commands()
        if time.monotonic() >= self._next_expiry:
            self._next_expiry = time.monotonic() + CADU_EXPIRY_PERIOD_S
            self._expire_cadus()
        if time.monotonic() >= self._next_verdict_check:
            self._next_verdict_check = time.monotonic() + VERDICT_CHECK_S
            self._check_verdicts()

    def _flush(self) -> None:
        """Commit, then publish what the commit made durable (never the other way round).

        A parameter value's message is built and sent only when a subscription the station has read (just
        before publishing) matches its topic; libzmq's own filter sees no subscription we have not read (it
        queues each one for us as it applies it), so a subscriber gets every message published after the
        station read its subscription, as with a plain PUB socket.
        """
        if self.store.dirty:  # in the same transaction as the packets it describes
            self.archive.set_state("store.tracker", self.store.to_json())
        self.archive.commit()
        if not self._pending:
            return
        self._read_subscriptions()
        send = self._send_pub
        values = bool(self._subscriptions)  # nobody subscribed: no parameter value is looked at
        for topic, payload, ctx in self._pending:
            if topic is not None:
                send(topic, payload)
            elif not values:
                continue
            elif payload.__class__ is _PacketValues:
                tab, row = payload.table, payload.row
                raws, engs, levels = tab.raws[row], tab.engs[row], tab.levels[row]
                for j, topic in enumerate(tab.topics):
                    if self._wants(topic):
                        self._send_value(topic, tab.names[j], raws[j], engs[j], tab.units[j], levels[j], ctx)
            else:
                topic = "parameter." + payload.name
                if self._wants(topic):
                    self._send_value(topic, payload.name, payload.raw, payload.engineering, payload.unit,
                                     payload.level, ctx)
        self._pending.clear()

    def _wants(self, topic: str) -> bool:
        """A subscription matches this parameter topic (remembered for up to 4096 topics)."""
        wanted = self._wanted
        want = wanted.get(topic)
        if want is None:
            want = self._subscribed(topic)
            if len(wanted) < 4096:
                wanted[topic] = want
        return want

    def _send_value(self, topic: str, name: str, raw: Any, eng: Any, unit: str, level: int, ctx: Any) -> None:
        obt, obt_tai, ert_iso, ert, packet_id = ctx
        if level == AlarmLevel.INVALID:  # strict JSON: no NaN on the stream; level says INVALID
            raw = raw if not isinstance(raw, float) or math.isfinite(raw) else None
            eng = eng if not isinstance(eng, float) or math.isfinite(eng) else None
        self._send_pub(topic, {"name": name, "raw": raw, "eng": eng, "unit": unit, "level": int(level), "obt": obt,
                               "obt_tai_s": obt_tai, "ert": ert_iso, "ert_ns": ert, "packet_id": packet_id})

    def _read_subscriptions(self) -> None:
        """Take the (un)subscriptions the XPUB socket queued (libzmq passes a prefix's first and last only)."""
        while True:
            try:
                msg = self.pub.recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            if msg[:1] == b"\x01":
                self._subscriptions.add(msg[1:])
            elif msg[:1] == b"\x00":
                self._subscriptions.discard(msg[1:])
            else:
                continue
            self._wanted.clear()

    def _subscribed(self, topic: str) -> bool:
        """Whether a subscription the station has read matches ``topic`` (prefix match, as ZeroMQ's)."""
        t = topic.encode()
        return any(t.startswith(p) for p in self._subscriptions)

    def _publish(self, topic: str, payload: dict[str, Any]) -> None:
        self._send_pub(topic, payload)

    def _send_pub(self, topic: str, payload: dict[str, Any]) -> None:
        topic_b = self._topics.get(topic)
        if topic_b is None:
            topic_b = topic.encode()
            if len(self._topics) < 4096:
                self._topics[topic] = topic_b
        try:  # two sends = one two-part message (PUB delivers or drops it whole); cheaper than send_multipart
            self.pub.send(topic_b, zmq.NOBLOCK | zmq.SNDMORE)
            self.pub.send(_encode_json(payload).encode(), zmq.NOBLOCK)
        except zmq.Again:
            pass  # PUB drops for slow subscribers by design; subscribers recover from the archive

    def close(self) -> None:
        """Commit and release everything (sockets with linger 0)."""
        self._flush()
        self.archive.close()
        if self.recorder is not None:
            self.recorder.close()
        self.receiver.close()
        self.sender.close()
        self.router.close(linger=0)
        self.pub.close(linger=0)

    # ================================================================== downlink
    def _cadu(self, frame: ReceivedFrame) -> None:
        ert = frame.ert_ns
        self._last_frame_mono = time.monotonic()
        self.link.frame(self._last_frame_mono, ert)
        if self.recorder is not None:
            self.recorder.send(frame.data, ert_ns=ert)
            self.counters.recorded_cadus += 1
        idle_before = self.decoder.counters.idle_frames
        if frame.carries is Carries.FRAMES:  # a radio (gr-satellites' deframer) synchronised and decoded it
            self.counters.radio_frames += 1
            corrected = (frame.meta or {}).get("rs_errors")
            if isinstance(corrected, int) and corrected > 0:  # RS symbols the radio corrected in this frame
                self.counters.radio_rs_corrected += corrected
            self.decoder.feed_frames((frame.data,))
        else:
            self.decoder.feed(frame.data)
        if self.archive_idle or self.decoder.counters.idle_frames == idle_before:
            self.archive.add_cadu(frame.data, ert_ns=ert, carries=frame.carries.value, meta=frame.meta)
        else:
            self.counters.idle_cadus_not_archived += 1
        self._turn_events.extend(zip(self.decoder.events(), repeat(ert)))

    def _handle_events(self) -> None:
        """The turn's decoder events, in order: each run of packets as a batch (:meth:`_packet_run`), the
        others one by one."""
        events, self._turn_events = self._turn_events, []
        run: list[tuple[VcPacket, int]] = []
        for ev, ert in events:
            cls = ev.__class__
            if cls is VcPacket:
                run.append((ev, ert))  # type: ignore[arg-type]
                continue
            if cls is OcfReceived:  # one per frame: noted at once, without cutting the run of packets short
                self._ocf(ev, ert)  # type: ignore[arg-type]
                continue
            if run:
                self._packet_run(run)
                run = []
            self._decoder_event(ev, ert)
        if run:
            self._packet_run(run)

    def _ocf(self, ev: OcfReceived, ert: int) -> None:
        """A frame's OCF: the CLCW FARM-1 reports for our uplink VC (232.1-B-2 §4.2)."""
        clcw = ev.clcw
        if clcw is None or clcw.vcid != self.mission.uplink.vcid:
            self.counters.clcws_other += 1
            return
        self.counters.clcws += 1
        self.last_clcw = (clcw, ev, ert)
        self.cop1.clcw(clcw, time.monotonic())

    def clcw_status(self) -> dict[str, Any] | None:
        """The newest CLCW of our uplink VC as a dict (its fields, the frame it came in, its ERT), or None."""
        if self.last_clcw is None:
            return None
        clcw, ev, ert = self.last_clcw
        return clcw.as_dict() | {"word": f"0x{ev.word:08X}", "downlink_vcid": ev.vcid, "vc_frame_count": ev.vc_count,
                                 "ert": iso_ns(ert), "ert_ns": ert}

    def _decoder_event(self, ev: Any, ert: int) -> None:
        """One event of the decoder other than a packet: a link event where the operator should know."""
        try:
            if isinstance(ev, PacketGap):
                pass  # the store tracker finds gaps per APID, across restarts too (_packet)
            elif isinstance(ev, CodeblockUncorrectable):
                self._link_event(ert, "CODEBLOCK_UNCORRECTABLE", "MEDIUM",
                                 f"RS could not correct codeword(s) {list(ev.codewords)}; frame dropped",
                                 {"offset": ev.offset, "codewords": list(ev.codewords)})
            elif isinstance(ev, FrameGap):
                self._link_event(ert, "FRAME_GAP", "LOW",
                                 f"VC {ev.vcid}: {ev.missing} frame(s) missing", asdict(ev))
            elif isinstance(ev, DecodeError):
                self._link_event(ert, "FRAME_ERROR", "LOW", str(ev.error), {"vcid": ev.vcid})
        except Exception:  # one bad event must not stop the station: count it, log it, go on
            self.counters.internal_errors += 1
            log.exception("internal error while handling %s", type(ev).__name__)

    def _one_packet(self, ev: VcPacket, ert: int, playback: bool | None = None) -> None:
        """One packet by the per-packet path (``playback``: its continuity, when already found)."""
        try:
            self._packet(ev, ert, playback)
        except Exception:  # one bad packet must not stop the station: count it, log it, go on
            self.counters.internal_errors += 1
            log.exception("internal error while handling a packet")

    def _packet_run(self, run: list[tuple[VcPacket, int]]) -> None:
        """Packets that came one after the other: the housekeeping of fixed layout decoded as columns
        (:class:`protocol.tmcolumns.TelemetryColumns`), archived and checked per batch (:meth:`_write_batch`);
        whatever needs more (playback, events, reports, the fingerprint changing, a layout the columns do not
        decode) by the per-packet path, in the order they came."""
        plan = None
        if self.batch_packets and len(run) >= 2 and self.dictionary_state != "mismatch":
            try:
                plan = self._columns_of(run)
            except Exception:  # a fault of ours in the column path: the per-packet path does it all
                self.counters.internal_errors += 1
                log.exception("internal error in the column decode; the per-packet path takes the batch")
        if plan is None:
            for ev, ert in run:
                self._one_packet(ev, ert)
            return
        batch: list[int] = []
        pending = self._pending
        for i, (ev, ert) in enumerate(run):
            mark = len(pending)
            try:
                playback = self._continuity(ev, ert)
            except Exception:  # as _one_packet counts it: the packet was seen, its handling failed
                self.counters.tm_packets += 1
                self.counters.internal_errors += 1
                log.exception("internal error while handling a packet")
                continue
            if len(pending) > mark and batch:  # a gap event: after the packets before this one, as they came
                said = pending[mark:]
                del pending[mark:]
                self._write_batch(run, batch, plan)
                batch = []
                pending.extend(said)
            if playback is None:  # archived already
                self.counters.tm_packets += 1
                continue
            if playback or not self._batchable(plan, i):
                if batch:
                    self._write_batch(run, batch, plan)
                    batch = []
                self._one_packet(ev, ert, playback)
                continue
            batch.append(i)
        if batch:
            self._write_batch(run, batch, plan)

    def _link_event(self, ert: int, name: str, severity: str, text: str, data: dict[str, Any]) -> None:
        self.counters.link_events += 1
        log.warning("link: %s", text)
        row_id = self.archive.add_event(ert_ns=ert, kind="link", name=name, severity=severity, text=text, data=data)
        self._pending.append((f"event.{name}", {"id": row_id, "kind": "link", "name": name, "severity": severity,
                                                "text": text, "ert": iso_ns(ert), "ert_ns": ert, "data": data}, None))

    def _iso_ert(self, ert: int) -> str:
        """iso_ns(ert), once per CADU (every packet of a CADU shares its earth-receive time)."""
        if self._ert_iso[0] != ert:
            self._ert_iso = (ert, iso_ns(ert))
        return self._ert_iso[1]

    def _saw_onboard_time(self, obt_tai: float, ert: int) -> None:
        """Remember the newest on-board time seen in live telemetry."""
        known = self._onboard_clock
        if known is None or obt_tai >= known[0]:
            self._onboard_clock = (obt_tai, ert)

    def _onboard_now_tai_s(self, now_ns: int) -> float | None:
        """On-board time now as last seen, run on at real rate since (None before any telemetry)."""
        known = self._onboard_clock
        return None if known is None else known[0] + max(0, now_ns - known[1]) / 1e9

    def _obt(self, time_code: Any) -> tuple[float, str | None]:
        """(TAI seconds, UTC ISO text or None before 1972) of a TM time stamp, converted once per distinct stamp."""
        hit = self._obt_memo.get(time_code)
        if hit is not None:
            return hit
        tai_s = float(time_code.tai_s)
        try:
            obt: str | None = time_code.utc_iso()
        except ProtocolError:
            obt = None  # an on-board clock before 1972 has no UTC; the TAI seconds are still archived
        if len(self._obt_memo) >= OBT_MEMO_SIZE:
            self._obt_memo.clear()
        self._obt_memo[time_code] = (tai_s, obt)
        return tai_s, obt

    def _continuity(self, ev: VcPacket, ert: int) -> bool | None:
        """Where a packet stands in its APID's counts: False real time, True playback (a retransmission, or a
        late packet filling its gap), None a packet archived already (not archived again)."""
        data = ev.data
        apid = int.from_bytes(data[0:2], "big") & 0x7FF
        seq = int.from_bytes(data[2:4], "big") & 0x3FFF
        if ev.vcid == self.replay_vcid:
            self.store.replay(apid, seq)
            playback = True
        else:
            kind, gap = self.store.realtime(apid, seq)
            if gap is not None:
                self._gap_event(ert, apid, ev.vcid, gap, received=seq)
            playback = kind in ("late", "filled")
        if playback and self.archive.has_packet(apid, seq, data):
            self.counters.duplicate_packets += 1
            return None
        if playback:
            self.counters.playback_packets += 1
        return playback

    def _gap_event(self, ert: int, apid: int, vcid: int | None, gap: Gap, *, received: int | None) -> None:
        last = (gap.first + gap.count - 1) % 0x4000
        where = f"VC {vcid} " if vcid is not None else ""
        how = f"received {received}" if received is not None else "the spacecraft's store status says so"
        ask = ", asked for again" if self.replay_vcid is not None and self.store_apid is not None else ""
        self._link_event(ert, "PACKET_GAP", "MEDIUM",
                         f"{where}APID 0x{apid:03X}: {gap.count} packet(s) missing, counts {gap.first}..{last} "
                         f"({how}){ask}",
                         {"vcid": vcid, "apid": apid, "first": gap.first, "missing": gap.count,
                          "expected": gap.first, "received": received})

    def _columns_of(self, run: list[tuple[VcPacket, int]]) -> list[tuple[_Table, int] | None]:
        """Per packet of the run, its table and row when it decodes as columns and needs nothing the columns
        do not give (events, detections, verification and store reports go by the per-packet path)."""
        datas = [ev.data for ev, _ in run]
        lengths = np.fromiter(map(len, datas), dtype=np.int64, count=len(datas))
        cols = self._tm_columns.decode(np.frombuffer(b"".join(datas), dtype=np.uint8), np.cumsum(lengths) - lengths,
                                       lengths)
        where: list[tuple[_Table, int] | None] = [None] * len(run)
        fp_name = self.mission.fingerprint_parameter
        for t in cols.tables.values():
            if t.name in ("EVENT", DETECTION_PACKET) or int(t.service[0]) in (1, 15):
                continue
            tab = _Table(t, fp_name if t.name in self._fp_packets else None)
            for row, i in enumerate(t.index.tolist()):
                where[i] = (tab, row)
        return where

    def _batchable(self, plan: list[tuple[_Table, int] | None], i: int) -> bool:
        """Whether packet ``i`` of the run goes with the batch: decoded as columns, its on-board time written
        as the per-packet path writes it, and no change of the spacecraft's dictionary fingerprint in it."""
        w = plan[i]
        if w is None or self.dictionary_state == "mismatch":
            return False
        tab, row = w
        return tab.time_ok[row] and (tab.fingerprint is None or tab.fingerprint[row] == self.spacecraft_fingerprint)

    def _write_batch(self, run: list[tuple[VcPacket, int]], batch: list[int],
                     plan: list[tuple[_Table, int] | None]) -> None:
        """Archive, check and queue for the live stream the real-time packets ``batch`` (places in the run), as
        :meth:`_packet` and :meth:`_parameters` do one by one: the same rows in the same order, the same alarms,
        the same freshness and live messages (a packet's values, then the alarms they change)."""
        try:
            self._write_rows(run, batch, plan)
        except Exception:  # one bad batch must not stop the station: count it, log it, go on
            self.counters.internal_errors += 1
            log.exception("internal error while archiving a batch of %d packets", len(batch))

    def _write_rows(self, run: list[tuple[VcPacket, int]], batch: list[int],
                    plan: list[tuple[_Table, int] | None]) -> None:
        c = self.counters
        c.tm_packets += len(batch)
        rows = []
        for i in batch:
            ev, ert = run[i]
            tab, row = plan[i]  # type: ignore[misc]
            rows.append((ert, ev.vcid, tab.apid[row], tab.seq[row], tab.service[row], tab.subtype[row],
                         tab.obt_tai[row], tab.obt[row], tab.name, ev.data, 0))
        first_id = self.archive.add_packets(rows)
        ours, fp_packets = self.mission.fingerprint, self._fp_packets
        pending, active = self._pending, self.alarms.levels
        values: list[tuple[Any, ...]] = []
        seen: dict[int, tuple[_Table, list[int]]] = {}  # table -> the ERTs of its packets (for freshness)
        for k, i in enumerate(batch):
            packet_id = first_id + k
            ert = run[i][1]
            tab, row = plan[i]  # type: ignore[misc]
            if tab.fingerprint is not None and tab.fingerprint[row] == ours:  # it confirms our dictionary
                self._unconfirmed_from = None
            elif self._unconfirmed_from is None and fp_packets:
                self._unconfirmed_from = packet_id
            obt_tai, obt = tab.obt_tai[row], tab.obt[row]
            self._saw_onboard_time(obt_tai, ert)
            n = len(tab.names)
            raws, engs, levels = tab.raws[row], tab.engs[row], tab.levels[row]
            values.extend(zip(repeat(packet_id, n), tab.names, raws, engs, tab.units, levels, repeat(obt_tai, n),
                              repeat(obt, n), repeat(ert, n), repeat(0, n)))
            ert_iso = self._iso_ert(ert)
            ctx = (obt, obt_tai, ert_iso, ert, packet_id)
            pending.append((None, _PacketValues(tab, row), ctx))
            erts = seen.setdefault(id(tab), (tab, []))[1]
            if not erts or erts[-1] != ert:
                erts.append(ert)
            if tab.odd[row] or (active and not active.keys().isdisjoint(tab.names)):
                for j, name in enumerate(tab.names):
                    if levels[j] or name in active:
                        self._alarm(ParameterSample(name, raws[j], engs[j], tab.units[j], AlarmLevel(levels[j])),
                                    packet_id, ert, ert_iso, obt)
        c.parameters += self.archive.add_parameter_values(values)
        fresh = self._fresh
        for tab, erts in seen.values():
            for name in tab.names:
                f = fresh.get(name)
                for e in erts:
                    if f is None:
                        f = fresh[name] = [e, None, "FRESH"]
                    elif e > f[0]:
                        f[1], f[0] = (e - f[0]) / 1e9, e

    def _packet(self, ev: VcPacket, ert: int, playback: bool | None = None) -> None:
        c = self.counters
        c.tm_packets += 1
        if playback is None:
            playback = self._continuity(ev, ert)
        if playback is None:
            return
        try:
            dec = self.mission.decode_tm(ev.data)
        except ProtocolError as e:
            c.tm_undecodable += 1
            hdr = decode_header(ev.data)
            log.warning("TM APID 0x%03X seq %d not decodable: %s", hdr.apid, hdr.sequence_count, e)
            self.archive.add_packet(ev.data, ert_ns=ert, vcid=ev.vcid, apid=hdr.apid, seq=hdr.sequence_count,
                                    playback=playback)
            return
        tm = dec.tm
        obt_tai, obt = self._obt(tm.time)
        if not playback:
            self._saw_onboard_time(obt_tai, ert)
        confirms = not playback and dec.name in self._fp_packets and self._check_dictionary(dec, ert)
        if self.dictionary_state == "mismatch" and tm.service != 1:  # its own layouts: ours would give garbage
            c.dictionary_mismatches += 1
            self.archive.add_packet(ev.data, ert_ns=ert, vcid=ev.vcid, apid=tm.apid, seq=tm.sequence_count,
                                    service=tm.service, subtype=tm.subtype, obt_tai_s=obt_tai, obt=obt,
                                    playback=playback)
            return
        packet_id = self.archive.add_packet(ev.data, ert_ns=ert, vcid=ev.vcid, apid=tm.apid, seq=tm.sequence_count,
                                            service=tm.service, subtype=tm.subtype, obt_tai_s=obt_tai, obt=obt,
                                            name=dec.name, playback=playback)
        if confirms:
            self._unconfirmed_from = None
        elif self._unconfirmed_from is None and self._fp_packets:
            self._unconfirmed_from = packet_id
        if dec.parameters and playback:  # history: archived, but it neither drives alarms nor goes out as live
            c.parameters += self.archive.add_samples(dec.parameters, packet_id=packet_id, ert_ns=ert,
                                                     obt_tai_s=obt_tai, obt=obt, playback=True)
        elif dec.parameters:
            self._parameters(dec, packet_id, ert, obt_tai, obt)
        if dec.name == "EVENT":
            self._onboard_event(dec, packet_id, ert, obt)
        elif dec.name == DETECTION_PACKET:
            self._detection(dec, packet_id, ert, obt)
        elif tm.service == 1:
            self._verification(dec, ert, obt)
        elif tm.service == 15:
            self._store_report(dec, ert, playback=playback)
        elif dec.name is None and tm.service not in (1, 17, 9, 11):
            c.tm_unknown += 1

    def _check_dictionary(self, dec: DecodedTm, ert: int) -> bool:
        """Compare the spacecraft's dictionary fingerprint with ours; a change of verdict is a link event.
        True when this packet confirms that the spacecraft flies our dictionary."""
        name = self.mission.fingerprint_parameter
        reported = next((int(s.raw) for s in dec.parameters if s.name == name), None)
        ours = self.mission.fingerprint
        if reported is None or reported == self.spacecraft_fingerprint:
            return reported is not None and reported == ours
        self.spacecraft_fingerprint = reported
        if reported == ours:
            self.dictionary_state = "verified"
            self._link_event(ert, "DICTIONARY_VERIFIED", "INFO",
                             f"the spacecraft flies this station's dictionary ({self.mission.name}, {ours:08X})",
                             {"station": f"{ours:08X}", "spacecraft": f"{reported:08X}"})
            return True
        self.dictionary_state = "mismatch"
        self._link_event(ert, "DICTIONARY_MISMATCH", "CRITICAL",
                         f"the spacecraft flies dictionary {reported:08X}, this station {ours:08X} "
                         f"({self.mission.name}): telemetry is archived as raw packets only and commands are "
                         f"refused; restart the station with the spacecraft's dictionary (--mission)",
                         {"station": f"{ours:08X}", "spacecraft": f"{reported:08X}"})
        if self._unconfirmed_from is not None:
            self._withdraw(self._unconfirmed_from, ert)
            self._unconfirmed_from = None
        return False

    def _withdraw(self, from_packet_id: int, ert: int) -> None:
        """Take back what was decoded with our dictionary before the spacecraft's fingerprint said it is not
        theirs: parameter values, events and the alarms they raised (the packets stay, raw)."""
        undone = self.archive.withdraw_decoded(from_packet_id)
        ert_iso = self._iso_ert(ert)
        for parameter, (level, packet_id) in sorted(undone["alarms"].items()):
            self.alarms.levels.pop(parameter, None)
            text = (f"{parameter}: alarm withdrawn (raised at {AlarmLevel(level).name} from a packet decoded "
                    f"with a dictionary the spacecraft does not fly)")
            alarm_id = self.archive.add_alarm(ert_ns=ert, parameter=parameter, state="withdrawn", level=0,
                                              eng=None, unit="", obt=None, packet_id=packet_id)
            self._pending.append((f"alarm.{parameter}", {
                "id": alarm_id, "parameter": parameter, "state": "withdrawn", "level": 0, "level_name": "NOMINAL",
                "previous": level, "eng": None, "unit": "", "text": text, "obt": None, "ert": ert_iso,
                "ert_ns": ert, "packet_id": packet_id}, None))
        self.counters.alarms_withdrawn += len(undone["alarms"])
        n_alarms = len(undone["alarms"])
        self._link_event(ert, "TELEMETRY_WITHDRAWN", "WARNING",
                         f"{undone['packets']} packets decoded before the dictionary mismatch was known are raw "
                         f"again: {undone['parameters']} parameter values, {undone['events']} events and "
                         f"{n_alarms} standing alarms withdrawn",
                         {"from_packet_id": from_packet_id, "packets": undone["packets"],
                          "parameters": undone["parameters"], "events": undone["events"],
                          "alarms": sorted(undone["alarms"])})

    def _parameters(self, dec: DecodedTm, packet_id: int, ert: int, obt_tai: float, obt: str | None) -> None:
        self.counters.parameters += self.archive.add_samples(dec.parameters, packet_id=packet_id, ert_ns=ert,
                                                             obt_tai_s=obt_tai, obt=obt)
        ert_iso = self._iso_ert(ert)
        ctx = (obt, obt_tai, ert_iso, ert, packet_id)
        pending = self._pending
        fresh = self._fresh
        active = self.alarms.levels  # parameters out of limits now: a nominal value of another one changes nothing
        for s in dec.parameters:
            pending.append((None, s, ctx))
            f = fresh.get(s.name)
            if f is None:
                fresh[s.name] = [ert, None, "FRESH"]
            elif ert > f[0]:
                f[1], f[0] = (ert - f[0]) / 1e9, ert
            if not s.level and s.name not in active:
                continue
            self._alarm(s, packet_id, ert, ert_iso, obt)

    def _alarm(self, s: ParameterSample, packet_id: int, ert: int, ert_iso: str, obt: str | None) -> None:
        """Check one value against its alarm state: a transition is archived, logged and published."""
        change = self.alarms.check(s)
        if change is None:
            return
        if change.state == "raised":
            self.counters.alarms_raised += 1
        else:
            self.counters.alarms_cleared += 1
        unit = f" {s.unit}" if s.unit else ""
        text = (f"{s.name} = {s.engineering}{unit}: {change.level.name}" if change.state == "raised"
                else f"{s.name} = {s.engineering}{unit}: back to NOMINAL (was {change.previous.name})")
        log.warning("alarm %s: %s", change.state, text)
        alarm_id = self.archive.add_alarm(ert_ns=ert, parameter=s.name, state=change.state,
                                          level=int(change.level), eng=s.engineering, unit=s.unit, obt=obt,
                                          packet_id=packet_id)
        severity = change.level.name if change.state == "raised" else "INFO"
        self.archive.add_event(ert_ns=ert, kind="alarm", name=s.name, severity=severity, text=text, obt=obt,
                               packet_id=packet_id, data={"state": change.state, "level": int(change.level),
                                                          "previous": int(change.previous)})
        self._pending.append((f"alarm.{s.name}", {
            "id": alarm_id, "parameter": s.name, "state": change.state, "level": int(change.level),
            "level_name": change.level.name, "previous": int(change.previous), "eng": s.engineering,
            "unit": s.unit, "text": text, "obt": obt, "ert": ert_iso, "ert_ns": ert, "packet_id": packet_id}, None))

    def _detection(self, dec: DecodedTm, packet_id: int, ert: int, obt: str | None) -> None:
        """A detection of the onboard image analysis: an alert, archived and published at once."""
        self.counters.detections += 1
        name, severity, text, data = detection_alert({s.name: s.engineering for s in dec.parameters})
        log.warning("detection: %s", text)
        self._archive_event(ert, "detection", name, severity, text, event_id=None, obt=obt, packet_id=packet_id,
                            data=data)

    def _onboard_event(self, dec: DecodedTm, packet_id: int, ert: int, obt: str | None) -> None:
        self.counters.onboard_events += 1
        event_id = dec.event_id if dec.event_id is not None else -1
        name = dec.event.name if dec.event is not None else f"EVENT_0x{event_id:04X}"
        text = dec.event.text if dec.event is not None else "event not in the mission dictionary"
        severity = Severity(dec.tm.subtype).name
        data: dict[str, Any] | None = {"auxiliary": dec.event_data.hex()} if dec.event_data else None
        if data is not None and dec.event_values:
            data["values"] = {v.name: v.engineering for v in dec.event_values}
            text = f"{text} ({', '.join(f'{v.name}={v.engineering}' for v in dec.event_values)})"
        self._archive_event(ert, "onboard", name, severity, text, event_id=event_id, obt=obt, packet_id=packet_id,
                            data=data)

    def _archive_event(self, ert: int, kind: str, name: str, severity: str, text: str, *, event_id: int | None,
                       obt: str | None, packet_id: int, data: dict[str, Any] | None) -> None:
        """Archive an event of a packet and queue its live message (published after the commit)."""
        row_id = self.archive.add_event(ert_ns=ert, kind=kind, name=name, severity=severity, text=text,
                                        event_id=event_id, obt=obt, packet_id=packet_id, data=data)
        self._pending.append((f"event.{name}", {
            "id": row_id, "kind": kind, "name": name, "severity": severity, "text": text, "event_id": event_id,
            "obt": obt, "ert": iso_ns(ert), "ert_ns": ert, "packet_id": packet_id, "data": data}, None))

    def _verification(self, dec: DecodedTm, ert: int, obt: str | None) -> None:
        c = self.counters
        body = decode_body(dec.tm)
        stage_ok = _STAGE_OF_BODY.get(type(body))
        if stage_ok is None:
            c.tm_unknown += 1
            return
        c.verification_reports += 1
        stage, ok = stage_ok
        rid = body.request_id  # type: ignore[attr-defined]
        hit = self.archive.command_for_request(rid.apid, rid.sequence_count)
        if hit is None:
            c.verification_unmatched += 1
            log.warning("TM[1,%d] for request APID 0x%03X seq %d matches no command sent from here",
                        dec.tm.subtype, rid.apid, rid.sequence_count)
            return
        command_id, of = hit
        failure = getattr(body, "failure", None)
        code = int(failure.code) if failure is not None else None
        reason = failure.code.name if failure is not None else None
        status = self._status_after(command_id, stage, ok, of)
        self.archive.add_stage(command_id, stage=stage, ok=ok, of=of, time_ns=ert, code=code, reason=reason, obt=obt,
                               status=status)
        self._pending.append((f"verification.{command_id}", {
            "command_id": command_id, "stage": stage, "ok": ok, "of": of, "code": code, "reason": reason,
            "time": iso_ns(ert), "time_ns": ert, "obt": obt, "status": status}, None))
        if not ok:
            log.warning("command %d%s failed at %s: %s", command_id, " (scheduling)" if of == "schedule" else "",
                        stage, reason)

    def _status_after(self, command_id: int, stage: str, ok: bool, of: str) -> str | None:
        if not ok:
            return "failed"
        rows = self.archive.history(command_id=command_id, limit=1)
        current = rows[0]["status"] if rows else "queued"
        if current in ("lost", "timed out", "unknown"):  # the spacecraft's report settles it (reconciled)
            current = "sent"
        if current == "failed":
            return None
        if of == "schedule":
            return "scheduled" if stage == "completed" and current in ("queued", "sent") else None
        if current in STAGES and STAGES.index(stage) <= STAGES.index(current):
            return None
        return stage

    def _expire_cadus(self) -> None:
        """Apply the retention policy of raw CADUs (age and size), a bounded batch at a time."""
        if self.cadu_retention_s is None and self._cadu_keep_rows is None:
            return
        before = None if self.cadu_retention_s is None else time.time_ns() - int(self.cadu_retention_s * 1e9)
        gone = self.archive.expire_cadus(before_ns=before, keep_rows=self._cadu_keep_rows)
        if gone:
            self.counters.cadus_expired += gone
            self.archive.commit()
            self._next_expiry = time.monotonic()  # more may be due: next turn

    # ================================================================== verdicts
    def _mark_unknown(self) -> None:
        """Commands in flight when the station stopped: their fate is unknown until reports (or time) tell."""
        now = time.time_ns()
        for cmd in self.archive.commands_in(("queued", "sent", "accepted", "started", "progress")):
            self.archive.add_stage(cmd["id"], stage="unknown", ok=True, of="station", time_ns=now,
                                   reason="the station was down while it was in flight", status="unknown")
        self.archive.commit()

    def _caught_up(self, apid: int, since_ns: int) -> bool:
        """Whether every report ``apid`` generated by ``since_ns`` has reached the archive: frames are coming,
        a store status report came after it, and the APID has no open gap."""
        if self._last_frame_mono is None or time.monotonic() - self._last_frame_mono > STORE_LINK_TIMEOUT_S:
            return False
        if self._status_report_ns is None or self._status_report_ns < since_ns:
            return False
        return not self.store.open_gaps(apid)

    def _check_verdicts(self) -> None:
        """Give a terminal verdict to commands whose reports cannot be on their way any more: lost (never
        accepted) or timed out (accepted, never finished). A report arriving later still settles it."""
        now = time.time_ns()
        since_start = self.started_ns
        mono = time.monotonic()
        for cmd in self.archive.commands_in(IN_FLIGHT):
            if self.cop1.holds(cmd["id"]):  # still with COP-1: it gives the verdict (delivered, or failed)
                continue
            # the TC's own reports (a time-tagged one's TC[11,4] reports say only that it was scheduled)
            stages = {st["stage"] for st in cmd["stages"] if st["of"] == "tc"}
            t_ref = max(cmd["submitted_ns"], since_start)
            delivered = self.cop1.delivered_mono.get(cmd["id"])
            if delivered is not None:  # the reports can come only after FARM-1 took the last frame
                t_ref = max(t_ref, now - int((mono - delivered) * 1e9))
            accepted = bool(stages & {"accepted", "started", "progress"})
            release = cmd.get("release_ns")
            if release is not None:  # nothing can be heard of it before its release time on board
                if now < release:
                    continue
                t_ref = max(t_ref, release)
            wait_s = COMPLETION_TIMEOUT_S if accepted else LOST_AFTER_S
            if (now - t_ref) / 1e9 < wait_s:
                continue
            if not self._caught_up(cmd["apid"], t_ref + int(wait_s / 2 * 1e9)):
                continue
            verdict = "timed out" if accepted else "lost"
            reason = (f"accepted, but no completion report within {COMPLETION_TIMEOUT_S:g} s" if accepted else
                      f"no acceptance report within {LOST_AFTER_S:g} s with the downlink caught up: never received")
            self._ground_stage(cmd["id"], verdict, False, "station", now, reason=reason, status=verdict)
            log.warning("command %d %s: %s", cmd["id"], verdict, reason)
        self._flush()

    # ================================================================== store-and-forward
    def _store_report(self, dec: DecodedTm, ert: int, *, playback: bool) -> None:
        """TM[15,130]: gaps at the tail of a channel; TM[15,131]: what the store no longer holds is lost."""
        try:
            body = decode_body(dec.tm)
        except ProtocolError as e:
            self.counters.tm_undecodable += 1
            log.warning("TM[15,%d] not decodable: %s", dec.tm.subtype, e)
            return
        if isinstance(body, StoreStatusReport):
            if playback:  # an old status says nothing about now
                return
            self._status_report_ns = time.time_ns()
            for a in body.applications:
                if a.apid > 0x7FF or a.first_stored > 0x3FFF or a.next_unsent > 0x3FFF:
                    self.counters.tm_undecodable += 1
                    continue
                for gap in self.store.status(a.apid, a.first_stored, a.next_unsent):
                    self._gap_event(ert, a.apid, None, gap, received=None)
        elif isinstance(body, StoreUnavailableReport):
            for r in body.ranges:
                for lost in self.store.unavailable(r.apid, r.first_count, r.packets):
                    self.counters.packets_lost += lost.count
                    last = (lost.first + lost.count - 1) % 0x4000
                    self._link_event(ert, "PACKETS_LOST", "HIGH",
                                     f"APID 0x{lost.apid:03X}: {lost.count} packet(s), counts {lost.first}..{last}, "
                                     f"are no longer in the on-board store (overwritten): they will never arrive",
                                     {"apid": lost.apid, "first": lost.first, "count": lost.count})
        else:
            self.counters.tm_unknown += 1

    def _store_commands(self) -> None:
        """Acknowledge what the archive holds (committed) and ask for the gaps again, while the link is up."""
        if self.store_apid is None or self._last_frame_mono is None or self.dictionary_state == "mismatch":
            return  # (under a mismatch our service 15 could mean something else on board: nothing goes up)
        now = time.monotonic()
        if now - self._last_frame_mono > STORE_LINK_TIMEOUT_S:
            return  # no downlink: an uplink is unlikely to be heard; ask again when frames come
        acks = self.store.acks_due(now)
        if acks:
            self._send_store(StoreAcknowledge(tuple(StoreAck(apid, n) for apid, n in acks)))
            self.counters.store_acks_sent += 1
        if self.replay_vcid is not None:
            ranges = self.store.requests_due(now)
            if ranges:
                self._send_store(StoreRetransmit(tuple(StoreRange(*r) for r in ranges)))
                self.counters.store_requests_sent += 1

    def _send_store(self, body: Any) -> None:
        """One service 15 TC, without verification reports (the next status report shows its effect)."""
        tc = PusTc.from_body(body, apid=self.store_apid, sequence_count=self._next_seq(self.store_apid),
                             ack_flags=AckFlags.NONE)
        self.archive.commit()  # its request ID is never used again, even after a kill
        self.counters.store_cltus_sent += self.cop1.send_expedited(tc.encode(), time.monotonic())

    # ================================================================== API
    def _request(self, parts: list[bytes]) -> None:
        c = self.counters
        c.api_requests += 1
        if len(parts) < 2:
            c.refuse("bad_envelope")
            return  # no identity frame: nobody to answer
        envelope, payload = parts[:-1], parts[-1]
        req_id: Any = None
        try:
            req = parse_request(payload)
            req_id = req.id
            result = self._dispatch(req)
            reply = reply_ok(req_id, result)
        except ApiError as e:
            c.refuse(e.code)
            log.warning("API request refused (%s): %s", e.code, e.message)
            reply = reply_error(req_id if req_id is not None else e.req_id, e.code, e.message)
        except Exception as e:  # a bug must cost one request, not the station
            c.internal_errors += 1
            c.refuse("internal")
            log.exception("internal error while serving an API request")
            reply = reply_error(req_id, "internal", f"{type(e).__name__}: {e}")
        try:
            self.router.send_multipart([*envelope, reply], zmq.NOBLOCK)
        except zmq.ZMQError:
            c.refuse("unreachable_client")

    def _dispatch(self, req: Request) -> Any:
        p = req.params
        a = self.archive
        rng = {"from_ns": p.get("from"), "to_ns": p.get("to"), "after_id": p.get("after_id")}
        if req.op == "ping":
            return {"station": "ttc", "version": __version__, "mission": self.mission.name, "scid": self.mission.scid,
                    "dictionary": self.dictionary_status(),
                    "endpoints": self.endpoints, "uptime_s": (time.time_ns() - self.started_ns) / 1e9}
        if req.op == "counters":
            return self.counters_dict()
        if req.op == "latest":
            return {"parameters": self._freshness(a.latest_parameters(), p.get("stale_factor"),
                                                  p.get("expire_factor")),
                    "alarms": {k: int(v) for k, v in self.alarms.active.items()}, "link": self.counters_dict()["link"],
                    "cop1": self.cop1.status()}
        if req.op == "send":
            return self._send(p)
        if req.op == "cop1":
            return self._cop1_request(p)
        if req.op == "history":
            return a.history(command_id=p.get("command_id"), limit=p.get("limit", 100), **rng)
        if req.op == "alarms" and p.get("active"):
            return [{"parameter": k, "level": int(v), "level_name": v.name} for k, v in self.alarms.active.items()]
        table = req.op
        return a.rows(table, names=p.get("names"), limit=p.get("limit", 1000), newest=p.get("newest", False),
                      kind=p.get("kind"), **rng)

    def _publish_freshness(self) -> None:
        """A ``freshness.NAME`` message on the live stream when a parameter turns STALE, EXPIRED or FRESH again."""
        now = time.time_ns()
        for name, f in self._fresh.items():
            interval = f[1] or DEFAULT_INTERVAL_S
            age = max(0.0, (now - f[0]) / 1e9)
            state = _freshness_of(age, interval, self.stale_factor, self.expire_factor)
            if state != f[2]:
                f[2] = state
                self._publish(f"freshness.{name}", {"name": name, "freshness": state, "age_s": round(age, 1),
                                                    "interval_s": round(interval, 3)})

    def _freshness(self, rows: list[dict[str, Any]], stale_factor: Any, expire_factor: Any) -> list[dict[str, Any]]:
        """Each latest value's age and freshness: STALE beyond ``stale_factor`` x its interval without a newer
        one, EXPIRED beyond ``expire_factor`` x (its interval: the spacing of its last two values as received,
        DEFAULT_INTERVAL_S until there are two)."""
        stale = float(stale_factor) if isinstance(stale_factor, (int, float)) and stale_factor > 0 else self.stale_factor
        expire = (float(expire_factor) if isinstance(expire_factor, (int, float)) and expire_factor > 0
                  else self.expire_factor)
        now = time.time_ns()
        for r in rows:
            interval = r.get("interval_s") or DEFAULT_INTERVAL_S
            age = max(0.0, (now - r["ert_ns"]) / 1e9)
            r["age_s"] = round(age, 1)
            r["freshness"] = _freshness_of(age, interval, stale, expire)
        return rows

    def _next_seq(self, apid: int) -> int:
        key = f"uplink.seq.{apid}"
        seq = int(self.archive.state(key, "0") or 0)
        self.archive.set_state(key, str((seq + 1) % 0x4000))
        return seq

    def dictionary_status(self) -> dict[str, Any]:
        """This station's dictionary fingerprint, the spacecraft's (None until seen) and the verdict."""
        theirs = self.spacecraft_fingerprint
        return {"station": f"{self.mission.fingerprint:08X}", "spacecraft": None if theirs is None else f"{theirs:08X}",
                "state": self.dictionary_state}

    def _check_release_time(self, release: CucTime, at_ns: int, now_ns: int) -> None:
        """A time tag must be in the spacecraft's future: after on-board time as last seen in telemetry (a
        simulated spacecraft keeps its own epoch and rate), or after now before any telemetry has come."""
        onboard = self._onboard_now_tai_s(now_ns)
        if onboard is None:
            if at_ns < now_ns - 1_000_000_000:
                self.counters.commands_refused += 1
                raise ApiError("bad_request", f"send: field at is {iso_ns(at_ns)}, allowed a time after now "
                                              f"({iso_ns(now_ns)})")
            return
        if float(release.tai_s) < onboard - 1.0:
            self.counters.commands_refused += 1
            obt = CucTime.from_tai_s(onboard, config=self.mission.time_config)
            raise ApiError("bad_request", f"send: field at is {iso_ns(at_ns)}, allowed a time after the spacecraft's "
                                          f"clock ({obt.utc_iso()}, as last seen in its telemetry)")

    def _send(self, p: dict[str, Any]) -> dict[str, Any]:
        c = self.counters
        if self.dictionary_state == "mismatch":
            c.commands_refused += 1
            raise ApiError("dictionary_mismatch", f"the spacecraft flies dictionary {self.spacecraft_fingerprint:08X}, "
                                                  f"this station {self.mission.fingerprint:08X}: a command encoded "
                                                  f"with this one could mean something else on board")
        try:
            cmd = self.mission.command(p["name"])
            cmd.validate(p.get("args", {}))
        except UnknownName as e:
            c.commands_refused += 1
            raise ApiError("unknown_command", str(e)) from e
        except ProtocolError as e:
            c.commands_refused += 1
            raise ApiError("invalid_argument", str(e)) from e
        if cmd.hazardous and not p.get("confirm"):
            c.commands_refused += 1
            raise ApiError("confirmation_required", f"{cmd.name} is hazardous ({cmd.description}): send it with "
                                                    f"confirm: true (ttc send asks, or takes --yes)")
        now = time.time_ns()
        at_ns = p.get("at")
        release = None
        if at_ns is not None:
            try:
                release = CucTime.from_datetime(datetime.fromtimestamp(at_ns / 1e9, tz=timezone.utc)
                                                .replace(tzinfo=None), config=self.mission.time_config)
            except (ProtocolError, ValueError, OverflowError, OSError) as e:
                c.commands_refused += 1
                raise ApiError("bad_request", f"send: field at is {at_ns} ns, not a time the spacecraft's clock "
                                              f"can carry ({e})") from e
            self._check_release_time(release, at_ns, now)
        args = p.get("args", {})
        scheduler = self.mission.apid_of_service(11)
        if at_ns is not None and scheduler is None:
            c.commands_refused += 1
            raise ApiError("bad_request", "send: field at is set, but the mission dictionary declares no service 11 "
                                          "(time-based schedule) to carry a time-tagged command")
        seq = self._next_seq(cmd.apid)
        tc = cmd.to_tc(args, sequence_count=seq, ack_flags=AckFlags.ALL)
        wrapper: PusTc | None = None
        release_at = None
        if release is not None:
            release_at = release.utc_iso()
            wrapper = PusTc.from_body(InsertActivities((ScheduledActivity(release, tc),)), apid=scheduler,
                                      sequence_count=self._next_seq(scheduler), ack_flags=AckFlags.ALL)
        packet = (wrapper or tc).encode()
        command_id = self.archive.add_command(
            submitted_ns=now, name=cmd.name, args=args, apid=tc.apid, seq=tc.sequence_count, tc=packet,
            release_at=release_at, wrapper_apid=wrapper.apid if wrapper else None,
            wrapper_seq=wrapper.sequence_count if wrapper else None, source=p.get("source", ""))
        self.archive.add_stage(command_id, stage="queued", ok=True, of="station", time_ns=now)
        self.archive.commit()  # the command exists in the archive before it goes on the air
        try:
            service, frames = self.cop1.send(command_id, packet, time.monotonic(), bypass=bool(p.get("bypass")))
        except OverflowError as e:
            self._command_failed(command_id, "station", str(e))
            self._flush()
            raise ApiError("busy", f"command {command_id} not sent: {e}") from e
        c.cltus_sent += frames
        c.commands_sent += 1
        self._cop1_notes()  # "sent" at once for BD, and for AD when FOP-1 took the frame at once
        self._flush()
        status = self.archive.history(command_id=command_id, limit=1)[0]["status"]
        log.info("command %d %s %s %s (APID 0x%03X seq %d%s, %d %s frame(s))", command_id, cmd.name, args, status,
                 tc.apid, tc.sequence_count, f", release {release_at} in TC[11,4]" if release_at else "", frames,
                 service)
        return {"command_id": command_id, "name": cmd.name, "apid": tc.apid, "sequence_count": tc.sequence_count,
                "release_at": release_at, "cltus": frames, "service": service, "status": status}

    # ================================================================== COP-1
    def _cop1_notes(self) -> None:
        """Record and publish what COP-1 did: commands sent, delivered or given up on; alerts, suspends,
        directive responses and state changes (topic ``cop1``)."""
        for note in self.cop1.take_notes():
            try:
                self._cop1_note(note)
            except Exception:  # one bad note must not stop the station: count it, log it, go on
                self.counters.internal_errors += 1
                log.exception("internal error while recording COP-1 %s", note.kind)

    def _cop1_note(self, note: Note) -> None:
        now = time.time_ns()
        cid = note.command_id
        if note.kind == "sent" and cid is not None:
            self._ground_stage(cid, "sent", True, "station", now, status="sent", extra=note.data)
        elif note.kind == "delivered" and cid is not None:
            self._ground_stage(cid, "delivered", True, "cop1", now, reason="FARM-1 acknowledged every frame (CLCW)")
        elif note.kind == "failed" and cid is not None:
            self._command_failed(cid, "cop1", note.reason)
        elif note.kind in ("alert", "suspended"):
            severity = "HIGH" if note.kind == "alert" else "MEDIUM"
            self._link_event(now, f"COP1_{note.kind.upper()}", severity, f"COP-1 {note.kind}: {note.reason}",
                             note.data | {"cop1": self.cop1.status()})
            self._publish("cop1", {"kind": note.kind, "reason": note.reason, **note.data, "status": self.cop1.status()})
        else:
            self._publish("cop1", {"kind": note.kind, **note.data, "status": self.cop1.status()})

    def _ground_stage(self, command_id: int, stage: str, ok: bool, of: str, now: int, *, reason: str | None = None,
                      status: str | None = None, extra: dict[str, Any] | None = None) -> None:
        """A verification stage the ground gives a command (not a spacecraft report): archived, and published
        on ``verification.ID`` after the next commit."""
        self.archive.add_stage(command_id, stage=stage, ok=ok, of=of, time_ns=now, reason=reason, status=status)
        self._pending.append((f"verification.{command_id}", {
            "command_id": command_id, "stage": stage, "ok": ok, "of": of, "code": None, "reason": reason,
            "time": iso_ns(now), "time_ns": now, "obt": None, "status": status, **(extra or {})}, None))

    def _command_failed(self, command_id: int, of: str, reason: str) -> None:
        """A command the uplink gave up on (never sent, or never acknowledged): failed, with the reason."""
        self._ground_stage(command_id, "uplink", False, of, time.time_ns(), reason=reason, status="failed")
        log.warning("command %d failed on the uplink: %s", command_id, reason)

    def _cop1_request(self, p: dict[str, Any]) -> dict[str, Any]:
        """``ttc cop1``: a directive (or status): the FOP's responses and its status after them."""
        name = p.get("directive", "status")
        if name == "status":
            return {"responses": [], "status": self.cop1.status()}
        if name not in DIRECTIVES:
            raise ApiError("bad_request", f"cop1: directive is {name!r}, allowed status, {', '.join(DIRECTIVES)}")
        try:
            responses = self.cop1.directive(name, time.monotonic(), p.get("value"))
        except ProtocolError as e:
            raise ApiError("invalid_argument", str(e)) from e
        self._cop1_notes()
        self._flush()
        return {"responses": responses, "status": self.cop1.status()}

    def counters_dict(self) -> dict[str, Any]:
        """Every counter: downlink decoder layers, uplink, station, archive."""
        s = asdict(self.counters)
        uplink = {"commands_sent": s.pop("commands_sent"), "commands_refused": s.pop("commands_refused"),
                  "cltus_sent": s.pop("cltus_sent"), "cltus_dropped": self.sender.counters.dropped,
                  "clcws": s.pop("clcws"), "clcws_other": s.pop("clcws_other"), "clcw": self.clcw_status(),
                  "cop1": self.cop1.status()}
        return {"downlink": self.decoder.counters.as_dict(), "uplink": uplink, "station": s,
                "store": self.store.summary(),
                "link": self.link.as_dict(time.monotonic()) | {
                    "rs_corrected": self.decoder.counters.rs_corrected,
                    "rs_uncorrectable": self.decoder.counters.rs_uncorrectable,
                    "open_gaps": self.store.open_gaps()},
                "links": {"down": {"url": self.receiver.url, "carries": self.receiver.carries.value,
                                   **self.receiver.counters.as_dict()},
                          "up": {"url": self.sender.url, "carries": self.sender.carries.value,
                                 **self.sender.counters.as_dict()}},
                "archive": {"commits": self.archive.commits}, "dictionary": self.dictionary_status()}


# ====================================================================== process

@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--down", "down_url", required=True, help="CADU receiver URL (zmq://HOST:PORT connects; "
                                                          "file:///x.ttcrec replays a recording; gr+zmq://HOST:PORT "
                                                          "takes a GNU Radio flowgraph's PDUs; kiss+tcp://HOST:PORT "
                                                          "a KISS TNC's frames)")
@click.option("--up", "up_url", default="zmq://127.0.0.1:0", show_default=True,
              help="CLTU sender URL (binds; port 0 picks a free port, see the READY line)")
@click.option("--archive", "archive_path", type=click.Path(dir_okay=False, path_type=Path), default="station.db",
              show_default=True, help="SQLite archive file (created when missing, WAL mode)")
@click.option("--api", "api_url", envvar="TTC_API", default=DEFAULT_API, show_default=True,
              help="ROUTER endpoint for requests (tcp://127.0.0.1:PORT or ipc:///path; env TTC_API)")
@click.option("--events", "events_url", envvar="TTC_EVENTS", default=DEFAULT_EVENTS, show_default=True,
              help="PUB endpoint of the live stream (env TTC_EVENTS)")
@click.option("--record", "record_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also record every received CADU with its earth-receive time (.ttcrec)")
@click.option("--archive-idle", is_flag=True,
              help="also archive idle CADUs (by default only CADUs with data, or that failed to decode, are kept; "
                   "the --record file has every one)")
@click.option("--synchronous", type=click.Choice(["NORMAL", "FULL"], case_sensitive=False), default="NORMAL",
              show_default=True, help="SQLite synchronous: FULL also survives power loss, NORMAL a process kill")
@click.option("--mission", "mission_spec", envvar="TTC_MISSION", default=None,
              help="mission dictionary: a .toml file, a .py file or module:attribute (env TTC_MISSION; "
                   "default: the ttc reference satellite)")
@click.option("--keys", "keys_dir", envvar="TTC_KEYS", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="CURVE key directory (env TTC_KEYS; default ~/.config/ttc/keys): the station's key pair and the "
                   "clients it accepts; created at first start (`ttc keys`, docs/threat-model.md)")
@click.option("--insecure", is_flag=True,
              help="no CURVE: every local user may command and read the live stream (--api/--events on loopback "
                   "or ipc only)")
@click.option("--allow-remote", is_flag=True,
              help="allow --api/--events on an address other hosts can reach (CURVE only)")
@click.option("--cadu-retention-days", type=click.FloatRange(min=0), default=DEFAULT_CADU_RETENTION_DAYS,
              show_default=True, help="raw CADUs older than this leave the archive (0: kept for good); packets, "
                                      "values, events and the --record file are not touched")
@click.option("--cadu-retention-mb", type=click.IntRange(min=0), default=DEFAULT_CADU_RETENTION_MB,
              show_default=True, help="at most this many MB of raw CADUs in the archive, the oldest go first "
                                      "(0: no bound)")
@click.option("--stale-factor", type=click.FloatRange(0, min_open=True), default=3.0, show_default=True,
              help="a parameter is STALE after this many of its intervals without a new value (live stream "
                   "freshness.NAME, latest, ttc monitor)")
@click.option("--expire-factor", type=click.FloatRange(0, min_open=True), default=10.0, show_default=True,
              help="... and EXPIRED after this many")
@click.option("--sdls-keys", envvar="TTC_SDLS_KEYS", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="protect every uplink frame with SDLS (CCSDS 355.0-B-2, AES-256-GCM) under this key file's "
                   "operational SA (ttc keys generate; mode 0600; env TTC_SDLS_KEYS)")
@click.option("-v", "--verbose", is_flag=True, help="log debug messages")
def main(down_url: str, up_url: str, archive_path: Path, api_url: str, events_url: str, record_path: Path | None,
         archive_idle: bool, synchronous: str, mission_spec: str | None, keys_dir: Path | None, insecure: bool,
         allow_remote: bool, cadu_retention_days: float, cadu_retention_mb: int, stale_factor: float,
         expire_factor: float, sdls_keys: Path | None, verbose: bool) -> None:
    """Run the ground station: decode and archive telemetry, send commands, serve the local API."""
    from .keys import KeysError, local_endpoint
    from .sdlskeys import KeyFileError

    for option, url in (("--api", api_url), ("--events", events_url)):
        if local_endpoint(zmq_endpoint(url)):
            continue
        if insecure:
            raise click.UsageError(f"{option} {url} is reachable from other hosts: --insecure (no CURVE) is allowed "
                                   f"only on loopback (127.0.0.1, localhost) or ipc:// endpoints")
        if not allow_remote:
            raise click.UsageError(f"{option} {url} is reachable from other hosts: binding it needs --allow-remote "
                                   f"(clients are then authenticated with CURVE; docs/threat-model.md)")
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s station %(levelname)s %(message)s")
    if insecure:
        log.warning("--insecure: no CURVE on %s and %s; every local user may send commands and read telemetry",
                    api_url, events_url)
    try:  # `ttc --mission X station` chose it for the whole command line
        mission = load_mission(mission_spec) if mission_spec else selected()
    except MissionLoadError as e:
        raise click.ClickException(str(e)) from e
    try:
        station = Station(down_url=down_url, up_url=up_url, archive_path=archive_path, api_url=api_url,
                          events_url=events_url, record_path=record_path, synchronous=synchronous, mission=mission,
                          archive_idle=archive_idle, keys_dir=keys_dir, insecure=insecure,
                          cadu_retention_s=cadu_retention_days * 86400.0 or None,
                          cadu_retention_octets=(cadu_retention_mb << 20) or None, stale_factor=stale_factor,
                          expire_factor=expire_factor, sdls_keys=sdls_keys)
    except (ProtocolError, KeysError, KeyFileError, zmq.ZMQError, OSError) as e:
        raise click.ClickException(f"station could not start: {e}") from e

    def on_signal(signum: int, _frame: PyFrame | None) -> None:
        log.info("signal %d: stopping", signum)
        station.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    click.echo("READY " + json.dumps(station.endpoints), nl=True)
    sys.stdout.flush()
    log.info("ready: %s", station.endpoints)
    try:
        station.run()
    finally:
        station.close()
        log.info("stopped; counters %s", json.dumps(station.counters_dict()))


if __name__ == "__main__":  # pragma: no cover
    main()
