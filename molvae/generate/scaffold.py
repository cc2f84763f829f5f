"""Scaffold-constrained generation: only molecules that contain a given core.

The core is a SMILES or SMARTS pattern matched by RDKit substructure search. Sampling starts
around the latent vectors of molecules that contain the core (the core itself when it is a
molecule the model can encode, and any seed molecules given), falls back to the prior while none
is known, and widens its pool with every new match, so the search spreads over the region of the
latent space where the core is kept. Every sample is accounted for:
``n_sampled == kept + invalid + without the core + duplicates``. When the budget runs out
before any molecule with the core is found, :class:`ScaffoldNotFoundError` says so.

Used through the ``scaffold`` option of :meth:`MolVAE.generate` and its siblings (and
``molvae generate --scaffold``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import torch

from molvae.errors import BadInputError, MolVAEError
from molvae.generate.stream import GenerationChunk, GenerationRequest

if TYPE_CHECKING:
    from rdkit import Chem

    from molvae.nn.codec import LatentCodec

log = logging.getLogger(__name__)

PRIOR_SHARE = 0.1  # share of each batch drawn from the prior once the pool holds a molecule


class Scaffold:
    """A core given as SMILES (a molecule) or SMARTS (a query); ``matches`` tests a SMILES.

    >>> Scaffold("c1ccc2[nH]ccc2c1").matches("Cc1c[nH]c2ccccc12")   # doctest: +SKIP
    True
    """

    def __init__(self, text: str):
        from rdkit import Chem

        from molvae.chem.molecules import quiet_rdkit

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
        from molvae.chem.molecules import mol_from_smiles

        mol = mol_from_smiles(smiles) if smiles else None
        return mol is not None and mol.HasSubstructMatch(self.query, useChirality=False)

    def __repr__(self) -> str:
        return f"Scaffold({self.text!r})"


def scaffold_chunks(codec: LatentCodec, req: GenerationRequest) -> Iterator[GenerationChunk]:
    """The molecules of a request with a ``scaffold``, batch by batch, every sample accounted for.

    Samples ``z = pool member + radius * N(0, I)`` where the pool holds the latent vectors of
    molecules known to contain the core: the core itself when it is a molecule the model can
    encode, ``req.around`` and ``req.scaffold_seeds`` when they contain it, and every new match
    (at its own posterior mean). While the pool is empty, and for a ``PRIOR_SHARE`` of each batch
    after, samples come from the prior. The radius adapts so that 10-50 % of the samples around
    the pool keep the core. Stops after ``req.n`` molecules or ``req.limit`` samples; raises
    :class:`ScaffoldNotFoundError` when no sample contained the core.
    """
    assert req.scaffold is not None
    core = Scaffold(req.scaffold)
    n, limit = req.n, req.limit
    g = codec.generator(req.seed)
    condition = req.condition
    around = codec.encodable(req.around, req.flatten) if req.around is not None else None
    if around is not None and condition is None:
        condition = codec.properties_of(around)
    seeds = [codec.encodable(smi, req.flatten) for smi in req.scaffold_seeds]
    candidates = ([core.smiles] if core.smiles else []) + ([around] if around else []) + seeds
    with_core = [smi for smi in candidates if core.matches(smi)]
    if len(with_core) < len(candidates):
        log.info("ignored %d seed molecule(s) without the scaffold", len(candidates) - len(with_core))
    pool = torch.zeros((0, codec.latent_dim), device=codec.device)
    if with_core:
        enc = codec.encode_batch(with_core)
        pool = torch.from_numpy(enc.z).to(codec.device)
        for _, rejected, reason in enc.rejects:
            log.info("cannot start from %s: %s", rejected, reason)
    radius, kept, sampled, without = req.radius, 0, 0, 0
    seen: set[str] = set()
    batch = req.batch_size or 512
    while kept < n and sampled < limit:
        m = min(batch, limit - sampled)
        n_prior = m if len(pool) == 0 else int(round(m * PRIOR_SHARE))
        z = torch.randn((m, codec.latent_dim), generator=g, device=codec.device)
        z[:n_prior] = codec.prior_latents(z[:n_prior], g)
        if m > n_prior:
            pick = torch.randint(0, len(pool), (m - n_prior,), generator=g, device=codec.device)
            z[n_prior:] = pool[pick] + radius * z[n_prior:]
        cond = codec.condition_tensor(condition, m, warn=sampled == 0)
        checked = codec.decode_latents(
            z, cond, temperature=req.temperature_for(codec), generator=g, n_jobs=req.n_jobs, guidance=req.guidance
        )
        chunk = GenerationChunk()
        hits = 0
        for i, c in enumerate(checked):
            if kept >= n:
                break  # surplus samples are not part of the request
            chunk.n_sampled += 1
            has_core = c.smiles is not None and core.matches(c.smiles)
            hits += int(has_core and i >= n_prior)
            if c.smiles is None:
                chunk.invalid.append(c)
            elif not has_core:
                chunk.n_without_scaffold += 1
            elif req.unique and c.smiles in seen:
                chunk.n_duplicates += 1
            else:
                seen.add(c.smiles)
                chunk.molecules.append(c)
                chunk.n_repaired += bool(c.repair)
                kept += 1
        sampled += chunk.n_sampled
        without += chunk.n_without_scaffold
        if m > n_prior:  # keep the share of samples with the core between 10 % and 50 %
            share = hits / (m - n_prior)
            radius = min(radius * 1.25, 2.0) if share > 0.5 else max(radius * 0.75, 0.05) if share < 0.1 else radius
        if chunk.molecules:  # new members sit at their posterior means: where they decode best
            fresh = [c.smiles for c in chunk.molecules if c.smiles is not None]
            chunk.novel = codec.is_novel(fresh)
            pool = torch.cat([pool, torch.from_numpy(codec.encode_batch(fresh).z).to(codec.device)])
        yield chunk
    if kept == 0:
        raise ScaffoldNotFoundError(
            f"no molecule containing the scaffold {core.text!r} in {sampled} samples ({without} valid ones "
            "without it); give seed molecules that contain it (--scaffold-seed), raise --max-samples, "
            "or fine-tune on such molecules (molvae train --init)"
        )
    if kept < n:
        log.warning("found %d molecules with the scaffold of %d requested in %d samples", kept, n, sampled)


class ScaffoldNotFoundError(MolVAEError):
    """No sample within the budget contained the scaffold."""
