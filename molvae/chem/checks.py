"""From token ids to checked molecules: SELFIES decoding, RDKit validation, properties.

Every decoded molecule is parsed, sanitised and canonicalised by RDKit; what RDKit rejects is
reported with a reason, never silently dropped. A molecule RDKit accepts is still not valid when
:func:`chemistry_problem` finds an atom that real molecules do not have:

* **radical electrons** on any atom (an atom RDKit read from a bracket, such as ``[C@@H]``,
  ``[NH]`` or ``[NH+]``, has exactly the hydrogens written, so with fewer bonds than its valence
  it has an unpaired electron, e.g. ``C=C[NH]``);
* an **unusual valence**: a hypervalent atom (above the lowest valence of its element and charge:
  S at 4 or 6, P at 5, I at 3 or 5) with more single bonds, hydrogens included, than that lowest
  valence (``C[SH](C)C``: three single bonds and a hydrogen on a neutral S, which SELFIES' default
  constraints allow; a phosphorane; SF5), or a hypervalent S, Se or Te that carries hydrogen
  (``N=[SH](=O)=O``). Hypervalence through double bonds, as in sulfoxides, sulfones,
  sulfonamides, sulfoximines, phosphates and H-phosphinates (``S(=O)``, ``S(=O)(=O)``,
  ``P(=O)``), is ordinary.

The rule comes from data: none of the 1,584,663 molecules of the MOSES training set breaks it
(its 171,000 hypervalent sulfur atoms are sulfoxides, sulfones and the like, none with hydrogen),
2 of the 249,456 of ZINC250k do (two phosphoranes), and 64 of 5,000 samples of the model shipped then
did before this check (12 radicals, 52 sulfur atoms such as ``[SH]`` with three single bonds).

Decoded molecules are **repaired** first, in one case only (:func:`restore_hydrogens`): a SELFIES
symbol in brackets (a fixed hydrogen count, a charge or stereo: ``[C@@H1]``, ``[NH1]``,
``[NH1+1]``) decodes to a SMILES bracket atom with exactly that many hydrogens, however many bonds
the decoder gives it; where it gives fewer than the atom's valence (the ring or branch it was
written for closes elsewhere or not at all), the atom is short of bonds and RDKit counts radical
electrons. SELFIES fills every plain atom (``[C]``, ``[N]``) with hydrogens up to its valence; the
repair does the same for these atoms, and a stereo tag that no longer marks a stereocentre goes
(RDKit's stereo perception drops it; none is invented). What comes out is a closed-shell molecule,
and every repair is counted (:attr:`Checked.repair` says what was done). A radical in a SMILES a
user gives (``evaluate``, seeds) is never repaired: it is rejected.

The chemistry costs far more than sampling on the model (about 1 ms per molecule and core for
SELFIES decoding, RDKit parsing, canonical SMILES, logP, QED and SA), so large requests go through
a :class:`ChemistryPool`: chunks of token ids are checked in worker processes while the model
samples the next batch, and results come back in submission order.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from molvae.data.vocabulary import Vocabulary, symbols_to_smiles
from molvae.runtime.parallel import executor, resolve_jobs

POOL_ABOVE = 4000  # fewer molecules than this are checked in-process
CHUNK = 512  # molecules per task handed to a worker (small enough that the last ones share out evenly)

#: How reasons start, by kind (:func:`reason_kind`): RDKit's own refusal, and what :func:`chemistry_problem` finds.
RDKIT_REJECTED = "RDKit rejected"
RADICAL = "radical electrons"
UNUSUAL_VALENCE = "unusual valence"
EMPTY = "decoded to an empty molecule"
RESTORED_H = "hydrogens restored"  # how a repair's note starts (restore_hydrogens)
_CHALCOGENS = (16, 34, 52)  # S, Se, Te: never hypervalent with a hydrogen in MOSES or ZINC250k


def chemistry_problem(mol, smiles: str = "") -> str:
    """Why an RDKit-sanitised molecule is not a valid molecule after all; ``""`` when it is.

    The first atom with radical electrons, else the first atom with an unusual valence (see the
    module docstring), named by its 1-based position in ``smiles`` (the SMILES ``mol`` was parsed
    from, which the reason quotes).

    >>> from rdkit import Chem
    >>> chemistry_problem(Chem.MolFromSmiles("C=C[NH]"), "C=C[NH]")
    'radical electrons on atom 3 (N, 1 unpaired) of C=C[NH]'
    >>> chemistry_problem(Chem.MolFromSmiles("C[SH](C)C"), "C[SH](C)C")
    'unusual valence on atom 2 (S: 3 single bonds and 1 H, valence 4) of C[SH](C)C'
    >>> [chemistry_problem(Chem.MolFromSmiles(s)) for s in ("CS(C)=O", "CS(=O)(=O)N", "COP(=O)(OC)OC", "CO[PH](C)=O")]
    ['', '', '', '']
    """
    from rdkit import Chem

    of = f" of {smiles}" if smiles else ""
    radical, suspect = _atom_queries()
    for atom in mol.GetAtomsMatchingQuery(radical):  # the first, in the atoms' order
        n = atom.GetNumRadicalElectrons()
        return f"{RADICAL} on atom {atom.GetIdx() + 1} ({atom.GetSymbol()}, {n} unpaired){of}"
    table = Chem.GetPeriodicTable()
    single = Chem.BondType.SINGLE
    for (i,) in sorted(mol.GetSubstructMatches(suspect, uniquify=False, maxMatches=mol.GetNumAtoms())):
        atom = mol.GetAtomWithIdx(i)  # the only atoms that can be above their lowest valence, in order
        # the lowest valence of the element with this many electrons: N+ counts as C, S+ as P, O- as F
        z = atom.GetAtomicNum() - atom.GetFormalCharge()
        valences = [v for v in table.GetValenceList(z) if v > 0] if 0 < z < 119 else []
        valence = atom.GetTotalValence()
        if not valences or valence <= min(valences):
            continue  # metals (any valence in RDKit's table), and every atom at its element's lowest valence
        hydrogens = atom.GetTotalNumHs(includeNeighbors=True)
        singles = sum(b.GetBondType() == single and b.GetOtherAtom(atom).GetAtomicNum() != 1 for b in atom.GetBonds())
        chalcogen_hydride = hydrogens and atom.GetAtomicNum() in _CHALCOGENS
        if chalcogen_hydride or singles + hydrogens > min(valences):
            charge = atom.GetFormalCharge()
            name = atom.GetSymbol() + (f"{charge:+d}" if charge else "")
            bonds = f"{singles} single bond{'s' if singles != 1 else ''}" + (f" and {hydrogens} H" if hydrogens else "")
            return f"{UNUSUAL_VALENCE} on atom {atom.GetIdx() + 1} ({name}: {bonds}, valence {valence}){of}"
    return ""


def restore_hydrogens(mol):
    """``(molecule, note)``: ``mol`` with hydrogens added to every atom that has radical electrons, as
    many as it has unpaired electrons; ``(mol, "")`` when it has none.

    For molecules decoded from SELFIES only (see the module docstring): such an atom came from a
    bracket symbol with a fixed hydrogen count that the decoder left short of bonds. The atoms keep
    their order (the note numbers them from 1, as :func:`chemistry_problem` does); RDKit's stereo
    perception then drops the stereo tags of atoms that are no longer stereocentres. ``None`` in
    place of the molecule if RDKit refuses the result.

    >>> from rdkit import Chem
    >>> mol, note = restore_hydrogens(Chem.MolFromSmiles("C[C@@H]C"))
    >>> Chem.MolToSmiles(mol), note
    ('CCC', 'hydrogens restored on atom 2 (C, 1 H added)')
    >>> restore_hydrogens(Chem.MolFromSmiles("C[C@@H](O)F"))[1]
    ''
    """
    from rdkit import Chem

    short = [
        (a.GetIdx(), a.GetSymbol(), a.GetNumRadicalElectrons()) for a in mol.GetAtoms() if a.GetNumRadicalElectrons()
    ]
    if not short:
        return mol, ""
    rw = Chem.RWMol(mol)
    for idx, _, n in short:
        atom = rw.GetAtomWithIdx(idx)
        atom.SetNumRadicalElectrons(0)
        atom.SetNumExplicitHs(atom.GetNumExplicitHs() + n)
    atoms = ", ".join(f"{idx + 1} ({symbol}, {n} H added)" for idx, symbol, n in short)
    note = f"{RESTORED_H} on atom{'s' if len(short) > 1 else ''} {atoms}"
    try:
        Chem.SanitizeMol(rw)
        Chem.AssignStereochemistry(rw, cleanIt=True, force=True)
    except Exception:  # RDKit refuses the result (not seen): the molecule counts as rejected by RDKit
        return None, note
    return rw.GetMol(), note


@functools.cache
def _atom_queries() -> tuple[Any, Any]:
    """Queries that RDKit evaluates in C++ (not atom by atom in Python) for :func:`chemistry_problem`:
    atoms with radical electrons, and atoms that may be above the lowest valence of their element
    and charge, a superset of those it flags: charged atoms, atoms of elements with several
    valences, and atoms of an element with one valence above it."""
    from rdkit import Chem
    from rdkit.Chem import rdqueries

    table = Chem.GetPeriodicTable()
    terms = ["!+0"]
    for z in range(1, 119):
        valences = [v for v in table.GetValenceList(z) if v > 0]
        if len(valences) > 1:
            terms.append(f"#{z}")
        elif valences:
            terms.append(f"#{z}&v{{{valences[0] + 1}-}}")
    return rdqueries.NumRadicalElectronsGreaterQueryAtom(0), Chem.MolFromSmarts(f"[{','.join(terms)}]")


def reason_kind(reason: str) -> str:
    """The kind of a reason a molecule is invalid: ``"radical electrons"``, ``"unusual valence"``,
    ``"RDKit rejected"``, ``"decoded to an empty molecule"`` (or the reason itself).

    >>> reason_kind("unusual valence on atom 2 (S: 3 single bonds and 1 H, valence 4) of C[SH](C)C")
    'unusual valence'
    """
    for kind in (RADICAL, UNUSUAL_VALENCE, RDKIT_REJECTED, EMPTY):
        if reason.startswith(kind):
            return kind
    return reason


@dataclass(frozen=True)
class Checked:
    """One decoded molecule after RDKit: canonical SMILES (None when invalid) and its properties."""

    selfies: str
    smiles: str | None
    properties: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    repair: str = ""  # what restore_hydrogens did to make it valid ("" when nothing)
    #: the RDKit molecule the check parsed, when asked for (``check_symbols(..., molecules=True)``)
    mol: Any = field(default=None, compare=False, repr=False)

    @property
    def valid(self) -> bool:
        return self.smiles is not None


@dataclass
class CheckedChunk:
    """Checked molecules of one chunk, column by column (cheap to send between processes)."""

    selfies: list[str]
    smiles: list[str | None]  # canonical SMILES, None where invalid
    properties: np.ndarray  # float64 [n, P]; NaN where invalid
    reasons: list[str]  # "" where valid
    repairs: list[str] = field(default_factory=list)  # per molecule, "" where none (restore_hydrogens)
    mols: list[Any] | None = None  # the parsed molecules (None where invalid), when kept; never sent between processes

    def __len__(self) -> int:
        return len(self.smiles)

    def checked(self, names: Sequence[str]) -> list[Checked]:
        """The same molecules as :class:`Checked` objects."""
        rows = self.properties.tolist()
        repairs = self.repairs or [""] * len(self)
        mols = self.mols if self.mols is not None else [None] * len(self.smiles)
        return [
            Checked(sf, smi, dict(zip(names, vals)) if smi is not None else {}, reason, repair, mol)
            for sf, smi, vals, reason, repair, mol in zip(self.selfies, self.smiles, rows, self.reasons, repairs, mols)
        ]


def tokens_to_symbols(vocab: Vocabulary, ids) -> list[list[str]]:
    """SELFIES symbol lists of a batch of token-id rows (stopping at ``<end>``)."""
    arr = ids.cpu().numpy() if hasattr(ids, "cpu") else np.asarray(ids)
    return [vocab.decode(row) for row in arr.tolist()]


def _check_smiles_list(
    raws: Iterable[str],
    names: tuple[str, ...],
    selfies: list[str],
    molecules: bool = False,
    repair_hydrogens: bool = False,
) -> CheckedChunk:
    """The one check: each raw SMILES parsed and sanitised by RDKit, refused with a reason when
    :func:`chemistry_problem` finds one, else canonicalised, with the properties ``names``
    (and, with ``molecules``, the parsed molecules). ``repair_hydrogens`` (SMILES decoded from
    SELFIES only): :func:`restore_hydrogens` first."""
    from rdkit import Chem

    from molvae.chem.molecules import mol_from_smiles, quiet_rdkit
    from molvae.chem.properties import compute_mol

    smiles: list[str | None] = []
    props: list[list[float]] = []
    reasons: list[str] = []
    repairs: list[str] = []
    mols: list[Any] = []
    nan = [float("nan")] * len(names)
    with quiet_rdkit():
        for raw in raws:
            mol = mol_from_smiles(raw) if raw else None
            repair = ""
            if mol is not None and repair_hydrogens:
                mol, repair = restore_hydrogens(mol)
            problem = EMPTY if not raw else f"{RDKIT_REJECTED} {raw}" if mol is None else chemistry_problem(mol, raw)
            if problem and repair:  # the hydrogens restored did not make it valid (e.g. [SH] with 3 single bonds)
                problem = f"{problem}, after {repair}"
            repairs.append("" if problem else f"{repair} of {raw}" if repair else "")
            if problem:
                smiles.append(None)
                props.append(nan)
                reasons.append(problem)
                mols.append(None)
                continue
            smiles.append(Chem.MolToSmiles(mol))
            props.append(compute_mol(mol, names))
            reasons.append("")
            mols.append(mol)
    arr = np.asarray(props, dtype=np.float64).reshape(len(smiles), len(names))
    return CheckedChunk(selfies, smiles, arr, reasons, repairs, mols if molecules else None)


def _check_symbol_lists(
    sequences: Iterable[Sequence[str]], names: tuple[str, ...], molecules: bool = False
) -> CheckedChunk:
    selfies: list[str] = []

    def raws() -> Iterator[str]:
        for symbols in sequences:
            selfies.append("".join(symbols))
            yield symbols_to_smiles(symbols)

    return _check_smiles_list(raws(), names, selfies, molecules, repair_hydrogens=True)


def check_smiles(smiles: Sequence[str], property_names: Sequence[str] = (), molecules: bool = False) -> list[Checked]:
    """The check of every decoded molecule (RDKit, then :func:`chemistry_problem`), for molecules
    made as SMILES rather than decoded (the graph operators of a search): canonical SMILES, or
    ``None`` with the reason. Their ``selfies`` is empty. ``molecules``: see :func:`check_symbols`.
    Nothing is repaired: a radical here is one the operator made, not a SELFIES symbol's fixed
    hydrogen count.

    >>> [(c.smiles, c.reason) for c in check_smiles(["OCC", "C=C[NH]"])]
    [('CCO', ''), (None, 'radical electrons on atom 3 (N, 1 unpaired) of C=C[NH]')]
    """
    names = tuple(property_names)
    return _check_smiles_list(smiles, names, [""] * len(smiles), molecules).checked(names)


def check_ids(args: tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]) -> CheckedChunk:
    """Worker: check token-id rows ``ids`` [n, T] given the vocabulary's tokens and property names."""
    ids, tokens, names = args
    vocab = Vocabulary(list(tokens))
    return _check_symbol_lists((vocab.decode(row) for row in ids.tolist()), names)


def check_symbols(
    sequences: Sequence[Sequence[str]],
    property_names: Sequence[str],
    n_jobs: int | None = None,
    molecules: bool = False,
) -> list[Checked]:
    """Decode SELFIES symbol sequences to canonical SMILES with RDKit and compute properties.

    Large batches are spread over a process pool (``n_jobs``, default all cores). ``molecules``:
    each valid :class:`Checked` keeps the RDKit molecule the check parsed (the same molecule as
    its canonical SMILES, so a caller need not parse it again), when checked in this process.
    """
    names = tuple(property_names)
    seqs = [list(s) for s in sequences]
    n_jobs = resolve_jobs(n_jobs)
    if n_jobs <= 1 or len(seqs) < POOL_ABOVE:
        return _check_symbol_lists(seqs, names, molecules).checked(names)
    out: list[Checked] = []
    with executor(n_jobs) as pool:
        parts = [seqs[i : i + CHUNK] for i in range(0, len(seqs), CHUNK)]
        for res in pool.map(_check_symbol_lists, parts, [names] * len(parts)):
            out.extend(res.checked(names))
    return out


class ChemistryPool:
    """Check chunks of token ids in ``n_jobs`` worker processes, overlapped with the caller's work.

    :meth:`imap` takes a lazy iterable of token-id arrays (e.g. batches being sampled on the model),
    keeps at most ``max_pending`` chunks in flight and yields :class:`CheckedChunk` results in
    order; the iterable is only advanced while there is room, so memory stays bounded however many
    molecules pass through. With ``n_jobs == 1`` everything runs in this process. Use as a context
    manager: leaving it cancels what is still queued.
    """

    def __init__(
        self,
        vocab: Vocabulary,
        property_names: Sequence[str],
        n_jobs: int | None = None,
        max_pending: int | None = None,
    ):
        self.tokens = tuple(vocab.tokens)
        self.names = tuple(property_names)
        self.n_jobs = resolve_jobs(n_jobs)
        self.max_pending = max_pending or max(8, 4 * self.n_jobs)
        self._pool = None
        if self.n_jobs > 1:
            # compute the properties of one molecule here first: lazily loaded tables (the SA score's
            # fragment contributions) are then inherited by forked workers instead of loaded by each
            _check_symbol_lists([["[C]"]], self.names)
            self._pool = executor(self.n_jobs)

    def submit(self, ids: np.ndarray) -> Future:
        if self._pool is None:
            fut: Future = Future()
            fut.set_result(check_ids((ids, self.tokens, self.names)))
            return fut
        return self._pool.submit(check_ids, (ids, self.tokens, self.names))

    def imap(self, chunks: Iterable[np.ndarray]) -> Iterator[CheckedChunk]:
        pending: deque[Future] = deque()
        it = iter(chunks)
        exhausted = False
        while True:
            while not exhausted and len(pending) < self.max_pending:
                try:
                    pending.append(self.submit(next(it)))
                except StopIteration:
                    exhausted = True
            if not pending:
                return
            yield pending.popleft().result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ChemistryPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
