"""PMO's rules, as its code (wenhao-gao/mol_opt, ``main/optimizer.py``) implements them: what a call
is, and the area under the top-10 curve.

**Calls.** An optimiser hands the oracle SMILES. A SMILES that RDKit cannot parse (or that is
empty) scores 0 and is not a call. Any other is canonicalised (``Chem.MolToSmiles``, isomeric);
a canonical SMILES scored before is answered from the cache and is not a call; a new one is
scored, appended to the record in order, and is one call. mol_opt stops scoring once its
buffer has passed the budget (so it may hold one molecule more); :class:`CallCounter` stops
exactly at the budget: the call after it raises :class:`Spent`.

**AUC top-10** (:func:`auc_top_k`, mol_opt's ``top_auc`` with ``top_n=10``): the mean of the 10
best scores among the first m calls (fewer than 10 are averaged as they are), taken at m = 100,
200, ... and at the number of calls made; the area under that curve by trapezoids from (0, 0);
when the optimiser stopped before the budget, its last value is carried to the budget; the
area is divided by the budget, so it lies in [0, 1] (a run that scores 1.0 from its first call
gets 0.995: the first trapezoid rises from 0).

>>> round(auc_top_k([1.0] * 10_000, budget=10_000), 4)
0.995
>>> round(auc_top_k([1.0] * 5_000, budget=10_000), 4)  # stopped at 5,000: 1.0 carried to 10,000
0.995
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Sequence

from rdkit import Chem, rdBase

EVERY = 100  # calls between two points of the curve (PMO's freq_log)


class Spent(Exception):
    """The optimiser asked for a call past the budget."""


class CallCounter:
    """PMO's oracle wrapper around ``score`` (one canonical SMILES -> a number).

    Call it with a list of SMILES; it returns their scores (0.0 for one RDKit cannot parse) and
    keeps :attr:`calls`, every new canonical molecule scored, in order, with its score.
    :attr:`seconds` is the time spent inside it (parsing, canonicalising, the cache and the
    oracle): the part of a run that is not the optimiser's own work.
    """

    def __init__(self, score: Callable[[str], float], budget: int):
        self.score, self.budget = score, budget
        self.calls: list[tuple[str, float]] = []
        self.cache: dict[str, float] = {}
        self.seconds = 0.0
        self.invalid = 0  # SMILES that could not be parsed (not calls)

    def __call__(self, smiles: Sequence[str]) -> list[float]:
        t0 = time.perf_counter()
        try:
            out = []
            for s in smiles:
                key = self.canonical(s)
                if key is None:
                    self.invalid += 1
                    out.append(0.0)
                    continue
                if key not in self.cache:
                    if len(self.calls) >= self.budget:
                        raise Spent(f"call {len(self.calls) + 1} of a budget of {self.budget}")
                    value = float(self.score(key))
                    self.cache[key] = value
                    self.calls.append((key, value))
                out.append(self.cache[key])
            return out
        finally:
            self.seconds += time.perf_counter() - t0

    @staticmethod
    def canonical(smiles: str) -> str | None:
        """RDKit's canonical SMILES, or ``None`` for an empty or unparsable string."""
        if not smiles:
            return None
        blocker = rdBase.BlockLogs()  # invalid SMILES are expected: keep RDKit quiet
        mol = Chem.MolFromSmiles(smiles)
        del blocker
        if mol is None or mol.GetNumAtoms() == 0:
            return None
        return Chem.MolToSmiles(mol)


def top_mean(scores: Sequence[float], k: int) -> float:
    """Mean of the ``k`` best scores (of all when fewer; 0.0 when there are none)."""
    best = heapq.nlargest(k, scores)
    return sum(best) / len(best) if best else 0.0


def marks(n: int, every: int = EVERY) -> list[int]:
    """The numbers of calls at which the curve is taken: every ``every`` calls, and ``n``."""
    out = list(range(every, n, every))
    return out + [n] if n else out


def curve(scores: Sequence[float], k: int = 10, every: int = EVERY) -> list[tuple[int, float]]:
    """``(calls, mean of the k best so far)`` at :func:`marks` of the run."""
    return [(m, top_mean(scores[:m], k)) for m in marks(len(scores), every)]


def auc_top_k(scores: Sequence[float], budget: int, k: int = 10, every: int = EVERY, finished: bool = True) -> float:
    """PMO's normalised area under the top-``k`` curve of the scores in call order (see the
    module docstring). Calls past ``budget`` are ignored; ``finished=False`` (a run still going)
    does not carry the last value to the budget."""
    scores = list(scores[:budget])
    area, prev, called = 0.0, 0.0, 0
    for m, value in curve(scores, k, every):
        area += (m - called) * (value + prev) / 2
        prev, called = value, m
    if finished and called < budget:
        area += (budget - called) * prev
    return area / budget
