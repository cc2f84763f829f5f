"""molvae's latent-space optimisation against mol-ga's graph GA at equal numbers of scoring calls.

Both optimisers maximise the same five multi-property objectives (``mpo_objectives.py``: drug
similarity, property windows, SMARTS requirements). A call is a distinct molecule the optimiser
produced: both cache scores, so a duplicate is never a second call. molvae runs its search with
``budget_counts="distinct"`` (``molvae optimize --objective mpo_objectives:NAME --budget B
--budget-counts distinct``) and its drug-likeness guards on: a molecule a guard rejects counts
as a call but is not a result (it is not even scored). mol-ga runs ``default_ga`` with its
default settings and ``offspring_size=100`` (its README's example), started from the same 1,000
random MOSES training molecules (which count as calls).

For each objective, optimiser and budget it prints top-1, mean top-10 and mean top-100 of the
molecules scored within the budget, ``mean`` (the mean of those three), ``auc`` (the mean top-10
over every 100 calls, as a fraction of the budget: PMO's AUC-top10), ``div`` (1 − mean pairwise
Tanimoto of the top 100) and ``guards`` (the share of the top 100 that passes molvae's guards).
The smaller budgets are the first calls of the largest run (the GA's result after N calls does
not depend on when it will stop; nor does molvae's, whose first generation is the same size for
every budget of 4,000 calls and more); budgets below that are run on their own.

    python benchmarks/optimize_vs_ga.py [--model PATH] [--budgets 1000,5000,20000] [--objectives all]
                                        [--methods ga] [--jobs 2] [--seed 0]

Needs ``pip install mol-ga`` (``pip install -e .[bench]``); ``--no-mol-ga`` runs molvae alone,
``--methods none`` mol-ga alone.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP; see cli/main.py
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the surrogate's Cholesky: one thread per run, runs in parallel

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mpo_objectives  # noqa: E402
from _common import machine, sample_train  # noqa: E402

GA_OFFSPRING = 100
AUC_EVERY = 100


class _Spent(Exception):
    """The GA asked for more calls than the budget."""


class Recorder:
    """Wraps an objective: scores each new molecule once, in order, up to ``budget`` calls."""

    def __init__(self, name: str, budget: int):
        self.fn = mpo_objectives.OBJECTIVES[name]
        self.budget = budget
        self.calls: list[tuple[str, float]] = []
        self.seen: dict[str, float] = {}

    def __call__(self, smiles: list[str], stop: bool = False) -> list[float]:
        out = []
        for s in smiles:
            if s not in self.seen:
                if len(self.calls) >= self.budget:
                    if stop:
                        raise _Spent
                    raise RuntimeError(f"more than {self.budget} calls")  # molvae must stop itself
                v = self.fn([s])[0]
                self.seen[s] = v
                self.calls.append((s, v))
            out.append(self.seen[s])
        return out


def run_mol_ga(name: str, budget: int, start: list[str], seed: int) -> Recorder:
    import random

    from mol_ga import default_ga

    rec = Recorder(name, budget)
    try:
        default_ga(
            starting_population_smiles=start,
            scoring_function=lambda s: rec(s, stop=True),
            max_generations=10**9,
            offspring_size=GA_OFFSPRING,
            rng=random.Random(seed),
        )
    except _Spent:
        pass
    return rec


def run_molvae(name: str, budget: int, model_path: str | None, method: str, seed: int) -> list[tuple[str, float]]:
    """Every distinct molecule molvae produced, in order, with its score (-1 for one a guard rejected)."""
    import torch

    from molvae import MolVAE
    from molvae.optimize.config import search_settings
    from molvae.optimize.objectives import as_objective
    from molvae.optimize.run import run_search

    torch.set_num_threads(1)
    model = MolVAE.load(model_path, device="cpu") if model_path else MolVAE.pretrained(device="cpu")
    rec = Recorder(name, budget)
    module = types.ModuleType("_recorded_objective")
    module.score = rec  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    # what model.optimize does, keeping the search to read the order in which molecules were found
    settings = search_settings(dict(budget=budget, budget_counts="distinct", method=method, seed=seed))
    search = run_search(model.codec, as_objective("_recorded_objective:score"), settings)
    calls = [(s, ev.score if ev.scored else -1.0) for s, ev in search.scorer.cache.items()]
    if search.scorer.n_failures or len(rec.calls) != search.scorer.n_scored or len(calls) != budget:
        raise RuntimeError(
            f"molvae's counts disagree: {len(calls)} distinct, {search.scorer.n_scored} scored, "
            f"{len(rec.calls)} recorded, {search.scorer.n_failures} failures"
        )
    return calls


def task(job: tuple) -> tuple[tuple, list[tuple[str, float]], float]:
    kind, name, budget, extra = job
    t0 = time.time()
    if kind == "mol-ga":
        calls = run_mol_ga(name, budget, extra["start"], extra["seed"]).calls
    else:
        calls = run_molvae(name, budget, extra["model"], kind.split(":")[1], extra["seed"])
    return (kind, name, budget), calls, time.time() - t0


# ------------------------------------------------------------------ metrics
def _top(scores: list[float], k: int) -> float:
    best = sorted((s for s in scores if s >= 0), reverse=True)[:k]
    return sum(best) / k if best else 0.0  # missing molecules count as 0


def metrics(calls: list[tuple[str, float]], budget: int) -> dict[str, float]:
    import numpy as np
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    from molvae.chem.guards import Guards

    calls = calls[:budget]
    scores = [v for _, v in calls]  # -1: a molecule molvae's guards rejected (never in a top k)
    marks = list(range(AUC_EVERY, budget + 1, AUC_EVERY))
    auc = float(np.mean([_top(scores[:m], 10) for m in marks])) if marks else _top(scores, 10)
    best = sorted((c for c in calls if c[1] >= 0), key=lambda c: -c[1])[:100]
    mols = [Chem.MolFromSmiles(s) for s, _ in best]
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [gen.GetFingerprint(m) for m in mols]
    sims = [s for i, fp in enumerate(fps) for s in DataStructs.BulkTanimotoSimilarity(fp, fps[i + 1 :])]
    guards = Guards()
    out = {"calls": len(calls), "top1": _top(scores, 1), "top10": _top(scores, 10), "top100": _top(scores, 100)}
    out["mean"] = (out["top1"] + out["top10"] + out["top100"]) / 3
    out["auc"] = auc
    out["div"] = 1.0 - float(np.mean(sims)) if sims else 0.0
    out["guards"] = sum(guards.check(m) == "" for m in mols) / max(1, len(mols))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="checkpoint or run folder (default: the shipped model)")
    ap.add_argument("--budgets", default="1000,5000,20000", help="scoring-call budgets, comma-separated")
    ap.add_argument("--objectives", default="all", help=f"comma-separated, of {', '.join(mpo_objectives.OBJECTIVES)}")
    ap.add_argument(
        "--methods",
        default="ga",
        help="molvae search methods to run (comma-separated: ga, cma, ...; none: mol-ga only)",
    )
    ap.add_argument("--no-mol-ga", action="store_true", help="run molvae only")
    ap.add_argument("--start", type=int, default=1000, help="random MOSES training molecules the GA starts from")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=2, help="runs in parallel (processes)")
    args = ap.parse_args()

    from molvae.optimize.engines.ga import initial_size

    budgets = sorted(int(b) for b in args.budgets.split(","))
    names = list(mpo_objectives.OBJECTIVES) if args.objectives == "all" else args.objectives.split(",")
    unknown = set(names) - set(mpo_objectives.OBJECTIVES)
    if unknown:
        raise SystemExit(f"unknown objective(s) {', '.join(sorted(unknown))}")
    methods = [] if args.methods == "none" else args.methods.split(",")
    kinds = [f"molvae:{m}" for m in methods] + ([] if args.no_mol_ga else ["mol-ga"])
    if not kinds:
        raise SystemExit("nothing to run: --methods none with --no-mol-ga")
    if not args.no_mol_ga:
        import mol_ga

        ga_version = getattr(mol_ga, "__version__", "?")
    top = budgets[-1]
    extra = {"start": sample_train(args.start, args.seed), "seed": args.seed, "model": args.model}
    jobs = []
    source: dict[tuple[str, str, int], tuple[str, str, int]] = {}  # (kind, objective, budget) -> run that holds it
    for name in names:
        for kind in kinds:
            jobs.append((kind, name, top, extra))
            for b in budgets:
                same = kind == "mol-ga" or initial_size(b) == initial_size(top)
                source[(kind, name, b)] = (kind, name, top if same else b)
                if not same:
                    jobs.append((kind, name, b, extra))

    print(machine())
    model_name = args.model or "the shipped model molvae/pretrained/moses-cvae.ckpt"
    print(
        f"model: {model_name}; molvae methods {args.methods}, guards on; "
        + (
            ""
            if args.no_mol_ga
            else f"mol-ga {ga_version} default_ga, offspring_size {GA_OFFSPRING}, "
            f"{args.start} random MOSES training molecules to start; "
        )
        + f"seed {args.seed}; {len(jobs)} runs, {args.jobs} at a time",
        flush=True,
    )
    t0 = time.time()
    runs: dict[tuple[str, str, int], list[tuple[str, float]]] = {}
    seconds: dict[tuple[str, str, int], float] = {}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for key, calls, sec in pool.map(task, sorted(jobs, key=lambda j: -j[2])):
            runs[key], seconds[key] = calls, sec
            print(f"  done {key[0]} {key[1]} {key[2]} calls in {sec:.0f} s", flush=True)

    cols = ["top1", "top10", "top100", "mean", "auc", "div", "guards"]
    print(f"\n{'objective':<22} {'optimiser':<10} {'calls':>6} " + " ".join(f"{c:>6}" for c in cols))
    summary: dict[tuple[str, int], list[float]] = {}
    for name in names:
        for b in budgets:
            for kind in kinds:
                m = metrics(runs[source[(kind, name, b)]], b)
                summary.setdefault((kind, b), []).append(m["mean"])
                label = kind.replace("molvae:", "molvae-")
                print(f"{name:<22} {label:<10} {m['calls']:>6} " + " ".join(f"{m[c]:>6.3f}" for c in cols))
    print("\nmean over the objectives of 'mean' (top-1, top-10, top-100):")
    for b in budgets:
        line = ", ".join(
            f"{k.replace('molvae:', 'molvae-')} {sum(v) / len(v):.3f}" for (k, bb), v in summary.items() if bb == b
        )
        print(f"  {b:>6} calls: {line}")
    if not args.no_mol_ga:
        for kind in kinds[:-1]:
            verdict = [
                f"{b}: {'yes' if sum(summary[(kind, b)]) >= sum(summary[('mol-ga', b)]) else 'no'}" for b in budgets
            ]
            print(
                f"{kind.replace('molvae:', 'molvae-')} at least equal to mol-ga on the mean score? {'; '.join(verdict)}"
            )
    print(f"total time {time.time() - t0:.0f} s; load average now {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
