"""The same work through the Python API and through the ``molvae`` command, each in a fresh process.

    python benchmarks/api_vs_cli.py [--tasks optimize,generate,train] [--repeats 1] [--torch-first]

Tasks (the shipped model on the CPU, or a model trained here):

* ``optimize``: ``model.optimize("qed", budget=2000, seed=0)`` against
  ``molvae optimize --maximize qed --budget 2000 --seed 0``;
* ``generate``: ``model.generate_to_file(out, 20000, seed=0)`` against
  ``molvae generate -n 20000 --seed 0 -o out``;
* ``train``: the README's ``train(...)`` (``TrainConfig(properties=("logp", "qed"), epochs=20)``)
  on the first 400 molecules of ``data/moses/train_20k.csv.gz`` against ``molvae train`` with the
  same settings, each with an empty preprocessing cache.

Each figure is the wall time of a whole process (Python start, imports and model loading
included), started with ``OMP_WAIT_POLICY`` removed from its environment, as a user's shell has
it. The API script imports molvae first, as the README does; ``--torch-first`` adds a run of the
optimize task by a script that imports torch before molvae. The outputs of the two ways are
compared (the same seed must give the same molecules). The machine and its load average are
printed before and after: on a shared machine every figure depends on what else runs.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USER_POLICY = os.environ.get("OMP_WAIT_POLICY")  # before importing molvae (through _common), which sets it

from _common import machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "moses" / "train_20k.csv.gz"

OPTIMIZE_API = """
from molvae import MolVAE
model = MolVAE.pretrained(device="cpu")
res = model.optimize("qed", budget=2000, seed=0)
print("RESULT", res.candidates[0].smiles, f"{res.candidates[0].score:.4f}")
"""

GENERATE_API = """
import sys
from molvae import MolVAE
model = MolVAE.pretrained(device="cpu")
model.generate_to_file(sys.argv[1], 20000, seed=0)
"""

TRAIN_API = """
import sys
from molvae import MolVAE, TrainConfig
from molvae.train.loop import train
train(sys.argv[1], sys.argv[2], TrainConfig(properties=("logp", "qed"), epochs=int(sys.argv[3])))
"""


def child_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["MOLVAE_CACHE_DIR"] = str(cache)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def timed(cmd: list[str], work: Path) -> tuple[float, str]:
    """Wall seconds of ``cmd`` run in a fresh process with its own empty cache, and its stdout."""
    cache = Path(tempfile.mkdtemp(dir=work, prefix="cache-"))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=child_env(cache), capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "molvae_cli", *args]


def api(code: str, *args: str, torch_first: bool = False) -> list[str]:
    return [sys.executable, "-c", ("import torch\n" if torch_first else "") + code, *args]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def first_smiles(path: Path) -> str:
    with open(path) as fh:
        next(fh)
        return next(fh).split(",")[0]


def history(run: Path) -> list[dict[str, str]]:
    """A run's history.csv without its clock columns (wall minutes, CPU-hours)."""
    with open(run / "history.csv") as fh:
        return [{k: v for k, v in row.items() if k not in ("minutes", "cpu_hours")} for row in csv.DictReader(fh)]


def run_optimize(work: Path, torch_first: bool) -> dict:
    t_api, out = timed(api(OPTIMIZE_API, torch_first=torch_first), work)
    api_best = next(line.split()[1] for line in out.splitlines() if line.startswith("RESULT"))
    out_csv = work / "opt.csv"
    t_cli, _ = timed(cli("optimize", "--maximize", "qed", "--budget", "2000", "--seed", "0", "-o", str(out_csv)), work)
    return {"api": t_api, "cli": t_cli, "same": api_best == first_smiles(out_csv)}


def run_generate(work: Path, torch_first: bool) -> dict:
    a, c = work / "gen_api.csv", work / "gen_cli.csv"
    t_api, _ = timed(api(GENERATE_API, str(a), torch_first=torch_first), work)
    t_cli, _ = timed(cli("generate", "-n", "20000", "--seed", "0", "-o", str(c)), work)
    return {"api": t_api, "cli": t_cli, "same": digest(a) == digest(c)}


def run_train(work: Path, torch_first: bool, epochs: int) -> dict:
    data = work / "train400.smi"
    if not data.exists():
        with gzip.open(DATA, "rt") as fh:
            next(fh)
            data.write_text("".join(next(fh) for _ in range(400)))
    a, c = work / "run_api", work / "run_cli"
    for d in (a, c):
        shutil.rmtree(d, ignore_errors=True)
    t_api, _ = timed(api(TRAIN_API, str(data), str(a), str(epochs), torch_first=torch_first), work)
    t_cli, _ = timed(
        cli("train", str(data), "--properties", "logp,qed", "--epochs", str(epochs), "--out", str(c)), work
    )
    same = history(a) == history(c)
    return {"api": t_api, "cli": t_cli, "same": same}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="optimize,generate,train", help="comma-separated: optimize, generate, train")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each pair; the median is reported")
    ap.add_argument("--epochs", type=int, default=20, help="epochs of the train task (the README's 20)")
    ap.add_argument("--torch-first", action="store_true", help="also time the optimize API with torch imported first")
    args = ap.parse_args()
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = set(tasks) - {"optimize", "generate", "train"}
    if unknown:
        ap.error(f"unknown task(s) {', '.join(sorted(unknown))}")

    print(machine())
    print(f"OMP_WAIT_POLICY removed from the children's environment (this shell's: {USER_POLICY!r})")
    jobs = [(t, False) for t in tasks] + ([("optimize", True)] if args.torch_first else [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="api_vs_cli-") as tmp:
        work = Path(tmp)
        for task, torch_first in jobs:
            runs = []
            for _ in range(args.repeats):
                if task == "optimize":
                    runs.append(run_optimize(work, torch_first))
                elif task == "generate":
                    runs.append(run_generate(work, torch_first))
                else:
                    runs.append(run_train(work, torch_first, args.epochs))
                print(json.dumps({"task": task, "torch_first": torch_first, **runs[-1]}), flush=True)
            name = {
                "optimize": 'optimize("qed", budget=2000, seed=0)',
                "generate": "generate_to_file(20,000, seed=0)",
                "train": f"train(400 molecules, logp/qed, {args.epochs} epochs)",
            }[task] + (" [torch imported first]" if torch_first else "")
            t_api = statistics.median(r["api"] for r in runs)
            t_cli = statistics.median(r["cli"] for r in runs)
            rows.append((name, t_api, t_cli, all(r["same"] for r in runs)))
    print()
    print(f"| work (fresh process each, median of {args.repeats}) | Python API s | CLI s | API / CLI | same output |")
    print("| --- | --- | --- | --- | --- |")
    for name, t_api, t_cli, same in rows:
        print(f"| {name} | {t_api:.1f} | {t_cli:.1f} | {t_api / t_cli:.2f} | {'yes' if same else 'NO'} |")
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nload average (1/5/15 min) at the end: {load}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
