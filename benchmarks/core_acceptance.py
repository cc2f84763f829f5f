"""Core acceptance: train for N minutes on 20,000 MOSES molecules, then measure what comes out.

The default data is data/moses/train_20k.csv.gz (20,000 random MOSES training molecules).

Prints validity and uniqueness of 2,000 prior samples, and the median measured logP of 500
samples at each requested logP (1, 2, 3, 4), which must rise monotonically. Exit code 1 when a
target is missed.

    python benchmarks/core_acceptance.py --minutes 10 --out runs/acceptance   # molvae defaults, as the README quick start
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP; see cli/main.py

import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument(
        "--data",
        default=str(ROOT / "data" / "moses" / "train_20k.csv.gz"),
        help="training file (default: the 20,000 random MOSES training molecules in data/)",
    )
    ap.add_argument("--out", default="runs/acceptance")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", default=None, help="TOML settings (default: molvae's defaults, as in the README)")
    ap.add_argument("--skip-train", action="store_true", help="measure an existing run in --out")
    args = ap.parse_args()

    from molvae import MolVAE
    from molvae.chem.properties import compute
    from molvae.train.config import TrainConfig, load_toml
    from molvae.train.loop import train

    out = Path(args.out)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"threads {torch.get_num_threads()}, cuda {torch.cuda.is_available()}"
    )
    if not args.skip_train:
        if out.exists():
            shutil.rmtree(out)
        data = args.data
        settings = load_toml(args.config) if args.config else {"properties": ["logp", "qed", "sa"]}
        settings.update(max_minutes=args.minutes, seed=args.seed)
        cfg = TrainConfig.from_dict(settings)
        t0 = time.time()
        train(data, out, cfg, progress=False)
        print(
            f"trained on {data} for {(time.time() - t0) / 60:.1f} min wall "
            f"(limit {args.minutes} min of training), config {args.config or 'defaults'}"
        )
        print((out / "history.csv").read_text().splitlines()[-1])

    model = MolVAE.load(out, device="cpu")
    t0 = time.time()
    samples = model.sample(2000, seed=1)
    valid = [s for s in samples if s is not None]
    validity = len(valid) / len(samples)
    uniqueness = len(set(valid)) / max(len(valid), 1)
    print(f"2000 prior samples: validity {validity:.4f}, uniqueness {uniqueness:.4f} ({time.time() - t0:.1f} s)")
    medians = []
    for target in (1.0, 2.0, 3.0, 4.0):
        got = [s for s in model.sample(500, condition={"logp": target}, seed=2) if s is not None]
        logp = [compute(s, ["logp"])["logp"] for s in got]
        med = float(np.median(logp))
        medians.append(med)
        print(
            f"logp={target:.0f}: {len(got)}/500 valid, median measured logP {med:.2f}, "
            f"MAE {np.mean(np.abs(np.array(logp) - target)):.2f}"
        )
    monotonic = all(b > a for a, b in zip(medians, medians[1:]))
    checks = {
        "all valid": validity == 1.0,
        "uniqueness >= 0.95": uniqueness >= 0.95,
        "logP medians rise monotonically": monotonic,
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
