"""Objectives: parsing from options and TOML, and what each goal and combination scores."""

from __future__ import annotations

import textwrap

import pytest

from molvae.chem.properties import compute
from molvae.errors import BadInputError, ConfigError, UnknownPropertyError
from molvae.optimize.objectives import Constraints, Objective, Term, as_objective, to_toml
from molvae.optimize.scoring import Scorer

EXAMPLE = "COc1cc2c(cc1OC)CC([NH3+])C2"  # penalised logP -2.505 in the JT-VAE/GCPN benchmarks


def score(obj: Objective, smiles: str) -> float:
    return Scorer(obj).evaluate([smiles], guard=False)[0].score  # the formula, whatever the guards say


def test_plogp_objective_of_the_benchmark_example():
    assert score(Objective.build(maximize=["plogp"]), EXAMPLE) == pytest.approx(-2.505, abs=1e-3)
    assert score(Objective.build(minimize=["plogp"]), EXAMPLE) == pytest.approx(2.505, abs=1e-3)


def test_each_goal_from_options():
    p = compute("CCOc1ccccc1C(N)=O", ["logp", "qed", "mw", "tpsa"])
    obj = Objective.build(
        maximize=["qed"], minimize=["TPSA"], target={"logp": 3.0}, range={"mw": (200, 250)}, weights={"qed": 2.0}
    )
    assert [(t.name, t.goal) for t in obj.terms] == [
        ("qed", "maximize"),
        ("tpsa", "minimize"),
        ("logp", "target"),
        ("mw", "range"),
    ]
    want = 2.0 * p["qed"] - p["tpsa"] - abs(p["logp"] - 3.0) - max(0.0, 200 - p["mw"], p["mw"] - 250)
    assert score(obj, "CCOc1ccccc1C(N)=O") == pytest.approx(want, abs=1e-9)
    inside = Objective.build(range={"mw": (100, 400)})
    assert score(inside, "CCOc1ccccc1C(N)=O") == 0.0


def test_desirability_is_a_weighted_geometric_mean():
    obj = Objective.build(maximize=["qed"], target={"logp": 2.0}, combine="desirability", weights={"qed": 3.0})
    p = compute("c1ccccc1O", ["qed", "logp"])
    d_qed = p["qed"]  # typical range 0..1
    d_logp = max(0.0, 1 - abs(p["logp"] - 2.0) / 2.0)  # tolerance: a quarter of logP's typical range (-2..6)
    assert score(obj, "c1ccccc1O") == pytest.approx(d_qed**0.75 * d_logp**0.25)
    far = Objective.build(target={"logp": -2.0}, combine="desirability")
    assert score(far, "CCCCCCCCCCCC") == 0.0


def test_toml_with_every_kind(tmp_path):
    f = tmp_path / "o.toml"
    f.write_text(
        textwrap.dedent("""
        combine = "desirability"
        seeds = ["CCOc1ccccc1C(N)=O"]
        [[objective]]
        property = "QED"
        goal = "max"
        weight = 2
        [[objective]]
        property = "mw"
        goal = "range"
        low = 250
        high = 400
        tolerance = 50
        [[objective]]
        property = "logp"
        goal = "target"
        target = 2.5
        [[objective]]
        function = "os.path:getsize"
        goal = "minimize"
        low = 0
        high = 10
        [constraints]
        similarity = 0.4
        require = ["c1ccccc1"]
        forbid = ["[N+](=O)[O-]"]
        max_heavy_atoms = 38
    """)
    )
    obj = Objective.from_toml(f)
    assert obj.combine == "desirability" and obj.seeds == ("CCOc1ccccc1C(N)=O",)
    assert [(t.name, t.goal, t.weight) for t in obj.terms] == [
        ("qed", "maximize", 2),
        ("mw", "range", 1.0),
        ("logp", "target", 1.0),
        ("os.path:getsize", "minimize", 1.0),
    ]
    assert obj.constraints == Constraints(0.4, ("c1ccccc1",), ("[N+](=O)[O-]",), 38)
    again = tmp_path / "again.toml"
    again.write_text(to_toml(obj))
    assert Objective.from_toml(again) == obj  # what the CLI writes next to results reads back


@pytest.mark.parametrize(
    "text, message",
    [
        ("[[objective]]\nproperty = 'potency'\n", "unknown property 'potency'"),
        ("[[objective]]\nproperty = 'qed'\ngoal = 'maximum'\n", "unknown goal 'maximum'"),
        (
            "[[objective]]\nproperty = 'logp'\ngoal = 'target'\n",
            "objective #1: objective logp: goal 'target' needs a target",
        ),
        ("[[objective]]\nproperty = 'mw'\ngoal = 'range'\nlow = 5\nhigh = 1\n", "low (5) must be below high (1)"),
        ("[[objective]]\nproperty = 'qed'\nwieght = 2\n", "objective #1: unknown key(s) wieght"),
        ("[[objective]]\nproperty = 'qed'\nfunction = 'a:b'\n", "exactly one of 'property' or 'function'"),
        ("[[objective]]\nfunction = 'nocolon'\n", "write package.module:function"),
        ("[[objective]]\nproperty = 'qed'\nweight = 'heavy'\n", "weight must be a number"),
        ("[[objective]]\nproperty = 'qed'\n[constraints]\nmax_atoms = 3\n", "constraints: unknown key(s) max_atoms"),
        ("[[objective]]\nproperty = 'qed'\n[constraints]\nsimilarity = 0.4\n", "needs seed molecules"),
        ("[[objective]]\nproperty = 'qed'\n[constraints]\nsimilarity = 1.5\n", "similarity must be between 0 and 1"),
        ("combine = 'sum'\n", "nothing to optimise"),
        ("combine = 'product'\n[[objective]]\nproperty = 'qed'\n", "unknown combine 'product'"),
        ("[[objective]]\nproperty = 'qed'\n[[objective]]\nproperty = 'qed'\n", "qed given more than once"),
        ("objectives = []\n", "unknown key(s) objectives"),
        ("[[objective]\nproperty = 'qed'\n", "invalid TOML"),
        ("combine = 'desirability'\n[[objective]]\nfunction = 'os.path:getsize'\n", "needs low and high"),
    ],
)
def test_bad_objective_files_name_the_problem(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(BadInputError) as err:  # ConfigError, or UnknownPropertyError for a property
        Objective.from_toml(f)
    assert message in str(err.value)
    assert "bad.toml" in str(err.value)


def test_missing_file_and_unknown_property_from_options(tmp_path):
    with pytest.raises(ConfigError, match="no such objective file"):
        as_objective(tmp_path / "nope.toml")
    with pytest.raises(UnknownPropertyError, match="known properties: logp, qed"):
        Objective.build(maximize=["potency"])
    with pytest.raises(ConfigError, match="--weight sa: no objective of that name"):
        Objective.build(maximize=["qed"], weights={"sa": 2})


def test_term_validation():
    with pytest.raises(ConfigError, match="weight must be positive"):
        Term(property="qed", weight=0)
