"""Ground targets under the spacecraft's track, for the on-board ADCS tests (sans IO and processes)."""

from __future__ import annotations

import numpy as np

from spacecraft.adcs.environment import Orbit, itrs_to_geodetic


def point_below(orbit: Orbit, t_s: float, *, cross_track_deg: float = 0.0) -> tuple[float, float]:
    """WGS84 (lat_deg, lon_deg) of the sub-satellite point ``t_s`` after the orbit's start, shifted east."""
    r, _ = orbit.position_gcrs_m(np.array([t_s]))
    r_itrs = orbit.gcrs_to_itrs(np.array([t_s]))[0] @ r[0]
    lat, lon, _ = itrs_to_geodetic(r_itrs)
    return float(lat), float((lon + cross_track_deg + 180.0) % 360.0 - 180.0)
