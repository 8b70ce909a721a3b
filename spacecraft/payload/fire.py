"""Active fires on one scene: the MODIS Collection 6 contextual algorithm, its confidence, and fire radiative power.

The decision chain follows the published description of the MODIS active-fire algorithm (Giglio, Descloitres,
Justice & Kaufman 2003, "An enhanced contextual fire detection algorithm for MODIS", RSE 87:273-282, §2.2), the
base that Collection 6 refines (Giglio, Schroeder & Justice 2016, "The collection 6 MODIS active fire detection
algorithm and fire products", RSE 178:31-41, §2). The thresholds here are the published 2003 values. Of C6's
changes (among them dynamic thresholds for small fires, a cloud mask that no longer takes thick smoke for
cloud, a forest-clearing filter, processing over water) only the last is followed; the VIIRS 375 m product
(Schroeder et al. 2014, RSE 143) uses the same structure with thresholds for its saturating I4 band, which our
3.9 µm band does not share. Band mapping: T4 = our ``mwir`` (3.9 µm),
T11 = our ``tir`` (11 µm), ρ0.65 = ``red``, ρ0.86 = ``nir``; the 2.1 µm reflectance of the glint test is
replaced by our 1.6 µm ``swir`` (both are dark over water and bright under specular glint).

1. Potential fire pixels (2003 §2.2 "identification of potential fire pixels"): day T4 > 310 K, ΔT = T4 − T11
   > 10 K and ρ0.86 < 0.3; night T4 > 305 K and ΔT > 10 K. Cloud and invalid pixels are never candidates.
   Water pixels are (C6 extended processing to water bodies for offshore gas flares, 2016 abstract and §2);
   over open water the background is usually uncharacterisable, so such fires come from the absolute test.
2. Absolute threshold (2003 §2.2 "absolute threshold test"): T4 > 360 K by day, 320 K at night is a fire
   whatever its surroundings.
3. Background characterisation (2003 §2.2 "background characterization"): a square window centred on the
   candidate grows from 3×3 to 21×21 until at least 25 % of its pixels (the centre excluded) and at least 8 of
   them are valid background. Valid background excludes invalid, cloud and water pixels and background fires
   (day T4 > 325 K and ΔT > 20 K; night T4 > 310 K and ΔT > 10 K). Failing at the largest window
   (``fire_window_max_px``, 21) leaves the pixel "unknown" (not a fire unless the absolute test passed).
4. Contextual tests (2003 §2.2 "contextual tests"), with means (bar) and mean absolute deviations (δ) of the
   valid background and δ4' the deviation of T4 over the background fires the window rejected:
   (a) ΔT > ΔT̄ + 3.5 δΔT, (b) ΔT > ΔT̄ + 6 K, (c) T4 > T̄4 + 3 δ4, (d) T11 > T̄11 + δ11 − 4 K, (e) δ4' > 5 K.
   Day: fire if absolute or (a ∧ b ∧ c ∧ (d ∨ e)); night: fire if absolute or (a ∧ b ∧ c).
5. Sun-glint rejection, day only (2003 §2.2 "sun glint rejection"): with the glint angle θg,
   cos θg = cos θv cos θs − sin θv sin θs cos φ, a fire is rejected when θg < 2°; or θg < 8° and ρ0.65 > 0.1,
   ρ0.86 > 0.2, ρ(swir) > 0.12; or θg < 12° and water lies in the background window or among the 8 neighbours.
   The scene gives only the sun zenith, so the caller passes θg for a nadir view (θg = θs) unless the scene's
   meta gives the view geometry. Because a small satellite often points off nadir, one more test (ours, in the
   same spirit) runs whatever θg is: a fire pixel on water (the water mask, or 4+ of its 8 neighbours water)
   that is bright in all three reflective bands above the same 0.1/0.2/0.12 thresholds is glint.
6. Desert boundary rejection, day only (2003 §2.2 "desert boundary rejection"): a fire is rejected when the
   background rejected many background fires of uniform, moderate temperature — N_f' > 0.1 N_v, N_f' ≥ 4,
   ρ0.86 > 0.15, T̄4' < 345 K, δ4' < 3 K, and T4 < T̄4' + 6 δ4' — the signature of the hot side of a sharp
   hot-soil / vegetation edge. C6's small-forest-clearing filter (2016 §2) is not reproduced: it targets
   Amazon clearings and needs context this imager's scenes do not carry.
7. Confidence (2003 §2.2 "detection confidence"), with the ramp S(x; α, β) = clip((x − α)/(β − α), 0, 1),
   z4 = (T4 − T̄4)/δ4, zΔT = (ΔT − ΔT̄)/δΔT, N_ac / N_aw the cloud / water pixels among the 8 neighbours:
   C1 = S(T4; 310 K, 340 K) by day, S(T4; 305 K, 320 K) at night; C2 = S(z4; 2.5, 6); C3 = S(zΔT; 3, 6);
   C4 = 1 − S(N_ac; 0, 6); C5 = 1 − S(N_aw; 0, 6). Day C = (C1 C2 C3 C4 C5)^(1/5), night C = (C1 C2 C3)^(1/3).
   An absolute-test fire whose background could not be characterised takes C2 = C3 = 1.
8. Fire radiative power by the MIR radiance method (Wooster, Zhukov & Oertel 2003, "Fire radiative energy for
   quantitative study of biomass burning: derivation from the BIRD experimental satellite and comparison to
   MODIS fire products", RSE 86:83-107, §3): FRP = A_pix σ / a (L4 − L4,bg), with L4 the pixel's 3.9 µm spectral
   radiance, L4,bg the mean radiance of its valid background and a = 3.0e-9 W m⁻² sr⁻¹ µm⁻¹ K⁻⁴, the paper's
   power-law fit L(3.9 µm, T) ≈ a T⁴ for fire temperatures 650-1350 K. Against the Planck function at 3.9 µm
   that fit, hence the FRP, is off by −15 % at 650 K, +8 % at 800 K, +13 % at 1000 K and −8 % at 1350 K.
   Without a characterised background, L4,bg is the mean over the largest window's cloud-free, valid,
   non-background-fire pixels (water included: the right background for an offshore flare), and failing that
   the radiance at the pixel's own T11.

Everything is vectorised: full-image work is a couple of comparisons; backgrounds are gathered only around the
few candidates, window size by window size, in bounded chunks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .analysis import AnalysisConfig

__all__ = [
    "MIR_POWER_LAW_A",
    "MIR_WAVELENGTH_UM",
    "STEFAN_BOLTZMANN_W_M2_K4",
    "FirePixels",
    "brightness_temperature_k",
    "detect_fire_pixels",
    "planck_radiance",
]

#: Stefan-Boltzmann constant (CODATA 2018), W m⁻² K⁻⁴.
STEFAN_BOLTZMANN_W_M2_K4 = 5.670374419e-8
#: First radiation constant for spectral radiance, 2hc², in W µm⁴ m⁻² sr⁻¹ (CODATA 2018).
PLANCK_C1_W_UM4_M2_SR = 1.191042972e8
#: Second radiation constant hc/k in µm K (CODATA 2018).
PLANCK_C2_UM_K = 1.438776877e4
#: Centre wavelength of the imager's MWIR band, µm.
MIR_WAVELENGTH_UM = 3.9
#: a of the MIR power law L(3.9 µm, T) ≈ a T⁴, W m⁻² sr⁻¹ µm⁻¹ K⁻⁴ (Wooster et al. 2003, RSE 86, §3).
MIR_POWER_LAW_A = 3.0e-9

# Confidence ramps (Giglio et al. 2003 §2.2 "detection confidence").
_C1_DAY_K = (310.0, 340.0)
_C1_NIGHT_K = (305.0, 320.0)
_C2_Z = (2.5, 6.0)
_C3_Z = (3.0, 6.0)
_C45_COUNT = (0.0, 6.0)
#: Most gathered window elements held at once (candidates × window pixels), to bound memory on hot deserts.
_CHUNK_ELEMENTS = 1 << 20


def planck_radiance(wavelength_um: float, temperature_k: np.ndarray | float) -> np.ndarray:
    """Blackbody spectral radiance in W m⁻² sr⁻¹ µm⁻¹ at one wavelength, for a scalar or array of K."""
    t = np.asarray(temperature_k, dtype=np.float64)
    return PLANCK_C1_W_UM4_M2_SR / (wavelength_um ** 5 * np.expm1(PLANCK_C2_UM_K / (wavelength_um * t)))


def brightness_temperature_k(wavelength_um: float, radiance: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`planck_radiance`: the K of a blackbody with this spectral radiance (W m⁻² sr⁻¹ µm⁻¹)."""
    r = np.asarray(radiance, dtype=np.float64)
    return PLANCK_C2_UM_K / (wavelength_um * np.log1p(PLANCK_C1_W_UM4_M2_SR / (wavelength_um ** 5 * r)))


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


@dataclass(frozen=True)
class FirePixels:
    """Confirmed fire pixels of one scene (parallel arrays) and how many candidates each test removed."""

    rows: np.ndarray
    cols: np.ndarray
    t4_k: np.ndarray
    frp_w: np.ndarray
    confidence: np.ndarray
    absolute: np.ndarray
    window_px: np.ndarray
    candidates: int
    unknown: int
    rejected_glint: int
    rejected_desert: int


@dataclass
class _Background:
    """Background statistics of the candidates (parallel arrays over all candidates)."""

    window_px: np.ndarray
    n_valid: np.ndarray
    t4_mean: np.ndarray
    t4_mad: np.ndarray
    t11_mean: np.ndarray
    t11_mad: np.ndarray
    dt_mean: np.ndarray
    dt_mad: np.ndarray
    n_bgfire: np.ndarray
    bgfire_t4_mean: np.ndarray
    bgfire_t4_mad: np.ndarray
    n_water: np.ndarray
    l4_mean: np.ndarray

    @classmethod
    def empty(cls, n: int) -> _Background:
        z = np.zeros(n)
        return cls(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), z.copy(), z.copy(), z.copy(),
                   z.copy(), z.copy(), z.copy(), np.zeros(n, dtype=np.int64), z.copy(), z.copy(),
                   np.zeros(n, dtype=np.int64), np.full(n, np.nan))


class PixelWindows:
    """Square windows of several images around a set of pixels, flattened to (n, w²), out-of-image cells flagged.

    Also gathers the ship CFAR's background windows (:mod:`.analysis`).
    """

    def __init__(self, shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray, half: int) -> None:
        height, width = shape
        off = np.arange(-half, half + 1)
        side = off.size
        self.centre = np.zeros(side * side, dtype=bool)
        self.centre[side * side // 2] = True
        self.flat = (rows * width + cols)[:, None] + (off[:, None] * width + off[None, :]).reshape(-1)
        self.inside = np.ones(self.flat.shape, dtype=bool)
        edge = np.flatnonzero((rows < half) | (rows >= height - half) | (cols < half) | (cols >= width - half))
        if edge.size:
            # only windows that overhang the image need the slow per-cell bookkeeping
            rr = rows[edge, None] + off
            cc = cols[edge, None] + off
            self.inside[edge] = (((rr >= 0) & (rr < height))[:, :, None]
                                 & ((cc >= 0) & (cc < width))[:, None, :]).reshape(edge.size, -1)
            self.flat[edge] = (np.clip(rr, 0, height - 1)[:, :, None] * width
                               + np.clip(cc, 0, width - 1)[:, None, :]).reshape(edge.size, -1)

    def take(self, image: np.ndarray) -> np.ndarray:
        """The windows of one image, shape (n, w²)."""
        return np.take(image.reshape(-1), self.flat)


def _masked_mean_mad(x: np.ndarray, mask: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    safe = np.maximum(count, 1)
    m = mask.astype(np.float64)
    mean = (x * m).sum(axis=1) / safe
    mad = (np.abs(x - mean[:, None]) * m).sum(axis=1) / safe
    return mean, mad


def _characterise(idx: np.ndarray, rows: np.ndarray, cols: np.ndarray, images: dict[str, np.ndarray],
                  bg: _Background, *, day: bool, config: AnalysisConfig) -> None:
    """Grow each candidate's window until its background is valid; fill ``bg`` for those that succeed."""
    cfg = config
    bg_t4_k = cfg.fire_bg_day_t4_k if day else cfg.fire_bg_night_t4_k
    bg_dt_k = cfg.fire_bg_day_dt_k if day else cfg.fire_bg_night_dt_k
    shape = images["t4"].shape
    remaining = idx
    for half in range(cfg.fire_window_min_px // 2, cfg.fire_window_max_px // 2 + 1):
        if remaining.size == 0:
            return
        side = 2 * half + 1
        neighbours = side * side - 1
        last = half == cfg.fire_window_max_px // 2
        still: list[np.ndarray] = []
        step = max(1, _CHUNK_ELEMENTS // (side * side))
        for start in range(0, remaining.size, step):
            part = remaining[start:start + step]
            win = PixelWindows(shape, rows[part], cols[part], half)
            t4 = win.take(images["t4"]).astype(np.float64)
            t11 = win.take(images["t11"]).astype(np.float64)
            usable = win.take(images["usable"]) & win.inside & ~win.centre
            water = win.take(images["water"]) & usable
            dt = t4 - t11
            land = usable & ~water
            bgfire = land & (t4 > bg_t4_k) & (dt > bg_dt_k)
            good = land & ~bgfire
            n_good = good.sum(axis=1)
            ok = (n_good >= cfg.fire_bg_min_count) & (n_good >= cfg.fire_bg_min_fraction * neighbours)
            if last and not ok.all():
                # the largest window's water count feeds the glint test even when the background failed,
                # and its ambient (water included) pixels give the FRP background
                fail = ~ok
                bg.n_water[part[fail]] = water[fail].sum(axis=1)
                ambient = usable[fail] & ~((t4[fail] > bg_t4_k) & (dt[fail] > bg_dt_k))
                n_amb = ambient.sum(axis=1)
                l4 = (planck_radiance(MIR_WAVELENGTH_UM, np.where(ambient, t4[fail], 300.0)) * ambient).sum(axis=1)
                bg.l4_mean[part[fail]] = np.where(n_amb > 0, l4 / np.maximum(n_amb, 1), np.nan)
            if not ok.any():
                still.append(part)
                continue
            sel = part[ok]
            g, t4o, t11o, dto, bfo = good[ok], t4[ok], t11[ok], dt[ok], bgfire[ok]
            n = n_good[ok]
            bg.window_px[sel] = side
            bg.n_valid[sel] = n
            bg.t4_mean[sel], bg.t4_mad[sel] = _masked_mean_mad(t4o, g, n)
            bg.t11_mean[sel], bg.t11_mad[sel] = _masked_mean_mad(t11o, g, n)
            bg.dt_mean[sel], bg.dt_mad[sel] = _masked_mean_mad(dto, g, n)
            nf = bfo.sum(axis=1)
            bg.n_bgfire[sel] = nf
            bg.bgfire_t4_mean[sel], bg.bgfire_t4_mad[sel] = _masked_mean_mad(t4o, bfo, nf)
            bg.n_water[sel] = water[ok].sum(axis=1)
            radiance = planck_radiance(MIR_WAVELENGTH_UM, np.where(g, t4o, 300.0))
            bg.l4_mean[sel] = (radiance * g).sum(axis=1) / np.maximum(n, 1)
            still.append(part[~ok])
        remaining = np.concatenate(still) if still else remaining[:0]


def detect_fire_pixels(*, t4_k: np.ndarray, t11_k: np.ndarray, red: np.ndarray | None, nir: np.ndarray | None,
                       swir: np.ndarray | None, usable: np.ndarray, cloud: np.ndarray, water: np.ndarray,
                       day: bool, glint_angle_deg: float, pixel_area_m2: float,
                       config: AnalysisConfig) -> FirePixels:
    """Run the contextual fire algorithm on one scene; ``usable`` = valid and not cloud, arrays (rows, cols).

    ``red``/``nir``/``swir`` are needed by day only; ``water`` is the water mask (any source);
    ``glint_angle_deg`` is θg for the scene (nadir: the sun zenith).
    """
    cfg = config
    if day and (red is None or nir is None or swir is None):
        raise ValueError("day-time fire detection needs the red, nir and swir reflectances")
    t4_min = cfg.fire_day_t4_min_k if day else cfg.fire_night_t4_min_k
    dt_min = cfg.fire_day_dt_min_k if day else cfg.fire_night_dt_min_k
    # one full-image comparison; the other potential-fire tests run on the few pixels it leaves
    # flatnonzero + divmod: several times faster than np.nonzero on a 2-D mask
    rows, cols = np.divmod(np.flatnonzero((t4_k > t4_min) & usable), t4_k.shape[1])
    t4 = t4_k[rows, cols].astype(np.float64)
    t11 = t11_k[rows, cols].astype(np.float64)
    keep = (t4 - t11) > dt_min
    if day:
        keep &= nir[rows, cols] < cfg.fire_day_nir_max
    rows, cols, t4, t11 = rows[keep], cols[keep], t4[keep], t11[keep]
    n = rows.size
    if n == 0:
        empty_i = np.zeros(0, dtype=np.int64)
        empty_f = np.zeros(0)
        return FirePixels(empty_i, empty_i, empty_f, empty_f, empty_f, np.zeros(0, dtype=bool), empty_i, 0, 0, 0, 0)
    dt = t4 - t11
    absolute = t4 > (cfg.fire_day_t4_absolute_k if day else cfg.fire_night_t4_absolute_k)

    images = {"t4": t4_k, "t11": t11_k, "usable": usable, "water": water}
    bg = _Background.empty(n)
    _characterise(np.arange(n), rows, cols, images, bg, day=day, config=cfg)
    known = bg.window_px > 0

    with np.errstate(divide="ignore", invalid="ignore"):
        test_a = dt > bg.dt_mean + cfg.fire_dt_mad_factor * bg.dt_mad
        test_b = dt > bg.dt_mean + cfg.fire_dt_margin_k
        test_c = t4 > bg.t4_mean + cfg.fire_t4_mad_factor * bg.t4_mad
        test_d = t11 > bg.t11_mean + bg.t11_mad - cfg.fire_t11_margin_k
        test_e = bg.bgfire_t4_mad > cfg.fire_bgfire_t4_mad_min_k
    contextual = known & test_a & test_b & test_c
    if day:
        contextual &= test_d | test_e
    fire = absolute | contextual

    adjacent = PixelWindows(t4_k.shape, rows, cols, 1)
    ring = adjacent.inside & ~adjacent.centre
    n_adjacent_cloud = (adjacent.take(cloud) & ring).sum(axis=1)
    n_adjacent_water = (adjacent.take(water) & ring).sum(axis=1)

    glint = np.zeros(n, dtype=bool)
    desert = np.zeros(n, dtype=bool)
    if day:
        bright = ((red[rows, cols] > cfg.fire_glint_red_min) & (nir[rows, cols] > cfg.fire_glint_nir_min)
                  & (swir[rows, cols] > cfg.fire_glint_swir_min))
        on_water = water[rows, cols] | (n_adjacent_water >= 4)
        near_water = (bg.n_water + n_adjacent_water) > 0
        glint = ((glint_angle_deg < cfg.fire_glint_angle_strict_deg)
                 | ((glint_angle_deg < cfg.fire_glint_angle_bright_deg) & bright)
                 | ((glint_angle_deg < cfg.fire_glint_angle_water_deg) & near_water)
                 | (bright & on_water))
        desert = (known
                  & (bg.n_bgfire > cfg.fire_desert_bgfire_fraction_min * bg.n_valid)
                  & (bg.n_bgfire >= cfg.fire_desert_bgfire_count_min)
                  & (nir[rows, cols] > cfg.fire_desert_nir_min)
                  & (bg.bgfire_t4_mean < cfg.fire_desert_bgfire_t4_max_k)
                  & (bg.bgfire_t4_mad < cfg.fire_desert_bgfire_t4_mad_max_k)
                  & (t4 < bg.bgfire_t4_mean + cfg.fire_desert_mad_factor * bg.bgfire_t4_mad))
    rejected_glint = fire & glint
    rejected_desert = fire & ~glint & desert
    fire &= ~glint & ~desert

    with np.errstate(divide="ignore", invalid="ignore"):
        z4 = np.where(bg.t4_mad > 0, (t4 - bg.t4_mean) / bg.t4_mad, np.inf)
        zdt = np.where(bg.dt_mad > 0, (dt - bg.dt_mean) / bg.dt_mad, np.inf)
    c1 = _ramp(t4, *(_C1_DAY_K if day else _C1_NIGHT_K))
    c2 = np.where(known, _ramp(z4, *_C2_Z), 1.0)
    c3 = np.where(known, _ramp(zdt, *_C3_Z), 1.0)
    if day:
        c4 = 1.0 - _ramp(n_adjacent_cloud.astype(np.float64), *_C45_COUNT)
        c5 = 1.0 - _ramp(n_adjacent_water.astype(np.float64), *_C45_COUNT)
        confidence = (c1 * c2 * c3 * c4 * c5) ** (1.0 / 5.0)
    else:
        confidence = (c1 * c2 * c3) ** (1.0 / 3.0)

    l4 = planck_radiance(MIR_WAVELENGTH_UM, t4)
    l4_bg = np.where(np.isfinite(bg.l4_mean), bg.l4_mean, planck_radiance(MIR_WAVELENGTH_UM, t11))
    frp_w = np.maximum(pixel_area_m2 * STEFAN_BOLTZMANN_W_M2_K4 / MIR_POWER_LAW_A * (l4 - l4_bg), 0.0)

    return FirePixels(rows=rows[fire], cols=cols[fire], t4_k=t4[fire], frp_w=frp_w[fire],
                      confidence=confidence[fire], absolute=absolute[fire], window_px=bg.window_px[fire],
                      candidates=n, unknown=int((~known & ~absolute).sum()),
                      rejected_glint=int(rejected_glint.sum()), rejected_desert=int(rejected_desert.sum()))
