"""``molvae encode``, ``decode`` and ``interpolate``: move between molecules and the latent space."""

from __future__ import annotations

import csv
import os
import sys

import click
import numpy as np

from molvae.io.writers import format_cell, sibling, write_molecules, write_table
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
    smiles_column_option,
)


def _rows(smiles: list[str | None], names: list[str], key: str) -> list[dict]:
    """One output row per decoded molecule: SMILES ('' if invalid), position, validity, properties."""
    from molvae.chem.properties import compute

    return [
        {"smiles": s or "", key: i, "valid": s is not None, **((compute(s, names) if s else None) or {})}
        for i, s in enumerate(smiles)
    ]


def _emit(rows: list[dict], columns: list[str], output: str | None) -> None:
    """Rows to ``output``, or as CSV to stdout formatted as in a file (4 decimals, valid as 1/0)."""
    if output:
        write_molecules(output, rows, columns)
        return
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["smiles", *columns])
    for r in rows:
        w.writerow([r["smiles"] or "", *(format_cell(r.get(c, "")) for c in columns)])


def _refuse_file_names(smiles: tuple[str, ...]) -> None:
    """A SMILES argument that names an existing file and is no SMILES: the user meant ``-i FILE``."""
    from molvae.chem.molecules import mol_from_smiles

    for s in smiles:
        if os.path.isfile(s) and mol_from_smiles(s) is None:
            raise click.UsageError(f"{s} is a file, not a SMILES: encode the molecules in it with -i {s}")


@click.command()
@model_option
@click.argument("smiles", nargs=-1)
@click.option(
    "-i",
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False),
    help="Molecule file (.smi, .csv, .sdf) to encode instead of SMILES arguments.",
)
@smiles_column_option
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Latent vectors, .npy.")
@flatten_option
@device_option
@handle_errors
def encode(model_path, smiles, input_path, smiles_column, output, flatten, device, precision) -> None:
    """Encode molecules to latent vectors (posterior means) in a .npy file.

    Row i of OUTPUT belongs to row i of OUTPUT's .index.csv (input line, SMILES, and the SMILES
    encoded where it was flattened); molecules that cannot be encoded go to .rejects.csv with
    the reason. When none can be encoded, no .npy is written.

    \b
    Example:
      molvae encode -m runs/demo "CCOc1ccccc1C(N)=O" "c1ccccc1O" -o z.npy
      molvae encode -m runs/demo -i mols.smi -o z.npy
    """

    from molvae.data.dataset import iter_smiles

    if not output.endswith(".npy"):
        raise click.BadParameter("the output must be a .npy file", param_hint="-o")
    if bool(smiles) == bool(input_path):
        raise click.UsageError("give SMILES arguments or --input FILE (one of the two)")
    _refuse_file_names(smiles)
    records = list(iter_smiles(input_path, smiles_column)) if input_path else list(enumerate(smiles, start=1))
    if not records:
        raise click.UsageError("no molecules to encode")
    model = load_model(model_path, device, precision)
    enc = model.encode_batch([s for _, s in records], flatten=flatten)
    if enc.indices:  # a run that encodes nothing leaves no .npy and no index
        np.save(output, enc.z)
        write_table(
            sibling(output, "index"),
            ["row", "line", "smiles", "flattened"],
            [(r, records[i][0], records[i][1], enc.flattened.get(i, "")) for r, i in enumerate(enc.indices)],
        )
        msg = f"encoded {len(enc.indices)} of {len(records)} molecules to {output} (shape {enc.z.shape[0]}x{enc.z.shape[1]})"
    else:
        msg = f"encoded none of the {len(records)} molecules (no {output} written)"
    if enc.flattened:
        msg += f", {len(enc.flattened)} without their stereo or charges (the SMILES encoded are in the index)"
    if enc.rejects:
        rej = sibling(output, "rejects")
        write_table(rej, ["line", "smiles", "reason"], [(records[i][0], s, why) for i, s, why in enc.rejects])
        msg += f", {len(enc.rejects)} rejected (see {rej})"
    echo(msg)
    require_usable(len(enc.indices), f"none of the {len(records)} molecules could be encoded")


@click.command()
@model_option
@click.argument("latents", type=click.Path(exists=True, dir_okay=False))
@condition_option
@click.option(
    "--temperature",
    "-t",
    type=TEMPERATURE,
    default=0.0,
    show_default=True,
    help="Decoder temperature: 0 = greedy decoding (the most likely molecule), higher samples.",
)
@click.option("--seed", type=int, default=None, help="Random seed of the sampled decodes (with --temperature > 0).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Output file; stdout when omitted.")
@device_option
@handle_errors
def decode(model_path, latents, conditions, temperature, seed, output, device, precision) -> None:
    """Decode latent vectors (.npy, shape [n, latent_dim]) to molecules.

    Rows that do not decode to a valid molecule are written with an empty SMILES and
    valid=0, so row i of the output is row i of LATENTS.

    \b
    Example:
      molvae decode -m runs/demo z.npy -o decoded.csv
    """

    try:
        z = np.load(latents, allow_pickle=False)
    except ValueError as exc:
        raise click.UsageError(f"{latents}: not a plain .npy array ({exc})") from None
    model = load_model(model_path, device, precision)
    smiles = model.decode(z, condition=parse_conditions(conditions), temperature=temperature, seed=seed)
    rows = _rows(smiles, model.property_names, "row")
    _emit(rows, ["row", "valid", *model.property_names], output)
    n_valid = sum(r["valid"] for r in rows)
    echo(f"decoded {len(rows)} vectors: {n_valid} valid")
    require_usable(n_valid, f"none of the {len(rows)} latent vectors decodes to a valid molecule")


@click.command()
@model_option
@click.argument("a")
@click.argument("b")
@click.option("--steps", type=int, default=10, show_default=True, help="Number of molecules, ends included.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Output file; stdout when omitted.")
@flatten_option
@device_option
@handle_errors
def interpolate(model_path, a, b, steps, output, flatten, device, precision) -> None:
    """Molecules on the latent line from molecule A to molecule B.

    \b
    Example:
      molvae interpolate -m runs/demo "CCOc1ccccc1C(N)=O" "Cc1ccc(S(N)(=O)=O)cc1" --steps 8
    """
    if steps < 2:
        raise click.BadParameter("needs at least 2", param_hint="--steps")
    model = load_model(model_path, device, precision)
    smiles = model.interpolate(a, b, steps, flatten=flatten)
    rows = _rows(smiles, model.property_names, "step")
    _emit(rows, ["step", "valid", *model.property_names], output)
    require_usable(sum(r["valid"] for r in rows), f"none of the {len(rows)} interpolation steps is a valid molecule")
