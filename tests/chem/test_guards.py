"""Drug-likeness guards: each rule rejects a molecule that breaks it and keeps a close one that does not."""

from __future__ import annotations

import pytest
from rdkit import Chem

from molvae.chem.guards import REACTIVE, Guards, as_guards, longest_carbon_chain, rule_of
from molvae.errors import ConfigError

# rule or reactive group -> (a molecule that breaks it, a similar molecule that passes every guard)
CASES = {
    "anhydride": ("O=C(OC(=O)c1ccccc1)c1ccccc1", "O=C(Oc1ccccc1)c1ccccc1"),
    "acyl halide": ("O=C(Cl)c1ccc(cc1)C(=O)N", "O=C(N)c1ccc(Cl)cc1"),
    "sulfonyl halide": ("O=S(=O)(Cl)c1ccccc1", "NS(=O)(=O)c1ccccc1"),
    "peroxide": ("CC(C)(C)OOc1ccccc1", "CC(C)(C)COc1ccccc1"),
    "disulfide": ("c1ccc(SSc2ccccc2)cc1", "c1ccc(CSc2ccccc2)cc1"),
    "N-, O- or S-halogen bond": ("O=C1CCC(=O)N1Cl", "O=C1CCC(=O)N1C"),
    "isocyanate or isothiocyanate": ("O=C=Nc1ccccc1", "NC(=O)Nc1ccccc1"),
    "azide": ("[N-]=[N+]=NCc1ccccc1", "NCc1ccccc1"),
    "diazo": ("[N-]=[N+]=CC(=O)c1ccccc1", "CC(=O)c1ccccc1"),
    "aldehyde": ("O=Cc1ccc(O)cc1", "CC(=O)c1ccc(O)cc1"),
    "epoxide or aziridine": ("c1ccc(cc1)C1CO1", "c1ccc(cc1)C1CC1"),
    "thiol": ("SCc1ccccc1", "CSCc1ccccc1"),
    "alkyl iodide or bromide": ("BrCc1ccccc1C(N)=O", "Brc1ccccc1C(N)=O"),
    "nitroso": ("CN(N=O)c1ccccc1", "CN(C(C)=O)c1ccccc1"),
    "ketene": ("O=C=Cc1ccccc1", "CC(=O)Cc1ccccc1"),
    "allene, ketenimine or carbodiimide": ("C=C=Cc1ccccc1C(N)=O", "C=CCc1ccccc1C(N)=O"),
    "aryne or small-ring alkyne": ("NC(=O)c1cc#ccc1", "NC(=O)c1ccccc1"),
    "acyl cyanide": ("N#CC(=O)c1ccccc1", "N#Cc1ccc(C(C)=O)cc1"),
    "diazonium (N#N)": ("N#[N+]c1ccccc1", "N#Cc1ccccc1"),
    "ring_size": ("O=C1CCCCCCCN1", "O=C1CCCCCN1"),  # 9-membered lactam / caprolactam
    "chain": ("CCCCCCCC(=O)Nc1ccccc1", "CCCCCC(=O)Nc1ccccc1"),  # 7 / 5 carbons in a row
    "alerts": ("S=C1SC(=Cc2ccccc2)C(=O)N1", "O=C1CSC(Cc2ccccc2)C(=O)N1"),  # a PAINS rhodanine
    "sa": ("CC1(C)C2CC3C4(C)CC5C(C)(C2)C1C3C45N", "CC(=O)Nc1ccc(O)cc1"),  # a caged polycycle / paracetamol
}


def test_every_reactive_group_has_a_case():
    assert set(REACTIVE) <= set(CASES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_rejects_a_breaker_and_keeps_a_non_breaker(rule):
    breaker, keeper = (Chem.MolFromSmiles(s) for s in CASES[rule])
    reason = Guards().check(breaker)
    expected = ("reactive", rule) if rule in REACTIVE else (rule, None)
    assert rule_of(reason) == expected[0], reason
    if expected[1]:
        assert reason == f"reactive: {rule}"
    assert Guards().check(keeper) == ""


@pytest.mark.parametrize(
    "rule, off",
    [
        ("alerts", {"alerts": False}),
        ("sa", {"max_sa": None}),
        ("ring_size", {"max_ring_size": None}),
        ("chain", {"max_chain": None}),
        ("anhydride", {"reactive": False}),
    ],
)
def test_a_rule_switched_off_lets_its_breaker_through(rule, off):
    breaker = Chem.MolFromSmiles(CASES[rule][0])
    assert Guards(**off).check(breaker) == ""
    assert Guards.off().check(breaker) == ""


def test_limits_are_settable():
    chain7 = Chem.MolFromSmiles(CASES["chain"][0])
    assert Guards(max_chain=7).check(chain7) == ""
    assert rule_of(Guards(max_sa=2.0).check(Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1C1CCNCC1"))) == "sa"
    assert rule_of(Guards(min_ring_size=4).check(Chem.MolFromSmiles("c1ccc(cc1)C1CC1"))) == "ring_size"


def test_longest_carbon_chain():
    assert longest_carbon_chain(Chem.MolFromSmiles("c1ccccc1")) == 0
    assert longest_carbon_chain(Chem.MolFromSmiles("CCCCCCCCCc1ccccc1")) == 9
    assert longest_carbon_chain(Chem.MolFromSmiles("CC(C)CC(C)C")) == 5  # branched: the longest path
    assert longest_carbon_chain(Chem.MolFromSmiles("CCCOCCC")) == 3  # a heteroatom breaks the chain


def test_as_guards():
    assert as_guards(None) == as_guards(True) == Guards()
    assert not as_guards(False).enabled and Guards().enabled
    assert as_guards({"max_sa": 6}).max_sa == 6
    with pytest.raises(ConfigError, match="unknown key"):
        as_guards({"max_sugar": 1})
    with pytest.raises(ConfigError, match="positive"):
        Guards(max_chain=0)
    with pytest.raises(ConfigError):
        as_guards("yes")


@pytest.mark.parametrize(
    "smiles",
    [
        "C#Cc1cccc(Nc2ncnc3cc(OCCOC)c(OCCOC)cc23)c1",  # erlotinib: an aryl alkyne
        "N#Cc1ccc(C(c2ccc(C#N)cc2)n2cncn2)cc1",  # letrozole: nitriles
        "C#C[C@]1(O)CC[C@H]2[C@@H]3CCc4cc(O)ccc4[C@H]3CC[C@@]21C",  # ethinylestradiol: an alkyne on a ring
        "CN=C(NC#N)NCCSCc1nc[nH]c1C",  # cimetidine: a cyanoguanidine, no cumulated bonds
    ],
)
def test_triple_bonds_outside_small_rings_are_not_reactive(smiles):
    reason = Guards().check(Chem.MolFromSmiles(smiles))
    assert "allene" not in reason and "alkyne" not in reason


def test_no_listed_drug_has_a_cumulated_double_bond_or_a_ring_alkyne():
    import csv
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "data" / "drugs" / "drugs_stereo_charges.csv"
    with open(path, newline="") as fh:
        mols = [Chem.MolFromSmiles(r["smiles"]) for r in csv.DictReader(fh)]
    patterns = [
        Chem.MolFromSmarts(REACTIVE[k]) for k in ("allene, ketenimine or carbodiimide", "aryne or small-ring alkyne")
    ]
    assert len(mols) > 10 and all(m is not None for m in mols)
    assert not [Chem.MolToSmiles(m) for m in mols for p in patterns if m.HasSubstructMatch(p)]
