"""``molvae`` command group."""

from __future__ import annotations

import os

# Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning. On a busy CPU,
# spinning threads made GRU training 20-30x slower (measured on 2 cores, benchmarks/README).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import click  # noqa: E402

from molvae import __version__  # noqa: E402
from molvae_cli import evaluate, generate, latent, optimize, properties, train  # noqa: E402
from molvae_cli.common import setup_output  # noqa: E402


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging, RDKit messages and full tracebacks.")
@click.version_option(__version__, prog_name="molvae")
def cli(verbose: bool) -> None:
    """molvae: design molecules with a conditional SELFIES variational autoencoder.

    Train a model on your molecules, generate candidates at requested properties, and move
    around its latent space. Every molecule that comes out is checked by RDKit.
    """
    setup_output(verbose)


for command in (
    train.train,
    generate.generate,
    latent.encode,
    latent.decode,
    latent.interpolate,
    evaluate.evaluate,
    optimize.optimize,
    properties.properties,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="molvae")
