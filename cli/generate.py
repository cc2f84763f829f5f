"""``molvae generate``: sample molecules at requested properties."""

from __future__ import annotations

import sys

import click

from molvae.io.writers import output_format
from molvae_cli.common import (
    TEMPERATURE,
    condition_option,
    device_option,
    echo,
    flatten_option,
    handle_errors,
    load_model,
    model_option,
    parse_conditions,
    require_usable,
)


@click.command()
@model_option
@click.option("-n", "n", type=int, default=1000, show_default=True, help="Number of molecules to sample.")
@condition_option
@click.option(
    "--temperature",
    "-t",
    type=TEMPERATURE,
    default=None,
    help="Decoder temperature: 1 samples the model's distribution, lower is more conservative, 0 = greedy. "
    "Default: the one the model's checkpoint names (1 unless set; the shipped model's card gives its own).",
)
@click.option(
    "--guidance",
    type=float,
    default=0.0,
    show_default=True,
    help="Classifier-free guidance on --condition: each decoder step pushed away from the unconditioned "
    "model by this factor, so molecules follow the requested values more closely (the README has the figures). "
    "Sampling takes about twice as long.",
)
@click.option(
    "--prior-draws",
    type=click.IntRange(min=1),
    default=16,  # molvae.generate.stream.PRIOR_DRAWS (torch-free here)
    show_default=True,
    help="With --condition: each molecule's latent point is the one of this many prior draws whose "
    "property-head prediction is nearest the request (1: a plain prior draw).",
)
@click.option("--seed", type=int, default=None, help="Random seed for reproducible output.")
@click.option("--unique", is_flag=True, help="Remove duplicates and sample until N unique valid molecules.")
@click.option("--around", metavar="SMILES", default=None, help="Sample near this molecule.")
@click.option("--radius", type=float, default=0.5, show_default=True, help="Latent noise around --around.")
@flatten_option
@click.option(
    "--scaffold",
    metavar="SMILES_OR_SMARTS",
    default=None,
    help="Write only molecules that contain this core (RDKit substructure match); sampling goes around "
    "encodings of molecules that contain it.",
)
@click.option(
    "--scaffold-seed",
    "scaffold_seeds",
    metavar="SMILES",
    multiple=True,
    help="A molecule containing the --scaffold core to start from (repeatable).",
)
@click.option(
    "--max-samples",
    type=int,
    default=None,
    help="Sampling budget of --scaffold and --unique (default 50 x N with --scaffold, 20 x N with --unique).",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .csv, .tsv, .smi or .sdf.")
@click.option(
    "--image", type=click.Path(dir_okay=False), default=None, help="Also draw the first molecules to this PNG."
)
@click.option(
    "--properties",
    "-p",
    "columns",
    default=None,
    metavar="NAMES",
    help="Property columns to compute and write, comma-separated (default: the model's own). Fewer is "
    "faster for large runs (QED and SA cost the most); 'none' writes SMILES and novelty only. Any of "
    "the names `molvae properties` lists.",
)
@device_option
@click.option(
    "--jobs", "-j", type=int, default=None, help="Worker processes for the RDKit checks (default: all cores)."
)
@handle_errors
def generate(
    model_path,
    n,
    conditions,
    temperature,
    guidance,
    prior_draws,
    seed,
    unique,
    around,
    radius,
    flatten,
    scaffold,
    scaffold_seeds,
    max_samples,
    output,
    image,
    columns,
    device,
    precision,
    jobs,
) -> None:
    """Sample N molecules and write them with their properties and a `novel` flag.

    Invalid samples go to OUTPUT's .rejects.csv with the reason; the counts printed add up.
    Molecules are written as they come: memory stays bounded for millions of them.

    \b
    Examples:
      molvae generate -m runs/demo -n 10000 --condition logp=2.5 --condition qed=0.8 -o out.csv
      molvae generate -m runs/demo -n 100 --around "CCOc1ccccc1C(N)=O" --radius 0.3 -o near.sdf
      molvae generate -n 200 --unique --scaffold "c1ccc(cc1)N1CCNCC1" -o piperazines.csv
    """

    output_format(output)  # fail on a bad name before any work
    if n <= 0:
        raise click.BadParameter(f"must be positive, got {n}", param_hint="-n")
    if max_samples is not None and max_samples < n:
        raise click.BadParameter(f"must be at least N ({n}), got {max_samples}", param_hint="--max-samples")
    if scaffold_seeds and scaffold is None:
        raise click.UsageError("--scaffold-seed needs --scaffold")
    condition = parse_conditions(conditions)
    names = None
    if columns is not None:
        from molvae.chem.properties import resolve

        names = [] if columns.strip().lower() == "none" else resolve(columns)
    from molvae.generate.stream import GenerationInterrupted

    model = load_model(model_path, device, precision)
    stopped = None
    try:
        res = model.generate_to_file(
            output,
            n,
            condition=condition,
            temperature=temperature,
            guidance=guidance,
            prior_draws=prior_draws,
            seed=seed,
            unique=unique,
            around=around,
            radius=radius,
            flatten=flatten,
            n_jobs=jobs,
            progress=True,
            scaffold=scaffold,
            scaffold_seeds=scaffold_seeds,
            max_samples=max_samples,
            properties=names,
        )
    except GenerationInterrupted as exc:  # the file keeps what was written: count it, then exit 130 / 143
        res, stopped = exc.summary, exc
    names = model.property_names if names is None else names
    what = "molecules with the scaffold" if scaffold else "valid molecules"
    repaired = f" ({res.n_repaired} with hydrogens restored)" if res.n_repaired else ""
    parts = [f"sampled {res.n_sampled}: wrote {res.n_written} {what}{repaired} to {output}"]
    if scaffold:
        parts.append(f"{res.n_without_scaffold} valid without it")
    kinds = ", ".join(f"{n} {kind}" for kind, n in res.invalid_kinds.most_common())
    parts.append(f"{res.n_invalid} invalid ({kinds}; see {res.rejects_path})" if res.n_invalid else "0 invalid")
    if unique:
        parts.append(f"{res.n_duplicates} duplicates removed")
    parts.append(f"{res.n_novel} novel")
    echo(", ".join(parts))
    if stopped is not None:
        echo(str(stopped))
        sys.exit(stopped.exit_code)
    require_usable(res.n_written, f"none of the {res.n_sampled} samples is a valid molecule")
    rows = [{"smiles": m.smiles, **m.properties} for m in res.first]
    if image and rows:
        from molvae.chem.molecules import draw_grid

        shown = rows[:24]
        legends = [", ".join(f"{k} {r[k]:.2f}" for k in names[:3]) for r in shown]
        draw_grid([r["smiles"] for r in shown], legends, path=image)
        echo(f"drew {len(shown)} molecules to {image}")
    if (unique or scaffold) and res.n_written < n:  # asked for N, got fewer: a failure, after writing them
        raise click.ClickException(
            f"wrote only {res.n_written} of the {n} {'unique ' if unique else ''}{what} requested in "
            f"{res.n_sampled} samples; raise --max-samples or ask for fewer"
        )
