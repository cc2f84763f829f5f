"""How many real drugs with stereo and charges the shipped model can encode, with and without flatten.

    python benchmarks/encode_drugs.py [--n 100] [--model pretrained]

Reads the first ``--n`` molecules of ``data/drugs/drugs_stereo_charges.csv`` (well-known drugs,
each with stereocentres or charges) and encodes them as ``molvae encode`` does: with
``flatten=False`` (what every version before the option did: a molecule with a token the
vocabulary lacks is refused) and with ``flatten=True`` (the default: stereo dropped and charges
neutralised where RDKit can, when the model lacks their tokens). Prints the refusals by reason.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter
from pathlib import Path

from _common import machine

from molvae import MolVAE

ROOT = Path(__file__).resolve().parents[1]
DRUGS = ROOT / "data" / "drugs" / "drugs_stereo_charges.csv"


def kind(reason: str) -> str:
    if "lacks the SELFIES tokens" in reason:
        return "tokens the vocabulary lacks"
    if "more than max_length" in reason:
        return "longer than max_length"
    return reason.split(":")[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="the first N molecules of the file")
    ap.add_argument("--model", default="pretrained", help="'pretrained' or a .ckpt / run folder")
    args = ap.parse_args()

    print(machine())
    with open(DRUGS, newline="") as fh:
        rows = list(csv.DictReader(fh))[: args.n]
    smiles = [r["smiles"] for r in rows]
    model = MolVAE.pretrained(device="cpu") if args.model == "pretrained" else MolVAE.load(args.model, device="cpu")
    print(f"{len(smiles)} drugs from {DRUGS.relative_to(ROOT)}; model {model.source}")
    for flatten in (False, True):
        t0 = time.perf_counter()
        enc = model.encode_batch(smiles, flatten=flatten)
        reasons = Counter(kind(reason) for _, _, reason in enc.rejects)
        detail = ", ".join(f"{n} {k}" for k, n in reasons.most_common()) or "none"
        print(
            f"flatten={flatten}: encoded {len(enc.indices)}, refused {len(enc.rejects)} ({detail}); "
            f"{len(enc.flattened)} encoded without their stereo or charges; {time.perf_counter() - t0:.1f} s"
        )
        if flatten:
            for i, _, reason in enc.rejects:
                if "lacks" in reason:
                    print(f"  still refused: {rows[i]['name']}: {reason.split(': fine-tune')[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
