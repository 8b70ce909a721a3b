"""Scene synthesis: determinism, physical ranges, Planck mixing checked against formulas written here, exact truth."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from scipy import ndimage

from spacecraft.adcs.environment import geodetic_to_itrs_m
from spacecraft.payload.geometry import Camera, geodesic_distance_m, geolocate
from spacecraft.payload.scene import (
    Fire,
    SceneConfig,
    SceneConfigError,
    Ship,
    brightness_temperature_k,
    mix_fire_bt_k,
    planck_radiance_w_m2_sr_um,
    synthesize,
)
from spacecraft.payload.scenefile import BANDS, Scene, load_scene, save_scene

# CODATA 2018 exact SI constants, for a Planck function written independently of the module's
H_J_S = 6.62607015e-34
C_M_S = 299792458.0
K_J_K = 1.380649e-23

#: No noise, no dead pixels: what a physics check needs.
QUIET = dict(nedt_mwir_k=0.0, nedt_tir_k=0.0, reflectance_noise=0.0, dead_pixel_fraction=0.0)
SMALL = dict(rows=128, cols=128)


def planck(wavelength_um: float, t_k):
    lam = wavelength_um * 1e-6
    return 2 * H_J_S * C_M_S ** 2 / lam ** 5 / (np.exp(H_J_S * C_M_S / (lam * K_J_K * np.asarray(t_k))) - 1) * 1e-6


def inverse_planck(wavelength_um: float, radiance):
    lam = wavelength_um * 1e-6
    return H_J_S * C_M_S / (lam * K_J_K) / np.log(1 + 2 * H_J_S * C_M_S ** 2 / (lam ** 5 * np.asarray(radiance) * 1e6))


@pytest.fixture(scope="module")
def default_scene():
    return synthesize(SceneConfig(), seed=7)


def _assert_in_band_ranges(scene: Scene) -> None:
    for name, arr in scene.bands.items():
        _, lo, hi = BANDS[name]
        assert arr.dtype == np.float32 and arr.shape == scene.shape
        assert np.all(np.isfinite(arr)) and arr.min() >= lo and arr.max() <= hi, name


# ------------------------------------------------------------------------------------------- Planck


def test_planck_matches_the_formula_and_inverts_exactly() -> None:
    t = np.array([180.0, 250.0, 300.0, 330.0, 500.0, 800.0, 1200.0, 2000.0])
    for lam in (1.6, 3.9, 11.0):
        np.testing.assert_allclose(planck_radiance_w_m2_sr_um(lam, t), planck(lam, t), rtol=1e-9)
        np.testing.assert_allclose(brightness_temperature_k(lam, planck_radiance_w_m2_sr_um(lam, t)), t, rtol=1e-12)
        radiance = planck(lam, t)
        np.testing.assert_allclose(brightness_temperature_k(lam, radiance), inverse_planck(lam, radiance), rtol=1e-9)
    # a value to recognise: an 11 µm, 300 K blackbody is ~9.6 W m-2 sr-1 µm-1
    assert planck_radiance_w_m2_sr_um(11.0, 300.0) == pytest.approx(9.57, abs=0.01)
    t300 = float(brightness_temperature_k(3.9, planck_radiance_w_m2_sr_um(3.9, 300.0)))
    assert t300 == pytest.approx(300.0, abs=1e-9)


def test_subpixel_fire_mixing_raises_mwir_far_more_than_tir() -> None:
    p = 100.0 / 200.0 ** 2
    expected_mwir = inverse_planck(3.9, p * planck(3.9, 1000.0) + (1 - p) * planck(3.9, 300.0))
    expected_tir = inverse_planck(11.0, p * planck(11.0, 1000.0) + (1 - p) * planck(11.0, 300.0))
    mwir = float(mix_fire_bt_k(300.0, 1000.0, p, 3.9))
    tir = float(mix_fire_bt_k(300.0, 1000.0, p, 11.0))
    assert mwir == pytest.approx(expected_mwir, abs=1e-6)
    assert tir == pytest.approx(expected_tir, abs=1e-6)
    assert mwir - 300.0 > 60.0  # ~+85 K
    assert 1.0 < tir - 300.0 < 6.0  # ~+3.5 K
    assert (mwir - 300.0) > 15 * (tir - 300.0)


def test_fire_in_a_scene_mixes_radiance_with_its_own_background() -> None:
    """Same seed with and without one 100 m², 1000 K fire inside a pixel: the raise is the formula's."""
    base = dict(**SMALL, **QUIET, fire_count=0, ship_count=0, cloud_fraction=0.0, water_fraction=0.0,
                desert_fraction=0.0, flood=False, decoys=False)
    plain, _ = synthesize(SceneConfig(**base), seed=11)
    fire = Fire(area_m2=100.0, temperature_k=1000.0, row=64.2, col=63.9)
    burning, truth = synthesize(SceneConfig(**base, fires=(fire,)), seed=11)
    p = 100.0 / 200.0 ** 2
    for band, lam, floor_k in (("mwir", 3.9, 40.0), ("tir", 11.0, 0.5)):
        tb = float(plain.bands[band][64, 64])
        expected = inverse_planck(lam, p * planck(lam, 1000.0) + (1 - p) * planck(lam, tb))
        assert float(burning.bands[band][64, 64]) == pytest.approx(expected, abs=2e-3)
        assert expected - tb > floor_k
    rise_mwir = burning.bands["mwir"][64, 64] - plain.bands["mwir"][64, 64]
    rise_tir = burning.bands["tir"][64, 64] - plain.bands["tir"][64, 64]
    assert rise_mwir > 15 * rise_tir
    # nothing else changed
    changed = np.argwhere(burning.bands["mwir"] != plain.bands["mwir"])
    assert changed.tolist() == [[64, 64]]
    (fire,) = truth.targets_of("FIRE")
    assert fire.pixels == ((64, 64),) and fire.area_m2 == 100.0 and fire.temperature_k == 1000.0


def test_a_straddling_fire_splits_its_area_exactly_over_the_pixels_it_covers() -> None:
    base = dict(**SMALL, **QUIET, fire_count=0, ship_count=0, cloud_fraction=0.0, water_fraction=0.0,
                desert_fraction=0.0, flood=False, decoys=False, sun_zenith_deg=120.0)
    area, temp = 2500.0, 900.0  # a 50 m square, centred on the corner of four pixels, off by 10 m and 5 m
    plain, _ = synthesize(SceneConfig(**base), seed=3)
    fire = Fire(area_m2=area, temperature_k=temp, row=40.55, col=70.525)
    burning, truth = synthesize(SceneConfig(**base, fires=(fire,)), seed=3)
    (fire,) = truth.targets_of("FIRE")
    assert sorted(fire.pixels) == [(40, 70), (40, 71), (41, 70), (41, 71)]
    # recover each pixel's burning fraction from its 11 µm radiance: L = p·B(T) + (1 - p)·L_background
    total = 0.0
    for r, c in fire.pixels:
        lb = planck(11.0, float(plain.bands["tir"][r, c]))
        lf = planck(11.0, float(burning.bands["tir"][r, c]))
        total += (lf - lb) / (planck(11.0, temp) - lb)
    assert total * 200.0 ** 2 == pytest.approx(area, rel=2e-3)
    assert geodesic_distance_m(fire.lat_deg, fire.lon_deg, *_bilinear(burning, 40.55, 70.525)) < 0.5


def _bilinear(scene: Scene, r: float, c: float) -> tuple[float, float]:
    i, j = int(r), int(c)
    wr, wc = r - i, c - j
    out = []
    for grid in (scene.lat_deg, scene.lon_deg):
        g = grid[i:i + 2, j:j + 2]
        out.append(float(g[0, 0] * (1 - wr) * (1 - wc) + g[0, 1] * (1 - wr) * wc + g[1, 0] * wr * (1 - wc)
                         + g[1, 1] * wr * wc))
    return out[0], out[1]


# ------------------------------------------------------------------------------------------- determinism, ranges


def test_same_seed_same_scene_and_truth_other_seed_differs() -> None:
    cfg = SceneConfig(rows=160, cols=192)
    a, ta = synthesize(cfg, seed=5)
    b, tb = synthesize(cfg, seed=5)
    c, _ = synthesize(cfg, seed=6)
    for name in a.bands:
        np.testing.assert_array_equal(a.bands[name], b.bands[name])
    np.testing.assert_array_equal(a.valid, b.valid)
    np.testing.assert_array_equal(a.reference_water, b.reference_water)
    assert ta.to_json() == tb.to_json()
    assert not np.array_equal(a.bands["nir"], c.bands["nir"])


@pytest.mark.parametrize("overrides", [
    {},
    {"sun_zenith_deg": 0.0},
    {"sun_zenith_deg": 120.0},
    {"cloud_fraction": 0.9, "fire_count": 2, "ship_count": 0, "flood": False},
    {"water_fraction": 0.0, "desert_fraction": 0.6, "ship_count": 0, "glint_count": 0},
    {"fire_count": 30, "fire_area_m2": (5e3, 5e4), "fire_temperature_k": (1100.0, 1400.0)},
    {"body_rate_rad_s": 0.02, "exposure_s": 0.1, "smear_direction_deg": 30.0},
    {"dead_pixel_fraction": 0.05, "nedt_mwir_k": 2.0, "reflectance_noise": 0.03},
    {"pixel_size_m": 10.0, "center_lat_deg": 70.0, "heading_deg": 123.0, "ship_length_px": (5.0, 10.0)},
])
def test_every_band_stays_within_the_scene_format_ranges(overrides: dict) -> None:
    scene, truth = synthesize(SceneConfig(rows=192, cols=192, **overrides), seed=2)
    _assert_in_band_ranges(scene)
    assert scene.valid is not None and scene.valid.dtype == bool and scene.reference_water.dtype == bool
    json.dumps(truth.to_json())


def test_default_scene_surfaces_have_realistic_values(default_scene) -> None:
    scene, truth = default_scene
    b = scene.bands
    assert scene.shape == (512, 512) and scene.pixel_size_m == 200.0
    clear = ~truth.cloud_mask & scene.valid
    sea = scene.reference_water & clear
    assert np.median(b["nir"][sea]) < 0.03 and np.median(b["swir"][sea]) < 0.02
    assert 0.02 < np.median(b["red"][sea]) < 0.04
    land = ~truth.water_mask & clear
    veg = land & (b["nir"] > 0.25) & (b["swir"] < 0.3)
    assert 0.03 < np.median(b["red"][veg]) < 0.08 and 0.22 < np.median(b["nir"][veg]) < 0.32
    assert 295.0 < np.median(b["tir"][veg]) < 305.0 and 300.0 < np.median(b["mwir"][veg]) < 310.0
    desert = land & (b["swir"] > 0.38) & (b["red"] > 0.25)
    assert 0.4 < np.median(b["swir"][desert]) < 0.5
    assert 315.0 < np.percentile(b["tir"][desert], 99) < 332.0
    assert 325.0 < np.percentile(b["mwir"][desert], 99) < 345.0
    assert np.median(b["tir"][sea]) < np.median(b["tir"][veg]) - 5
    # thick cloud (the deck's edges and holes are half transparent, and warmer for the ground they let through)
    opaque = ndimage.binary_erosion(truth.cloud_mask, iterations=2) & (b["red"] > 0.55) & scene.valid
    assert opaque.sum() > 1000
    assert 215.0 < b["tir"][opaque].min() and b["tir"][opaque].max() < 270.0
    assert 225.0 < np.median(b["tir"][opaque]) < 265.0
    assert np.median(b["swir"][opaque]) < np.median(b["nir"][opaque])
    assert np.median(b["mwir"][opaque]) > np.median(b["tir"][opaque]) + 20  # reflected sunlight at 3.9 µm


def test_a_1024_scene_synthesises_quickly() -> None:
    start = time.perf_counter()
    scene, _ = synthesize(SceneConfig(rows=1024, cols=1024), seed=1)
    elapsed = time.perf_counter() - start
    assert scene.shape == (1024, 1024)
    assert elapsed < 4.0, f"{elapsed:.2f} s"


# ------------------------------------------------------------------------------------------- truth


def test_truth_fire_areas_sum_to_the_configured_fires() -> None:
    fires = tuple(Fire(area_m2=a, temperature_k=t, row=20.0 + 15 * k, col=30.3 + 11 * k)
                  for k, (a, t) in enumerate([(10.0, 600.0), (250.0, 800.0), (4000.0, 1000.0), (1e4, 1200.0),
                                              (60000.0, 750.0)]))
    _, truth = synthesize(SceneConfig(**SMALL, fire_count=0, fires=fires, cloud_fraction=0.0), seed=4)
    got = truth.targets_of("FIRE")
    assert sum(t.area_m2 for t in got) == pytest.approx(sum(f.area_m2 for f in fires), rel=1e-12)
    assert [t.temperature_k for t in got] == [f.temperature_k for f in fires]
    # a 6 ha fire is larger than a 200 m pixel: it covers whole pixels plus parts of a ring round them
    assert len(got[-1].pixels) >= 4


def test_random_fires_follow_the_configured_ranges(default_scene) -> None:
    scene, truth = default_scene
    fires = truth.targets_of("FIRE")
    assert len(fires) == 5
    for f in fires:
        assert 10.0 <= f.area_m2 <= 1e4 and 600.0 <= f.temperature_k <= 1200.0
        assert not f.cloud_covered
        assert all(not truth.water_mask[r, c] for r, c in f.pixels)
        r, c = max(f.pixels, key=lambda rc: scene.bands["mwir"][rc])
        assert abs(r - f.row) <= 1 and abs(c - f.col) <= 1
        assert f.lat_deg == pytest.approx(float(scene.lat_deg[round(f.row), round(f.col)]), abs=0.01)


def test_ships_lie_on_water_and_are_bright(default_scene) -> None:
    scene, truth = default_scene
    ships = truth.targets_of("SHIP")
    assert len(ships) == 4
    sea_nir = np.median(scene.bands["nir"][scene.reference_water & ~truth.cloud_mask])
    for s in ships:
        assert 3 * 200.0 <= s.length_m <= 30 * 200.0 and 0.0 <= s.heading_deg < 360.0
        pix = np.array(s.pixels)
        assert truth.water_mask[pix[:, 0], pix[:, 1]].all()
        assert scene.reference_water[pix[:, 0], pix[:, 1]].all()
        assert not truth.flood_mask[pix[:, 0], pix[:, 1]].any()
        assert scene.bands["nir"][pix[:, 0], pix[:, 1]].max() > sea_nir + 0.08
        assert scene.bands["red"][pix[:, 0], pix[:, 1]].max() > 0.1
        # an elongated hull: the pixels it covers spread along its length
        spread = np.ptp(pix, axis=0).max() + 1
        assert spread >= 0.7 * s.length_m / 200.0


def test_explicit_ship_heading_is_geographic() -> None:
    cfg = SceneConfig(**SMALL, **QUIET, water_fraction=0.9, desert_fraction=0.0, cloud_fraction=0.0, ship_count=0,
                      fire_count=0, flood=False, decoys=False, heading_deg=90.0,
                      ships=(Ship(length_m=4000.0, width_m=400.0, heading_deg=0.0, row=64.0, col=64.0),))
    scene, truth = synthesize(cfg, seed=1)
    (ship,) = truth.targets_of("SHIP")
    pix = np.array(ship.pixels)
    # image up is east, so a ship heading north lies along the image rows (across columns)
    assert np.ptp(pix[:, 1]) > 3 * np.ptp(pix[:, 0])
    assert ship.area_m2 == pytest.approx(4000.0 * 400.0)


def test_flood_is_land_in_the_reference_and_water_in_the_scene(default_scene) -> None:
    scene, truth = default_scene
    flood = truth.flood_mask
    assert flood.sum() > 100
    assert not (flood & scene.reference_water).any()
    assert (flood & ~truth.water_mask).sum() == 0
    seen = flood & ~truth.cloud_mask
    dry_land = ~truth.water_mask & ~truth.cloud_mask
    assert np.median(scene.bands["nir"][seen]) < 0.1 < np.median(scene.bands["nir"][dry_land])
    (target,) = truth.targets_of("FLOOD")
    assert len(target.pixels) == flood.sum() == truth.to_json()["flood_pixel_count"]
    assert target.area_m2 == pytest.approx(flood.sum() * 200.0 ** 2)
    _, dry = synthesize(SceneConfig(flood=False, rows=128, cols=128), seed=7)
    assert not dry.flood_mask.any() and not dry.targets_of("FLOOD")


def test_cloud_fraction_is_the_mean_of_the_cloud_mask() -> None:
    for fraction in (0.0, 0.15, 0.5):
        _, truth = synthesize(SceneConfig(**SMALL, cloud_fraction=fraction, fire_count=1, ship_count=0), seed=9)
        assert truth.cloud_fraction == float(truth.cloud_mask.mean())
        assert truth.cloud_fraction == pytest.approx(fraction, abs=2.0 / truth.cloud_mask.size)
        assert truth.to_json()["cloud_fraction"] == truth.cloud_fraction


def test_decoys_are_recorded_where_they_are(default_scene) -> None:
    scene, truth = default_scene
    kinds = {d.kind for d in truth.decoys}
    assert kinds == {"GLINT", "HOT_DESERT_EDGE", "CLOUD_EDGE"}
    b = scene.bands
    sea = scene.reference_water & ~truth.cloud_mask
    for d in truth.decoys:
        pix = np.array(d.pixels)
        rr, cc = pix[:, 0], pix[:, 1]
        assert d.lat_deg == scene.lat_deg[int(d.row), int(d.col)]
        hottest = np.argmax(b["mwir"][rr, cc])
        if d.kind == "GLINT":
            assert scene.reference_water[rr, cc].all()
            assert b["red"][rr, cc].max() > 0.1 and b["mwir"][rr, cc].max() > np.median(b["mwir"][sea]) + 8
            assert b["tir"][rr, cc][hottest] < np.median(b["tir"][sea]) + 1.5  # warm at 3.9 µm only
        elif d.kind == "HOT_DESERT_EDGE":
            assert b["swir"][rr, cc].min() > 0.3  # bare soil
            assert b["tir"][rr, cc].max() > 318.0
        else:
            assert truth.cloud_mask[int(d.row), int(d.col)]
            assert b["mwir"][rr, cc][hottest] - b["tir"][rr, cc][hottest] > 10
            assert b["mwir"][rr, cc].max() > np.median(b["mwir"][truth.cloud_mask]) + 10
    # none of them is a target
    target_pixels = {p for t in truth.targets if t.kind != "FLOOD" for p in t.pixels}
    assert not target_pixels & {p for d in truth.decoys for p in d.pixels}


def test_no_decoys_at_night_or_when_disabled() -> None:
    _, night = synthesize(SceneConfig(**SMALL, sun_zenith_deg=110.0), seed=1)
    _, off = synthesize(SceneConfig(**SMALL, decoys=False), seed=1)
    assert night.decoys == () and off.decoys == ()


def test_night_scene_has_near_zero_reflectance_and_no_reflected_mwir() -> None:
    scene, truth = synthesize(SceneConfig(sun_zenith_deg=110.0, fire_count=3), seed=8)
    for name in ("red", "nir", "swir"):
        assert np.abs(scene.bands[name][scene.valid]).max() < 0.02
    # no sunlight at 3.9 µm: clear ground is no warmer there than at 11 µm (emissivity < 1 makes it cooler)
    ground = ~truth.cloud_mask & scene.valid
    fire_px = {p for t in truth.targets_of("FIRE") for p in t.pixels}
    ground[tuple(np.array(sorted(fire_px)).T)] = False
    assert np.percentile(scene.bands["mwir"][ground] - scene.bands["tir"][ground], 99) < 1.5
    for f in truth.targets_of("FIRE"):
        r, c = max(f.pixels, key=lambda rc: scene.bands["mwir"][rc])
        assert scene.bands["mwir"][r, c] > scene.bands["tir"][r, c] + 5  # fires still show
    _, day = synthesize(SceneConfig(sun_zenith_deg=84.0, **SMALL), seed=8)
    assert day.decoys  # 84° is still day


# ------------------------------------------------------------------------------------------- sensor


def test_zero_body_rate_is_no_smear_and_smear_spreads_a_fire() -> None:
    base = dict(**SMALL, **QUIET, fire_count=0, cloud_fraction=0.0, water_fraction=0.0, ship_count=0,
                desert_fraction=0.0, flood=False, decoys=False, fires=(Fire(area_m2=500.0, temperature_k=900.0,
                                                                            row=64.0, col=64.0),))
    sharp, t0 = synthesize(SceneConfig(**base, exposure_s=0.0), seed=2)
    still, t1 = synthesize(SceneConfig(**base, body_rate_rad_s=0.0, exposure_s=0.05), seed=2)
    for name in sharp.bands:
        np.testing.assert_array_equal(sharp.bands[name], still.bands[name])
    assert t0.smear_px == t1.smear_px == 0.0
    # 8 mrad/s for 0.2 s over 4e-4 rad pixels: 4 pixels of smear down the columns
    smeared, ts = synthesize(SceneConfig(**base, body_rate_rad_s=8e-3, exposure_s=0.2), seed=2)
    assert ts.smear_px == pytest.approx(4.0)
    assert ts.to_json()["smear_px"] == pytest.approx(4.0)
    assert (sharp.bands["mwir"] > sharp.bands["mwir"][64, 64] - 1).sum() == 1
    rise = smeared.bands["mwir"] - sharp.bands["mwir"]
    assert rise[64, 64] < -20  # the fire's light leaves its pixel ...
    assert (rise[[62, 63, 65, 66], 64] > 5).all()  # ... for two pixels either way down the column
    assert (np.abs(rise[64, [60, 62, 66, 68]]) < 0.5).all() and abs(rise[58, 64]) < 0.5  # and nowhere else
    assert smeared.bands["mwir"].max() < sharp.bands["mwir"].max() - 20
    # smear moves the fire's radiance, it does not make or lose any: compare each with its fireless twin
    no_fire = {**base, "fires": ()}
    bare_sharp, _ = synthesize(SceneConfig(**no_fire, exposure_s=0.0), seed=2)
    bare_smeared, _ = synthesize(SceneConfig(**no_fire, body_rate_rad_s=8e-3, exposure_s=0.2), seed=2)

    def excess(scene, bare):
        return (planck(3.9, scene.bands["mwir"].astype(float)) - planck(3.9, bare.bands["mwir"].astype(float))).sum()

    assert excess(smeared, bare_smeared) == pytest.approx(excess(sharp, bare_sharp), rel=1e-4)


def test_dead_pixels_are_invalid_and_saturated_ones_read_the_top_of_the_range() -> None:
    big = Fire(area_m2=2e4, temperature_k=1200.0, row=50.0, col=50.0)
    scene, truth = synthesize(SceneConfig(**SMALL, fires=(big,), dead_pixel_fraction=0.01, mwir_saturation_k=450.0,
                                          cloud_fraction=0.0), seed=5)
    assert scene.bands["mwir"][50, 50] == 450.0 and scene.valid[50, 50]  # clipped, still a valid (lower) bound
    assert truth.noise["saturated_pixel_count"] >= 1
    dead = truth.noise["dead_pixel_count"]
    assert dead == round(0.01 * 128 * 128)
    dead_mask = (scene.bands["tir"] == 150.0) & (scene.bands["red"] == 0.0)
    assert dead_mask.sum() == dead and not scene.valid[dead_mask].any()
    assert (~scene.valid).sum() == dead


def test_noise_has_the_configured_nedt() -> None:
    base = dict(**SMALL, fire_count=0, ship_count=0, cloud_fraction=0.0, flood=False, decoys=False,
                dead_pixel_fraction=0.0)
    quiet, _ = synthesize(SceneConfig(**base, nedt_mwir_k=0.0, nedt_tir_k=0.0, reflectance_noise=0.0), seed=3)
    noisy, truth = synthesize(SceneConfig(**base, nedt_mwir_k=0.4, nedt_tir_k=0.1, reflectance_noise=0.005), seed=3)
    assert np.std(noisy.bands["mwir"] - quiet.bands["mwir"]) == pytest.approx(0.4, rel=0.05)
    assert np.std(noisy.bands["tir"] - quiet.bands["tir"]) == pytest.approx(0.1, rel=0.05)
    assert np.std(noisy.bands["red"] - quiet.bands["red"]) == pytest.approx(0.005, rel=0.05)
    assert truth.noise["nedt_mwir_k"] == 0.4


# ------------------------------------------------------------------------------------------- files and grids


def test_save_and_load_round_trip_with_truth(tmp_path, default_scene) -> None:
    scene, truth = default_scene
    path = tmp_path / "capture.npz"
    save_scene(path, scene, truth=truth.to_json())
    back = load_scene(path)
    assert back.shape == scene.shape and back.image_id == scene.image_id
    for name in scene.bands:
        np.testing.assert_array_equal(back.bands[name], scene.bands[name])
    np.testing.assert_array_equal(back.lat_deg, scene.lat_deg)
    np.testing.assert_array_equal(back.valid, scene.valid)
    np.testing.assert_array_equal(back.reference_water, scene.reference_water)
    stored = json.loads((tmp_path / "capture.truth.json").read_text())
    assert stored == json.loads(json.dumps(truth.to_json()))
    assert stored["cloud_fraction"] == truth.cloud_fraction
    assert stored["flood_pixel_count"] == int(truth.flood_mask.sum())
    assert {t["kind"] for t in stored["targets"]} == {"FIRE", "SHIP", "FLOOD"}
    assert "cloud_mask" not in stored


def test_a_geolocated_footprint_replaces_the_local_grid() -> None:
    lat0, lon0 = 43.24, 76.95
    lat_r, lon_r = math.radians(lat0), math.radians(lon0)
    north = np.array([-math.sin(lat_r) * math.cos(lon_r), -math.sin(lat_r) * math.sin(lon_r), math.cos(lat_r)])
    east = np.array([-math.sin(lon_r), math.cos(lon_r), 0.0])
    dcm = np.column_stack([north, east, np.cross(north, east)])  # rows north, columns east, boresight down
    cam = Camera(128, 160, 4e-4)
    lat, lon = geolocate(cam, geodetic_to_itrs_m(lat0, lon0, 500e3), dcm)
    target = (43.25, 76.93)
    cfg = SceneConfig(rows=128, cols=160, fires=(Fire(area_m2=300.0, temperature_k=950.0, lat_deg=target[0],
                                                      lon_deg=target[1]),), fire_count=0, cloud_fraction=0.0)
    scene, truth = synthesize(cfg, seed=1, lat_deg=lat, lon_deg=lon)
    np.testing.assert_array_equal(scene.lat_deg, lat)
    (fire,) = truth.targets_of("FIRE")
    assert geodesic_distance_m(fire.lat_deg, fire.lon_deg, *target) < 1.0
    r, c = max(fire.pixels, key=lambda rc: scene.bands["mwir"][rc])
    assert geodesic_distance_m(scene.lat_deg[r, c], scene.lon_deg[r, c], *target) < 200.0
    with pytest.raises(SceneConfigError, match="shape"):
        synthesize(cfg, seed=1, lat_deg=lat[:-1], lon_deg=lon[:-1])
    with pytest.raises(SceneConfigError, match="both"):
        synthesize(cfg, seed=1, lat_deg=lat)
    off = lat.copy()
    off[0, 0] = np.nan
    with pytest.raises(SceneConfigError, match="Earth"):
        synthesize(cfg, seed=1, lat_deg=off, lon_deg=lon)
    outside = SceneConfig(rows=128, cols=160, fires=(Fire(area_m2=300.0, temperature_k=950.0, lat_deg=44.0,
                                                          lon_deg=76.95),), fire_count=0)
    with pytest.raises(SceneConfigError, match="inside the scene"):
        synthesize(outside, seed=1, lat_deg=lat, lon_deg=lon)


@pytest.mark.parametrize("kwargs, field", [
    ({"rows": 8}, "rows"),
    ({"water_fraction": 0.6, "desert_fraction": 0.5}, "water_fraction + desert_fraction"),
    ({"fire_area_m2": (100.0, 10.0)}, "fire_area_m2"),
    ({"mwir_saturation_k": 2000.0}, "mwir_saturation_k"),
    ({"body_rate_rad_s": 0.5, "exposure_s": 1.0}, "body_rate_rad_s × exposure_s / ifov_rad"),
    ({"fires": ("not a fire",)}, "fires"),
])
def test_bad_configs_say_which_field(kwargs: dict, field: str) -> None:
    with pytest.raises(SceneConfigError) as err:
        SceneConfig(**kwargs)
    assert err.value.field == field


def test_bad_targets_and_seeds_are_refused() -> None:
    with pytest.raises(SceneConfigError, match="not both"):
        Fire(area_m2=10.0, temperature_k=800.0, row=1.0, col=2.0, lat_deg=3.0, lon_deg=4.0)
    with pytest.raises(SceneConfigError, match="not both"):
        Ship(length_m=100.0, row=1.0)
    with pytest.raises(SceneConfigError, match="temperature_k"):
        Fire(area_m2=10.0, temperature_k=100.0, row=1.0, col=2.0)
    with pytest.raises(SceneConfigError, match="seed"):
        synthesize(SceneConfig(**SMALL), seed=-1)
    with pytest.raises(SceneConfigError, match="ship_count"):
        synthesize(SceneConfig(**SMALL, water_fraction=0.0, ship_count=1, glint_count=0), seed=1)
    with pytest.raises(SceneConfigError, match="inside the scene"):
        synthesize(SceneConfig(**SMALL, fires=(Fire(area_m2=10.0, temperature_k=800.0, row=500.0, col=2.0),)), seed=1)
