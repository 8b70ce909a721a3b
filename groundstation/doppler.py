"""Doppler of a pass, predicted offline with skyfield: what ``ttc modem tx`` applies and ``rx`` removes.

For a satellite given by its two-line elements and a station at latitude, longitude and height (WGS84),
the range rate between them comes from skyfield's SGP4 propagation and ``frame_latlon_and_rates``
(positions in the station's topocentric frame and their rates), and the received carrier is shifted by
``-f * range_rate / c`` (a closing satellite, negative range rate, is heard high). At 437 MHz a 500 km
pass swings about +-10 kHz and changes fastest, ~160 Hz/s, at the closest approach. Only the built-in
timescale is used: nothing is downloaded. Full pass planning (AOS/LOS, rotator, radio) is another
module's work; this one gives a frequency curve on a time grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

__all__ = ["C_M_S", "Site", "read_tle", "range_rate_m_s", "doppler_curve_hz"]

C_M_S = 299_792_458.0


@dataclass(frozen=True)
class Site:
    """A ground station: geodetic latitude and longitude (degrees, WGS84) and height above the ellipsoid."""

    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Site:
        """``LAT,LON[,ALT_M]`` (degrees, metres), e.g. ``43.222,76.851,800`` for Almaty."""
        parts = [p.strip() for p in text.split(",")]
        if len(parts) not in (2, 3):
            raise ValueError(f"site {text!r}: give LAT,LON or LAT,LON,ALT_M")
        lat, lon = float(parts[0]), float(parts[1])
        alt = float(parts[2]) if len(parts) == 3 else 0.0
        if not -90 <= lat <= 90 or not -180 <= lon <= 360:
            raise ValueError(f"site {text!r}: latitude -90..90, longitude -180..360 degrees")
        return cls(lat, lon, alt)


def read_tle(text: str) -> tuple[str, str, str]:
    """(name, line 1, line 2) of a two- or three-line element set; a ValueError naming what is wrong."""
    lines = [ln.rstrip() for ln in text.strip().splitlines() if ln.strip()]
    if len(lines) == 2:
        lines = ["satellite", *lines]
    if len(lines) != 3 or not lines[1].startswith("1 ") or not lines[2].startswith("2 "):
        raise ValueError("a TLE is two lines starting '1 ' and '2 ' (optionally after a name line)")
    from .passes import tle_checksum_ok

    for line in lines[1:]:
        if not tle_checksum_ok(line):
            raise ValueError(f"TLE line {line[:1]} fails its checksum (column 69)")
    return lines[0], lines[1], lines[2]


def range_rate_m_s(tle: tuple[str, str, str], site: Site, start_utc: datetime, t_s: np.ndarray) -> np.ndarray:
    """Range rate (m/s, positive when receding) from ``site`` to the satellite at ``start_utc + t_s``."""
    from skyfield.api import EarthSatellite, load, wgs84

    ts = load.timescale(builtin=True)
    sat = EarthSatellite(tle[1], tle[2], tle[0], ts)
    topos = wgs84.latlon(site.lat_deg, site.lon_deg, elevation_m=site.alt_m)
    if start_utc.tzinfo is None:
        start_utc = start_utc.replace(tzinfo=timezone.utc)
    t = ts.from_datetime(start_utc) + np.asarray(t_s, dtype=np.float64) / 86400.0
    *_, range_rate = (sat - topos).at(t).frame_latlon_and_rates(topos)
    return np.asarray(range_rate.km_per_s, dtype=np.float64) * 1000.0


def doppler_curve_hz(tle: tuple[str, str, str], site: Site, start_utc: datetime, duration_s: float, *,
                     carrier_hz: float, step_s: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(times from ``start_utc``, Doppler shift in Hz) every ``step_s`` over ``duration_s`` (and one beyond)."""
    t = np.arange(0.0, duration_s + 2 * step_s, step_s)
    return t, -carrier_hz * range_rate_m_s(tle, site, start_utc, t) / C_M_S
