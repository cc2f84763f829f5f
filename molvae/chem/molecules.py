"""RDKit in one place: parsing, canonicalisation, fingerprints, similarity, drawing, quiet logs.

Functions that can fail on a bad molecule return ``None`` and say so in their docstring;
nothing here raises on chemistry the toolkit rejects.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator, Sequence

from rdkit import Chem, DataStructs, rdBase
from rdkit.Chem import rdFingerprintGenerator

log = logging.getLogger(__name__)

_rdkit_verbose = False


def set_rdkit_verbose(verbose: bool) -> None:
    """Let RDKit's own warnings and errors through :func:`quiet_rdkit` (the CLI's ``-v``)."""
    global _rdkit_verbose
    _rdkit_verbose = verbose


@contextlib.contextmanager
def quiet_rdkit() -> Iterator[None]:
    """Silence RDKit's log lines inside the block (unless verbose mode is on); restore after.

    >>> with quiet_rdkit():
    ...     mol_from_smiles("not a molecule") is None
    True
    """
    if _rdkit_verbose:
        yield
        return
    blocker = rdBase.BlockLogs()
    try:
        yield
    finally:
        del blocker


def mol_from_smiles(smiles: str) -> Chem.Mol | None:
    """Parse and sanitise a SMILES string; ``None`` when RDKit rejects it or it is empty.

    SMILES is ASCII: a string with any other character is refused, as RDKit would drop some of
    them silently (``"Cé"`` would read as methane).

    >>> mol_from_smiles("Cé") is None, mol_from_smiles("CCO").GetNumAtoms()
    (True, 3)
    """
    if not isinstance(smiles, str) or not smiles.strip() or not smiles.isascii():
        return None
    with quiet_rdkit():
        mol = Chem.MolFromSmiles(smiles.strip())
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return mol


def largest_fragment(mol: Chem.Mol) -> Chem.Mol:
    """The largest component of a salt, hydrate or mixture (RDKit's ``LargestFragmentChooser``,
    organic fragments first); ``mol`` itself when it is one component.

    >>> Chem.MolToSmiles(largest_fragment(Chem.MolFromSmiles("CC(=O)[O-].[Na+]")))
    'CC(=O)[O-]'
    """
    if len(Chem.GetMolFrags(mol)) < 2:
        return mol
    from rdkit.Chem.MolStandardize import rdMolStandardize

    with quiet_rdkit():
        return rdMolStandardize.LargestFragmentChooser(preferOrganic=True).choose(mol)


def is_lone_ion(mol: Chem.Mol) -> bool:
    """Whether ``mol`` is a single charged atom (``[Na+]``, ``[Cl-]``, ``[NH4+]``): an ion, not a molecule to learn."""
    return mol.GetNumHeavyAtoms() == 1 and any(a.GetFormalCharge() for a in mol.GetAtoms())


def canonical_smiles(smiles: str, isomeric: bool = True) -> str | None:
    """RDKit canonical SMILES of ``smiles``; ``None`` when it cannot be parsed.

    >>> canonical_smiles("C1=CC=CC=C1O")
    'Oc1ccccc1'
    """
    mol = mol_from_smiles(smiles)
    if mol is None:
        return None
    return Chem.MolToSmiles(mol, isomericSmiles=isomeric)


def flat_forms(smiles: str) -> list[str]:
    """Canonical SMILES of ``smiles`` without its stereo, with its charges neutralised where RDKit
    can (``rdMolStandardize.Uncharger``: acids and protonated amines, not quaternary nitrogen or
    nitro groups), and with both, in that order; forms equal to the molecule itself or to an
    earlier one are left out. Of a salt or mixture, the forms of its largest fragment (what
    training and encoding keep). Empty when the SMILES cannot be parsed or has neither.

    For a model whose vocabulary has no stereo or charge tokens (the shipped MOSES model has
    neither): see :meth:`molvae.nn.codec.LatentCodec.prepare`.

    >>> flat_forms("C[C@H](N)C(=O)[O-]")
    ['CC(N)C(=O)[O-]', 'C[C@H](N)C(=O)O', 'CC(N)C(=O)O']
    >>> flat_forms("CCO")
    []
    >>> flat_forms("C[C@H](N)C(=O)[O-].[Na+]")[-1]
    'CC(N)C(=O)O'
    """
    from rdkit.Chem.MolStandardize import rdMolStandardize

    mol = mol_from_smiles(smiles)
    if mol is None:
        return []
    mol = largest_fragment(mol)  # what is encoded of a salt: its counter-ion would keep the charge
    flat = Chem.Mol(mol)
    Chem.RemoveStereochemistry(flat)
    with quiet_rdkit():
        uncharger = rdMolStandardize.Uncharger()
        forms = [flat, uncharger.uncharge(mol), uncharger.uncharge(flat)]
    own = Chem.MolToSmiles(mol)
    out: list[str] = []
    for form in forms:
        text = Chem.MolToSmiles(form)
        if text != own and text not in out:
            out.append(text)
    return out


_MORGAN: dict[tuple[int, int], rdFingerprintGenerator.FingeprintGenerator64] = {}


def morgan_fingerprint(mol: Chem.Mol, radius: int = 2, n_bits: int = 2048):
    """Bit-vector Morgan (ECFP-like) fingerprint of an RDKit molecule."""
    key = (radius, n_bits)
    gen = _MORGAN.get(key)
    if gen is None:
        gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
        _MORGAN[key] = gen
    return gen.GetFingerprint(mol)


def tanimoto(smiles_a: str, smiles_b: str, radius: int = 2, n_bits: int = 2048) -> float | None:
    """Tanimoto similarity of Morgan fingerprints; ``None`` when either SMILES is invalid.

    >>> tanimoto("CCO", "CCO")
    1.0
    """
    a, b = mol_from_smiles(smiles_a), mol_from_smiles(smiles_b)
    if a is None or b is None:
        return None
    return DataStructs.TanimotoSimilarity(morgan_fingerprint(a, radius, n_bits), morgan_fingerprint(b, radius, n_bits))


def draw_grid(
    smiles: Sequence[str],
    legends: Sequence[str] | None = None,
    path: str | None = None,
    mols_per_row: int = 4,
    size: tuple[int, int] = (250, 220),
) -> bytes:
    """Draw molecules in a grid and return PNG bytes (also written to ``path`` if given).

    Invalid SMILES are skipped together with their legend.
    """
    from rdkit.Chem import Draw

    mols, labels = [], []
    for i, smi in enumerate(smiles):
        mol = mol_from_smiles(smi)
        if mol is None:
            continue
        mols.append(mol)
        labels.append(legends[i] if legends is not None else "")
    if not mols:
        raise ValueError("no valid molecule to draw")
    png = Draw.MolsToGridImage(mols, molsPerRow=mols_per_row, subImgSize=size, legends=labels, returnPNG=True)
    if not isinstance(png, (bytes, bytearray)):  # older RDKit returns an IPython/PIL object
        buf = io.BytesIO()
        png.save(buf, format="PNG")
        png = buf.getvalue()
    if path is not None:
        with open(path, "wb") as fh:
            fh.write(png)
    return bytes(png)
