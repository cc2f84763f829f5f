"""Per-molecule RDKit work behind the MOSES metrics, run in worker processes.

Everything here is a plain function of one SMILES string so that it can be mapped over a
process pool; nothing imports torch. Definitions follow ``moses/metrics/utils.py``:

* fingerprint: Morgan, radius 2, 1024 bits (``GetMorganFingerprintAsBitVect(mol, 2, 1024)``),
  stored packed (128 bytes, ``numpy.packbits`` order);
* fragments: the SMILES of the pieces left by ``FragmentOnBRICSBonds``;
* scaffold: canonical SMILES of the Bemis-Murcko scaffold, kept only with at least 2 rings;
* filters: :func:`molvae.evaluate.metrics.filters.mol_passes_filters`;
* properties: Crippen logP, SA score, QED, molecular weight;
* problem: control characters in the SMILES (RDKit reads up to the first one), or what
  :func:`molvae.chem.checks.chemistry_problem` finds (radical electrons, an unusual valence):
  what MOSES does not check; it never changes the MOSES metrics.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold

from molvae.chem.checks import chemistry_problem
from molvae.chem.molecules import mol_from_smiles
from molvae.chem.properties import sa_score
from molvae.evaluate.metrics.filters import mol_passes_filters
from molvae.io.readers import control_characters

FP_RADIUS = 2
FP_BITS = 1024
FP_BYTES = FP_BITS // 8
SCAFFOLD_MIN_RINGS = 2
#: MOSES's names for the four property distributions compared with the Wasserstein distance.
PROPERTY_NAMES = ("logP", "SA", "QED", "weight")
_PROPERTY_FNS = (Crippen.MolLogP, sa_score, QED.qed, Descriptors.MolWt)

_generator = None


class Features(NamedTuple):
    """What the metrics need to know about one valid molecule."""

    canonical: str
    fingerprint: bytes  # FP_BYTES packed bits
    fragments: list[str]
    scaffold: str | None
    passes_filters: bool | None  # None when not asked for (reference sets)
    properties: tuple[float, float, float, float]  # in PROPERTY_NAMES order, NaN on failure
    problem: str = ""  # why molvae does not count it valid although RDKit parses it ("" when it does)


def fingerprint_bytes(mol: Chem.Mol) -> bytes:
    """Packed Morgan radius-2 1024-bit fingerprint (same bits as MOSES's ``fingerprint``)."""
    global _generator
    if _generator is None:
        _generator = rdFingerprintGenerator.GetMorganGenerator(radius=FP_RADIUS, fpSize=FP_BITS)
    return np.packbits(_generator.GetFingerprintAsNumPy(mol)).tobytes()


def fragments(mol: Chem.Mol) -> list[str]:
    """SMILES of the BRICS fragments of ``mol`` (MOSES ``fragmenter``); empty if RDKit fails."""
    try:
        return Chem.MolToSmiles(Chem.FragmentOnBRICSBonds(mol)).split(".")
    except Exception:  # RDKit can throw on exotic chemistry; such a molecule adds no fragment
        return []


def scaffold(mol: Chem.Mol, min_rings: int = SCAFFOLD_MIN_RINGS) -> str | None:
    """Bemis-Murcko scaffold SMILES (MOSES ``compute_scaffold``); ``None`` below ``min_rings``."""
    try:
        scaf = MurckoScaffold.GetScaffoldForMol(mol)
        n_rings = scaf.GetRingInfo().NumRings()
        smiles = Chem.MolToSmiles(scaf)
    except Exception:  # MOSES catches ValueError and RuntimeError; nothing here may crash
        return None
    if smiles == "" or n_rings < min_rings:
        return None
    return smiles


def properties(mol: Chem.Mol) -> tuple[float, float, float, float]:
    """logP, SA, QED and weight of ``mol``; NaN for a value RDKit cannot compute."""
    values = []
    for fn in _PROPERTY_FNS:
        try:
            values.append(float(fn(mol)))
        except Exception:  # exotic valences can make descriptors throw
            values.append(math.nan)
    return tuple(values)  # type: ignore[return-value]


def molecule_features(smiles: str, reparse: bool = True, filters: bool = True) -> Features | None:
    """All per-molecule features of ``smiles``; ``None`` when RDKit cannot parse it (MOSES's invalid).

    With ``reparse`` the features are computed on the molecule parsed back from its canonical
    SMILES, as MOSES does for generated molecules (``get_mol(canonic_smiles(x))``); the
    reference statistics use the molecule as written (``reparse=False``), as MOSES does too.
    ``filters=False`` skips the MCF/PAINS check (60% of the time; references do not need it) and
    molvae's own check (``problem``).
    """
    mol = mol_from_smiles(smiles)
    if mol is None:
        return None
    canonical = Chem.MolToSmiles(mol)
    problem = (control_characters(smiles) or chemistry_problem(mol)) if filters else ""  # atoms as in ``smiles``
    if reparse:
        again = mol_from_smiles(canonical)
        if again is not None:  # a canonical SMILES RDKit cannot read back: keep the original
            mol = again
    return Features(
        canonical=canonical,
        fingerprint=fingerprint_bytes(mol),
        fragments=fragments(mol),
        scaffold=scaffold(mol),
        passes_filters=mol_passes_filters(mol) if filters else None,
        properties=properties(mol),
        problem=problem,
    )


def reference_features(smiles: str) -> Features | None:
    """:func:`molecule_features` without re-parsing or filters (what a reference set needs)."""
    return molecule_features(smiles, reparse=False, filters=False)


def canonical(smiles: str) -> str | None:
    """RDKit canonical SMILES (MOSES ``canonic_smiles``); ``None`` when invalid."""
    mol = mol_from_smiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)
