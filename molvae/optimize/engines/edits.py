"""Decoder-guided edits of molecules: token templates that the model completes.

A molecule is written as a random (non-canonical) SMILES, so that any atom can come first, and
turned into the model's SELFIES token ids. An edit keeps some of those tokens and leaves others
free (``<pad>``); :meth:`molvae.api.MolVAE.decode_latents` with ``template=`` then imposes the
kept tokens and lets the decoder choose the free ones under a latent vector (the parent's own,
or another molecule's for a crossover). Every SELFIES string is a molecule, so every edit is too.

- ``prefix``: keep the first k tokens, decode the rest (a large edit when k is small);
- ``point``: resample one token in its context, keep the others;
- ``insert``: a new token between two, keep the others;
- ``delete``: drop one token (the decoder has nothing to choose);
- ``grow``: one of ``SUBSTITUENTS`` (methyl, amino, hydroxyl, fluoro, chloro, at random) put
  before a SMILES that starts at an atom carrying a hydrogen (``random_symbols(..., rooted=True)``),
  so bonded to that atom: the small substituent a chemist adds. ``insert`` cannot make it on a
  ring atom (in a ring's SMILES only the first atom has a free end), and the decoder, asked for a
  first token, writes what the parent's canonical SMILES starts with, so it is not asked.

>>> import numpy as np
>>> template(["[C]", "[O]", "[N]"], "point", np.random.default_rng(0), pad=0, end=2, ids={"[C]": 5, "[O]": 6, "[N]": 7})
[5, 6, 0, 2]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from molvae.data.vocabulary import smiles_to_symbols

EDITS = ("prefix", "point", "insert", "delete", "grow")
SUBSTITUENTS = ("[C]", "[N]", "[O]", "[F]", "[Cl]")


def random_symbols(
    smiles: str,
    rng: np.random.Generator,
    max_length: int,
    vocabulary: Mapping[str, int],
    rooted: bool = False,
    mol: Any = None,
) -> list[str]:
    """SELFIES symbols of a random SMILES of the molecule (its canonical one as a fallback); with
    ``rooted``, one of a few that start at a random atom carrying a hydrogen.

    ``mol``: the molecule already parsed from ``smiles`` (a search that edits the same parent many
    times parses it once); the result and the draws from ``rng`` are the same with or without it.
    Returns ``[]`` when none can be written in ``vocabulary`` within ``max_length`` tokens.
    """
    from rdkit import Chem

    from molvae.chem.molecules import mol_from_smiles

    if mol is None:
        mol = mol_from_smiles(smiles)
    if mol is None:
        return []
    options: Iterable[str]
    if rooted:
        atoms = [a.GetIdx() for a in mol.GetAtoms() if a.GetTotalNumHs() > 0]
        if not atoms:
            return []
        root = int(rng.choice(atoms))
        # random walks from the root (reproducibly: the atoms in a random order); all four orders
        # are drawn, but a walk is written only when the ones before it did not fit
        orders = [[int(i) for i in rng.permutation(mol.GetNumAtoms())] for _ in range(4)]
        options = (
            Chem.MolToSmiles(Chem.RenumberAtoms(mol, order), rootedAtAtom=order.index(root), canonical=False)
            for order in orders
        )
    else:
        options = list(Chem.MolToRandomSmilesVect(mol, 1, randomSeed=int(rng.integers(1, 1 << 30)))) + [smiles]
    for smi in options:
        symbols = smiles_to_symbols(smi)
        if symbols and len(symbols) <= max_length and all(t in vocabulary for t in symbols):
            return symbols
    return []


def template(
    symbols: Sequence[str], edit: str, rng: np.random.Generator, *, pad: int, end: int, ids: Mapping[str, int]
) -> list[int]:
    """Token ids of an edit of ``symbols`` (``pad`` where the decoder chooses), ending with ``end``
    unless the decoder is to write the rest (``prefix``). ``symbols`` must not be empty."""
    tok = [ids[t] for t in symbols]
    n = len(tok)
    if edit == "prefix":
        return tok[: int(rng.integers(1, n))] if n > 1 else []
    i = int(rng.integers(0, n))
    if edit == "point":
        return tok[:i] + [pad] + tok[i + 1 :] + [end]
    if edit == "insert":
        j = int(rng.integers(1, n + 1))  # after the first token, so the molecule still starts with an atom
        return tok[:j] + [pad] + tok[j:] + [end]
    if edit == "grow":  # a substituent on the first atom, then the molecule as it was
        return [ids[str(rng.choice(SUBSTITUENTS))]] + tok + [end]
    if edit == "delete":
        return tok[:i] + tok[i + 1 :] + [end] if n > 1 else tok + [end]
    raise ValueError(f"unknown edit {edit!r}; use one of {', '.join(EDITS)}")


def pad_rows(rows: Sequence[Sequence[int]], pad: int) -> np.ndarray:
    """Rows of token ids in one [n, longest] array, filled with ``pad`` (at least one column)."""
    out = np.full((len(rows), max([1] + [len(r) for r in rows])), pad, dtype=np.int64)
    for k, r in enumerate(rows):
        out[k, : len(r)] = r
    return out
