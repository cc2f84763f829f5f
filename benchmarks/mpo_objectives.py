"""Five multi-property objectives for the molvae-versus-GA benchmark, built from RDKit only.

Each objective is a batch function ``list of SMILES -> list of floats`` in [0, 1] (0 for a SMILES
RDKit cannot read), so that molvae (``--objective mpo_objectives:NAME``) and ``mol-ga`` call the
very same code. Each is the weighted geometric mean of desirabilities: Tanimoto similarities to
named drugs (Morgan radius 2, 2048 bits, as GuacaMol's rediscovery and MPO tasks), property
windows that fall off linearly outside the ideal range, and SMARTS requirements.

- ``celecoxib_rediscovery``: similarity to celecoxib, with its molecular weight window (rediscovery).
- ``fluoxetine_mpo``: like fluoxetine (similarity ramped to 1 at 0.75), logP 2.5-4, TPSA 20-50.
- ``zolpidem_hop``: like zolpidem but with a sulfonamide instead of its amide (scaffold hop), QED high.
- ``cns_amide``: a CNS-like amide with an aryl fluoride and a piperidine/piperazine ring: QED,
  MW 300-350, logP 2-3, TPSA 50-70, at most one H donor (no similarity term).
- ``diazepam_paroxetine``: similar to both diazepam and paroxetine at once (a "median molecule").

None of them appears in molvae's tests or tuning; they were written for this benchmark.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import QED, Crippen, Descriptors, rdFingerprintGenerator, rdMolDescriptors

RDLogger.DisableLog("rdApp.*")

DRUGS = {
    "celecoxib": "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1",
    "fluoxetine": "CNCCC(Oc1ccc(C(F)(F)F)cc1)c1ccccc1",
    "zolpidem": "Cc1ccc(-c2nc3ccc(C)cn3c2CC(=O)N(C)C)cc1",
    "diazepam": "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21",
    "paroxetine": "Fc1ccc(cc1)[C@@H]1CCNC[C@H]1COc1ccc2OCOc2c1",
}

_GEN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)


@cache
def _drug_fp(name: str):
    return _GEN.GetFingerprint(Chem.MolFromSmiles(DRUGS[name]))


def _sim(mol: Chem.Mol, name: str) -> float:
    return DataStructs.TanimotoSimilarity(_GEN.GetFingerprint(mol), _drug_fp(name))


def window(v: float, low: float, high: float, width: float) -> float:
    """1 inside [low, high], falling linearly to 0 at ``width`` outside it."""
    out = max(low - v, v - high, 0.0)
    return max(0.0, 1.0 - out / width)


def ramp(v: float, full: float) -> float:
    """v / full, capped at 1 (a similarity that is good enough at ``full``)."""
    return min(1.0, max(0.0, v / full))


def _geo(parts: list[tuple[float, float]]) -> float:
    """Weighted geometric mean of (desirability, weight) pairs; 0 if any is 0."""
    total = sum(w for _, w in parts)
    out = 1.0
    for d, w in parts:
        if d <= 0:
            return 0.0
        out *= d ** (w / total)
    return float(out)


_SULFONAMIDE = Chem.MolFromSmarts("S(=O)(=O)[NX3]")
_AMIDE = Chem.MolFromSmarts("[CX3](=O)[NX3]")
_ARYL_F = Chem.MolFromSmarts("c[F]")
_SAT_N6 = Chem.MolFromSmarts("[NX3;R1]1[CH2][CH2][N,C;R1][CH2][CH2]1")  # piperidine / piperazine ring


def _celecoxib_rediscovery(m: Chem.Mol) -> float:
    return _geo([(_sim(m, "celecoxib"), 3.0), (window(Descriptors.MolWt(m), 330, 400, 150), 1.0)])


def _fluoxetine_mpo(m: Chem.Mol) -> float:
    return _geo(
        [
            (ramp(_sim(m, "fluoxetine"), 0.75), 2.0),
            (window(Crippen.MolLogP(m), 2.5, 4.0, 2.0), 1.0),
            (window(rdMolDescriptors.CalcTPSA(m), 20, 50, 40), 1.0),
        ]
    )


def _zolpidem_hop(m: Chem.Mol) -> float:
    has = 1.0 if m.HasSubstructMatch(_SULFONAMIDE) else 0.2
    no_amide = 1.0 if not m.HasSubstructMatch(_AMIDE) else 0.5
    return _geo([(ramp(_sim(m, "zolpidem"), 0.5), 2.0), (has, 1.0), (no_amide, 1.0), (QED.qed(m), 1.0)])


def _cns_amide(m: Chem.Mol) -> float:
    need = [m.HasSubstructMatch(p) for p in (_AMIDE, _ARYL_F, _SAT_N6)]
    return _geo(
        [
            (QED.qed(m), 2.0),
            (window(Descriptors.MolWt(m), 300, 350, 60), 1.0),
            (window(Crippen.MolLogP(m), 2.0, 3.0, 2.0), 1.0),
            (window(rdMolDescriptors.CalcTPSA(m), 50, 70, 40), 1.0),
            (window(rdMolDescriptors.CalcNumHBD(m), 0, 1, 2), 1.0),
            *((1.0 if ok else 0.3, 1.0) for ok in need),
        ]
    )


def _diazepam_paroxetine(m: Chem.Mol) -> float:
    return _geo([(_sim(m, "diazepam"), 1.0), (_sim(m, "paroxetine"), 1.0)])


def _batch(fn: Callable[[Chem.Mol], float]) -> Callable[[list[str]], list[float]]:
    def score(smiles: list[str]) -> list[float]:
        out = []
        for s in smiles:
            m = Chem.MolFromSmiles(s)
            out.append(0.0 if m is None or m.GetNumAtoms() == 0 else float(fn(m)))
        return out

    score.__name__ = fn.__name__.lstrip("_")
    score.__doc__ = f"Batch form of {fn.__name__.lstrip('_')} (0 for unreadable SMILES)."
    return score


celecoxib_rediscovery = _batch(_celecoxib_rediscovery)
fluoxetine_mpo = _batch(_fluoxetine_mpo)
zolpidem_hop = _batch(_zolpidem_hop)
cns_amide = _batch(_cns_amide)
diazepam_paroxetine = _batch(_diazepam_paroxetine)

OBJECTIVES: dict[str, Callable[[list[str]], list[float]]] = {
    "celecoxib_rediscovery": celecoxib_rediscovery,
    "fluoxetine_mpo": fluoxetine_mpo,
    "zolpidem_hop": zolpidem_hop,
    "cns_amide": cns_amide,
    "diazepam_paroxetine": diazepam_paroxetine,
}
