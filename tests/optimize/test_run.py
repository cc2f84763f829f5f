"""Latent-space search on the tiny model: every path returns ranked, deduplicated, re-checked molecules."""

from __future__ import annotations

import csv
import math
import os
import signal
import sys
import textwrap

import pytest

from molvae.chem.molecules import canonical_smiles, mol_from_smiles, tanimoto
from molvae.chem.properties import PROPERTIES, compute
from molvae.errors import ConfigError, EncodingError
from molvae.io.writers import write_molecules
from molvae.optimize.oracle import Oracle
from molvae.optimize.types import OptimizationInterrupted, SeedError
from tests.conftest import moses

ALL = list(PROPERTIES)


def check_ranked_and_rescored(result, objective_of) -> None:
    """Distinct SMILES, best first (per seed), and every number equal to RDKit's on the SMILES."""
    cands = result.candidates
    assert cands, "the search found nothing"
    keys = [(c.seed, c.smiles) for c in cands]
    assert len(set(keys)) == len(keys)
    for seed in {c.seed for c in cands}:
        scores = [c.score for c in cands if c.seed == seed]
        assert scores == sorted(scores, reverse=True)
    for c in cands:
        assert canonical_smiles(c.smiles) == c.smiles
        props = compute(c.smiles, ALL)
        assert c.properties == pytest.approx(props, nan_ok=True)
        assert c.score == pytest.approx(objective_of(c.smiles, props), abs=1e-9)


def check_csv(result, path) -> list[dict]:
    """The CSV a user gets holds the same ranking, and its numbers match RDKit re-scoring."""
    write_molecules(path, result.rows(), result.columns)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["smiles"] for r in rows] == [c.smiles for c in result.candidates]
    for r in rows:
        props = compute(r["smiles"], ALL)
        for name in ALL:
            assert float(r[name]) == pytest.approx(props[name], abs=1e-4)
        assert r["novel"] in ("0", "1") and int(r["step"]) >= 1
    return rows


def test_gradient_ascent_on_the_property_head(tiny_model, tmp_path):
    res = tiny_model.optimize("qed", method="gradient", budget=400, restarts=16, steps=20, seed=0, top=None)
    assert res.n_decoded >= 400 - 32 and {c.method for c in res.candidates} == {"gradient"}
    check_ranked_and_rescored(res, lambda s, p: p["qed"])
    rows = check_csv(res, tmp_path / "g.csv")
    assert float(rows[0]["objective"]) == pytest.approx(float(rows[0]["qed"]), abs=1e-4)
    assert res.history[-1][2] == pytest.approx(res.candidates[0].score)
    assert res.n_unique == len(res.candidates) + res.n_infeasible  # nothing else is lost


def test_cma_es_on_a_combined_objective(tiny_model, tmp_path):
    obj = {
        "objective": [
            {"property": "logp", "goal": "target", "target": 2.0},
            {"property": "tpsa", "goal": "minimize", "weight": 0.01},
        ]
    }
    res = tiny_model.optimize(obj, method="cma", budget=300, seed=1, top=20)
    assert {c.method for c in res.candidates} == {"cma"} and len(res.candidates) == 20
    check_ranked_and_rescored(res, lambda s, p: -abs(p["logp"] - 2.0) - 0.01 * p["tpsa"])
    check_csv(res, tmp_path / "c.csv")


def test_gradient_then_cma_and_searched_condition(tiny_model):
    res = tiny_model.optimize(
        {"objective": [{"property": "plogp"}]}, method="gradient+cma", budget=300, seed=2, condition="search"
    )
    assert {c.method for c in res.candidates} <= {"gradient", "cma"} and "cma" in {c.method for c in res.candidates}
    check_ranked_and_rescored(res, lambda s, p: p["plogp"])


def test_same_seed_same_result(tiny_model):
    a = tiny_model.optimize("qed", budget=200, seed=5, top=10)
    b = tiny_model.optimize("qed", budget=200, seed=5, top=10)
    assert [(c.smiles, c.step) for c in a.candidates] == [(c.smiles, c.step) for c in b.candidates]


def test_gradient_needs_properties_the_head_knows(tiny_model):
    with pytest.raises(ConfigError, match="method gradient needs an objective the property head predicts"):
        tiny_model.optimize("tpsa", method="gradient", budget=50)
    with pytest.raises(ConfigError, match="budget must be positive"):
        tiny_model.optimize("qed", budget=0)
    with pytest.raises(ConfigError, match="unknown method 'annealing'"):
        tiny_model.optimize("qed", method="annealing")
    with pytest.raises(ConfigError, match=r"settings: unknown key\(s\) budgett"):
        tiny_model.optimize("qed", budgett=10)
    with pytest.raises(ConfigError, match="top must be positive"):
        tiny_model.optimize("qed", top=0)


def test_similarity_constraint_is_respected_for_each_seed(tiny_model):
    seeds = moses(2, skip=3)
    free = tiny_model.optimize({"objective": [{"property": "qed"}]}, seeds=seeds, budget=300, seed=0, top=None)
    sims = sorted(c.similarity for c in free.candidates)
    delta = sims[len(sims) // 2]  # a tiny model rarely decodes close to a seed: ask for the better half
    obj = {"objective": [{"property": "qed"}], "constraints": {"similarity": delta}}
    res = tiny_model.optimize(obj, seeds=seeds, budget=300, seed=0, top=None)
    canon = [canonical_smiles(s) for s in seeds]
    assert res.seeds == canon and len(res.seed_scores) == 2
    assert res.candidates, "nothing similar enough was found"
    for c in res.candidates:
        assert c.seed in canon and c.smiles != c.seed
        assert c.similarity == pytest.approx(tanimoto(c.smiles, c.seed))
        assert c.similarity >= delta
    assert res.n_infeasible > 0  # the constraint did reject molecules
    check_ranked_and_rescored(res, lambda s, p: p["qed"])
    assert res.best(0) is None or res.best(0).seed == canon[0]


def test_substructure_and_size_constraints_are_respected(tiny_model):
    obj = {
        "objective": [{"property": "qed"}],
        "constraints": {"require": ["[Cl,Br]"], "forbid": ["[#7]"], "max_heavy_atoms": 10},
    }
    res = tiny_model.optimize(obj, budget=400, seed=0, top=None)
    assert res.candidates and res.n_infeasible > 0
    for c in res.candidates:
        mol = mol_from_smiles(c.smiles)
        assert ("Cl" in c.smiles or "Br" in c.smiles) and not any(a.GetSymbol() == "N" for a in mol.GetAtoms())
        assert mol.GetNumHeavyAtoms() <= 10


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "userobj.py").write_text(
        textwrap.dedent("""
        def halogens(smiles):
            return [float(sum(s.count(x) for x in ("F", "Cl", "Br"))) + 0.01 * len(s) for s in smiles]

        def fragile(smiles):
            if any("N" in s for s in smiles):
                raise RuntimeError("docking failed")
            return [float("nan") if "O" in s else 1.0 / len(s) for s in smiles]
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for m in ("userobj",):
        sys.modules.pop(m, None)
    yield
    sys.modules.pop("userobj", None)


def test_user_function_as_a_black_box(tiny_model, user_module, tmp_path):
    res = tiny_model.optimize("userobj:halogens", budget=200, seed=0, top=10)
    assert {c.method for c in res.candidates} == {"ga"}  # the default method
    check_ranked_and_rescored(res, lambda s, p: sum(s.count(x) for x in ("F", "Cl", "Br")) + 0.01 * len(s))
    rows = check_csv(res, tmp_path / "u.csv")
    assert float(rows[0]["userobj:halogens"]) == pytest.approx(float(rows[0]["objective"]), abs=1e-4)


def test_failing_user_function_is_counted_and_not_fatal(tiny_model, user_module):
    res = tiny_model.optimize("userobj:fragile", budget=200, seed=0, top=None)
    assert res.n_failures > 0 and res.n_failures == len(res.failures)
    assert all(("N" in s or "O" in s) for s, _ in res.failures)
    assert {why for _, why in res.failures} >= {"userobj:fragile raised RuntimeError: docking failed"}
    assert res.candidates and all("N" not in c.smiles and "O" not in c.smiles for c in res.candidates)
    assert all(math.isfinite(c.score) for c in res.candidates)
    assert res.n_unique == len(res.candidates) + res.n_failures + res.n_infeasible
    # molecules that break a guard are accounted for, and the objective was not called for them
    assert 0 < res.n_guarded == sum(res.guarded.values()) <= res.n_infeasible
    assert res.n_scored == len(res.candidates) + res.n_failures + res.n_infeasible - res.n_guarded


def test_seed_the_vocabulary_cannot_encode_names_the_tokens(tiny_model):
    with pytest.raises(SeedError, match=r"cannot encode seed C\[Si\]\(C\)\(C\)C: .*lacks the SELFIES tokens \[Si\]"):
        tiny_model.optimize("qed", seeds=["C[Si](C)(C)C"], budget=10)
    with pytest.raises(EncodingError, match="RDKit could not parse it"):
        tiny_model.optimize("qed", seeds=["not-a-molecule"], budget=10)


def test_a_seeded_search_finds_close_analogues_from_its_first_calls(tiny_model):
    """The seed's own children (edits, grown substituents, its decodes) come first, so that a
    tight similarity constraint is met within a small budget even by a model that decodes far
    from the seed."""
    seed = moses(1, skip=7)[0]
    obj = {"objective": [{"property": "qed"}], "constraints": {"similarity": 0.5}}
    res = tiny_model.optimize(obj, seeds=[seed], budget=200, seed=0, top=None)
    assert len(res.candidates) >= 10
    assert all(c.similarity >= 0.5 and c.smiles != c.seed for c in res.candidates)
    assert min(c.step for c in res.candidates) <= 2  # found in the first generation (its latent and edit batches)


def test_several_seeds_share_a_small_budget_fairly(tiny_model):
    seeds = moses(6, skip=20)
    obj = {"objective": [{"property": "qed"}], "constraints": {"similarity": 0.4}}
    res = tiny_model.optimize(obj, seeds=seeds, budget=60, seed=0, top=None)
    assert res.n_decoded == 6 * 60
    assert all(res.best(i) is not None for i in range(6))  # every seed got children, the last ones too


def test_interrupted_search_keeps_the_best_found_so_far(tiny_model, monkeypatch):
    real_evaluate = Oracle.evaluate

    def evaluate_then_ctrl_c(self, *args, **kwargs):
        out = real_evaluate(self, *args, **kwargs)
        if self.step == 3:
            os.kill(os.getpid(), signal.SIGINT)
        return out

    monkeypatch.setattr(Oracle, "evaluate", evaluate_then_ctrl_c)
    with pytest.raises(OptimizationInterrupted, match="interrupted by SIGINT") as info:
        tiny_model.optimize("qed", budget=100_000, seed=0, top=10)
    assert info.value.exit_code == 130
    res = info.value.result
    assert 0 < res.n_decoded < 100_000 and res.history[-1][0] == 3  # no call of the oracle after the signal
    check_ranked_and_rescored(res, lambda smi, props: props["qed"])
    assert len(res.candidates) == 10
