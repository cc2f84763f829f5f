"""The oracle: decoding, scoring and the budget, whatever the engine."""

from __future__ import annotations

import numpy as np

from molvae.optimize.objectives import Objective
from molvae.optimize.oracle import Oracle
from molvae.optimize.types import SearchSettings


def test_evaluate_scores_only_what_keep_chooses(tiny_model):
    s = Oracle(
        tiny_model.codec, Objective.build(maximize=["qed"]), SearchSettings(budget=500, budget_counts="distinct")
    )
    x = np.random.default_rng(0).standard_normal((40, tiny_model.latent_dim)).astype(np.float32)
    offered: list[list[str]] = []
    ev = s.evaluate(x, np.zeros(40, dtype=int), "ga", keep=lambda new: offered.append(new) or new[:3])
    assert len(offered[0]) > 3 and s.used() == 3 and len(s.pool) + len(s.infeasible) == 3
    assert set(s.scorer.cache) == set(offered[0][:3]) and ev.new.sum() >= 1 and len(ev.fitness) == 40


def test_evaluate_smiles_checks_counts_and_stops_at_the_budget_like_a_decode(tiny_model):
    from molvae.optimize.types import WORST

    s = Oracle(tiny_model.codec, Objective.build(maximize=["qed"]), SearchSettings(budget=3, budget_counts="distinct"))
    made = ["OCC", "C=C[NH]", "c1ccccc1", "CCN", "CCCl"]  # a radical, then more valid molecules than the budget
    x = np.arange(5 * s.width, dtype=np.float32).reshape(5, s.width)
    ev = s.evaluate_smiles(made, x, np.zeros(5, dtype=int), "ga")
    assert s.invalid == 1 and s.used() == 3 and sorted(s.scorer.cache) == ["CCN", "CCO", "c1ccccc1"]
    assert ev.fitness[1] == WORST and ev.fitness[4] == WORST and ev.new.tolist() == [True, False, True, True, False]
    assert (s.pool[(0, "CCN")].x == x[3]).all()  # the point it came from is kept with it


def test_keep_gets_the_molecules_the_decoding_check_parsed(tiny_model):
    """A chooser asks ``mol`` for the molecules it picks from: the check's own (no second parse),
    the same molecule as the SMILES; outside a choice, ``mol`` parses."""
    from rdkit import Chem

    s = Oracle(
        tiny_model.codec, Objective.build(maximize=["qed"]), SearchSettings(budget=500, budget_counts="distinct")
    )
    x = np.random.default_rng(1).standard_normal((40, tiny_model.latent_dim)).astype(np.float32)
    seen = []

    def keep(new: list[str]) -> list[str]:
        for smi in new:
            mol = s.mol(smi)
            assert mol is s.parsed[smi] and Chem.MolToSmiles(mol) == smi
            seen.append(smi)
        return new[:2]

    s.evaluate(x, np.zeros(40, dtype=int), "ga", keep=keep)
    assert seen and s.parsed == {}
    assert Chem.MolToSmiles(s.mol(seen[0])) == seen[0] and s.mol("not a molecule") is None
