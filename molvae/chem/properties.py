"""Registry of named molecular properties computed with RDKit.

Every property is a function of an RDKit molecule returning a float. The registry is the one
place that knows names, units and definitions; conditioning, evaluation and optimisation all
look properties up here.

>>> from molvae.chem.properties import compute
>>> round(compute("CCO", ["logp"])["logp"], 3)
-0.001
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors, Lipinski, MolSurf, RDConfig, rdMolDescriptors

from molvae.chem.molecules import mol_from_smiles
from molvae.errors import UnknownPropertyError

_sascorer = None


def _sa_module():
    """RDKit's Contrib SA_Score module (Ertl & Schuffenhauer 2009), imported once."""
    global _sascorer
    if _sascorer is None:
        path = os.path.join(RDConfig.RDContribDir, "SA_Score")
        if path not in sys.path:
            sys.path.append(path)
        import sascorer

        _sascorer = sascorer
    return _sascorer


def sa_score(mol: Chem.Mol) -> float:
    """Synthetic accessibility score, 1 (easy) to 10 (hard), RDKit Contrib SA_Score."""
    return float(_sa_module().calculateScore(mol))


def penalized_logp(mol: Chem.Mol) -> float:
    """Penalised logP as in the JT-VAE/GCPN benchmarks, not standardised.

    Crippen logP − SA score − max(0, size of the largest ring − 6).
    """
    rings = mol.GetRingInfo().AtomRings()
    largest = max((len(r) for r in rings), default=0)
    cycle_penalty = max(0, largest - 6)
    return float(Crippen.MolLogP(mol) - sa_score(mol) - cycle_penalty)


def qed_score(mol: Chem.Mol, logp: float | None = None) -> float:
    """RDKit's QED, the value of ``rdkit.Chem.QED.qed(mol)``, at about 70% of its cost.

    ``QED.properties`` copies the molecule to remove hydrogens and computes Crippen logP; for a
    molecule without hydrogen atoms the copy is skipped, and ``logp`` (Crippen logP of ``mol``,
    when the caller has it) is reused. Anything else is exactly ``QED.properties``.
    """
    if logp is None or not math.isfinite(logp) or any(a.GetAtomicNum() == 1 for a in mol.GetAtoms()):
        return float(QED.qed(mol))
    props = QED.QEDproperties(
        MW=rdMolDescriptors._CalcMolWt(mol),
        ALOGP=logp,
        HBA=sum(len(mol.GetSubstructMatches(p)) for p in QED.Acceptors if mol.HasSubstructMatch(p)),
        HBD=rdMolDescriptors.CalcNumHBD(mol),
        PSA=MolSurf.TPSA(mol),
        ROTB=rdMolDescriptors.CalcNumRotatableBonds(mol, rdMolDescriptors.NumRotatableBondsOptions.Strict),
        AROM=len(Chem.GetSSSR(Chem.DeleteSubstructs(Chem.Mol(mol), QED.AliphaticRings))),
        ALERTS=sum(1 for alert in QED.StructuralAlerts if mol.HasSubstructMatch(alert)),
    )
    return float(QED.qed(mol, qedProperties=props))


@dataclass(frozen=True)
class Property:
    """A named molecular property: ``fn(mol) -> float``, a one-line description and its unit."""

    name: str
    fn: Callable[[Chem.Mol], float]
    description: str
    unit: str = ""

    def __call__(self, mol: Chem.Mol) -> float:
        return float(self.fn(mol))


PROPERTIES: dict[str, Property] = {
    p.name: p
    for p in [
        Property("logp", Crippen.MolLogP, "Wildman-Crippen logP (octanol/water partition)", "log10 units"),
        Property("qed", qed_score, "quantitative estimate of drug-likeness, 0-1", "unitless, 0-1"),
        Property("sa", sa_score, "synthetic accessibility score, 1 (easy) to 10 (hard)", "unitless, 1-10"),
        Property("mw", Descriptors.MolWt, "molecular weight, g/mol", "g/mol"),
        Property("tpsa", rdMolDescriptors.CalcTPSA, "topological polar surface area, A^2", "A^2"),
        Property("hbd", Lipinski.NumHDonors, "hydrogen-bond donors (Lipinski)", "count"),
        Property("hba", Lipinski.NumHAcceptors, "hydrogen-bond acceptors (Lipinski)", "count"),
        Property("rotb", rdMolDescriptors.CalcNumRotatableBonds, "rotatable bonds", "count"),
        Property("plogp", penalized_logp, "penalised logP: logP - SA - max(0, largest ring - 6)", "log10 units"),
        Property("heavy_atoms", lambda m: m.GetNumHeavyAtoms(), "number of heavy atoms", "count"),
    ]
}


def resolve(names: str | Iterable[str]) -> list[str]:
    """Validate property names (comma-separated string or iterable) and return them as a list.

    Raises :class:`UnknownPropertyError` naming the known properties.

    >>> resolve("logp, qed")
    ['logp', 'qed']
    """
    if isinstance(names, str):
        names = [n for n in (x.strip().lower() for x in names.split(",")) if n]
    out: list[str] = []
    for n in names:
        key = n.strip().lower()
        if key not in PROPERTIES:
            raise UnknownPropertyError(f"unknown property {n!r}; known properties: {', '.join(PROPERTIES)}")
        if key not in out:
            out.append(key)
    return out


def compute_mol(mol: Chem.Mol, names: Sequence[str]) -> list[float]:
    """Values of the named properties for an RDKit molecule (NaN where RDKit fails).

    When both are requested, QED reuses the logP value instead of computing it again.
    """
    values: dict[str, float] = {}
    for n in sorted(names, key=lambda k: k != "logp"):  # logp first
        try:
            v = qed_score(mol, values.get("logp")) if n == "qed" else PROPERTIES[n](mol)
        except Exception:  # RDKit can throw on exotic valences; report NaN, never crash
            v = math.nan
        values[n] = float(v)
    return [values[n] for n in names]


def compute(smiles: str, names: Sequence[str] | str) -> dict[str, float] | None:
    """Properties of one SMILES as a dict; ``None`` when the SMILES is invalid."""
    names = resolve(names)
    mol = mol_from_smiles(smiles)
    if mol is None:
        return None
    return dict(zip(names, compute_mol(mol, names)))
