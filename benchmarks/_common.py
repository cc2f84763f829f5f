"""Helpers shared by the benchmark scripts: machine description, MOSES training samples."""

from __future__ import annotations

import gzip
import os
import platform
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from molvae.evaluate.metrics import default_reference_paths  # noqa: E402


def cpu_name() -> str:
    """The processor's model name (Linux ``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine() or "?"


def machine() -> str:
    """One paragraph describing the machine and the library versions."""
    import numpy
    import rdkit
    import torch

    from molvae.runtime.parallel import available_cores

    model = cpu_name()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"machine: {available_cores()} usable cores (os.cpu_count {os.cpu_count()}), {model}; "
        f"load average (1/5/15 min) {load}\n"
        f"python {platform.python_version()}, torch {torch.__version__}, rdkit {rdkit.__version__}, "
        f"numpy {numpy.__version__}"
    )


def sample_train(n: int, seed: int) -> list[str]:
    """``n`` random SMILES of the MOSES training set (seeded)."""
    with gzip.open(default_reference_paths().train, "rt") as fh:
        train = fh.read().split()[1:]
    if n > len(train):
        raise SystemExit(f"--n {n} is larger than the training set ({len(train)})")
    return random.Random(seed).sample(train, n)


def fcd_test(smiles: list[str], jobs: int) -> float:
    """FCD of ``smiles`` (valid ones) to the MOSES test set, ChemNet on the CPU with ``jobs`` processes."""
    from molvae.evaluate.metrics import chemnet, reference_stats

    ref = reference_stats(None)
    acts = chemnet.activations(smiles, "cpu", False, jobs)
    return chemnet.frechet_distance(*chemnet.statistics(acts), ref.fcd_mu, ref.fcd_sigma)
