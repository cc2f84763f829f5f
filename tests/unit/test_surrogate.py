"""The kNN surrogate that chooses which decoded children the ga search scores."""

from __future__ import annotations

import numpy as np
from rdkit import Chem

from molvae.chem import morgan_fingerprint
from molvae.surrogate import TanimotoKNN


def _fps(smiles):
    return [morgan_fingerprint(Chem.MolFromSmiles(s)) for s in smiles]


def test_a_molecule_is_predicted_like_its_nearest_scored_neighbours():
    train = ["CCCCCCO", "CCCCCCCO", "c1ccccc1C", "c1ccccc1CC"]
    knn = TanimotoKNN(k=2).fit(_fps(train), [1.0, 0.9, 0.1, 0.0])
    pred = knn.predict(_fps(["CCCCCCCCO", "c1ccccc1CCC"]))
    assert pred[0] > 0.8 and pred[1] < 0.2
    assert np.isnan(TanimotoKNN().predict(_fps(["CCO"]))).all()
