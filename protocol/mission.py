"""The ttc reference satellite: a 6U Earth-observation nanosatellite, declared with :mod:`protocol.dictionary`.

:data:`MISSION` is its :class:`~protocol.dictionary.MissionDictionary`, the
default of every command and both processes (``--mission PATH`` /
``TTC_MISSION`` load another one). The schema's names are re-exported here
so ``from protocol.mission import Parameter`` keeps working.

Applications (APIDs) and their virtual channels -- every APID on one VC, so
every APID's sequence count is continuous (CCSDS 133.0-B-2 §4.1.3.4):

* 0x10 OBC -- services 1, 3, 9, 11, 17, 20: housekeeping, service replies and
  the verification of its commands; VC 0, real time (priority 0).
* 0x11 OBC events -- the event reports TM[5,x] of the OBC's service 5; VC 1.
* 0x20 platform -- service 8 functions (power, ADCS); its TM[1,x] on VC 0.
* 0x30 imager -- service 8 capture and image store; its TM[1,x] and catalogue on VC 0.
* 0x31 imager bulk -- image parts TM[13,1..3]; VC 2, playback (priority 4, last).
* 0x32 imager alerts -- one DETECTION report TM[140,1] per fire, ship, flood or cloud-lost scene found by
  the onboard analysis; VC 3, ALERTS (priority 0: the most urgent, ahead of everything).
* 0x33 imager chips -- a 32 x 32 IMAGE_CHIP TM[140,2] around each detection; VC 4 (priority 3).
* VC 5, REPLAY (priority 3, beside the chips): packets of any APID the ground asked for again (TC[15,129],
  protocol.pus.storage), with their original sequence counts, most urgent original VC first.

Downlink priorities: alerts 0, real time 1, events 2, chips and replay 3, playback 4 (protocol.vchannel: a
VC that has waited 16 frames goes next, so none starves). A packet stays in the on-board store until the
ground acknowledges it (TC[15,128]).

Link: TM frames of 892 octets with the CLCW in the OCF, no FECF (RS(255,223)
I=4 dual basis protects them), randomised, ASM: 1024-octet CADUs. Uplink: TC
VC 0, MAP 0, FECF, randomised CLTUs. Time: CUC 4+2 octets, 1958 TAI epoch.
"""

from __future__ import annotations

from .dictionary import *  # noqa: F403 - the schema, re-exported for existing imports
from .dictionary import (
    TYPES,
    Argument,
    Command,
    DownlinkSettings,
    EventDefinition,
    Fixed,
    Limits,
    LinkSettings,
    MissionDictionary,
    OnboardParameter,
    Parameter,
    Polynomial,
    Severity,
    States,
    TelemetryPacket,
    TimeSettings,
    UplinkSettings,
    VirtualChannel,
)
from .dictionary import __all__ as _schema_all

__all__ = [*_schema_all, "TYPES", "MISSION", "SCID", "APID_OBC", "APID_EVENTS", "APID_PLATFORM", "APID_PAYLOAD",
           "APID_PAYLOAD_BULK", "APID_PAYLOAD_ALERTS", "APID_PAYLOAD_CHIPS", "SIDS", "ADCS_MODES", "ON_OFF",
           "FUNCTIONS", "ADCS_MAX_TARGETS", "DETECTION_KINDS", "IMAGE_BANDS"]

SCID = 0x2A
APID_OBC = 0x10  # on-board computer: services 1, 3, 5, 9, 11, 17, 20
APID_EVENTS = 0x11  # the OBC's event reports (their own APID: they travel on their own VC)
APID_PLATFORM = 0x20  # platform functions (service 8): power switches, ADCS modes
APID_PAYLOAD = 0x30  # imager
APID_PAYLOAD_BULK = 0x31  # imager bulk data: image parts (on the playback VC)
APID_PAYLOAD_ALERTS = 0x32  # detections found on board: the most urgent VC
APID_PAYLOAD_CHIPS = 0x33  # small image chips around detections

SIDS = {"POWER": 1, "THERMAL": 2, "OBC": 3, "ADCS": 4}
ADCS_MODES = {"DETUMBLE": 0, "SUN_POINTING": 1, "NADIR": 2, "INERTIAL": 3, "TARGET_TRACKING": 4}
ON_OFF = {"OFF": 0, "ON": 1}
#: Service 8 function IDs (TC[8,1] "perform a function", first field of the application data).
FUNCTIONS = {"PAYLOAD_POWER": 0x0001, "ADCS_SET_MODE": 0x0010, "ADCS_SET_TARGET": 0x0011, "ADCS_ADD_TARGET": 0x0012,
             "ADCS_CLEAR_TARGETS": 0x0013, "IMAGER_CAPTURE": 0x0020, "IMAGER_CAPTURE_TARGET": 0x0021,
             "IMAGER_CAPTURE_STRIP": 0x0022, "IMAGE_LIST": 0x0028, "IMAGE_DELETE": 0x0029, "IMAGE_PLAYBACK": 0x002A,
             "CONTACT_ADD": 0x0030, "CONTACT_CLEAR": 0x0031}
#: What the onboard analysis reports (DETECTION_KIND of a TM[140,1]).
DETECTION_KINDS = {"FIRE": 1, "SHIP": 2, "FLOOD": 3, "CLOUD": 4}
#: Band codes of image chips and products (protocol.imageproduct.BAND_CODES).
IMAGE_BANDS = {"RED": 1, "NIR": 2, "SWIR": 3, "MWIR": 4, "TIR": 5}
#: Longest imaging plan the ADCS holds (ADCS_ADD_TARGET beyond it fails to start).
ADCS_MAX_TARGETS = 8

_centi = Polynomial((0.0, 0.01))
_milli = Polynomial((0.0, 0.001))
_no_yes = States({0: "NO", 1: "YES"})
_off_on = States({0: "OFF", 1: "ON"})
#: protocol.sdls.Refusal, as the SECURITY_REJECTED event carries it
_sdls_refusals = States({1: "UNKNOWN_SPI", 2: "WRONG_CHANNEL", 3: "TRUNCATED", 4: "REPLAY", 5: "OUTSIDE_WINDOW",
                         6: "BAD_MAC", 7: "NO_KEY"})

HEATER_SETPOINT = Parameter("HEATER_SETPOINT", "i16", "degC", _centi, Limits(soft_low=-5, soft_high=30,
                                                                             hard_low=-20, hard_high=45),
                            "battery heater set point")
BATTERY_LOW_THRESHOLD = Parameter("BATTERY_LOW_THRESHOLD", "u8", "%", None, Limits(hard_low=10, hard_high=60),
                                  "state of charge below which the battery-low event is raised")

# ADCS controller gains (service 20). Ranges keep the cascade stable at the 10 Hz control rate: the rate loop's
# discrete pole stays inside the unit circle (rate gain x 0.1 s < 1) and the on-board software also refuses an
# attitude gain above half the rate gain (an outer loop faster than the inner one rings).
ADCS_ATTITUDE_GAIN = Parameter("ADCS_ATTITUDE_GAIN", "f32", "1/s", None, None,
                               "rate command per radian of attitude error (outer loop bandwidth)")
ADCS_RATE_GAIN = Parameter("ADCS_RATE_GAIN", "f32", "1/s", None, None, "rate loop bandwidth")
ADCS_INTEGRAL_GAIN = Parameter("ADCS_INTEGRAL_GAIN", "f32", "1/s2", None, None,
                               "integral of the attitude error (removes steady disturbance torques)")
ADCS_MAX_SLEW_RATE = Parameter("ADCS_MAX_SLEW_RATE", "f32", "deg/s", None, None, "slew rate cap")
_ADCS_GAINS = {  # name: (parameter ID, parameter, min, max)
    "ADCS_ATTITUDE_GAIN": (0x0201, ADCS_ATTITUDE_GAIN, 0.125, 5.0),
    "ADCS_RATE_GAIN": (0x0202, ADCS_RATE_GAIN, 0.25, 9.5),
    "ADCS_INTEGRAL_GAIN": (0x0203, ADCS_INTEGRAL_GAIN, 0.0, 2.0),
    "ADCS_MAX_SLEW_RATE": (0x0204, ADCS_MAX_SLEW_RATE, 0.5, 10.0),
}


# Onboard image analysis thresholds (service 20): the ones an operator tunes in flight. Each maps to one field of
# spacecraft.payload.analysis.AnalysisConfig (the rest keep their published defaults). name: (parameter ID,
# parameter, min, max); ON/OFF ones are u8 states.
_PAYLOAD_PARAMETERS = {
    "ANALYSIS_ENABLED": (0x0301, Parameter("ANALYSIS_ENABLED", "u8", "", _off_on, None,
                                           "run the onboard analysis on every capture"), 0, 1),
    "IMAGE_AUTO_PLAYBACK": (0x0302, Parameter("IMAGE_AUTO_PLAYBACK", "u8", "", _off_on, None,
                                              "queue every stored image for playback as soon as it is taken"), 0, 1),
    "CLOUD_THRESHOLD": (0x0303, Parameter("CLOUD_THRESHOLD", "u8", "%", None, None,
                                          "a scene cloudier than this is only reported as CLOUD"), 0, 100),
    "FIRE_DAY_T4_ABSOLUTE": (0x0310, Parameter("FIRE_DAY_T4_ABSOLUTE", "f32", "K", None, None,
                                               "by day a 3.9 um brightness temperature above this is a fire "
                                               "(absolute test)"), 320, 420),
    "FIRE_NIGHT_T4_ABSOLUTE": (0x0311, Parameter("FIRE_NIGHT_T4_ABSOLUTE", "f32", "K", None, None,
                                                 "by night, the same"), 290, 400),
    "FIRE_DAY_T4_MIN": (0x0312, Parameter("FIRE_DAY_T4_MIN", "f32", "K", None, None,
                                          "by day a pixel is a potential fire above this 3.9 um temperature"),
                        290, 360),
    "FIRE_NIGHT_T4_MIN": (0x0313, Parameter("FIRE_NIGHT_T4_MIN", "f32", "K", None, None,
                                            "by night, the same"), 270, 340),
    "FIRE_DT_MAD_FACTOR": (0x0314, Parameter("FIRE_DT_MAD_FACTOR", "f32", "", None, None,
                                             "contextual test: T4 - T11 above its background mean by this many "
                                             "mean absolute deviations"), 1, 10),
    "SHIP_PFA": (0x0320, Parameter("SHIP_PFA", "f32", "", None, None,
                                   "ship CFAR false-alarm probability per sea pixel"), 1e-12, 1e-2),
    "FLOOD_MIN_AREA": (0x0330, Parameter("FLOOD_MIN_AREA", "f32", "m2", None, None,
                                         "new water smaller than this is not reported as a flood"), 0, 1e9),
}


def _payload_parameter_command(name: str) -> Command:
    pid, parameter, lo, hi = _PAYLOAD_PARAMETERS[name]
    if isinstance(parameter.calibration, States):
        arg = Argument("VALUE", "u8", enum=ON_OFF, description=parameter.description)
    else:
        arg = Argument("VALUE", parameter.type, parameter.unit, lo, hi, description=parameter.description)
    return Command(f"SET_{name}", APID_OBC, 20, 3, (arg,), f"set the onboard analysis's {parameter.description}, "
                   "TC[20,3]", pus={"parameter_id": pid})


def _target_fields() -> tuple[Argument | Fixed, ...]:
    """TARGET_ID, WGS84 latitude/longitude/height and minimum elevation of one ground target."""
    return (
        Argument("TARGET_ID", "u16", "", 1, 0xFFFF, description="operator's number of the target, reported in "
                                                                   "HK_ADCS and the target events"),
        Argument("LAT", "f32", "deg", -90, 90, description="WGS84 geodetic latitude"),
        Argument("LON", "f32", "deg", -180, 180, description="WGS84 longitude, east positive"),
        Argument("ALT", "f32", "m", -500, 9000, default=0, description="height above the WGS84 ellipsoid"),
        Argument("MIN_ELEVATION", "f32", "deg", 0, 80, default=10,
                 description="the target is imaged while it is above this elevation"),
    )


def _function(name: str, apid: int, arguments: tuple[Argument, ...], description: str, *,
              hazardous: bool = False) -> Command:
    """A service-8 function: TC[8,1] with its function ID, then its own arguments (the mission's part)."""
    return Command(name, apid, 8, 1, arguments, description, pus={"function_id": FUNCTIONS[name]},
                   hazardous=hazardous)


def _gain_command(name: str) -> Command:
    pid, parameter, lo, hi = _ADCS_GAINS[name]
    return Command(f"SET_{name}", APID_OBC, 20, 3,
                   (Argument("VALUE", "f32", parameter.unit, lo, hi, description=parameter.description),),
                   f"set the ADCS controller's {parameter.description}, TC[20,3]; hazardous: gains outside the "
                   "tuned ones can make the attitude loop ring or diverge", pus={"parameter_id": pid}, hazardous=True)


def _aux(name: str, type_name: str, description: str, calibration: Polynomial | States | None = None,
         unit: str = "") -> Parameter:
    return Parameter(name, type_name, unit, calibration, None, description)


def _target_aux() -> tuple[Parameter, ...]:
    return (_aux("TARGET_ID", "u16", "operator's number of the target"),)


_ADCS_MODE_STATES = States({v: k for k, v in ADCS_MODES.items()})

MISSION = MissionDictionary(
    name="ttc reference satellite (6U Earth observation)",
    scid=SCID,
    apids={"OBC": APID_OBC, "EVENTS": APID_EVENTS, "PLATFORM": APID_PLATFORM, "PAYLOAD": APID_PAYLOAD,
           "PAYLOAD_BULK": APID_PAYLOAD_BULK, "PAYLOAD_ALERTS": APID_PAYLOAD_ALERTS,
           "PAYLOAD_CHIPS": APID_PAYLOAD_CHIPS},
    event_apid=APID_EVENTS,
    fingerprint_parameter="DICTIONARY_ID",
    time=TimeSettings(coarse_octets=4, fine_octets=2, epoch="1958-01-01T00:00:00", scale="TAI"),
    link=LinkSettings(
        downlink=DownlinkSettings(
            frame_kind="TM", frame_len=892, ocf=True, fecf=False, rs_interleave=4, rs_basis="dual", randomise=True,
            virtual_channels=(
                VirtualChannel(0, "REALTIME", 1, (APID_OBC, APID_PLATFORM, APID_PAYLOAD),
                               "housekeeping, service replies and request verification"),
                VirtualChannel(1, "EVENTS", 2, (APID_EVENTS,), "event reports"),
                VirtualChannel(2, "PLAYBACK", 4, (APID_PAYLOAD_BULK,), "bulk data: image parts"),
                VirtualChannel(3, "ALERTS", 0, (APID_PAYLOAD_ALERTS,),
                               "detections of the onboard image analysis, ahead of everything"),
                VirtualChannel(4, "CHIPS", 3, (APID_PAYLOAD_CHIPS,), "image chips around detections"),
                VirtualChannel(5, "REPLAY", 3, (), "packets the ground asked for again (TC[15,129]), any APID"),
            ), replay_vcid=5),
        uplink=UplinkSettings(vcid=0, map_id=0, fecf=True, max_frame_len=1024, randomise=True),
    ),
    commands=[
        Command("PING", APID_OBC, 17, 1, description="are-you-alive test, TC[17,1]"),
        Command("REPORT_STORE_STATUS", APID_OBC, 15, 132,
                description="report the on-board packet store now (TM[15,130]); the station acknowledges archived "
                            "packets (TC[15,128]) and asks for gaps again (TC[15,129]) on its own"),
        Command("ENABLE_HK", APID_OBC, 3, 5, description="enable periodic housekeeping of one structure, TC[3,5]",
                pus={"id": Argument("SID", enum=SIDS)}),
        Command("DISABLE_HK", APID_OBC, 3, 6, description="disable periodic housekeeping of one structure, TC[3,6]",
                pus={"id": Argument("SID", enum=SIDS)}),
        Command("SET_HK_INTERVAL", APID_OBC, 3, 31,
                description="change the collection interval of one housekeeping structure, TC[3,31]",
                pus={"sid": Argument("SID", enum=SIDS),
                     "collection_interval": Argument("INTERVAL", None, "s", 1, 3600, description=(
                         "collection interval (this mission counts it in seconds)"))}),
        Command("ENABLE_EVENT", APID_OBC, 5, 5, description="enable the report of one event definition, TC[5,5]",
                pus={"id": Argument("EVENT_ID")}),
        Command("DISABLE_EVENT", APID_OBC, 5, 6, description="disable the report of one event definition, TC[5,6]",
                pus={"id": Argument("EVENT_ID")}),
        Command("SET_TIME_REPORT_RATE", APID_OBC, 9, 1,
                description="set the time report rate, TC[9,1]; the next report follows at once",
                pus={"rate_exponent": Argument("RATE_EXPONENT", None, "", 0, 8,
                                               description="a time report every 2**N seconds")}),
        Command("ENABLE_SCHEDULE", APID_OBC, 11, 1, description="enable the time-based schedule, TC[11,1]"),
        Command("DISABLE_SCHEDULE", APID_OBC, 11, 2, description="disable the time-based schedule, TC[11,2]"),
        Command("REPORT_SCHEDULE", APID_OBC, 11, 17, description="summary report of every scheduled command, "
                                                                  "TC[11,17]"),
        Command("DELETE_SCHEDULED_TC", APID_OBC, 11, 5,
                description="delete one time-tagged command by its request ID (source ID, APID, sequence count), "
                            "TC[11,5]",
                pus={"source_id": Argument("SOURCE_ID", default=0), "apid": Argument("APID", None, "", 0, 0x7FF),
                     "sequence_count": Argument("SEQUENCE_COUNT", None, "", 0, 0x3FFF)}),
        Command("REPORT_HK", APID_OBC, 3, 27, description="generate one housekeeping report of one structure now, "
                                                          "TC[3,27]",
                pus={"id": Argument("SID", enum=SIDS)}),
        Command("SET_HEATER_SETPOINT", APID_OBC, 20, 3,
                (Argument("VALUE", "i16", "degC", -40, 60, description="set point (the wire carries 0.01 degC)",
                          calibration=_centi),),
                "set the battery heater set point, TC[20,3]", pus={"parameter_id": 0x0101}),
        Command("SET_BATTERY_LOW_THRESHOLD", APID_OBC, 20, 3, (Argument("VALUE", "u8", "%", 5, 80),),
                "set the battery-low event threshold, TC[20,3]; hazardous: too low a threshold lets the battery "
                "run flat unannounced", pus={"parameter_id": 0x0102}, hazardous=True),
        Command("REPORT_PARAMETER", APID_OBC, 20, 1, description="report the value of one on-board parameter, TC[20,1]",
                pus={"id": Argument("PARAMETER_ID", enum={"HEATER_SETPOINT": 0x0101, "BATTERY_LOW_THRESHOLD": 0x0102,
                                                          **{k: v[0] for k, v in _ADCS_GAINS.items()},
                                                          **{k: v[0] for k, v in _PAYLOAD_PARAMETERS.items()}})}),
        *(_gain_command(name) for name in _ADCS_GAINS),
        *(_payload_parameter_command(name) for name in _PAYLOAD_PARAMETERS),
        _function("PAYLOAD_POWER", APID_PLATFORM, (Argument("STATE", "u8", enum=ON_OFF),),
                  "switch the imager on or off, TC[8,1]"),
        _function("ADCS_SET_MODE", APID_PLATFORM, (Argument("MODE", "u8", enum=ADCS_MODES),),
                  "change the attitude control mode, TC[8,1]; INERTIAL holds the attitude of the moment, "
                  "TARGET_TRACKING flies the uploaded target list (fails to start when it is empty); hazardous: "
                  "DETUMBLE gives up pointing, SUN_POINTING and NADIR leave a target", hazardous=True),
        _function("ADCS_SET_TARGET", APID_PLATFORM, _target_fields(),
                  "replace the target list with this one target and track it (next pass above MIN_ELEVATION "
                  "within 24 h; fails when there is none), TC[8,1]"),
        _function("ADCS_ADD_TARGET", APID_PLATFORM, _target_fields(),
                  f"append one target to the imaging plan (at most {ADCS_MAX_TARGETS}; targets are imaged in "
                  "list order, each on its next pass after the previous one); replans if tracking, TC[8,1]"),
        _function("ADCS_CLEAR_TARGETS", APID_PLATFORM, (),
                  "empty the target list (target tracking falls back to nadir pointing), TC[8,1]"),
        _function("CONTACT_ADD", APID_PLATFORM, (
            Argument("AOS", "u32", "s", 0, 0xFFFFFFFF, description="start of the window, on-board TAI seconds "
                     "since 1958-01-01"),
            Argument("DURATION", "u16", "s", 1, 0xFFFF, description="length of the window"),
            Argument("RATE_BPS", "u32", "bit/s", 1, 100_000_000, description="downlink rate in the window "
                     "(bits per on-board second)"),
            Argument("STATION", "u8", "", 0, 255, default=0, description="the station's number in the plan")),
                  "add a window to the contact plan: with a plan the transmitter is on only inside its windows, "
                  "at their rates, and the store holds the rest for the next contact (alerts first); fails to "
                  "start when the plan is full (64) or the window overlaps another, TC[8,1]"),
        _function("CONTACT_CLEAR", APID_PLATFORM, (),
                  "empty the contact plan: the transmitter is on all the time again, TC[8,1]"),
        _function("IMAGER_CAPTURE", APID_PAYLOAD, (Argument("EXPOSURE", "u16", "ms", 1, 2000, default=20),),
                  "take one image now through the attitude being flown, analyse it on board (detections go "
                  "down first, on the ALERTS VC) and store it; fails (wrong mode) while the imager is off and "
                  "(function failed) when the image store is full, TC[8,1]"),
        _function("IMAGER_CAPTURE_TARGET", APID_PAYLOAD, (
            Argument("TARGET_ID", "u16", "", 1, 0xFFFF, description="a target of the ADCS imaging plan"),
            Argument("EXPOSURE", "u16", "ms", 1, 2000, default=20)),
                  "take one image when the ADCS has acquired this target of its plan (ADCS_TARGET_ACQUIRED); "
                  "fails to start when the target is not in the plan, TC[8,1]"),
        _function("IMAGER_CAPTURE_STRIP", APID_PAYLOAD, (
            Argument("FRAMES", "u8", "", 1, 16, description="images in a row along the ground track"),
            Argument("EXPOSURE", "u16", "ms", 1, 2000, default=20)),
                  "take FRAMES images back to back along the ground track (one footprint length apart), "
                  "TC[8,1]"),
        _function("IMAGE_LIST", APID_PAYLOAD, (), "report the image store: IMAGE_CATALOGUE TM[140,3], TC[8,1]"),
        _function("IMAGE_DELETE", APID_PAYLOAD, (Argument("IMAGE_ID", "u16", "", 0, 0xFFFF),),
                  "delete one stored image (its parts still queued for downlink go too); fails when there is "
                  "no such image, TC[8,1]"),
        _function("IMAGE_PLAYBACK", APID_PAYLOAD, (Argument("IMAGE_ID", "u16", "", 0, 0xFFFF),),
                  "downlink one stored image again, as IMAGE_PART packets on the PLAYBACK VC; fails when "
                  "there is no such image, TC[8,1]"),
    ],
    telemetry=[
        TelemetryPacket("HK_POWER", APID_OBC, 3, 25, (
            Parameter("BATTERY_VOLTAGE", "u16", "V", _milli, Limits(6.8, 8.4, 6.4, 8.6), "battery voltage"),
            Parameter("BATTERY_CURRENT", "i16", "A", _milli, Limits(-4, 4, -6, 6), "battery current, + charging"),
            Parameter("BATTERY_SOC", "u8", "%", None, Limits(soft_low=30, hard_low=15), "state of charge"),
            Parameter("SOLAR_POWER", "u16", "W", _centi, None, "solar array input power"),
            Parameter("IN_ECLIPSE", "u8", "", _no_yes),
            Parameter("PAYLOAD_POWERED", "u8", "", _off_on),
        ), sid=SIDS["POWER"], description="power subsystem housekeeping"),
        TelemetryPacket("HK_THERMAL", APID_OBC, 3, 25, (
            Parameter("OBC_TEMP", "i16", "degC", _centi, Limits(-10, 50, -25, 70)),
            Parameter("BATTERY_TEMP", "i16", "degC", _centi, Limits(0, 35, -10, 45)),
            Parameter("PANEL_TEMP", "i16", "degC", _centi, Limits(-60, 90, -90, 120)),
            HEATER_SETPOINT,
            Parameter("HEATER_ON", "u8", "", _off_on),
        ), sid=SIDS["THERMAL"], description="thermal housekeeping"),
        TelemetryPacket("HK_OBC", APID_OBC, 3, 25, (
            Parameter("UPTIME", "u32", "s"),
            Parameter("REBOOT_COUNT", "u16"),
            Parameter("FREE_STORAGE", "u32", "KiB", None, Limits(soft_low=1024, hard_low=128)),
            Parameter("STORED_PACKETS", "u32"),
            Parameter("TC_ACCEPTED", "u16"),
            Parameter("TC_REJECTED", "u16"),
            Parameter("ADCS_MODE", "u8", "", States({v: k for k, v in ADCS_MODES.items()})),
            Parameter("SCHEDULED_TCS", "u16"),
            Parameter("DICTIONARY_ID", "u32", "", description="fingerprint of the dictionary the on-board software "
                                                               "flies (the station refuses to decode a different one)"),
        ), sid=SIDS["OBC"], description="on-board computer housekeeping"),
        # Pointing error limits: 0.01 deg is the settled peak the imager is specified for (issue 4: <= 0.003 deg
        # RMS, <= 0.01 deg peak), so beyond it an image is degraded (warning); 0.1 deg is the settle threshold
        # and ~870 m on the ground from 500 km, so beyond it the target is leaving a narrow field (critical).
        # The same two angles bound the estimator's 1-sigma attitude uncertainty (36 / 360 arcsec).
        TelemetryPacket("HK_ADCS", APID_OBC, 3, 25, (
            Parameter("ADCS_CONTROL_MODE", "u8", "", States({v: k for k, v in ADCS_MODES.items()}),
                      description="mode being flown (TARGET_TRACKING falls back to NADIR when the plan ends)"),
            Parameter("ADCS_TARGET_ID", "u16", "", description="target tracked or pre-pointed at, 0 = none"),
            Parameter("ADCS_IN_WINDOW", "u8", "", _no_yes, description="the target is above its minimum elevation"),
            Parameter("ADCS_TARGET_COUNT", "u8", "", description="targets in the uploaded list"),
            Parameter("ADCS_TARGET_ERROR", "f32", "deg", None, Limits(soft_high=0.01, hard_high=0.1),
                      "estimated boresight-to-target angle while a target window is open, 0 otherwise"),
            Parameter("ADCS_POINTING_ERROR", "f32", "deg", None, None,
                      "estimated angle of the pointed axis to its reference in any pointing mode (slews "
                      "included), 0 in detumble"),
            Parameter("ADCS_Q0", "f32", "", description="estimated attitude quaternion body -> GCRS, scalar"),
            Parameter("ADCS_Q1", "f32", "", description="estimated attitude quaternion, x"),
            Parameter("ADCS_Q2", "f32", "", description="estimated attitude quaternion, y"),
            Parameter("ADCS_Q3", "f32", "", description="estimated attitude quaternion, z"),
            *(Parameter(f"ADCS_RATE_{a}", "f32", "deg/s", None, Limits(-6.5, 6.5, -10, 10),
                        f"estimated body rate about {a} (warning above the 6 deg/s slew cap)") for a in "XYZ"),
            *(Parameter(f"ADCS_WHEEL_SPEED_{i}", "i16", "rpm", None, Limits(-5000, 5000, -5700, 5700),
                        f"reaction wheel {i} speed (30 mNms at ~6000 rpm)") for i in range(1, 5)),
            Parameter("ADCS_WHEEL_MOMENTUM", "f32", "mNms", None, Limits(soft_high=20, hard_high=40),
                      "magnitude of the wheels' total momentum in body axes (dumping keeps it low; 40 mNms "
                      "is well inside the pyramid's envelope but leaves little margin for a slew)"),
            Parameter("ADCS_ATTITUDE_SIGMA", "f32", "arcsec", None, Limits(soft_high=36, hard_high=360),
                      "estimator: 1-sigma attitude uncertainty, sqrt of the trace of the attitude covariance"),
            Parameter("ADCS_GYRO_BIAS_SIGMA", "f32", "deg/h", None, None,
                      "estimator: 1-sigma gyro bias uncertainty, sqrt of the trace of the bias covariance"),
            Parameter("ADCS_STAR_TRACKER", "u8", "", States({0: "OUTAGE", 1: "VALID"})),
        ), sid=SIDS["ADCS"], description="attitude determination and control housekeeping"),
        # Image parts: PUS-C service 13 large packet transfer, downlink part reports TM[13,1] first, [13,2]
        # intermediate, [13,3] last; the large message transaction ID is the image number.
        TelemetryPacket("IMAGE_PART", APID_PAYLOAD_BULK, 13, (1, 2, 3), (
            Parameter("IMAGE_ID", "u16", "", description="image number (large message transaction ID)"),
            Parameter("IMAGE_PART_NUMBER", "u16", "", description="part sequence number, from 0"),
        ), description="one part of a captured image product (protocol.imageproduct; up to 1024 octets)",
            tail="IMAGE_DATA"),
        # Payload detections: one compact report per detection, on the most urgent VC (TM[140,x] is this
        # mission's own payload service; PUS-C leaves service types 128..255 to the mission). The packet
        # time is the capture time. 19 octets of headers + 25 of data + 2 of PEC = 46 octets on the wire.
        TelemetryPacket("DETECTION", APID_PAYLOAD_ALERTS, 140, 1, (
            Parameter("DETECTION_KIND", "u8", "", States({v: k for k, v in DETECTION_KINDS.items()})),
            Parameter("DETECTION_IMAGE_ID", "u16", "", description="image the detection was found in"),
            Parameter("DETECTION_NUMBER", "u8", "", description="detection number within its image, from 0"),
            Parameter("DETECTION_LAT", "i32", "deg", Polynomial((0.0, 1e-7)), None,
                      "WGS84 latitude of the detection's centroid"),
            Parameter("DETECTION_LON", "i32", "deg", Polynomial((0.0, 1e-7)), None,
                      "WGS84 longitude of the detection's centroid, east positive"),
            Parameter("DETECTION_AREA", "u32", "m2", None, None,
                      "ground area of the detection's pixels (FIRE: of its fire pixels)"),
            Parameter("DETECTION_PEAK", "f32", "", None, None,
                      "FIRE: peak 3.9 um brightness temperature (K); SHIP: peak NIR reflectance; FLOOD: new water "
                      "fraction of its box; CLOUD: cloud fraction of the scene"),
            Parameter("DETECTION_FRP", "u16", "MW", Polynomial((0.0, 0.1)), None,
                      "fire radiative power (FIRE), 0 otherwise"),
            Parameter("DETECTION_CONFIDENCE", "u8", "%", None, None, "detection confidence"),
            Parameter("DETECTION_SIZE", "u16", "m", None, None,
                      "SHIP: hull length; others: the diameter of a disc of the same area"),
        ), description="one detection of the onboard image analysis"),
        TelemetryPacket("IMAGE_CHIP", APID_PAYLOAD_CHIPS, 140, 2, (
            Parameter("CHIP_IMAGE_ID", "u16", ""),
            Parameter("CHIP_DETECTION", "u8", "", description="DETECTION_NUMBER of the detection it shows"),
            Parameter("CHIP_BAND", "u8", "", States({v: k for k, v in IMAGE_BANDS.items()})),
            Parameter("CHIP_ROW", "u16", "px", description="image row of the chip's first row"),
            Parameter("CHIP_COL", "u16", "px", description="image column of the chip's first column"),
            Parameter("CHIP_OFFSET", "f32", "", description="physical value = CHIP_OFFSET + CHIP_SCALE * sample"),
            Parameter("CHIP_SCALE", "f32", ""),
        ), description="32 x 32 u8 samples of one band around a detection (sample 0: invalid)",
            tail="CHIP_DATA"),
        TelemetryPacket("IMAGE_CATALOGUE", APID_PAYLOAD, 140, 3, (
            Parameter("CATALOGUE_COUNT", "u16", "", description="images in the store"),
            Parameter("CATALOGUE_FREE", "u32", "KiB", description="room left in the image store"),
        ), description="the image store (IMAGE_LIST): then per image protocol.imageproduct.CatalogueEntry",
            tail="CATALOGUE_ENTRIES"),
    ],
    events=[
        EventDefinition(0x0001, "BOOT", Severity.INFO, "on-board software started",
                        (_aux("REBOOT_COUNT", "u16", "boots so far, this one included"),)),
        EventDefinition(0x0010, "ADCS_MODE_CHANGED", Severity.INFO, "attitude control mode changed",
                        (_aux("OLD_MODE", "u8", "mode before", _ADCS_MODE_STATES), _aux("NEW_MODE", "u8", "mode now", _ADCS_MODE_STATES))),
        EventDefinition(0x0011, "ADCS_WINDOW_OPEN", Severity.INFO, "a target rose above its minimum elevation",
                        _target_aux()),
        EventDefinition(0x0012, "ADCS_WINDOW_CLOSED", Severity.INFO, "a target's imaging window ended",
                        _target_aux()),
        EventDefinition(0x0013, "ADCS_TARGET_ACQUIRED", Severity.INFO,
                        "the boresight settled on the target (error below 0.05 deg)",
                        _target_aux()),
        EventDefinition(0x0014, "ADCS_TARGET_LOST", Severity.MEDIUM,
                        "the boresight left the target during its window (error above 0.5 deg)",
                        _target_aux()),
        EventDefinition(0x0015, "ADCS_TARGET_UNREACHABLE", Severity.LOW,
                        "a target has no pass above its minimum elevation within 24 h",
                        _target_aux()),
        EventDefinition(0x0016, "ADCS_PLAN_COMPLETE", Severity.INFO, "every target of the list was imaged"),
        EventDefinition(0x0017, "ADCS_STAR_TRACKER_OUTAGE", Severity.LOW,
                        "no star-tracker head has a valid solution (sun or Earth in its exclusion cone)"),
        EventDefinition(0x0018, "ADCS_STAR_TRACKER_RECOVERED", Severity.INFO, "a star-tracker solution is back"),
        EventDefinition(0x0019, "ADCS_WHEEL_SATURATION", Severity.LOW, "a reaction wheel reached its torque limit"),
        EventDefinition(0x0100, "BATTERY_LOW", Severity.MEDIUM, "battery state of charge below threshold",
                        (_aux("BATTERY_SOC", "u8", "state of charge", unit="%"),)),
        EventDefinition(0x0101, "ECLIPSE_ENTRY", Severity.INFO, "entered eclipse"),
        EventDefinition(0x0102, "ECLIPSE_EXIT", Severity.INFO, "left eclipse"),
        EventDefinition(0x0200, "TC_REJECTED", Severity.LOW, "a telecommand was rejected",
                        (_aux("REQUEST_ID", "u32", "PUS request ID of the TC (packet ID and sequence control)"), _aux("FAILURE_CODE", "u16", "PUS failure code"))),
        EventDefinition(0x0201, "UPLINK_REJECTED", Severity.LOW,
                        "uplink frames or octets were rejected (bad CLTU, frame CRC, spacecraft ID or junk)",
                        (_aux("FRAMES_REJECTED", "u32", "TC frames rejected so far (total)"), _aux("OCTETS_SKIPPED", "u32", "junk octets skipped so far (total)"))),
        EventDefinition(0x0202, "SECURITY_REJECTED", Severity.MEDIUM,
                        "a TC frame failed SDLS processing (CCSDS 355.0-B-2) and was not passed to FARM-1",
                        (_aux("REASON", "u8", "why SDLS refused it", _sdls_refusals), _aux("SPI", "u16", "its security parameter index (0: unknown)"),
                         _aux("FRAMES_REFUSED", "u32", "TC frames SDLS refused so far (total)"))),
        EventDefinition(0x0300, "PAYLOAD_POWER_CHANGED", Severity.INFO, "imager power switched",
                        (_aux("STATE", "u8", "imager power now", _off_on),)),
        EventDefinition(0x0400, "SCHEDULED_TC_RELEASED", Severity.INFO, "a time-tagged command was released",
                        (_aux("SOURCE_ID", "u16", "source ID of the TC"), _aux("APID", "u16", "APID of the TC"), _aux("SEQUENCE_COUNT", "u16", "sequence count of the TC"))),
        EventDefinition(0x0500, "STORAGE_FULL", Severity.HIGH, "on-board storage full, oldest packets dropped",
                        (_aux("PACKETS_DROPPED", "u32", "packets dropped so far (total)"),)),
    ],
    onboard_parameters=[
        OnboardParameter(0x0101, HEATER_SETPOINT),
        OnboardParameter(0x0102, BATTERY_LOW_THRESHOLD),
        *(OnboardParameter(pid, parameter) for pid, parameter, _, _ in _ADCS_GAINS.values()),
        *(OnboardParameter(pid, parameter) for pid, parameter, _, _ in _PAYLOAD_PARAMETERS.values()),
    ],
)
