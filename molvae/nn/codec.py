"""The latent codec: a trained network with its vocabulary, property scaler and device, which
turns molecules into latent vectors and latent vectors into checked molecules; and what it
returns when it reads molecules (prepared token rows, latent vectors, the reasons for every
molecule it could not use)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from molvae.chem.checks import Checked, check_symbols, tokens_to_symbols
from molvae.chem.molecules import flat_forms, mol_from_smiles
from molvae.chem.properties import compute_mol
from molvae.data.conditioning import condition_arrays
from molvae.data.dataset import prepare_molecule
from molvae.errors import BadInputError, MoleculeInputError
from molvae.nn.checkpoint import ModelRecord, contains_hashes
from molvae.nn.model import make_condition
from molvae.runtime.device import resolve_precision

log = logging.getLogger(__name__)

#: the remedy for molecules with tokens a model lacks
FINE_TUNE = "molvae train YOUR_MOLECULES --init pretrained"


def check_prior_draws(k: object) -> None:
    """``prior_draws`` (:meth:`LatentCodec.conditioned_prior_latents`) must be a whole number >= 1."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise BadInputError(f"prior_draws must be a whole number >= 1, got {k!r}")


@dataclass
class Encoded:
    """Latent vectors of the molecules that could be encoded, and reasons for the others."""

    z: np.ndarray  # [n_ok, latent_dim]
    indices: list[int]  # positions in the input of the rows of ``z``
    rejects: list[tuple[int, str, str]]  # (position, input SMILES, reason)
    #: input position -> the SMILES encoded in its place, without stereo or charges (``flatten``)
    flattened: dict[int, str] = field(default_factory=dict)


@dataclass
class Prepared:
    """Molecules made ready for the encoder by :meth:`LatentCodec.prepare`.

    ``rows[k]`` (token ids ending with ``<end>``) and ``properties[k]`` (in the model's property
    order, real units) belong to input position ``indices[k]``; ``rejects`` holds
    ``(position, input SMILES, reason)`` for the others.
    """

    rows: list[list[int]] = field(default_factory=list)
    properties: list[list[float]] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)
    #: input position -> the SMILES prepared in its place, without stereo or charges (``flatten``)
    flattened: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class PreparedBatch:
    """One batch of :meth:`LatentCodec.prepared_batches`: rows ``start`` to ``start + len`` of a :class:`Prepared`."""

    start: int
    tokens: torch.Tensor  # [b, T] token ids ending with <end>, padded with 0, on the model's device
    lengths: torch.Tensor  # [b] on the CPU
    condition: torch.Tensor  # [b, 2 * P] the molecules' own properties, all given


class LatentCodec:
    """The trained network with what it needs to read and write molecules: vocabulary, property
    scaler and device. Generation, scaffold sampling, the latent search and the diagnostics work
    through this class; :class:`~molvae.api.MolVAE` owns one and adds the user's methods.

    >>> codec = MolVAE.pretrained().codec                             # doctest: +SKIP
    >>> z = codec.encode_batch(["CCOc1ccccc1C(N)=O"]).z                 # doctest: +SKIP
    >>> cond = codec.condition_tensor({"qed": 0.8}, len(z))             # doctest: +SKIP
    >>> [c.smiles for c in codec.decode_latents(torch.from_numpy(z), cond)]  # doctest: +SKIP
    """

    def __init__(self, record: ModelRecord, device: str | torch.device = "cpu", precision: str = "auto"):
        self.device = torch.device(device)
        self.config = record.model_config
        self.vocab = record.vocab
        self.scaler = record.scaler
        self.property_names: list[str] = record.property_names
        #: decoder temperature of sampling when none is given (the checkpoint's; 1 for most models)
        self.default_temperature: float = record.temperature
        #: sorted 64-bit hashes of the training molecules' canonical SMILES (see :meth:`is_novel`)
        self.train_hashes = record.train_hashes
        self.model = record.build_model(self.device)
        #: which tokens may start a molecule (atoms): the decoder's mask for its first step
        self.first_allowed = torch.tensor(self.vocab.atom_mask(), device=self.device)
        #: precision of the decoder's matrix products when sampling and decoding (``precision``:
        #: auto = bf16 on a GPU or a CPU with native bf16, else float32; see resolve_precision)
        self.sample_dtype = resolve_precision(precision, self.device)
        #: the density prior samples come from: fitted to the training encodings, or None for N(0, I)
        self.prior = record.prior

    def prior_latents(self, noise: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Latent points from the model's prior, made from standard-normal ``noise`` [n, d]: the
        noise itself for N(0, I); else through the fitted :attr:`prior` (a mixture's components
        drawn with ``generator``)."""
        if self.prior is None:
            return noise
        u = None
        if self.prior.components > 1:
            u = torch.rand(noise.size(0), generator=generator, device=noise.device, dtype=torch.float64)
        return self.prior.transform_torch(noise, u)

    @torch.no_grad()
    def conditioned_prior_latents(
        self, n: int, condition: torch.Tensor, draws: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` latent points from the prior for the decoder's ``condition`` rows [n, 2 * P].

        With ``draws`` > 1 and some property requested, each point is the one of ``draws`` prior
        points whose property-head prediction lies nearest the requested values (squared error
        over the requested properties, in standardised units): z leans toward where molecules
        with those properties encode, so the decoder's condition and z no longer pull apart.
        With one draw, or nothing requested, exactly :meth:`prior_latents` of ``n`` fresh draws.
        """
        d, p = self.latent_dim, len(self.property_names)
        if draws <= 1 or not bool(condition[:, p:].any()):
            noise = torch.randn((n, d), generator=generator, device=self.device)
            return self.prior_latents(noise, generator)
        noise = torch.randn((n * draws, d), generator=generator, device=self.device)
        z = self.prior_latents(noise, generator).view(n, draws, d)
        predicted = self.model.property_head(z.view(n * draws, d)).float().view(n, draws, p)
        wanted, given = condition[:, None, :p], condition[:, None, p:]
        best = ((predicted - wanted) ** 2 * given).sum(-1).argmin(1)
        return z[torch.arange(n, device=self.device), best]

    def prior_points(self, noise: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """:meth:`prior_latents` for NumPy arrays (a latent search's draws), with ``rng``."""
        if self.prior is None:
            return noise
        return self.prior.transform(noise, rng.random(len(noise)) if self.prior.components > 1 else None)

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def max_length(self) -> int:
        """The most SELFIES tokens a molecule may have (the decoder's length)."""
        return self.config.max_length

    def generator(self, seed: int | None = None) -> torch.Generator:
        """A random generator on the model's device, seeded with ``seed`` (fresh entropy when None).

        Pass it to :meth:`decode_latents` to make a sequence of decodes reproducible.
        """
        g = torch.Generator(device=self.device)
        if seed is None:
            g.seed()
        else:
            g.manual_seed(int(seed))
        return g

    def sampling_temperature(self, temperature: float | None = None) -> float:
        """The decoder temperature to sample at: ``temperature``, or :attr:`default_temperature` for None."""
        return self.default_temperature if temperature is None else temperature

    def condition_tensor(self, condition: Mapping[str, float] | None, n: int, warn: bool = True) -> torch.Tensor:
        """The decoder's condition input for ``n`` rows requesting ``condition`` (others left free).

        Shape [n, 2 * P]: standardised values, then the mask of given properties.
        """
        v, m = condition_arrays(self.scaler, condition, n, warn=warn)
        return make_condition(v, m).to(self.device)

    @torch.no_grad()
    def decode_latents(
        self,
        z: torch.Tensor,
        condition: torch.Tensor,
        *,
        temperature: float = 0.0,
        generator: torch.Generator | None = None,
        batch_size: int = 2048,
        properties: Sequence[str] | None = None,
        n_jobs: int | None = None,
        template: torch.Tensor | None = None,
        molecules: bool = False,
        guidance: float = 0.0,
    ) -> list[Checked]:
        """Decode latent vectors ``z`` [n, latent_dim] under condition rows [n, 2 * P] (see
        :meth:`condition_tensor` and :func:`molvae.nn.model.make_condition`) and check them with RDKit.

        Returns one :class:`~molvae.chem.checks.Checked` per row, in order, with ``properties``
        (default: the model's conditioning properties; ``()`` for none, which is faster).
        ``temperature`` 0 decodes greedily; otherwise ``generator`` makes sampling reproducible.
        ``template`` (token ids [n, T], ``<pad>`` where free) imposes tokens: see
        :meth:`molvae.nn.model.ConditionalVAE.generate`. ``molecules``: see
        :func:`~molvae.chem.checks.check_symbols`. ``guidance`` > 0 decodes with classifier-free
        guidance on the condition (against the same rows with no property given; see
        :meth:`molvae.nn.model.ConditionalVAE.generate`).
        """
        if z.ndim != 2 or z.size(1) != self.latent_dim:
            raise BadInputError(f"latent vectors must have shape [n, {self.latent_dim}], got {tuple(z.shape)}")
        if condition.shape != (z.size(0), 2 * len(self.property_names)):
            raise BadInputError(
                f"condition must have shape [{z.size(0)}, {2 * len(self.property_names)}], got {tuple(condition.shape)}"
            )
        if template is not None and (template.ndim != 2 or template.size(0) != z.size(0)):
            raise BadInputError(f"template must have shape [{z.size(0)}, T], got {tuple(template.shape)}")
        z, condition = z.to(self.device), condition.to(self.device)
        symbols: list[list[str]] = []
        for i in range(0, z.size(0), batch_size):
            ids = self.model.generate(
                z[i : i + batch_size],
                condition[i : i + batch_size],
                temperature=temperature,
                generator=generator,
                first_allowed=self.first_allowed,
                dtype=self.sample_dtype,
                template=None if template is None else template[i : i + batch_size],
                guidance=guidance,
            )
            symbols.extend(tokens_to_symbols(self.vocab, ids))
        names = self.property_names if properties is None else list(properties)
        return check_symbols(symbols, names, n_jobs=n_jobs, molecules=molecules)

    def is_novel(self, smiles: Sequence[str]) -> list[bool]:
        """Whether each canonical SMILES is absent from the model's training data."""
        return contains_hashes(self.train_hashes, list(smiles)).__invert__().tolist()

    def properties_of(self, smiles: str) -> dict[str, float]:
        """The model's conditioning properties of a molecule, computed with RDKit."""
        mol = mol_from_smiles(smiles)
        if mol is None:
            raise MoleculeInputError(f"invalid SMILES {smiles!r}: RDKit could not parse it")
        return dict(zip(self.property_names, compute_mol(mol, self.property_names)))

    def _prepare_one(self, smiles: str) -> tuple[tuple[list[int], list[float]] | None, str, bool]:
        """Token row and property values of one molecule, or None, the reason, and whether the
        reason is tokens the vocabulary lacks."""
        prepared, reason = prepare_molecule(smiles, self.config.max_length, self.property_names)
        if prepared is None:
            return None, reason, False
        _, symbols, values = prepared
        lacking = self.vocab.missing(symbols)
        if lacking:
            return None, f"the model's vocabulary lacks the SELFIES tokens {' '.join(lacking)}", True
        return (self.vocab.encode(symbols) + [self.vocab.end_id], values), "", False

    def _flat_form(self, smiles: str) -> tuple[str | None, tuple[list[int], list[float]] | None, str]:
        """The first form of ``smiles`` without stereo or charges (:func:`~molvae.chem.molecules.flat_forms`)
        that the model can encode, with its token row and property values; else (None, None, why
        the form without either could not be encoded, or "" when there is no such form)."""
        why = ""
        for form in flat_forms(smiles):
            got, why, _ = self._prepare_one(form)
            if got is not None:
                return form, got, ""
        return None, None, why

    def prepare(self, smiles: Sequence[str], flatten: bool = False) -> Prepared:
        """Token rows and property values of the molecules the model can encode, and reasons for the rest.

        With ``flatten``, a molecule whose tokens the vocabulary lacks is prepared in a form the
        model can encode when there is one: without its stereo, with its charges neutralised
        where RDKit can, or both (:func:`~molvae.chem.molecules.flat_forms`);
        :attr:`Prepared.flattened` maps its position to that SMILES. Either way the reason of a
        molecule the vocabulary cannot take names the remedy.

        Feed the result to :meth:`prepared_batches` to run the encoder (or the teacher-forced decoder).
        """
        out = Prepared()
        for i, smi in enumerate(smiles):
            got, reason, lacking = self._prepare_one(smi)
            if got is None and lacking:
                flat, got_flat, why = self._flat_form(smi)
                if flat is None:
                    still = why.replace("the model's vocabulary", "it still")
                    reason += (f" (and without its stereo and charges: {still})" if why else "") + (
                        f": fine-tune a model with these tokens on molecules like it ({FINE_TUNE})"
                    )
                elif flatten:
                    got = got_flat
                    out.flattened[i] = flat
                else:
                    reason += (
                        f": without its stereo and charges it can be encoded as {flat} (flatten=True, the default "
                        f"that --no-flatten turned off), or fine-tune a model with these tokens ({FINE_TUNE})"
                    )
            if got is None:
                out.rejects.append((i, smi, reason))
                continue
            row, values = got
            out.rows.append(row)
            out.properties.append(values)
            out.indices.append(i)
        return out

    def encodable(self, smiles: str, flatten: bool = True) -> str:
        """``smiles``, or with ``flatten`` the form :meth:`prepare` would encode in its place when the
        model has no tokens for its stereo or charges (with a warning saying so). A molecule the
        model cannot encode either way comes back unchanged: encoding it raises the error."""
        if not flatten:
            return smiles
        flat = self.prepare([smiles], flatten=True).flattened.get(0)
        if flat is None:
            return smiles
        log.warning("the model has no tokens for the stereo or charges of %s: it is used as %s", smiles, flat)
        return flat

    def prepared_batches(self, prepared: Prepared, batch_size: int = 1024) -> Iterator[PreparedBatch]:
        """Batches of prepared molecules on the model's device, each conditioned on its own properties."""
        rows, props = prepared.rows, prepared.properties
        for s in range(0, len(rows), batch_size):
            part = rows[s : s + batch_size]
            tok = torch.zeros((len(part), max(len(r) for r in part)), dtype=torch.long)
            for j, r in enumerate(part):
                tok[j, : len(r)] = torch.tensor(r)
            lengths = torch.tensor([len(r) for r in part])
            p = torch.from_numpy(self.scaler.transform(np.asarray(props[s : s + batch_size])))
            cond = make_condition(p, torch.ones_like(p)).to(self.device)
            yield PreparedBatch(s, tok.to(self.device), lengths, cond)

    @torch.no_grad()
    def encode_batch(self, smiles: Sequence[str], batch_size: int = 1024, flatten: bool = False) -> Encoded:
        """Posterior means of every encodable molecule; the others come back as rejects with reasons.

        The encoder is given each molecule's own properties (computed with RDKit) as the condition.
        ``flatten``: see :meth:`prepare`; the molecules encoded without their stereo or charges are
        in :attr:`Encoded.flattened` (and a warning counts them).
        """
        prepared = self.prepare(list(smiles), flatten)
        if prepared.flattened:
            i, flat = next(iter(prepared.flattened.items()))
            log.warning(
                "%d of %d molecules were encoded without their stereo or charges, for which the model has no "
                "tokens (the first: %s as %s)",
                len(prepared.flattened),
                len(smiles),
                smiles[i],
                flat,
            )
        zs = []
        for b in self.prepared_batches(prepared, batch_size):
            mu, _ = self.model.encode(b.tokens, b.lengths, b.condition)
            zs.append(mu.float().cpu().numpy())
        z = np.concatenate(zs) if zs else np.zeros((0, self.latent_dim), dtype=np.float32)
        return Encoded(z=z, indices=prepared.indices, rejects=prepared.rejects, flattened=prepared.flattened)

    def encode(self, smiles: Sequence[str], flatten: bool = False) -> np.ndarray:
        """Latent vectors (posterior means), shape [n, latent_dim].

        Raises :class:`~molvae.errors.MoleculeInputError` (an ``EncodingError``, a usage error) naming
        the first molecule that cannot be encoded and why (invalid SMILES, tokens the vocabulary
        lacks, too long). ``flatten``: see :meth:`prepare`.
        """
        enc = self.encode_batch(list(smiles), flatten=flatten)
        if enc.rejects:
            i, smi, reason = enc.rejects[0]
            raise MoleculeInputError(f"cannot encode {smi}: {reason}")
        return enc.z
