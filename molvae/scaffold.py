"""Scaffold-constrained generation: only molecules that contain a given core.

The core is a SMILES or SMARTS pattern matched by RDKit substructure search. Sampling starts
around the latent vectors of molecules that contain the core (the core itself when it is a
molecule the model can encode, and any seed molecules given), falls back to the prior while none
is known, and widens its pool with every new match, so the search spreads over the region of the
latent space where the core is kept. Every sample is accounted for:
``n_sampled == kept + invalid + without the core + duplicates``. When the budget runs out
before any molecule with the core is found, :class:`ScaffoldNotFoundError` says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from molvae.errors import BadInputError, MolVAEError

if TYPE_CHECKING:
    from rdkit import Chem

    from molvae.api import MolVAE

log = logging.getLogger(__name__)


class Scaffold:
    """A core given as SMILES (a molecule) or SMARTS (a query); ``matches`` tests a SMILES.

    >>> Scaffold("c1ccc2[nH]ccc2c1").matches("Cc1c[nH]c2ccccc12")   # doctest: +SKIP
    True
    """

    def __init__(self, text: str):
        from rdkit import Chem

        from molvae.chem import quiet_rdkit

        self.text = text.strip()
        if not self.text:
            raise BadInputError("the scaffold is empty: give a SMILES or SMARTS core")
        with quiet_rdkit():
            mol = Chem.MolFromSmiles(self.text)
            query = mol if mol is not None else Chem.MolFromSmarts(self.text)
        if query is None:
            raise BadInputError(f"scaffold {self.text!r} is neither a valid SMILES nor a valid SMARTS")
        self.query: Chem.Mol = query
        #: canonical SMILES of the core when it is a molecule (a first seed), else None
        self.smiles: str | None = Chem.MolToSmiles(mol) if mol is not None else None

    def matches(self, smiles: str | None) -> bool:
        from molvae.chem import mol_from_smiles

        mol = mol_from_smiles(smiles) if smiles else None
        return mol is not None and mol.HasSubstructMatch(self.query, useChirality=False)

    def __repr__(self) -> str:
        return f"Scaffold({self.text!r})"


@dataclass
class ScaffoldGeneration:
    """Molecules that contain the core, and an account of every other sample."""

    scaffold: str
    molecules: list[str] = field(default_factory=list)
    properties: list[dict[str, float]] = field(default_factory=list)
    novel: list[bool] = field(default_factory=list)
    n_invalid: int = 0  # samples that are not valid molecules
    n_without: int = 0  # valid samples without the core
    n_duplicates: int = 0
    n_sampled: int = 0
    seeds_used: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"sampled {self.n_sampled}: wrote {len(self.molecules)} with the scaffold, "
                f"{self.n_without} without it, {self.n_invalid} invalid, {self.n_duplicates} duplicates")


def generate_with_scaffold(
    model: MolVAE,
    n: int,
    scaffold: str | Scaffold,
    condition: Mapping[str, float] | None = None,
    seeds: Sequence[str] = (),
    temperature: float = 1.0,
    radius: float = 0.5,
    seed: int | None = None,
    max_samples: int | None = None,
    batch_size: int = 256,
    prior_fraction: float = 0.1,
) -> ScaffoldGeneration:
    """Up to ``n`` distinct valid molecules that contain ``scaffold``.

    Args:
        model: a loaded :class:`~molvae.api.MolVAE`.
        scaffold: SMILES or SMARTS of the core (or a :class:`Scaffold`).
        condition: requested property values (others free), as for :meth:`MolVAE.generate`.
        seeds: molecules that contain the core to sample around (the core itself is added when
            it is a SMILES the model can encode); seeds without the core are ignored, with a log line.
        radius: standard deviation of the latent noise around each pool member at the start; it
            shrinks when fewer than 10 % of the samples around the pool keep the core and grows
            when more than half do.
        max_samples: sampling budget (default ``50 * n``); fewer than ``n`` molecules come back
            when it runs out, and the summary says how many samples lacked the core.
        prior_fraction: share of each batch drawn from the prior (exploration; all of it while
            no molecule with the core is known).

    Raises :class:`~molvae.errors.BadInputError` for ``n <= 0`` or an unreadable scaffold.
    """
    if n <= 0:
        raise BadInputError(f"number of molecules must be positive, got {n}")
    core = scaffold if isinstance(scaffold, Scaffold) else Scaffold(scaffold)
    budget = max_samples or 50 * n
    rng = np.random.default_rng(seed)
    result = ScaffoldGeneration(scaffold=core.text)

    candidates = ([core.smiles] if core.smiles else []) + list(seeds)
    with_core = [s for s in candidates if core.matches(s)]
    if len(with_core) < len(candidates):
        log.info("ignored %d seed(s) without the scaffold", len(candidates) - len(with_core))
    pool = np.zeros((0, model.latent_dim), dtype=np.float32)
    if with_core:
        enc = model.encode_batch(with_core)
        pool = enc.z.astype(np.float32)
        result.seeds_used = [with_core[i] for i in enc.indices]
        for _, rejected, reason in enc.rejects:
            log.info("cannot start from %s: %s", rejected, reason)

    seen: set[str] = set()
    while result.n_sampled < budget and len(result.molecules) < n:
        m = min(batch_size, budget - result.n_sampled)
        n_prior = m if len(pool) == 0 else int(round(m * prior_fraction))
        z = rng.standard_normal((m, model.latent_dim)).astype(np.float32)
        if m > n_prior:
            centres = pool[rng.integers(0, len(pool), m - n_prior)]
            z[n_prior:] = centres + radius * z[n_prior:]
        decoded = model.decode(z, condition=condition, temperature=temperature,
                               seed=int(rng.integers(2**31)), warn=result.n_sampled == 0)
        fresh, hits = [], 0
        for i, smi in enumerate(decoded):
            if len(result.molecules) >= n:
                break  # surplus samples are not part of the request
            result.n_sampled += 1
            has_core = smi is not None and core.matches(smi)
            hits += has_core and i >= n_prior
            if smi is None:
                result.n_invalid += 1
            elif not has_core:
                result.n_without += 1
            elif smi in seen:
                result.n_duplicates += 1
            else:
                seen.add(smi)
                result.molecules.append(smi)
                result.properties.append(model.properties_of(smi))
                fresh.append(i)
        if m > n_prior:  # keep the share of samples with the core between 10 % and 50 %
            share = hits / (m - n_prior)
            radius = min(radius * 1.25, 2.0) if share > 0.5 else max(radius * 0.75, 0.05) if share < 0.1 else radius
        if fresh:  # new members sit at their own posterior means: the centre of where they decode
            enc = model.encode_batch(result.molecules[len(result.novel):])
            pool = np.concatenate([pool, enc.z.astype(np.float32)])
            result.novel.extend(model.is_novel(result.molecules[len(result.novel):]))
    if not result.molecules:
        raise ScaffoldNotFoundError(
            f"no molecule containing {core.text!r} in {result.n_sampled} samples "
            f"({result.n_without} valid ones without it, {result.n_invalid} invalid); give --scaffold-seed "
            "molecules that contain it, raise --max-samples, or fine-tune on such molecules (molvae train --init)"
        )
    if len(result.molecules) < n:
        log.warning("found %d molecules with the scaffold of %d requested in %d samples",
                    len(result.molecules), n, result.n_sampled)
    return result


class ScaffoldNotFoundError(MolVAEError):
    """No sample within the budget contained the scaffold."""
