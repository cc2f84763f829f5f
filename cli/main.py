"""``molvae`` command group."""

from __future__ import annotations

import os

# Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning. On a busy CPU,
# spinning threads made GRU training 20-30x slower (measured on 2 cores, benchmarks/README).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import click  # noqa: E402
from molvae_cli.common import setup_output  # noqa: E402

from molvae import __version__  # noqa: E402


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
    from molvae_cli import evaluate, generate, latent, optimize, train

    cli.add_command(train.train)
    cli.add_command(generate.generate)
    cli.add_command(latent.encode)
    cli.add_command(latent.decode)
    cli.add_command(latent.interpolate)
    cli.add_command(evaluate.evaluate)
    cli.add_command(optimize.optimize)


_register()


def main() -> None:
    cli(prog_name="molvae")
