"""Graph operators: children are real, closed-shell molecules, made from the parents' parts."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from molvae.chem.checks import check_smiles
from molvae.errors import ConfigError
from molvae.optimize.engines import graph
from molvae.optimize.engines.ga import Settings

DRUGS = [
    "Cc1ccc(cc1)-c1cc(nn1-c1ccc(cc1)S(N)(=O)=O)C(F)(F)F",  # celecoxib
    "N[C@@H](Cc1cc(F)c(F)cc1F)CC(=O)N1CCn2c(C1)nnc2C(F)(F)F",  # sitagliptin
    "C[C@H](O)c1ccc([N+](=O)[O-])cc1",
    "O=C([O-])C[C@@H](N)c1ccccc1",
    "c1cc[nH]c1",
    "CC(C)(C)NC[C@H](O)c1ccc(O)c(CO)c1",
]


def test_crossover_joins_a_part_of_each_parent():
    a, b = Chem.MolFromSmiles("c1ccccc1CCO"), Chem.MolFromSmiles("CC(=O)Nc1ccncc1")
    rng = np.random.default_rng(0)
    kids = {graph.crossover(a, b, rng) for _ in range(200)} - {None}
    benzene, pyridine = Chem.MolFromSmarts("c1ccccc1"), Chem.MolFromSmarts("c1ccncc1")
    both = [
        k
        for k in kids
        if Chem.MolFromSmiles(k).HasSubstructMatch(benzene) and Chem.MolFromSmiles(k).HasSubstructMatch(pyridine)
    ]
    assert len(kids) > 5 and both  # some children carry the ring of each parent
    assert all(c.valid for c in check_smiles(sorted(kids)))


@pytest.mark.parametrize("smiles", DRUGS)
def test_mutations_are_one_small_change_to_a_valid_molecule(smiles):
    mol = Chem.MolFromSmiles(smiles)
    rng = np.random.default_rng(1)
    kids = [graph.mutate(mol, rng) for _ in range(150)]
    made = sorted({k for k in kids if k is not None} - {Chem.MolToSmiles(mol)})
    assert len(made) > 10
    checked = check_smiles(made)
    assert sum(c.valid for c in checked) >= 0.95 * len(made)  # fixed-H bracket atoms keep their hydrogens right
    assert all(abs(Chem.MolFromSmiles(k).GetNumAtoms() - mol.GetNumAtoms()) <= 1 for k in made)


@pytest.mark.parametrize("name", graph.MUTATIONS)
def test_every_mutation_can_be_made(name):
    rng = np.random.default_rng(2)
    before = Chem.MolFromSmiles("CC(C)Cc1ccc(cc1)C(C)C(=O)O")  # ibuprofen: chains, a ring, a carbonyl
    outcomes = set()
    for _ in range(30):
        m = Chem.RWMol(before)
        Chem.Kekulize(m, clearAromaticFlags=True)
        if graph._MUTATE[name](m, rng):
            outcomes.add(graph.finish(m))
    assert outcomes - {None, Chem.MolToSmiles(before)}


def test_finish_refuses_fragments_and_sizes_out_of_range():
    assert graph.finish(Chem.MolFromSmiles("CCO.CC")) is None
    assert graph.finish(Chem.MolFromSmiles("CC")) is None  # fewer than MIN_ATOMS heavy atoms
    assert graph.finish(Chem.MolFromSmiles("C" * 20), max_atoms=10) is None
    assert graph.finish(Chem.MolFromSmiles("OCC")) == "CCO"


def test_graph_setting_is_checked():
    with pytest.raises(ConfigError, match="graph must be true or false"):
        Settings(graph="yes")  # type: ignore[arg-type]


def test_mutations_write_phosphorus_which_the_model_cannot():
    """MOSES has no phosphorus, so only the graph operators can make a phosphate or a phosphonate."""
    mol = Chem.MolFromSmiles("CC(C)Cc1ccc(cc1)C(C)C(=O)O")
    rng = np.random.default_rng(3)
    made = sorted({k for k in (graph.mutate(mol, rng) for _ in range(600)) if k is not None})
    with_p = [k for k in made if any(a.GetSymbol() == "P" for a in Chem.MolFromSmiles(k).GetAtoms())]
    assert with_p and all(c.valid for c in check_smiles(with_p))
