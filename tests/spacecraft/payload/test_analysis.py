"""Onboard scene analysis on hand-made scenes: the published fire decisions, planted targets found, decoys not."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from spacecraft.payload.analysis import AnalysisConfig, AnalysisConfigError, AnalysisResult, Detection, analyse
from spacecraft.payload.fire import (
    MIR_WAVELENGTH_UM,
    STEFAN_BOLTZMANN_W_M2_K4,
    brightness_temperature_k,
    detect_fire_pixels,
    planck_radiance,
)
from spacecraft.payload.scenefile import Scene, SceneError, load_scene, save_scene

LAT0_DEG, LON0_DEG = 43.2, 76.9
# land (vegetation, ρnir below the 0.3 potential-fire ceiling), sea, cloud
LAND = {"red": 0.06, "nir": 0.25, "swir": 0.18}
SEA = {"red": 0.03, "nir": 0.02, "swir": 0.008}
CLOUD = {"red": 0.5, "nir": 0.5, "swir": 0.35}
HULL = {"red": 0.2, "nir": 0.3, "swir": 0.15}
DAY_DEG, NIGHT_DEG = 30.0, 120.0


class Canvas:
    """Hand-made band arrays (land at 300 K, T4 3 K warmer by day) that become a Scene."""

    def __init__(self, rows: int = 41, cols: int = 41) -> None:
        self.shape = (rows, cols)
        r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
        self.r, self.c = r, c
        self.lat = LAT0_DEG - 9e-5 * r
        self.lon = LON0_DEG + 1.2e-4 * c
        self.bands = {name: np.full(self.shape, value) for name, value in LAND.items()}
        self.bands["tir"] = np.full(self.shape, 300.0)
        self.bands["mwir"] = np.full(self.shape, 303.0)
        self.valid: np.ndarray | None = None
        self.reference_water: np.ndarray | None = None

    def paint(self, where: np.ndarray | tuple, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.bands[name][where] = value

    def checker(self, amplitude_k: float, bands: tuple[str, ...] = ("mwir",)) -> None:
        """Add ±amplitude in a checkerboard: mean unchanged, mean absolute deviation = amplitude."""
        sign = ((self.r + self.c) % 2) * 2 - 1
        for name in bands:
            self.bands[name] = self.bands[name] + amplitude_k * sign

    def scene(self, *, sun_zenith_deg: float = DAY_DEG, drop: tuple[str, ...] = (), pixel_size_m: float = 10.0,
              meta: dict | None = None) -> Scene:
        bands = {k: v.copy() for k, v in self.bands.items() if k not in drop}
        return Scene(bands=bands, lat_deg=self.lat.copy(), lon_deg=self.lon.copy(), pixel_size_m=pixel_size_m,
                     sun_zenith_deg=sun_zenith_deg, image_id=42, reference_water=self.reference_water,
                     valid=self.valid, meta=meta or {})


def fires(result: AnalysisResult) -> list[Detection]:
    return [d for d in result.detections if d.kind == "FIRE"]


def ships(result: AnalysisResult) -> list[Detection]:
    return [d for d in result.detections if d.kind == "SHIP"]


# ----------------------------------------------------------------------------------------------------------
# contextual fire decisions (Giglio et al. 2003 §2.2)


def test_candidate_on_a_300_k_background_is_a_fire_by_day() -> None:
    cv = Canvas()
    cv.paint(np.s_[:, :], {"mwir": 300.0, "tir": 297.0})
    cv.checker(1.0)  # background T4 300 K, MAD 1 K
    cv.paint((20, 20), {"mwir": 330.0, "tir": 302.0})
    found = fires(analyse(cv.scene()))
    assert [(d.row, d.col) for d in found] == [(20.0, 20.0)]
    assert found[0].peak == 330.0 and found[0].pixel_count == 1
    assert 0.0 < found[0].confidence <= 1.0


def test_same_candidate_on_a_325_k_background_is_not_a_fire() -> None:
    cv = Canvas()
    cv.paint(np.s_[:, :], {"mwir": 325.0, "tir": 300.0})
    cv.checker(1.0, ("mwir", "tir"))  # mean T4 325 K, MAD 1 K; ΔT̄ = 25 K
    cv.paint((20, 20), {"mwir": 330.0, "tir": 302.0})
    # ΔT = 28 K is not 6 K above the background's 25 K
    assert fires(analyse(cv.scene())) == []


def test_absolute_threshold_pixel_is_a_fire_whatever_the_context() -> None:
    cv = Canvas()
    # every neighbour is itself a background fire, so the background cannot be characterised
    cv.paint(np.s_[:, :], {"mwir": 350.0, "tir": 310.0})
    cv.checker(1.0)
    cv.paint((20, 20), {"mwir": 365.0, "tir": 312.0})
    found = fires(analyse(cv.scene()))
    assert [(d.row, d.col, d.peak) for d in found] == [(20.0, 20.0, 365.0)]
    # 355 K in the same place is below the absolute threshold: unknown, not fire
    cv.paint((20, 20), {"mwir": 355.0})
    assert fires(analyse(cv.scene())) == []


def test_absolute_threshold_pixel_on_water_is_a_fire() -> None:
    cv = Canvas()
    cv.paint(np.s_[:, :], SEA | {"mwir": 292.0, "tir": 291.0})
    cv.paint((20, 20), {"mwir": 400.0, "tir": 300.0, "nir": 0.05})  # an offshore gas flare
    found = fires(analyse(cv.scene()))
    assert [(d.row, d.col) for d in found] == [(20.0, 20.0)]
    assert found[0].frp_mw > 0


def _lake_scene() -> Canvas:
    cv = Canvas()
    cv.checker(1.0)
    cv.paint(np.s_[18:23, 18:23], SEA | {"mwir": 295.0, "tir": 294.0})
    return cv


def test_hot_glint_pixel_on_water_is_not_a_fire() -> None:
    cv = _lake_scene()
    # on the lake's edge column: five water neighbours, land behind it for a background
    cv.paint((20, 22), {"mwir": 335.0, "tir": 300.0, "red": 0.25, "nir": 0.25, "swir": 0.2})
    assert fires(analyse(cv.scene())) == []
    # the same heat in a dark pixel is a fire: the glint test, not the context, removed it
    cv.paint((20, 22), {"red": 0.05, "nir": 0.1, "swir": 0.05})
    assert [(d.row, d.col) for d in fires(analyse(cv.scene()))] == [(20.0, 22.0)]


def test_geometric_sun_glint_rejects_bright_fires_near_the_specular_point() -> None:
    cv = Canvas()
    cv.checker(1.0)
    cv.paint((20, 20), {"mwir": 335.0, "tir": 300.0, "red": 0.15, "nir": 0.25, "swir": 0.2})
    assert len(fires(analyse(cv.scene(sun_zenith_deg=30.0)))) == 1
    # nadir view, sun 5° from zenith: θg = 5° < 8° and the pixel is bright in all three bands
    assert fires(analyse(cv.scene(sun_zenith_deg=5.0))) == []
    # an off-nadir view away from the sun's mirror direction removes the glint
    far = {"view_zenith_deg": 30.0, "sun_azimuth_deg": 180.0, "view_azimuth_deg": 180.0}
    assert len(fires(analyse(cv.scene(sun_zenith_deg=5.0, meta=far)))) == 1


def test_night_thresholds_find_a_weaker_fire_the_day_ones_do_not() -> None:
    cv = Canvas()
    cv.paint(np.s_[:, :], {"mwir": 293.0, "tir": 292.0})
    cv.checker(1.0)
    cv.paint((20, 20), {"mwir": 308.0, "tir": 292.0})
    night = analyse(cv.scene(sun_zenith_deg=NIGHT_DEG))
    assert not night.day and [(d.row, d.col) for d in fires(night)] == [(20.0, 20.0)]
    day = analyse(cv.scene(sun_zenith_deg=DAY_DEG))
    assert day.day and fires(day) == []


def test_night_scene_needs_only_the_thermal_bands() -> None:
    cv = Canvas()
    cv.paint((20, 20), {"mwir": 330.0, "tir": 301.0})
    result = analyse(cv.scene(sun_zenith_deg=NIGHT_DEG, drop=("red", "nir", "swir")))
    assert len(fires(result)) == 1
    assert set(result.not_run) == {"SHIP", "FLOOD"}


def test_adjacent_fire_pixels_are_one_detection() -> None:
    cv = Canvas()
    cv.checker(0.5)
    cv.paint(np.s_[10:12, 10:13], {"mwir": 340.0, "tir": 305.0})
    cv.paint((30, 30), {"mwir": 335.0, "tir": 302.0})
    cv.paint((31, 31), {"mwir": 333.0, "tir": 302.0})  # diagonal neighbour: same fire
    found = sorted(fires(analyse(cv.scene())), key=lambda d: d.row)
    assert [(d.pixel_count, d.bbox) for d in found] == [(6, (10, 10, 12, 13)), (2, (30, 30, 32, 32))]
    assert found[0].row == pytest.approx(10.5) and found[0].col == pytest.approx(11.0)
    assert found[0].area_m2 == pytest.approx(600.0)
    assert found[1].peak == 335.0


# ----------------------------------------------------------------------------------------------------------
# decoys


def test_hot_desert_edge_is_no_fire() -> None:
    rng = np.random.default_rng(3)
    cv = Canvas(60, 60)
    soil = cv.c >= 30
    cv.paint(soil, {"mwir": 335.0, "tir": 320.0, "red": 0.25, "nir": 0.28, "swir": 0.35})
    for name in ("mwir", "tir"):
        cv.bands[name] = cv.bands[name] + rng.normal(0.0, 0.3, cv.shape)
    assert fires(analyse(cv.scene())) == []


def test_desert_boundary_rejection_removes_the_hot_side_of_a_soil_edge() -> None:
    rng = np.random.default_rng(4)
    cv = Canvas(60, 60)
    soil = cv.c >= 30
    # hot enough that the soil is "background fire": the window sees only the cool side, and the tests pass
    cv.paint(soil, {"mwir": 340.0, "tir": 318.0, "red": 0.25, "nir": 0.28, "swir": 0.35})
    for name in ("mwir", "tir"):
        cv.bands[name] = cv.bands[name] + rng.normal(0.0, 0.5, cv.shape)
    assert fires(analyse(cv.scene())) == []
    without = AnalysisConfig(fire_desert_bgfire_count_min=10_000)
    assert len(fires(analyse(cv.scene(), config=without))) > 0


def test_bright_cloud_edge_is_no_fire_and_no_ship() -> None:
    rng = np.random.default_rng(5)
    cv = Canvas(80, 80)
    sea = cv.c >= 40
    cv.paint(sea, SEA | {"mwir": 293.0, "tir": 292.0})
    cv.bands["nir"] = cv.bands["nir"] + rng.normal(0.0, 0.003, cv.shape) * sea
    for centre in ((40, 18), (40, 62)):  # one cloud over land, one over the sea
        d = np.hypot(cv.r - centre[0], cv.c - centre[1])
        cv.paint(d < 10, CLOUD | {"mwir": 290.0, "tir": 262.0})
        # a half-transparent rim: not cloud by the tests, bright, cold at 11 µm, warm at 3.9 µm (reflected sun)
        cv.paint((d >= 10) & (d < 12), {"red": 0.2, "nir": 0.28, "swir": 0.2, "mwir": 315.0, "tir": 282.0})
    # and a cloud fragment smaller than a pixel, on clear land: the rim's signature, alone
    cv.paint((72, 8), {"red": 0.2, "nir": 0.28, "swir": 0.2, "mwir": 315.0, "tir": 282.0})
    result = analyse(cv.scene())
    assert 0.05 < result.cloud_fraction < 0.15
    assert fires(result) == [] and ships(result) == []
    # the decoys are real: without the T11 test (d) the fragment burns; the rim over the sea is stopped twice,
    # by the cloud buffer and by being 10 K colder than the sea, and sails only without both
    assert [(d.row, d.col) for d in fires(analyse(cv.scene(), config=AnalysisConfig(fire_t11_margin_k=100.0)))] \
        == [(72.0, 8.0)]
    assert ships(analyse(cv.scene(), config=AnalysisConfig(ship_cloud_buffer_px=0))) == []
    assert ships(analyse(cv.scene(), config=AnalysisConfig(ship_cold_tir_max_k=1e3))) == []
    assert ships(analyse(cv.scene(), config=AnalysisConfig(ship_cloud_buffer_px=0, ship_cold_tir_max_k=1e3)))


def test_bright_land_pixels_are_not_ships() -> None:
    cv = Canvas(80, 80)
    sea = cv.c >= 40
    cv.paint(sea, SEA)
    cv.paint((20, 20), {"nir": 0.6, "red": 0.5})        # inland
    cv.paint((40, 39), {"nir": 0.6, "red": 0.5})        # on the coast
    cv.paint(np.s_[60, 36:40], {"nir": 0.6, "red": 0.5})  # a pier-like strip of land
    cv.paint(np.s_[60:62, 60:66], HULL)                 # and one real ship
    found = ships(analyse(cv.scene()))
    assert [(round(d.row, 1), round(d.col, 1)) for d in found] == [(60.5, 62.5)]


# ----------------------------------------------------------------------------------------------------------
# ships


def _plant_hull(cv: Canvas, centre_rc: tuple[float, float], length_px: float, width_px: float,
                heading_deg: float) -> None:
    """Rasterise a rotated bright rectangle with 8×8 sub-pixel coverage (mixed edge pixels)."""
    sub = (np.arange(8) + 0.5) / 8 - 0.5
    h = math.radians(heading_deg)
    along = np.array([-math.cos(h), math.sin(h)])  # (drow, dcol) of the heading: north is up, east right
    across = np.array([along[1], -along[0]])
    r0, c0 = centre_rc
    reach = int(length_px) + 2
    for r in range(int(r0) - reach, int(r0) + reach + 1):
        for c in range(int(c0) - reach, int(c0) + reach + 1):
            dr = r + sub[:, None] - r0
            dc = c + sub[None, :] - c0
            a = dr * along[0] + dc * along[1]
            b = dr * across[0] + dc * across[1]
            cover = float(((np.abs(a) <= length_px / 2) & (np.abs(b) <= width_px / 2)).mean())
            if cover > 0:
                for name, value in HULL.items():
                    cv.bands[name][r, c] = (1 - cover) * cv.bands[name][r, c] + cover * value


HULLS = [  # centre (row, col), length px, width px, heading deg
    ((30.0, 30.0), 3, 1, 90.0),
    ((30.0, 80.0), 3, 1, 0.0),
    ((30.5, 130.5), 4, 1, 45.0),
    ((80.3, 30.6), 5, 1, 30.0),
    ((80.0, 80.0), 6, 2, 120.0),
    ((80.5, 130.0), 8, 2, 160.0),
    ((130.0, 30.0), 10, 2, 75.0),
    ((130.5, 80.5), 10, 2, 0.0),
    ((130.2, 130.7), 7, 1, 100.0),
]


def test_ships_are_found_with_length_and_heading() -> None:
    rng = np.random.default_rng(6)
    cv = Canvas(170, 170)
    cv.paint(np.s_[:, :], SEA | {"mwir": 293.0, "tir": 292.0})
    cv.bands["nir"] = cv.bands["nir"] + rng.normal(0.0, 0.003, cv.shape)
    cv.bands["red"] = cv.bands["red"] + rng.normal(0.0, 0.003, cv.shape)
    for centre, length, width, heading in HULLS:
        _plant_hull(cv, centre, length, width, heading)
    found = ships(analyse(cv.scene(pixel_size_m=10.0)))
    assert len(found) == len(HULLS)
    for centre, length, width, heading in HULLS:
        d = min(found, key=lambda s: math.hypot(s.row - centre[0], s.col - centre[1]))
        assert math.hypot(d.row - centre[0], d.col - centre[1]) < 0.7
        assert d.length_m == pytest.approx(length * 10.0, abs=10.0), (centre, d.length_m)
        if length / width >= 3:
            off = abs((d.heading_deg - heading + 90.0) % 180.0 - 90.0)
            assert off <= 10.0, (centre, d.heading_deg)
        assert 0.0 <= d.heading_deg < 180.0
        assert d.peak > 0.1 and 0.0 < d.confidence <= 1.0 and d.frp_mw is None


def test_noise_only_sea_gives_no_more_than_the_expected_false_alarms() -> None:
    rng = np.random.default_rng(7)
    cv = Canvas(400, 400)
    cv.paint(np.s_[:, :], SEA | {"mwir": 293.0, "tir": 292.0})
    cv.bands["nir"] = cv.bands["nir"] + rng.normal(0.0, 0.003, cv.shape)
    scene = cv.scene()
    assert ships(analyse(scene)) == []
    loose = AnalysisConfig(ship_pfa=1e-3, ship_min_pixels=1, ship_min_length_px=0.0)
    n = len(ships(analyse(scene, config=loose)))
    # Pfa × pixels, plus three Poisson standard deviations; and not far below it (the CFAR is calibrated)
    expected = loose.ship_pfa * 400 * 400
    assert 0.3 * expected <= n <= expected + 3 * math.sqrt(expected)


def test_thin_cloud_over_the_sea_is_no_ship_but_a_hull_beside_it_is() -> None:
    rng = np.random.default_rng(11)
    cv = Canvas(120, 120)
    cv.paint(np.s_[:, :], SEA | {"mwir": 293.0, "tir": 292.0})
    cv.bands["nir"] = cv.bands["nir"] + rng.normal(0.0, 0.003, cv.shape)
    cv.bands["tir"] = cv.bands["tir"] + rng.normal(0.0, 0.2, cv.shape)
    # wisps of cloud at opacity 0.2 (cloud red 0.5 / NIR 0.52 / SWIR 0.3, top 268 K): NDWI 0.3 and NIR 0.12
    # keep them water, ρred + ρnir 0.24 and T11 ~287 K keep them out of the cloud mask, yet in the NIR they
    # stand 30 σ above the sea, as a hull does; only 11 µm tells: they are 5 K colder than the sea
    wisp = {"red": 0.124, "nir": 0.12, "swir": 0.066}
    for r0, c0 in ((20, 20), (20, 80), (90, 30)):
        cv.paint(np.s_[r0:r0 + 3, c0:c0 + 5], wisp)
        cv.bands["tir"][r0:r0 + 3, c0:c0 + 5] -= 5.0
    cv.paint(np.s_[80:82, 80:86], HULL | {"tir": 293.5})  # a hull in the sun, a little warmer than the sea
    result = analyse(cv.scene())
    assert result.cloud_fraction == 0.0
    assert [(round(d.row, 1), round(d.col, 1)) for d in ships(result)] == [(80.5, 82.5)]
    # the wisps are real decoys: without the 11 µm test every one sails
    loose = ships(analyse(cv.scene(), config=AnalysisConfig(ship_cold_tir_max_k=1e3)))
    assert len(loose) == 4


def test_ship_at_a_pier_is_found_with_a_reference_map() -> None:
    rng = np.random.default_rng(12)
    cv = Canvas(80, 80)
    sea = cv.c >= 40
    cv.paint(sea, SEA | {"mwir": 293.0, "tir": 292.0})
    cv.bands["nir"] = cv.bands["nir"] + rng.normal(0.0, 0.003, cv.shape) * sea
    cv.reference_water = sea.copy()
    cv.paint(np.s_[40, 40:46], LAND)  # a pier, land on the map
    cv.reference_water[40, 40:46] = False
    cv.paint(np.s_[41:43, 44:50], HULL)  # moored at its end
    found = ships(analyse(cv.scene()))
    assert [(round(d.row, 1), round(d.col, 1)) for d in found] == [(41.5, 46.5)]
    # without the map, land passes the sea pre-screen: pier, coast and hull are one land-sized component,
    # dropped whole (the limitation the map removes)
    cv.reference_water = None
    assert ships(analyse(cv.scene())) == []


def test_ships_at_night_are_not_looked_for() -> None:
    cv = Canvas()
    cv.paint(np.s_[:, :], SEA | {"mwir": 293.0, "tir": 292.0})
    result = analyse(cv.scene(sun_zenith_deg=NIGHT_DEG))
    assert "SHIP" in result.not_run and ships(result) == []


# ----------------------------------------------------------------------------------------------------------
# water and floods


def _flood_scene() -> Canvas:
    cv = Canvas(100, 100)
    river = (cv.c >= 10) & (cv.c < 16)
    cv.reference_water = river.copy()
    cv.paint(river, SEA)
    return cv


def test_flood_over_the_minimum_area_is_one_detection() -> None:
    cv = _flood_scene()
    cv.paint(np.s_[40:70, 16:46], SEA | {"red": 0.08, "nir": 0.06, "swir": 0.02})  # turbid water on land
    cv.paint(np.s_[80:85, 80:85], SEA)  # 25 px = 2500 m²: a puddle
    result = analyse(cv.scene(pixel_size_m=10.0))
    floods = [d for d in result.detections if d.kind == "FLOOD"]
    assert len(floods) == 1
    f = floods[0]
    assert f.area_m2 == pytest.approx(900 * 100.0) and f.pixel_count == 900
    assert (f.row, f.col) == (pytest.approx(54.5), pytest.approx(30.5))
    assert f.bbox == (40, 16, 70, 46)
    assert f.peak == pytest.approx(900 / (100 * 100 - 600))
    assert result.water_mask[40:70, 16:46].all() and result.water_mask[:, 10:16].all()
    assert "FLOOD" not in result.not_run


def test_flood_mask_is_the_pixels_of_the_flood_detections() -> None:
    cv = _flood_scene()
    cv.paint(np.s_[40:70, 16:46], SEA | {"red": 0.08, "nir": 0.06, "swir": 0.02})
    cv.paint(np.s_[80:85, 80:85], SEA)  # a puddle below the minimum area: water, but no flood
    result = analyse(cv.scene(pixel_size_m=10.0))
    expected = np.zeros(cv.shape, dtype=bool)
    expected[40:70, 16:46] = True
    assert result.flood_mask.dtype == bool and np.array_equal(result.flood_mask, expected)
    assert result.water_mask[80:85, 80:85].all()
    cv.reference_water = None
    assert not analyse(cv.scene(pixel_size_m=10.0)).flood_mask.any()


def test_flood_below_the_minimum_area_is_none() -> None:
    cv = _flood_scene()
    cv.paint(np.s_[40:49, 30:41], SEA)  # 99 px = 9900 m² < 10000 m²
    assert [d for d in analyse(cv.scene()).detections if d.kind == "FLOOD"] == []
    cv.paint(np.s_[49, 30], SEA)  # the hundredth pixel
    assert len([d for d in analyse(cv.scene()).detections if d.kind == "FLOOD"]) == 1


def test_without_a_reference_map_flood_detection_is_skipped_and_said_so() -> None:
    cv = _flood_scene()
    cv.reference_water = None
    cv.paint(np.s_[40:70, 16:46], SEA)
    result = analyse(cv.scene())
    assert "reference_water" in result.not_run["FLOOD"]
    assert result.counts["FLOOD"] == 0 and result.skipped is None


# ----------------------------------------------------------------------------------------------------------
# clouds


def test_cloud_fraction_matches_the_planted_cloud() -> None:
    rng = np.random.default_rng(8)
    cv = Canvas(100, 100)
    cloud = np.zeros(cv.shape, dtype=bool)
    cloud[10:40, 0:100] = True  # 30 %
    cv.paint(cloud, CLOUD | {"tir": 255.0, "mwir": 270.0})
    for name in ("red", "nir"):
        cv.bands[name] = np.clip(cv.bands[name] + rng.normal(0.0, 0.02, cv.shape), 0.0, 1.0)
    result = analyse(cv.scene())
    assert abs(result.cloud_fraction - 0.3) <= 0.05
    assert result.skipped is None and result.counts["CLOUD"] == 0
    assert (result.cloud_mask == cloud).mean() > 0.95


def test_night_cloud_mask_uses_the_thermal_test_only() -> None:
    cv = Canvas(50, 50)
    cv.paint(np.s_[0:20, :], {"tir": 250.0, "mwir": 250.0})
    cv.paint(np.s_[30:50, :], {"red": 0.9, "nir": 0.9})  # bright, warm: meaningless at night
    result = analyse(cv.scene(sun_zenith_deg=NIGHT_DEG))
    assert result.cloud_fraction == pytest.approx(0.4)


def test_too_cloudy_scene_is_only_a_cloud_report() -> None:
    cv = Canvas(100, 100)
    cv.paint(np.s_[0:75, :], CLOUD | {"tir": 255.0, "mwir": 270.0})
    cv.paint((90, 50), {"mwir": 380.0, "tir": 310.0})  # a fire that will not be looked for
    result = analyse(cv.scene())
    assert result.skipped == "cloud fraction 0.75 above threshold 0.6"
    assert len(result.detections) == 1
    d = result.detections[0]
    assert d.kind == "CLOUD" and d.peak == pytest.approx(0.75)
    assert (d.row, d.col) == (49.5, 49.5)
    assert d.lat_deg == pytest.approx(LAT0_DEG - 9e-5 * 49.5) and d.lon_deg == pytest.approx(LON0_DEG + 1.2e-4 * 49.5)
    assert result.counts == {"CLOUD": 1, "FIRE": 0, "FLOOD": 0, "SHIP": 0}
    assert set(result.not_run) == {"FIRE", "FLOOD", "SHIP"}


# ----------------------------------------------------------------------------------------------------------
# invalid pixels, geolocation, FRP, errors, JSON


def test_invalid_pixels_are_never_detections_nor_background() -> None:
    cv = Canvas(80, 80)
    sea = cv.c >= 40
    cv.paint(sea, SEA | {"mwir": 293.0, "tir": 292.0})
    cv.checker(0.5)
    cv.valid = np.ones(cv.shape, dtype=bool)
    cv.paint((20, 20), {"mwir": 380.0, "tir": 310.0})   # a fire on a dead pixel
    cv.paint(np.s_[60:62, 60:65], HULL)                 # a ship on dead pixels
    cv.valid[20, 20] = False
    cv.valid[60:62, 60:65] = False
    cv.paint((10, 10), {"mwir": 1000.0})                # a saturated, flagged pixel ...
    cv.valid[10, 10] = False
    cv.paint((10, 11), {"mwir": 330.0, "tir": 301.0})   # ... next to a real fire
    result = analyse(cv.scene())
    assert [(d.kind, d.row, d.col) for d in result.detections] == [("FIRE", 10.0, 11.0)]
    assert result.detections[0].peak == 330.0
    # NaN in a band marks the pixel invalid too
    cv.bands["mwir"][5, 5] = np.nan
    result = analyse(cv.scene())
    assert [(d.kind, d.row, d.col) for d in result.detections] == [("FIRE", 10.0, 11.0)]


def test_detection_is_geolocated_bilinearly_at_its_centroid() -> None:
    cv = Canvas()
    cv.lat = LAT0_DEG - 9e-5 * cv.r + 3e-7 * cv.c * cv.r  # a curved grid: bilinear differs from linear
    cv.lon = LON0_DEG + 1.2e-4 * cv.c + 2e-7 * cv.r ** 2
    cv.paint((8, 8), {"mwir": 335.0, "tir": 302.0})
    cv.paint(np.s_[25:27, 30:32], {"mwir": 335.0, "tir": 302.0})
    found = sorted(fires(analyse(cv.scene())), key=lambda d: d.row)
    assert len(found) == 2
    assert (found[0].lat_deg, found[0].lon_deg) == (cv.lat[8, 8], cv.lon[8, 8])
    d = found[1]
    assert (d.row, d.col) == (25.5, 30.5)
    assert d.lat_deg == pytest.approx(cv.lat[25:27, 30:32].mean(), abs=1e-12)
    assert d.lon_deg == pytest.approx(cv.lon[25:27, 30:32].mean(), abs=1e-12)


@pytest.mark.parametrize("fire_k, fraction", [(800.0, 0.01), (1000.0, 0.002), (1000.0, 0.02), (1200.0, 0.001)])
def test_frp_of_a_sub_pixel_fire_is_within_20_percent_of_sigma_t4_area(fire_k: float, fraction: float) -> None:
    pixel_m = 30.0
    cv = Canvas()
    cv.paint(np.s_[:, :], {"mwir": 300.0, "tir": 300.0})
    mix_k = {band: float(brightness_temperature_k(wl, fraction * planck_radiance(wl, fire_k)
                                                  + (1 - fraction) * planck_radiance(wl, 300.0)))
             for band, wl in (("mwir", MIR_WAVELENGTH_UM), ("tir", 11.0))}
    cv.paint((20, 20), mix_k)
    found = fires(analyse(cv.scene(sun_zenith_deg=NIGHT_DEG, pixel_size_m=pixel_m)))
    assert len(found) == 1
    truth_mw = STEFAN_BOLTZMANN_W_M2_K4 * fire_k ** 4 * fraction * pixel_m ** 2 / 1e6
    assert found[0].frp_mw == pytest.approx(truth_mw, rel=0.2)


def test_planck_and_brightness_temperature_are_inverse() -> None:
    t = np.array([200.0, 300.0, 1000.0])
    assert brightness_temperature_k(3.9, planck_radiance(3.9, t)) == pytest.approx(t)
    # a known value: 300 K at 10 µm is 9.92 W m⁻² sr⁻¹ µm⁻¹
    assert float(planck_radiance(10.0, 300.0)) == pytest.approx(9.924, rel=1e-3)


def test_fire_pixels_report_which_test_removed_a_candidate() -> None:
    cv = _lake_scene()
    cv.paint((20, 22), {"mwir": 335.0, "tir": 300.0, "red": 0.25, "nir": 0.25, "swir": 0.2})
    b = cv.bands
    shape = cv.shape
    px = detect_fire_pixels(t4_k=b["mwir"], t11_k=b["tir"], red=b["red"], nir=b["nir"], swir=b["swir"],
                            usable=np.ones(shape, dtype=bool), cloud=np.zeros(shape, dtype=bool),
                            water=b["nir"] < 0.05, day=True, glint_angle_deg=30.0, pixel_area_m2=100.0,
                            config=AnalysisConfig())
    assert (px.candidates, px.rejected_glint, px.rows.size) == (1, 1, 0)


def test_a_missing_band_is_a_scene_error_naming_it() -> None:
    cv = Canvas()
    with pytest.raises(SceneError) as e:
        analyse(cv.scene(drop=("mwir",)))
    assert e.value.field == "band" and "'mwir'" in str(e.value)
    # without fire detection the band is not needed
    assert analyse(cv.scene(drop=("mwir",)), config=AnalysisConfig(fire_enabled=False)).not_run["FIRE"] == "disabled"
    with pytest.raises(SceneError, match="'swir'"):
        analyse(cv.scene(drop=("swir",)))


@pytest.mark.parametrize("kwargs, name", [
    ({"fire_window_max_px": 20}, "fire_window_max_px"),
    ({"fire_window_min_px": 23}, "fire_window_min_px"),
    ({"cloud_threshold": 1.5}, "cloud_threshold"),
    ({"ship_pfa": 0.0}, "ship_pfa"),
    ({"ship_guard_window_px": 25}, "ship_guard_window_px"),
    ({"fire_enabled": 1}, "fire_enabled"),
    ({"flood_min_area_m2": float("nan")}, "flood_min_area_m2"),
])
def test_bad_configuration_names_the_parameter(kwargs: dict, name: str) -> None:
    with pytest.raises(AnalysisConfigError) as e:
        AnalysisConfig(**kwargs)
    assert e.value.field == name and name in str(e.value)


def test_result_json_and_ordering() -> None:
    rng = np.random.default_rng(9)
    cv = Canvas(120, 120)
    sea = cv.c >= 60
    cv.paint(sea, SEA | {"mwir": 293.0, "tir": 292.0})
    cv.bands["nir"] = cv.bands["nir"] + rng.normal(0.0, 0.003, cv.shape) * sea
    cv.checker(0.5)
    cv.reference_water = sea.copy()
    cv.paint(np.s_[20:40, 45:60], SEA)                        # flooded coastal strip
    cv.paint((80, 20), {"mwir": 340.0, "tir": 303.0})          # fires
    cv.paint((100, 40), {"mwir": 322.0, "tir": 302.0})
    cv.paint(np.s_[90, 80:86], HULL)                           # ships
    cv.paint(np.s_[30:32, 100:103], HULL)
    result = analyse(cv.scene())
    assert result.counts == {"CLOUD": 0, "FIRE": 2, "FLOOD": 1, "SHIP": 2}
    where = {(d.kind, round(d.row, 1), round(d.col, 1)) for d in result.detections}
    assert where == {("FIRE", 80.0, 20.0), ("FIRE", 100.0, 40.0), ("FLOOD", 29.5, 52.0),
                     ("SHIP", 90.0, 82.5), ("SHIP", 30.5, 101.0)}
    kinds = [d.kind for d in result.detections]
    assert kinds == sorted(kinds)
    for kind in ("FIRE", "SHIP"):
        conf = [d.confidence for d in result.detections if d.kind == kind]
        assert conf == sorted(conf, reverse=True)
    doc = json.loads(json.dumps(result.to_json()))
    assert doc["image_id"] == 42 and doc["skipped"] is None and len(doc["detections"]) == 5
    assert "cloud_mask" not in doc and "water_mask" not in doc
    fire = next(d for d in doc["detections"] if d["kind"] == "FIRE")
    assert fire["peak_unit"] == "K" and fire["frp_mw"] > 0 and fire["length_m"] is None
    ship = next(d for d in doc["detections"] if d["kind"] == "SHIP")
    assert ship["length_m"] > 0 and ship["frp_mw"] is None and len(ship["bbox"]) == 4


def test_a_scene_read_from_its_file_gives_the_same_detections(tmp_path) -> None:
    cv = Canvas(60, 60)
    cv.paint(np.s_[:, 30:], SEA | {"mwir": 293.0, "tir": 292.0})
    cv.reference_water = cv.c >= 30
    cv.paint((20, 10), {"mwir": 340.0, "tir": 303.0})
    cv.paint(np.s_[40, 40:45], HULL)
    scene = cv.scene()
    save_scene(tmp_path / "s.npz", scene)
    again = load_scene(tmp_path / "s.npz")  # float32 bands, as on board
    assert again.bands["nir"].dtype == np.float32
    first, second = analyse(scene), analyse(again)
    assert [(d.kind, d.row, d.col) for d in second.detections] == [(d.kind, d.row, d.col) for d in first.detections]
    assert second.counts["FIRE"] == 1 and second.counts["SHIP"] == 1
