"""From token ids to checked molecules: SELFIES decoding, RDKit validation, properties.

Every decoded molecule is parsed, sanitised and canonicalised by RDKit; what RDKit rejects is
reported with a reason, never silently dropped.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from molvae.tokens import Vocabulary, symbols_to_smiles

POOL_ABOVE = 20000  # fewer molecules than this are checked in-process


@dataclass(frozen=True)
class Checked:
    """One decoded molecule after RDKit: canonical SMILES (None when invalid) and its properties."""

    selfies: str
    smiles: str | None
    properties: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    @property
    def valid(self) -> bool:
        return self.smiles is not None


def tokens_to_symbols(vocab: Vocabulary, ids) -> list[list[str]]:
    """SELFIES symbol lists of a batch of token-id rows (stopping at ``<end>``)."""
    arr = ids.cpu().numpy() if hasattr(ids, "cpu") else np.asarray(ids)
    return [vocab.decode(row) for row in arr]


def _check_chunk(args: tuple[list[list[str]], tuple[str, ...]]) -> list[Checked]:
    from rdkit import Chem

    from molvae.chem import mol_from_smiles, quiet_rdkit
    from molvae.properties import compute_mol

    chunk, names = args
    out = []
    with quiet_rdkit():
        for symbols in chunk:
            selfies = "".join(symbols)
            raw = symbols_to_smiles(symbols)
            mol = mol_from_smiles(raw) if raw else None
            if mol is None:
                reason = "decoded to an empty molecule" if not raw else f"RDKit rejected {raw}"
                out.append(Checked(selfies, None, {}, reason))
                continue
            values = compute_mol(mol, names)
            out.append(Checked(selfies, Chem.MolToSmiles(mol), dict(zip(names, values))))
    return out


def check_symbols(
    sequences: Sequence[Sequence[str]], property_names: Sequence[str], n_jobs: int | None = None
) -> list[Checked]:
    """Decode SELFIES symbol sequences to canonical SMILES with RDKit and compute properties.

    Large batches are spread over a process pool (``n_jobs``, default all cores).
    """
    names = tuple(property_names)
    seqs = [list(s) for s in sequences]
    n_jobs = n_jobs or os.cpu_count() or 1
    if n_jobs <= 1 or len(seqs) < POOL_ABOVE:
        return _check_chunk((seqs, names))
    import multiprocessing as mp

    size = max(500, len(seqs) // (n_jobs * 4))
    parts = [(seqs[i : i + size], names) for i in range(0, len(seqs), size)]
    out: list[Checked] = []
    with ProcessPoolExecutor(n_jobs, mp_context=mp.get_context("spawn")) as pool:
        for res in pool.map(_check_chunk, parts):
            out.extend(res)
    return out
