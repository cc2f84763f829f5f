"""The surrogate that chooses which decoded children the ga search scores."""

from __future__ import annotations

import numpy as np
from rdkit import Chem, DataStructs

from molvae.chem.molecules import morgan_fingerprint
from molvae.optimize.surrogates.gp import TanimotoGP, fingerprint_matrix, tanimoto_matrix

SMILES = ["CCCCCCO", "CCCC(C)CCO", "c1ccccc1C", "c1ccccc1CC", "CC(=O)Nc1ccc(O)cc1", "CN1CCC(CC1)C(=O)O"]


def _fps(smiles):
    return [morgan_fingerprint(Chem.MolFromSmiles(s)) for s in smiles]


def test_tanimoto_matrix_agrees_with_rdkit():
    fps = _fps(SMILES)
    sims = tanimoto_matrix(fingerprint_matrix(fps[:2]), fingerprint_matrix(fps))
    for i in range(2):
        assert np.allclose(sims[i], DataStructs.BulkTanimotoSimilarity(fps[i], fps))


def test_the_gp_fits_its_data_and_ranks_unseen_molecules_by_their_neighbours():
    scores = [1.0, 0.9, 0.1, 0.0, 0.5, 0.3]
    gp = TanimotoGP(noise=1e-3).fit(_fps(SMILES), scores)
    assert np.allclose(gp.predict(_fps(SMILES)), scores, atol=0.02)
    pred = gp.predict(_fps(["CCCCCCCCO", "c1ccccc1CCC"]))
    assert pred[0] > pred[1] + 0.3
    assert np.isnan(TanimotoGP().predict(_fps(["CCO"]))).all()


def test_the_gp_ranks_unseen_molecules_by_a_similarity_objective():
    from scipy.stats import spearmanr

    from tests.conftest import moses

    mols = moses(300)
    target = morgan_fingerprint(Chem.MolFromSmiles("Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1"))
    fps = _fps(mols)
    scores = np.asarray(DataStructs.BulkTanimotoSimilarity(target, fps))
    pred = TanimotoGP().fit(fps[:200], scores[:200]).predict(fps[200:])
    assert spearmanr(pred, scores[200:])[0] > 0.6


def test_mismatched_lengths_are_refused():
    import pytest

    with pytest.raises(ValueError, match="2 fingerprints for 1 scores"):
        TanimotoGP().fit(_fps(SMILES[:2]), [1.0])


def test_a_kept_kernel_is_the_fresh_one_entry_for_entry_as_the_training_set_moves():
    """A search refits after every batch on a set that gains new molecules, loses old ones and
    changes order: the kernel it keeps must equal a fresh one exactly, and so must the predictions."""
    from molvae.optimize.surrogates.gp import Gram
    from tests.conftest import moses

    mols = moses(260)
    fps = dict(zip(mols, _fps(mols)))
    rng = np.random.default_rng(0)
    gram, kept = Gram(), TanimotoGP(noise=0.1, gram=Gram())
    for start in range(0, 200, 20):  # a window that slides, with a few of the earliest always in it
        keys = list(rng.permutation(mols[:10] + mols[start : start + 60]))
        keys = list(dict.fromkeys(keys))
        train = [fps[k] for k in keys]
        x, k = gram(keys, train)
        fresh = fingerprint_matrix(train)
        assert (x != fresh).nnz == 0
        assert np.array_equal(k, tanimoto_matrix(fresh, fresh))
        scores = rng.random(len(keys))
        test = [fps[m] for m in mols[200:]]
        assert np.array_equal(
            kept.fit(train, scores, keys).predict(test), TanimotoGP(noise=0.1).fit(train, scores).predict(test)
        )
    assert len(gram.rows) == len(keys)  # molecules that left the set are forgotten
