"""The link follows the sky, end to end: fire events found in contact and out of contact, over real processes.

A station network (Urumqi, Sanya, Kiruna) and the reference orbit give, from ``ttc passes --format json``, a
16-minute contact (Sanya and Urumqi back to back) then 4.7 minutes without one, then Kiruna's pass. Channel,
spacecraft and station fly it at 20x from 15:19 UTC with ``ttc channel --contacts``: the channel carries
frames only inside the windows. A capture commanded in the first contact has its detections archived before
that contact's LOS; a capture time-tagged into the gap finds its fires with no station in view, and they come
down at the start of the next contact (recovered by the store's gap report and replay, since the frames that
carried them went out into an empty sky).

Every wait is on a condition (the station's API), never a sleep.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from groundstation.client import RequestRefused
from groundstation.loopback import LoopbackPass, PassConfig
from protocol.links.channel import contact_edges

from .e2e_tools import archive_rows as _archive
from .e2e_tools import ttc_stdout as _ttc

pytestmark = pytest.mark.slow

NETWORK = """
[[station]]
name = "Urumqi"
lat_deg = 43.825
lon_deg = 87.617
alt_m = 800.0
min_el_deg = 5.0

[[station]]
name = "Sanya"
lat_deg = 18.25
lon_deg = 109.5
alt_m = 20.0
min_el_deg = 5.0

[[station]]
name = "Kiruna"
lat_deg = 67.857
lon_deg = 20.964
alt_m = 400.0
min_el_deg = 5.0
"""
START = datetime(2024, 3, 20, 15, 19, 0, tzinfo=timezone.utc)
SPEED = 20.0
IN_GAP = datetime(2024, 3, 20, 15, 27, 50, tzinfo=timezone.utc)  # 2.3 min after the first LOS, 2.4 before AOS
NEXT_PASS_START_S = 5.0  # real seconds after AOS by which the gap's detections must be down (100 simulated)


def _channel_edges(log: Path) -> list[tuple[str, float]]:
    """("AOS"/"LOS", real POSIX time) of the channel's logged contact edges."""
    return contact_edges(log.read_text())


def _network_pass(contacts: Path) -> PassConfig:
    """The network's pass at 20x from START, the channel following ``contacts``, the ADCS off."""
    return PassConfig(ber=0.0, rate_bps=64_000, hk_interval_s=20.0, seed=21, speed=SPEED,
                      start_utc=START.strftime("%Y-%m-%dT%H:%M:%S"), contacts=contacts,
                      extra_spacecraft=("--image-size", "96", "--no-adcs"))


def _detections(archive: Path) -> list[tuple[int, float, int]]:
    """(image id, ERT in POSIX seconds, playback) of every archived DETECTION."""
    rows = _archive(archive, "select q.raw, p.ert_ns, p.playback from packets p join parameters q on "
                             "q.packet_id = p.id where p.name = 'DETECTION' and q.name = 'DETECTION_IMAGE_ID' "
                             "order by p.id")
    return [(int(image), ert / 1e9, int(playback)) for image, ert, playback in rows]


def test_fire_events_come_down_in_the_same_contact_or_at_the_start_of_the_next(tmp_path: Path) -> None:
    stations = tmp_path / "network.toml"
    stations.write_text(NETWORK)
    contacts = tmp_path / "contacts.json"
    contacts.write_text(_ttc("passes", "--stations", stations, "--start", "2024-03-20T15:00Z", "--days", "0.05",
                             "--format", "json"))
    cfg = _network_pass(contacts)
    with LoopbackPass(tmp_path / "pass", cfg) as p:
        gs = p.gs
        p.until(lambda: gs.ping()["dictionary"]["state"] == "verified", "the dictionary verified")
        gs.wait(gs.send("PAYLOAD_POWER", {"STATE": "ON"}), "completed", timeout_s=10)
        gs.wait(gs.send("IMAGER_CAPTURE"), "completed", timeout_s=10)  # image 1, in contact
        with pytest.raises(RequestRefused, match="after the spacecraft's clock \\(2024-03-20T15:"):
            gs.send("IMAGER_CAPTURE", at=START - timedelta(hours=1))  # time tags are checked in on-board time
        tagged = gs.send("IMAGER_CAPTURE", at=IN_GAP)  # image 2, when no station will see the satellite
        p.until(lambda: gs.history(tagged)[0]["status"] == "scheduled", "the capture scheduled on board")
        p.until(lambda: any(d[0] == 1 for d in _detections(p.archive)), "image 1's detections", timeout_s=20)
        p.until(lambda: any(d[0] == 2 for d in _detections(p.archive)), "image 2's detections", timeout_s=60)
        # its reports, made in the gap, came down with the replay: the verdict is the spacecraft's
        p.until(lambda: gs.history(tagged)[0]["status"] == "completed", "the capture's verdict", timeout_s=20)
    edges = _channel_edges(p.workdir / "channel.log")
    assert [e for e, _ in edges] == ["LOS", "AOS"], edges  # the clock started inside the first contact
    los_1, aos_2 = edges[0][1], edges[1][1]
    found = _detections(p.archive)
    first = [d for d in found if d[0] == 1]
    second = [d for d in found if d[0] == 2]
    assert first and second
    # in contact: down in the same contact, live (not replayed)
    assert all(ert < los_1 and playback == 0 for _, ert, playback in first), (first, los_1)
    # out of contact: nothing during the gap, all of it at the start of the next contact
    assert all(aos_2 <= ert <= aos_2 + NEXT_PASS_START_S for _, ert, _ in second), (second, aos_2)
    assert any(playback for *_, playback in second)  # what went out into the empty sky came again
    kinds = {row[0] for row in _archive(p.archive, "select eng from parameters where name = 'DETECTION_KIND'")}
    assert "FIRE" in kinds, kinds
    channel_log = (p.workdir / "channel.log").read_text()
    out_of_view = re.search(r"final stats down: .* out of view (\d+)", channel_log)
    assert out_of_view is not None and int(out_of_view.group(1)) > 0


def _image_parts(archive: Path, image_id: int) -> list[tuple[float, int]]:
    """(ERT in POSIX seconds, playback) of every archived IMAGE_PART of one image."""
    rows = _archive(archive, "select p.ert_ns, p.playback from packets p join parameters q on q.packet_id = p.id "
                             "where p.name = 'IMAGE_PART' and q.name = 'IMAGE_ID' and q.raw = ? order by p.id",
                    image_id)
    return [(ert / 1e9, int(playback)) for ert, playback in rows]


def test_with_the_contact_plan_on_board_the_gap_is_held_and_comes_down_as_planned(tmp_path: Path) -> None:
    import json

    from groundstation.plan import Contact, Segment, predict_delivery
    from protocol.mission import APID_PAYLOAD_BULK, MISSION

    stations = tmp_path / "network.toml"
    stations.write_text(NETWORK)
    contacts = tmp_path / "contacts.json"
    plan_args = ("plan", "--stations", stations, "--start", "2024-03-20T15:00Z", "--days", "0.05", "--format", "json")
    contacts.write_text(_ttc(*plan_args))  # the channel flies the plan's own windows
    cfg = _network_pass(contacts)
    with LoopbackPass(tmp_path / "pass", cfg) as p:
        gs = p.gs
        p.until(lambda: gs.ping()["dictionary"]["state"] == "verified", "the dictionary verified")
        doc = json.loads(_ttc(*plan_args, "--upload", "--api", p.station.endpoints["api"], "--events",
                              p.station.endpoints["events"]))
        uploads = [h for h in gs.history(limit=100) if h["name"].startswith("CONTACT_")]
        n_segments = sum(len(c["segments"]) for c in doc["contacts"])
        assert len(uploads) == 1 + n_segments
        for h in uploads:
            gs.wait(h["id"], "completed", timeout_s=10)
        gs.wait(gs.send("PAYLOAD_POWER", {"STATE": "ON"}), "completed", timeout_s=10)
        assert gs.send("IMAGER_CAPTURE", at=IN_GAP) > 0  # held on board until the next contact
        p.until(lambda: any(d[0] == 1 for d in _detections(p.archive)), "the gap's detections", timeout_s=60)
        stored = (p.state_dir / "images" / "00001.ttci").stat().st_size
        parts = -(-stored // 1024)
        p.until(lambda: len(_image_parts(p.archive, 1)) == parts, "the gap's image", timeout_s=30)
    edges = _channel_edges(p.workdir / "channel.log")
    assert [e for e, _ in edges] == ["LOS", "AOS"], edges
    los_1, aos_2 = edges[0][1], edges[1][1]
    found = [d for d in _detections(p.archive) if d[0] == 1]
    # held, not thrown into the empty sky: the detections come down live, first thing in the next contact
    assert found and all(playback == 0 and aos_2 <= ert <= aos_2 + 2.0 for _, ert, playback in found), (found, aos_2)
    image = _image_parts(p.archive, 1)
    assert all(aos_2 <= ert and playback == 0 for ert, playback in image)
    assert max(ert for _, ert, _ in found) <= min(ert for ert, _ in image)  # events before imagery
    # the planner said the image (on the playback VC) would be down in the next contact; so it was
    plan = [Contact(tuple(Segment(s["station"], 0, datetime.fromisoformat(s["aos_utc"].replace("Z", "+00:00")),
                                  datetime.fromisoformat(s["los_utc"].replace("Z", "+00:00")), s["rate_bps"])
                          for s in c["segments"])) for c in doc["contacts"]]
    gap_at = next(i for i, c in enumerate(plan) if c.aos_utc > IN_GAP)
    vc_image = MISSION.vc_of(APID_PAYLOAD_BULK)
    delivery = predict_delivery(plan[gap_at:], {vc_image: stored}, MISSION.link.downlink.priorities,
                                packet_fraction=doc["packet_fraction"])
    assert delivery.done_in == {vc_image: 0}
    los_next = aos_2 + (plan[gap_at].los_utc - plan[gap_at].aos_utc).total_seconds() / SPEED
    assert max(ert for ert, _ in image) <= los_next
    # and the transmitter was off in the gap: only the edge frames of the processes' clock skew met an empty sky
    out_of_view = re.search(r"final stats down: .* out of view (\d+)", (p.workdir / "channel.log").read_text())
    gap_frames = (aos_2 - los_1) * 9600 * SPEED / 8 / 1024  # what an always-on transmitter would have sent
    assert out_of_view is not None and int(out_of_view.group(1)) < 0.15 * gap_frames


def test_a_target_near_the_station_is_imaged_in_contact_and_its_products_come_down_in_that_pass(
        tmp_path: Path) -> None:
    """ttc plan --target picks the target's first window, inside Almaty's 68.7 deg pass; the ADCS flies it."""
    import json

    start = datetime(2024, 3, 21, 5, 53, 0, tzinfo=timezone.utc)  # 37 s after AOS, 3.8 min before the window
    plan_args = ("plan", "--start", start.isoformat(), "--days", "0.01", "--target", "43.222,76.851,Almaty",
                 "--format", "json")
    contacts = tmp_path / "contacts.json"
    contacts.write_text(_ttc(*plan_args))
    cfg = PassConfig(ber=0.0, hk_interval_s=20.0, seed=21, speed=SPEED, start_utc=start.strftime("%Y-%m-%dT%H:%M:%S"),
                     contacts=contacts, extra_spacecraft=("--image-size", "96"))
    with LoopbackPass(tmp_path / "pass", cfg) as p:
        gs = p.gs
        p.until(lambda: gs.ping()["dictionary"]["state"] == "verified", "the dictionary verified")
        gs.wait(gs.send("PAYLOAD_POWER", {"STATE": "ON"}), "completed", timeout_s=10)
        doc = json.loads(_ttc(*plan_args, "--upload", "--api", p.station.endpoints["api"], "--events",
                              p.station.endpoints["events"]))
        (target,) = doc["targets"]
        assert target["same_contact"] and target["windows"][0]["stations_in_view"] == ["Almaty"]
        capture = next(h for h in gs.history(limit=100) if h["name"] == "IMAGER_CAPTURE_TARGET")
        gs.wait(capture["id"], "completed", timeout_s=40)  # the ADCS acquired the target and the image was taken
        stored = (p.state_dir / "images" / "00001.ttci").stat().st_size
        parts = -(-stored // 1024)
        p.until(lambda: len(_image_parts(p.archive, 1)) == parts, "the target's image", timeout_s=30)
        acquired = gs.events(names=["ADCS_TARGET_ACQUIRED"], limit=10)
    edges = _channel_edges(p.workdir / "channel.log")
    # the ADCS acquired the target inside the window the planner chose (on-board time)
    window = target["windows"][0]
    got = datetime.fromisoformat(acquired[0]["obt"].replace("Z", "+00:00"))
    lo, hi = (datetime.fromisoformat(window[k].replace("Z", "+00:00")) for k in ("start_utc", "end_utc"))
    assert lo - timedelta(seconds=2) <= got <= hi, (got, window)
    # all of it came down in the pass that imaged it: the channel's first LOS is after the last part
    los = next((t for e, t in edges if e == "LOS"), None)
    last = max(ert for ert, _ in _image_parts(p.archive, 1))
    assert los is None or last < los, (last, edges)
    detections = [d for d in _detections(p.archive) if d[0] == 1]
    assert all(los is None or ert < los for _, ert, _ in detections)
