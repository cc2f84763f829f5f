"""Graph operators: crossover and mutation of molecules as RDKit graphs, without the model.

The decoder-guided operators of the ``ga`` search (:mod:`molvae.optimize.engines.edits`) change a
molecule through its tokens, and the model chooses what fills the gap. These change the graph
itself, as the graph-based genetic algorithms of the field do (Jensen 2019, and ``mol-ga`` after
it), so that a search can join a ring system of one good molecule to a side chain of another
whatever the model would write there:

- :func:`crossover`: each parent cut at a random acyclic single bond, a random side of each kept,
  the two sides joined where they were cut;
- :func:`mutate`: one random change, retried on another when it cannot be made: an atom added to
  one carrying a hydrogen (``append``), an atom put into an acyclic bond (``insert``), an end atom
  or an acyclic chain atom taken out (``remove``), an element changed (``element``), a bond's
  order raised or lowered (``bond``), a ring of 5 or 6 closed (``close``) or a ring bond broken
  (``open``).

Each returns a SMILES, or ``None`` when the result is not a molecule: RDKit must sanitise it, and
it must be one fragment of ``MIN_ATOMS`` to ``max_atoms`` heavy atoms. What comes out then passes
the check every decoded molecule passes (:func:`molvae.chem.checks.check_smiles`: no radicals, no
unusual valences) before anything scores it. The choices come from the ``numpy`` generator given,
so a search is reproducible.

>>> import numpy as np
>>> from rdkit import Chem
>>> rng = np.random.default_rng(0)
>>> a, b = Chem.MolFromSmiles("c1ccccc1CCO"), Chem.MolFromSmiles("CC(=O)Nc1ccncc1")
>>> kids = {crossover(a, b, rng) for _ in range(50)} | {mutate(a, rng) for _ in range(50)}
>>> from molvae.chem.checks import check_smiles
>>> checked = check_smiles(sorted(kids - {None}))
>>> len(checked) > 50, sum(c.valid for c in checked) == len(checked)
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from rdkit import Chem

from molvae.chem.molecules import quiet_rdkit

MIN_ATOMS = 3
MAX_ATOMS = 60
MUTATIONS = ("append", "insert", "remove", "element", "bond", "close", "open")
#: elements an added or changed atom may be, and how often: the organic subset of drug-like sets,
#: phosphorus included (phosphates, phosphonates and phosphoramidates are in drugs and prodrugs,
#: and the model, trained on MOSES, never writes it)
ELEMENTS = (6, 7, 8, 9, 15, 16, 17, 35)
ELEMENT_WEIGHTS = np.array([0.43, 0.2, 0.17, 0.06, 0.02, 0.05, 0.05, 0.02])
_ORDER = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE}
_SINGLE = Chem.BondType.SINGLE


def finish(mol: Chem.Mol, max_atoms: int = MAX_ATOMS) -> str | None:
    """The SMILES of an edited molecule, or ``None`` when RDKit cannot sanitise it or it is not
    one fragment of ``MIN_ATOMS`` to ``max_atoms`` heavy atoms."""
    try:
        with quiet_rdkit():
            mol = mol.GetMol() if isinstance(mol, Chem.RWMol) else Chem.Mol(mol)
            mol.UpdatePropertyCache(strict=False)
            if Chem.SanitizeMol(mol, catchErrors=True) != Chem.SanitizeFlags.SANITIZE_NONE:
                return None
            Chem.AssignStereochemistry(mol, cleanIt=True, force=True)
            n = mol.GetNumAtoms()
            if not MIN_ATOMS <= n <= max_atoms or len(Chem.GetMolFrags(mol)) != 1:
                return None
            return Chem.MolToSmiles(mol)
    except (RuntimeError, ValueError):  # RDKit's exceptions for kekulisation and valence, raised inside sanitising
        return None


def _side(mol: Chem.Mol, rng: np.random.Generator) -> Chem.Mol | None:
    """One side of ``mol`` cut at a random acyclic single bond, its cut end a dummy atom mapped 1."""
    bonds = [b.GetIdx() for b in mol.GetBonds() if b.GetBondType() == _SINGLE and not b.IsInRing()]
    if not bonds:
        return None
    cut = Chem.FragmentOnBonds(mol, [bonds[int(rng.integers(len(bonds)))]], addDummies=True)
    sides = Chem.GetMolFrags(cut, asMols=True, sanitizeFrags=False)
    side = Chem.RWMol(sides[int(rng.integers(len(sides)))])
    for atom in side.GetAtoms():
        if atom.GetAtomicNum() == 0:
            atom.SetIsotope(0)
            atom.SetAtomMapNum(1)
    return side


def crossover(a: Chem.Mol, b: Chem.Mol, rng: np.random.Generator, max_atoms: int = MAX_ATOMS) -> str | None:
    """A side of ``a`` joined to a side of ``b`` (each cut at a random acyclic single bond)."""
    left, right = _side(a, rng), _side(b, rng)
    if left is None or right is None:
        return None
    try:
        with quiet_rdkit():
            joined = Chem.molzip(left, right)
    except (RuntimeError, ValueError):
        return None
    return finish(joined, max_atoms)


def _hydrogens(atom: Chem.Atom) -> int:
    return atom.GetTotalNumHs()


def _bonded(atom: Chem.Atom, change: int) -> bool:
    """Account for ``change`` more bond order on ``atom``: an atom with a fixed hydrogen count
    (a bracket atom) gives up or takes back hydrogens; others have theirs recomputed. False when
    it has no hydrogen to give."""
    if atom.GetNoImplicit() or atom.GetNumExplicitHs():
        hs = atom.GetNumExplicitHs() - change
        if hs < 0:
            return False
        atom.SetNumExplicitHs(hs)
    return True


def _element(rng: np.random.Generator) -> int:
    return int(rng.choice(ELEMENTS, p=ELEMENT_WEIGHTS))


def _append(m: Chem.RWMol, rng: np.random.Generator) -> bool:
    atoms = [a for a in m.GetAtoms() if _hydrogens(a) > 0]
    if not atoms:
        return False
    atom = atoms[int(rng.integers(len(atoms)))]
    z = _element(rng)
    order = 2 if z in (6, 7, 8, 16) and _hydrogens(atom) >= 2 and rng.random() < 0.2 else 1
    if not _bonded(atom, order):
        return False
    new = m.AddAtom(Chem.Atom(z))
    m.AddBond(atom.GetIdx(), new, _ORDER[order])
    return True


def _insert(m: Chem.RWMol, rng: np.random.Generator) -> bool:
    bonds = [b for b in m.GetBonds() if b.GetBondType() == _SINGLE and not b.IsInRing()]
    if not bonds:
        return False
    bond = bonds[int(rng.integers(len(bonds)))]
    i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
    m.RemoveBond(i, j)
    new = m.AddAtom(Chem.Atom(int(rng.choice((6, 6, 6, 7, 8, 16)))))
    m.AddBond(i, new, _SINGLE)
    m.AddBond(new, j, _SINGLE)
    return True


def _remove(m: Chem.RWMol, rng: np.random.Generator) -> bool:
    options = [a for a in m.GetAtoms() if a.GetDegree() == 1 or (a.GetDegree() == 2 and not a.IsInRing())]
    if not options:
        return False
    atom = options[int(rng.integers(len(options)))]
    neighbours = [n.GetIdx() for n in atom.GetNeighbors()]
    orders = [int(b.GetBondTypeAsDouble()) for b in atom.GetBonds()]
    for n, order in zip(neighbours, orders):
        if not _bonded(m.GetAtomWithIdx(n), -order):
            return False
    if len(neighbours) == 2:  # a chain atom: its neighbours are joined by a single bond
        if not all(_bonded(m.GetAtomWithIdx(n), 1) for n in neighbours):
            return False
        m.AddBond(neighbours[0], neighbours[1], _SINGLE)
    m.RemoveAtom(atom.GetIdx())
    return True


def _change_element(m: Chem.RWMol, rng: np.random.Generator) -> bool:
    atoms = [a for a in m.GetAtoms() if a.GetFormalCharge() == 0 and a.GetAtomicNum() in ELEMENTS]
    if not atoms:
        return False
    atom = atoms[int(rng.integers(len(atoms)))]
    z = _element(rng)
    if z == atom.GetAtomicNum():
        return False
    atom.SetAtomicNum(z)
    atom.SetNoImplicit(False)
    atom.SetNumExplicitHs(0)
    atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    return True


def _change_bond(m: Chem.RWMol, rng: np.random.Generator) -> bool:
    bonds = list(m.GetBonds())
    if not bonds:
        return False
    bond = bonds[int(rng.integers(len(bonds)))]
    order = int(bond.GetBondTypeAsDouble())
    new = order + (1 if order == 1 or (order == 2 and rng.random() < 0.3) else -1)
    if new not in _ORDER:
        return False
    ends = (bond.GetBeginAtom(), bond.GetEndAtom())
    if new > order and not all(_hydrogens(a) >= new - order for a in ends):
        return False
    if not all(_bonded(a, new - order) for a in ends):
        return False
    bond.SetBondType(_ORDER[new])
    bond.SetStereo(Chem.BondStereo.STEREONONE)
    return True


def _close_ring(m: Chem.RWMol, rng: np.random.Generator) -> bool:
    distance = Chem.GetDistanceMatrix(m)
    free = np.array([_hydrogens(a) > 0 for a in m.GetAtoms()])
    pairs = np.argwhere(np.isin(distance, (4, 5)) & free[:, None] & free[None, :])  # rings of 5 and 6
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    if not len(pairs):
        return False
    i, j = (int(v) for v in pairs[int(rng.integers(len(pairs)))])
    if not (_bonded(m.GetAtomWithIdx(i), 1) and _bonded(m.GetAtomWithIdx(j), 1)):
        return False
    m.AddBond(i, j, _SINGLE)
    return True


def _open_ring(m: Chem.RWMol, rng: np.random.Generator) -> bool:
    bonds = [b for b in m.GetBonds() if b.IsInRing() and b.GetBondType() == _SINGLE]
    if not bonds:
        return False
    bond = bonds[int(rng.integers(len(bonds)))]
    i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
    if not (_bonded(m.GetAtomWithIdx(i), -1) and _bonded(m.GetAtomWithIdx(j), -1)):
        return False
    m.RemoveBond(i, j)
    return True


_MUTATE: dict[str, Callable[[Chem.RWMol, np.random.Generator], bool]] = {
    "append": _append,
    "insert": _insert,
    "remove": _remove,
    "element": _change_element,
    "bond": _change_bond,
    "close": _close_ring,
    "open": _open_ring,
}


def mutate(mol: Chem.Mol, rng: np.random.Generator, max_atoms: int = MAX_ATOMS, tries: int = 5) -> str | None:
    """``mol`` after one random change of its graph (up to ``tries`` changes tried in turn)."""
    for _ in range(tries):
        m = Chem.RWMol(mol)
        try:
            Chem.Kekulize(m, clearAromaticFlags=True)
        except Exception:  # noqa: BLE001  (RDKit raises its own KekulizeException)
            return None
        if _MUTATE[MUTATIONS[int(rng.integers(len(MUTATIONS)))]](m, rng):
            smiles = finish(m, max_atoms)
            if smiles is not None:
                return smiles
    return None
