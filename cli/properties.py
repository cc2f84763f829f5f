"""``molvae properties``: the molecular properties molvae can condition on, compute and optimise."""

from __future__ import annotations

import click

from molvae_cli.common import handle_errors


@click.command()
@handle_errors
def properties() -> None:
    """List the available properties: name, unit and definition (all computed with RDKit).

    These names are what `train --properties`, `generate --condition NAME=VALUE` and
    `optimize --maximize/--target/--range` take. A trained model is conditioned on the ones it
    was trained with (the shipped model: logp, qed, sa, mw, tpsa).
    """
    from molvae.chem.properties import PROPERTIES

    width = max(len(n) for n in PROPERTIES)
    unit_width = max(len(p.unit) for p in PROPERTIES.values())
    click.echo(f"{'name':<{width}}  {'unit':<{unit_width}}  definition")
    for name, prop in PROPERTIES.items():
        click.echo(f"{name:<{width}}  {prop.unit:<{unit_width}}  {prop.description}")
