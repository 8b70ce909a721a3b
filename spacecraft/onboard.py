"""The on-board software, sans-IO: CLTU octets and on-board time in, CADUs out.

:class:`OnboardComputer` owns the uplink decoder, the PUS dispatcher and
services, the subsystem models, on-board storage and the downlink
scheduler. It never reads a clock, a socket or a signal: the process loop
(:mod:`spacecraft.process`) or a test passes the on-board time (TAI seconds
since 1958) to :meth:`receive_uplink` and :meth:`advance`, and takes CADUs
with :meth:`next_cadu` / :meth:`cadu_sent` at the pace of the link.

Uplink: CLTUs of the dictionary's uplink settings (the reference: SCID of the
mission, VC 0, MAP 0, randomised, FECF) -> TC frames -> FARM-1
(:class:`protocol.cop1.Farm1`: AD frames in sequence only, BD frames bypass,
Unlock and Set V(R) obeyed; its CLCW goes in the OCF of every downlink frame)
-> TC packets -> :class:`spacecraft.services.Dispatcher`. FARM-1's state is
written to ``farm.json`` (fsync) before an accepted frame's command runs, so a
reboot neither runs a frame twice nor forgets V(R): at most once, and the
verification reports say what ran.

ADCS: :class:`spacecraft.attitude.AdcsUnit` in the ADCS slot. With
``OnboardConfig(adcs=True)`` (what ``python -m spacecraft`` runs unless
``--no-adcs``) the attitude simulation is stepped at 10 Hz of on-board time as
the models advance, flies the modes and target lists of the service 8 ADCS
functions with the gains of service 20, and reports HK_ADCS and its events;
without it (the sans-IO default, so the other tests stay fast) ADCS commands
only record the mode and HK_ADCS is refused.

Mission: everything this software and the ground must agree on comes from
``OnboardConfig.mission`` (a :class:`protocol.dictionary.MissionDictionary`,
the reference satellite unless ``--mission`` says otherwise): SCID, link
settings, APIDs and their virtual channels, housekeeping layouts, event IDs and
auxiliary data layouts, service-20 parameters, function IDs, time code. The
handlers are this software's: standard PUS services bound to whichever APID
the dictionary declares their commands on, service-8 functions by command
name (PAYLOAD_POWER, ADCS_SET_MODE, ...), housekeeping values by parameter
name from the models; a declared command this software cannot execute is
listed in the boot log and refused: at acceptance (TM[1,2]) when nothing here
serves its APID/service/subtype, at start (TM[1,4] FUNCTION_FAILED) when it
shares them with a function that is implemented (a TC[8,1] of another name).

Telemetry: PUS-C TM stamped with the on-board time (the dictionary's time
code; the reference: CUC 4+2, TAI), stored in the packet store before
anything is transmitted. Every APID travels on one VC (the dictionary's
allocation), so one source sequence count per APID is continuous on the
ground (CCSDS 133.0-B-2 §4.1.3.4.2). Counts and the reboot count continue
across restarts (state file, plus the packets logged after it).
"""

from __future__ import annotations

import json
import logging
import math
import random
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocol.clcw import Clcw
from protocol.cop1 import FARM_WINDOW, Farm1
from protocol.sdls import Refusal, SdlsReceiver, SecurityAssociation, SecurityError, parse_key_store
from protocol.errors import ProtocolError
from protocol.dictionary import DictionaryError, Fixed, MissionDictionary, UnknownName
from protocol.mission import MISSION
from protocol.pus import (
    AcceptanceFailure,
    AcceptanceSuccess,
    Body,
    CompletionFailure,
    CompletionSuccess,
    CucTimeReport,
    FailureCode,
    FailureNotice,
    ParameterValue,
    ParameterValueReport,
    ProgressSuccess,
    PusTc,
    PusTm,
    RequestId,
    ScheduleRequestId,
    ScheduleSummaryEntry,
    ScheduleSummaryReport,
    StartFailure,
    StartSuccess,
    StoreAcknowledge,
    StoreApplicationStatus,
    StoreRange,
    StoreRetransmit,
    StoreStatusReport,
    StoreUnavailableReport,
)
from protocol.spacepacket import SEQ_COUNT_MODULO
from protocol.stack import TcFrameReceived, TcFrameRejected, TcPacketReceived, UplinkConfig, UplinkDecoder
from protocol.tcframe import FrameType, TcFrame

from .attitude import AdcsUnit, GroundTarget
from .clock import cuc
from .contactplan import ContactPlan, ContactPlanError, Window
from .downlink import Downlink
from .flightlog import FlightLog
from .services import (
    Dispatcher,
    EventReporting,
    Execution,
    Housekeeping,
    Parameters,
    Refused,
    Scheduler,
    TimeReporting,
    encode_hk,
)
from .storage import PacketStore, StateFile
from .payload.imager import ImagerConfig
from .payload.unit import PayloadUnit
from .subsystems import Orbit, Power, Thermal

__all__ = ["MAX_STEP_S", "UPLINK", "OnboardComputer", "OnboardConfig"]

log = logging.getLogger("spacecraft.onboard")

UPLINK: UplinkConfig = MISSION.uplink  # the reference satellite's uplink (tests encode CLTUs with it)
MAX_STEP_S = 1.0  # longest step of the subsystem models
SECURITY_REPORT_PERIOD_S = 1.0  # at most one SECURITY_REJECTED event a second (a flood must not flood the downlink)
_REFUSAL_CODES = {Refusal.UNKNOWN_SPI: 1, Refusal.WRONG_CHANNEL: 2, Refusal.TRUNCATED: 3, Refusal.REPLAY: 4,
                  Refusal.OUTSIDE_WINDOW: 5, Refusal.BAD_MAC: 6, Refusal.NO_KEY: 7}
UPLINK_REPORT_PERIOD_S = 10.0  # at most one UPLINK_REJECTED event per this many on-board seconds
STATE_SAVE_PERIOD_S = 30.0
MAX_RANGES_PER_REPORT = 64  # TM[15,131] entries per packet (6 octets each)


@dataclass(frozen=True, slots=True, kw_only=True)
class OnboardConfig:
    """Options of the on-board software."""

    seed: int = 0
    hk_interval_s: float = 5.0
    time_report_exponent: int = 6  # a TM[9,2] every 64 s until TC[9,1] says otherwise
    storage_octets: int = 16 << 20
    state_dir: Path | None = None
    adcs: bool = False  # step the attitude simulation (the process turns it on; sans-IO tests choose)
    adcs_max_steps: int | None = None  # control steps per advance at most, beyond: jump (None: always simulate)
    adcs_tle: tuple[str, ...] | None = None  # the orbit (default: spacecraft.adcs.DEFAULT_TLE)
    mission: MissionDictionary = MISSION  # the contract with the ground
    imager: ImagerConfig | None = None  # the imager and the world it sees (default: ImagerConfig())
    image_store_octets: int = 256 << 20  # the image store (captures beyond it are refused)
    downlink_fifo: bool = False  # oldest packet first, whatever its VC (a baseline, not how to fly)
    flight_log: Path | None = None  # the spacecraft's own record of packets and TC outcomes (tools/chaos.py)
    sdls: SdlsKeyStore | None = None  # SDLS on the uplink: only frames that pass it reach FARM-1 (None: none)
    store_report_interval_s: float = 10.0  # a TM[15,130] store status report this often (0: only on request)


_VERIFICATION = {1: AcceptanceSuccess, 3: StartSuccess, 7: CompletionSuccess, 4: StartFailure, 8: CompletionFailure}


@dataclass(frozen=True)
class SdlsKeyStore:
    """The spacecraft's SDLS key store: its SAs and keys (from ``ttc keys export-onboard``'s file)."""

    sas: list[SecurityAssociation]
    keys: dict[int, bytes] = field(repr=False)

    @classmethod
    def load(cls, path: Path) -> SdlsKeyStore:
        """Read the key store at ``path``: refused unless only its owner may read it (mode 0600)."""
        st = path.stat()
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise PermissionError(f"SDLS key store {path} has mode {stat.S_IMODE(st.st_mode):04o}: group or others "
                                  f"may read it; allowed 0600 (chmod 600 {path})")
        try:
            sas, keys = parse_key_store(json.loads(path.read_text(encoding="ascii")))
        except (ValueError, UnicodeDecodeError) as e:
            raise ValueError(f"SDLS key store {path}: {type(e).__name__}: {e}") from None
        return cls(sas, keys)


class OnboardComputer:
    """The spacecraft's software: uplink in, services and subsystem models, downlink out."""

    def __init__(self, config: OnboardConfig, *, boot_tai_s: float) -> None:
        self.config = config
        self.mission = mission = config.mission
        self.boot_tai_s = self.now_tai_s = float(boot_tai_s)
        self.rng = random.Random(config.seed)
        state_dir = config.state_dir
        self.state = StateFile(state_dir / "state.json" if state_dir else None)
        self.flight_log = FlightLog(config.flight_log)
        self.store = PacketStore(state_dir, vc_priorities=mission.link.downlink.priorities,
                                 capacity_octets=config.storage_octets, replay_vcid=mission.link.downlink.replay_vcid)
        self._store_apid = mission.apid_of_service(15)  # None: the dictionary declares no store service
        self.downlink = Downlink(self.store, mission=mission, fifo=config.downlink_fifo)
        self.uplink = UplinkDecoder(mission.uplink, deliver_packets=False)  # FARM-1 decides what goes on
        self._farm_file = StateFile(state_dir / "farm.json" if state_dir else None)
        self.farm = Farm1.restore(mission.uplink.vcid, self._farm_file.data, window=FARM_WINDOW)
        self.sdls: SdlsReceiver | None = None
        if config.sdls is not None:
            saved = self._farm_file.data.get("sdls", {})
            state = {int(k): v for k, v in saved.items() if str(k).isdigit() and isinstance(v, int)} \
                if isinstance(saved, dict) else {}
            self.sdls = SdlsReceiver(config.sdls.sas, config.sdls.keys.get, state=state, fecf=mission.uplink.fecf)
        self._security_reported_tai = -math.inf
        self._security_unreported = 0
        self.tc_frames_accepted = 0
        self.uplink_errors = 0  # decoder exceptions (should stay 0: the stack turns bad input into events)

        # persistent state
        self.reboot_count = int(self.state.data.get("reboot_count", 0)) + 1
        self._seq: dict[int, int] = {}  # APID -> next source sequence count
        for key, value in self.state.data.get("sequence_counts", {}).items():
            apid, _, vc = str(key).partition(":")  # "apid" (or "apid:vc" before counts ran per APID)
            if apid.isdigit() and isinstance(value, int) and (not vc or self._vc_or_none(int(apid)) == int(vc)):
                self._seq[int(apid)] = value % SEQ_COUNT_MODULO
        self._resume_sequence_counts(int(self.state.data.get("next_record", 0)))
        self._msg_counter: dict[tuple[int, int, int], int] = {}

        # subsystems
        self.orbit = Orbit(phase_s=self.rng.uniform(0, 95 * 60.0))
        self.power = Power(self.rng, soc_pct=self.rng.uniform(70, 90))
        self.thermal = Thermal(self.rng)
        self.adcs = AdcsUnit(boot_tai_s=self.boot_tai_s, simulate=config.adcs, seed=config.seed,
                             max_steps=config.adcs_max_steps, tle=config.adcs_tle)
        self.payload = PayloadUnit(self, config=config.imager or ImagerConfig(), state_dir=state_dir,
                                   store_octets=config.image_store_octets, seed=config.seed)
        self.power.step(0.0, sun_factor=self.orbit.sun_factor, imager_on=False, heater_on=False)
        self._was_eclipse = self.orbit.in_eclipse
        self._battery_low = False

        # services
        self.params = Parameters(mission, self.state.data.get("parameters", {}))
        self.hk = Housekeeping(mission, interval_s=config.hk_interval_s, now_tai_s=self.now_tai_s)
        self.events = EventReporting()
        self.event_errors = 0  # events the dictionary does not declare, or whose auxiliary data it lays out otherwise
        self.time_reports = TimeReporting(config.time_report_exponent, self.now_tai_s)
        self._time_apid = mission.apid_of_service(9)
        if self._time_apid is None:  # the dictionary has no time-management application: no reports, ever
            self.time_reports.next_due_tai_s = math.inf
        self.schedule = Scheduler()
        self.contacts = ContactPlan.from_saved(self.state.data.get("contact_plan"))
        self.dispatcher = Dispatcher(self)
        for s in self.hk.structures.values():  # nothing to report without the dynamics
            s.enabled = s.enabled and self.hk_available(s.declaration.sid)
        self._functions: dict[str, Any] = {  # service 8 functions this software performs, by command name
            "PAYLOAD_POWER": self._platform_function, "ADCS_SET_MODE": self._platform_function,
            "ADCS_SET_TARGET": self._platform_function, "ADCS_ADD_TARGET": self._platform_function,
            "ADCS_CLEAR_TARGETS": self._platform_function, "CONTACT_ADD": self._contact_function,
            "CONTACT_CLEAR": self._contact_function,
            **{name: self.payload.handle for name in ("IMAGER_CAPTURE", "IMAGER_CAPTURE_TARGET", "IMAGER_CAPTURE_STRIP",
                                                      "IMAGE_LIST", "IMAGE_DELETE", "IMAGE_PLAYBACK")}}
        self._register()
        self._uplink_reported = (0, 0)
        self._next_uplink_check = self.now_tai_s + UPLINK_REPORT_PERIOD_S
        self._storage_dropped_reported = self.store.dropped
        self._next_state_save = self.now_tai_s + STATE_SAVE_PERIOD_S
        self._next_store_report = (self.now_tai_s if config.store_report_interval_s > 0 and self._store_apid is not None
                                   else math.inf)
        self._apply_parameters()

        self._save_state()
        self.flight_log.boot(self.reboot_count)
        log.info("boot %d: %d stored packets restored", self.reboot_count, self.store.restored)
        self.event("BOOT", REBOOT_COUNT=self.reboot_count, DICTIONARY_ID=self.mission.fingerprint)
        self.advance(self.now_tai_s)

    # ============================================================ time and models
    def advance(self, now_tai_s: float) -> None:
        """Run the models and periodic services up to on-board time ``now_tai_s``."""
        if now_tai_s < self.now_tai_s:
            return  # the on-board clock never runs backwards
        self.adcs.catch_up(now_tai_s)
        while True:
            self._run_due()
            if self.now_tai_s >= now_tai_s:
                break
            t_next = min(now_tai_s, self.now_tai_s + MAX_STEP_S, self._next_due_tai_s())
            self._step_models(t_next - self.now_tai_s)
            self.now_tai_s = t_next
            self.adcs.advance_to(t_next)
            self._adcs_events()

    def _next_due_tai_s(self) -> float:
        return min(self.hk.next_due_tai_s(), self.time_reports.next_due_tai_s, self.schedule.next_due_tai_s(),
                   self._next_uplink_check, self._next_state_save, self.payload.next_due_tai_s(),
                   self._next_store_report)

    def _step_models(self, dt_s: float) -> None:
        if dt_s <= 0:
            return
        self.orbit.step(dt_s)
        sun = self.orbit.sun_factor
        self.thermal.setpoint_c = self.params.engineering("HEATER_SETPOINT")
        self.thermal.step(dt_s, sun_factor=sun, imager_on=self.payload.powered)
        self.power.step(dt_s, sun_factor=sun, imager_on=self.payload.powered, heater_on=self.thermal.heater_on)
        eclipse = self.orbit.in_eclipse
        if eclipse != self._was_eclipse:
            self._was_eclipse = eclipse
            self.event("ECLIPSE_ENTRY" if eclipse else "ECLIPSE_EXIT")
        threshold = self.params.engineering("BATTERY_LOW_THRESHOLD")
        if not self._battery_low and self.power.soc_pct < threshold:
            self._battery_low = True
            self.event("BATTERY_LOW", BATTERY_SOC=int(self.power.soc_pct))
        elif self._battery_low and self.power.soc_pct > threshold + 5:
            self._battery_low = False

    def _run_due(self) -> None:
        now = self.now_tai_s
        for sid in self.hk.due(now):
            self.send_hk(sid)
        if self.time_reports.next_due_tai_s <= now:
            self.send_time_report()
        for entry in self.schedule.pop_due(now):
            rid = entry.request_id
            self.event("SCHEDULED_TC_RELEASED", SOURCE_ID=rid.source_id, APID=rid.apid,
                       SEQUENCE_COUNT=rid.sequence_count)
            self.dispatcher.execute(entry.tc)
        self.payload.run_due(now)
        if self._next_uplink_check <= now:
            self._next_uplink_check = now + UPLINK_REPORT_PERIOD_S
            self._report_uplink_rejections()
        if self._next_state_save <= now:
            self._next_state_save = now + STATE_SAVE_PERIOD_S
            self._save_state()
        if self._next_store_report <= now:
            self._next_store_report = now + self.config.store_report_interval_s
            self.send_store_status()
        if self.store.dropped != self._storage_dropped_reported:
            self._storage_dropped_reported = self.store.dropped
            self.event("STORAGE_FULL", PACKETS_DROPPED=self.store.dropped & 0xFFFFFFFF)

    # ============================================================ uplink
    def receive_uplink(self, data: bytes, now_tai_s: float) -> None:
        """Octets received on the uplink (CLTUs, or anything else) at on-board time ``now_tai_s``."""
        self.advance(now_tai_s)
        try:
            self.uplink.feed(data)
            events = list(self.uplink.events())
        except ProtocolError as e:  # the stack reports bad input as events; count anything else it raises
            self.uplink_errors += 1
            log.warning("uplink decoder refused input: %s", e)
            return
        for ev in events:
            if isinstance(ev, TcFrameReceived):
                frame = ev.frame
                if self.sdls is not None:
                    try:
                        frame = self.sdls.process(frame)
                    except SecurityError as e:
                        self._security_refused(e, sum(self.sdls.counters.refused.values()))
                        continue
                self._farm_frame(frame)
            elif isinstance(ev, TcFrameRejected):
                self.farm.invalid_frame()  # E9
                log.info("uplink frame rejected: %s", ev.error)
        self._run_due()  # what a command made due (a report on enable, a released schedule) goes at once

    def _farm_frame(self, frame: TcFrame) -> None:
        """FARM-1 on one valid frame; what it accepts runs, after its state is on disk."""
        verdict = self.farm.frame(frame)
        self._save_farm()  # before the command runs: a reboot never accepts this frame again
        if not verdict.accepted:
            log.info("FARM-1 did not pass on a %s frame N(S)=%d: %s", frame.frame_type.name, frame.sequence_number,
                     verdict.reason)
            return
        self.tc_frames_accepted += 1
        for ev in self.uplink.packets_of(frame):
            if isinstance(ev, TcPacketReceived):
                self.dispatcher.receive(ev.data)

    def _security_refused(self, e: SecurityError, refused: int) -> None:
        """A frame SDLS refused: never seen by FARM-1 (an invalid frame to it, E9), counted, and reported
        as SECURITY_REJECTED with its reason, at most once a second (the count covers those between)."""
        self.farm.invalid_frame()
        self._save_farm()  # nothing SDLS refused moves its window, but FARM-1's E9 count goes along
        log.info("SDLS refused an uplink frame: %s", e)
        self._security_unreported += 1
        if self.now_tai_s - self._security_reported_tai < SECURITY_REPORT_PERIOD_S:
            return
        self._security_reported_tai = self.now_tai_s
        self._security_unreported = 0
        self.event("SECURITY_REJECTED", REASON=_REFUSAL_CODES[e.reason], SPI=(e.spi or 0) & 0xFFFF,
                   FRAMES_REFUSED=refused & 0xFFFFFFFF)

    def _save_farm(self) -> None:
        """Write FARM-1's state when it changed (V(R), state, flags; the FARM-B counter goes along, but a
        change of it alone, one per BD frame, is not worth an fsync)."""
        snap = self.farm.snapshot()
        if self.sdls is not None:  # the anti-replay windows too: a reboot must not accept a frame again
            snap["sdls"] = {str(spi): last for spi, last in self.sdls.state().items()}
        old = self._farm_file.data
        if any(snap[k] != old.get(k) for k in snap if k != "farm_b_counter"):
            self._farm_file.data = snap
            self._farm_file.save()

    def _report_uplink_rejections(self) -> None:
        c = self.uplink.counters
        now = (c.frames_rejected, c.skipped_octets)
        if now != self._uplink_reported:
            self._uplink_reported = now
            self.event("UPLINK_REJECTED", FRAMES_REJECTED=c.frames_rejected & 0xFFFFFFFF,
                       OCTETS_SKIPPED=c.skipped_octets & 0xFFFFFFFF)

    # ============================================================ downlink
    @property
    def clcw(self) -> Clcw:
        """The CLCW placed in every frame's OCF: FARM-1's report (232.1-B-2 §4.2)."""
        return self.farm.clcw()

    def next_cadu(self) -> bytes:
        """The next CADU to transmit (idle when nothing waits)."""
        cadu = self.downlink.next_cadu(ocf_raw=self.clcw.to_int())
        self.payload.after_frame()  # what waited for this frame (images to store) comes after it
        return cadu

    def cadu_sent(self) -> None:
        """The CADUs taken so far were transmitted."""
        self.downlink.cadu_sent()

    def _vc_or_none(self, apid: int) -> int | None:
        try:
            return self.mission.vc_of(apid)
        except DictionaryError:
            return None

    def emit(self, apid: int, service: int, subtype: int, source_data: bytes, *,
             time_tai_s: float | None = None) -> bytes:
        """Build a TM packet stamped with the on-board time (or ``time_tai_s``: when what it reports happened)
        and store it for downlink on its APID's VC."""
        vc = self.mission.vc_of(apid)
        seq = self._seq.get(apid, 0)  # one count per APID: its VC keeps the packets in order
        self._seq[apid] = (seq + 1) % SEQ_COUNT_MODULO
        key = (apid, service, subtype)
        counter = self._msg_counter.get(key, 0)
        self._msg_counter[key] = (counter + 1) % 0x10000
        packet = PusTm(apid=apid, service=service, subtype=subtype,
                       time=self.time(self.now_tai_s if time_tai_s is None else time_tai_s),
                       source_data=source_data, sequence_count=seq, message_type_counter=counter).encode()
        self.downlink.queue(vc, packet)
        self.flight_log.packet(packet, self.now_tai_s if time_tai_s is None else time_tai_s)
        return packet

    def emit_body(self, apid: int, body: Body) -> bytes:
        """Build and store a TM carrying a typed PUS body."""
        return self.emit(apid, body.KEY.service, body.KEY.subtype, body.encode())

    # ============================================================ reports
    def verification(self, tc: PusTc, subtype: int, *, step_id: int = 0, failure: Refused | None = None) -> None:
        """Emit the TM[1,subtype] verification report of ``tc``."""
        rid = tc.request_id
        if subtype == 5:
            body: Body = ProgressSuccess(rid, step_id)
        elif failure is not None:
            body = _VERIFICATION[subtype](rid, FailureNotice(failure.code, failure.data))
            log.info("TC %d/%d TM[1,%d] %s", tc.apid, tc.sequence_count, subtype, failure)
        else:
            body = _VERIFICATION[subtype](rid)
        self.emit_body(tc.apid, body)

    def acceptance_failure(self, rid: RequestId, apid: int, failure: Refused) -> None:
        """Emit TM[1,2] and the TC_REJECTED event for a TC that failed acceptance."""
        log.info("TC %d/%d rejected: %s", rid.apid, rid.sequence_count, failure)
        self.emit_body(apid, AcceptanceFailure(rid, FailureNotice(failure.code, failure.data)))
        self.event("TC_REJECTED", REQUEST_ID=int.from_bytes(rid.encode(), "big"), FAILURE_CODE=int(failure.code))

    def time(self, tai_s: float) -> Any:
        """The TM time stamp of an on-board instant, in the dictionary's time code."""
        return cuc(tai_s, config=self.mission.time_config)

    def event(self, name: str, *aux: Any, **named: Any) -> None:
        """Raise event ``name`` with its auxiliary data (by the dictionary's layout) as a TM[5,severity] if enabled."""
        self.events.raised[name] = self.events.raised.get(name, 0) + 1
        try:
            definition = self.mission.event_named(name)
        except UnknownName:
            self.event_errors += 1
            log.warning("event %s is not in the mission dictionary: not reported", name)
            return
        if not self.events.enabled(definition.event_id) or self.mission.event_apid is None:
            self.events.suppressed += 1
            return
        try:
            data = definition.encode_aux(*aux, **named)
        except DictionaryError as e:  # the dictionary lays the data out with fields this software does not have
            self.event_errors += 1
            log.warning("event %s reported without auxiliary data: %s", name, e)
            data = b""
        self.emit(self.mission.event_apid, 5, int(definition.severity), definition.event_id.to_bytes(2, "big") + data)

    def hk_available(self, sid: int | None) -> bool:
        """Whether this software has a value for every parameter of structure ``sid`` (ADCS ones need the dynamics)."""
        decl = self.hk.structures[sid].declaration if sid in self.hk.structures else None
        if decl is None:
            return False
        known = set(self.parameter_values()) | (set(self.adcs.housekeeping()) if self.adcs.simulated else set())
        return all(p.name in known for p in decl.parameters)

    def send_hk(self, sid: int) -> None:
        """Emit the TM[3,25] report of structure ``sid`` with the current values."""
        decl = self.hk.structures[sid].declaration
        values = self.parameter_values()
        if self.adcs.simulated and any(p.name not in values for p in decl.parameters):
            values |= self.adcs.housekeeping()
        self.emit(decl.apid, 3, 25, encode_hk(decl, values))
        self._adcs_events()

    def _adcs_events(self) -> None:
        for name, *aux in self.adcs.take_events():
            self.event(name, *aux)
            self.payload.adcs_event(name, tuple(aux))

    def send_time_report(self) -> None:
        """Emit a TM[9,2] CUC time report; the next one follows one period later."""
        if self._time_apid is None:
            return
        self.emit_body(self._time_apid, CucTimeReport(self.time_reports.rate_exponent, self.time(self.now_tai_s)))
        self.time_reports.next_due_tai_s = self.now_tai_s + self.time_reports.period_s

    def send_store_status(self) -> None:
        """Emit the TM[15,130] store status report: use, overwritten packets, and per APID what is held and sent."""
        if self._store_apid is None:
            return
        st = self.store
        entries = tuple(StoreApplicationStatus(t.apid, t.first_stored, t.next_unsent, min(t.stored, 0xFFFFFFFF))
                        for t in st.totals(self._seq))
        self.emit_body(self._store_apid, StoreStatusReport(min(st.used_octets, 0xFFFFFFFF),
                                                          min(st.capacity_octets, 0xFFFFFFFF),
                                                          st.dropped & 0xFFFFFFFF, entries))

    def parameter_values(self) -> dict[str, float | int]:
        """Engineering values of every housekeeping parameter, from the models and the software."""
        p, t = self.power, self.thermal
        c = self.dispatcher.counters
        return {
            "BATTERY_VOLTAGE": p.voltage_v, "BATTERY_CURRENT": p.current_a, "BATTERY_SOC": round(p.soc_pct),
            "SOLAR_POWER": p.solar_w, "IN_ECLIPSE": "YES" if self.orbit.in_eclipse else "NO",
            "PAYLOAD_POWERED": "ON" if self.payload.powered else "OFF",
            "OBC_TEMP": t.reading(t.obc_c), "BATTERY_TEMP": t.reading(t.battery_c),
            "PANEL_TEMP": t.reading(t.panel_c), "HEATER_SETPOINT": self.params.engineering("HEATER_SETPOINT"),
            "HEATER_ON": "ON" if t.heater_on else "OFF",
            "UPTIME": int(self.now_tai_s - self.boot_tai_s), "REBOOT_COUNT": self.reboot_count,
            "FREE_STORAGE": (self.store.capacity_octets - self.store.used_octets) // 1024,
            "STORED_PACKETS": len(self.store), "TC_ACCEPTED": c.accepted & 0xFFFF, "TC_REJECTED": c.rejected & 0xFFFF,
            "ADCS_MODE": self.adcs.mode, "SCHEDULED_TCS": len(self.schedule.entries),
            "DICTIONARY_ID": self.mission.fingerprint,
        }

    # ============================================================ service handlers
    def _register(self) -> None:
        """Bind this software's service handlers to the APIDs the dictionary declares their commands on."""
        handlers: dict[tuple[int, int], Any] = {
            (17, 1): lambda tc, cmd, args, ex: self.emit(tc.apid, 17, 2, b""),
            (3, 5): self._hk_enable, (3, 6): self._hk_enable, (3, 27): self._hk_report, (3, 31): self._hk_interval,
            (5, 5): self._event_enable, (5, 6): self._event_enable, (9, 1): self._time_rate,
            (11, 1): self._schedule_enable, (11, 2): self._schedule_enable, (11, 5): self._schedule_delete,
            (11, 17): self._schedule_report, (20, 1): self._param_report, (20, 3): self._param_set,
            (15, 132): self._store_report,
            (8, 1): self._function,
        }
        d = self.dispatcher.register
        unknown = []
        for cmd in self.mission.commands.values():
            handler = handlers.get((cmd.service, cmd.subtype))
            if handler is None:
                unknown.append(cmd.name)
                continue
            if cmd.service == 8 and cmd.name not in self._functions:
                unknown.append(cmd.name)
                continue  # TC[8,1] with this function ID fails acceptance (no handler for its application data)
            d(cmd.apid, cmd.service, cmd.subtype, handler)
        scheduler = self.mission.apid_of_service(11)
        if scheduler is not None:  # TC[11,4] carries whole TCs: the typed PUS body, not a declared command
            d(scheduler, 11, 4, self._schedule_insert)
        if self._store_apid is not None:  # the station's acknowledgements and requests: typed PUS bodies
            d(self._store_apid, 15, 128, self._store_acknowledge)
            d(self._store_apid, 15, 129, self._store_retransmit)
        if unknown:
            log.warning("commands of the dictionary this software cannot execute (refused, TM[1,2] or TM[1,4]): %s",
                        ", ".join(unknown))
        self.unimplemented_commands = tuple(unknown)

    def _function(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        function = self._functions.get(cmd.name)
        if function is None:  # declared on an APID where another function is implemented
            raise Refused(FailureCode.FUNCTION_FAILED, f"{cmd.name} not implemented")
        function(tc, cmd, args, ex)

    def _hk_report(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        sid = int(args["SID"])
        if not self.hk_available(sid):
            raise Refused(FailureCode.WRONG_MODE, "ADCS simulation off" if not self.adcs.simulated else "no values")
        self.send_hk(sid)

    def _hk_enable(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        s = self.hk.structures[int(args["SID"])]
        enable = tc.subtype == 5
        if enable and not self.hk_available(int(args["SID"])):
            raise Refused(FailureCode.WRONG_MODE, "ADCS simulation off" if not self.adcs.simulated else "no values")
        if enable and not s.enabled:
            s.next_due_tai_s = self.now_tai_s  # the first report follows at once
        s.enabled = enable

    def _hk_interval(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        s = self.hk.structures[int(args["SID"])]
        s.interval_s = float(args["INTERVAL"])
        s.next_due_tai_s = self.now_tai_s + s.interval_s

    def _event_enable(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        event_id = int(args["EVENT_ID"])
        if tc.subtype == 5:
            self.events.disabled.discard(event_id)
        else:
            self.events.disabled.add(event_id)

    def _time_rate(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        self.time_reports.rate_exponent = int(args["RATE_EXPONENT"])
        ex.start()
        self.send_time_report()  # the first report at once

    def _schedule_enable(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        self.schedule.enabled = tc.subtype == 1

    def _schedule_insert(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        self.schedule.insert(args["body"], now_tai_s=self.now_tai_s)

    def _schedule_delete(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        self.schedule.delete(ScheduleRequestId(source_id=int(args["SOURCE_ID"]), apid=int(args["APID"]),
                                               sequence_count=int(args["SEQUENCE_COUNT"])))

    def _schedule_report(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        entries = tuple(ScheduleSummaryEntry(self.time(e.release_tai_s), e.request_id) for e in self.schedule.entries)
        ex.start()
        self.emit_body(tc.apid, ScheduleSummaryReport(entries))

    def _store_report(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        ex.start()
        self.send_store_status()

    def _store_acknowledge(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        body: StoreAcknowledge = args["body"]
        for ack in body.acks:
            self.store.acknowledge(ack.apid, ack.next_count)

    def _store_retransmit(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        body: StoreRetransmit = args["body"]
        if self.store.replay_vcid is None:
            raise Refused(FailureCode.WRONG_MODE, "no replay VC in the dictionary")
        missing: list[StoreRange] = []
        for r in body.ranges:
            missing.extend(StoreRange(r.apid, first, n) for first, n in self.store.retransmit(r.apid, r.first_count,
                                                                                             r.packets))
        ex.start()
        for i in range(0, len(missing), MAX_RANGES_PER_REPORT):
            self.emit_body(tc.apid, StoreUnavailableReport(tuple(missing[i:i + MAX_RANGES_PER_REPORT])))

    def _param_report(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        pid = int(args["PARAMETER_ID"])
        ex.start()
        self.emit_body(tc.apid, ParameterValueReport((ParameterValue(pid, self.params.value_octets(pid)),)))

    def _param_set(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        pid = next(f.value for f in cmd.fields if isinstance(f, Fixed) and f.name == "PARAMETER_ID")
        old = self.params.raw[pid]
        self.params.raw[pid] = args["VALUE"]
        try:
            self._apply_parameters()
        except Refused:  # a combination the models refuse (ADCS gains): nothing changes
            self.params.raw[pid] = old
            raise
        self._save_state()

    def _apply_parameters(self) -> None:
        e = self.params.engineering
        self.thermal.setpoint_c = e("HEATER_SETPOINT")
        self.adcs.set_gains(attitude_gain_per_s=e("ADCS_ATTITUDE_GAIN"), rate_gain_per_s=e("ADCS_RATE_GAIN"),
                            integral_gain_per_s2=e("ADCS_INTEGRAL_GAIN"),
                            max_slew_rate_deg_s=e("ADCS_MAX_SLEW_RATE"))

    def _contact_function(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        """CONTACT_ADD / CONTACT_CLEAR: the contact plan (saved at once: it survives a reboot)."""
        if cmd.name == "CONTACT_CLEAR":
            self.contacts.clear()
        else:
            aos = float(args["AOS"])
            try:
                self.contacts.add(Window(aos, aos + float(args["DURATION"]), float(args["RATE_BPS"]),
                                         int(args["STATION"])))
            except ContactPlanError as e:
                raise Refused(FailureCode.FUNCTION_FAILED, str(e)) from e
        self._save_state()

    def transmitter(self, tai_s: float) -> float | None:
        """The downlink rate (bits per on-board second) of the contact window at ``tai_s``; 0.0 with no plan
        loaded or none of its windows still ahead (on, at the process's own rate); None when a window is ahead
        but none holds ``tai_s`` (off: the store keeps everything for that window)."""
        if self.contacts.next_window(tai_s) is None:  # no plan, or it has run out: never fall silent for want of one
            return 0.0
        w = self.contacts.window_at(tai_s)
        return None if w is None else w.rate_bps

    def _platform_function(self, tc: PusTc, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        if cmd.name == "PAYLOAD_POWER":
            on = bool(args["STATE"])
            if on != self.payload.powered:
                self.payload.power(on)
                self.event("PAYLOAD_POWER_CHANGED", STATE=int(on))
        else:  # the ADCS refuses what it cannot start before it changes anything (TM[1,4])
            try:
                if cmd.name == "ADCS_SET_MODE":
                    self.adcs.set_mode(int(args["MODE"]))
                elif cmd.name == "ADCS_SET_TARGET":
                    ex.start()  # the list is replaced; a target without a pass fails to complete (TM[1,8])
                    self.adcs.set_target(GroundTarget.from_args(args))
                elif cmd.name == "ADCS_ADD_TARGET":
                    self.adcs.add_target(GroundTarget.from_args(args))
                elif cmd.name == "ADCS_CLEAR_TARGETS":
                    self.adcs.clear_targets()
            finally:
                self._adcs_events()

    # ============================================================ state
    def _resume_sequence_counts(self, saved_next_record: int) -> None:
        """Sequence counts continue after the newest packet the log holds beyond the saved state."""
        newest: dict[int, tuple[int, int]] = {}
        for (_vc, apid), (record, seq) in self.store.log_heads.items():
            if record >= saved_next_record and record >= newest.get(apid, (-1, 0))[0]:
                newest[apid] = (record, seq)
        for apid, (_record, seq) in newest.items():
            self._seq[apid] = (seq + 1) % SEQ_COUNT_MODULO

    def _save_state(self) -> None:
        self.state.data.update(
            reboot_count=self.reboot_count, parameters=self.params.as_saved(),
            sequence_counts={str(apid): v for apid, v in self._seq.items()}, next_record=self.store.next_record,
            contact_plan=self.contacts.as_saved())
        self.state.save()

    def counters(self) -> dict[str, Any]:
        """Everything counted, as plain JSON data."""
        return {
            "uplink": vars(self.uplink.counters) | {"decoder_errors": self.uplink_errors,
                                                    "tc_frames_accepted": self.tc_frames_accepted},
            "farm": self.farm.snapshot() | {"events": {e.name: n for e, n in self.farm.counts.items() if n}},
            "sdls": None if self.sdls is None else {"accepted": self.sdls.counters.accepted,
                                                    "refused": dict(self.sdls.counters.refused)},
            "tc": vars(self.dispatcher.counters).copy(),
            "events": dict(self.events.raised),
            "event_errors": self.event_errors,
            "downlink": {"cadus": self.downlink.cadus, "idle_cadus": self.downlink.idle_cadus,
                         "stored_packets": len(self.store), "stored_octets": self.store.used_octets,
                         "storage_dropped": self.store.dropped, "restored": self.store.restored,
                         "acknowledged": self.store.acknowledged, "acks_ignored": self.store.acks_ignored,
                         "retransmit_queued": self.store.retransmit_queued, "unavailable": self.store.unavailable},
            "contact_plan": {"windows": len(self.contacts),
                             "next": None if (w := self.contacts.next_window(self.now_tai_s)) is None
                             else {"aos_tai_s": w.aos_tai_s, "los_tai_s": w.los_tai_s, "rate_bps": w.rate_bps}},
            "schedule": {"entries": len(self.schedule.entries), "released": self.schedule.released},
            "adcs": self.adcs.counters(),
            "payload": self.payload.counters(),
        }

    def shutdown(self) -> None:
        """Persist the state and close the store (images still waiting to be stored are stored first)."""
        self.payload.after_frame()
        self._save_state()
        self._farm_file.data = self.farm.snapshot() | (  # the FARM-B counter too
            {"sdls": {str(k): v for k, v in self.sdls.state().items()}} if self.sdls is not None else {})
        self._farm_file.save()
        self.store.close()
        self.flight_log.close()

