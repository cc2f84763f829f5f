"""``gradient``: many starting points z (from the prior, or around each seed) climb the model's
property head by Adam, with a prior penalty (and a trust region around a seed). Only for
properties the head predicts (and plogp ≈ logP − SA from them); every point decoded on the way
is scored with RDKit like any other."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from molvae.errors import ConfigError
from molvae.nn.codec import LatentCodec
from molvae.optimize.objectives import Objective
from molvae.optimize.oracle import Oracle
from molvae.optimize.surrogates.head import HeadSurrogate
from molvae.optimize.types import check_numbers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settings:
    restarts: int | None = None  # starting points per group (default 32 from the prior, 2 per seed)
    steps: int = 60  # Adam steps
    lr: float = 0.1  # Adam step size
    prior_weight: float = 0.05  # weight of ||z||^2 / 2 in the loss

    def __post_init__(self) -> None:
        check_numbers(self, ("restarts", "steps"), ("lr", "prior_weight"))
        if self.restarts is not None and self.restarts < 1:
            raise ConfigError("restarts must be positive")
        if self.steps < 1:
            raise ConfigError("steps must be positive")


def head_surrogate(codec: LatentCodec, objective: Objective, method: str) -> HeadSurrogate:
    """The property head's stand-in for ``objective``; a :class:`ConfigError` when it predicts no term."""
    surrogate = HeadSurrogate.build(objective, codec)
    if surrogate is None:
        raise ConfigError(
            f"method {method} needs an objective the property head predicts; the model's head "
            f"knows {', '.join(codec.property_names)} (and plogp from logp and sa): use method cma"
        )
    return surrogate


def check(codec: LatentCodec, objective: Objective) -> None:
    if not head_surrogate(codec, objective, "gradient").complete:
        log.info("the property head predicts only some terms; the gradient follows those, the score counts all")


def run(oracle: Oracle, settings: Settings) -> None:
    ascend(oracle, settings, oracle.total_budget)


def ascend(oracle: Oracle, s: Settings, budget: int) -> None:
    """Gradient ascent from fresh starting points, decoding at evenly spread steps, within ``budget``."""
    surrogate = head_surrogate(oracle.codec, oracle.objective, oracle.s.method)
    per_group = s.restarts or (2 if oracle.seeds else 32)
    z0, group = oracle.starts(per_group)
    n = len(z0)
    rounds = max(1, min(s.steps + 1, budget // (n * oracle.s.samples_per_z)))
    end = oracle.used() + budget
    decode_at = set(np.linspace(0, s.steps, rounds).round().astype(int).tolist())
    z = torch.from_numpy(z0).to(oracle.dev).requires_grad_(True)
    centre = torch.from_numpy(oracle.seed_z[group]).to(oracle.dev) if oracle.seeds else None
    opt = torch.optim.Adam([z], lr=s.lr)
    head = oracle.codec.model.property_head
    pad = np.zeros((n, len(oracle.searched)), dtype=np.float32)
    radius = oracle.s.radius
    for t in range(s.steps + 1):
        if t in decode_at:
            x = np.concatenate([z.detach().cpu().numpy(), pad + oracle.cond_v[group][:, oracle.searched]], axis=1)
            oracle.evaluate(x, group, "gradient", end)
        if t == s.steps or oracle.spent(end):
            break
        with torch.enable_grad():
            gain = surrogate(head(z))
            penalty = 0.5 * s.prior_weight * z.pow(2).sum(1)
            if centre is not None:  # stay within about `radius` of the seed
                penalty = penalty + 0.5 * (z - centre).pow(2).sum(1) / (radius**2 * z.size(1))
            loss = (penalty - gain).sum()
            (grad,) = torch.autograd.grad(loss, [z])
        z.grad = grad
        opt.step()
