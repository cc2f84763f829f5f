"""Time the MOSES metrics of 30,000 molecules against the MOSES test set, cold and warm cache.

    python benchmarks/evaluate_speed.py [--n 30000] [--seed 0] [--n-jobs N] [--skip-cold]

"Cold" runs with an empty cache in a temporary folder, so it includes computing the test-set
statistics (176k molecules); "warm" repeats the evaluation reading them from that cache. The
statistics are then copied into the regular cache (``$MOLVAE_CACHE_DIR/reference`` or
``~/.cache/molvae/reference``) so later evaluations start warm. ``--skip-cold`` times only
the warm case against the regular cache. The "generated" molecules are random MOSES training
molecules: all valid and all unique, the most work per molecule. The target is a warm
evaluation under five minutes on two cores.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from _common import machine, sample_train  # noqa: E402

from molvae.evaluate.metrics import cache_dir, default_reference_paths, evaluate_smiles  # noqa: E402


def timed(gen, reference, n_jobs, progress) -> tuple[float, dict]:
    t = time.perf_counter()
    r = evaluate_smiles(gen, reference=reference, n_jobs=n_jobs, progress=progress)
    return time.perf_counter() - t, r


def report(label: str, seconds: float, r: dict) -> None:
    phases = ", ".join(f"{k} {v:.1f}" for k, v in r["timings"].items())
    print(f"{label}: {seconds:.1f} s  (phases in s: {phases})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=30000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=None, help="worker processes (default: all cores)")
    ap.add_argument("--skip-cold", action="store_true", help="time only the warm-cache case")
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    print(machine())
    test = default_reference_paths().test
    gen = sample_train(args.n, args.seed)
    print(f"{len(gen)} random MOSES train molecules (seed {args.seed}) vs {test.name}\n")

    regular = cache_dir()
    if not args.skip_cold:
        tmp = Path(tempfile.mkdtemp(prefix="molvae-speed-"))
        old = os.environ.get("MOLVAE_CACHE_DIR")
        os.environ["MOLVAE_CACHE_DIR"] = str(tmp)
        try:
            seconds, r = timed(gen, test, args.n_jobs, args.progress)
            report("cold cache (computes the test-set statistics)", seconds, r)
            seconds, r = timed(gen, test, args.n_jobs, args.progress)
            report("warm cache", seconds, r)
            regular.mkdir(parents=True, exist_ok=True)
            for f in (tmp / "reference").glob("*.npz"):
                if not (regular / f.name).exists():
                    shutil.copy2(f, regular / f.name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is None:
                os.environ.pop("MOLVAE_CACHE_DIR", None)
            else:
                os.environ["MOLVAE_CACHE_DIR"] = old
    else:
        seconds, r = timed(gen, test, args.n_jobs, args.progress)
        report("warm cache", seconds, r)
    ok = seconds < 300
    print(f"\nwarm evaluation of {len(gen)} molecules: {seconds:.1f} s ({'under' if ok else 'OVER'} the 300 s target)")
    print(f"FCD/Test {r['FCD/Test']:.4f}, SNN/Test {r['SNN/Test']:.4f}, IntDiv {r['IntDiv']:.4f}")
    print(machine().splitlines()[0].split("; ")[-1] + " (after)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
