"""Fine-tune the shipped model on one chemical series and measure how much closer its samples get.

    python benchmarks/finetune.py                       # the shipped series, a few CPU minutes
    python benchmarks/finetune.py --series MY.csv --core "SMARTS"   # your own series
    python benchmarks/finetune.py --build-series        # rebuild data/series/phenylpiperazines.csv
    python benchmarks/finetune.py --series data/drugs/drugs_stereo_charges.csv --core "" --train-n 90
                                                        # a diverse set: 120 drugs, 90 to fine-tune on

The default series (``data/series/phenylpiperazines.csv``) is built from the MOSES training set:
molecules that contain 1-phenylpiperazine, with their unassigned stereocentres given one
configuration at random (seeded) and basic amines protonated as at pH 7.4, so the file carries
charged and stereo molecules the base vocabulary has never seen. 500 molecules are used for
fine-tuning and the rest are held out.

Before and after fine-tuning, prior samples (no condition) are scored on: the share containing
the series' core, SNN to the series' training molecules (mean of the nearest-neighbour Tanimoto,
Morgan radius 2, 2048 bits), validity, uniqueness, novelty against the series, and FCD to the
held-out members; and, next to the same figures of the series' fine-tuning molecules, the share
of samples with a stereocentre, the share with a formal charge and their median molecular weight.
``--core ""`` leaves out the core share (a diverse series has none). Validity counts a sample
whose hydrogens the RDKit check restored (``molvae.chem.checks.restore_hydrogens``) as valid;
``share repaired`` says how many of the valid ones that is. ``QED condition MAE`` asks for the QED
of each held-out series molecule in turn (``--control-n`` samples each) and gives the mean absolute
difference between asked and measured QED.

``--model DIR`` scores a model fine-tuned earlier (a run folder or ``.ckpt``) instead of training
one, so that a change to sampling or checking can be measured on the same weights.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import random
import shutil
import sys
import time
import tomllib
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERIES = ROOT / "data" / "series" / "phenylpiperazines.csv"
CORE = "c1ccc(cc1)N1CCNCC1"
BASIC_AMINE = "[NX3;H0,H1,H2;!$(N-[a]);!$(N-C=[O,S,N]);!$(N-S(=O)=O);!$(N-[N,O]);!$(N#*);!$(N=*)]"


def build_series(n_scan: int, seed: int) -> None:
    """Write the default series file from the first ``n_scan`` MOSES training molecules."""
    from rdkit import Chem
    from rdkit.Chem.EnumerateStereoisomers import EnumerateStereoisomers, StereoEnumerationOptions

    from molvae.chem.molecules import quiet_rdkit

    core, amine = Chem.MolFromSmiles(CORE), Chem.MolFromSmarts(BASIC_AMINE)
    rng = random.Random(seed)
    rows = []
    with gzip.open(ROOT / "data" / "moses" / "train.csv.gz", "rt") as fh, quiet_rdkit():
        next(fh)
        for i, line in enumerate(fh):
            if i >= n_scan:
                break
            mol = Chem.MolFromSmiles(line.strip())
            if mol is None or not mol.HasSubstructMatch(core):
                continue
            isomers = list(
                EnumerateStereoisomers(mol, options=StereoEnumerationOptions(onlyUnassigned=True, unique=True))
            )
            mol = Chem.Mol(rng.choice(isomers)) if isomers else mol
            for (idx,) in mol.GetSubstructMatches(amine):  # protonate basic amines (pH 7.4)
                atom = mol.GetAtomWithIdx(idx)
                atom.SetFormalCharge(1)
                atom.SetNumExplicitHs(atom.GetTotalNumHs() + 1)
                atom.SetNoImplicit(True)
            Chem.SanitizeMol(mol)
            rows.append(Chem.MolToSmiles(mol))
    rng.shuffle(rows)
    SERIES.parent.mkdir(parents=True, exist_ok=True)
    with open(SERIES, "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["SMILES"])
        w.writerows([r] for r in rows)
    charged = sum(any(a.GetFormalCharge() for a in Chem.MolFromSmiles(r).GetAtoms()) for r in rows)
    stereo = sum("@" in r for r in rows)
    print(f"wrote {len(rows)} molecules with {CORE} to {SERIES} ({charged} charged, {stereo} with stereocentres)")


def read_series(path: Path) -> list[str]:
    from molvae.io.readers import iter_smiles

    return [smi for _, smi in iter_smiles(path)]


def score(model, train: list[str], heldout: list[str], core: str, n: int, seed: int) -> dict[str, float]:
    """Metrics of ``n`` prior samples of ``model`` against the series."""
    import numpy as np

    from molvae.evaluate.metrics import evaluate_smiles
    from molvae.generate.scaffold import Scaffold

    gen = model.generate(n, seed=seed)
    valid = [m.smiles for m in gen.molecules]
    unique = sorted(set(valid))
    res = evaluate_smiles(valid, reference=heldout, train=train, unique_at=(len(valid) or 1,), n_jobs=2)
    out = {
        "validity": len(valid) / n,
        "share repaired": gen.n_repaired / max(len(valid), 1),
        "uniqueness": len(unique) / max(len(valid), 1),
        "novelty vs series": res["Novelty"] if res["Novelty"] is not None else float("nan"),
    }
    if core:
        pattern = Scaffold(core)
        out["share with core"] = float(np.mean([pattern.matches(s) for s in valid])) if valid else 0.0
    out["SNN to series"] = snn(valid, train)
    out["FCD to held-out"] = res["FCD/Test"] if res["FCD/Test"] is not None else float("nan")
    return out | composition(valid)


def qed_condition_mae(model, heldout: list[str], per_value: int, seed: int) -> float:
    """Mean |measured - requested| QED of ``per_value`` samples at the QED of each held-out molecule."""
    import numpy as np

    if "qed" not in model.property_names:
        return float("nan")
    errors: list[float] = []
    for k, smi in enumerate(heldout):
        wanted = model.properties_of(smi)["qed"]
        gen = model.generate(per_value, condition={"qed": wanted}, seed=seed + k, properties=["qed"])
        errors += [abs(m.properties["qed"] - wanted) for m in gen.molecules]
    return float(np.mean(errors)) if errors else float("nan")


def composition(smiles: list[str]) -> dict[str, float]:
    """Share of molecules with a (specified) stereocentre, share with a formal charge, median MW."""
    import numpy as np
    from rdkit.Chem import Descriptors

    from molvae.chem.molecules import mol_from_smiles

    mols = [m for m in map(mol_from_smiles, smiles) if m is not None]
    if not mols:
        return {"share with stereocentre": 0.0, "share charged": 0.0, "median MW": float("nan")}
    stereo = [any(a.GetChiralTag() != a.GetChiralTag().CHI_UNSPECIFIED for a in m.GetAtoms()) for m in mols]
    charged = [any(a.GetFormalCharge() != 0 for a in m.GetAtoms()) for m in mols]
    return {
        "share with stereocentre": float(np.mean(stereo)),
        "share charged": float(np.mean(charged)),
        "median MW": float(np.median([Descriptors.MolWt(m) for m in mols])),
    }


def snn(generated: list[str], reference: list[str]) -> float:
    """Mean over generated molecules of the Tanimoto similarity to the nearest reference molecule."""
    import numpy as np
    from rdkit import DataStructs

    from molvae.chem.molecules import mol_from_smiles, morgan_fingerprint

    ref = [morgan_fingerprint(m) for m in map(mol_from_smiles, reference) if m is not None]
    sims = [
        max(DataStructs.BulkTanimotoSimilarity(morgan_fingerprint(m), ref))
        for m in map(mol_from_smiles, generated)
        if m is not None
    ]
    return float(np.mean(sims)) if sims else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=Path, default=SERIES, help="series file (.csv/.smi)")
    ap.add_argument("--core", default=CORE, help="SMILES/SMARTS core shared by the series")
    ap.add_argument("--train-n", type=int, default=500, help="series molecules used for fine-tuning")
    ap.add_argument("--minutes", type=float, default=5.0, help="fine-tuning time limit")
    ap.add_argument("--samples", type=int, default=2000, help="prior samples scored before and after")
    ap.add_argument("--control-n", type=int, default=20, help="samples per held-out QED value (0: skip)")
    ap.add_argument("--model", type=Path, help="score this fine-tuned model instead of fine-tuning one")
    ap.add_argument("--run", type=Path, default=Path("runs/finetune-bench"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a fine-tuning setting (TOML value syntax), e.g. --set lr=2e-3 --set 'freeze=[\"encoder\"]'",
    )
    ap.add_argument("--build-series", action="store_true", help="rebuild the default series file and stop")
    ap.add_argument("--scan", type=int, default=300_000, help="MOSES training molecules scanned by --build-series")
    args = ap.parse_args()
    if args.build_series:
        build_series(args.scan, args.seed)
        return

    from molvae import MolVAE

    rows = read_series(args.series)
    if len(rows) < args.train_n + 20:
        raise SystemExit(f"{args.series} has {len(rows)} molecules; need at least {args.train_n + 20}")
    train_rows, heldout = rows[: args.train_n], rows[args.train_n :]
    args.run.mkdir(parents=True, exist_ok=True)
    train_file = args.run / "series_train.smi"
    train_file.write_text("\n".join(train_rows) + "\n")
    print(f"series {args.series}: {len(train_rows)} for fine-tuning, {len(heldout)} held out; core {args.core or '-'}")
    inputs = composition(train_rows)

    base = MolVAE.pretrained(device="cpu")
    t = time.time()
    before = score(base, train_rows, heldout, args.core, args.samples, args.seed)
    if args.control_n:
        before["QED condition MAE"] = qed_condition_mae(base, heldout, args.control_n, args.seed)
    print(f"scored the base model in {time.time() - t:.0f} s")

    if args.model is not None:
        minutes, best = 0.0, args.model
    else:
        minutes, best = finetune(args, base, train_file)
    tuned = MolVAE.load(best, device="cpu")
    after = score(tuned, train_rows, heldout, args.core, args.samples, args.seed)
    if args.control_n:
        after["QED condition MAE"] = qed_condition_mae(tuned, heldout, args.control_n, args.seed)

    print(f"\nfine-tuned in {minutes:.1f} min (wall, including preprocessing) -> {best}")
    print(f"{'metric (' + str(args.samples) + ' prior samples)':<34} {'base':>8} {'fine-tuned':>11} {'inputs':>8}")
    for k in before:
        series = f"{inputs[k]:>8.3f}" if k in inputs else f"{'':>8}"
        print(f"{k:<34} {before[k]:>8.3f} {after[k]:>11.3f} {series}")


def finetune(args, base, train_file: Path) -> tuple[float, Path]:
    """Fine-tune the shipped model on ``train_file`` into ``args.run/model``: (wall minutes, best checkpoint)."""
    from molvae.train.config import TrainConfig
    from molvae.train.finetune import with_finetune_defaults
    from molvae.train.loop import train

    out = args.run / "model"
    shutil.rmtree(out, ignore_errors=True)
    overrides = tomllib.loads("\n".join(args.set))
    settings = with_finetune_defaults(
        {"init": "pretrained", "max_minutes": args.minutes, "seed": args.seed, "properties": base.property_names}
        | overrides
    )
    print(f"fine-tuning settings: {settings}")
    t = time.time()
    best = train(train_file, out, TrainConfig.from_dict(settings))
    return (time.time() - t) / 60, best


if __name__ == "__main__":
    main()
