"""Build the MOSES reference statistics that ship in the package (molvae/evaluate/metrics/data/).

    python benchmarks/pretrained/reference_stats.py [--set test|test_scaffolds] [--cached] [--jobs N] [--device cpu]

Computes :func:`molvae.evaluate.metrics.reference.compute_reference_stats` of ``data/moses/test.csv.gz``
(``--set test``, the default) or ``data/moses/test_scaffolds.csv.gz`` (``--set test_scaffolds``),
about 20 minutes each on two free CPU cores (RDKit, then ChemNet), and writes them in the compact,
exact form of :mod:`molvae.evaluate.metrics.packaged` to the file ``packaged.SHIPPED`` names
(``moses_test_stats.npz``, ``moses_test_scaffolds_stats.npz``); for the test set also the first
10,000 test SMILES (the default held-out set of ``molvae evaluate --model``) to
``molvae/evaluate/metrics/data/moses_test_heldout.smi.gz``. ``--cached`` takes the statistics from
molvae's reference cache when an ``evaluate`` against the same file has already computed them there
(the same function computed them; nothing is recomputed). Run it again only when the statistics'
code or RDKit's output changes; tests/evaluate/metrics/test_packaged.py checks the shipped files
against the molecules.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

HELDOUT_N = 10_000
SETS = {"test": "moses-test", "test_scaffolds": "moses-test-scaffolds"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=sorted(SETS), default="test", help="which MOSES reference set")
    ap.add_argument("--cached", action="store_true", help="use statistics an evaluate run cached, if there are any")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    ap.add_argument("--device", default="cpu", help="torch device for ChemNet")
    args = ap.parse_args()

    from molvae.evaluate.metrics import packaged
    from molvae.evaluate.metrics.reference import cache_dir, compute_reference_stats, reference_stats
    from molvae.io.readers import file_hash, read_smiles

    key = SETS[args.set]
    target, relative = packaged.SHIPPED[key]
    source = ROOT / relative
    smiles = read_smiles(source)
    t0 = time.perf_counter()
    if args.cached:  # from the cache when an evaluate wrote it there; computed (and cached) otherwise
        print(f"statistics of {source} from the cache in {cache_dir()} if they are there")
        stats = reference_stats(str(source), n_jobs=args.jobs, progress=True, device=args.device)
    else:
        stats = compute_reference_stats(smiles, key=key, n_jobs=args.jobs, progress=True, device=args.device)
    if stats.n_molecules + stats.n_invalid != len(smiles):
        raise SystemExit(f"statistics of {stats.n_molecules + stats.n_invalid} molecules for {len(smiles)} in {source}")
    packaged.save_compact(target, dataclasses.replace(stats, key=key), file_hash(source))
    size = target.stat().st_size / 2**20
    print(f"{len(smiles):,} molecules in {time.perf_counter() - t0:.0f} s -> {target} ({size:.1f} MB)")
    if args.set == "test":
        with gzip.open(packaged.MOSES_HELDOUT, "wt", compresslevel=9) as fh:
            fh.write("smiles\n" + "\n".join(smiles[:HELDOUT_N]) + "\n")
        print(f"first {HELDOUT_N:,} test SMILES -> {packaged.MOSES_HELDOUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
