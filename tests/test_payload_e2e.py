"""Event-first downlink over the real processes: a detection found on board overtakes the imagery queued before it.

Channel, spacecraft and station run as processes on loopback, the downlink paced at 64 kbit/s (one
1024-octet CADU every 128 ms). A first capture, with the onboard analysis off, queues its image on the
PLAYBACK VC; while it is downlinking a second capture is analysed on board, and its DETECTION reports (ALERTS
VC) reach the station's archive and live stream before the rest of the first image. Then the chips and both
images arrive, the images are reassembled from the archive bit-exact against the spacecraft's image store,
drawn as PNG with their detections, and the detections are written as GeoJSON and KML.

Every wait is on a condition (the station's API or live stream), never a sleep.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundstation.loopback import LoopbackPass, PassConfig
from protocol.imageproduct import decode_product

from .e2e_tools import archive_rows as _archive
from .e2e_tools import ttc_stdout as _ttc

pytestmark = pytest.mark.slow

def _image_parts(archive: Path, image_id: int) -> list[tuple[int, int]]:
    """(packet id, ERT) of every archived IMAGE_PART of one image, by the IMAGE_ID parameter."""
    return _archive(archive, "select p.id, p.ert_ns from packets p join parameters q on q.packet_id = p.id "
                             "where p.name = 'IMAGE_PART' and q.name = 'IMAGE_ID' and q.raw = ? order by p.id",
                    image_id)


def test_a_detection_overtakes_the_imagery_queued_before_it_and_everything_arrives(tmp_path: Path) -> None:
    cfg = PassConfig(ber=0.0, rate_bps=64_000, hk_interval_s=5.0, seed=21,
                     extra_spacecraft=("--image-size", "96", "--no-adcs"))
    with LoopbackPass(tmp_path / "pass", cfg) as p:
        gs = p.gs
        p.until(lambda: gs.ping()["dictionary"]["state"] == "verified", "the dictionary verified")
        gs.wait(gs.send("PAYLOAD_POWER", {"STATE": "ON"}), "completed", timeout_s=10)
        gs.wait(gs.send("SET_ANALYSIS_ENABLED", {"VALUE": "OFF"}), "completed", timeout_s=10)
        gs.wait(gs.send("IMAGER_CAPTURE"), "completed", timeout_s=10)  # image 1: bulk only, ~52 frames (~7 s)
        stored_1 = (p.state_dir / "images" / "00001.ttci").stat().st_size  # in the store before completion
        parts = -(-stored_1 // 1024)  # IMAGE_PART packets of 1024 octets of product each
        first_part = p.until(lambda: _image_parts(p.archive, 1), "image 1 downlinking")
        gs.wait(gs.send("SET_ANALYSIS_ENABLED", {"VALUE": "ON"}), "completed", timeout_s=10)
        live = gs.subscribe("event.FIRE", "event.SHIP", "event.FLOOD", "event.CLOUD", timeout_s=30)
        gs.wait(gs.send("IMAGER_CAPTURE"), "completed", timeout_s=10)  # image 2: analysed on board
        alert = next(live)
        assert alert.data["kind"] == "detection" and alert.data["data"]["image_id"] == 2
        detections = p.until(lambda: gs.events(kind="detection", limit=100), "the detections archived")
        # the image queued first is still coming down when the detection is already archived
        assert len(_image_parts(p.archive, 1)) < parts, "image 1 finished before the detection: nothing overtaken"
        p.until(lambda: len(_image_parts(p.archive, 1)) == parts, "image 1 complete", timeout_s=60)
        parts_2 = p.until(lambda: (rows := _image_parts(p.archive, 2)) and len(rows) == parts and rows,
                          "image 2 complete", timeout_s=60)
        chips = p.until(lambda: gs.packets(names=["IMAGE_CHIP"], limit=100), "the chips")
        fire_counts = gs.counters()["station"]["detections"]
        urls = ("--api", p.station.endpoints["api"], "--events", p.station.endpoints["events"])
        monitor = _ttc("monitor", "--once", *urls)
        assert "latest detections" in monitor and "FIRE" in monitor
        typed = _ttc("events", "--type", "FIRE", "--limit", "100", *urls).splitlines()
        assert typed and all(" FIRE: FIRE at " in line for line in typed), typed
        via_api = tmp_path / "image2-api.ttci"  # the image through the station's API, not the archive file
        _ttc("payload", "image", "2", "-o", tmp_path / "image2-api.png", "--product", via_api, *urls)
        assert via_api.read_bytes() == (p.state_dir / "images" / "00002.ttci").read_bytes()
    assert p.exit_codes == {"station": 0, "spacecraft": 0, "channel": 0}

    first_detection_ert = min(d["ert_ns"] for d in detections)
    image_1 = _image_parts(p.archive, 1)
    assert first_part[0][1] < first_detection_ert < image_1[-1][1]  # overtook image 1's remaining parts
    assert first_detection_ert < parts_2[0][1]  # and came before its own image
    assert min(c["ert_ns"] for c in chips) < parts_2[0][1]  # chips before the image too
    assert len(chips) == len(detections) == fire_counts
    kinds = {d["name"] for d in detections}
    assert kinds <= {"FIRE", "SHIP", "FLOOD", "CLOUD"} and "FIRE" in kinds, kinds

    # the images, reassembled from the archive, are the spacecraft's own bytes
    store = p.state_dir / "images"
    for image_id in (1, 2):
        png = tmp_path / f"image{image_id}.png"
        product = tmp_path / f"image{image_id}.ttci"
        out = _ttc("payload", "image", str(image_id), "-o", png, "--product", product, "--archive", p.archive)
        assert product.read_bytes() == (store / f"{image_id:05d}.ttci").read_bytes()
        decoded = decode_product(product.read_bytes())
        assert (decoded.rows, decoded.cols, decoded.image_id) == (96, 96, image_id)
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
        drawn = int(out.split(" detections drawn")[0].rsplit(" ", 1)[-1])
        assert drawn == (0 if image_id == 1 else len(detections)), out

    # the detections on a map
    gj, km = tmp_path / "detections.geojson", tmp_path / "detections.kml"
    _ttc("payload", "events", "--geojson", gj, "--kml", km, "--archive", p.archive)
    features = json.loads(gj.read_text())["features"]
    assert len(features) == len(detections)
    by_id = {d["id"]: d for d in detections}
    for f in features:
        d = by_id[f["properties"]["event_id"]]
        assert f["geometry"] == {"type": "Point", "coordinates": [d["data"]["lon_deg"], d["data"]["lat_deg"]]}
    assert km.read_text().count("<Placemark>") == len(detections)
    fires = _ttc("payload", "events", "--type", "FIRE", "--json", "--archive", p.archive).splitlines()
    assert fires and all(json.loads(line)["name"] == "FIRE" for line in fires)
