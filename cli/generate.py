"""``molvae generate``: sample molecules at requested properties."""

from __future__ import annotations

import click

from molvae_cli.common import condition_option, echo, handle_errors, load_model, model_option, parse_conditions


@click.command()
@model_option
@click.option("-n", "n", type=int, default=1000, show_default=True, help="Number of molecules to sample.")
@condition_option
@click.option("--temperature", "-t", type=float, default=1.0, show_default=True, help="Decoder temperature (0 = greedy).")
@click.option("--seed", type=int, default=None, help="Random seed for reproducible output.")
@click.option("--unique", is_flag=True, help="Remove duplicates and sample until N unique valid molecules.")
@click.option("--around", metavar="SMILES", default=None, help="Sample near this molecule.")
@click.option("--radius", type=float, default=0.5, show_default=True, help="Latent noise around --around.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .csv, .tsv, .smi or .sdf.")
@click.option("--image", type=click.Path(dir_okay=False), default=None, help="Also draw the first molecules to this PNG.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:i].")
@handle_errors
def generate(model_path, n, conditions, temperature, seed, unique, around, radius, output, image, device) -> None:
    """Sample N molecules and write them with their properties and a `novel` flag.

    Invalid samples go to OUTPUT's .rejects.csv with the reason; the counts printed add up.

    \b
    Examples:
      molvae generate -m runs/demo -n 10000 --condition logp=2.5 --condition qed=0.8 -o out.csv
      molvae generate -m runs/demo -n 100 --around "CCOc1ccccc1C(N)=O" --radius 0.3 -o near.sdf
    """
    from molvae.io import output_format, sibling, write_molecules, write_table

    output_format(output)  # fail on a bad name before any work
    if n <= 0:
        raise click.BadParameter(f"must be positive, got {n}", param_hint="-n")
    condition = parse_conditions(conditions)
    model = load_model(model_path, device)
    gen = model.generate(n, condition=condition, temperature=temperature, seed=seed, unique=unique,
                         around=around, radius=radius)
    names = model.property_names
    rows = [{"smiles": m.smiles, **m.properties, "novel": nov} for m, nov in zip(gen.molecules, gen.novel)]
    write_molecules(output, rows, [*names, "novel"])
    parts = [f"sampled {gen.n_sampled}: wrote {len(rows)} valid molecules to {output}"]
    if gen.invalid:
        rej = sibling(output, "rejects")
        write_table(rej, ["selfies", "reason"], [(c.selfies, c.reason) for c in gen.invalid])
        parts.append(f"{len(gen.invalid)} invalid (see {rej})")
    else:
        parts.append("0 invalid")
    if unique:
        parts.append(f"{gen.n_duplicates} duplicates removed")
    parts.append(f"{sum(gen.novel)} novel")
    echo(", ".join(parts))
    if image and rows:
        from molvae.chem import draw_grid

        shown = rows[:24]
        legends = [", ".join(f"{k} {r[k]:.2f}" for k in names[:3]) for r in shown]
        draw_grid([r["smiles"] for r in shown], legends, path=image)
        echo(f"drew {len(shown)} molecules to {image}")
