"""The PMO oracles of ``benchmarks/pmo_oracles.py`` against GuacaMol, whose definitions they follow.

``guacamol_values.json`` holds what GuacaMol 0.5.5 computes for 21 molecules on each of the 20
tasks (the task targets, molecules of the isomer formulas, a valsartan analogue that matches its
SMARTS, molecules that keep or hop the kinase scaffold, a zwitterion, ...): the oracles must give
the same numbers without GuacaMol installed. Where GuacaMol is installed (``pip install guacamol
--no-deps``; it imports ``scipy.histogram``, which SciPy removed, so :func:`guacamol_objectives`
puts numpy's back first), the stored values and 100 MOSES test molecules are compared with it
directly; ``write_reference()`` writes the file again.
"""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

from tests.conftest import ROOT, moses

sys.path.insert(0, str(ROOT / "benchmarks"))

import pmo_oracles  # noqa: E402
from pmo_oracles import DEVELOPMENT, HELD_OUT, NOT_INCLUDED, TASKS  # noqa: E402

REFERENCE = ROOT / "tests" / "benchmarks" / "guacamol_values.json"

MOLECULES = [
    "CC(=O)Nc1ccc(O)cc1",  # paracetamol
    "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(C)(=O)=O)cc2)cc1",  # a celecoxib analogue
    "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1",  # albuterol
    "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1",  # mestranol
    "Cc1ccc(N)cc1[N+](=O)[O-]",  # C7H8N2O2
    "CN=P(F)(F)Oc1cc(C)c(Cl)cc1C(N)=O",  # C9H10N2O2PF2Cl
    "CC(O)CN(C=O)Cc1ccc(-c2cc(F)c(F)cc2-c2nn[nH]n2)cc1",  # valsartan's SMARTS, near sitagliptin's properties
    "CN(C=O)Cc1ccc(-c2ccccc2-c2nn[nH]n2)cc1",
    "CCCOc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1C(=O)N",  # the kinase scaffold with new decorations
    "CCCOc1ccc2ncnc(Nc3ccc4ncsc4c3)c2c1",
    "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C",  # deco_hop's and scaffold_hop's start
    "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc1nccc(-c2cn(C)c3ccccc23)n1",  # osimertinib
    "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN1CCC(CC1)C(O)(c1ccccc1)c1ccccc1",  # fexofenadine
    "COc1ccccc1OCC(O)CN1CCN(CC(=O)Nc2c(C)cccc2C)CC1",  # ranolazine
    "CCOC(=O)C1=C(COCCN)NC(C)=C(C(=O)OC)C1c1ccccc1Cl",  # amlodipine
    "CCN(C(C)=O)c1cccc(-c2ccnc3c(C#N)cnn23)c1",  # zaleplon
    "CCCC1=NN(C)C2=C1N=C(NC2=O)c1cc(ccc1OCC)S(=O)(=O)N1CCN(C)CC1",  # sildenafil
    "O=C1NC(=O)C(Cc2ccc(OCCc3ccc(C)cn3)cc2)S1",  # a glitazone
    "CC1(C)C2CCC1(C)C(=O)C2",  # camphor
    "C[NH+](C)CCC(=O)[O-]",  # a zwitterion
    "[H]OC([H])([H])c1ccccc1",  # explicit hydrogens
]

# task -> the GuacaMol objective it follows: a benchmark of guacamol.standard_benchmarks (sb), or
# of goal_directed_suite_v2 (v2) for the rediscoveries and similarities
GUACAMOL = {
    "qed": lambda sb, v2: sb.qed_benchmark(),
    "celecoxib_rediscovery": lambda sb, v2: v2[0],
    "troglitazone_rediscovery": lambda sb, v2: v2[1],
    "thiothixene_rediscovery": lambda sb, v2: v2[2],
    "albuterol_similarity": lambda sb, v2: v2[4],
    "mestranol_similarity": lambda sb, v2: v2[5],
    "isomers_c7h8n2o2": lambda sb, v2: sb.isomers_c7h8n2o2(),
    "isomers_c9h10n2o2pf2cl": lambda sb, v2: sb.isomers_c9h10n2o2pf2cl(),
    "median1": lambda sb, v2: sb.median_camphor_menthol(),
    "median2": lambda sb, v2: sb.median_tadalafil_sildenafil(),
    "fexofenadine_mpo": lambda sb, v2: sb.hard_fexofenadine(),
    "sitagliptin_mpo": lambda sb, v2: sb.sitagliptin_replacement(),
    "valsartan_smarts": lambda sb, v2: sb.valsartan_smarts(),
    "deco_hop": lambda sb, v2: sb.decoration_hop(),
    "scaffold_hop": lambda sb, v2: sb.scaffold_hop(),
    "osimertinib_mpo": lambda sb, v2: sb.hard_osimertinib(),
    "perindopril_mpo": lambda sb, v2: sb.perindopril_rings(),
    "amlodipine_mpo": lambda sb, v2: sb.amlodipine_rings(),
    "ranolazine_mpo": lambda sb, v2: sb.ranolazine_mpo(),
    "zaleplon_mpo": lambda sb, v2: sb.zaleplon_with_other_formula(),
}

TARGETS = {  # task -> the molecule it rediscovers or is similar to (scores 1.0 on itself)
    "celecoxib_rediscovery": "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F",
    "troglitazone_rediscovery": "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O",
    "thiothixene_rediscovery": "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1",
    "albuterol_similarity": "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1",
    "mestranol_similarity": "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1",
}


def guacamol_objectives() -> dict:
    """task -> GuacaMol's scoring function (GuacaMol must be installed)."""
    import numpy
    import scipy

    if not hasattr(scipy, "histogram"):  # guacamol.utils.chemistry imports it; SciPy 1.12 removed it
        scipy.histogram = numpy.histogram  # type: ignore[attr-defined]
    from guacamol import standard_benchmarks
    from guacamol.benchmark_suites import goal_directed_suite_v2

    v2 = goal_directed_suite_v2()
    return {task: build(standard_benchmarks, v2).objective for task, build in GUACAMOL.items()}


def write_reference() -> None:
    """Write ``guacamol_values.json`` with GuacaMol's values for :data:`MOLECULES`."""
    from importlib.metadata import version

    import rdkit

    objectives = guacamol_objectives()
    values = {task: {s: objectives[task].score(s) for s in MOLECULES} for task in GUACAMOL}
    about = f"GuacaMol {version('guacamol')}, RDKit {rdkit.__version__}"
    REFERENCE.write_text(json.dumps({"computed_with": about, "values": values}, indent=1) + "\n")


needs_guacamol = pytest.mark.skipif(importlib.util.find_spec("guacamol") is None, reason="guacamol is not installed")


def test_the_task_lists():
    assert len(DEVELOPMENT) == 15 and len(HELD_OUT) == 5 and not set(DEVELOPMENT) & set(HELD_OUT)
    assert set(DEVELOPMENT) | set(HELD_OUT) == set(pmo_oracles.BUILDERS) == set(GUACAMOL)
    assert sorted(NOT_INCLUDED) == ["drd2", "gsk3b", "jnk3"]


@pytest.mark.parametrize("task", sorted(GUACAMOL))
def test_each_task_gives_guacamols_values(task):
    stored = json.loads(REFERENCE.read_text())["values"][task]
    assert list(stored) == MOLECULES
    for smiles, value in stored.items():
        assert TASKS[task].score(smiles) == pytest.approx(value, abs=1e-12), smiles


def test_the_reference_values_are_not_all_trivial():
    """Each task's stored values span a range (every part of the score is exercised)."""
    values = json.loads(REFERENCE.read_text())["values"]
    for task, v in values.items():
        assert max(v.values()) - min(v.values()) > 0.05, task


@pytest.mark.parametrize("task", sorted(TARGETS))
def test_each_target_scores_one_on_itself(task):
    assert TASKS[task].score(TARGETS[task]) == pytest.approx(1.0)


def test_the_isomer_tasks_score_one_on_their_formula():
    assert TASKS["isomers_c7h8n2o2"].score("Cc1ccc(N)cc1[N+](=O)[O-]") == pytest.approx(1.0)  # C7H8N2O2
    assert TASKS["isomers_c7h8n2o2"].score("O=C(O)c1ccc(NN)cc1") == pytest.approx(1.0)  # another one
    assert TASKS["isomers_c9h10n2o2pf2cl"].score("CN=P(F)(F)Oc1cc(C)c(Cl)cc1C(N)=O") == pytest.approx(1.0)
    # C7H9N: H, N, O and the atom count off, exp(-(0.5 + 0.5 + 2 + 0.5) / 5) = 0.497
    assert 0.4 < TASKS["isomers_c7h8n2o2"].score("Cc1ccc(N)cc1") < 0.6


def test_parts_behave_as_guacamol_defines_them():
    assert pmo_oracles.min_gaussian(4, 1)(3.0) == 1.0 and pmo_oracles.min_gaussian(4, 1)(5.0) < 1.0
    assert pmo_oracles.max_gaussian(90, 10)(95.0) == 1.0 and pmo_oracles.max_gaussian(90, 10)(80.0) < 1.0
    assert pmo_oracles.clipped(0.75)(0.375) == pytest.approx(0.5) and pmo_oracles.clipped(0.75)(0.9) == 1.0
    assert pmo_oracles.parse_formula("C9H10N2O2PF2Cl") == [
        ("C", 9), ("H", 10), ("N", 2), ("O", 2), ("P", 1), ("F", 2), ("Cl", 1)
    ]  # fmt: skip


def test_unparsable_smiles_score_zero():
    assert TASKS["qed"]([" ", "C1CC", "not a molecule"]) == [0.0, 0.0, 0.0]


@needs_guacamol
def test_against_guacamol_itself():
    objectives = guacamol_objectives()
    stored = json.loads(REFERENCE.read_text())["values"]
    molecules = MOLECULES + moses(100)
    for task, objective in objectives.items():
        for smiles in molecules:
            expected = objective.score(smiles)
            assert TASKS[task].score(smiles) == pytest.approx(expected, abs=1e-12), (task, smiles)
            if smiles in stored[task]:
                assert stored[task][smiles] == pytest.approx(expected, abs=1e-12), (task, smiles)
