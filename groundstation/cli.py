"""The ``ttc`` command line an operator uses."""

from __future__ import annotations

import click

from protocol import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ttc")
def main() -> None:
    """ttc: telemetry, tracking and command for small Earth-observation satellites."""


if __name__ == "__main__":  # pragma: no cover
    main()
