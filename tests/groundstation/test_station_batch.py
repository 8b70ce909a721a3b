"""The station's batch path (a turn's housekeeping decoded as columns, archived and checked per batch) gives what
the per-packet path gives: the same archive, row for row, and the same live-stream messages, topic by topic.

One recording holds what makes the paths part: housekeeping of every layout with values out of limits and
invalid (NaN), a sequence gap, a lost CADU, an event, a detection, image parts, a replay of stored packets
(duplicates and a late packet), on-board times before 1972 and at a leap second, and at the end a
dictionary fingerprint that is not ours (the station then withdraws what it decoded since the last
confirmation). The in-process station replays it twice, once each way, with a live-stream subscriber.
"""

from __future__ import annotations

import json
import math
import sqlite3
import struct
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import zmq

from groundstation.station import Station, downlink_config
from protocol.links.recording import RecordingWriter
from protocol.mission import MISSION
from protocol.pus import PusTm
from protocol.stack import DownlinkEncoder
from protocol.timecode import CucTime

from .fake_spacecraft import _nominal_raw

HK = [MISSION.housekeeping(sid) for sid in (1, 2, 3, 4)]
REPLAY_VC = MISSION.link.downlink.replay_vcid
T0 = CucTime.from_datetime(datetime(2026, 12, 3, 6, 0, tzinfo=timezone.utc))
LEAP = CucTime.from_datetime(datetime(2016, 12, 31, 23, 59, 59, tzinfo=timezone.utc))  # 23:59:60 follows
TABLES = {"packets": "id, ert_ns, vcid, apid, seq, service, subtype, obt_tai_s, obt, name, data, playback",
          "parameters": "id, packet_id, name, raw, eng, unit, level, obt_tai_s, obt, ert_ns, playback",
          "alarms": "id, ert_ns, parameter, state, level, eng, unit, obt, packet_id",
          "events": "id, ert_ns, kind, name, severity, text, event_id, obt, packet_id, data"}


class Source:
    """PUS TM packets with per-APID sequence counts, as the spacecraft numbers them."""

    def __init__(self) -> None:
        self.seq: dict[int, int] = {}
        self.sent: list[bytes] = []

    def tm(self, apid: int, service: int, subtype: int, data: bytes, t: CucTime, *, skip: int = 0) -> bytes:
        count = self.seq.get(apid, 0) + skip
        self.seq[apid] = count + 1
        raw = PusTm(apid=apid, service=service, subtype=subtype, time=t, sequence_count=count % 16384,
                    source_data=data).encode()
        self.sent.append(raw)
        return raw

    def hk(self, decl: object, k: int, t: CucTime, **values: float) -> bytes:
        raw = {p.name: _nominal_raw(p) for p in decl.parameters}  # type: ignore[attr-defined]
        raw["DICTIONARY_ID"] = MISSION.fingerprint
        raw.update(values)
        if "UPTIME" in raw:
            raw["UPTIME"] = k
        return self.tm(decl.apid, 3, 25, decl.encode(raw), t)  # type: ignore[attr-defined]


def at(t: CucTime, s: float) -> CucTime:
    return CucTime.from_tai_s(t.tai_s + s)


def recording(path: Path) -> int:
    """The recording (one CADU every 5 ms of ERT); how many CADUs."""
    src = Source()
    enc = DownlinkEncoder(downlink_config(), {0: 0, 2: 1, REPLAY_VC: 2})
    cadus: list[bytes] = []

    def flush() -> None:
        while enc.mux.pending_octets():
            cadus.append(enc.next_cadu())

    volts = MISSION.parameter("BATTERY_VOLTAGE")
    rate = MISSION.parameter("ADCS_RATE_X")
    for k in range(400):
        t = at(T0, k * 0.25)
        decl = HK[k % 4]
        extra: dict[str, float] = {}
        if decl is HK[0] and 40 <= k < 80:
            extra["BATTERY_VOLTAGE"] = volts.to_raw(volts.limits.hard_low - 1)  # CRITICAL, then back
        if decl is HK[0] and 100 <= k < 120:
            extra["BATTERY_VOLTAGE"] = volts.to_raw(volts.limits.soft_low - 0.01)  # WARNING
        if decl is HK[3] and k % 24 == 3:
            extra["ADCS_RATE_X"] = math.nan  # INVALID: no alarm change
        if decl is HK[3] and 200 <= k < 240:
            extra["ADCS_RATE_X"] = rate.to_raw(rate.limits.hard_high + 1)
        enc.submit(0, src.hk(decl, k, t, **extra))
        if k == 150:  # a sequence gap on the housekeeping APID
            src.seq[HK[0].apid] += 3
        if k % 50 == 7:
            aux = struct.pack(">H", 5)
            enc.submit(0, src.tm(MISSION.event_apid, 5, 1, struct.pack(">H", 1) + aux, t))
        if k % 90 == 11:
            part = MISSION.packets["IMAGE_PART"]
            enc.submit(2, src.tm(part.apid, 13, 2, part.encode({"IMAGE_ID": k, "IMAGE_PART_NUMBER": 1},
                                                               tail=bytes(range(256)) * 3), t))
        if k == 300:
            det = MISSION.packets["DETECTION"]
            enc.submit(0, src.tm(det.apid, 140, 1, det.encode({p.name: 1 for p in det.parameters}), t))
        if k in (120, 121):  # on-board clocks before 1972 and at a leap second
            enc.submit(0, src.hk(HK[1], k, CucTime(coarse_s_raw=1000 + k, fine_raw=0)))
            enc.submit(0, src.hk(HK[1], k, at(LEAP, 0.5 + k - 120)))
        if k % 40 == 39:
            flush()
    stored = list(src.sent[20:30])
    for p in stored:  # the store replays packets the ground has (duplicates) ...
        enc.submit(REPLAY_VC, p)
    flush()
    for k in range(400, 460):  # ... and at the end a fingerprint that is not ours
        enc.submit(0, src.hk(HK[k % 4], k, at(T0, k * 0.25), DICTIONARY_ID=MISSION.fingerprint ^ 1))
    flush()
    del cadus[len(cadus) // 3]  # a CADU lost on the link: a frame gap, a packet cut
    w = RecordingWriter(path)
    for i, cadu in enumerate(cadus):
        w.send(cadu, ert_ns=1_796_000_000_000_000_000 + i * 5_000_000)
    w.close()
    return len(cadus)


def replay(rec: Path, db: Path, *, batch: bool) -> tuple[dict[str, list], dict[str, list], dict[str, Any]]:
    """The station over the recording: archive tables, live messages per topic, counters and what it knows
    of each parameter's freshness (the ERT of its newest value and the spacing of its last two)."""
    st = Station(down_url=f"file://{rec}", up_url="zmq://127.0.0.1:0", archive_path=db, api_url="tcp://127.0.0.1:0",
                 events_url="tcp://127.0.0.1:0", insecure=True)
    st.batch_packets = batch
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.connect(st.endpoints["events"])
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    deadline = time.monotonic() + 10
    while not st._subscriptions:  # the station has read the subscription: it will publish everything
        assert time.monotonic() < deadline, "the subscription never reached the station"
        time.sleep(0.01)
        st._read_subscriptions()
    messages: dict[str, list] = {}

    def drain(wait_ms: int) -> None:
        while sub.poll(wait_ms):
            topic, body = sub.recv_multipart()
            name = topic.decode()
            if name.split(".")[0] in ("parameter", "alarm", "event", "verification"):
                messages.setdefault(name, []).append(json.loads(body))

    try:
        while not st._down_done:
            st._turn()
            drain(0)
        counters = {**st.counters_dict()["station"],
                    "fresh": {name: f[:2] for name, f in sorted(st._fresh.items())}}
    finally:
        st.close()
    drain(500)
    sub.close(linger=0)
    with sqlite3.connect(db) as con:
        tables = {t: con.execute(f"SELECT {cols} FROM {t} ORDER BY id").fetchall() for t, cols in TABLES.items()}
    return tables, messages, counters


@pytest.mark.slow
def test_batch_path_archives_and_publishes_what_the_per_packet_path_does(tmp_path: Path) -> None:
    rec = tmp_path / "pass.ttcrec"
    n = recording(rec)
    ref_tables, ref_messages, ref_counters = replay(rec, tmp_path / "ref.db", batch=False)
    tables, messages, counters = replay(rec, tmp_path / "batch.db", batch=True)
    assert n > 20
    for t in TABLES:
        assert len(tables[t]) == len(ref_tables[t]), t
        for row, ref in zip(tables[t], ref_tables[t]):
            assert row == ref or _same_with_nan(row, ref), (t, row, ref)
    assert messages.keys() == ref_messages.keys()
    for topic in messages:
        assert _json_equal(messages[topic], ref_messages[topic]), topic
    keep = {k: v for k, v in counters.items() if k != "internal_errors"}
    assert keep == {k: v for k, v in ref_counters.items() if k != "internal_errors"}
    assert counters["internal_errors"] == ref_counters["internal_errors"] == 0
    # what the recording was made to hold did happen (so the comparison above covers it)
    names = {r[3] for r in ref_tables["events"]}
    assert {"PACKET_GAP", "FRAME_GAP", "DICTIONARY_VERIFIED", "DICTIONARY_MISMATCH", "TELEMETRY_WITHDRAWN",
            "BOOT", "BATTERY_VOLTAGE", "ADCS_RATE_X"} <= names, names
    states = [(r[2], r[3], r[4]) for r in ref_tables["alarms"]]
    assert ("BATTERY_VOLTAGE", "raised", 2) in states and ("BATTERY_VOLTAGE", "raised", 1) in states
    assert ("BATTERY_VOLTAGE", "cleared", 0) in states
    assert counters["duplicate_packets"] == 10 and counters["detections"] == 1 and counters["alarms_withdrawn"] >= 0
    obts = [r[8] for r in ref_tables["packets"]]
    assert None in obts and any("T23:59:60.5" in o for o in obts if o), "no packet before 1972 or in a leap second"
    assert any(r[6] == 3 for r in ref_tables["parameters"]), "no INVALID value"  # level 3: INVALID
    assert len(messages["parameter.BATTERY_VOLTAGE"]) > 50
    assert sum(f[1] is not None for f in counters["fresh"].values()) > 30


def _same_with_nan(row: tuple, ref: tuple) -> bool:
    """Rows equal where NaN (an invalid value, archived as SQLite NULL or NaN) counts as equal to itself."""
    return len(row) == len(ref) and all(a == b or (isinstance(a, float) and isinstance(b, float)
                                                   and math.isnan(a) and math.isnan(b)) for a, b in zip(row, ref))


def _json_equal(a: object, b: object) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
