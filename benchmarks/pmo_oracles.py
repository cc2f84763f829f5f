"""The PMO tasks that GuacaMol defines, written with RDKit after GuacaMol's definitions.

PMO (Gao et al. 2022, "Sample efficiency matters: a benchmark for practical molecular
optimization") scores 23 tasks through TDC's oracles; 20 of them are GuacaMol's goal-directed
scoring functions (Brown et al. 2019: ``guacamol/standard_benchmarks.py``,
``common_scoring_functions.py``, ``score_modifier.py``), which TDC re-implements. They are
written here again from those definitions, so that the benchmark needs RDKit only: GuacaMol
itself is never a dependency of molvae. ``tests/benchmarks/test_pmo_oracles.py`` checks every
task against values GuacaMol 0.5.5 computes.

The pieces, as GuacaMol builds them:

- similarity: Tanimoto similarity to a target on one fingerprint: ``ECFP4`` / ``ECFP6`` (Morgan
  radius 2 / 3, unfolded counts), ``FCFP4`` (Morgan radius 2 on feature invariants, counts),
  ``AP`` (atom pairs up to distance 10, counts) or ``PHCO`` (Gobbi 2D pharmacophores, bits);
- modifiers that map a raw value to [0, 1]: :func:`gaussian`, :func:`min_gaussian` (1 at or
  below ``mu``), :func:`max_gaussian` (1 at or above ``mu``), :func:`clipped` (linear from
  ``lower_x`` to ``upper_x``, clipped);
- :class:`Isomer`: closeness to a molecular formula, the geometric mean of a Gaussian (sigma 1)
  per element count and one (sigma 2) on the total number of atoms, hydrogens included;
- :class:`Smarts`: 1 when a pattern matches (0 when ``inverse``);
- :class:`Mean`: geometric or arithmetic mean of parts (the MPOs).

TDC's versions before its pull request #171 (August 2022) computed the isomer tasks' total atom
count from the SMILES string itself (a bug that pull request fixed; the old ones live on as
``*_prev``): the isomer tasks, ``zaleplon_mpo`` and ``sitagliptin_mpo`` of PMO's first figures
used them. Genetic GFN's figures come from PyTDC 0.4.0, which has the fix, as these oracles do.

``drd2``, ``gsk3b`` and ``jnk3``, the other three PMO tasks, are not included: their oracles are
scikit-learn classifiers that TDC downloads as pickles, neither a GuacaMol definition nor
something this project ships or can fetch.

>>> round(TASKS["qed"].score("CC(=O)Nc1ccc(O)cc1"), 3)
0.595
>>> TASKS["isomers_c7h8n2o2"].score("Cc1ccc(N)cc1[N+](=O)[O-]")  # C7H8N2O2 itself
1.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from rdkit import Chem, DataStructs
from rdkit.Chem import Descriptors, rdFingerprintGenerator, rdMolDescriptors
from rdkit.Chem.Pharm2D import Generate, Gobbi_Pharm2D

Modifier = Callable[[float], float]


# ------------------------------------------------------------------ modifiers
def gaussian(mu: float, sigma: float) -> Modifier:
    """exp(-((x - mu) / sigma)² / 2): 1 at ``mu``."""
    return lambda x: math.exp(-0.5 * ((x - mu) / sigma) ** 2)


def min_gaussian(mu: float, sigma: float) -> Modifier:
    """1 for x ≤ ``mu``, a Gaussian tail above (GuacaMol's ``MinGaussianModifier``)."""
    g = gaussian(mu, sigma)
    return lambda x: g(max(x, mu))


def max_gaussian(mu: float, sigma: float) -> Modifier:
    """1 for x ≥ ``mu``, a Gaussian tail below (GuacaMol's ``MaxGaussianModifier``)."""
    g = gaussian(mu, sigma)
    return lambda x: g(min(x, mu))


def clipped(upper_x: float, lower_x: float = 0.0) -> Modifier:
    """0 at ``lower_x``, 1 at ``upper_x``, linear between and clipped to [0, 1] (``ClippedScoreModifier``)."""
    slope = 1.0 / (upper_x - lower_x)
    return lambda x: min(1.0, max(0.0, slope * (x - lower_x)))


def identity(x: float) -> float:
    return x


# ------------------------------------------------------------------ fingerprints
@cache
def _generator(kind: str) -> Any:
    g = rdFingerprintGenerator
    if kind == "ECFP4":
        return g.GetMorganGenerator(radius=2)
    if kind == "ECFP6":
        return g.GetMorganGenerator(radius=3)
    if kind == "FCFP4":
        return g.GetMorganGenerator(radius=2, atomInvariantsGenerator=g.GetMorganFeatureAtomInvGen())
    if kind == "AP":
        return g.GetAtomPairGenerator(maxDistance=10)
    raise ValueError(f"unknown fingerprint {kind!r}")


def fingerprint(mol: Chem.Mol, kind: str) -> Any:
    """The fingerprint GuacaMol's ``get_fingerprint(mol, kind)`` computes (same bits and counts:
    RDKit's generators reproduce the legacy ``GetMorganFingerprint`` / ``GetAtomPairFingerprint``)."""
    if kind == "PHCO":
        return Generate.Gen2DFingerprint(mol, Gobbi_Pharm2D.factory)
    return _generator(kind).GetSparseCountFingerprint(mol)


def _parse(smiles: str) -> Chem.Mol | None:
    """RDKit molecule of a SMILES (``None`` when it cannot be parsed or is empty)."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    return mol if mol is not None and mol.GetNumAtoms() > 0 else None


def _target(smiles: str) -> Chem.Mol:
    mol = _parse(smiles)
    if mol is None:  # pragma: no cover - the targets below are valid
        raise ValueError(f"invalid target {smiles}")
    return mol


# ------------------------------------------------------------------ scoring parts
Part = Callable[[Chem.Mol], float]


class Similarity:
    """Tanimoto similarity to ``target`` on the ``kind`` fingerprint, through ``modifier``."""

    def __init__(self, target: str, kind: str, modifier: Modifier = identity):
        self.kind, self.modifier = kind, modifier
        self.ref = fingerprint(_target(target), kind)

    def __call__(self, mol: Chem.Mol) -> float:
        return self.modifier(DataStructs.TanimotoSimilarity(fingerprint(mol, self.kind), self.ref))


class Descriptor:
    """An RDKit descriptor through a modifier."""

    def __init__(self, fn: Callable[[Chem.Mol], float], modifier: Modifier = identity):
        self.fn, self.modifier = fn, modifier

    def __call__(self, mol: Chem.Mol) -> float:
        return self.modifier(self.fn(mol))


def count_atoms(mol: Chem.Mol, element: str | None = None) -> int:
    """Atoms of ``element`` (every atom when ``None``), implicit hydrogens counted."""
    if element is None or element == "H":
        mol = Chem.AddHs(mol)
    return sum(1 for a in mol.GetAtoms() if element is None or a.GetSymbol() == element)


def parse_formula(formula: str) -> list[tuple[str, int]]:
    """``"C7H8N2O2"`` -> ``[("C", 7), ("H", 8), ("N", 2), ("O", 2)]`` (a missing count is 1)."""
    return [(el, int(n) if n else 1) for el, n in re.findall(r"([A-Z][a-z]*)(\d*)", formula)]


class Isomer:
    """Closeness to a molecular formula (GuacaMol's ``IsomerScoringFunction``, geometric mean)."""

    def __init__(self, formula: str):
        self.counts = parse_formula(formula)
        self.total = sum(n for _, n in self.counts)

    def __call__(self, mol: Chem.Mol) -> float:
        parts = [gaussian(n, 1.0)(count_atoms(mol, el)) for el, n in self.counts]
        parts.append(gaussian(self.total, 2.0)(count_atoms(mol)))
        return geometric_mean(parts)


class Smarts:
    """1.0 when ``pattern`` matches (0.0 with ``inverse``), else the opposite."""

    def __init__(self, pattern: str, inverse: bool = False):
        self.pattern, self.inverse = Chem.MolFromSmarts(pattern), inverse

    def __call__(self, mol: Chem.Mol) -> float:
        return float(mol.HasSubstructMatch(self.pattern) != self.inverse)


def geometric_mean(values: Sequence[float]) -> float:
    return math.prod(values) ** (1.0 / len(values))


class Mean:
    """The geometric (default) or arithmetic mean of ``parts``."""

    def __init__(self, parts: Sequence[Part], geometric: bool = True):
        self.parts, self.geometric = list(parts), geometric

    def __call__(self, mol: Chem.Mol) -> float:
        values = [p(mol) for p in self.parts]
        return geometric_mean(values) if self.geometric else sum(values) / len(values)


# ------------------------------------------------------------------ the tasks
logp, tpsa, bertz = Descriptors.MolLogP, Descriptors.TPSA, Descriptors.BertzCT

SITAGLIPTIN = "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F"
KINASE_HIT = "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C"  # deco_hop and scaffold_hop's start
QUINAZOLINE = "[#7]-c1n[c;h1]nc2[c;h1]c(-[#8])[c;h0][c;h1]c12"  # their scaffold


def _sitagliptin_mpo() -> Part:
    """Sitagliptin's logP, TPSA and formula, but not its ECFP4 bits."""
    mol = _target(SITAGLIPTIN)
    return Mean(
        [
            Similarity(SITAGLIPTIN, "ECFP4", gaussian(0.0, 0.1)),
            Descriptor(logp, gaussian(logp(mol), 0.2)),
            Descriptor(tpsa, gaussian(tpsa(mol), 5.0)),
            Isomer("C16H15F6N5O"),
        ]
    )


def _valsartan_smarts() -> Part:
    """Valsartan's biphenyl amide substructure with sitagliptin's logP, TPSA and Bertz complexity."""
    mol = _target("NC(CC(=O)N1CCn2c(nnc2C(F)(F)F)C1)Cc1cc(F)c(F)cc1F")
    return Mean(
        [
            Smarts("CN(C=O)Cc1ccc(c2ccccc2)cc1"),
            Descriptor(logp, gaussian(logp(mol), 0.2)),
            Descriptor(tpsa, gaussian(tpsa(mol), 5.0)),
            Descriptor(bertz, gaussian(bertz(mol), 30.0)),
        ]
    )


BUILDERS: dict[str, Callable[[], Part]] = {
    "qed": lambda: Descriptor(Descriptors.qed),
    "celecoxib_rediscovery": lambda: Similarity("CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F", "ECFP4"),
    "troglitazone_rediscovery": lambda: Similarity("Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O", "ECFP4"),
    "thiothixene_rediscovery": lambda: Similarity("CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1", "ECFP4"),
    "albuterol_similarity": lambda: Similarity("CC(C)(C)NCC(O)c1ccc(O)c(CO)c1", "FCFP4", clipped(0.75)),
    "mestranol_similarity": lambda: Similarity(
        "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1", "AP", clipped(0.75)
    ),
    "isomers_c7h8n2o2": lambda: Isomer("C7H8N2O2"),
    "isomers_c9h10n2o2pf2cl": lambda: Isomer("C9H10N2O2PF2Cl"),
    "median1": lambda: Mean(  # camphor and menthol
        [Similarity("CC1(C)C2CCC1(C)C(=O)C2", "ECFP4"), Similarity("CC(C)C1CCC(C)CC1O", "ECFP4")]
    ),
    "median2": lambda: Mean(  # tadalafil and sildenafil
        [
            Similarity("O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C", "ECFP6"),
            Similarity("CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C", "ECFP6"),
        ]
    ),
    "fexofenadine_mpo": lambda: Mean(
        [
            Similarity("CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4", "AP", clipped(0.8)),
            Descriptor(tpsa, max_gaussian(90, 10)),
            Descriptor(logp, min_gaussian(4, 1)),
        ]
    ),
    "sitagliptin_mpo": _sitagliptin_mpo,
    "valsartan_smarts": _valsartan_smarts,
    "deco_hop": lambda: Mean(
        [
            Similarity(KINASE_HIT, "PHCO", clipped(0.85)),
            Smarts("CS([#6])(=O)=O", inverse=True),
            Smarts("[#7]-c1ccc2ncsc2c1", inverse=True),
            Smarts(QUINAZOLINE),
        ],
        geometric=False,
    ),
    "scaffold_hop": lambda: Mean(
        [
            Similarity(KINASE_HIT, "PHCO", clipped(0.75)),
            Smarts("[#6]-[#6]-[#6]-[#8]-[#6]~[#6]~[#6]~[#6]~[#6]-[#7]-c1ccc2ncsc2c1"),
            Smarts(QUINAZOLINE, inverse=True),
        ],
        geometric=False,
    ),
    # the held-out GuacaMol tasks of PMO
    "osimertinib_mpo": lambda: Mean(
        [
            Similarity("COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34", "FCFP4", clipped(0.8)),
            Similarity(
                "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34", "ECFP6", min_gaussian(0.85, 0.1)
            ),
            Descriptor(tpsa, max_gaussian(100, 10)),
            Descriptor(logp, min_gaussian(1, 1)),
        ]
    ),
    "perindopril_mpo": lambda: Mean(
        [
            Similarity("O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC", "ECFP4"),
            Descriptor(rdMolDescriptors.CalcNumAromaticRings, gaussian(2, 0.5)),
        ]
    ),
    "amlodipine_mpo": lambda: Mean(
        [
            Similarity(r"Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\C(=O)OC", "ECFP4"),
            Descriptor(rdMolDescriptors.CalcNumRings, gaussian(3, 0.5)),
        ]
    ),
    "ranolazine_mpo": lambda: Mean(
        [
            Similarity("COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2", "AP", clipped(0.7)),
            Descriptor(logp, max_gaussian(7, 1)),
            Descriptor(lambda m: count_atoms(m, "F"), gaussian(1, 1.0)),
            Descriptor(tpsa, max_gaussian(95, 20)),
        ]
    ),
    "zaleplon_mpo": lambda: Mean(
        [Similarity("O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1", "ECFP4"), Isomer("C19H17N3O2")]
    ),
}

#: The tasks issue 25 develops and tunes on.
DEVELOPMENT = (
    "qed",
    "celecoxib_rediscovery",
    "troglitazone_rediscovery",
    "thiothixene_rediscovery",
    "albuterol_similarity",
    "mestranol_similarity",
    "isomers_c7h8n2o2",
    "isomers_c9h10n2o2pf2cl",
    "median1",
    "median2",
    "fexofenadine_mpo",
    "sitagliptin_mpo",
    "valsartan_smarts",
    "deco_hop",
    "scaffold_hop",
)
#: PMO's other GuacaMol tasks: held out, to check that what was tuned carries over.
HELD_OUT = ("osimertinib_mpo", "perindopril_mpo", "amlodipine_mpo", "ranolazine_mpo", "zaleplon_mpo")
#: PMO tasks not included, and why.
NOT_INCLUDED = {
    name: "a scikit-learn classifier TDC downloads as a pickle: not a GuacaMol definition, not shipped here"
    for name in ("drd2", "gsk3b", "jnk3")
}


@dataclass
class Task:
    """One PMO task: :meth:`score` one SMILES, or call it with a list (0.0 for a SMILES RDKit
    cannot parse, as PMO's oracle wrapper answers)."""

    name: str
    part: Part

    def score(self, smiles: str) -> float:
        mol = _parse(smiles)
        return 0.0 if mol is None else float(self.part(mol))

    def __call__(self, smiles: Sequence[str]) -> list[float]:
        return [self.score(s) for s in smiles]


class _Tasks(dict):
    """``name -> Task``, each built on first use (target fingerprints are computed once)."""

    def __missing__(self, name: str) -> Task:
        if name not in BUILDERS:
            raise KeyError(f"unknown PMO task {name!r}")
        task = self[name] = Task(name, BUILDERS[name]())
        return task


TASKS: dict[str, Task] = _Tasks()
