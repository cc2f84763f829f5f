"""Fitting a trained model's latent prior to its aggregate posterior (see :mod:`molvae.nn.prior`).

>>> codec = MolVAE.load("runs/demo").codec                           # doctest: +SKIP
>>> prior = fit_prior(codec, training_smiles, components=8)          # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from molvae.errors import BadInputError
from molvae.nn.codec import LatentCodec
from molvae.nn.prior import LatentPrior


@torch.no_grad()
def aggregate_posterior_draws(
    codec: LatentCodec, smiles: Sequence[str], seed: int = 0, batch_size: int = 512
) -> np.ndarray:
    """One latent point per molecule the model can encode, drawn from its posterior q(z | x, c)
    (``mu + sigma * eps``, the molecule's own properties as the condition): together, draws from
    the aggregate posterior. Molecules the model cannot read are left out."""
    prepared = codec.prepare(list(smiles))
    g = torch.Generator(device=codec.device).manual_seed(int(seed))
    out = []
    for b in codec.prepared_batches(prepared, batch_size):
        mu, logvar = codec.model.encode(b.tokens, b.lengths, b.condition)
        eps = torch.randn(mu.shape, generator=g, device=mu.device, dtype=torch.float32)
        out.append((mu.float() + (0.5 * logvar.float()).exp() * eps).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, codec.latent_dim), dtype=np.float32)


def fit_prior(
    codec: LatentCodec, smiles: Sequence[str], components: int = 1, seed: int = 0, batch_size: int = 512
) -> LatentPrior:
    """A :class:`LatentPrior` of ``components`` Gaussians fitted by EM to posterior draws of
    ``smiles`` (training molecules: the decoder learnt to read their codes)."""
    z = aggregate_posterior_draws(codec, smiles, seed, batch_size)
    try:
        return LatentPrior.fit(z, components, seed=seed)
    except ValueError as exc:
        raise BadInputError(f"cannot fit the latent prior: {exc}") from None
