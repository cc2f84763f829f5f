"""A cheap stand-in for the objective: Gaussian-process regression on fingerprints.

The ``ga`` search (:mod:`molvae.optimize.engines.ga`) decodes more children than it scores and scores those
this predicts best, so that fewer scoring calls go to molecules unlike any good one.

>>> from rdkit import Chem
>>> from molvae.chem.molecules import morgan_fingerprint
>>> fp = lambda s: morgan_fingerprint(Chem.MolFromSmiles(s))
>>> gp = TanimotoGP(noise=0.01).fit([fp("CCCCO"), fp("c1ccccc1N")], [1.0, 0.0])
>>> [round(float(v), 1) for v in gp.predict([fp("CCCCO"), fp("c1ccccc1N")])]
[1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np


def fingerprint_matrix(fingerprints: Sequence[Any]) -> Any:
    """Fingerprints (RDKit bit vectors) as a sparse 0/1 matrix, one row each."""
    from scipy import sparse

    on = [list(fp.GetOnBits()) for fp in fingerprints]
    indptr = np.cumsum([0] + [len(b) for b in on])
    indices = np.fromiter((i for b in on for i in b), dtype=np.int32, count=int(indptr[-1]))
    n_bits = fingerprints[0].GetNumBits() if fingerprints else 1
    return sparse.csr_matrix((np.ones(len(indices), np.float32), indices, indptr), shape=(len(on), n_bits))


def tanimoto_matrix(a: Any, b: Any) -> np.ndarray:
    """Tanimoto similarity of every row of ``a`` to every row of ``b`` (sparse 0/1 matrices)."""
    both = (a @ b.T).toarray()
    na = np.asarray(a.sum(axis=1)).ravel()[:, None]
    nb = np.asarray(b.sum(axis=1)).ravel()[None, :]
    union = na + nb - both
    return np.divide(both, union, out=np.zeros_like(both), where=union > 0)


class Gram:
    """The Tanimoto kernel among a training set that changes a little between fits: entries
    between molecules of the last set are kept, only those of new molecules computed.

    :meth:`__call__` returns what ``fingerprint_matrix`` and ``tanimoto_matrix`` of the set would,
    entry for entry the same numbers (sums of 0/1 products are exact), at the cost of the new rows.
    """

    def __init__(self) -> None:
        self.rows: dict[Hashable, int] = {}  # key -> row of the last set
        self.fps: Any = None
        self.k = np.zeros((0, 0), dtype=np.float32)

    def __call__(self, keys: Sequence[Hashable], fingerprints: Sequence[Any]) -> tuple[Any, np.ndarray]:
        """The fingerprints as a sparse matrix and their kernel, for molecules named by ``keys``."""
        from scipy import sparse

        old = [i for i, key in enumerate(keys) if key in self.rows]
        new = [i for i, key in enumerate(keys) if key not in self.rows]
        at = [self.rows[keys[i]] for i in old]
        parts = [self.fps[at]] if old else []
        if new:
            parts.append(fingerprint_matrix([fingerprints[i] for i in new]))
        fps = sparse.vstack(parts, format="csr") if len(parts) > 1 else parts[0]
        k = np.empty((len(keys), len(keys)), dtype=np.float32)  # rows in the order old, then new
        k[: len(old), : len(old)] = self.k[np.ix_(at, at)]
        if new:
            k[:, len(old) :] = tanimoto_matrix(fps, fps[len(old) :])
            k[len(old) :, : len(old)] = k[: len(old), len(old) :].T
        back = np.argsort(np.asarray(old + new), kind="stable")  # to the order of ``keys``
        self.fps, self.k = fps[back], k[np.ix_(back, back)]
        self.rows = {key: i for i, key in enumerate(keys)}
        return self.fps, self.k


class TanimotoGP:
    """Gaussian-process regression with the Tanimoto kernel on fingerprints: the posterior mean.

    The scores are standardised, the prior mean is their mean and ``noise`` is the noise variance
    in those units. It ranks unseen molecules much better than the similarity-weighted
    nearest-neighbour average it replaced (``benchmarks/surrogate.py`` measures both).

    ``gram``: a :class:`Gram` that keeps the kernel between fits (a search refits after every
    batch on a training set that changes by that batch); :meth:`fit` then takes the molecules' ``keys``.
    """

    def __init__(self, noise: float = 0.1, gram: Gram | None = None):
        self.noise = noise
        self.gram = gram
        self.train: Any = None

    def fit(
        self, fingerprints: Sequence[Any], scores: Sequence[float], keys: Sequence[Hashable] | None = None
    ) -> TanimotoGP:
        from scipy.linalg import cho_factor, cho_solve

        if len(fingerprints) != len(scores) or (keys is not None and len(keys) != len(scores)):
            raise ValueError(f"{len(fingerprints)} fingerprints for {len(scores)} scores")
        if not len(fingerprints):
            self.train = None
            return self
        y = np.asarray(scores, dtype=float)
        self.mean, self.scale = float(y.mean()), float(y.std()) or 1.0
        if self.gram is not None and keys is not None:
            self.train, k32 = self.gram(keys, fingerprints)
        else:
            self.train = fingerprint_matrix(fingerprints)
            k32 = tanimoto_matrix(self.train, self.train)
        k = k32.astype(float)
        k[np.diag_indices_from(k)] += self.noise
        self.alpha = cho_solve(cho_factor(k, lower=True), (y - self.mean) / self.scale)
        return self

    def predict(self, fingerprints: Sequence[Any]) -> np.ndarray:
        """Posterior means (NaN for every molecule when nothing was fitted)."""
        if self.train is None or not len(fingerprints):
            return np.full(len(fingerprints), np.nan)
        ks = tanimoto_matrix(fingerprint_matrix(fingerprints), self.train)
        return self.mean + self.scale * (ks @ self.alpha)
