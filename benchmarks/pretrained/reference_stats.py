"""Build the MOSES test-set statistics that ship in the package (molvae/evaluate/metrics/data/).

    python benchmarks/pretrained/reference_stats.py [--jobs N] [--device cpu]

Computes :func:`molvae.evaluate.metrics.reference.compute_reference_stats` of ``data/moses/test.csv.gz``
(about 20 minutes on two free CPU cores; ChemNet dominates), writes them in the compact, exact
form of :mod:`molvae.evaluate.metrics.packaged` to ``molvae/evaluate/metrics/data/moses_test_stats.npz``, and the
first 10,000 test SMILES (the default held-out set of ``molvae evaluate --model``) to
``molvae/evaluate/metrics/data/moses_test_heldout.smi.gz``. Run it again only when the statistics' code
or RDKit's output changes; tests/evaluate/metrics/test_packaged.py checks the shipped file against the
molecules.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

HELDOUT_N = 10_000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    ap.add_argument("--device", default="cpu", help="torch device for ChemNet")
    args = ap.parse_args()

    from molvae.evaluate.metrics import packaged
    from molvae.evaluate.metrics.reference import compute_reference_stats
    from molvae.io.readers import file_hash, read_smiles

    source = ROOT / "data" / "moses" / "test.csv.gz"
    smiles = read_smiles(source)
    t0 = time.perf_counter()
    stats = compute_reference_stats(smiles, key="moses-test", n_jobs=args.jobs, progress=True, device=args.device)
    packaged.save_compact(packaged.MOSES_TEST_STATS, stats, file_hash(source))
    with gzip.open(packaged.MOSES_HELDOUT, "wt", compresslevel=9) as fh:
        fh.write("smiles\n" + "\n".join(smiles[:HELDOUT_N]) + "\n")
    size = packaged.MOSES_TEST_STATS.stat().st_size / 2**20
    print(
        f"{len(smiles):,} molecules in {time.perf_counter() - t0:.0f} s -> {packaged.MOSES_TEST_STATS} ({size:.1f} MB), "
        f"{packaged.MOSES_HELDOUT}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
