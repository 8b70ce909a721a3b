"""ADCS: orbit and environment, attitude dynamics, sensors, MEKF, guidance and control.

Fly a pass over Almaty::

    from spacecraft.adcs import AdcsSimulation, Target
    sim = AdcsSimulation(seed=1)                       # default 500 km SSO TLE, 10 Hz
    almaty = Target("Almaty", lat_deg=43.24, lon_deg=76.95, alt_m=800.0)
    win = sim.find_windows(almaty)[0]                  # first pass above 10 deg
    sim.jump_to(win.start_s - 180.0)                   # skip the wait (nadir held)
    sim.track([almaty]); sim.run_until(win.end_s)
    h = sim.history()                                  # pointing_error_deg, omega_rad_s, ...

The library runs on its own; the spacecraft process steps it with
``step(dt_s)``, commands modes, and reads ``telemetry()`` for housekeeping.
"""

from .control import AttitudeController, ControlGains
from .dynamics import (
    AttitudeState,
    Dynamics,
    ReactionWheels,
    SpacecraftConfig,
    pyramid_axes,
)
from .environment import DEFAULT_TLE, Orbit
from .estimation import Mekf, RateFilter
from .guidance import Mode, PassWindow, Target, find_windows
from .sensors import (
    GyroConfig,
    MagnetometerConfig,
    SensorConfig,
    StarTrackerConfig,
    SunSensorConfig,
)
from .simulation import AdcsEvent, AdcsSimulation, AdcsTelemetry, PlanEntry

__all__ = [
    "AdcsSimulation",
    "AdcsTelemetry",
    "AdcsEvent",
    "PlanEntry",
    "Mode",
    "Target",
    "PassWindow",
    "find_windows",
    "Orbit",
    "DEFAULT_TLE",
    "SpacecraftConfig",
    "ReactionWheels",
    "pyramid_axes",
    "AttitudeState",
    "Dynamics",
    "SensorConfig",
    "StarTrackerConfig",
    "GyroConfig",
    "SunSensorConfig",
    "MagnetometerConfig",
    "Mekf",
    "RateFilter",
    "ControlGains",
    "AttitudeController",
]
