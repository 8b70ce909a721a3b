"""The payload slot of the on-board software: imager commands, the image store, and what the payload downlinks.

Commands (service 8 functions of the dictionary, on the payload APID):

* IMAGER_CAPTURE -- one image now, through the attitude being flown.
* IMAGER_CAPTURE_TARGET -- one image the moment the ADCS reports ADCS_TARGET_ACQUIRED for that target of
  its plan; the command completes then (TM[1,7]), or fails (TM[1,8]) when the target's window closes or
  the plan ends without an acquisition.
* IMAGER_CAPTURE_STRIP -- FRAMES images one footprint length apart along the ground track (the time the
  ground track takes to cross one footprint); completes after the last.
* IMAGE_LIST (IMAGE_CATALOGUE TM[140,3]), IMAGE_DELETE, IMAGE_PLAYBACK.

After every capture, in this order: one DETECTION report per detection (the ALERTS VC, ahead of
everything), one IMAGE_CHIP per detection (the CHIPS VC), then the image product in the image store and,
with IMAGE_AUTO_PLAYBACK on, its IMAGE_PART packets (the PLAYBACK VC, last). The analysis runs with the
thresholds of the on-board parameters (service 20): analysis off leaves the image unanalysed (no reports).

A capture that cannot be stored is refused before the shutter opens (the store never drops an image).
Deferred captures (target, strip) do not survive a reboot: their commands then never complete (a known
gap, left to the store-and-forward issue).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from protocol.imageproduct import encode_catalogue
from protocol.pus import FailureCode

from .analysis import AnalysisConfig, AnalysisConfigError
from .imager import Capture, ImagerConfig, ImagingGeometry, capture, product_octets
from .imagestore import ImageStore, StoreFull
from .scene import SceneConfigError

if TYPE_CHECKING:
    from spacecraft.onboard import OnboardComputer
    from spacecraft.services import Execution

__all__ = ["PayloadUnit", "ANALYSIS_PARAMETERS"]

log = logging.getLogger("spacecraft.payload")

IMAGE_PART_OCTETS = 1024
GROUND_SPEED_M_S = 7.0e3  # ground-track speed at 500 km: a footprint length every rows x GSD / 7 km/s
#: On-board parameter (service 20) -> AnalysisConfig field, and how to read it ('%' -> fraction).
ANALYSIS_PARAMETERS = {
    "CLOUD_THRESHOLD": ("cloud_threshold", 0.01),
    "FIRE_DAY_T4_ABSOLUTE": ("fire_day_t4_absolute_k", 1.0),
    "FIRE_NIGHT_T4_ABSOLUTE": ("fire_night_t4_absolute_k", 1.0),
    "FIRE_DAY_T4_MIN": ("fire_day_t4_min_k", 1.0),
    "FIRE_NIGHT_T4_MIN": ("fire_night_t4_min_k", 1.0),
    "FIRE_DT_MAD_FACTOR": ("fire_dt_mad_factor", 1.0),
    "SHIP_PFA": ("ship_pfa", 1.0),
    "FLOOD_MIN_AREA": ("flood_min_area_m2", 1.0),
}
#: Defaults of the payload's on-board parameters, from the analysis's own defaults.
_DEFAULTS = AnalysisConfig()
PAYLOAD_PARAMETER_DEFAULTS: dict[str, int | float | str] = {
    "ANALYSIS_ENABLED": "ON", "IMAGE_AUTO_PLAYBACK": "ON",
    **{name: getattr(_DEFAULTS, f) / scale for name, (f, scale) in ANALYSIS_PARAMETERS.items()},
}


@dataclass
class _Deferred:
    kind: str  # "target" or "strip"
    ex: Execution
    exposure_s: float
    target_id: int = 0
    remaining: int = 0
    frames: int = 0
    ended: bool = False
    due_tai_s: float = math.inf
    interval_s: float = 0.0


class PayloadUnit:
    """The imager slot: power, captures, the image store and the payload's packets."""

    def __init__(self, obc: OnboardComputer, *, config: ImagerConfig, state_dir: Path | None,
                 store_octets: int, seed: int) -> None:
        self.obc = obc
        self.config = config
        self.store = ImageStore(state_dir / "images" if state_dir else None, capacity_octets=store_octets)
        self.seed = seed
        self.powered = False
        self.next_image_id = int(obc.state.data.get("next_image_id", 1)) & 0xFFFF
        stored = [i.image_id for i in self.store.catalogue()]
        if stored and self.next_image_id <= max(stored):  # a kill before the state was saved: never reuse an ID
            self.next_image_id = (max(stored) + 1) & 0xFFFF or 1
        self._deferred: list[_Deferred] = []
        self._storing: list[tuple[Capture, Execution | None, Any]] = []  # captures whose image is not stored yet
        self.captures = 0
        self.reports = 0
        self.withheld = 0
        self.refused = 0
        self.last: Capture | None = None  # the newest capture, truth included (tests and the benchmark read it)
        packets = obc.mission.packets
        self._detection = packets.get("DETECTION")
        self._chip = packets.get("IMAGE_CHIP")
        self._part = packets.get("IMAGE_PART")
        self._catalogue = packets.get("IMAGE_CATALOGUE")

    # ------------------------------------------------------------------ time
    def next_due_tai_s(self) -> float:
        """When a deferred capture (strip frame) is due next."""
        return min((d.due_tai_s for d in self._deferred), default=math.inf)

    def run_due(self, now_tai_s: float) -> None:
        """Take the strip frames that are due."""
        for d in [d for d in self._deferred if d.kind == "strip" and d.due_tai_s <= now_tai_s]:
            d.remaining -= 1
            number = d.frames - d.remaining
            last = d.remaining <= 0
            if last:
                self._deferred.remove(d)
            else:
                d.due_tai_s += d.interval_s

            def stored(err: Any, d: _Deferred = d, number: int = number, last: bool = last) -> None:
                if err is not None:
                    if d in self._deferred:
                        self._deferred.remove(d)
                    if not d.ended:
                        d.ended = True
                        d.ex.fail(err)
                    return
                d.ex.progress(number)  # step N: frame N of the strip taken, analysed and stored
                if last and not d.ended:
                    d.ended = True
                    d.ex.complete()

            self._deferred_capture(d, stored)

    def adcs_event(self, name: str, aux: tuple[Any, ...]) -> None:
        """An ADCS event: a target acquired fires its armed capture; a window closed or plan ended fails it."""
        target = int(aux[0]) if aux else None
        for d in [d for d in self._deferred if d.kind == "target"]:
            if name == "ADCS_TARGET_ACQUIRED" and target == d.target_id:
                self._deferred.remove(d)
                self._deferred_capture(d, lambda err, d=d: d.ex.fail(err) if err is not None else d.ex.complete())
            elif (name in ("ADCS_WINDOW_CLOSED", "ADCS_TARGET_UNREACHABLE") and target == d.target_id) or \
                    name == "ADCS_PLAN_COMPLETE":
                self._deferred.remove(d)
                self._fail(d, FailureCode.FUNCTION_FAILED, f"target {d.target_id} not acquired ({name})")

    def power(self, on: bool) -> None:
        """Switch the imager; switching it off fails the captures still armed."""
        self.powered = on
        if not on:
            for d in list(self._deferred):
                self._deferred.remove(d)
                self._fail(d, FailureCode.WRONG_MODE, "imager switched off")

    # ------------------------------------------------------------------ commands
    def handle(self, tc: Any, cmd: Any, args: dict[str, Any], ex: Execution) -> None:
        """A payload service-8 function."""
        from spacecraft.services import Refused

        name = cmd.name
        if name == "IMAGE_LIST":
            self._report_catalogue(tc.apid)
            return
        if name in ("IMAGE_DELETE", "IMAGE_PLAYBACK"):
            image_id = int(args["IMAGE_ID"])
            if image_id not in self.store:
                raise Refused(FailureCode.FUNCTION_FAILED, f"no image {image_id} in the store")
            if name == "IMAGE_DELETE":
                self.store.delete(image_id)
            else:
                ex.start()
                self._play_back(image_id, self.store.get(image_id))
            return
        if not self.powered:
            raise Refused(FailureCode.WRONG_MODE, "imager off")
        exposure_s = int(args.get("EXPOSURE", 20)) / 1000.0
        if name == "IMAGER_CAPTURE":
            self._check_room(1)
            ex.defer()  # completes once stored, after the frame that carries its detections
            self._take(exposure_s, ex=ex,
                       on_stored=lambda err: ex.fail(err) if err is not None else ex.complete())
        elif name == "IMAGER_CAPTURE_TARGET":
            target_id = int(args["TARGET_ID"])
            if target_id not in {t.target_id for t in self.obc.adcs.targets}:
                raise Refused(FailureCode.FUNCTION_FAILED, f"target {target_id} not in the ADCS plan")
            self._check_room(1)
            ex.defer()
            self._deferred.append(_Deferred("target", ex, exposure_s, target_id=target_id))
        elif name == "IMAGER_CAPTURE_STRIP":
            frames = int(args["FRAMES"])
            self._check_room(frames)
            ex.defer()
            gsd = 500e3 * self.config.ifov_rad
            d = _Deferred("strip", ex, exposure_s, remaining=frames, frames=frames, due_tai_s=self.obc.now_tai_s,
                          interval_s=self.config.rows * gsd / GROUND_SPEED_M_S)
            self._deferred.append(d)
            self.run_due(self.obc.now_tai_s)  # the first frame at once
        else:
            raise Refused(FailureCode.FUNCTION_FAILED, f"{name} is not a payload function")

    # ------------------------------------------------------------------ capture
    def _check_room(self, images: int) -> None:
        from spacecraft.services import Refused

        need = images * product_octets(self.config)
        if need > self.store.free_octets:
            self.refused += 1
            raise Refused(FailureCode.FUNCTION_FAILED,
                          f"image store full: {need} octets needed, {self.store.free_octets} free")

    def _deferred_capture(self, d: _Deferred, on_stored: Any) -> None:
        """Take a deferred image; a capture that fails ends its command (TM[1,8]) at once."""
        from spacecraft.services import Refused

        try:
            self._take(d.exposure_s, on_stored=on_stored)
        except Refused as r:
            on_stored(r)

    def _fail(self, d: _Deferred, code: FailureCode, reason: str) -> None:
        from spacecraft.services import Refused

        d.ex.fail(Refused(code, reason))

    def analysis_config(self) -> AnalysisConfig | None:
        """The analysis thresholds of the on-board parameters (None: analysis off)."""
        e = self.obc.params.engineering
        if not self._on("ANALYSIS_ENABLED"):
            return None
        values = {field_name: e(name) * scale for name, (field_name, scale) in ANALYSIS_PARAMETERS.items()}
        try:
            return replace(_DEFAULTS, **values)
        except AnalysisConfigError as err:  # a combination the analysis refuses: keep its defaults, say so
            log.warning("analysis thresholds refused (%s): defaults used", err)
            return _DEFAULTS

    def _on(self, name: str) -> bool:
        """An ON/OFF on-board parameter (ON when the dictionary does not declare it)."""
        from protocol.dictionary import UnknownName

        try:
            op = self.obc.mission.onboard_by_name(name)
        except UnknownName:
            return True
        return bool(self.obc.params.raw[op.parameter_id])

    def geometry(self) -> ImagingGeometry:
        """The camera's position and pointing now (true and estimated), from the ADCS when it is simulated."""
        state = self.obc.adcs.imaging_state()
        if state is None:
            return ImagingGeometry.nadir(self.config.scene.center_lat_deg, self.config.scene.center_lon_deg,
                                         sun_zenith_deg=self.config.scene.sun_zenith_deg)
        from spacecraft.adcs.quaternion import quat_to_dcm

        rot = state["gcrs_to_itrs"]
        return ImagingGeometry(r_itrs_m=rot @ state["r_gcrs_m"], dcm_true=rot @ quat_to_dcm(state["q_true"]),
                               dcm_est=rot @ quat_to_dcm(state["q_est"]), rate_true_rad_s=state["rate_true_rad_s"],
                               sun_itrs_unit=rot @ state["sun_unit_gcrs"])

    def _take(self, exposure_s: float, *, ex: Execution | None = None, on_stored: Any = None) -> Capture:
        """One capture: its DETECTION reports queued at once; chips, the store and playback after the next frame
        (:meth:`after_frame`), so the frame that follows carries the alerts and nothing waits in front of them.
        ``ex`` gets progress steps 1 (analysed) and 2 (stored); ``on_stored(None | Refused)`` is called once
        the image is stored or could not be."""
        from spacecraft.services import Refused

        need = product_octets(self.config)
        if need > self.store.free_octets:
            raise Refused(FailureCode.FUNCTION_FAILED,
                          f"image store full: {need} octets needed, {self.store.free_octets} free")
        image_id = self.next_image_id
        now = self.obc.now_tai_s
        started = time.perf_counter()  # for the log only: the on-board software never reads a clock otherwise
        try:
            cap = capture(self.config, self.geometry(), image_id=image_id, capture_tai_s=now,
                          seed=(self.seed * 65536 + image_id) & 0x7FFFFFFF, exposure_s=exposure_s,
                          analysis=self.analysis_config())
        except SceneConfigError as e:
            raise Refused(FailureCode.FUNCTION_FAILED, str(e)) from e
        self.next_image_id = (image_id + 1) & 0xFFFF or 1
        self.obc.state.data["next_image_id"] = self.next_image_id
        self.captures += 1
        self.last = cap
        self.withheld += cap.withheld
        self._send_detections(cap)
        log.info("image %d: %d detections%s, queued %.0f ms after the shutter", image_id, len(cap.reported),
                 "" if cap.result else " (analysis off)", (time.perf_counter() - started) * 1e3)
        if ex is not None:
            ex.progress(1)  # taken and analysed: its detections are on their way down
        self._storing.append((cap, ex, on_stored))
        return cap

    def after_frame(self) -> None:
        """Work that may wait for one frame: the chips, storing the images of the captures just taken, and
        queueing their playback."""
        from spacecraft.services import Refused

        if not self._storing:  # called after every frame: nothing to do on almost all of them
            return
        jobs, self._storing = self._storing, []
        for cap, ex, on_stored in jobs:
            self._send_chips(cap)
            try:
                self.store.put(cap.image_id, cap.product, capture_tai_s=cap.capture_tai_s,
                               detections=len(cap.reported))
            except StoreFull as e:
                if on_stored is not None:
                    on_stored(Refused(FailureCode.FUNCTION_FAILED, str(e)))
                continue
            if ex is not None:
                ex.progress(2)  # stored
            if self._on("IMAGE_AUTO_PLAYBACK"):
                self._play_back(cap.image_id, cap.product)
            if on_stored is not None:
                on_stored(None)

    # ------------------------------------------------------------------ packets
    def _raw(self, decl: Any, values: dict[str, Any]) -> dict[str, int | float]:
        """Engineering values -> raw ones by the declaration's calibrations (clamped to each wire type)."""
        from protocol.dictionary import _type_range

        out: dict[str, int | float] = {}
        for p in decl.parameters:
            if p.name not in values:
                continue
            raw = p.to_raw(values[p.name])
            if not p.type.startswith("f"):
                lo, hi = _type_range(p.type)
                raw = int(min(max(raw, lo), hi))
            out[p.name] = raw
        return out

    def _send_detections(self, cap: Capture) -> None:
        obc = self.obc
        for n, det in enumerate(cap.reported):
            if self._detection is not None:
                size = det.length_m if det.length_m else 2.0 * math.sqrt(det.area_m2 / math.pi)
                values = {"DETECTION_KIND": det.kind, "DETECTION_IMAGE_ID": cap.image_id, "DETECTION_NUMBER": n,
                          "DETECTION_LAT": det.lat_deg, "DETECTION_LON": det.lon_deg,
                          "DETECTION_AREA": round(det.area_m2), "DETECTION_PEAK": float(det.peak),
                          "DETECTION_FRP": float(det.frp_mw or 0.0),
                          "DETECTION_CONFIDENCE": round(100 * det.confidence), "DETECTION_SIZE": round(size)}
                decl = self._detection
                obc.emit(decl.apid, decl.service, decl.subtypes[0], decl.encode(self._raw(decl, values)),
                         time_tai_s=cap.capture_tai_s)
                self.reports += 1

    def _send_chips(self, cap: Capture) -> None:
        obc = self.obc
        if self._chip is not None:
            decl = self._chip
            for chip in cap.chips:
                values = {"CHIP_IMAGE_ID": cap.image_id, "CHIP_DETECTION": chip.detection_number,
                          "CHIP_BAND": chip.band.upper(), "CHIP_ROW": chip.row0, "CHIP_COL": chip.col0,
                          "CHIP_OFFSET": chip.offset, "CHIP_SCALE": chip.scale}
                obc.emit(decl.apid, decl.service, decl.subtypes[0], decl.encode(self._raw(decl, values),
                                                                                tail=chip.samples),
                         time_tai_s=cap.capture_tai_s)

    def _play_back(self, image_id: int, product: bytes) -> None:
        decl = self._part
        if decl is None or decl.tail is None or len(decl.parameters) != 2:
            return
        id_name, part_name = (p.name for p in decl.parameters)
        sts = decl.subtypes
        first, middle, last = sts[0], sts[min(1, len(sts) - 1)], sts[-1]
        parts = [product[i:i + IMAGE_PART_OCTETS] for i in range(0, len(product), IMAGE_PART_OCTETS)]
        for n, part in enumerate(parts):
            subtype = first if n == 0 else last if n == len(parts) - 1 else middle  # TM[13,1], [13,2], [13,3]
            self.obc.emit(decl.apid, decl.service, subtype, decl.encode({id_name: image_id, part_name: n}, tail=part))

    def _report_catalogue(self, apid: int) -> None:
        decl = self._catalogue
        if decl is None:
            return
        entries = [{"image_id": i.image_id, "octets": i.octets, "detections": min(i.detections, 255),
                    "capture_tai_s": i.capture_tai_s} for i in self.store.catalogue()]
        values = {"CATALOGUE_COUNT": len(entries), "CATALOGUE_FREE": self.store.free_octets // 1024}
        self.obc.emit(decl.apid, decl.service, decl.subtypes[0],
                      decl.encode(self._raw(decl, values), tail=encode_catalogue(entries)))

    def counters(self) -> dict[str, Any]:
        """What the payload did, as plain JSON data."""
        return {"powered": self.powered, "captures": self.captures, "detections_reported": self.reports,
                "detections_withheld": self.withheld, "refused": self.refused, "stored_images": len(self.store),
                "store_free_octets": self.store.free_octets, "deferred": len(self._deferred)}
