"""How well the ga search's surrogate ranks molecules it has not seen, against a nearest-neighbour average.

The ``ga`` search decodes several children per scoring call and scores those its surrogate
(:class:`molvae.optimize.surrogates.gp.TanimotoGP`) predicts best. This fits the surrogate on the scores of
``--train`` random MOSES training molecules for each objective of ``mpo_objectives.py`` and
prints, on ``--test`` others: the Spearman correlation of prediction and score, and how many of
the best 50 are among the 200 predicted best. The comparison is the similarity-weighted
10-nearest-neighbour average the search used before (weights similarity cubed).

    python benchmarks/surrogate.py [--train 2000] [--test 1000] [--seed 5]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mpo_objectives  # noqa: E402
from _common import machine, sample_train  # noqa: E402


def knn_predict(train_fps, scores: np.ndarray, fps, k: int = 10, power: float = 3.0) -> np.ndarray:
    from rdkit import DataStructs

    out = np.empty(len(fps))
    for i, fp in enumerate(fps):
        sims = np.asarray(DataStructs.BulkTanimotoSimilarity(fp, train_fps))
        near = np.argpartition(-sims, k - 1)[:k]
        w = sims[near] ** power + 1e-9
        out[i] = np.dot(w, scores[near]) / w.sum()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()

    from rdkit import Chem
    from scipy.stats import spearmanr

    from molvae.chem.molecules import morgan_fingerprint
    from molvae.optimize.surrogates.gp import TanimotoGP

    print(machine())
    smiles = sample_train(args.train + args.test, args.seed)
    fps = [morgan_fingerprint(Chem.MolFromSmiles(s)) for s in smiles]
    train, test = slice(0, args.train), slice(args.train, None)
    print(f"{args.train} training and {args.test} unseen random MOSES molecules (seed {args.seed})")
    print(f"{'objective':<22} {'surrogate':<6} {'spearman':>8} {'best 50 in top 200':>18} {'seconds':>8}")
    for name, fn in mpo_objectives.OBJECTIVES.items():
        y = np.asarray(fn(smiles), dtype=float)
        best = set(np.argsort(-y[test])[:50])
        t0 = time.perf_counter()
        gp = TanimotoGP().fit(fps[train], y[train]).predict(fps[test])
        t1 = time.perf_counter()
        knn = knn_predict(fps[train], y[train], fps[test])
        t2 = time.perf_counter()
        for label, pred, sec in (("gp", gp, t1 - t0), ("knn", knn, t2 - t1)):
            hits = len(best & set(np.argsort(-pred)[:200]))
            print(f"{name:<22} {label:<6} {spearmanr(pred, y[test])[0]:>8.3f} {hits:>18} {sec:>8.2f}")
    print(f"load average now {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
