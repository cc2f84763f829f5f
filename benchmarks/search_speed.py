"""The search's own time per objective call (the objective excluded), as ``molvae optimize`` prints it.

Runs :func:`molvae.optimize.run.run_search` (what ``model.optimize`` and ``molvae optimize`` run)
with a cheap objective, so that nearly all the time is the search's own: decoding, SELFIES and
RDKit work, the surrogate, choosing. For each seed it prints the search's own wall time per call
(``OptimizationResult.search_ms_per_call``), its CPU time per call (this process, all threads;
steadier than wall time on a loaded machine), the load average before and after, and a digest of
the molecules scored, in order: two versions of the code that print the same digest made the
same calls (a pure speed-up must keep it).

    python benchmarks/search_speed.py [--objective qed] [--budget 3000] [--budget-counts distinct]
                                      [--seeds 1] [--method ga] [--threads 1] [--profile FILE]

``--threads`` sets torch's threads (1, as ``pmo.py`` and ``optimize_vs_ga.py`` run; 0 leaves
torch's default, as the CLI does). ``--profile FILE`` writes cProfile statistics of the first
seed's search and prints the 25 most expensive functions (by their own time, and cumulative).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP; see cli/main.py
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the surrogate's linear algebra: one thread

import argparse  # noqa: E402
import cProfile  # noqa: E402
import hashlib  # noqa: E402
import pstats  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine  # noqa: E402


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--objective", default="qed", help="a property, or module:function (default qed)")
    ap.add_argument("--budget", type=int, default=3000)
    ap.add_argument("--budget-counts", default="distinct", choices=("distinct", "decoded"))
    ap.add_argument("--seeds", type=int, default=1, help="seeds 0, 1, ... (default 1)")
    ap.add_argument("--method", default="ga")
    ap.add_argument("--model", default=None, help="a checkpoint (default: the shipped model)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    ap.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"), help="decoder precision")
    ap.add_argument("--profile", default=None, help="write cProfile statistics of the first seed here")
    args = ap.parse_args()

    import torch

    from molvae import MolVAE
    from molvae.optimize.config import search_settings
    from molvae.optimize.objectives import as_objective
    from molvae.optimize.run import run_search

    if args.threads:
        torch.set_num_threads(args.threads)
    kw = {"device": "cpu", "precision": args.precision}
    model = MolVAE.load(args.model, **kw) if args.model else MolVAE.pretrained(**kw)
    objective = as_objective(args.objective)
    print(machine())
    print(
        f"search {args.method}, objective {args.objective}, budget {args.budget} ({args.budget_counts}), "
        f"torch threads {torch.get_num_threads()}"
    )
    for seed in range(args.seeds):
        settings = search_settings(
            dict(budget=args.budget, budget_counts=args.budget_counts, method=args.method, seed=seed)
        )
        before, cpu0 = load(), time.process_time()
        prof = cProfile.Profile() if args.profile and seed == 0 else None
        if prof is not None:
            prof.enable()
        oracle = run_search(model.codec, objective, settings)
        if prof is not None:
            prof.disable()
        cpu = time.process_time() - cpu0
        res = oracle.result(top=10)
        calls = max(1, res.n_scored)
        own_cpu = 1000 * max(0.0, cpu - res.objective_seconds) / calls
        digest = hashlib.sha256("\n".join(oracle.scorer.cache).encode()).hexdigest()[:16]
        best = res.candidates[0].score if res.candidates else float("nan")
        print(
            f"seed {seed}: {res.n_scored} calls, {len(oracle.scorer.cache)} distinct, best {best:.4f}; "
            f"search's own time {res.search_ms_per_call:.1f} ms per call (wall; {res.seconds:.0f} s in all, "
            f"objective {res.objective_seconds:.1f} s), {own_cpu:.1f} ms CPU per call; "
            f"load {before} -> {load()}; molecules digest {digest}"
        )
        if prof is not None:
            prof.dump_stats(args.profile)
            stats = pstats.Stats(prof)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
