"""Detection alerts: what the station raises when a DETECTION report of the onboard image analysis arrives.

:func:`detection_alert` turns the report's engineering values into an event of kind ``detection`` named
after what was found (FIRE, SHIP, FLOOD, CLOUD), with its position and figures as data; :func:`geojson`
and :func:`kml` put such alerts on a map (RFC 7946 GeoJSON Points, KML 2.2 Placemarks).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from xml.sax.saxutils import escape

__all__ = ["DETECTION_PACKET", "DETECTION_SEVERITY", "detection_alert", "geojson", "kml"]

#: Severity of the alert per kind of detection: what an emergency operator must see first.
DETECTION_SEVERITY = {"FIRE": "HIGH", "FLOOD": "HIGH", "SHIP": "MEDIUM", "CLOUD": "INFO"}
DETECTION_PACKET = "DETECTION"


def detection_alert(values: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    """(name, severity, text, data) of the alert for one DETECTION report's engineering values."""
    kind = str(values.get("DETECTION_KIND", "UNKNOWN"))
    lat = float(values.get("DETECTION_LAT", 0.0))
    lon = float(values.get("DETECTION_LON", 0.0))
    data = {"kind": kind, "lat_deg": lat, "lon_deg": lon, "area_m2": values.get("DETECTION_AREA"),
            "peak": values.get("DETECTION_PEAK"), "frp_mw": values.get("DETECTION_FRP"),
            "confidence_pct": values.get("DETECTION_CONFIDENCE"), "size_m": values.get("DETECTION_SIZE"),
            "image_id": values.get("DETECTION_IMAGE_ID"), "detection": values.get("DETECTION_NUMBER")}
    where = f"{abs(lat):.5f} {'N' if lat >= 0 else 'S'} {abs(lon):.5f} {'E' if lon >= 0 else 'W'}"
    peak = data["peak"]
    what = {"FIRE": f"{peak:.1f} K, {data['frp_mw'] or 0:.1f} MW" if isinstance(peak, float) else "",
            "SHIP": f"{data['size_m']} m long", "FLOOD": f"{(data['area_m2'] or 0) / 1e6:.2f} km2 of new water",
            "CLOUD": f"cloud {peak:.0%} of the scene" if isinstance(peak, float) else ""}.get(kind, "")
    text = (f"{kind} at {where}: {what}, {data['area_m2']} m2, confidence {data['confidence_pct']} % "
            f"(image {data['image_id']} #{data['detection']})")
    return kind, DETECTION_SEVERITY.get(kind, "MEDIUM"), text, data


# ====================================================================== maps

def _features(alerts: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for e in alerts:
        d = e.get("data") or {}
        if "lat_deg" not in d or "lon_deg" not in d:
            continue
        props = {k: v for k, v in d.items() if k not in ("lat_deg", "lon_deg")}
        props.update(name=e.get("name"), severity=e.get("severity"), text=e.get("text"), ert=e.get("ert"),
                     obt=e.get("obt"), event_id=e.get("id"))
        yield {"type": "Feature", "geometry": {"type": "Point", "coordinates": [d["lon_deg"], d["lat_deg"]]},
               "properties": props}


def geojson(alerts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A GeoJSON FeatureCollection (RFC 7946) of detection alerts as Points."""
    return {"type": "FeatureCollection", "features": list(_features(alerts))}


def kml(alerts: Iterable[dict[str, Any]]) -> str:
    """A KML 2.2 document of detection alerts as Placemarks."""
    marks = []
    for f in _features(alerts):
        lon, lat = f["geometry"]["coordinates"]
        p = f["properties"]
        marks.append(f"<Placemark><name>{escape(str(p['name']))}</name><description>{escape(str(p['text']))}"
                     f"</description><Point><coordinates>{lon:.7f},{lat:.7f},0</coordinates></Point></Placemark>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
            f"<name>ttc detections</name>{''.join(marks)}</Document></kml>\n")
