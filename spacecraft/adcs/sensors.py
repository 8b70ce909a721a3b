"""Attitude sensors with configurable, seeded noise.

* Star tracker: one or more optical heads, each giving the attitude with
  independent cross-boresight and roll noise (1σ, arcsec), at ``rate_hz``;
  a head gives nothing while the sun is within ``sun_exclusion_deg`` of
  its boresight or the Earth's limb within ``earth_exclusion_deg``.
* Gyro: rate + bias + angle random walk (white rate noise); the bias
  follows a random walk (rate random walk, the usual model of bias
  instability in a Kalman filter) from a random turn-on bias.
* Sun sensors: six cosine detectors, one per face, fused into a unit vector
  with angular noise; nothing in eclipse.
* Magnetometer: field + white noise per axis.

All noise for a block of steps is drawn at once from one
``numpy.random.Generator`` seeded by the caller, so a run is reproducible
and the 10 Hz loop only indexes Python lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["StarTrackerConfig", "GyroConfig", "SunSensorConfig", "MagnetometerConfig", "SensorConfig", "SensorNoise"]

ARCSEC_RAD = math.pi / 180.0 / 3600.0


@dataclass(frozen=True)
class StarTrackerConfig:
    """Star tracker noise, rate and exclusion angles."""

    noise_cross_arcsec: float = 10.0
    noise_roll_arcsec: float = 40.0
    # attitude solutions per second per head: 10 Hz is what a current cubesat tracker
    # delivers (e.g. the Arcsec Sagitta's 10 Hz refresh; BCT's XACT-class units 5-10 Hz)
    rate_hz: float = 10.0
    sun_exclusion_deg: float = 40.0
    earth_exclusion_deg: float = 20.0  # margin above the Earth's limb


@dataclass(frozen=True)
class GyroConfig:
    """MEMS/FOG-class gyro: angle random walk, bias random walk, turn-on bias.

    The defaults model a Sensonor STIM300-class MEMS IMU (0.15 °/√h angle
    random walk, 0.5 °/h bias instability), a common choice on small satellites.
    """

    arw_deg_sqrt_h: float = 0.15
    bias_rw_deg_s_sqrt_s: float = 4.0e-6  # ≈ 0.5 °/h bias instability over ~20 min
    turn_on_bias_deg_s: float = 0.005  # 1σ per axis (18 °/h)


@dataclass(frozen=True)
class SunSensorConfig:
    """Coarse sun sensors fused into one direction."""

    noise_deg: float = 0.5


@dataclass(frozen=True)
class MagnetometerConfig:
    """Three-axis magnetometer."""

    noise_t: float = 50e-9


@dataclass(frozen=True)
class SensorConfig:
    """The sensor suite."""

    star_tracker: StarTrackerConfig = field(default_factory=StarTrackerConfig)
    gyro: GyroConfig = field(default_factory=GyroConfig)
    sun_sensor: SunSensorConfig = field(default_factory=SunSensorConfig)
    magnetometer: MagnetometerConfig = field(default_factory=MagnetometerConfig)


class SensorNoise:
    """Noise sequences for blocks of control steps (gyro bias carried across blocks)."""

    def __init__(self, config: SensorConfig, dt_s: float, *, seed: int, enabled: bool = True) -> None:
        self.config = config
        self.dt_s = dt_s
        self.enabled = enabled
        self.rng = np.random.default_rng(seed)
        g = config.gyro
        self.bias_rad_s = (
            self.rng.normal(0.0, math.radians(g.turn_on_bias_deg_s), 3) if enabled else np.zeros(3)
        )

    def block(self, n: int, *, heads: int = 1) -> dict[str, list]:
        """Noise for the next ``n`` steps, as lists of tuples keyed by sensor."""
        c = self.config
        dt = self.dt_s
        if not self.enabled:
            z3 = [(0.0, 0.0, 0.0)] * n
            return {"gyro": z3, "st": [z3] * heads, "sun": z3, "mag": z3}
        rng = self.rng
        arw = math.radians(c.gyro.arw_deg_sqrt_h) / 60.0  # rad/√s
        rrw = math.radians(c.gyro.bias_rw_deg_s_sqrt_s)
        walk = np.cumsum(rng.normal(0.0, rrw * math.sqrt(dt), (n, 3)), axis=0) + self.bias_rad_s
        self.bias_rad_s = walk[-1].copy()
        gyro = walk + rng.normal(0.0, arw / math.sqrt(dt), (n, 3))
        st = rng.normal(0.0, 1.0, (heads, n, 3)) * np.array(
            [c.star_tracker.noise_cross_arcsec, c.star_tracker.noise_cross_arcsec, c.star_tracker.noise_roll_arcsec]
        ) * ARCSEC_RAD
        sun = rng.normal(0.0, math.radians(c.sun_sensor.noise_deg), (n, 3))
        mag = rng.normal(0.0, c.magnetometer.noise_t, (n, 3))
        return {
            "gyro": list(map(tuple, gyro.tolist())),
            "st": st,  # (heads, n, 3) in each head's frame: cross, cross, roll
            "sun": list(map(tuple, sun.tolist())),
            "mag": list(map(tuple, mag.tolist())),
        }
