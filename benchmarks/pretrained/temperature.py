"""Prior-sample quality of a model at several decoder temperatures: how the default was chosen.

    python benchmarks/pretrained/temperature.py [--model pretrained] [--n 10000] [--temperatures 1,0.5,0.2,0]

For each temperature, ``n`` prior samples (seed 0, no condition) are scored against the MOSES test
and scaffold-test sets with :func:`molvae.evaluate.metrics.evaluate_smiles`, novelty against the model's
training molecules; one line per temperature. The shipped model's checkpoint names the
temperature it samples at by default (``build.py package --temperature``); the model card gives
the sweep that chose it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # _common

from _common import machine  # noqa: E402

COLUMNS = ["valid", "unique@10000", "Novelty", "IntDiv", "Filters", "FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="pretrained", help="'pretrained', a .ckpt or a run folder")
    ap.add_argument("--n", type=int, default=10000, help="prior samples per temperature")
    ap.add_argument("--temperatures", default="1,0.5,0.2,0", help="comma-separated decoder temperatures")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes for the RDKit work")
    args = ap.parse_args()
    temperatures = [float(t) for t in args.temperatures.split(",")]
    if args.n <= 0 or any(not 0 <= t < float("inf") for t in temperatures):
        raise SystemExit("--n must be positive and temperatures non-negative numbers")

    from molvae import MolVAE
    from molvae.evaluate.metrics import default_reference_paths, evaluate_smiles

    model = MolVAE.pretrained(device="cpu") if args.model == "pretrained" else MolVAE.load(args.model, device="cpu")
    print(machine())
    print(f"model {args.model} (default temperature {model.default_temperature:g}); {args.n} prior samples, seed 0")
    print(f"{'T':>5} " + " ".join(f"{c:>12}" for c in COLUMNS) + "  seconds")
    scaffolds = default_reference_paths().test_scaffolds
    for t in temperatures:
        t0 = time.time()
        samples = ["" if s is None else s for s in model.sample(args.n, temperature=t, seed=0, n_jobs=args.jobs)]
        m = evaluate_smiles(samples, scaffold_reference=scaffolds, n_jobs=args.jobs)
        valid = sorted({s for s in samples if s})
        m["Novelty"] = float(sum(model.is_novel(valid)) / len(valid)) if valid else None
        cells = " ".join("n/a".rjust(12) if m.get(c) is None else f"{m[c]:>12.4f}" for c in COLUMNS)
        print(f"{t:>5g} {cells}  {time.time() - t0:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
