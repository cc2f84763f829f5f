"""Shared option parsing and error handling for the molvae commands."""

from __future__ import annotations

import functools
import logging
import math
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

import click

from molvae.errors import BadInputError, MissingFileError, MolVAEError


def parse_conditions(values: tuple[str, ...]) -> dict[str, float] | None:
    """``("logp=2.5", "qed=0.8")`` → ``{"logp": 2.5, "qed": 0.8}``; usage error when malformed or when
    a property is given twice (which value was meant cannot be guessed)."""
    out: dict[str, float] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r}: write NAME=VALUE, e.g. logp=2.5", param_hint="--condition")
        try:
            number = float(value)
        except ValueError:
            raise click.BadParameter(f"{item!r}: {value!r} is not a number", param_hint="--condition") from None
        if not math.isfinite(number):
            raise click.BadParameter(f"{item!r}: the value must be a finite number", param_hint="--condition")
        key = name.strip().lower()
        if key in out:
            raise click.BadParameter(
                f"{key} is given twice ({key}={out[key]:g} and {item}): give each property once",
                param_hint="--condition",
            )
        out[key] = number
    return out or None


def model_option(f: Callable) -> Callable:
    return click.option(
        "-m",
        "--model",
        "model_path",
        default=None,
        metavar="PATH",
        help="Trained model: a .ckpt file or a run folder (its best.ckpt is used). "
        "Default (or 'pretrained'): the model that ships with molvae (MOSES; logp, qed, sa, mw, tpsa).",
    )(f)


def condition_option(f: Callable) -> Callable:
    return click.option(
        "--condition",
        "-c",
        "conditions",
        multiple=True,
        metavar="NAME=VALUE",
        help="Requested property value, e.g. --condition logp=2.5; repeat for several. Others are left free. "
        "NAME is one the model is conditioned on (the shipped model: logp, qed, sa, mw, tpsa; "
        "`molvae properties` lists them all with units).",
    )(f)


#: a decoder temperature: 0 = greedy, negative values are a usage error
TEMPERATURE = click.FloatRange(min=0.0)


def device_option(f: Callable) -> Callable:
    """``--device`` and ``--precision``: the command takes both as ``device`` and ``precision``."""
    f = click.option(
        "--precision",
        type=click.Choice(["auto", "fp32", "bf16"]),  # molvae.runtime.device.PRECISIONS (torch-free here)
        default="auto",
        show_default=True,
        help="Precision of the decoder's matrix products: auto = bf16 on a GPU or on a CPU with native bf16 "
        "instructions (2-3x faster), else fp32. The same seed gives the same molecules at the same precision.",
    )(f)
    return click.option(
        "--device",
        default="auto",
        show_default=True,
        help="Where the model runs: auto (CUDA when available), cpu or cuda[:i].",
    )(f)


def smiles_column_option(f: Callable) -> Callable:
    return click.option(
        "--smiles-column",
        default=None,
        metavar="NAME",
        help="CSV/TSV column holding the SMILES. Default: the column named smiles, canonical_smiles, smi, mol, "
        "molecule or structure (any case); there is no first-column guess.",
    )(f)


def load_model(path: str | None, device: str = "auto", precision: str = "auto"):
    """The model at ``path``, or the shipped pretrained model when ``path`` is None."""
    from molvae import MolVAE

    if path is None or path == "pretrained":
        return MolVAE.pretrained(device=device, precision=precision)
    if not os.path.exists(path):
        raise MissingFileError(f"no such model: {path} (a .ckpt file, a run folder, or 'pretrained')")
    return MolVAE.load(path, device=device, precision=precision)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


def handle_errors(f: Callable) -> Callable:
    """Turn molvae's typed errors into one line on stderr: exit 2 for usage, 1 for failures."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        verbose = click.get_current_context().find_root().params.get("verbose", False)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.simplefilter("ignore", ResourceWarning)  # library internals, not the user's concern
                warnings.showwarning = _show_warning
                return f(*args, **kwargs)
        except BadInputError as exc:
            if verbose:
                raise
            raise click.UsageError(str(exc)) from None
        except MolVAEError as exc:
            if verbose:
                raise
            raise click.ClickException(str(exc)) from None

    return wrapper


def setup_output(verbose: bool) -> None:
    """Logging to stderr (INFO, or DEBUG with -v), RDKit quiet unless -v."""
    from molvae.chem.molecules import set_rdkit_verbose

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s: %(message)s" if verbose else "%(message)s",
        stream=sys.stderr,
        force=True,
    )
    for noisy in ("matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    set_rdkit_verbose(verbose)


def require_usable(n_usable: int, what: str) -> None:
    """The README's rule for every command: exit 1 (after writing what there is) when no molecule is usable."""
    if n_usable == 0:
        raise click.ClickException(f"no usable molecule: {what}")


def echo(msg: str) -> None:
    """Human-readable status on stderr, so stdout stays clean for data."""
    click.echo(msg, err=True)


def flatten_option(f: Callable) -> Callable:
    return click.option(
        "--flatten/--no-flatten",
        default=True,
        show_default=True,
        help="A molecule whose stereo or charges the model has no tokens for (the shipped model has neither) "
        "is used without its stereo and with its charges neutralised where RDKit can, with a warning; "
        "--no-flatten refuses it instead.",
    )(f)
