"""Drug-likeness guards: cheap RDKit rules a molecule must pass to be an optimisation result.

An optimiser exploits whatever its score misses (long alkyl chains for logP, anhydrides that
happen to fit a similarity), so :func:`molvae.optimize.run.optimize` applies these rules by default;
a molecule that breaks one is not a result, and the result counts how many broke each rule.
Switch them off with ``guards=False`` (``molvae optimize --no-guards``) or relax one rule:

>>> from rdkit import Chem
>>> Guards().check(Chem.MolFromSmiles("CC(=O)OC(C)=O"))            # acetic anhydride
'reactive: anhydride'
>>> Guards().check(Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1"))       # paracetamol passes
''
>>> Guards(max_chain=None).check(Chem.MolFromSmiles("CCCCCCCCCc1ccccc1"))
''

The rules, each switched off by ``False`` / ``None``:

- ``alerts``: none of MOSES's MCF and PAINS structural alerts (:mod:`molvae.evaluate.metrics.filters`);
- ``max_sa``: synthetic accessibility score (1 easy - 10 hard) at most this;
- ``min_ring_size`` / ``max_ring_size``: every ring (smallest set of smallest rings) within these sizes;
- ``max_chain``: no path of more than this many acyclic sp3 carbons (greasy alkyl chains);
- ``reactive``: none of the reactive or unstable groups in :data:`REACTIVE` (anhydrides, acyl
  halides, peroxides, ...).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from rdkit import Chem

from molvae.errors import ConfigError

#: Reactive or unstable groups: name -> SMARTS.
REACTIVE: dict[str, str] = {
    "anhydride": "[CX3](=[OX1])[OX2][CX3](=[OX1])",
    "acyl halide": "[CX3](=[OX1])[F,Cl,Br,I]",
    "sulfonyl halide": "[SX4](=[OX1])(=[OX1])[F,Cl,Br,I]",
    "peroxide": "[OX2][OX2]",
    "disulfide": "[SX2][SX2]",
    "N-, O- or S-halogen bond": "[#7,#8,#16]-[F,Cl,Br,I]",
    "isocyanate or isothiocyanate": "[NX2]=[CX2]=[OX1,SX1]",
    "azide": "[NX2]=[NX2+]=[NX1-]",
    "diazo": "[CX3]=[NX2+]=[NX1-]",
    "aldehyde": "[CX3H1](=[OX1])[#6]",
    "epoxide or aziridine": "[C;r3]1[O,N;r3][C;r3]1",
    "thiol": "[SX2H1]",
    "alkyl iodide or bromide": "[CX4][Br,I]",
    "nitroso": "[#6,#7][NX2]=[OX1]",
    "ketene": "[CX3]=[CX2]=[OX1]",
    "allene, ketenimine or carbodiimide": "[#6,#7]=[#6X2]=[#6,#7]",  # cumulated double bonds
    "aryne or small-ring alkyne": "[*;r3,r4,r5,r6,r7]#*",  # a triple bond in a ring of 3 to 7 atoms
    "acyl cyanide": "[CX3](=[OX1])C#N",
    "diazonium (N#N)": "[#7]#[#7]",
}


@functools.lru_cache(maxsize=1)
def _reactive_patterns() -> tuple[tuple[str, Chem.Mol], ...]:
    out = []
    for name, smarts in REACTIVE.items():
        patt = Chem.MolFromSmarts(smarts)
        if patt is None:  # pragma: no cover - the table above is tested
            raise ConfigError(f"reactive group {name!r}: invalid SMARTS {smarts}")
        out.append((name, patt))
    return tuple(out)


def longest_carbon_chain(mol: Chem.Mol) -> int:
    """Atoms in the longest path of acyclic sp3 carbons (0 when there is none).

    Acyclic atoms form a forest, so the longest path is found by two breadth-first searches per tree.
    """
    keep = {
        a.GetIdx()
        for a in mol.GetAtoms()
        if a.GetAtomicNum() == 6 and not a.IsInRing() and a.GetHybridization() == Chem.HybridizationType.SP3
    }
    if not keep:
        return 0
    nbrs = {i: [n.GetIdx() for n in mol.GetAtomWithIdx(i).GetNeighbors() if n.GetIdx() in keep] for i in keep}

    def farthest(start: int) -> tuple[int, int, set[int]]:
        dist = {start: 1}
        todo = [start]
        for i in todo:
            for j in nbrs[i]:
                if j not in dist:
                    dist[j] = dist[i] + 1
                    todo.append(j)
        far = max(dist, key=lambda k: dist[k])
        return far, dist[far], set(dist)

    best, seen = 0, set()
    for atom in keep:
        if atom in seen:
            continue
        end, _, tree = farthest(atom)
        _, length, _ = farthest(end)
        seen |= tree
        best = max(best, length)
    return best


@dataclass(frozen=True)
class Guards:
    """Which drug-likeness rules apply and their limits (see the module docstring)."""

    alerts: bool = True
    max_sa: float | None = 4.5
    min_ring_size: int | None = 3
    max_ring_size: int | None = 7
    max_chain: int | None = 6
    reactive: bool = True

    def __post_init__(self) -> None:
        for f in ("alerts", "reactive"):
            if not isinstance(getattr(self, f), bool):
                raise ConfigError(f"guards.{f} must be true or false, got {getattr(self, f)!r}")
        for f in ("max_sa", "min_ring_size", "max_ring_size", "max_chain"):
            v = getattr(self, f)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
                raise ConfigError(f"guards.{f} must be a positive number (or absent), got {v!r}")
        for f in ("min_ring_size", "max_ring_size", "max_chain"):
            v = getattr(self, f)
            if v is not None and not isinstance(v, int):
                raise ConfigError(f"guards.{f} must be an integer, got {v!r}")

    @classmethod
    def off(cls) -> Guards:
        """Every rule switched off."""
        return cls(alerts=False, max_sa=None, min_ring_size=None, max_ring_size=None, max_chain=None, reactive=False)

    @property
    def enabled(self) -> bool:
        return self != Guards.off()

    def check(self, mol: Chem.Mol) -> str:
        """The first rule ``mol`` breaks, as ``"rule: detail"``; ``""`` when it passes them all."""
        if self.reactive:
            for name, patt in _reactive_patterns():
                if mol.HasSubstructMatch(patt):
                    return f"reactive: {name}"
        if self.min_ring_size is not None or self.max_ring_size is not None:
            for ring in mol.GetRingInfo().AtomRings():
                if (self.min_ring_size is not None and len(ring) < self.min_ring_size) or (
                    self.max_ring_size is not None and len(ring) > self.max_ring_size
                ):
                    return f"ring_size: a {len(ring)}-membered ring"
        if self.max_chain is not None:
            n = longest_carbon_chain(mol)
            if n > self.max_chain:
                return f"chain: {n} acyclic sp3 carbons in a row"
        if self.max_sa is not None:  # cheaper than the 502 alerts, so first
            from molvae.chem.properties import sa_score

            sa = sa_score(mol)
            if sa > self.max_sa:
                return f"sa: {sa:.2f} > {self.max_sa:g}"
        if self.alerts:
            from molvae.evaluate.metrics.filters import first_alert

            alert = first_alert(mol)
            if alert:
                return f"alerts: {alert}"
        return ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def as_guards(value: Guards | bool | Mapping[str, Any] | None) -> Guards:
    """Guards from ``True``/``None`` (the defaults), ``False`` (none) or a table of fields
    (where ``false`` switches a limit off).

    >>> as_guards({"max_sa": 6}).max_sa, as_guards(False).enabled
    (6, False)
    """
    if isinstance(value, Guards):
        return value
    if value is None or value is True:
        return Guards()
    if value is False:
        return Guards.off()
    if isinstance(value, Mapping):
        known = {f.name for f in fields(Guards)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigError(f"guards: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        limits = ("max_sa", "min_ring_size", "max_ring_size", "max_chain")  # false switches a limit off
        kw: dict[str, Any] = {k: (None if k in limits and v is False else v) for k, v in value.items()}
        return Guards(**kw)
    raise ConfigError(f"guards must be true, false or a table, got {value!r}")


def rule_of(reason: str) -> str:
    """The rule name of a :meth:`Guards.check` reason (``"reactive: anhydride"`` -> ``"reactive"``)."""
    return reason.partition(":")[0]
