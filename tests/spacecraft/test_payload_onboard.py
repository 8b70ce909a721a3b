"""The payload on board, sans IO: captures analysed at once, detections first, chips, the image store, playback."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import ccsdspy
import numpy as np
import pytest

from protocol.imageproduct import decode_catalogue, decode_product, join_parts
from protocol.mission import MISSION
from protocol.pus import FailureCode
from spacecraft.payload.geometry import geodesic_distance_m, geolocate
from spacecraft.payload.imager import ImagerConfig
from spacecraft.payload.scene import Fire, SceneConfig

from .harness import T0, Tm, boot, of_kind

SMALL = ImagerConfig(rows=128, cols=128, scene=SceneConfig(rows=128, cols=128, fire_count=4, ship_count=2,
                                                           cloud_fraction=0.1))
ALERTS, CHIPS, PLAYBACK = (MISSION.vc_of(MISSION.apids[a]) for a in ("PAYLOAD_ALERTS", "PAYLOAD_CHIPS",
                                                                     "PAYLOAD_BULK"))


def _powered(tmp: Path | None = None, **options: object):
    obc, g = boot(tmp, hk_interval_s=3600, imager=options.pop("imager", SMALL), **options)
    g.send(g.tc("PAYLOAD_POWER", STATE="ON"), 0.5)
    g.drain()
    return obc, g


def _failure(tms: list[Tm], subtype: int) -> tuple[FailureCode, bytes]:
    (report,) = of_kind(tms, 1, subtype)
    return report.body.failure.code, report.body.failure.data


def _image_of(tms: list[Tm], image_id: int) -> bytes:
    parts, last = {}, None
    for t in tms:
        if t.decoded.name == "IMAGE_PART":
            values = {p.name: p.raw for p in t.decoded.parameters}
            if values["IMAGE_ID"] != image_id:
                continue
            parts[int(values["IMAGE_PART_NUMBER"])] = t.decoded.data
            if t.decoded.tm.subtype == 3:
                last = int(values["IMAGE_PART_NUMBER"])
    return join_parts(parts, last=last)


def test_a_capture_sends_its_detections_first_then_chips_then_the_image() -> None:
    obc, g = _powered()
    g.send(g.tc("IMAGER_CAPTURE", EXPOSURE=20), 3.0)
    tms = g.drain()
    cap = obc.payload.last
    assert cap is not None and cap.reported, "the seeded scene has fires and ships to find"
    reports = [t for t in tms if t.decoded.name == "DETECTION"]
    chips = [t for t in tms if t.decoded.name == "IMAGE_CHIP"]
    parts = [t for t in tms if t.decoded.name == "IMAGE_PART"]
    assert len(reports) == len(chips) == len(cap.reported)
    assert {t.vcid for t in reports} == {ALERTS} and {t.vcid for t in chips} == {CHIPS}
    assert {t.vcid for t in parts} == {PLAYBACK}
    index = {id(t): i for i, t in enumerate(tms)}
    assert max(index[id(t)] for t in reports) < min(index[id(t)] for t in chips) < min(index[id(t)] for t in parts)
    for t, det in zip(reports, cap.reported, strict=True):
        v = {p.name: p.engineering for p in t.decoded.parameters}
        assert v["DETECTION_KIND"] == det.kind and v["DETECTION_IMAGE_ID"] == cap.image_id
        assert v["DETECTION_LAT"] == pytest.approx(det.lat_deg, abs=1e-7)
        assert v["DETECTION_LON"] == pytest.approx(det.lon_deg, abs=1e-7)
        assert v["DETECTION_CONFIDENCE"] == round(100 * det.confidence)
        assert float(t.decoded.tm.time.tai_s) == pytest.approx(cap.capture_tai_s, abs=1e-4)  # when it was seen
        assert len(t.decoded.tm.encode()) <= 64  # the aim: at most 64 octets on the wire, header and PEC included
    # the most urgent first: fires before ships
    kinds = [t.decoded.parameters[0].engineering for t in reports]
    assert kinds == sorted(kinds, key=["FIRE", "FLOOD", "SHIP", "CLOUD"].index)
    # the image arrives whole and bit-exact, as stored
    product = _image_of(tms, cap.image_id)
    assert product == cap.product == obc.payload.store.get(cap.image_id)
    p = decode_product(product)
    assert (p.rows, p.cols) == (128, 128) and set(p.samples) == {"red", "nir", "swir", "mwir", "tir"}
    # a chip is the band around its detection
    chip = chips[0]
    cv = {q.name: q.raw for q in chip.decoded.parameters}
    samples = np.frombuffer(chip.decoded.data, dtype=np.uint8).reshape(32, 32)
    det = cap.reported[0]
    assert cv["CHIP_ROW"] <= det.row < cv["CHIP_ROW"] + 32 and cv["CHIP_COL"] <= det.col < cv["CHIP_COL"] + 32
    assert samples.max() > samples.min()


def test_refusals_name_their_reason_and_change_nothing(tmp_path: Path) -> None:
    obc, g = boot(hk_interval_s=3600, imager=SMALL)
    g.drain()
    g.send(g.tc("IMAGER_CAPTURE"), 1.0)
    assert _failure(g.drain(), 4)[0] == FailureCode.WRONG_MODE  # imager off
    obc, g = _powered(image_store_octets=50_000)  # smaller than one 128 x 128 five-band product
    g.send(g.tc("IMAGER_CAPTURE"), 1.0)
    tms = g.drain()
    code, data = _failure(tms, 4)
    assert code == FailureCode.FUNCTION_FAILED and data.startswith(b"image store full")
    assert not [t for t in tms if t.decoded.name in ("DETECTION", "IMAGE_PART")] and obc.payload.captures == 0
    g.send(g.tc("IMAGE_DELETE", IMAGE_ID=77), 2.0)
    code, data = _failure(g.drain(), 4)
    assert code == FailureCode.FUNCTION_FAILED and b"no image 77" in data
    g.send(g.tc("IMAGER_CAPTURE_TARGET", TARGET_ID=5), 3.0)
    code, data = _failure(g.drain(), 4)
    assert b"not in the ADCS plan" in data


def test_store_list_delete_and_play_back_survive_a_reboot(tmp_path: Path) -> None:
    obc, g = _powered(tmp_path)
    for i in range(2):
        g.send(g.tc("IMAGER_CAPTURE"), 1.0 + i)
    first = g.drain()
    ids = sorted(i.image_id for i in obc.payload.store.catalogue())
    assert len(ids) == 2
    stored = {i: obc.payload.store.get(i) for i in ids}
    obc.shutdown()
    obc, g = boot(tmp_path, hk_interval_s=3600, imager=SMALL)  # a reboot: the store is read back
    g.drain()
    g.send(g.tc("IMAGE_LIST"), 1.0)
    (cat,) = [t for t in g.drain() if t.decoded.name == "IMAGE_CATALOGUE"]
    entries = decode_catalogue(cat.decoded.data)
    assert [e["image_id"] for e in entries] == ids and [e["octets"] for e in entries] == [len(stored[i]) for i in ids]
    assert cat.decoded.parameters[0].raw == 2
    g.send(g.tc("IMAGE_PLAYBACK", IMAGE_ID=ids[0]), 2.0)
    again = g.drain()
    assert _image_of(again, ids[0]) == stored[ids[0]] == _image_of(first, ids[0])
    g.send(g.tc("IMAGE_DELETE", IMAGE_ID=ids[0]), 3.0)
    assert of_kind(g.drain(), 1, 7)
    assert [i.image_id for i in obc.payload.store.catalogue()] == ids[1:]
    g.send(g.tc("PAYLOAD_POWER", STATE="ON"), 4.0)
    g.send(g.tc("IMAGER_CAPTURE"), 5.0)
    g.drain()
    assert obc.payload.last.image_id == ids[-1] + 1  # image IDs continue after the reboot


def test_analysis_thresholds_are_commanded_through_service_20() -> None:
    obc, g = _powered()
    g.send(g.tc("SET_CLOUD_THRESHOLD", VALUE=0), 1.0)  # every scene is too cloudy now
    g.send(g.tc("IMAGER_CAPTURE"), 2.0)
    tms = g.drain()
    reports = [t for t in tms if t.decoded.name == "DETECTION"]
    assert [r.decoded.parameters[0].engineering for r in reports] == ["CLOUD"]
    assert obc.payload.last.result.skipped
    g.send(g.tc("SET_ANALYSIS_ENABLED", VALUE="OFF"), 3.0)
    g.send(g.tc("IMAGER_CAPTURE"), 4.0)
    tms = g.drain()
    assert not [t for t in tms if t.decoded.name == "DETECTION"] and obc.payload.last.result is None
    assert [t for t in tms if t.decoded.name == "IMAGE_PART"]  # the image is still taken and stored
    g.send(g.tc("SET_IMAGE_AUTO_PLAYBACK", VALUE="OFF"), 5.0)
    g.send(g.tc("IMAGER_CAPTURE"), 6.0)
    assert not [t for t in g.drain() if t.decoded.name == "IMAGE_PART"]
    assert len(obc.payload.store) == 3


def test_a_strip_completes_after_its_last_frame() -> None:
    obc, g = _powered()
    g.send(g.tc("IMAGER_CAPTURE_STRIP", FRAMES=3), 1.0)
    tms = g.drain()
    assert of_kind(tms, 1, 3) and not of_kind(tms, 1, 7) and obc.payload.captures == 1
    interval = obc.payload.config.rows * 500e3 * obc.payload.config.ifov_rad / 7e3
    obc.advance(T0 + 1.0 + 2.5 * interval)
    tms = g.drain()
    assert [t.body.step_id for t in of_kind(tms, 1, 5)] == [2, 3] and of_kind(tms, 1, 7)
    assert obc.payload.captures == 3 and obc.dispatcher.counters.completed >= 2


def test_a_target_capture_waits_for_the_acquisition_and_fails_when_the_window_closes() -> None:
    obc, g = _powered()
    for tid in (5, 6):
        g.send(g.tc("ADCS_ADD_TARGET", TARGET_ID=tid, LAT=43.25, LON=76.95), 1.0)
    g.send(g.tc("IMAGER_CAPTURE_TARGET", TARGET_ID=5), 2.0)
    g.send(g.tc("IMAGER_CAPTURE_TARGET", TARGET_ID=6), 2.0)
    tms = g.drain()
    assert len(of_kind(tms, 1, 3)) >= 2 and not [t for t in tms if t.decoded.name == "DETECTION"]
    completed = obc.dispatcher.counters.completed
    obc.payload.adcs_event("ADCS_TARGET_ACQUIRED", (5,))  # what the ADCS reports when it settles on target 5
    obc.payload.adcs_event("ADCS_WINDOW_CLOSED", (6,))
    tms = g.drain()
    assert obc.payload.captures == 1 and obc.dispatcher.counters.completed == completed + 1
    code, data = _failure(tms, 8)
    assert code == FailureCode.FUNCTION_FAILED and b"target 6 not acquired" in data


def test_ccsdspy_decodes_detection_reports_from_our_definition(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from groundstation.cli import main

    result = CliRunner().invoke(main, ["db", "export", "--format", "ccsdspy", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    obc, g = _powered()
    for i in range(3):
        g.send(g.tc("IMAGER_CAPTURE"), 1.0 + i)
    reports = [t for t in g.drain() if t.decoded.name == "DETECTION"]
    assert len(reports) >= 5
    theirs = ccsdspy.FixedLength.from_file(str(tmp_path / "DETECTION.csv")).load(
        io.BytesIO(b"".join(t.decoded.tm.encode() for t in reports)))
    for i, s in enumerate(reports[0].decoded.parameters):
        assert np.array_equal(theirs[s.name].astype(float), [float(t.decoded.parameters[i].raw) for t in reports])


@pytest.mark.slow
def test_a_fire_at_a_known_place_is_reported_there_with_the_adcs_in_the_loop() -> None:
    """Nadir pointing flown by the ADCS (noise, MEKF): the fire planted under the boresight is reported
    within one pixel plus what the attitude knowledge error projects on the ground."""
    obc, g = _powered(adcs=True, imager=dataclasses.replace(SMALL, scene=dataclasses.replace(SMALL.scene,
                                                                                              fire_count=0)))
    g.send(g.tc("ADCS_SET_MODE", MODE="NADIR"), 1.0)
    obc.advance(T0 + 120.0)  # settled
    g.drain()
    geo = obc.payload.geometry()
    cam = obc.payload.config.camera
    lat, lon = geolocate(cam, geo.r_itrs_m, geo.dcm_true, rows=np.array(60.3), cols=np.array(70.6))
    fire = Fire(area_m2=3000.0, temperature_k=1000.0, lat_deg=float(lat), lon_deg=float(lon))
    obc.payload.config = dataclasses.replace(obc.payload.config, world_fires=(fire,))
    g.send(g.tc("IMAGER_CAPTURE"), 120.0)
    g.drain()
    cap = obc.payload.last
    fires = [d for d in cap.reported if d.kind == "FIRE"]
    assert fires, [d.kind for d in cap.reported]
    err_m = min(float(geodesic_distance_m(d.lat_deg, d.lon_deg, fire.lat_deg, fire.lon_deg)) for d in fires)
    gsd_m = cap.altitude_m * cam.ifov_rad
    allowed_m = gsd_m + cap.altitude_m * cap.knowledge_error_rad * 1.5
    assert err_m <= allowed_m, (err_m, gsd_m, cap.knowledge_error_rad)
    assert cap.knowledge_error_rad > 0  # the estimate is not the truth: the error is the ADCS's


@pytest.mark.parametrize("fifo", [False, True])
def test_event_first_against_a_fifo_downlink(fifo: bool) -> None:
    """An image queued first, then a capture with detections: event-first puts the detections within two
    frames of the capture; a FIFO downlink (the baseline) sends the whole image before them."""
    obc, g = _powered(downlink_fifo=fifo)
    g.send(g.tc("SET_ANALYSIS_ENABLED", VALUE="OFF"), 1.0)
    g.send(g.tc("IMAGER_CAPTURE"), 1.0)
    g.drain(max_cadus=0)
    for _ in range(5):  # the first image starts down
        obc.next_cadu()
        obc.cadu_sent()
    g.send(g.tc("SET_ANALYSIS_ENABLED", VALUE="ON"), 2.0)
    g.send(g.tc("IMAGER_CAPTURE"), 2.0)
    frames_before: int | None = None
    image_1_left = 0
    for n in range(1, 2000):
        cadu = obc.next_cadu()
        obc.cadu_sent()
        g.downlink.feed(cadu)
        tms = g._packets()
        image_1_left += sum(1 for t in tms if t.decoded.name == "IMAGE_PART"
                            and t.decoded.parameters[0].raw == obc.payload.last.image_id - 1)
        if any(t.decoded.name == "DETECTION" for t in tms):
            frames_before = n
            break
    assert frames_before is not None
    if fifo:
        assert image_1_left > 50 and frames_before > 50  # the rest of image 1 went first
    else:
        assert frames_before <= 3 and image_1_left <= 2  # the frame on the air, and the next one at most


def test_image_ids_are_never_reused_after_a_kill_before_the_state_was_saved(tmp_path: Path) -> None:
    obc, g = _powered(tmp_path)
    g.send(g.tc("IMAGER_CAPTURE"), 1.0)
    g.drain()
    first = obc.payload.last.image_id
    obc.store.close()  # killed: no shutdown, and no periodic save since the capture: the state lacks the new ID
    assert f'"next_image_id": {first + 1}' not in (tmp_path / "state.json").read_text()
    obc, g = _powered(tmp_path)
    g.send(g.tc("IMAGER_CAPTURE"), 2.0)
    g.drain()
    assert obc.payload.last.image_id == first + 1
    assert sorted(i.image_id for i in obc.payload.store.catalogue()) == [first, first + 1]
