"""Build the model that ships in molvae/pretrained/: data subset, training, packaging.

    python benchmarks/pretrained/build.py data                # write the training subset
    python benchmarks/pretrained/build.py train [--resume]    # train (resumable, chunk after chunk)
    python benchmarks/pretrained/build.py hashes              # hash table of MOSES train (cached)
    python benchmarks/pretrained/build.py package [--from F]  # copy best.ckpt (or F) into molvae/pretrained/
    python benchmarks/pretrained/build.py candidate --run R --dest F   # weights-only bf16 copy (git, <= 20 MB)
    python benchmarks/pretrained/build.py prior --model M --dest F [--components K] [--prior-n N]
                                              # M with a latent prior fitted to N training encodings

Training uses ``benchmarks/pretrained/train.toml`` (``--config`` names another: ``round1.toml``
continues the shipped model, see the model card). The run folder defaults to
``runs/pretrained`` and the subset to ``runs/pretrained-data/train_400k.csv.gz``: a seeded
random sample of the MOSES training set in data/moses/ (2 CPU cores cannot preprocess and
train on all 1.58M molecules in the ~90 minutes this model was given; on a GPU, use ``--n 0``
for the whole set). Packaging drops the optimiser state and records the hashes of the whole
MOSES training set, so ``novel`` means "not in the MOSES training set", as in MOSES.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from molvae.evaluate.metrics import default_reference_paths  # noqa: E402
from molvae.nn import checkpoint  # noqa: E402


def subset_path(args) -> Path:
    name = "train_all.csv.gz" if args.n == 0 else f"train_{args.n // 1000}k.csv.gz"
    return Path(args.data_dir) / name


def moses_train() -> list[str]:
    with gzip.open(default_reference_paths().train, "rt") as fh:
        header, *rows = fh.read().split()
    return rows


def cmd_data(args) -> None:
    rows = moses_train()
    if args.n:
        rows = random.Random(args.seed).sample(rows, args.n)
    out = subset_path(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = "SMILES\n" + "\n".join(rows) + "\n"
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:  # same bytes every time
        fh.write(text.encode())
    print(f"wrote {len(rows)} molecules to {out}")


def trained_minutes(run: Path) -> float:
    """Training minutes a run has behind it (0 before its first checkpoint)."""
    last = run / "last.ckpt"
    if not last.is_file():
        return 0.0
    return float(checkpoint.load(last).get("training_state", {}).get("elapsed_seconds", 0.0)) / 60


def cmd_train(args) -> None:
    from molvae.train.config import TrainConfig, load_toml
    from molvae.train.loop import train

    data = subset_path(args)
    if not data.is_file():
        raise SystemExit(f"{data} is missing; run `build.py data` first")
    t = time.time()
    if args.resume:
        overrides: dict = {"max_minutes": args.max_minutes} if args.max_minutes else {}
        if args.chunk_minutes:
            overrides["max_minutes"] = trained_minutes(Path(args.run)) + args.chunk_minutes
        if args.epochs:
            overrides["epochs"] = args.epochs  # the cosine schedule is re-planned over the new length
        best = train(data, args.run, resume=True, progress=not args.quiet, overrides=overrides or None)
    else:
        settings = load_toml(args.config)
        if args.max_minutes or args.chunk_minutes:
            settings["max_minutes"] = args.max_minutes or args.chunk_minutes
        if args.epochs:
            settings["epochs"] = args.epochs
        best = train(data, args.run, TrainConfig.from_dict(settings), progress=not args.quiet)
    print(f"best checkpoint {best}; this chunk took {(time.time() - t) / 60:.1f} min")


def _canonical_chunk(rows: list[str]) -> list[str]:
    from molvae.chem.molecules import canonical_smiles

    return [c for c in map(canonical_smiles, rows) if c]


def moses_train_hashes(args):
    """Hashes of the RDKit-canonical MOSES training SMILES (cached: ~1.6M parses take minutes)."""
    from concurrent.futures import ProcessPoolExecutor

    import numpy as np

    cache = Path(args.data_dir) / "moses_train_hashes.npy"
    if cache.is_file():
        return np.load(cache)
    rows = moses_train()
    chunks = [rows[i : i + 20000] for i in range(0, len(rows), 20000)]
    with ProcessPoolExecutor() as pool:
        canon = [c for part in pool.map(_canonical_chunk, chunks) for c in part]
    print(f"canonicalised {len(canon)} of {len(rows)} MOSES training SMILES")
    hashes = checkpoint.smiles_hashes(canon)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, hashes)
    return hashes


def cmd_package(args) -> None:
    # --from: a candidate kept in git (bf16 weights, as measured) instead of a run's best.ckpt
    src = Path(args.source) if args.source else Path(args.run) / "best.ckpt"
    payload = checkpoint.load(src)
    payload.pop("training_state", None)
    shipped = checkpoint.load(checkpoint.pretrained_path())
    if shipped.get("novelty_reference", "").startswith("MOSES training set"):  # the same table: no RDKit work
        hashes = checkpoint.read_hashes(shipped)
    else:
        hashes = moses_train_hashes(args)
    payload.pop("train_smiles_hashes", None)  # a format-1 run's plain table
    payload["train_hashes_packed"] = checkpoint.pack_hashes(hashes)
    payload["novelty_reference"] = "MOSES training set (1,584,663 molecules)"
    if args.temperature is not None:  # the decoder temperature generate uses unless told otherwise
        if not 0.0 <= args.temperature < float("inf"):
            raise SystemExit(f"--temperature must be a non-negative number, got {args.temperature}")
        payload["sampling_temperature"] = float(args.temperature)
    dest = Path(args.dest) if args.dest else HERE.parents[1] / "molvae" / "pretrained" / "moses-cvae.ckpt"
    dest.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.save(dest, payload)
    temperature = payload.get("sampling_temperature", 1.0)
    print(f"wrote {dest} ({dest.stat().st_size / 1e6:.1f} MB) from {src}; default sampling temperature {temperature}")


def cmd_candidate(args) -> None:
    """A weights-only copy of a run's last checkpoint, floats stored as bf16, to keep in git at the
    end of a working period: a lost run folder warm-starts from it (``train.toml``: ``init = F``)."""
    import torch

    src = Path(args.run) / "last.ckpt"
    payload = checkpoint.load(src)
    state = payload.pop("training_state", {}) or {}
    payload["state_dict"] = {
        k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in payload["state_dict"].items()
    }
    for key in ("train_smiles_hashes", "train_hashes_packed"):  # a warm start does not need them; package adds them
        payload.pop(key, None)
    payload["candidate_of"] = {
        "run": str(args.run),
        "elapsed_minutes": round(float(state.get("elapsed_seconds", 0.0)) / 60, 2),
        "step": int(state.get("step", 0)),
        "storage": "bf16 weights, no optimiser state, no training hashes",
    }
    if not args.dest:
        raise SystemExit("candidate needs --dest FILE")
    checkpoint.save(args.dest, payload)
    size = Path(args.dest).stat().st_size / 1e6
    if size > 20:
        raise SystemExit(f"{args.dest} is {size:.1f} MB, over the 20 MB a candidate in git may take")
    print(f"wrote {args.dest} ({size:.1f} MB) from {src} after {payload['candidate_of']['elapsed_minutes']} minutes")


def cmd_prior(args) -> None:
    """A copy of ``--model`` that samples from a latent prior fitted to the encodings of
    ``--prior-n`` random MOSES training molecules (``--seed``): issue 23 item 2."""
    from molvae import MolVAE
    from molvae.train.prior import fit_prior

    if not args.model or not args.dest:
        raise SystemExit("prior needs --model and --dest")
    t = time.time()
    model = MolVAE.load(args.model, device="cpu")
    smiles = moses_train()
    rng = random.Random(args.seed)
    smiles = rng.sample(smiles, min(args.prior_n, len(smiles)))
    prior = fit_prior(model.codec, smiles, components=args.components, seed=args.seed)
    record = checkpoint.ModelRecord.read(args.model)
    record.prior = prior
    record.training_state = None  # a model to sample from, not a run to resume
    record.train_config = {
        **record.train_config,
        "latent_prior": {"components": args.components, "molecules": len(smiles), "seed": args.seed},
    }
    record.write(args.dest)
    print(
        f"wrote {args.dest}: {args.model} with a prior of {args.components} Gaussian(s) fitted to "
        f"{len(smiles)} training molecules' encodings ({time.time() - t:.0f} s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["data", "train", "hashes", "package", "candidate", "prior"])
    ap.add_argument("--n", type=int, default=400_000, help="training molecules (0 = all of MOSES train)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default="runs/pretrained-data")
    ap.add_argument("--run", default="runs/pretrained")
    ap.add_argument("--config", default=str(HERE / "train.toml"), help="training settings (TOML)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--from", dest="source", default=None, help="package: this checkpoint, not the run's best.ckpt")
    ap.add_argument("--max-minutes", type=float, default=None, help="training minutes in all (resumed chunks included)")
    ap.add_argument(
        "--chunk-minutes", type=float, default=None, help="train this many more minutes, then stop with a checkpoint"
    )
    ap.add_argument("--epochs", type=int, default=None, help="epochs in all; with --resume, re-plans the schedule")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument(
        "--temperature", type=float, default=None, help="package: the model's default sampling temperature (else 1)"
    )
    ap.add_argument(
        "--dest", default=None, help="package to this file instead of molvae/pretrained/ (to measure first)"
    )
    ap.add_argument("--model", default=None, help="prior: the checkpoint to fit a latent prior for")
    ap.add_argument("--components", type=int, default=1, help="prior: Gaussians in the mixture")
    ap.add_argument("--prior-n", type=int, default=50_000, help="prior: training molecules encoded for the fit")
    args = ap.parse_args()
    steps = {
        "data": cmd_data,
        "train": cmd_train,
        "hashes": moses_train_hashes,
        "package": cmd_package,
        "candidate": cmd_candidate,
        "prior": cmd_prior,
    }
    steps[args.step](args)


if __name__ == "__main__":
    main()
