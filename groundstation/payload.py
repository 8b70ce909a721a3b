"""The payload on the ground: detection alerts, maps of them, and downlinked images with their detections drawn.

* The station raises an alert the moment a DETECTION report (TM[140,1] of the dictionary) arrives
  (:mod:`groundstation.alerts`): an event of kind ``detection`` named after what was found (FIRE, SHIP,
  FLOOD, CLOUD), archived and published on the live stream as ``event.<KIND>``.
* ``ttc payload events`` lists them and writes GeoJSON (RFC 7946: a FeatureCollection of Points, lon/lat
  in WGS84) or KML for QGIS / Google Earth.
* ``ttc payload image ID`` joins an image's IMAGE_PART packets from the archive (part numbers 0..last,
  TM[13,3] the last), checks the product's CRC-32 and writes a PNG (false colour SWIR/NIR/red, or one
  band) with that image's detections drawn at their reported positions.
* ``ttc payload synth`` / ``ttc payload analyse`` run the spacecraft's own scene model and onboard
  analysis as a program (``python -m spacecraft.payload``): the ground segment never imports the
  spacecraft package.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click
import numpy as np

from protocol.errors import ProtocolError
from protocol.imageproduct import ImageProduct, decode_product, join_parts

from .alerts import DETECTION_SEVERITY, geojson, kml
from .archive import Archive
from .client import StationError
from .operate import EXIT_UNAVAILABLE, _api_option, _events_option, _fail

__all__ = ["payload", "pixel_of", "product_from_packets", "render_image"]

# ====================================================================== images

def product_from_packets(packets: Iterable[bytes], image_id: int, *, mission: Any) -> bytes:
    """The octets of image ``image_id`` joined from archived IMAGE_PART packets (the newest copy of each part)."""
    parts: dict[int, bytes] = {}
    last: int | None = None
    for raw in packets:
        dec = mission.decode_tm(raw)
        if dec.name != "IMAGE_PART" or len(dec.parameters) != 2:
            continue
        ident, number = (int(p.raw) for p in dec.parameters)
        if ident != image_id:
            continue
        parts[number] = dec.data
        if dec.tm.subtype == mission.packets["IMAGE_PART"].subtypes[-1]:
            last = number
    return join_parts(parts, last=last)


def pixel_of(product: ImageProduct, lat_deg: float, lon_deg: float) -> tuple[float, float]:
    """(row, col) of a lat/lon inside the product's footprint (Newton on the bilinear corner mapping)."""
    row, col = (product.rows - 1) / 2, (product.cols - 1) / 2
    for _ in range(20):
        lat0, lon0 = product.lat_lon_deg(row, col)
        lat_r, lon_r = product.lat_lon_deg(row + 1, col)
        lat_c, lon_c = product.lat_lon_deg(row, col + 1)
        jac = np.array([[lat_r - lat0, lat_c - lat0], [lon_r - lon0, lon_c - lon0]])
        try:
            step = np.linalg.solve(jac, [lat_deg - lat0, lon_deg - lon0])
        except np.linalg.LinAlgError:
            break
        row, col = row + float(step[0]), col + float(step[1])
        if abs(step[0]) + abs(step[1]) < 1e-6:
            break
    return row, col


def _stretch(band: np.ndarray) -> np.ndarray:
    finite = band[np.isfinite(band)]
    if not finite.size:
        return np.zeros_like(band)
    lo, hi = np.percentile(finite, (1, 99))
    return np.clip((np.nan_to_num(band, nan=lo) - lo) / max(hi - lo, 1e-9), 0, 1)


def render_image(product: ImageProduct, detections: list[dict[str, Any]], path: Path, *, band: str | None = None,
                 title: str | None = None) -> int:
    """Write a PNG of the product (false colour SWIR/NIR/red, or ``band``) with detections drawn; how many."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if band is not None:
        if band not in product.samples:
            raise click.BadParameter(f"{band!r}: the image has {sorted(product.samples)}", param_hint="--band")
        picture = _stretch(product.physical(band))
        cmap = "inferno" if band in ("mwir", "tir") else "gray"
    else:
        names = [n for n in ("swir", "nir", "red") if n in product.samples] or list(product.samples)[:1]
        picture = np.dstack([_stretch(product.physical(n)) for n in (names * 3)[:3]])
        cmap = None
    colours = {"FIRE": "red", "SHIP": "cyan", "FLOOD": "dodgerblue", "CLOUD": "white"}
    fig, ax = plt.subplots(figsize=(8, 8 * product.rows / max(product.cols, 1)), dpi=100)
    ax.imshow(picture, cmap=cmap, interpolation="nearest")
    drawn = 0
    for d in detections:
        row, col = pixel_of(product, d["lat_deg"], d["lon_deg"])
        if not (-0.5 <= row <= product.rows - 0.5 and -0.5 <= col <= product.cols - 0.5):
            continue
        c = colours.get(d["kind"], "yellow")
        ax.add_patch(plt.Circle((col, row), radius=max(product.rows, product.cols) / 60, fill=False, color=c, lw=1.5))
        ax.annotate(f"{d['kind']} {d.get('confidence_pct', '')}%", (col, row), xytext=(6, -6),
                    textcoords="offset points", color=c, fontsize=7)
        drawn += 1
    ax.set_title(title or f"image {product.image_id}: {drawn} detections", fontsize=9)
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return drawn


# ====================================================================== CLI

def _alerts(api_url: str, events_url: str, archive_path: Path | None, kinds: tuple[str, ...],
            limit: int) -> list[dict[str, Any]]:
    names = [k.upper() for k in kinds] or None
    if archive_path is not None:
        arc = Archive(archive_path)
        try:
            rows = [r for r in arc.iter_rows("events", names=names) if r.get("kind") == "detection"]
        finally:
            arc.close()
        for r in rows:
            if isinstance(r.get("data"), str):
                r["data"] = json.loads(r["data"])
        return rows[-limit:]
    from .client import StationClient

    with StationClient(api_url, events_url, timeout_s=10.0) as gs:  # the API serves at most 10,000 rows a request
        return gs.events(names=names, kind="detection", limit=min(limit, 10_000), newest=True)


def _packets(api_url: str, events_url: str, archive_path: Path | None) -> Iterator[bytes]:
    if archive_path is not None:
        arc = Archive(archive_path)
        try:
            for r in arc.iter_rows("packets", names=["IMAGE_PART"]):
                yield r["data"] if isinstance(r["data"], bytes) else bytes.fromhex(r["data"])
        finally:
            arc.close()
        return
    from .client import StationClient

    with StationClient(api_url, events_url, timeout_s=30.0) as gs:
        after = None
        while True:
            rows = gs.request("packets", names=["IMAGE_PART"], limit=5000, **({"after_id": after} if after else {}))
            for r in rows:
                yield bytes.fromhex(r["data"])
            if len(rows) < 5000:
                return
            after = rows[-1]["id"]


def _station_options(f: Any) -> Any:
    f = click.option("--archive", "archive_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     default=None, help="read this archive file directly instead of asking the station")(f)
    return _events_option(_api_option(f))


@click.group()
def payload() -> None:
    """The payload: scenes and the onboard analysis on the ground, detection alerts, downlinked images."""


def _spacecraft_program(args: list[str]) -> None:
    # the ground segment never imports the spacecraft package (DESIGN.md): it starts it as a program
    os.execv(sys.executable, [sys.executable, "-m", "spacecraft.payload", *args])


@payload.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                   "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def synth(args: tuple[str, ...]) -> None:
    """Write seeded scenes with their truth (`ttc payload synth --help` for the options)."""
    _spacecraft_program(["synth", *args])


@payload.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                   "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def analyse(args: tuple[str, ...]) -> None:
    """Run the onboard analysis on a scene file (`ttc payload analyse SCENE.npz --json`)."""
    _spacecraft_program(["analyse", *args])


@payload.command("events")
@click.option("--type", "kinds", multiple=True, type=click.Choice(sorted(DETECTION_SEVERITY), case_sensitive=False),
              help="only these kinds (repeatable)")
@click.option("--limit", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--geojson", "geojson_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write them as a GeoJSON FeatureCollection (QGIS, geojson.io)")
@click.option("--kml", "kml_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write them as KML (Google Earth)")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
@_station_options
def payload_events(kinds: tuple[str, ...], limit: int, geojson_path: Path | None, kml_path: Path | None,
                   as_json: bool, archive_path: Path | None, api_url: str, events_url: str) -> None:
    """Detections the spacecraft reported (FIRE, SHIP, FLOOD, CLOUD), with where they are."""
    try:
        alerts = _alerts(api_url, events_url, archive_path, kinds, limit)
    except StationError as e:
        _fail(str(e), EXIT_UNAVAILABLE)
    for e in alerts:
        click.echo(json.dumps(e) if as_json else f"{e['ert']} {e['severity']:<6} {e['text']}")
    if geojson_path is not None:
        geojson_path.write_text(json.dumps(geojson(alerts), indent=1), encoding="utf-8")
        click.echo(f"{len(alerts)} detections written to {geojson_path}", err=True)
    if kml_path is not None:
        kml_path.write_text(kml(alerts), encoding="utf-8")
        click.echo(f"{len(alerts)} detections written to {kml_path}", err=True)


@payload.command("image")
@click.argument("image_id", type=click.IntRange(0, 0xFFFF))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="the PNG to write")
@click.option("--band", type=click.Choice(["red", "nir", "swir", "mwir", "tir"]), default=None,
              help="one band instead of false colour (SWIR/NIR/red)")
@click.option("--product", "product_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the reassembled product octets (protocol.imageproduct) here")
@_station_options
def payload_image(image_id: int, output: Path, band: str | None, product_path: Path | None,
                  archive_path: Path | None, api_url: str, events_url: str) -> None:
    """Reassemble a downlinked image from its parts and write it as a PNG with its detections drawn."""
    from .mission import selected

    try:
        data = product_from_packets(_packets(api_url, events_url, archive_path), image_id, mission=selected())
        product = decode_product(data)
        alerts = [e["data"] for e in _alerts(api_url, events_url, archive_path, (), 100_000)
                  if (e.get("data") or {}).get("image_id") == image_id]
    except ProtocolError as e:
        _fail(f"image {image_id} cannot be reassembled: {e}", 1)
    except StationError as e:
        _fail(str(e), EXIT_UNAVAILABLE)
    if product_path is not None:
        product_path.write_bytes(data)
    drawn = render_image(product, alerts, output, band=band)
    click.echo(f"image {image_id}: {product.rows} x {product.cols} px, {len(data)} octets, {drawn} detections "
               f"drawn, written to {output}")
