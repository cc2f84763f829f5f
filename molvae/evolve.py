"""A genetic algorithm on latent vectors: the ``ga`` search method of :func:`molvae.optimize.optimize`.

Each molecule the search has found is kept with the latent point it was decoded from. The
population is the best ``POPULATION`` feasible molecules of each group (a seed, or the prior).
Every generation, parents are drawn log-uniformly over the population's ranks (the best are
drawn most, every member sometimes, as in ``mol-ga``'s quantile sampling); a child is a uniform
crossover of two parents' latent vectors (each coordinate from one or the other) plus Gaussian
noise of scale ``MUTATION``, decoded and scored like every other point
(:meth:`molvae.search.Search.evaluate`: duplicates are free, invalid and guarded molecules rank last).

The first generation is ``initial_size(budget)`` points from the prior (or around each seed).
The constants were chosen on the ``benchmarks/optimize_vs_ga.py`` objectives (see the README).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from molvae.search import Search

POPULATION = 50  # parents kept per group
OFFSPRING = 100  # children per group and generation
MUTATION = 0.3  # standard deviation of the noise added to a child (prior units)
INITIAL = 1000  # first-generation size, at most a quarter of the budget


def initial_size(budget: int) -> int:
    """Points in the first generation: up to ``INITIAL``, at most a quarter of the budget (at least 16)."""
    return int(max(16, min(INITIAL, budget // 4)))


def parent_ranks(rng: np.random.Generator, k: int, n: int) -> np.ndarray:
    """``n`` ranks in [0, k): log-uniform, so rank r is drawn about as often as 1 / (r + 1)."""
    if k == 1:
        return np.zeros(n, dtype=int)
    return np.minimum(np.exp(rng.uniform(0.0, np.log(k + 1), n)).astype(int) - 1, k - 1)


def latent_ga(search: Search) -> None:
    """Run generations until the search's budget is spent."""
    s, rng = search.s, search.rng
    d = search.model.latent_dim
    width = d + len(search.searched)
    groups = search.n_groups
    size = s.popsize or POPULATION

    def fresh(n: int) -> np.ndarray:  # prior draws, or points around each group's seed
        x = rng.standard_normal((groups * n, width)).astype(np.float32)
        if search.seeds:
            x *= s.radius
            x[:, :d] += np.repeat(search.seed_z, n, axis=0)
        if search.searched:
            x[:, d:] = np.repeat(search.cond_v[:, search.searched], n, axis=0)
        return x

    n0 = initial_size(s.budget)
    search.evaluate(fresh(n0), np.repeat(np.arange(groups), n0), "ga")
    while not search.spent():
        children, group = [], []
        for g in range(groups):
            pop = sorted((r for r in search.pool.values() if r.group == g), key=lambda r: -r.score)[:size]
            if len(pop) < 2:  # nothing to breed yet: more fresh points
                children.append(fresh(OFFSPRING)[g * OFFSPRING : (g + 1) * OFFSPRING])
            else:
                x = np.stack([r.x for r in pop])
                ranks = parent_ranks(rng, len(pop), 2 * OFFSPRING)
                a, b = x[ranks[:OFFSPRING]], x[ranks[OFFSPRING:]]
                child = np.where(rng.random(a.shape) < 0.5, a, b)
                child[:, :d] += MUTATION * rng.standard_normal((OFFSPRING, d))
                children.append(child.astype(np.float32))
            group.append(np.full(OFFSPRING, g))
        search.evaluate(np.concatenate(children), np.concatenate(group), "ga")
