"""A cheap stand-in for the objective: the scores of a molecule's most similar scored molecules.

The ``ga`` search (:mod:`molvae.evolve`) decodes more children than it scores and scores those
this predicts best, so that fewer scoring calls go to molecules unlike any good one.

>>> from rdkit import Chem
>>> from molvae.chem import morgan_fingerprint
>>> fp = lambda s: morgan_fingerprint(Chem.MolFromSmiles(s))
>>> knn = TanimotoKNN(k=1).fit([fp("CCO"), fp("c1ccccc1")], [1.0, 0.0])
>>> [round(float(v), 2) for v in knn.predict([fp("CCCO"), fp("Cc1ccccc1")])]
[1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class TanimotoKNN:
    """k-nearest-neighbour regression on Tanimoto similarity of fingerprints.

    A prediction is the mean score of the ``k`` most similar training molecules, weighted by
    similarity to the power ``power`` (so the closest dominate).
    """

    def __init__(self, k: int = 10, power: float = 3.0):
        self.k, self.power = k, power
        self.fps: list[Any] = []
        self.scores = np.zeros(0)

    def fit(self, fingerprints: Sequence[Any], scores: Sequence[float]) -> TanimotoKNN:
        if len(fingerprints) != len(scores):
            raise ValueError(f"{len(fingerprints)} fingerprints for {len(scores)} scores")
        self.fps, self.scores = list(fingerprints), np.asarray(scores, dtype=float)
        return self

    def predict(self, fingerprints: Sequence[Any]) -> np.ndarray:
        """Predicted scores (NaN for every molecule when nothing was fitted)."""
        from rdkit import DataStructs

        out = np.full(len(fingerprints), np.nan)
        if not self.fps:
            return out
        k = min(self.k, len(self.fps))
        for i, fp in enumerate(fingerprints):
            sims = np.asarray(DataStructs.BulkTanimotoSimilarity(fp, self.fps))
            near = np.argpartition(-sims, k - 1)[:k]
            w = sims[near] ** self.power + 1e-9
            out[i] = float(np.dot(w, self.scores[near]) / w.sum())
        return out
