"""Helpers shared by the optimisation benchmarks: the model to use and how to print results."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP; see cli/main.py

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from _common import machine  # noqa: E402,F401  (the scripts import it from here)


def add_common_args(ap: argparse.ArgumentParser, budget: int, method: str = "cma") -> None:
    ap.add_argument(
        "--model",
        default=None,
        help="checkpoint or run folder (default: the shipped pretrained model, when there is one)",
    )
    ap.add_argument("--budget", type=int, default=budget, help="molecules decoded (per seed where there are seeds)")
    ap.add_argument("--method", default=method, help=f"ga, cma, gradient or gradient+cma (default {method})")
    ap.add_argument("--seed", type=int, default=0, help="random seed")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--progress", action="store_true", help="show a progress bar")
    ap.add_argument(
        "--guards",
        action="store_true",
        help="apply molvae's drug-likeness guards (off here: the published figures compared are unguarded)",
    )


def load_model(args: argparse.Namespace):
    """The model named by --model, else the shipped one (MolVAE.pretrained)."""
    import torch

    from molvae import MolVAE

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model:
        return MolVAE.load(args.model, device=args.device), args.model
    return MolVAE.pretrained(device=args.device), "the shipped pretrained model"


def describe(model, name: str) -> str:
    return f"model: {name} ({model!r})"


def print_top(result, k: int, extra: tuple[str, ...] = ()) -> None:
    for i, c in enumerate(result.candidates[:k], start=1):
        more = "".join(f", {e} {c.properties[e]:.4g}" for e in extra)
        print(f"  {i}. {c.score:.4f}  {c.smiles}  (step {c.step}, {c.method}{more}, novel {c.novel})")
