"""``molvae optimize``: search the latent space for molecules that meet an objective."""

from __future__ import annotations

import dataclasses
import sys

import click

from molvae.errors import DataError
from molvae.io.readers import iter_smiles
from molvae.io.writers import output_format, sibling, write_molecules, write_table
from molvae.optimize import engines
from molvae.runtime.progress import format_seconds
from molvae_cli.common import (
    TEMPERATURE,
    device_option,
    echo,
    flatten_option,
    handle_errors,
    load_model,
    model_option,
    require_usable,
    smiles_column_option,
)


class MethodChoice(click.Choice):
    """The registered search methods, read when the command runs (so that methods registered
    after import are offered too)."""

    def __init__(self) -> None:
        super().__init__([])

    @property
    def choices(self) -> tuple[str, ...]:
        return engines.names()

    @choices.setter
    def choices(self, value) -> None:  # click.Choice sets it in __init__
        pass


def _method_help() -> str:
    return "; ".join(f"{s.name}: {s.summary}" for s in engines.ENGINES.values()) + "."


def _why_none(result) -> str:
    """Why a search has no result, and what to change."""
    why = "the search found no valid molecule that meets the constraints"
    wanted = result.objective.constraints.similarity
    if result.closest and wanted is not None:
        why += (
            f"; the closest to a seed had similarity {max(result.closest):.2f} (asked {wanted:g}): "
            "lower --similarity, raise --budget"
            + ("" if not result.objective.constraints.guards.enabled else ", or try --no-guards")
        )
    return why


def _pairs(values: tuple[str, ...], flag: str, split_range: bool = False) -> dict:
    """``("logp=2.5",)`` → ``{"logp": 2.5}``; ``mw=250:400`` → ``{"mw": (250, 400)}`` with ``split_range``."""
    out: dict = {}
    for item in values:
        name, sep, value = item.rpartition("=")
        if not sep or not name.strip():
            example = "mw=250:400" if split_range else "logp=2.5"
            raise click.BadParameter(f"{item!r}: write NAME=VALUE, e.g. {example}", param_hint=flag)
        try:
            if split_range:
                lo, colon, hi = value.partition(":")
                if not colon:
                    raise ValueError
                out[name.strip()] = (float(lo), float(hi))
            else:
                out[name.strip()] = float(value)
        except ValueError:
            want = "LOW:HIGH numbers" if split_range else "a number"
            raise click.BadParameter(f"{item!r}: {value!r} is not {want}", param_hint=flag) from None
    return out


def _read_seeds(path: str, smiles_column: str | None = None) -> list[tuple[int, str]]:
    """(line number, SMILES) of each record of a seed file; a usage error when there is none."""

    records = list(iter_smiles(path, smiles_column))
    if not records:
        raise click.BadParameter(
            f"{path} holds no molecule (it is empty or has only a header)", param_hint="--from-file"
        )
    return records


def _usable_seeds(model, records: list[tuple[int, str]], path: str, output: str, flatten: bool) -> list[str]:
    """The seeds of a file the model can encode; the others go to OUTPUT.seed-rejects.csv with reasons."""

    rejects = [(line, smi, "empty SMILES") for line, smi in records if not smi.strip()]
    filled = [(line, smi) for line, smi in records if smi.strip()]
    enc = model.encode_batch([smi for _, smi in filled], flatten=flatten)
    rejects += [(filled[i][0], smi, reason) for i, smi, reason in enc.rejects]
    kept = [filled[i][1] for i in enc.indices]
    if rejects:
        out = sibling(output, "seed-rejects")
        write_table(out, ["line", "smiles", "reason"], sorted(rejects))
        echo(f"{len(rejects)} of {len(records)} seeds in {path} cannot be used (written to {out} with reasons)")
    if not kept:
        raise DataError(f"no usable seed in {path}: all {len(records)} were rejected (see the rejects file)")
    return kept


_SEARCH = [  # option, SearchSettings field, type, help
    ("--method", "method", MethodChoice(), _method_help()),
    (
        "--budget",
        "budget",
        int,
        "Molecules to decode, or distinct valid molecules with --budget-counts distinct "
        "(per seed with --from); met exactly. [default: 4000]",
    ),
    (
        "--budget-counts",
        "budget_counts",
        click.Choice(["decoded", "distinct"]),
        "What --budget counts: decoded molecules (default), or distinct valid molecules, each scored once "
        "(unless a guard rejects it first): the calls an expensive objective costs at most.",
    ),
    ("--restarts", "restarts", int, "cma, gradient: starting points / CMA-ES runs (per seed with --from)."),
    ("--steps", "steps", int, "gradient: gradient-ascent steps."),
    ("--samples-per-z", "samples_per_z", int, "Decodes per latent point: one greedy, the rest sampled."),
    ("--temperature", "temperature", TEMPERATURE, "Temperature of the sampled decodes (0 = greedy)."),
    ("--radius", "radius", float, "How far from a seed the search starts (latent units)."),
    (
        "--condition-mode",
        "condition",
        click.Choice(["auto", "search", "none"]),
        "Decoder condition: favourable values of the objective's properties (auto), searched by CMA-ES too, or none. "
        "Other settings of a method (e.g. the ga's stall or population) go in the [search] table of --config.",
    ),
    ("--seed", "seed", int, "Random seed. [default: 0]"),
]


def _search_options(f):
    for flag, key, typ, help_ in reversed(_SEARCH):
        f = click.option(flag, key, type=typ, default=None, help=help_)(f)
    return f


@click.command()
@model_option
@click.option(
    "--maximize",
    "maximize",
    multiple=True,
    metavar="NAME",
    help="Property to maximise (or package.module:function); repeat for several.",
)
@click.option("--minimize", "minimize", multiple=True, metavar="NAME", help="Property to minimise.")
@click.option("--target", "targets", multiple=True, metavar="NAME=VALUE", help="Bring a property to a value.")
@click.option("--range", "ranges", multiple=True, metavar="NAME=LOW:HIGH", help="Keep a property within a range.")
@click.option(
    "--objective",
    "functions",
    multiple=True,
    metavar="MODULE:FUNCTION",
    help="Your own score to maximise: a function from a list of SMILES to a list of floats.",
)
@click.option("--weight", "weights", multiple=True, metavar="NAME=W", help="Weight of an objective (default 1).")
@click.option(
    "--combine",
    type=click.Choice(["sum", "desirability"]),
    default=None,
    help="Weighted sum of the terms (default), or weighted geometric mean of 0-1 desirabilities.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML file of objectives, constraints, seeds and [search] settings; options add to it.",
)
@click.option(
    "--from",
    "starts",
    multiple=True,
    metavar="SMILES",
    help="Start from this molecule (repeat for several; each is optimised separately).",
)
@click.option(
    "--from-file",
    "starts_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Start from each molecule of this file (.smi, .csv, .sdf).",
)
@smiles_column_option
@flatten_option
@click.option("--similarity", type=float, default=None, help="Keep Tanimoto similarity to the seed at least this.")
@click.option("--require", multiple=True, metavar="SMARTS", help="Substructure every result must contain.")
@click.option("--forbid", multiple=True, metavar="SMARTS", help="Substructure no result may contain.")
@click.option("--max-heavy-atoms", type=int, default=None, help="Largest number of heavy atoms allowed.")
@click.option(
    "--no-guards",
    is_flag=True,
    help="Accept molecules that break the drug-likeness guards (structural alerts, SA > 4.5, rings "
    "outside 3-7 atoms, alkyl chains over 6 carbons, reactive groups), which are on by default.",
)
@_search_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .csv, .tsv, .smi or .sdf.")
@click.option("--top", type=int, default=100, show_default=True, help="Keep the K best molecules (per seed); 0 = all.")
@click.option("--image", type=click.Path(dir_okay=False), default=None, help="Draw the best molecules to this PNG.")
@device_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@handle_errors
def optimize(
    model_path,
    maximize,
    minimize,
    targets,
    ranges,
    functions,
    weights,
    combine,
    config_path,
    starts,
    starts_file,
    smiles_column,
    flatten,
    similarity,
    require,
    forbid,
    max_heavy_atoms,
    no_guards,
    output,
    top,
    image,
    device,
    precision,
    quiet,
    **search,
) -> None:
    """Search the model's latent space for molecules that score well on an objective.

    Every molecule found is decoded, checked and re-scored with RDKit (and your function);
    OUTPUT lists the distinct ones that meet every constraint, best first, with the objective,
    every property, the similarity to the seed, a novel flag and the search step that found
    them. OUTPUT's .optimize.toml records the objective and settings (usable as --config).

    \b
    Examples:
      molvae optimize -m runs/demo --maximize qed -o best_qed.csv --top 20 --image best.png
      molvae optimize -m runs/demo --maximize plogp --max-heavy-atoms 38 --budget 20000 -o plogp.csv
      molvae optimize -m runs/demo --maximize plogp --from "COc1cc2c(cc1OC)CC(N)C2" --similarity 0.4 -o near.csv
      molvae optimize -m runs/demo --objective mytools.dock:score --range mw=250:450 --forbid "[N+](=O)[O-]" -o dock.csv
      molvae optimize -m runs/demo --config objective.toml -o out.csv
    """
    from molvae.optimize.config import read_request, settings_dict
    from molvae.optimize.objectives import to_toml
    from molvae.optimize.types import OptimizationInterrupted

    output_format(output)  # fail on a bad name before any work
    if top < 0:
        raise click.BadParameter(f"must be 0 or more, got {top}", param_hint="--top")
    if not (maximize or minimize or targets or ranges or functions or config_path):
        raise click.UsageError(
            "nothing to optimise: give --maximize, --minimize, --target, --range, --objective or --config"
        )
    file_seeds = _read_seeds(starts_file, smiles_column) if starts_file else []
    objective, settings = read_request(  # validated before the model loads
        config_path,
        maximize=[*maximize, *functions],
        minimize=minimize,
        target=_pairs(targets, "--target"),
        range=_pairs(ranges, "--range", split_range=True),
        weights=_pairs(weights, "--weight"),
        combine=combine,
        similarity=similarity,
        require=require,
        forbid=forbid,
        max_heavy_atoms=max_heavy_atoms,
        seeds=[*starts, *(smi for _, smi in file_seeds)],
        guards=False if no_guards else None,
        search={k: v for k, v in search.items() if v is not None},
    )

    model = load_model(model_path, device, precision)
    if file_seeds:
        usable = _usable_seeds(model, file_seeds, starts_file, output, flatten)
        objective = dataclasses.replace(objective, seeds=(*starts, *usable))
    stopped = None
    try:
        result = model.optimize(objective, top=top or None, progress=not quiet, settings=settings, flatten=flatten)
    except OptimizationInterrupted as exc:  # write the best found so far, then exit 130 / 143
        result, stopped = exc.result, exc

    rows = result.rows()
    if rows:  # a search with no result leaves no output file; the summary line says why
        write_molecules(output, rows, result.columns)
        (sibling(output, "optimize", ".toml")).write_text(to_toml(result.objective, settings_dict(settings)))
        result.write_curve(sibling(output, "curve", ".csv"), sibling(output, "curve", ".png"))
    guarded = ""
    if result.n_guarded:
        guarded = (
            f" ({result.n_guarded} a drug-likeness guard: "
            + ", ".join(f"{k} {v}" for k, v in sorted(result.guarded.items(), key=lambda kv: -kv[1]))
            + ")"
        )
    parts = [
        f"decoded {result.n_decoded} molecules in {format_seconds(result.seconds)}: {result.n_invalid} invalid, "
        + (f"{result.n_repaired} with hydrogens restored, " if result.n_repaired else "")
        + f"{result.n_unique} distinct valid, {result.n_infeasible} broke a constraint{guarded}, "
        f"objective computed for {result.n_scored} ({result.objective_seconds:.1f} s; the search's own time "
        f"{result.search_ms_per_call:.1f} ms per call)"
    ]
    if result.n_failures:
        fail = sibling(output, "failures")
        write_table(fail, ["smiles", "reason"], result.failures)
        parts.append(f"{result.n_failures} got the worst score because the objective failed on them (see {fail})")
    parts.append(f"wrote {len(rows)} to {output}" if rows else "wrote no file")
    echo("; ".join(parts))
    if stopped is None:
        require_usable(len(rows), _why_none(result))
    if result.seeds:
        found = sum(result.best(i) is not None for i in range(len(result.seeds)))
        echo(f"{found} of {len(result.seeds)} seeds have a candidate")
    if rows:
        best = result.candidates[0]
        echo(f"best: {best.smiles} objective {best.score:.4g}")
    if image and rows:
        from molvae.chem.molecules import draw_grid

        shown = result.candidates[:24]
        legends = [f"{c.score:.3f}" + (f", sim {c.similarity:.2f}" if c.similarity is not None else "") for c in shown]
        draw_grid([c.smiles for c in shown], legends, path=image)
        echo(f"drew {len(shown)} molecules to {image}")
    if stopped is not None:
        echo(str(stopped))
        sys.exit(stopped.exit_code)
