import math

import pytest

from molvae.chem.properties import PROPERTIES, compute


def test_registry_has_the_documented_properties():
    for name in ["logp", "qed", "sa", "mw", "tpsa", "hbd", "hba", "rotb", "plogp"]:
        assert name in PROPERTIES


def test_values_of_a_known_molecule():
    p = compute("COc1cc2c(cc1OC)CC([NH3+])C2", ["plogp", "mw", "hbd", "hba"])
    assert p["plogp"] == pytest.approx(-2.505, abs=1e-3)  # the value the JT-VAE benchmarks use
    assert p["mw"] == pytest.approx(194.254, abs=1e-2)
    assert p["hbd"] == 1 and p["hba"] == 2


def test_sa_is_in_range_and_invalid_gives_none():
    sa = compute("c1ccccc1O", "sa")["sa"]
    assert 1.0 <= sa <= 10.0 and not math.isnan(sa)
    assert compute("not-a-molecule", "logp") is None


def test_qed_is_rdkit_qed_exactly():
    from rdkit import Chem
    from rdkit.Chem import QED

    from molvae.chem.properties import compute_mol
    from tests.conftest import moses

    smiles = moses(300) + ["[2H]C([2H])([2H])c1ccccc1O", "[H]OC(=O)c1ccccc1", "C[N+](C)(C)[O-]", "[H][H]"]
    for smi in smiles:
        mol = Chem.MolFromSmiles(smi)
        expected = QED.qed(mol)
        assert compute_mol(mol, ["logp", "qed"])[1] == expected, smi  # logP shared with QED
        assert compute_mol(mol, ["qed", "sa"])[0] == expected, smi
