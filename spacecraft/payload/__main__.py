"""``python -m spacecraft.payload``: the imager's scene model and onboard analysis, run on the ground.

``synth`` writes seeded scenes (``.npz``, docs/scene-format.md) with their truth (``.truth.json``);
``analyse`` runs the very analysis the spacecraft flies on any scene file and prints what it finds.
``ttc payload synth`` / ``ttc payload analyse`` start this program (the ground segment never imports the
spacecraft package).
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import click

from .analysis import AnalysisConfig, AnalysisConfigError, analyse
from .scene import SceneConfig, SceneConfigError, synthesize
from .scenefile import SceneError, load_scene, save_scene

#: AnalysisConfig fields an operator may override from the command line (--set NAME=VALUE).
_CONFIG_FIELDS = {f.name: f for f in fields(AnalysisConfig)}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The imager's scenes and onboard analysis, on the ground."""


@main.command()
@click.option("--count", type=click.IntRange(1, 10_000), default=1, show_default=True, help="scenes to write")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="seed of the first scene")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="folder the scenes go to")
@click.option("--rows", type=click.IntRange(16, 8192), default=512, show_default=True)
@click.option("--cols", type=click.IntRange(16, 8192), default=512, show_default=True)
@click.option("--pixel-size", "pixel_size_m", type=click.FloatRange(1, 10_000), default=200.0, show_default=True,
              help="ground sample distance, m")
@click.option("--lat", "lat_deg", type=click.FloatRange(-89, 89), default=None, help="scene centre latitude")
@click.option("--lon", "lon_deg", type=click.FloatRange(-180, 180), default=None, help="scene centre longitude")
@click.option("--sun-zenith", "sun_zenith_deg", type=click.FloatRange(0, 180), default=None,
              help="sun zenith angle (above 85: night)")
@click.option("--cloud", "cloud_fraction", type=click.FloatRange(0, 0.95), default=None, help="cloud fraction")
@click.option("--fires", "fire_count", type=click.IntRange(0, 10_000), default=None, help="random fires")
@click.option("--ships", "ship_count", type=click.IntRange(0, 10_000), default=None, help="random ships")
def synth(count: int, seed: int, out_dir: Path, **overrides: Any) -> None:
    """Write seeded scenes with their exact truth (scene-SEED.npz and scene-SEED.truth.json)."""
    keys = {"lat_deg": "center_lat_deg", "lon_deg": "center_lon_deg"}
    try:
        config = SceneConfig(**{keys.get(k, k): v for k, v in overrides.items() if v is not None})
    except SceneConfigError as e:
        raise click.UsageError(str(e)) from e
    out_dir.mkdir(parents=True, exist_ok=True)
    for s in range(seed, seed + count):
        try:
            scene, truth = synthesize(replace(config, image_id=s & 0xFFFF), seed=s)
        except SceneConfigError as e:
            raise click.ClickException(f"seed {s}: {e}") from e
        path = out_dir / f"scene-{s}.npz"
        save_scene(path, scene, truth=truth.to_json())
        kinds = {k: len(truth.targets_of(k)) for k in ("FIRE", "SHIP", "FLOOD")}
        click.echo(f"{path}: {scene.shape[0]} x {scene.shape[1]} px of {scene.pixel_size_m:g} m, "
                   f"cloud {truth.cloud_fraction:.0%}, {kinds['FIRE']} fires, {kinds['SHIP']} ships, "
                   f"{kinds['FLOOD']} floods")


def _parse_set(values: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        name, sep, text = item.partition("=")
        f = _CONFIG_FIELDS.get(name.strip())
        if not sep or f is None:
            raise click.BadParameter(f"{item!r}: NAME=VALUE with NAME one of {', '.join(sorted(_CONFIG_FIELDS))}",
                                     param_hint="--set")
        try:
            if f.type in ("bool", bool):
                value: Any = {"true": True, "on": True, "1": True, "false": False, "off": False, "0": False}[
                    text.strip().lower()]
            elif f.type in ("int", int):
                value = int(text)
            else:
                value = float(text)
        except (KeyError, ValueError) as e:
            raise click.BadParameter(f"{item!r}: {name} takes a {f.type}", param_hint="--set") from e
        out[f.name] = value
    return out


@main.command("analyse")
@click.argument("scene_path", metavar="SCENE.npz", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="the result as one JSON object")
@click.option("--set", "settings", multiple=True, metavar="NAME=VALUE",
              help="override an analysis threshold (an AnalysisConfig field, e.g. cloud_threshold=0.8)")
def analyse_cmd(scene_path: Path, as_json: bool, settings: tuple[str, ...]) -> None:
    """Run the onboard analysis on a scene file: cloud fraction and every detection, geolocated."""
    try:
        config = replace(AnalysisConfig(), **_parse_set(settings))
    except AnalysisConfigError as e:
        raise click.BadParameter(str(e), param_hint="--set") from e
    try:
        scene = load_scene(scene_path)
        result = analyse(scene, config=config)
    except SceneError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(json.dumps(result.to_json(), sort_keys=True))
        return
    click.echo(f"{scene_path}: image {result.image_id}, {scene.shape[0]} x {scene.shape[1]} px of "
               f"{scene.pixel_size_m:g} m, {'day' if result.day else 'night'}, cloud {result.cloud_fraction:.1%}")
    if result.skipped:
        click.echo(f"  not analysed further: {result.skipped}")
    for kind, why in sorted(result.not_run.items()):
        click.echo(f"  {kind}: not run ({why})")
    for d in result.detections:
        extra = f", {d.frp_mw:.1f} MW" if d.frp_mw else ""
        extra += f", {d.length_m:.0f} m long, heading {d.heading_deg:.0f} deg" if d.length_m else ""
        click.echo(f"  {d.kind:<5} {d.lat_deg:9.5f} {d.lon_deg:10.5f}  {d.area_m2:10.0f} m2  peak {d.peak:.4g} "
                   f"{d.peak_unit}{extra}  confidence {d.confidence:.0%}")
    click.echo(f"  {len(result.detections)} detections")


if __name__ == "__main__":
    try:
        main(prog_name="python -m spacecraft.payload")
    except KeyboardInterrupt:
        sys.exit(130)
