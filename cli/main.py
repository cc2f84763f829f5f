"""``molvae`` command group."""

from __future__ import annotations

import click

from molvae import __version__
from molvae_cli.common import setup_output


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging, RDKit messages and full tracebacks.")
@click.version_option(__version__, prog_name="molvae")
def cli(verbose: bool) -> None:
    """molvae: design molecules with a conditional SELFIES variational autoencoder.

    Train a model on your molecules, generate candidates at requested properties, and move
    around its latent space. Every molecule that comes out is checked by RDKit.
    """
    setup_output(verbose)


def _register() -> None:
    from molvae_cli import generate, latent, train

    cli.add_command(train.train)
    cli.add_command(generate.generate)
    cli.add_command(latent.encode)
    cli.add_command(latent.decode)
    cli.add_command(latent.interpolate)


_register()


def main() -> None:
    cli(prog_name="molvae")
