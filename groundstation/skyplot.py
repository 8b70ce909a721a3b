"""Pictures of passes (PNG, matplotlib's Agg backend): a sky plot of one pass and a timeline of contacts.

The sky plot is the polar azimuth/elevation chart operators know from gpredict and SatNOGS: north up,
azimuth clockwise, zenith in the centre, the horizon at the rim, the station's horizon mask shaded, the
track labelled at AOS, TCA and LOS, and (when given) what the rotator was commanded drawn beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from .passes import GroundStation, LookAngles, Pass

__all__ = ["sky_plot_png", "timeline_png"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def sky_plot_png(path: Path, p: Pass, look: LookAngles, station: GroundStation, *,
                 commanded: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    """Write the sky plot of pass ``p`` (its look angles ``look``) to ``path``; ``commanded`` is (az, el)."""
    plt = _pyplot()
    fig = plt.figure(figsize=(6, 6.4))
    ax = fig.add_subplot(projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)
    ax.set_rlim(0, 90)
    ax.set_rticks([0, 30, 60, 90])
    ax.set_yticklabels(["90°", "60°", "30°", "0°"])
    ax.set_rlabel_position(202.5)  # elevation labels on the SSW spoke, clear of the usual AOS/LOS labels
    ax.set_xticks(np.radians(np.arange(0, 360, 45)))
    ax.set_xticklabels(["N", "NE", "E", "SE", "S", "SW", "W", "NW"])
    mask_az = np.arange(0.0, 361.0, 2.0)
    mask_el = station.horizon.min_el_deg(mask_az)
    ax.fill_between(np.radians(mask_az), 90.0 - mask_el, 90.0, color="0.6", alpha=0.5, label="horizon mask")
    up = look.el_deg >= -1.0
    ax.plot(np.radians(look.az_deg[up]), 90.0 - look.el_deg[up], color="tab:blue", lw=2, label=p.satellite)
    if commanded is not None:
        az_c, el_c = commanded
        el_c = np.asarray(el_c)
        flipped = el_c > 90.0
        az_sky = np.where(flipped, np.asarray(az_c) + 180.0, az_c)  # where a flipped antenna actually points
        ax.plot(np.radians(az_sky), 90.0 - np.where(flipped, 180.0 - el_c, el_c), color="tab:orange", lw=1,
                ls="--", label="rotator commanded")
    for label, t, az in (("AOS", p.aos_utc, p.aos_az_deg), ("TCA", p.tca_utc, p.tca_az_deg),
                         ("LOS", p.los_utc, p.los_az_deg)):
        el = p.max_el_deg if label == "TCA" else float(station.horizon.min_el_deg(az))
        ax.plot([np.radians(az)], [90.0 - el], "o", color="black", ms=4)
        ax.annotate(f"{label} {t:%H:%M:%S}", (np.radians(az), 90.0 - el), textcoords="offset points",
                    xytext=(6, 6), fontsize=8)
    ax.set_title(f"{p.satellite} over {p.station}, {p.aos_utc:%Y-%m-%d}\n"
                 f"max elevation {p.max_el_deg:.1f}°, {p.duration_s / 60:.1f} min (UTC)", fontsize=10)
    ax.legend(loc="lower left", bbox_to_anchor=(-0.1, -0.12), fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def timeline_png(path: Path, passes: Sequence[Pass], stations: Sequence[str], start_utc: datetime,
                 days: float) -> Path:
    """Write a timeline of contacts per station (bars from AOS to LOS, shaded by maximum elevation)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.5 * len(stations)))
    cmap = plt.get_cmap("viridis")
    for row, name in enumerate(stations):
        mine = [p for p in passes if p.station == name]
        for p in mine:
            x0 = (p.aos_utc - start_utc).total_seconds() / 3600.0
            ax.broken_barh([(x0, p.duration_s / 3600.0)], (row - 0.35, 0.7), color=cmap(min(p.max_el_deg, 90) / 90))
            if p.max_el_deg >= 30:
                ax.text(x0, row + 0.4, f"{p.max_el_deg:.0f}°", fontsize=7)
    totals = [(sum(1 for p in passes if p.station == n), sum(p.duration_s for p in passes if p.station == n) / 60)
              for n in stations]
    ax.set_yticks(range(len(stations)))
    ax.set_yticklabels([f"{n}\n{k} passes, {m:.0f} min" for n, (k, m) in zip(stations, totals, strict=True)],
                       fontsize=8)
    ax.set_xlim(0, days * 24)
    ax.set_ylim(-0.8, len(stations) - 0.2)
    ax.set_xlabel(f"hours from {start_utc:%Y-%m-%d %H:%M} UTC")
    ticks = np.arange(0, days * 24 + 1e-9, 3 if days <= 2 else 12)
    ax.set_xticks(ticks)
    ax.set_xticklabels([(start_utc + timedelta(hours=float(h))).strftime("%H:%M" if days <= 2 else "%m-%d %H")
                        for h in ticks], fontsize=8)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 90))
    fig.colorbar(sm, ax=ax, label="max elevation (°)", pad=0.12)
    ax.set_title("contacts (AOS to LOS)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path
