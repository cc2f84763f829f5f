"""``cma``: CMA-ES (the ``cma`` package) over z — and, with ``condition="search"``, over the
decoder's condition values too — scored by the real objective on decoded molecules, so it works
for any objective, user functions included. Several runs go in lock step (one decoding batch
per generation) and restart when they stop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cma
import numpy as np

from molvae.errors import ConfigError
from molvae.optimize.oracle import Oracle
from molvae.optimize.types import check_numbers


@dataclass(frozen=True)
class Settings:
    restarts: int | None = None  # runs per group in lock step (default 8 from the prior, 2 per seed)
    sigma: float = 0.5  # step size when refining a good point (from the prior: 1; at a seed: the radius)
    popsize: int | None = None  # population of each run (default: cma's 4 + 3 ln n)

    def __post_init__(self) -> None:
        check_numbers(self, ("restarts", "popsize"), ("sigma",))
        if self.restarts is not None and self.restarts < 1:
            raise ConfigError("restarts must be positive")
        if self.sigma <= 0:
            raise ConfigError("sigma must be positive")
        if self.popsize is not None and self.popsize < 2:
            raise ConfigError("popsize must be at least 2")


def run(oracle: Oracle, settings: Settings) -> None:
    search(oracle, settings, oracle.total_budget, refine=False)


def search(oracle: Oracle, s: Settings, budget: int, refine: bool) -> None:
    """Lock-step CMA-ES runs, one batch of decodes per generation; stopped runs restart.

    With ``refine``, a quarter of the runs start around the best molecules found so far."""
    per_group = s.restarts or (2 if oracle.seeds else 8)
    end = oracle.used() + budget
    runs: list[tuple[Any, int]] = []
    for g in range(oracle.n_groups):
        for k in range(per_group):
            runs.append((_new_run(oracle, s, g, k, refine), g))
    while not oracle.spent(end) and runs:
        asks = [np.asarray(es.ask(), dtype=np.float32) for es, _ in runs]
        x = np.concatenate(asks)
        group = np.concatenate([np.full(len(a), g) for a, (_, g) in zip(asks, runs)])
        f = oracle.evaluate(x, group, "cma", end).fitness
        pos = 0
        for i, (es, g) in enumerate(runs):
            k = len(asks[i])
            es.tell(list(asks[i].astype(np.float64)), f[pos : pos + k].tolist())
            pos += k
            if es.stop():
                runs[i] = (_new_run(oracle, s, g, int(oracle.rng.integers(1 << 30)), refine), g)


def _new_run(oracle: Oracle, s: Settings, group: int, k: int, refine: bool) -> Any:
    """A CMA-ES run: around a good point found so far (refine), a seed, or the prior."""
    opts = {"seed": int(oracle.rng.integers(1, 1 << 30)), "verbose": -9, "CMA_diagonal": False}
    if s.popsize:
        opts["popsize"] = s.popsize
    mine = (
        sorted((r for r in oracle.pool.values() if r.group == group), key=lambda r: -r.score)[:8]
        if refine and k % 4 == 0
        else []
    )
    cond0 = oracle.cond_v[group][oracle.searched]
    if mine:  # a quarter of the runs refine good points found so far, the rest keep exploring
        x0, sigma = mine[(k // 4) % len(mine)].x, s.sigma
    elif oracle.seeds:
        x0, sigma = np.concatenate([oracle.seed_z[group], cond0]), oracle.s.radius
    else:
        x0, sigma = np.concatenate([np.zeros(oracle.latent_dim, dtype=np.float32), cond0]), 1.0
    return cma.CMAEvolutionStrategy(np.asarray(x0, dtype=np.float64), sigma, opts)
