"""Scoring molecules: constraints as violations, user functions called in batches, failures counted."""

from __future__ import annotations

import math
import sys
import textwrap

import pytest

from molvae.errors import ConfigError
from molvae.optimize.objectives import Objective
from molvae.optimize.scoring import Scorer


def test_constraints_are_reported_as_violations():
    obj = Objective.build(
        maximize=["qed"], constraints={"require": ["c1ccccc1"], "forbid": ["C(=O)N"], "max_heavy_atoms": 12}
    )
    sc = Scorer(obj)
    ok, amide, no_ring, big = sc.evaluate(["Oc1ccccc1", "NC(=O)c1ccccc1", "CCCCO", "CCCCCCCCCCCCc1ccccc1"])
    assert ok.violation == 0
    assert amide.violation == 1 and no_ring.violation == 1
    assert big.violation == pytest.approx(1.6)  # 18 heavy atoms, 6 over; and a 12-carbon chain (a guard)
    assert big.guard.startswith("chain") and not big.scored and math.isnan(big.score)
    unguarded = Scorer(Objective.build(maximize=["qed"], constraints={"max_heavy_atoms": 12, "guards": False}))
    (big,) = unguarded.evaluate(["CCCCCCCCCCCCc1ccccc1"])
    assert big.violation == pytest.approx(0.6) and big.guard == "" and big.scored
    with pytest.raises(ConfigError, match="invalid SMARTS 'c1ccc'"):
        Scorer(Objective.build(maximize=["qed"], constraints={"require": ["c1ccc"]}))


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "userscore.py").write_text(
        textwrap.dedent("""
        calls = []

        def length(smiles):
            calls.append(list(smiles))
            return [float(len(s)) for s in smiles]

        def fragile(smiles):
            calls.append(list(smiles))
            if any("N" in s for s in smiles):
                raise RuntimeError("docking failed")
            return [float("nan") if "O" in s else 1.0 for s in smiles]

        def wrong_length(smiles):
            return [1.0]

        not_callable = 3
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("userscore", None)
    yield
    sys.modules.pop("userscore", None)


def test_user_function_is_called_in_batches_and_cached(user_module):
    import userscore

    sc = Scorer(Objective.build(maximize=["userscore:length"]))
    evs = sc.evaluate(["CCO", "c1ccccc1", "CCO"])
    assert [e.score for e in evs] == [3.0, 8.0, 3.0]
    sc.evaluate(["CCO", "CCN"])
    assert userscore.calls == [["CCO", "c1ccccc1"], ["CCN"]]  # each molecule scored once


def test_failing_user_function_gives_the_worst_score_and_is_counted(user_module):
    sc = Scorer(Objective.build(maximize=["userscore:fragile"]))
    evs = sc.evaluate(["CCC", "CCN", "CCO", "CCCC"])
    assert [e.failed for e in evs] == [False, True, True, False]
    assert evs[0].score == 1.0 and math.isnan(evs[1].score) and math.isnan(evs[2].score)
    assert sc.n_failures == 2
    assert "raised RuntimeError: docking failed" in dict(sc.failures)["CCN"]
    assert "returned nan" in dict(sc.failures)["CCO"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("no_such_module_xyz:f", "cannot import 'no_such_module_xyz'"),
        ("userscore:missing", "has no attribute 'missing'"),
        ("userscore:not_callable", "is not callable"),
    ],
)
def test_bad_user_function_names_the_problem(user_module, spec, message):
    with pytest.raises(ConfigError, match=message):
        Scorer(Objective.build(maximize=[spec]))


def test_user_function_returning_the_wrong_number_of_values(user_module):
    with pytest.raises(ConfigError, match="returned 1 values for 2 molecules"):
        Scorer(Objective.build(maximize=["userscore:wrong_length"])).evaluate(["CC", "CCC"])


def test_guarded_molecules_cost_no_objective_call_and_the_limit_counts_new_molecules(user_module):
    import userscore

    sc = Scorer(Objective.build(maximize=["userscore:length"]))
    anhydride, ok1, ok2, ok3 = "CC(=O)OC(=O)c1ccccc1", "Oc1ccccc1", "Nc1ccccc1", "Cc1ccccc1"
    evs = sc.evaluate([anhydride, ok1, ok1, ok2, ok3], limit=2)
    assert [e.smiles for e in evs] == [anhydride, ok1, ok1]  # stops before the third new molecule
    assert evs[0].guard == "reactive: anhydride" and not evs[0].scored and evs[0].violation >= 1
    assert userscore.calls == [[ok1]] and sc.n_scored == 1  # the guarded molecule was not scored
    assert sc.evaluate([ok1, ok2], limit=0) == [sc.cache[ok1]] and sc.n_scored == 1
    # a seed that breaks a guard is still scored when asked (guard=False), and keeps its guard
    (seed,) = sc.evaluate([anhydride], guard=False)
    assert seed.scored and seed.score == len(anhydride) and seed.guard and sc.n_scored == 2


def test_a_user_module_in_the_current_directory_is_found(tmp_path, monkeypatch):
    from molvae.optimize.scoring import load_function

    (tmp_path / "localscore_xyz.py").write_text("def score(smiles):\n    return [len(s) for s in smiles]\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.delitem(sys.modules, "localscore_xyz", raising=False)
    before = list(sys.path)
    assert load_function("localscore_xyz:score")(["CCO"]) == [3]
    assert sys.path == before  # found without touching sys.path
    # an installed module of the same name wins over a file here
    (tmp_path / "json.py").write_text("def dumps(x):\n    return 'shadowed'\n")
    assert load_function("json:dumps")([1]) == "[1]"
    # a module here that imports something missing says what is missing
    (tmp_path / "brokenscore_xyz.py").write_text("import no_such_module_xyz\n")
    with pytest.raises(ConfigError, match="no_such_module_xyz"):
        load_function("brokenscore_xyz:score")
