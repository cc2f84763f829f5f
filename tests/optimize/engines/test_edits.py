"""Decoder-guided edits: token templates from molecules written as random SMILES."""

from __future__ import annotations

import numpy as np
import pytest

from molvae.data.vocabulary import smiles_to_symbols, symbols_to_smiles
from molvae.optimize.engines.edits import EDITS, pad_rows, random_symbols, template

IDS = {"[C]": 5, "[O]": 6, "[N]": 7, "[=C]": 8, "[F]": 9}
SYMBOLS = ["[C]", "[O]", "[N]", "[C]", "[F]"]


def _template(edit: str, seed: int) -> list[int]:
    return template(SYMBOLS, edit, np.random.default_rng(seed), pad=0, end=2, ids=IDS)


def test_each_edit_keeps_the_other_tokens_and_leaves_the_right_gap():
    tok = [IDS[s] for s in SYMBOLS]
    for seed in range(20):
        prefix = _template("prefix", seed)
        assert 1 <= len(prefix) < len(tok) and prefix == tok[: len(prefix)]
        point = _template("point", seed)
        i = point.index(0)
        assert point[:i] + [tok[i]] + point[i + 1 :] == tok + [2]
        insert = _template("insert", seed)
        j = insert.index(0)
        assert j >= 1 and insert[:j] + insert[j + 1 :] == tok + [2]
        delete = _template("delete", seed)
        assert 0 not in delete and len(delete) == len(tok) and delete[-1] == 2
        assert any(delete[:-1] == tok[:k] + tok[k + 1 :] for k in range(len(tok)))
    with pytest.raises(ValueError, match="unknown edit"):
        _template("swap", 0)
    assert set(EDITS) == {"prefix", "point", "insert", "delete", "grow"}


def test_random_symbols_write_the_same_molecule_in_many_orders():
    from molvae.chem.molecules import canonical_smiles

    smi = "CC(=O)Nc1ccc(O)cc1"
    vocab = {t: i for i, t in enumerate(sorted(set(smiles_to_symbols(smi) or [])), start=3)}
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(10):
        symbols = random_symbols(smi, rng, 50, vocab)
        assert canonical_smiles(symbols_to_smiles(symbols)) == canonical_smiles(smi)
        seen.add(tuple(symbols))
    assert len(seen) > 1
    assert random_symbols(smi, rng, 3, vocab) == []  # too long for the model
    assert random_symbols("not a molecule", rng, 50, vocab) == []


def test_pad_rows():
    assert pad_rows([[5, 6], [7]], 0).tolist() == [[5, 6], [7, 0]]
    assert pad_rows([], 0).shape == (0, 1)


def test_grow_puts_a_small_substituent_on_an_atom_that_carries_a_hydrogen():
    from molvae.chem.molecules import canonical_smiles
    from molvae.optimize.engines.edits import SUBSTITUENTS

    smi = "O=C(O)c1ccccc1"  # benzoic acid: the acid's O and five ring carbons carry hydrogens

    class Ids(dict):  # every symbol is in the vocabulary, numbered as it is first seen
        def __contains__(self, t):
            return True

        def __missing__(self, t):
            self[t] = len(self) + 3
            return self[t]

    ids, rng = Ids(), np.random.default_rng(0)
    grown = set()
    for _ in range(200):
        symbols = random_symbols(smi, rng, 50, ids, rooted=True)
        assert canonical_smiles(symbols_to_smiles(symbols)) == canonical_smiles(smi)
        row = template(symbols, "grow", rng, pad=0, end=2, ids=ids)
        names = {i: t for t, i in ids.items()}
        assert row[1:] == [ids[t] for t in symbols] + [2] and names[row[0]] in SUBSTITUENTS
        grown.add(canonical_smiles(symbols_to_smiles([names[i] for i in row[:-1]])))
    subs = ("C", "N", "O", "F", "Cl")
    expected = {canonical_smiles(f"O=C(O)c1ccccc1{x}") for x in subs}  # ortho
    expected |= {canonical_smiles(f"O=C(O)c1cccc({x})c1") for x in subs}  # meta
    expected |= {canonical_smiles(f"O=C(O)c1ccc({x})cc1") for x in subs}  # para
    expected |= {canonical_smiles(f"O=C(O{x})c1ccccc1") for x in subs}  # on the acid's oxygen
    assert grown == expected  # every hydrogen-bearing atom, every substituent; never on the carbonyl carbon
    assert random_symbols("FC(F)(F)F", rng, 50, {"[C]": 3, "[F]": 4}, rooted=True) == []  # no hydrogen anywhere


def _eager_random_symbols(smiles, rng, max_length, vocabulary, rooted=False):
    """random_symbols as first written: every option computed before the first that fits is taken."""
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    if rooted:
        atoms = [a.GetIdx() for a in mol.GetAtoms() if a.GetTotalNumHs() > 0]
        if not atoms:
            return []
        root, options = int(rng.choice(atoms)), []
        for _ in range(4):
            order = [int(i) for i in rng.permutation(mol.GetNumAtoms())]
            options.append(
                Chem.MolToSmiles(Chem.RenumberAtoms(mol, order), rootedAtAtom=order.index(root), canonical=False)
            )
    else:
        options = list(Chem.MolToRandomSmilesVect(mol, 1, randomSeed=int(rng.integers(1, 1 << 30)))) + [smiles]
    for smi in options:
        symbols = smiles_to_symbols(smi)
        if symbols and len(symbols) <= max_length and all(t in vocabulary for t in symbols):
            return symbols
    return []


@pytest.mark.parametrize("rooted", [False, True])
def test_random_symbols_from_a_parsed_parent_are_the_eager_ones_with_the_same_draws(rooted):
    """A search passes each parent's parsed molecule, reused for many children, and writes a
    rooted walk only when the ones before it did not fit: neither may change a symbol or a draw."""
    from molvae.chem.molecules import mol_from_smiles

    smiles = ["CC(=O)Nc1ccc(O)cc1", "O=C(O)c1ccccc1", "CN1CCN(c2ccc3[nH]ccc3c2)CC1", "C1CC2CCC1C2"]

    class Ids(dict):  # every symbol is in the vocabulary
        def __contains__(self, t):
            return True

    for smi in smiles:
        mol = mol_from_smiles(smi)
        lengths = [len(smiles_to_symbols(smi) or []) + k for k in (-2, 0, 1, 3)]  # some walks too long, some not
        new, old = np.random.default_rng(1), np.random.default_rng(1)
        for max_length in lengths * 10:
            got = random_symbols(smi, new, max_length, Ids(), rooted, mol=mol)
            assert got == _eager_random_symbols(smi, old, max_length, Ids(), rooted)
            assert new.integers(1 << 30) == old.integers(1 << 30)  # the same draws were made
        assert random_symbols(smi, np.random.default_rng(2), 50, Ids(), rooted) == random_symbols(
            smi, np.random.default_rng(2), 50, Ids(), rooted, mol=mol
        )
