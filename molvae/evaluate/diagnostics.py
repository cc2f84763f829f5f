"""Diagnostics of a trained model: reconstruction, latent usage, property head, condition control.

>>> from molvae import MolVAE                                    # doctest: +SKIP
>>> from molvae.evaluate.diagnostics import diagnose
>>> d = diagnose(MolVAE.load("runs/demo"), heldout_smiles)       # doctest: +SKIP
>>> d["reconstruction"]["exact"], d["latent"]["active_units"]    # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from molvae.generate.stream import PRIOR_DRAWS, GenerationRequest, collect, generate_chunks
from molvae.nn.model import ConditionalVAE, gaussian_kl

if TYPE_CHECKING:  # pragma: no cover
    from molvae.nn.codec import LatentCodec

log = logging.getLogger(__name__)

# Tolerances of the condition-control benchmark (issue: logp ±0.5, qed ±0.05, sa ±0.3, mw ±15, tpsa ±10).
TOLERANCES = {
    "logp": 0.5,
    "qed": 0.05,
    "sa": 0.3,
    "mw": 15.0,
    "tpsa": 10.0,
    "hbd": 0.5,
    "hba": 0.5,
    "rotb": 0.5,
    "plogp": 0.5,
    "heavy_atoms": 0.5,
}
ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. 2016: Cov_x(E_q[z_u]) > 0.01


@torch.no_grad()
def reconstruction(codec: LatentCodec, smiles: Sequence[str], batch_size: int = 512) -> dict[str, Any]:
    """Exact reconstruction (greedy decode of the posterior mean, own properties as condition)
    and teacher-forced token accuracy, plus the posterior statistics used by :func:`latent_usage`.
    """
    from molvae.chem.molecules import canonical_smiles

    smiles = list(smiles)
    prepared = codec.prepare(smiles)
    correct = total = 0
    exact = 0
    mus, logvars = [], []
    for b in codec.prepared_batches(prepared, batch_size):
        tok, cond = b.tokens, b.condition
        mu, logvar = codec.model.encode(tok, b.lengths, cond)
        mus.append(mu.float().cpu())
        logvars.append(logvar.float().cpu())
        start = torch.full((tok.size(0), 1), ConditionalVAE.START, dtype=torch.long, device=codec.device)
        logits, _ = codec.model.decoder(torch.cat([start, tok[:, :-1]], 1), mu, cond)
        mask = tok != ConditionalVAE.PAD
        correct += int(((logits.argmax(-1) == tok) & mask).sum())
        total += int(mask.sum())
        decoded = codec.decode_latents(mu, cond, properties=(), n_jobs=1)
        for c, i in zip(decoded, prepared.indices[b.start : b.start + batch_size]):
            exact += int(c.smiles is not None and c.smiles == canonical_smiles(smiles[i]))
    n = len(prepared)
    mu = torch.cat(mus) if mus else torch.zeros(0, codec.latent_dim)
    logvar = torch.cat(logvars) if logvars else torch.zeros(0, codec.latent_dim)
    return {
        "n": n,
        "n_rejected": len(prepared.rejects),
        "exact": exact / n if n else None,
        "token_accuracy": correct / total if total else None,
        "_mu": mu,
        "_logvar": logvar,
        "_props": np.asarray(prepared.properties, dtype=np.float64).reshape(n, len(codec.property_names)),
    }


def latent_usage(mu: torch.Tensor, logvar: torch.Tensor) -> dict[str, Any]:
    """KL per latent dimension, active units, and a collapse verdict."""
    if mu.size(0) < 2:
        return {"kl_per_dim": [], "kl_total": None, "active_units": None, "collapsed": None}
    kl = gaussian_kl(mu, logvar).tolist()
    au = mu.var(0) > ACTIVE_UNIT_THRESHOLD
    n_active = int(au.sum())
    collapsed = n_active == 0 or sum(kl) < 0.1
    if collapsed:
        log.warning("posterior collapse: %d active latent units, total KL %.3f nats", n_active, sum(kl))
    return {
        "kl_per_dim": kl,
        "kl_total": float(sum(kl)),
        "active_units": n_active,
        "latent_dim": int(mu.size(1)),
        "collapsed": bool(collapsed),
        "aggregate": aggregate_posterior(mu, logvar),
    }


def aggregate_posterior(mu: torch.Tensor, logvar: torch.Tensor) -> dict[str, float]:
    """How far the aggregate posterior (the mixture of every molecule's posterior) is from the prior
    N(0, I) that sampling draws from: its mean's norm, the extreme eigenvalues of its covariance
    (Cov(mu) + mean posterior variance), and the KL from the Gaussian with those moments to N(0, I)
    (nats; 0 when the moments match the prior's). Prior samples land where the decoder was trained
    only when this is small."""
    mu64, var = mu.double(), logvar.double().exp()
    mean = mu64.mean(0)
    cov = torch.cov(mu64.T).reshape(mu.size(1), mu.size(1)) + torch.diag(var.mean(0))
    eig = torch.linalg.eigvalsh(cov).clamp_min(1e-12)
    kl = 0.5 * float(eig.sum() + mean.pow(2).sum() - mu.size(1) - eig.log().sum())
    return {
        "mean_norm": float(mean.norm()),
        "cov_eig_min": float(eig[0]),
        "cov_eig_max": float(eig[-1]),
        "gaussian_kl_to_prior": kl,
    }


@torch.no_grad()
def property_head_error(codec: LatentCodec, mu: torch.Tensor, props: np.ndarray) -> dict[str, float]:
    """Mean absolute error of the property head (from the posterior mean) in each property's units."""
    if len(props) == 0:
        return {}
    pred = codec.model.property_head(mu.to(codec.device)).float().cpu().numpy()
    pred = codec.scaler.inverse(pred)
    return {name: float(np.mean(np.abs(pred[:, i] - props[:, i]))) for i, name in enumerate(codec.property_names)}


def condition_control(
    codec: LatentCodec,
    n_per_value: int = 200,
    n_values: int = 9,
    seed: int = 0,
    properties: Sequence[str] | None = None,
    temperature: float | None = None,
    guidance: float = 0.0,
    prior_draws: int = PRIOR_DRAWS,
) -> dict[str, Any]:
    """For each conditioning property: requested values spread over its 5th–95th training
    percentiles, ``n_per_value`` samples each (other properties free, decoder ``temperature``,
    default the model's; classifier-free ``guidance``, default none; ``prior_draws`` as in
    generation); measured MAE, share within tolerance, and per-value mean/std of the measured
    property (for sweep plots).
    """
    out: dict[str, Any] = {}
    for name in properties or codec.property_names:
        i = codec.property_names.index(name)
        lo, hi = codec.scaler.p5[i], codec.scaler.p95[i]
        tol = TOLERANCES.get(name, 0.5)
        requested, means, stds, errors, hits = [], [], [], [], []
        n_valid = n_total = 0
        for k, value in enumerate(np.linspace(lo, hi, n_values)):
            req = GenerationRequest(
                n_per_value,
                condition={name: float(value)},
                seed=seed + k,
                temperature=temperature,
                guidance=guidance,
                prior_draws=prior_draws,
            )
            gen = collect(generate_chunks(codec, req))
            got = np.array([m.properties[name] for m in gen.molecules], dtype=np.float64)
            got = got[np.isfinite(got)]
            n_valid += len(got)
            n_total += n_per_value
            requested.append(float(value))
            means.append(float(got.mean()) if len(got) else float("nan"))
            stds.append(float(got.std()) if len(got) else float("nan"))
            errors.extend(np.abs(got - value).tolist())
            hits.extend((np.abs(got - value) <= tol).tolist())
        out[name] = {
            "tolerance": tol,
            "mae": float(np.mean(errors)) if errors else None,
            "within_tolerance": float(np.mean(hits)) if hits else None,
            "validity": n_valid / n_total if n_total else None,
            "requested": requested,
            "measured_mean": means,
            "measured_std": stds,
        }
    return out


def diagnose(
    codec: LatentCodec,
    heldout_smiles: Sequence[str],
    control_n: int = 200,
    seed: int = 0,
    control: bool = True,
    temperature: float | None = None,
) -> dict[str, Any]:
    """All diagnostics of a model on held-out molecules (JSON-serialisable except ``_`` keys);
    the condition sweeps sample at ``temperature`` (default: the model's)."""
    rec = reconstruction(codec, heldout_smiles)
    result: dict[str, Any] = {
        "reconstruction": {k: v for k, v in rec.items() if not k.startswith("_")},
        "latent": latent_usage(rec["_mu"], rec["_logvar"]),
        "property_head_mae": property_head_error(codec, rec["_mu"], rec["_props"]),
        "_mu": rec["_mu"].numpy(),
        "_props": rec["_props"],
    }
    if control:
        result["condition_control"] = condition_control(
            codec, n_per_value=control_n, seed=seed, temperature=temperature
        )
    return result
