"""Plausible subsystem models that drive the housekeeping parameters.

Simple lumped models, stepped by the on-board software with the elapsed
on-board time (``dt_s``); their noise comes from one seeded
:class:`random.Random`, so a run with the same seed and the same commands
gives the same telemetry.

* :class:`Orbit` -- a circular low Earth orbit of ``period_s`` (95 min) with
  ``eclipse_s`` (35 min) in the Earth's shadow each revolution.
* :class:`Power` -- solar array (cosine of the sun angle while sunlit, zero
  in eclipse), loads (platform, imager, heater), a 2S Li-ion battery whose
  voltage follows its state of charge and current.
* :class:`Thermal` -- first-order temperatures of the solar panel, the
  on-board computer and the battery, with a thermostat heater on the
  battery around the commanded set point.
* :class:`Imager` -- a power switch and synthetic images.

The ADCS slot is :class:`spacecraft.attitude.AdcsUnit` (the attitude
simulation of :mod:`spacecraft.adcs`, stepped on the on-board clock).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["ECLIPSE_S", "ORBIT_PERIOD_S", "Imager", "Orbit", "Power", "Thermal"]

ORBIT_PERIOD_S = 95 * 60.0
ECLIPSE_S = 35 * 60.0


@dataclass
class Orbit:
    """Sunlit/eclipse cycle: sunlit for ``period_s - eclipse_s`` from phase 0, then in eclipse."""

    period_s: float = ORBIT_PERIOD_S
    eclipse_s: float = ECLIPSE_S
    phase_s: float = 0.0  # time since the last eclipse exit

    def step(self, dt_s: float) -> None:
        """Advance the orbit by ``dt_s``."""
        self.phase_s = (self.phase_s + dt_s) % self.period_s

    @property
    def in_eclipse(self) -> bool:
        """True while in the Earth's shadow."""
        return self.phase_s >= self.period_s - self.eclipse_s

    @property
    def sun_factor(self) -> float:
        """Cosine of the sun angle on the array while sunlit (0 in eclipse): low near the terminator."""
        if self.in_eclipse:
            return 0.0
        sunlit_s = self.period_s - self.eclipse_s
        return 0.35 + 0.65 * math.sin(math.pi * self.phase_s / sunlit_s)


@dataclass
class Power:
    """Solar input, loads and a 2S Li-ion battery (capacity in Wh, state of charge in %)."""

    rng: random.Random
    soc_pct: float = 80.0
    capacity_wh: float = 40.0
    solar_peak_w: float = 22.0
    platform_load_w: float = 6.0
    imager_load_w: float = 8.0
    heater_load_w: float = 4.0
    internal_resistance_ohm: float = 0.08
    charge_voltage_v: float = 8.35
    solar_w: float = 0.0
    current_a: float = 0.0
    voltage_v: float = 7.6

    def step(self, dt_s: float, *, sun_factor: float, imager_on: bool, heater_on: bool) -> None:
        """Advance by ``dt_s`` with the given sunlight and switched loads."""
        self.solar_w = max(0.0, self.solar_peak_w * sun_factor * (1 + self.rng.gauss(0, 0.01))) if sun_factor else 0.0
        load_w = (self.platform_load_w * (1 + self.rng.gauss(0, 0.02)) + (self.imager_load_w if imager_on else 0.0)
                  + (self.heater_load_w if heater_on else 0.0))
        net_w = self.solar_w - load_w
        ocv_v = 6.4 + 2.0 * self.soc_pct / 100.0  # open-circuit voltage of a 2S Li-ion pack, 6.4..8.4 V
        self.current_a = net_w / ocv_v
        # constant-voltage charging: the regulator shunts what would push the pack above the charge voltage
        self.current_a = min(self.current_a, max(0.0, (self.charge_voltage_v - ocv_v) / self.internal_resistance_ohm))
        net_w = self.current_a * ocv_v
        self.voltage_v = ocv_v + self.current_a * self.internal_resistance_ohm
        efficiency = 0.95 if net_w > 0 else 1.0
        self.soc_pct = min(100.0, max(0.0, self.soc_pct + net_w * efficiency * dt_s / 3600.0
                                      / self.capacity_wh * 100.0))


@dataclass
class Thermal:
    """First-order temperatures (degC) relaxing towards sun- and load-dependent equilibria."""

    rng: random.Random
    panel_c: float = 10.0
    obc_c: float = 22.0
    battery_c: float = 15.0
    setpoint_c: float = 5.0
    heater_on: bool = False
    hysteresis_c: float = 1.0

    def step(self, dt_s: float, *, sun_factor: float, imager_on: bool) -> None:
        """Advance by ``dt_s``: panels follow the sun fast, the inside slowly, the heater holds the battery."""
        panel_eq = -45.0 + 110.0 * sun_factor
        obc_eq = 12.0 + 12.0 * sun_factor + (6.0 if imager_on else 0.0)
        battery_eq = 2.0 + 10.0 * sun_factor + (18.0 if self.heater_on else 0.0)
        self.panel_c += (panel_eq - self.panel_c) * min(1.0, dt_s / 600.0)
        self.obc_c += (obc_eq - self.obc_c) * min(1.0, dt_s / 1800.0)
        self.battery_c += (battery_eq - self.battery_c) * min(1.0, dt_s / 1200.0)
        if self.battery_c < self.setpoint_c - self.hysteresis_c:
            self.heater_on = True
        elif self.battery_c > self.setpoint_c + self.hysteresis_c:
            self.heater_on = False

    def reading(self, value_c: float) -> float:
        """A sensor reading of ``value_c`` (0.05 degC noise)."""
        return value_c + self.rng.gauss(0, 0.05)
