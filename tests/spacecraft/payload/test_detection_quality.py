"""Detection quality on seeded synthetic scenes: each detector finds what was planted and nothing on the decoys.

Small (256×256) scenes from :func:`~spacecraft.payload.scene.synthesize`, whose truth is exact, through
:func:`~spacecraft.payload.analysis.analyse` with its default configuration. A detection matches a truth target
as in tools/bench/payload.py: its bbox grown by 1 px holds a pixel of the target, or (fires) its centroid is
within 1.5 px of the fire's. The figures over hundreds of scenes are that benchmark's; these tests hold the
behaviour that must never break.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spacecraft.payload.analysis import AnalysisResult, Detection, analyse
from spacecraft.payload.geometry import geodesic_distance_m
from spacecraft.payload.scene import Fire, SceneConfig, Truth, TruthTarget, synthesize
from spacecraft.payload.scenefile import Scene

SEEDS = (21, 22, 23, 24)
#: Inside the envelope: fires >= 100 m² at >= 800 K in 200 m pixels, hulls of 3 px and more, default sea.
ENVELOPE = dict(rows=256, cols=256, fire_count=6, fire_area_m2=(100.0, 1.0e4), fire_temperature_k=(800.0, 1200.0),
                ship_count=4, ship_length_px=(3.0, 15.0), water_fraction=0.3, desert_fraction=0.15,
                glint_count=2, hot_edge_count=3, cloud_edge_count=3)
DECOY_KINDS = ("GLINT", "HOT_DESERT_EDGE", "CLOUD_EDGE")


def _grown(d: Detection) -> tuple[int, int, int, int]:
    r0, c0, r1, c1 = d.bbox
    return r0 - 1, c0 - 1, r1 + 1, c1 + 1


def _touches(d: Detection, pixels: tuple[tuple[int, int], ...]) -> bool:
    r0, c0, r1, c1 = _grown(d)
    return any(r0 <= r < r1 and c0 <= c < c1 for r, c in pixels)


def _matches(d: Detection, t: TruthTarget) -> bool:
    if t.kind == "FIRE" and math.hypot(d.row - t.row, d.col - t.col) <= 1.5:
        return True
    return _touches(d, t.pixels)


def _of(result: AnalysisResult, kind: str) -> list[Detection]:
    return [d for d in result.detections if d.kind == kind]


def _run(config: SceneConfig, seed: int) -> tuple[Scene, Truth, AnalysisResult]:
    scene, truth = synthesize(config, seed=seed)
    return scene, truth, analyse(scene)


@pytest.fixture(scope="module")
def envelope_runs() -> list[tuple[Scene, Truth, AnalysisResult]]:
    """The envelope scenes (15 % cloud, decoys on), one per seed."""
    return [_run(SceneConfig(**ENVELOPE, image_id=seed), seed) for seed in SEEDS]


# ------------------------------------------------------------------------------------------------ fires


def test_every_planted_fire_in_the_envelope_is_found(envelope_runs) -> None:
    n = 0
    for _, truth, result in envelope_runs:
        for fire in truth.targets_of("FIRE"):
            assert not fire.cloud_covered
            assert any(_matches(d, fire) for d in _of(result, "FIRE")), (truth.seed, fire.row, fire.col)
            n += 1
    assert n == len(SEEDS) * ENVELOPE["fire_count"]


def test_every_fire_detection_is_a_planted_fire(envelope_runs) -> None:
    for _, truth, result in envelope_runs:
        for d in _of(result, "FIRE"):
            assert any(_matches(d, f) for f in truth.targets_of("FIRE")), (truth.seed, d.row, d.col)


def test_no_fire_lies_on_a_decoy(envelope_runs) -> None:
    seen = {kind: 0 for kind in DECOY_KINDS}
    for _, truth, result in envelope_runs:
        for decoy in truth.decoys:
            seen[decoy.kind] += 1
            for d in _of(result, "FIRE"):
                assert not _touches(d, decoy.pixels), (truth.seed, decoy.kind, d.row, d.col)
    # the decoys were there to be resisted: every kind, in numbers
    assert all(n >= len(SEEDS) for n in seen.values()), seen


def test_no_ship_lies_on_a_cloud_edge(envelope_runs) -> None:
    for _, truth, result in envelope_runs:
        for decoy in truth.decoys:
            if decoy.kind == "CLOUD_EDGE":
                assert not any(_touches(d, decoy.pixels) for d in _of(result, "SHIP")), (truth.seed, decoy.row)


def test_sun_glint_seldom_makes_a_ship() -> None:
    # A known limit, measured: the sparkle at a glint patch's rim, where the water test still passes, gives a
    # small SHIP for about one patch in ten (1-2 of these 16); the bright surround that fails the water test
    # stops the rest. Without that land-ring test nearly every patch sails (13-17 of 16), so this holds it.
    patches = false = 0
    for seed in SEEDS:
        config = SceneConfig(**ENVELOPE | dict(glint_count=4, water_fraction=0.5, desert_fraction=0.05))
        _, truth, result = _run(config, seed)
        glints = [g for g in truth.decoys if g.kind == "GLINT"]
        patches += len(glints)
        false += sum(any(_touches(d, g.pixels) for g in glints) for d in _of(result, "SHIP"))
    assert patches == 4 * len(SEEDS)
    assert false <= patches // 4, (false, patches)


def test_fire_at_a_known_place_is_reported_within_a_pixel_of_it() -> None:
    for pixel_m, area_m2 in ((200.0, 300.0), (1000.0, 5000.0)):
        base = SceneConfig(rows=256, cols=256, pixel_size_m=pixel_m, fire_count=0, cloud_fraction=0.0, decoys=False)
        scene, truth = synthesize(base, seed=31)
        # a vegetated pixel near (100, 150), well inside the land, and a place a fraction of a pixel off its centre
        land = ~truth.water_mask & (scene.bands["red"] < 0.1) & (scene.bands["nir"] < 0.29)
        rr, cc = np.nonzero(land[5:-5, 5:-5])
        k = int(np.argmin((rr + 5 - 100) ** 2 + (cc + 5 - 150) ** 2))
        r, c = rr[k] + 5 + 0.3, cc[k] + 5 - 0.2
        i, j = int(r), int(c)
        fr, fc = r - i, c - j
        lat = (1 - fr) * ((1 - fc) * scene.lat_deg[i, j] + fc * scene.lat_deg[i, j + 1]) \
            + fr * ((1 - fc) * scene.lat_deg[i + 1, j] + fc * scene.lat_deg[i + 1, j + 1])
        lon = (1 - fr) * ((1 - fc) * scene.lon_deg[i, j] + fc * scene.lon_deg[i, j + 1]) \
            + fr * ((1 - fc) * scene.lon_deg[i + 1, j] + fc * scene.lon_deg[i + 1, j + 1])
        config = SceneConfig(rows=256, cols=256, pixel_size_m=pixel_m, fire_count=0, cloud_fraction=0.0,
                             decoys=False, fires=(Fire(area_m2=area_m2, temperature_k=1000.0, lat_deg=float(lat),
                                                       lon_deg=float(lon)),))
        scene, truth, result = _run(config, 31)
        (fire,) = truth.targets_of("FIRE")
        assert math.hypot(fire.row - r, fire.col - c) < 0.01
        (found,) = _of(result, "FIRE")
        assert geodesic_distance_m(found.lat_deg, found.lon_deg, lat, lon) <= pixel_m, pixel_m


# ------------------------------------------------------------------------------------------------ ships


def test_every_hull_of_3_px_and_more_is_found_on_a_clear_default_sea() -> None:
    n = 0
    for seed in SEEDS:
        _, truth, result = _run(SceneConfig(**ENVELOPE | dict(cloud_fraction=0.0)), seed)
        for ship in truth.targets_of("SHIP"):
            assert ship.length_m >= 3 * 200.0
            assert any(_matches(d, ship) for d in _of(result, "SHIP")), (seed, ship.row, ship.col)
            n += 1
    assert n == len(SEEDS) * ENVELOPE["ship_count"]


def test_no_ship_detection_is_cloud_or_glint_on_a_cloudy_sea() -> None:
    # a wide sea under 30 % cloud: the half-transparent cloud edges over water once gave tens of SHIPs per scene
    found = 0
    for seed in SEEDS:
        config = SceneConfig(**ENVELOPE | dict(water_fraction=0.5, cloud_fraction=0.3, desert_fraction=0.05))
        _, truth, result = _run(config, seed)
        for d in _of(result, "SHIP"):
            assert any(_matches(d, s) for s in truth.targets_of("SHIP")), (seed, d.row, d.col, d.pixel_count)
        found += sum(any(_matches(d, s) for d in _of(result, "SHIP")) for s in truth.targets_of("SHIP"))
    assert found >= 0.75 * len(SEEDS) * ENVELOPE["ship_count"]  # and the hulls are still found there


# ------------------------------------------------------------------------------------------------ clouds and floods


@pytest.mark.parametrize("cloud_fraction", [0.05, 0.3, 0.6, 0.85])
def test_cloud_fraction_is_within_5_points(cloud_fraction: float) -> None:
    for seed in SEEDS[:2]:
        config = SceneConfig(rows=256, cols=256, cloud_fraction=cloud_fraction, fire_count=0, ship_count=0)
        _, truth, result = _run(config, seed)
        assert abs(result.cloud_fraction - truth.cloud_fraction) <= 0.05, (seed, result.cloud_fraction)


def test_the_flood_is_mapped(envelope_runs) -> None:
    for _, truth, result in envelope_runs:
        assert truth.flood_mask.any()
        iou = (result.flood_mask & truth.flood_mask).sum() / (result.flood_mask | truth.flood_mask).sum()
        assert iou >= 0.9, (truth.seed, iou)
        floods = _of(result, "FLOOD")
        assert floods and all(any(_matches(d, t) for t in truth.targets_of("FLOOD")) for d in floods)
