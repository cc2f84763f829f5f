"""The latent genetic algorithm's parent choice and first-generation size."""

from __future__ import annotations

import numpy as np

from molvae.evolve import INITIAL, initial_size, parent_ranks


def test_parents_are_drawn_from_every_rank_the_best_most():
    ranks = parent_ranks(np.random.default_rng(0), 50, 20000)
    assert ranks.min() == 0 and ranks.max() == 49
    counts = np.bincount(ranks, minlength=50)
    assert counts[0] > counts[4] > counts[24] > 0  # about 1 / (rank + 1)
    assert (parent_ranks(np.random.default_rng(0), 1, 5) == 0).all()


def test_first_generation_is_at_most_a_quarter_of_the_budget():
    assert initial_size(100) == 25 and initial_size(20) == 16
    assert initial_size(4000) == initial_size(20000) == INITIAL
