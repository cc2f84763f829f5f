"""What bf16 decoding changes: the decoder's next-token distributions in float32 and in bf16.

    python benchmarks/pretrained/precision.py [--model pretrained] [--n 2000] [--fcd-seeds 0]

The sampling path (:class:`molvae.nn.stepper.Stepper`) runs the decoder's matrix products in bf16
where the CPU has bf16 instructions (``precision="auto"``). On the first ``--n`` MOSES test
molecules, each decoded with its own posterior mean and properties, the two steppers read the
same tokens (teacher forcing) and the script prints, per token: the KL divergence from the float32
distribution to the bf16 one, the share of steps whose most likely token differs, and the NLL of
the true token under each. Summed over a molecule's tokens, the KL bounds how far apart the two
precisions' samples can be (Pinsker: total variation <= sqrt(KL / 2)), a sharper measure than FCD,
whose seed-to-seed spread at 10,000 samples is several hundredths. ``--fcd-seeds K`` also gives
FCD/Test of 10,000 prior samples at temperature 1 for seeds 0..K-1 in each precision.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # _common

from _common import fcd_test, machine  # noqa: E402


def token_divergence(model, smiles: list[str]) -> dict[str, float]:
    """Per-token KL(float32 || bf16), argmax disagreement and NLLs along the molecules' own tokens."""
    import torch
    import torch.nn.functional as F

    codec = model.codec
    net = codec.model
    sums = dict.fromkeys(("kl", "flip", "nll32", "nll16", "tokens"), 0.0)
    worst = 0.0  # the largest per-molecule KL (summed over its tokens)
    with torch.no_grad():
        for batch in codec.prepared_batches(codec.prepare(smiles), batch_size=500):
            z = net.encode(batch.tokens, batch.lengths, batch.condition)[0]  # posterior means
            steps = {dt: net.decoder.stepper(z, batch.condition, dt) for dt in (torch.float32, torch.bfloat16)}
            token = torch.full((z.size(0),), net.START, dtype=torch.long)
            per_mol = torch.zeros(z.size(0))
            for t in range(batch.tokens.size(1)):
                lp32, lp16 = (F.log_softmax(steps[dt](token), -1) for dt in steps)
                live = t < batch.lengths
                truth = batch.tokens[:, t]
                kl = (lp32.exp() * (lp32 - lp16)).sum(-1)
                per_mol += kl * live
                sums["kl"] += float(kl[live].sum())
                sums["flip"] += float((lp32.argmax(-1) != lp16.argmax(-1))[live].sum())
                sums["nll32"] -= float(lp32.gather(1, truth[:, None])[live].sum())
                sums["nll16"] -= float(lp16.gather(1, truth[:, None])[live].sum())
                sums["tokens"] += float(live.sum())
                token = truth
            worst = max(worst, float(per_mol.max()))
    n = sums.pop("tokens")
    return {**{k: v / n for k, v in sums.items()}, "kl_per_molecule": sums["kl"] / len(smiles), "kl_worst": worst}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="pretrained", help="'pretrained', a .ckpt or a run folder")
    ap.add_argument("--n", type=int, default=2000, help="MOSES test molecules (the first n)")
    ap.add_argument("--fcd-seeds", type=int, default=0, help="FCD/Test of 10,000 prior samples for this many seeds")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    import torch

    from molvae import MolVAE
    from molvae.evaluate.metrics.packaged import MOSES_HELDOUT
    from molvae.io.readers import iter_smiles
    from molvae.runtime.device import cpu_has_bf16

    print(machine())
    print(f"CPU bf16 instructions: {'yes' if cpu_has_bf16() else 'no (bf16 is emulated: correct, but slow)'}")
    kw = {"device": "cpu", "precision": "fp32"}
    model = MolVAE.pretrained(**kw) if args.model == "pretrained" else MolVAE.load(args.model, **kw)
    held = [smi for _, smi in itertools.islice(iter_smiles(MOSES_HELDOUT), args.n)]
    t = time.time()
    d = token_divergence(model, held)
    print(f"{model.source}, {len(held)} test molecules ({time.time() - t:.0f} s):")
    print(
        f"  per token: KL(fp32 || bf16) {d['kl']:.2e} nats, most likely token differs at {d['flip']:.2e} of steps, "
        f"NLL of the true token {d['nll32']:.5f} (fp32) / {d['nll16']:.5f} (bf16)"
    )
    print(f"  per molecule: KL {d['kl_per_molecule']:.2e} nats on average, {d['kl_worst']:.2e} at most")
    for seed in range(args.fcd_seeds):
        for precision in ("fp32", "bf16"):
            model.codec.sample_dtype = torch.float32 if precision == "fp32" else torch.bfloat16
            t = time.time()
            smi = [s for s in model.sample(10000, temperature=1.0, seed=seed, n_jobs=args.jobs) if s]
            fcd = fcd_test(smi, args.jobs)
            print(f"  seed {seed}, {precision}: FCD/Test {fcd:.4f} at T = 1 ({time.time() - t:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
