"""``molvae evaluate``: MOSES metrics, model diagnostics and an HTML report."""

from __future__ import annotations

import click

from molvae.evaluate.evaluation import evaluate as run_evaluation
from molvae.evaluate.report import METRIC_LABELS
from molvae.io.writers import sibling, write_table
from molvae_cli.common import TEMPERATURE, echo, handle_errors, load_model, require_usable, smiles_column_option


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


@click.command()
@click.argument("generated", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-m",
    "--model",
    "model_path",
    default=None,
    metavar="PATH",
    help="Evaluate a model (a .ckpt, a run folder, or 'pretrained' for the shipped model): "
    "sample -n molecules and run the diagnostics.",
)
@click.option("-n", "n", type=int, default=30000, show_default=True, help="Prior samples to draw with --model.")
@click.option(
    "--reference",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Test set (default: the MOSES test set, whose statistics ship with molvae).",
)
@click.option(
    "--scaffold-reference",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Scaffold test set for the /TestSF metrics (e.g. data/moses/test_scaffolds.csv.gz).",
)
@click.option(
    "--train",
    "train_path",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Training set for novelty (with --model: the model's own training molecules by default).",
)
@click.option(
    "--heldout",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Held-out molecules for reconstruction diagnostics (default: the reference set).",
)
@click.option(
    "--heldout-n",
    type=int,
    default=2000,
    show_default=True,
    help="With --model: how many held-out molecules the reconstruction diagnostics use.",
)
@smiles_column_option
@click.option(
    "--control-n", type=int, default=200, show_default=True, help="Samples per requested value in the condition sweeps."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the --model samples.")
@click.option(
    "--temperature",
    type=TEMPERATURE,
    default=None,
    help="Decoder temperature of the --model samples (default: the model's own, as `molvae generate`).",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False), default=None, help="Write all results as JSON.")
@click.option(
    "--report", "report_dir", type=click.Path(file_okay=False), default=None, help="Write DIR/report.html with plots."
)
@click.option("--jobs", type=int, default=None, help="Worker processes (default: all cores).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@handle_errors
def evaluate(
    generated,
    model_path,
    n,
    reference,
    scaffold_reference,
    train_path,
    heldout,
    heldout_n,
    smiles_column,
    control_n,
    seed,
    temperature,
    json_path,
    report_dir,
    jobs,
    quiet,
) -> None:
    """MOSES metrics of GENERATED (.csv/.smi) or of a model's samples (--model), with diagnostics.

    The logP, SA, QED and weight rows are Wasserstein-1 distances between the generated and the
    reference molecules' values (0 = same distribution), not the values themselves.

    \b
    Examples:
      molvae evaluate out.csv --scaffold-reference data/moses/test_scaffolds.csv.gz --json metrics.json
      molvae evaluate --model runs/demo -n 30000 --report report/
    """

    if (generated is None) == (model_path is None):
        raise click.UsageError("give a file of molecules or --model (one of the two)")
    if n <= 0:
        raise click.BadParameter(f"must be positive, got {n}", param_hint="-n")
    if temperature is not None and model_path is None:
        raise click.UsageError("--temperature needs --model (it is the temperature the model samples at)")
    result = run_evaluation(
        generated=generated,
        model=None if model_path is None else load_model(model_path),
        n=n,
        reference=reference,
        scaffold_reference=scaffold_reference,
        train=train_path,
        heldout=heldout,
        heldout_n=heldout_n,
        control_n=control_n,
        seed=seed,
        report_dir=report_dir,
        json_path=json_path,
        n_jobs=jobs,
        progress=not quiet,
        smiles_column=smiles_column,
        temperature=temperature,
    )
    m = result["metrics"]
    notes = m.get("notes", {})
    click.echo(
        f"molecules: {m.get('n_generated')} read, {m.get('n_valid')} valid, {m.get('n_valid_strict')} valid "
        f"without radicals or unusual valences, {m.get('n_unique')} unique"
    )
    for key, value in m.items():
        if key in ("notes", "timings") or key.startswith("n_") or isinstance(value, (dict, list)):
            continue
        note = f"  ({notes[key]})" if key in notes else ""
        click.echo(f"{METRIC_LABELS.get(key, key):>14}  {_fmt(value)}{note}")
    d = result["diagnostics"]
    if d:
        rec, lat = d["reconstruction"], d["latent"]
        click.echo(
            f"reconstruction: exact {_fmt(rec['exact'])}, token accuracy {_fmt(rec['token_accuracy'])} "
            f"on {rec['n']} held-out molecules ({rec['n_rejected']} not encodable)"
        )
        click.echo(
            f"latent: total KL {_fmt(lat['kl_total'])} nats, {lat['active_units']} of {lat.get('latent_dim')} units active"
            + ("  WARNING: posterior collapse" if lat.get("collapsed") else "")
        )
        for name, err in (d.get("property_head_mae") or {}).items():
            click.echo(f"property head {name}: MAE {_fmt(err)}")
        for name, c in (d.get("condition_control") or {}).items():
            click.echo(
                f"condition {name}: MAE {_fmt(c['mae'])}, within ±{c['tolerance']:g}: {_fmt(c['within_tolerance'])}"
            )
    if result["report"]:
        echo(f"report: {result['report']}")
    if json_path:
        echo(f"results: {json_path}")
    _list_rejects(result["rejects"], json_path)
    n_read = m.get("n_generated") or 0
    require_usable(
        m.get("n_valid_strict") or 0,
        f"none of the {n_read} molecules is valid" if n_read else "the file holds no molecules",
    )


def _list_rejects(rejects: list[dict], json_path: str | None, shown: int = 10) -> None:
    """The given rows that are not valid molecules, as the other commands list theirs: all of them in a
    rejects file next to the --json output, the first few on stderr."""
    if not rejects:
        return
    where = ""
    if json_path:
        path = sibling(json_path, "rejects")
        write_table(path, ["line", "smiles", "reason"], [(r["line"], r["smiles"], r["reason"]) for r in rejects])
        where = f"; all of them in {path}"
    echo(f"{len(rejects)} rows are not valid molecules{where}:")
    for r in rejects[:shown]:
        echo(f"  line {r['line']}: {r['smiles'] or '(empty)'}: {r['reason']}")
    if len(rejects) > shown:
        echo(f"  ... and {len(rejects) - shown} more" + ("" if json_path else " (--json FILE writes them all)"))
