"""The ``ttc`` command line an operator uses."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from protocol import __version__

# tests/data/real in the checkout: the public real captures the project tests against
DEFAULT_REAL_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "real"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ttc")
@click.option("--mission", "mission_spec", envvar="TTC_MISSION", default=None, metavar="SPEC",
              help="mission dictionary: a .toml or .json file, a .py file or module[:ATTRIBUTE] "
                   "(env TTC_MISSION; default: the ttc reference satellite); docs/dictionary.md")
def main(mission_spec: str | None) -> None:
    """ttc: telemetry, tracking and command for small Earth-observation satellites."""
    from groundstation.mission import choose

    choose(mission_spec)


@main.command()
@click.option("--ber", "bit_error_rate", type=click.FloatRange(0, 0.01), default=1e-5, show_default=True,
              help="bit error rate the channel applies to both directions")
@click.option("--seed", type=int, default=7, show_default=True, help="seed of the channel and the spacecraft models")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where the archive, recording and logs go (default: a new temporary folder)")
@click.option("--link", type=click.Choice(["channel", "radio", "gnuradio"]), default="channel", show_default=True,
              help="channel: ttc channel between the processes (bit errors); radio: ttc channel at the sample "
                   "level (the downlink modulated, noise at --ebn0-db, demodulated); gnuradio: a GNU Radio "
                   "flowgraph with gr-satellites' CCSDS deframer (needs Debian's gnuradio and gr-satellites)")
@click.option("--ebn0-db", type=click.FloatRange(0, 30), default=8.0, show_default=True,
              help="with --link radio or gnuradio: Eb/N0 of the downlink's noise")
@click.option("--up-loss", type=click.FloatRange(0, 0.5), default=0.1, show_default=True,
              help="fraction of uplink frames the channel loses (COP-1 retransmits them)")
@click.option("--sdls/--no-sdls", default=True, show_default=True,
              help="protect the uplink with SDLS (a key file generated in the workdir, its copy on board)")
def demo(bit_error_rate: float, seed: int, workdir: Path | None, link: str, ebn0_db: float, up_loss: float,
         sdls: bool) -> None:
    """Fly a scripted pass: spacecraft, channel and station as real processes, driven by the Python client."""
    import tempfile

    from groundstation.demo import run_demo
    from groundstation.loopback import PassConfig

    from groundstation.mission import spec

    folder = workdir or Path(tempfile.mkdtemp(prefix="ttc-demo-"))
    from groundstation.loopback import ChildFailed

    try:
        outcome = run_demo(folder, PassConfig(ber=bit_error_rate, seed=seed, mission=spec(), link=link,
                                              ebn0_db=ebn0_db, up_loss=up_loss if link != "gnuradio" else None,
                                              sdls=sdls),
                           echo=click.echo)
    except ChildFailed as e:
        raise click.ClickException(str(e)) from e
    bad = {name: code for name, code in outcome["exit_codes"].items() if code != 0}
    if bad or outcome["steps"].get("failure") is None:
        raise click.ClickException(f"the pass did not go as scripted (exit codes {outcome['exit_codes']})")


@main.command("stack-demo")
@click.option("--ber", "bit_error_rate", type=click.FloatRange(0, 0.01), default=1e-5, show_default=True,
              help="bit error rate of the simulated channel")
@click.option("--seed", type=int, default=7, show_default=True, help="seed of the channel's bit errors")
@click.option("--real-dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_REAL_DIR,
              show_default=True, help="folder holding snpp_synchronized_cadus.dat")
def stack_demo(bit_error_rate: float, seed: int, real_dir: Path) -> None:
    """Run telemetry and a command through the whole CCSDS stack in one process, and decode a real capture."""
    from groundstation.stackdemo import run

    figures = run(bit_error_rate=bit_error_rate, seed=seed, real_dir=real_dir, echo=click.echo)
    if not figures["uplink_ok"] or figures.get("snpp_md5_ok") is False:
        raise click.ClickException("the demonstration did not decode what was sent")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def spacecraft(args: tuple[str, ...]) -> None:
    """Run the spacecraft process (`python -m spacecraft`; `ttc spacecraft --help` for its options)."""
    # The ground segment never imports the spacecraft package (DESIGN.md): it starts it as a program.
    from groundstation.mission import spec

    chosen = spec()
    extra = ["--mission", chosen] if chosen and "--mission" not in args else []
    os.execv(sys.executable, [sys.executable, "-m", "spacecraft", *extra, *args])


# subcommands: one line per module that adds commands to the ttc group
from groundstation.operate import commands as _operate_cmds  # noqa: E402
for _cmd in _operate_cmds: main.add_command(_cmd)  # noqa: E701 - operate.py: station, send, monitor, events, history, archive
from groundstation.offline import db as _db_cmd, decode as _decode_cmd  # noqa: E402
from protocol.links.channel import command as _channel_cmd  # noqa: E402
for _cmd in (_decode_cmd, _db_cmd, _channel_cmd()): main.add_command(_cmd)  # noqa: E701 - offline.py, channel.py
from groundstation.payload import payload as _payload_cmd  # noqa: E402
main.add_command(_payload_cmd)  # payload.py: synth, analyse, events, image
from groundstation.keys import keys as _keys_cmd  # noqa: E402
from groundstation.sdlskeys import keys_commands as _sdls_keys  # noqa: E402
for _cmd in _sdls_keys: _keys_cmd.add_command(_cmd)  # noqa: E701 - sdlskeys.py: generate, list, rotate, show-sa, export-onboard
main.add_command(_keys_cmd)  # keys.py: init, show, add-client, new-client (CURVE keys of the station API)
from groundstation.modem import modem as _modem_cmd  # noqa: E402
main.add_command(_modem_cmd)  # modem.py: tx, rx
from groundstation.contacts import commands as _contact_cmds  # noqa: E402
for _cmd in _contact_cmds: main.add_command(_cmd)  # noqa: E701 - contacts.py: passes


if __name__ == "__main__":  # pragma: no cover
    main()
