"""Issue 23 item 2: what a checkpoint's latent space carries, and how far its aggregate posterior is
from the N(0, I) prior that sampling draws from.

    python benchmarks/pretrained/latent.py --model A.ckpt [--model B.ckpt ...] [--n 10000]

For each model, on the first ``--n`` molecules of the MOSES test set (the card's held-out set):
exact reconstruction (greedy decode of the posterior mean, own properties as the condition, as the
card measures it), teacher-forced token accuracy, KL of the posterior to the prior (nats per
molecule, summed over dimensions), active units (Burda et al. 2016), the property head's MAE, and
the aggregate posterior's moments (:func:`molvae.evaluate.diagnostics.aggregate_posterior`). A
lower beta buys reconstruction with KL; when it also moves the aggregate posterior away from
N(0, I), prior samples land where the decoder was not trained, which FCD of prior samples
(``scaling.py fcd``) then shows.

``--posterior-fcd N`` also decodes one posterior draw of each of N random MOSES *training*
molecules (seed 0; unconditioned, as prior samples are) at temperature 1 and 0.2, and gives FCD/Test
of those decodes: the FCD a perfect prior (one that draws from the aggregate posterior) would reach
with this decoder. Far below the prior samples' FCD, the prior is what costs quality and a better
one (a fitted mixture, a flow) can recover it; close to it, the decoder is what needs work.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--model", action="append", required=True, help="a checkpoint, run folder or 'pretrained' (repeatable)"
    )
    ap.add_argument("--n", type=int, default=10000, help="MOSES test molecules (the first n; default 10,000)")
    ap.add_argument(
        "--posterior-fcd",
        type=int,
        default=0,
        metavar="N",
        help="FCD/Test of decoded posterior draws of N training molecules",
    )
    ap.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto", help="decoder precision")
    args = ap.parse_args()

    import torch

    from molvae import MolVAE
    from molvae.evaluate.diagnostics import latent_usage, property_head_error, reconstruction
    from molvae.evaluate.metrics.packaged import MOSES_HELDOUT
    from molvae.io.readers import iter_smiles

    print(machine())
    torch.manual_seed(0)
    held = [smi for _, smi in itertools.islice(iter_smiles(MOSES_HELDOUT), args.n)]
    for path in args.model:
        t = time.time()
        kw = {"device": "cpu", "precision": args.precision}
        model = MolVAE.pretrained(**kw) if path == "pretrained" else MolVAE.load(path, **kw)
        rec = reconstruction(model.codec, held)
        lat = latent_usage(rec["_mu"], rec["_logvar"])
        agg = lat["aggregate"]
        mae = property_head_error(model.codec, rec["_mu"], rec["_props"])
        print(
            f"\n{path} ({rec['n']} test molecules, decoder {model.codec.sample_dtype}, "
            f"{time.time() - t:.0f} s, load {os.getloadavg()[0]:.1f})"
        )
        print(f"  exact reconstruction {rec['exact']:.4f}, token accuracy {rec['token_accuracy']:.4f}")
        print(
            f"  KL to the prior {lat['kl_total']:.2f} nats, active units {lat['active_units']} of {lat['latent_dim']}"
        )
        print(
            f"  aggregate posterior: |mean| {agg['mean_norm']:.3f}, covariance eigenvalues "
            f"{agg['cov_eig_min']:.3f} .. {agg['cov_eig_max']:.3f}, Gaussian KL to N(0, I) {agg['gaussian_kl_to_prior']:.2f} nats"
        )
        print("  property head MAE " + ", ".join(f"{k} {v:.3f}" for k, v in mae.items()))
        if args.posterior_fcd:
            for temperature, fcd in posterior_fcd(model, args.posterior_fcd).items():
                print(
                    f"  FCD/Test of decoded posterior draws of {args.posterior_fcd} training molecules, T = {temperature}: {fcd:.3f}"
                )


def posterior_fcd(model, n: int, temperatures=(1.0, 0.2)) -> dict[float, float]:
    """FCD/Test of one decode (unconditioned, seed 0) of one posterior draw of each of ``n`` random
    MOSES training molecules, at each temperature."""
    from _common import fcd_test, sample_train

    from molvae.train.prior import aggregate_posterior_draws

    z = aggregate_posterior_draws(model.codec, sample_train(n, 0), seed=0)
    jobs = os.cpu_count() or 1
    return {t: fcd_test([s for s in model.decode(z, temperature=t, seed=0) if s], jobs) for t in temperatures}


if __name__ == "__main__":
    main()
