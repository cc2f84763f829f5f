"""The ga engine: parent choice, first-generation size, operator shares, the surrogate's choice, restarts."""

from __future__ import annotations

import numpy as np
import pytest

from molvae.optimize.engines import ga
from molvae.optimize.engines.ga import initial_size, parent_ranks
from molvae.optimize.objectives import Objective
from molvae.optimize.oracle import Oracle
from molvae.optimize.run import run_search
from molvae.optimize.types import SearchSettings


def test_parents_are_drawn_from_every_rank_the_best_most():
    ranks = parent_ranks(np.random.default_rng(0), 50, 20000)
    assert ranks.min() == 0 and ranks.max() == 49
    counts = np.bincount(ranks, minlength=50)
    assert counts[0] > counts[4] > counts[24] > 0  # about 1 / (rank + 1)
    assert (parent_ranks(np.random.default_rng(0), 1, 5) == 0).all()


def test_first_generation_is_at_most_a_quarter_of_the_budget():
    assert initial_size(100) == 25 and initial_size(20) == 16
    assert initial_size(4000) == initial_size(20000) == ga.Settings().initial


def test_operator_shares_follow_success_and_never_drop_below_the_floor():
    from molvae.optimize.engines.ga import operator_shares

    share = operator_shares(np.array([9.0, 0.0, 0.0]), np.array([10.0, 10.0, 10.0]))
    assert share.sum() == pytest.approx(1.0)
    assert share[0] > share[1] == share[2] >= ga.Settings().floor
    assert operator_shares(np.zeros(4), np.zeros(4)) == pytest.approx(np.full(4, 0.25))


@pytest.mark.slow
def test_ga_spends_a_distinct_budget_exactly_with_edits_and_the_surrogate(tiny_model):
    settings = SearchSettings(budget=300, budget_counts="distinct", method="ga", seed=1)
    s = run_search(tiny_model.codec, Objective.build(maximize=["qed"]), settings)
    assert s.used() == 300 and s.step > 3  # several generations of children after the first
    again = run_search(tiny_model.codec, Objective.build(maximize=["qed"]), settings)
    assert list(again.scorer.cache) == list(s.scorer.cache)  # a seed makes it reproducible


def test_choose_passes_over_children_that_break_a_guard(tiny_model):
    from molvae.chem.molecules import mol_from_smiles
    from molvae.optimize.engines.ga import choose

    s = Oracle(
        tiny_model.codec, Objective.build(maximize=["qed"]), SearchSettings(budget=500, budget_counts="distinct")
    )
    s.scorer.evaluate(["CCO", "c1ccccc1", "CC(=O)Nc1ccccc1", "OC(=O)c1ccccc1", "Cc1ccncc1"])
    good = ["CC(=O)Nc1ccc(O)cc1", "Cc1ccccc1N", "OCc1ccccc1"]
    bad = ["CC(=O)OC(=O)C", "CCOOCC", "CCCCCCCCCCO", "C1CCCCCCCCC1"]  # anhydride, peroxide, chain, 10-ring
    assert all(s.scorer.guards.check(mol_from_smiles(m)) for m in bad)
    assert not any(s.scorer.guards.check(mol_from_smiles(m)) for m in good)
    new = bad[:2] + good[:1] + bad[2:] + good[1:]
    rng = np.random.default_rng(0)
    assert sorted(choose(s, new, 3, rng)) == sorted(good)
    picked = choose(s, new, 5, rng)
    assert len(picked) == 5 and set(good) <= set(picked)  # made up with guarded ones only when short
    assert choose(s, bad, 2, rng) and len(choose(s, bad, 2, rng)) == 2


def test_progress_counts_the_budget_unit_and_ends_at_the_budget(tiny_model, capsys):
    settings = SearchSettings(budget=120, budget_counts="distinct", method="ga", seed=1)
    s = run_search(tiny_model.codec, Objective.build(maximize=["qed"]), settings, True)  # decodes far more than 120
    err = capsys.readouterr().err
    assert s.decoded > 120 and "optimize" in err and "120/120 mol (100%)" in err and "refresh" not in err
    assert not any(f"{n}/120" in err for n in range(121, 2000))


@pytest.mark.parametrize("stall, restarts", [(1, True), (10**6, False)])
def test_a_group_whose_best_stops_rising_starts_a_fresh_population(tiny_model, caplog, stall, restarts):
    import logging

    settings = SearchSettings(
        budget=300, budget_counts="distinct", method="ga", seed=1, engine=ga.Settings(stall=stall)
    )
    flat = Objective.build(range={"logp": (-50.0, 50.0)})  # every molecule scores the best: the best never rises
    with caplog.at_level(logging.DEBUG, logger="molvae.optimize.engines.ga"):
        s = run_search(tiny_model.codec, flat, settings)
    assert s.used() == 300  # a restart spends the same budget
    assert any("restarts" in r.getMessage() for r in caplog.records) == restarts


@pytest.mark.parametrize("on", [False, True])
def test_graph_operators_breed_only_when_on(tiny_model, monkeypatch, on):
    from molvae.optimize.config import search_settings
    from molvae.optimize.engines import graph

    made = []
    for name in ("crossover", "mutate"):
        real = getattr(graph, name)
        monkeypatch.setattr(graph, name, lambda *a, _real=real, **k: made.append(1) or _real(*a, **k))
    settings = search_settings(dict(budget=150, budget_counts="distinct", seed=0, graph=on, initial=40))
    s = run_search(tiny_model.codec, Objective.build(maximize=["qed"]), settings)
    assert s.used() == 150
    assert bool(made) == on


@pytest.mark.parametrize("on", [False, True])
def test_the_sample_operator_breeds_fresh_prior_points_only_when_on(tiny_model, monkeypatch, on):
    from molvae.optimize.config import search_settings

    draws = []
    real = type(tiny_model.codec).prior_points
    monkeypatch.setattr(
        type(tiny_model.codec), "prior_points", lambda self, z, rng: draws.append(len(z)) or real(self, z, rng)
    )
    settings = search_settings(dict(budget=150, budget_counts="distinct", seed=0, sample=on, initial=40))
    s = run_search(tiny_model.codec, Objective.build(maximize=["qed"]), settings)
    assert s.used() == 150
    first = [2 * initial_size(150, 40)]  # the first generation's draws (twice, to score those that pass the guards)
    assert draws[:1] == first and (len(draws) > 1) == on  # then the operator's, each generation
