"""``molvae train``: train a conditional VAE on a molecule file."""

from __future__ import annotations

import sys

import click

from molvae.chem.properties import PROPERTIES
from molvae_cli.common import echo, handle_errors

# option name -> (TrainConfig key, click type, help)
_OPTIONS = [
    ("--epochs", "epochs", int, "Number of passes over the training molecules."),
    ("--max-minutes", "max_minutes", float, "Stop after this much training time (a resume continues the count)."),
    ("--batch-size", "batch_size", int, "Molecules per optimisation step."),
    ("--lr", "lr", float, "Learning rate (AdamW)."),
    ("--latent-dim", "latent_dim", int, "Size of the latent space."),
    ("--beta", "beta", float, "Final KL weight."),
    ("--max-length", "max_length", int, "Reject molecules with more SELFIES tokens than this."),
    ("--smiles-column", "smiles_column", str, "CSV column holding SMILES (found by name when omitted)."),
    ("--seed", "seed", int, "Random seed (split, batches, sampling)."),
    ("--device", "device", str, "auto (CUDA when available), cpu or cuda[:i]."),
]


def _with_options(f):
    for flag, key, typ, help_ in reversed(_OPTIONS):
        f = click.option(flag, key, type=typ, default=None, help=help_)(f)
    return f


@click.command()
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--properties",
    "-p",
    default=None,
    help=f"Comma-separated conditioning properties, e.g. logp,qed,sa; any of {', '.join(PROPERTIES)} "
    "(`molvae properties` gives definitions and units).",
)
@click.option("--out", "-o", "out", required=True, type=click.Path(file_okay=False), help="Run folder, e.g. runs/NAME.")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), help="TOML file of settings.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run in --out from its last checkpoint (or start it from its config.toml when it "
    "never reached one). Options may change only epochs, max-minutes and device.",
)
@click.option(
    "--init",
    "init",
    default=None,
    metavar="MODEL",
    help="Fine-tune: start from a trained model ('pretrained', a .ckpt file or a run folder), keeping its "
    "architecture, scaling and vocabulary (grown by new SELFIES symbols), with fine-tuning defaults "
    "(lower lr, early stopping); --properties defaults to its own.",
)
@_with_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@handle_errors
def train(
    data: str,
    properties: str | None,
    out: str,
    config_path: str | None,
    resume: bool,
    init: str | None,
    quiet: bool,
    **opts,
) -> None:
    """Train on DATA (.smi, .csv, .tsv or .sdf, optionally .gz).

    Settings come from the defaults, then --config, then options. The run folder gets
    best.ckpt, last.ckpt, config.toml, history.csv, curves.png and rejects.csv.

    On several GPUs or processes, launch it with torchrun (--batch-size is the global batch):
    torchrun --nproc_per_node 4 -m molvae_cli train DATA --out runs/NAME ...

    \b
    Example:
      molvae train data/moses/train_20k.csv.gz --properties logp,qed,sa --out runs/demo --max-minutes 10
    """
    from molvae.train.config import TrainConfig, load_toml
    from molvae.train.distributed import is_main_process
    from molvae.train.loop import train as run_training
    from molvae.train.runs import TrainingInterrupted

    say = echo if is_main_process() else (lambda msg: None)  # under torchrun, rank 0 speaks for the run

    settings = load_toml(config_path) if config_path else {}
    if init is not None:
        settings["init"] = init
    settings.update({k: v for k, v in opts.items() if v is not None})
    if settings.get("init") and not resume:
        from molvae.train.finetune import with_finetune_defaults

        settings = with_finetune_defaults(settings)
    if properties is not None:
        settings["properties"] = properties
    elif settings.get("init") and "properties" not in settings:
        from molvae.train.finetune import base_properties

        settings["properties"] = base_properties(settings["init"])
    try:
        if resume:  # every setting given must apply: the library refuses those a run cannot change
            best = run_training(data, out, resume=True, progress=not quiet, overrides=settings)
        else:
            cfg = TrainConfig.from_dict(settings)
            say(f"training on {data} with properties {', '.join(cfg.properties)} -> {out}")
            best = run_training(data, out, cfg, progress=not quiet)
    except TrainingInterrupted as exc:
        say(str(exc))
        sys.exit(exc.exit_code)
    say(f"done: best model {best}")
