"""A latent prior fitted to the aggregate posterior: a Gaussian mixture over the training encodings.

A VAE trains its encoder towards N(0, I), but what the decoder learns to read is the aggregate
posterior: the mixture of every training molecule's q(z | x). With a small KL weight (beta) the two
part, and points drawn from N(0, I) land where the decoder saw few codes. Sampling from a density
fitted to the encodings instead (Bauer & Mnih 2019 and the VampPrior of Tomczak & Welling 2018 make
the same point) puts prior samples where the decoder was trained. :meth:`LatentPrior.fit` fits K
full-covariance Gaussians by EM to latent points drawn from the encoder (one per molecule,
``mu + sigma * eps``); a model that carries one samples from it wherever it draws from its prior
(:meth:`molvae.nn.codec.LatentCodec.prior_latents`). A model without one samples from N(0, I), as
it always did.

>>> rng = np.random.default_rng(0)
>>> prior = LatentPrior.fit(rng.normal(2.0, 0.5, size=(4000, 2)), components=1)
>>> prior.means.round(1).tolist(), np.diag(prior.scales[0]).round(1).tolist()
([[2.0, 2.0]], [0.5, 0.5])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

#: added to every fitted covariance's diagonal (the encodings' variances are of order 1)
RIDGE = 1e-4


@dataclass(frozen=True)
class LatentPrior:
    """K Gaussians in the latent space: ``weights`` [K] (summing to 1), ``means`` [K, d] and the
    lower-triangular Cholesky factors ``scales`` [K, d, d] of their covariances."""

    weights: np.ndarray
    means: np.ndarray
    scales: np.ndarray

    def __post_init__(self) -> None:
        w, m, s = (np.asarray(a, dtype=np.float64) for a in (self.weights, self.means, self.scales))
        if w.ndim != 1 or m.ndim != 2 or s.ndim != 3 or not len(w) == len(m) == len(s) >= 1:
            raise ValueError(f"prior arrays of shapes {w.shape}, {m.shape}, {s.shape} do not describe K Gaussians")
        if s.shape[1:] != (m.shape[1], m.shape[1]):
            raise ValueError(f"prior scales of shape {s.shape} do not match means of shape {m.shape}")
        if not (np.isfinite(w).all() and np.isfinite(m).all() and np.isfinite(s).all()):
            raise ValueError("prior arrays hold non-finite values")
        if (w <= 0).any() or abs(w.sum() - 1.0) > 1e-6:
            raise ValueError("prior weights must be positive and sum to 1")
        if (np.diagonal(s, axis1=1, axis2=2) <= 0).any() or np.triu(s, 1).any():
            raise ValueError("prior scales must be lower-triangular with a positive diagonal")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "means", m)
        object.__setattr__(self, "scales", s)

    @property
    def components(self) -> int:
        return len(self.weights)

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def component_of(self, u: np.ndarray) -> np.ndarray:
        """The component each uniform draw ``u`` in [0, 1) picks (with probability its weight)."""
        return np.minimum(np.searchsorted(np.cumsum(self.weights), u, side="right"), self.components - 1)

    def transform(self, noise: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """Points of the prior from standard-normal ``noise`` [n, d] and, for a mixture, uniform
        draws ``u`` [n] that choose each point's component: ``mean_k + scale_k @ noise``."""
        if self.components > 1 and u is None:
            raise ValueError("a mixture prior needs uniform draws to choose its components")
        k = np.zeros(len(noise), dtype=np.int64) if u is None or self.components == 1 else self.component_of(u)
        z = self.means[k] + np.einsum("nij,nj->ni", self.scales[k], np.asarray(noise, dtype=np.float64))
        return z.astype(np.asarray(noise).dtype, copy=False)

    def transform_torch(self, noise: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        """:meth:`transform` on tensors (on the noise's device and dtype)."""
        out = self.transform(noise.detach().cpu().double().numpy(), None if u is None else u.detach().cpu().numpy())
        return torch.from_numpy(out).to(device=noise.device, dtype=noise.dtype)

    def log_density(self, z: np.ndarray) -> np.ndarray:
        """log p(z) of each point of ``z`` [n, d] under the mixture."""
        from scipy.special import logsumexp  # only fitting and densities need it, not loading a model

        return logsumexp(self._log_joint(np.asarray(z, dtype=np.float64)), axis=1)

    def _log_joint(self, z: np.ndarray) -> np.ndarray:
        """[n, K]: log weight_k + log N(z; mean_k, cov_k)."""
        out = np.empty((len(z), self.components))
        for k in range(self.components):
            inv = np.linalg.inv(self.scales[k])
            r = (z - self.means[k]) @ inv.T
            logdet = 2.0 * np.log(np.diagonal(self.scales[k])).sum()
            out[:, k] = np.log(self.weights[k]) - 0.5 * ((r * r).sum(1) + logdet + self.dim * np.log(2 * np.pi))
        return out

    @classmethod
    def fit(
        cls, z: np.ndarray, components: int = 1, seed: int = 0, iterations: int = 200, tol: float = 1e-5
    ) -> LatentPrior:
        """Fit ``components`` full-covariance Gaussians to the points ``z`` [n, d] by EM, started
        from k-means++ centres drawn with ``seed``; stops when the mean log-likelihood gains less
        than ``tol`` in an iteration."""
        z = np.asarray(z, dtype=np.float64)
        n, d = z.shape
        if components < 1 or n < max(2, components * (d + 1)):
            raise ValueError(f"{n} points cannot fit {components} Gaussian(s) in {d} dimensions")
        if not np.isfinite(z).all():
            raise ValueError("the points to fit hold non-finite values")
        from scipy.special import logsumexp

        rng = np.random.default_rng(seed)
        resp = _kmeans_pp_responsibilities(z, components, rng)
        prior, last = cls._m_step(z, resp), -np.inf
        for _ in range(iterations):
            joint = prior._log_joint(z)
            total = logsumexp(joint, axis=1)
            ll = float(total.mean())
            if ll - last < tol:
                break
            last = ll
            prior = cls._m_step(z, np.exp(joint - total[:, None]))
        return prior

    @classmethod
    def _m_step(cls, z: np.ndarray, resp: np.ndarray) -> LatentPrior:
        nk = resp.sum(0) + 1e-12
        means = (resp.T @ z) / nk[:, None]
        scales = []
        for k in range(resp.shape[1]):
            r = z - means[k]
            cov = (resp[:, k, None] * r).T @ r / nk[k] + RIDGE * np.eye(z.shape[1])
            scales.append(np.linalg.cholesky(cov))
        return cls(nk / nk.sum(), means, np.stack(scales))

    def to_payload(self) -> dict[str, Any]:
        """Plain tensors for a checkpoint (float32 is plenty for sampling)."""
        return {
            "weights": torch.tensor(self.weights, dtype=torch.float64),
            "means": torch.tensor(self.means, dtype=torch.float32),
            "scales": torch.tensor(self.scales, dtype=torch.float32),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> LatentPrior:
        w = np.asarray(payload["weights"], dtype=np.float64)
        return cls(w / w.sum(), np.asarray(payload["means"]), np.tril(np.asarray(payload["scales"])))


def _kmeans_pp_responsibilities(z: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Hard assignments [n, k] of ``z`` to k-means++ centres (one component: all to it)."""
    if k == 1:
        return np.ones((len(z), 1))
    centres = [z[rng.integers(len(z))]]
    d2 = ((z - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        centres.append(z[rng.choice(len(z), p=d2 / d2.sum())])
        d2 = np.minimum(d2, ((z - centres[-1]) ** 2).sum(1))
    c = np.stack(centres)
    dist = (c * c).sum(1)[None, :] - 2.0 * z @ c.T  # |z - c|^2 less |z|^2, the same for every centre
    return np.eye(k)[dist.argmin(1)]
