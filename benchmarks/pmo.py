"""molvae's search and mol-ga on the PMO protocol (Gao et al. 2022, "Sample efficiency matters: a
benchmark for practical molecular optimization"), with the published figures beside them.

- Tasks: GuacaMol's goal-directed scoring functions, written with RDKit in ``pmo_oracles.py``
  (checked against GuacaMol 0.5.5 by ``tests/benchmarks/test_pmo_oracles.py``). ``--tasks dev``
  (the default) runs the 15 development tasks of issue 25; ``held-out`` the other five GuacaMol
  tasks of PMO (osimertinib, perindopril, amlodipine, ranolazine, zaleplon), which are kept for
  checking that tuning carries over; ``all`` both; or a comma-separated list. PMO's drd2, gsk3b
  and jnk3 are not included: their oracles are TDC's downloaded scikit-learn classifiers.
- Calls (``pmo_protocol.py``, as mol_opt counts them): distinct canonical molecules (RDKit
  canonical SMILES), duplicates answered from a cache, SMILES RDKit cannot parse scored 0 and
  not counted; every method stops at ``--budget`` calls (PMO: 10,000).
- Metric: AUC of the top-10 mean, logged every 100 calls, trapezoids from (0, 0), the last value
  carried to the budget when a method stops early, divided by the budget (PMO's ``top_auc``);
  top-1, top-10 and top-100 means at the end. Mean ± standard deviation (numpy's, ddof 0) over
  ``--seeds`` seeds (0, 1, ...) per task, and of the per-seed sums over the tasks.
- Methods, in one harness: ``molvae`` (the default search, ``ga`` unless ``--search``, guards
  on: what ``model.optimize(objective, budget=N, budget_counts="distinct", seed=s)`` runs, here
  through :func:`molvae.optimize.run.run_search` as ``optimize_vs_ga.py`` does), ``molvae-noguards``
  (the same with ``guards=False``, as the peers run) and ``mol-ga`` (``default_ga``,
  ``offspring_size`` 100, started from 1,000 random MOSES training molecules drawn with the
  seed, which count as calls; Python's hash seed is fixed, as mol-ga's order of work depends on
  it). molvae never sends a molecule it rejects (invalid, duplicate, or
  breaking a guard) to the oracle: such molecules are not calls. Its budget counts every
  distinct valid molecule it decoded, a few guarded ones included, so a guarded run may end a
  few calls short of the budget; its last value is then carried (it loses those calls).
- Printed beside them: the published AUC top-10 of Genetic GFN, Mol GA (tuned) and Graph GA
  at 10,000 calls (``pmo_reference.py`` says where each comes from). They used ZINC 250k and
  five seeds: comparable only at ``--budget 10000``.
- Also: the share of each method's top 100 that passes molvae's guards
  (:class:`molvae.chem.guards.Guards` defaults), the search's own time per call (wall time of
  the search minus the time inside the oracle wrapper, over the calls; molvae's from after its
  model is loaded), pictures of the best molecules for ``--draw`` tasks (default: the first
  three), and one plot per task of the top-10 mean against calls.

Output in ``--out`` (default ``runs/pmo/``, git-ignored): ``<task>.png`` (curves),
``top_<task>.png`` (pictures, first seed), ``curves.csv`` (per run: calls, top-1/10/100 every
100 calls), ``runs.csv`` (per run: calls, AUC, top-k, guards share, seconds, the guards the top 100 break) and
``calls/<task>.<method>.s<seed>.csv.gz`` (every call in order; ``--reuse`` reads these back
instead of running again a run made with the same settings, code and model: a digest of the
oracles, the call counting, molvae's source and the model file, so that a commit of documentation
keeps them; see :func:`code_digest`).

    python benchmarks/pmo.py [--tasks dev] [--budget 10000] [--seeds 3] [--methods molvae,molvae-noguards,mol-ga]
                             [--model PATH] [--search ga] [--jobs 2] [--out runs/pmo] [--draw T1,T2,T3] [--reuse]

Needs mol-ga for the ``mol-ga`` method (``pip install -e .[bench]``). Each run uses one core:
``--jobs`` runs at a time.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP; see cli/main.py
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the surrogate's Cholesky: one thread per run

import argparse  # noqa: E402
import csv  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402
import types  # noqa: E402
from collections import Counter  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from dataclasses import asdict, dataclass, field, replace  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, sample_train  # noqa: E402
from pmo_oracles import DEVELOPMENT, HELD_OUT, NOT_INCLUDED, TASKS  # noqa: E402
from pmo_protocol import EVERY, CallCounter, Spent, auc_top_k, marks, top_mean  # noqa: E402
from pmo_reference import PUBLISHED, PUBLISHED_BUDGET  # noqa: E402

METHODS = ("molvae", "molvae-noguards", "mol-ga")
REFERENCES = ("Genetic GFN", "Mol GA (tuned)", "Graph GA")
GA_OFFSPRING = 100


@dataclass
class Run:
    """One method on one task with one seed: every call in order, and where the time went."""

    task: str
    method: str
    seed: int
    calls: list[tuple[str, float]]
    search_seconds: float  # the method's own work: wall time minus the oracle wrapper's
    oracle_seconds: float
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def scores(self) -> list[float]:
        return [v for _, v in self.calls]


# ------------------------------------------------------------------ running
_MODELS: dict[tuple[str | None, str], Any] = {}  # one model per worker process


def _model(path: str | None, precision: str) -> Any:
    if (path, precision) not in _MODELS:
        import torch

        from molvae import MolVAE

        torch.set_num_threads(1)
        kw = {"device": "cpu", "precision": precision}
        _MODELS[path, precision] = MolVAE.load(path, **kw) if path else MolVAE.pretrained(**kw)
    return _MODELS[path, precision]


def run_molvae(
    task: str,
    budget: int,
    seed: int,
    model: str | None,
    search: str,
    guards: bool,
    changes: dict[str, Any],
    precision: str = "auto",
) -> Run:
    from molvae.chem.guards import as_guards
    from molvae.optimize.config import search_settings
    from molvae.optimize.objectives import as_objective
    from molvae.optimize.run import run_search

    codec = _model(model, precision).codec
    oracle = CallCounter(TASKS[task].score, budget)
    module = types.ModuleType("_pmo_objective")
    module.score = oracle  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    objective = as_objective("_pmo_objective:score")
    if not guards:  # what model.optimize(..., guards=False) does
        objective = replace(objective, constraints=replace(objective.constraints, guards=as_guards(False)))
    settings = search_settings(dict(budget=budget, budget_counts="distinct", method=search, seed=seed, **changes))
    t0 = time.perf_counter()
    found = run_search(codec, objective, settings)
    wall = time.perf_counter() - t0
    scorer = found.scorer
    if scorer.n_failures:  # the oracle raised (a call past the budget would): the run is not valid
        raise RuntimeError(f"molvae on {task}: {scorer.n_failures} oracle failures, first {scorer.failures[0]}")
    meta = dict(
        decoded=found.decoded,
        invalid=found.invalid,
        distinct=len(scorer.cache),
        guarded=sum(1 for ev in scorer.cache.values() if not ev.scored),
    )
    return Run(task, "", seed, oracle.calls, wall - oracle.seconds, oracle.seconds, meta)


def run_mol_ga(task: str, budget: int, seed: int, start: int) -> Run:
    import random

    from mol_ga import default_ga

    oracle = CallCounter(TASKS[task].score, budget)
    population = sample_train(start, seed)
    t0 = time.perf_counter()
    try:
        default_ga(
            starting_population_smiles=population,
            scoring_function=oracle,
            max_generations=10**9,
            offspring_size=GA_OFFSPRING,
            rng=random.Random(seed),
        )
    except Spent:
        pass
    wall = time.perf_counter() - t0
    return Run(task, "", seed, oracle.calls, wall - oracle.seconds, oracle.seconds)


def settings_of(method: str, args: argparse.Namespace) -> dict[str, Any]:
    """What a run depends on besides task and seed (a reused run must match it)."""
    if method == "mol-ga":
        import mol_ga

        version = getattr(mol_ga, "__version__", "?")
        return dict(budget=args.budget, start=args.start, offspring=GA_OFFSPRING, mol_ga=version, code=code_digest())
    import torch

    from molvae.runtime.device import resolve_precision

    # the decoder's precision as resolved on this machine: a bf16 run is not reused for a float32 one
    precision = "bf16" if resolve_precision(args.precision, torch.device("cpu")) == torch.bfloat16 else "fp32"
    return dict(
        budget=args.budget,
        model=args.model,
        search=args.search,
        set=args.changes,
        code=code_digest(args.model, molvae=True),
        precision=precision,
    )


def code_digest(model: str | None = None, molvae: bool = False) -> str:
    """A digest of what a run's calls depend on: the oracles and the call counting
    (``pmo_oracles.py``, ``pmo_protocol.py``), and for molvae (``molvae`` or a ``model``) the
    library's source and the model file. A run is reused when it matches: commits that change
    only documentation or the reporting keep it, a change to those files or the model does not.
    (A change to how this file starts a method's run should go with a new ``--out``.)"""
    import hashlib

    here = Path(__file__).resolve().parent
    molvae = molvae or model is not None
    files = [here / "pmo_oracles.py", here / "pmo_protocol.py"]
    files += sorted((here.parent / "molvae").rglob("*.py")) if molvae else []
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(here.parent)).encode() + b"\0" + f.read_bytes())
    if molvae:
        from molvae.nn.checkpoint import pretrained_path

        weights = Path(model) if model is not None else Path(pretrained_path())
        weights = weights / "best.ckpt" if weights.is_dir() else weights
        if weights.is_file():
            h.update(weights.read_bytes())
    return h.hexdigest()[:16]


def execute(job: tuple[str, str, int, dict[str, Any]]) -> Run:
    task, method, seed, s = job
    if method == "mol-ga":
        run = run_mol_ga(task, s["budget"], seed, s["start"])
    else:
        run = run_molvae(task, s["budget"], seed, s["model"], s["search"], method == "molvae", s["set"], s["precision"])
    run.method = method
    run.meta = {**run.meta, **s, "commit": _commit()}  # the commit for the record; `code` decides reuse
    return run


# ------------------------------------------------------------------ call logs
def log_path(out: Path, task: str, method: str, seed: int) -> Path:
    return out / "calls" / f"{task}.{method}.s{seed}.csv.gz"


def write_log(out: Path, run: Run) -> None:
    path = log_path(out, run.task, run.method, run.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = dict(run.meta, search_seconds=run.search_seconds, oracle_seconds=run.oracle_seconds)
    with gzip.open(path, "wt", newline="") as fh:
        fh.write("# " + json.dumps(head) + "\n")
        w = csv.writer(fh)
        w.writerow(["call", "smiles", "score"])
        for i, (smi, v) in enumerate(run.calls, 1):
            w.writerow([i, smi, repr(v)])


def read_log(out: Path, task: str, method: str, seed: int, settings: dict[str, Any]) -> Run | None:
    """A run logged before with the same settings, or ``None``."""
    path = log_path(out, task, method, seed)
    if not path.exists():
        return None
    with gzip.open(path, "rt", newline="") as fh:
        head = json.loads(fh.readline()[2:])
        if any(head.get(k) != v for k, v in settings.items()):
            return None
        rows = list(csv.reader(fh))[1:]
    calls = [(smi, float(v)) for _, smi, v in rows]
    return Run(task, method, seed, calls, head["search_seconds"], head["oracle_seconds"], head)


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
        return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


# ------------------------------------------------------------------ measures
def guard_reasons(run: Run, k: int = 100) -> list[str]:
    """What molvae's default guards say of each of the run's ``k`` best molecules (``""``: passes);
    a reactive group by its name (``reactive: peroxide``), another rule by the rule (``chain``)."""
    from rdkit import Chem

    from molvae.chem.guards import Guards, rule_of

    best = sorted(run.calls, key=lambda c: -c[1])[:k]
    guards = Guards()
    reasons = [guards.check(Chem.MolFromSmiles(s)) for s, _ in best]
    return [r if rule_of(r) == "reactive" else rule_of(r) if r else "" for r in reasons]


def grid_curve(run: Run, budget: int) -> np.ndarray:
    """Top-10 mean at 100, 200, ..., ``budget`` calls, the last value carried past the run's end."""
    scores = run.scores
    return np.array([top_mean(scores[: min(m, len(scores))], 10) for m in range(EVERY, budget + 1, EVERY)])


@dataclass
class Summary:
    auc: float
    top1: float
    top10: float
    top100: float
    guards: float
    calls: int
    ms_per_call: float
    broken: Counter[str]  # the guards the top 100 break: rule (reactive groups by name) -> molecules

    def numbers(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if k != "broken"}


def summarise(run: Run, budget: int) -> Summary:
    s = run.scores
    ms = 1000 * run.search_seconds / max(1, len(s))
    reasons = guard_reasons(run)
    share = reasons.count("") / max(1, len(reasons))
    broken = Counter(r for r in reasons if r)
    return Summary(auc_top_k(s, budget), top_mean(s, 1), top_mean(s, 10), top_mean(s, 100), share, len(s), ms, broken)


def mean_std(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


# ------------------------------------------------------------------ report
Runs = dict[tuple[str, str, int], Run]


def report(
    runs: Runs,
    summ: dict[tuple[str, str, int], Summary],
    tasks: list[str],
    methods: list[str],
    args: argparse.Namespace,
) -> None:
    seeds = list(range(args.seeds))
    at_published = args.budget == PUBLISHED_BUDGET
    w = 24
    print(f"\nAUC top-10 at {args.budget} calls (mean ± std over {args.seeds} seed(s)); published at 10,000 calls:")
    head = [f"{m:>16}" for m in methods] + [f"{r:>16}" for r in REFERENCES]
    print(f"{'task':<{w}} " + " ".join(head))
    for t in tasks:
        ours = [mean_std([summ[(t, m, s)].auc for s in seeds]) for m in methods]
        pub = [f"{PUBLISHED[r][t][0]:.3f} ± {PUBLISHED[r][t][1]:.3f}" for r in REFERENCES]
        print(f"{t:<{w}} " + " ".join(f"{c:>16}" for c in ours + pub))
    sums = {m: [sum(summ[(t, m, s)].auc for t in tasks) for s in seeds] for m in methods}
    pub_sums = [f"{sum(PUBLISHED[r][t][0] for t in tasks):.3f}" for r in REFERENCES]
    print(
        f"{f'sum, {len(tasks)} tasks':<{w}} "
        + " ".join(f"{c:>16}" for c in [mean_std(sums[m]) for m in methods] + pub_sums)
    )
    if not at_published:
        print(f"(the published figures are at {PUBLISHED_BUDGET} calls, these runs at {args.budget}: not comparable)")

    print("\nper task and method, means over seeds: oracle calls, top-1 / top-10 / top-100 at the end, share of")
    print("the top 100 passing molvae's guards, the search's own time per call (oracle excluded)")
    print(
        f"{'task':<{w}} {'method':<16} {'calls':>6} {'top1':>6} {'top10':>6} {'top100':>6} {'guards':>6} {'ms/call':>8}"
    )
    for t in tasks:
        for m in methods:
            rows = [summ[(t, m, s)] for s in seeds]
            mean = {k: np.mean([getattr(r, k) for r in rows]) for k in rows[0].numbers()}
            print(
                f"{t:<{w}} {m:<16} {mean['calls']:>6.0f} {mean['top1']:>6.3f} {mean['top10']:>6.3f} "
                f"{mean['top100']:>6.3f} {mean['guards']:>6.2f} {mean['ms_per_call']:>8.2f}"
            )

    print("\nper method, over every run:")
    for m in methods:
        rs = [runs[(t, m, s)] for t in tasks for s in seeds]
        calls = sum(len(r.calls) for r in rs)
        search = sum(r.search_seconds for r in rs)
        oracle = sum(r.oracle_seconds for r in rs)
        guards = np.mean([summ[(t, m, s)].guards for t in tasks for s in seeds])
        print(
            f"  {m:<16} search {1000 * search / max(1, calls):.2f} ms per call ({search:.0f} s for {calls} calls); "
            f"oracle and wrapper {1000 * oracle / max(1, calls):.2f} ms per call; top 100 passing the guards {guards:.0%}"
        )
        broken = sum((summ[(t, m, s)].broken for t in tasks for s in seeds), Counter())
        if broken:
            print(
                "    guards its top 100s break, molecules over every run: "
                + ", ".join(f"{r} {n}" for r, n in broken.most_common())
            )
    if at_published:
        for m in methods:
            above = [t for t in tasks if np.mean([summ[(t, m, s)].auc for s in seeds]) > PUBLISHED["Genetic GFN"][t][0]]
            print(f"  {m} above Genetic GFN's published AUC on {len(above)} of {len(tasks)} tasks")
    if "mol-ga" in methods:
        for m in methods:
            if m != "mol-ga":
                verdict = "yes" if np.mean(sums[m]) > np.mean(sums["mol-ga"]) else "no"
                print(f"  {m}: sum of AUC top-10 above mol-ga's in this harness? {verdict}")


def write_tables(runs: Runs, summ: dict[tuple[str, str, int], Summary], out: Path) -> None:
    with open(out / "curves.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["task", "method", "seed", "calls", "top1", "top10", "top100"])
        for (t, m, s), run in sorted(runs.items()):
            for n in marks(len(run.calls)):
                sc = run.scores[:n]
                w.writerow([t, m, s, n, *(f"{top_mean(sc, k):.4f}" for k in (1, 10, 100))])
    with open(out / "runs.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["task", "method", "seed", *next(iter(summ.values())).numbers(), "search_s", "oracle_s", "guards_broken"]
        )
        for (t, m, s), run in sorted(runs.items()):
            x = summ[(t, m, s)]
            w.writerow(
                [
                    t,
                    m,
                    s,
                    *(f"{v:.4f}" for v in x.numbers().values()),
                    f"{run.search_seconds:.1f}",
                    f"{run.oracle_seconds:.1f}",
                    "; ".join(f"{r} {n}" for r, n in x.broken.most_common()),
                ]
            )


def plot(runs: Runs, tasks: list[str], methods: list[str], args: argparse.Namespace) -> None:
    from molvae.io.plotting import pyplot

    plt = pyplot()
    x = np.arange(EVERY, args.budget + 1, EVERY)
    for t in tasks:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for m in methods:
            ys = np.stack([grid_curve(runs[(t, m, s)], args.budget) for s in range(args.seeds)])
            auc = np.mean([auc_top_k(runs[(t, m, s)].scores, args.budget) for s in range(args.seeds)])
            ax.plot(x, ys.mean(0), label=f"{m} (AUC {auc:.3f})")
            if args.seeds > 1:
                ax.fill_between(x, ys.mean(0) - ys.std(0), ys.mean(0) + ys.std(0), alpha=0.2)
        pub = ", ".join(f"{r} {PUBLISHED[r][t][0]:.3f}" for r in REFERENCES)
        ax.set_title(f"{t}\npublished AUC top-10 at 10,000 calls: {pub}", fontsize=9)
        ax.set_xlabel("oracle calls")
        ax.set_ylabel("top-10 mean")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.out / f"{t}.png", dpi=100)
        plt.close(fig)


def draw(runs: Runs, tasks: list[str], methods: list[str], out: Path, n: int = 6) -> None:
    from rdkit import Chem

    from molvae.chem.guards import Guards, rule_of
    from molvae.chem.molecules import draw_grid

    guards = Guards()
    for t in tasks:
        smiles, legends = [], []
        for m in methods:
            best = sorted(runs[(t, m, 0)].calls, key=lambda c: -c[1])[:n]
            for i, (smi, v) in enumerate(best, 1):
                why = guards.check(Chem.MolFromSmiles(smi))
                smiles.append(smi)
                legends.append(f"{m} #{i}: {v:.3f}" + (f" ({rule_of(why)})" if why else ""))
        draw_grid(smiles, legends, path=str(out / f"top_{t}.png"), mols_per_row=n, size=(240, 200))


# ------------------------------------------------------------------ main
def task_list(spec: str) -> list[str]:
    groups = {"dev": list(DEVELOPMENT), "held-out": list(HELD_OUT), "all": [*DEVELOPMENT, *HELD_OUT]}
    if spec in groups:
        return groups[spec]
    names = [s.strip() for s in spec.split(",") if s.strip()]
    bad = [n for n in names if n not in DEVELOPMENT and n not in HELD_OUT]
    if bad:
        why = "; ".join(f"{n}: {NOT_INCLUDED[n]}" for n in bad if n in NOT_INCLUDED)
        raise SystemExit(f"unknown task(s) {', '.join(bad)}" + (f" ({why})" if why else ""))
    return names


def main() -> int:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # mol-ga iterates over sets of SMILES (the order it scores them in, the parents it draws):
        # with Python's hash seed fixed, a seed gives the same run every time
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="dev", help="dev (default), held-out, all, or comma-separated task names")
    ap.add_argument("--budget", type=int, default=10_000, help="oracle calls per run (PMO: 10,000)")
    ap.add_argument("--seeds", type=int, default=3, help="runs per task and method, seeds 0, 1, ...")
    ap.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, of {', '.join(METHODS)}")
    ap.add_argument("--model", default=None, help="checkpoint or run folder (default: the shipped model)")
    ap.add_argument("--search", default="ga", help="molvae's search method (default ga)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                    help="a setting of molvae's search, its value in TOML (e.g. --set graph=false); repeatable")  # fmt: skip
    ap.add_argument("--start", type=int, default=1000, help="random MOSES training molecules mol-ga starts from")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (processes)")
    ap.add_argument("--out", type=Path, default=Path("runs/pmo"), help="output folder")
    ap.add_argument("--draw", default=None, help="tasks whose best molecules are drawn (default: the first three)")
    ap.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        default="auto",
        help="molvae's decoder precision (auto: bf16 where the CPU has bf16 instructions)",
    )
    ap.add_argument("--reuse", action="store_true", help="read back runs logged before with the same settings")
    args = ap.parse_args()

    tasks = task_list(args.tasks)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods or set(methods) - set(METHODS):
        raise SystemExit(f"--methods: choose among {', '.join(METHODS)}")
    if args.budget < 1 or args.seeds < 1:
        raise SystemExit("--budget and --seeds must be positive")
    drawn = task_list(args.draw) if args.draw else tasks[:3]
    args.changes = {}
    for item in args.sets:
        key, eq, value = item.partition("=")
        try:
            args.changes[key.strip()] = tomllib.loads(f"v = {value}")["v"] if eq else None
        except tomllib.TOMLDecodeError:
            raise SystemExit(f'--set {item}: the value must be written as in TOML (e.g. false, 0.3, "ga")') from None
        if not eq:
            raise SystemExit(f"--set {item}: use KEY=VALUE")
    args.out.mkdir(parents=True, exist_ok=True)
    if "mol-ga" in methods:
        import mol_ga

        ga_version = getattr(mol_ga, "__version__", "?")

    print(" ".join(["python", *sys.argv]))
    print(machine())
    print(
        f"model: {args.model or 'the shipped model molvae/pretrained/moses-cvae.ckpt'}, molvae search {args.search}"
        + "".join(f" {k}={v}" for k, v in args.changes.items())
        + ", "
        f"commit {_commit()}; "
        + (
            f"mol-ga {ga_version} default_ga, offspring_size {GA_OFFSPRING}, {args.start} MOSES molecules to start; "
            if "mol-ga" in methods
            else ""
        )
        + f"{len(tasks)} tasks x {len(methods)} methods x {args.seeds} seeds, budget {args.budget}, {args.jobs} runs at a time",
        flush=True,
    )
    runs: dict[tuple[str, str, int], Run] = {}
    jobs = []
    settings_by_method = {m: settings_of(m, args) for m in methods}  # one code digest per method, not per run
    for t in tasks:
        for m in methods:
            settings = settings_by_method[m]
            for s in range(args.seeds):
                old = read_log(args.out, t, m, s, settings) if args.reuse else None
                if old is not None:
                    runs[(t, m, s)] = old
                else:
                    jobs.append((t, m, s, settings))
    if runs:
        print(f"{len(runs)} runs read back from {args.out / 'calls'}")
    jobs.sort(key=lambda j: j[1] == "mol-ga")  # molvae's runs are the longer: first
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(execute, j) for j in jobs]
        for fut in as_completed(futures):
            run = fut.result()
            runs[(run.task, run.method, run.seed)] = run
            write_log(args.out, run)
            print(
                f"  done {run.task} {run.method} seed {run.seed}: {len(run.calls)} calls, "
                f"AUC {auc_top_k(run.scores, args.budget):.3f}, search {run.search_seconds:.0f} s, "
                f"oracle {run.oracle_seconds:.0f} s ({len(runs)}/{len(tasks) * len(methods) * args.seeds})",
                flush=True,
            )

    summ = {key: summarise(run, args.budget) for key, run in runs.items()}
    report(runs, summ, tasks, methods, args)
    write_tables(runs, summ, args.out)
    plot(runs, tasks, methods, args)
    draw(runs, [t for t in drawn if t in tasks], methods, args.out)
    print(
        f"\nwrote {args.out}/: curves.csv, runs.csv, calls/, {len(tasks)} plots <task>.png, pictures "
        + ", ".join(f"top_{t}.png" for t in drawn if t in tasks)
    )
    print(f"total time {time.time() - t0:.0f} s; load average now {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
