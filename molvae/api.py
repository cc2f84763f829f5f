"""``MolVAE``: load a trained model, then sample, encode, decode, reconstruct and interpolate.

>>> from molvae import MolVAE                                   # doctest: +SKIP
>>> model = MolVAE.load("runs/demo")                            # doctest: +SKIP
>>> model.sample(3, condition={"logp": 2.5, "qed": 0.8}, seed=0)  # doctest: +SKIP
['CCOc1ccc(...)...', ...]
>>> z = model.encode(["CCOc1ccccc1C(N)=O"])                     # doctest: +SKIP
>>> model.decode(z)                                             # doctest: +SKIP
['CCOc1ccccc1C(N)=O']
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from molvae.chem.molecules import mol_from_smiles
from molvae.chem.properties import compute_mol
from molvae.data.conditioning import condition_arrays
from molvae.errors import BadInputError, EncodingError
from molvae.generate import scaffold
from molvae.generate import stream as generation
from molvae.chem.checks import Checked, check_symbols, tokens_to_symbols
from molvae.generate.stream import (  # noqa: F401  (Generation* are part of this module's API)
    Condition,
    Generation,
    GenerationChunk,
    GenerationRequest,
    GenerationSummary,
    SampleOptions,
)
from molvae.nn import checkpoint
from molvae.nn.codec import Encoded, Prepared, PreparedBatch
from molvae.nn.model import make_condition
from molvae.runtime.device import resolve_device

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Unpack

log = logging.getLogger(__name__)


class MolVAE:
    """A trained conditional SELFIES VAE, ready to use.

    Load with :meth:`load` (a ``.ckpt`` file or a run folder). All methods run on the device
    the model was loaded on and return plain Python/NumPy objects. Invalid decodes are
    returned as ``None`` so that outputs line up with inputs.
    """

    def __init__(self, record: checkpoint.ModelRecord | dict[str, Any], device: str | torch.device = "cpu"):
        """A model from a :class:`~molvae.nn.checkpoint.ModelRecord` (or a checkpoint payload dict)."""
        if not isinstance(record, checkpoint.ModelRecord):
            record = checkpoint.ModelRecord.from_payload(record)
        self.device = torch.device(device)
        self.source = "(in memory)"  # where the model was loaded from, for reports
        self.config = record.model_config
        self.vocab = record.vocab
        self.scaler = record.scaler
        self.property_names: list[str] = record.property_names
        self.train_config: dict[str, Any] = record.train_config
        self.data_hash: str = record.data_hash
        self.versions: dict[str, str] = record.versions
        #: decoder temperature of sampling when none is given (the checkpoint's; 1 for most models)
        self.default_temperature: float = record.temperature
        #: sorted 64-bit hashes of the training molecules' canonical SMILES (see :meth:`is_novel`)
        self.train_hashes = record.train_hashes
        self.model = record.build_model(self.device)
        #: which tokens may start a molecule (atoms): the decoder's mask for its first step
        self.first_allowed = torch.tensor(self.vocab.atom_mask(), device=self.device)
        #: precision of the decoder's matrix products when sampling: bf16 on a GPU, float32 on a CPU
        self.sample_dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> MolVAE:
        """Load a checkpoint file or run folder. Raises :class:`~molvae.errors.CheckpointError`.

        ``device`` is ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:i]"``.
        """
        model = cls(checkpoint.ModelRecord.read(path), resolve_device(device))
        model.source = str(path)
        return model

    @classmethod
    def pretrained(cls, device: str = "auto") -> MolVAE:
        """The model that ships with molvae: trained on MOSES, conditioned on logp, qed, sa, mw
        and tpsa. Needs no network; see ``molvae/pretrained/MODEL_CARD.md`` for what it can do.

        >>> model = MolVAE.pretrained()                    # doctest: +SKIP
        >>> model.sample(2, condition={"qed": 0.9}, seed=0)  # doctest: +SKIP
        """
        model = cls.load(checkpoint.pretrained_path(), device=device)
        model.source = f"the shipped model {checkpoint.PRETRAINED_NAME}"
        return model

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def __repr__(self) -> str:
        return (
            f"MolVAE(properties={self.property_names}, latent_dim={self.latent_dim}, "
            f"vocab={len(self.vocab)}, max_length={self.config.max_length}, device={self.device})"
        )

    # ------------------------------------------------------------------ helpers
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

    def condition_tensor(self, condition: Condition | None, n: int, warn: bool = True) -> torch.Tensor:
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
    ) -> list[Checked]:
        """Decode latent vectors ``z`` [n, latent_dim] under condition rows [n, 2 * P] (see
        :meth:`condition_tensor` and :func:`molvae.nn.model.make_condition`) and check them with RDKit.

        Returns one :class:`~molvae.chem.checks.Checked` per row, in order, with ``properties``
        (default: the model's conditioning properties; ``()`` for none, which is faster).
        ``temperature`` 0 decodes greedily; otherwise ``generator`` makes sampling reproducible.
        ``template`` (token ids [n, T], ``<pad>`` where free) imposes tokens: see
        :meth:`molvae.nn.model.ConditionalVAE.generate`.
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
            )
            symbols.extend(tokens_to_symbols(self.vocab, ids))
        names = self.property_names if properties is None else list(properties)
        return check_symbols(symbols, names, n_jobs=n_jobs)

    def is_novel(self, smiles: Sequence[str]) -> list[bool]:
        """Whether each canonical SMILES is absent from the model's training data."""
        return checkpoint.contains_hashes(self.train_hashes, list(smiles)).__invert__().tolist()

    # ------------------------------------------------------------------ sampling
    def generate_iter(
        self, n: int, *, max_samples: int | None = None, **options: Unpack[SampleOptions]
    ) -> Iterator[GenerationChunk]:
        """:meth:`generate`, chunk by chunk: for millions of molecules in bounded memory.

        Yields :class:`~molvae.generate.stream.GenerationChunk` objects in sampling order; summed over
        the chunks, ``n_sampled == kept + invalid + duplicates + without the scaffold``. The RDKit
        work runs in worker processes while the model samples the next batch. With ``unique``,
        sampling stops after ``max_samples`` (default ``20 * n``; ``50 * n`` with a ``scaffold``).
        ``options``: see :class:`~molvae.generate.stream.SampleOptions`.
        """
        return self._chunks(GenerationRequest(n, max_samples=max_samples, **options))

    def _chunks(self, req: GenerationRequest) -> Iterator[GenerationChunk]:
        if req.scaffold is not None:
            return scaffold.scaffold_chunks(self, req)
        return generation.generate_chunks(self, req)

    def generate(
        self, n: int, *, max_rounds: int = 20, max_samples: int | None = None, **options: Unpack[SampleOptions]
    ) -> Generation:
        """Sample ``n`` molecules and account for every one of them.

        ``n`` is the number of molecules to sample (with ``unique``: of unique valid ones wanted,
        in at most ``max_samples`` samples, default ``max_rounds * n``; a warning says when fewer
        were found). ``options``
        (keywords): ``condition``, ``temperature``, ``seed``, ``unique``, ``around``, ``radius``,
        ``batch_size``, ``n_jobs``, ``scaffold``, ``scaffold_seeds``, described in
        :class:`~molvae.generate.stream.SampleOptions`. With ``scaffold="c1ccc(cc1)N1CCNCC1"`` (SMILES
        or SMARTS) only molecules containing that core are returned.

        Everything is returned in memory; :meth:`generate_to_file` and :meth:`generate_iter` stream.

        Raises :class:`~molvae.errors.MolVAEError` for ``n <= 0``,
        :class:`~molvae.errors.UnknownPropertyError` for a property the model does not know and
        :class:`~molvae.errors.EncodingError` for a seed it cannot encode.
        """
        if max_samples is None and not options.get("scaffold"):  # a scaffold search has its own default
            max_samples = max_rounds * n
        return generation.collect(self.generate_iter(n, max_samples=max_samples, **options))

    def generate_to_file(
        self,
        path: str | Path,
        n: int,
        *,
        max_samples: int | None = None,
        rejects: str | Path | None = None,
        keep_first: int = 24,
        progress: bool = False,
        **options: Unpack[SampleOptions],
    ) -> GenerationSummary:
        """:meth:`generate` straight into a .csv/.tsv/.smi/.sdf file, written as molecules come.

        Columns: ``smiles``, each property, ``novel``. Invalid samples go to ``rejects`` (default
        ``OUT.rejects.csv``, created only when there is one) with their SELFIES and the reason.
        Memory stays bounded however large ``n`` is. Returns the counts and the first
        ``keep_first`` molecules (for pictures). ``progress`` shows a bar on a terminal.
        """
        req = GenerationRequest(n, max_samples=max_samples, **options)
        return generation.write_generation(self, path, req, self._chunks(req), rejects, keep_first, progress)

    def sampling_temperature(self, temperature: float | None = None) -> float:
        """The decoder temperature to sample at: ``temperature``, or :attr:`default_temperature` for None."""
        return self.default_temperature if temperature is None else temperature

    def sample(
        self,
        n: int,
        condition: Condition | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        n_jobs: int | None = None,
    ) -> list[str | None]:
        """Sample ``n`` molecules from the prior at the requested properties.

        ``temperature`` defaults to the model's :attr:`default_temperature`. Returns ``n``
        canonical SMILES in sampling order, ``None`` where a sample is not a valid molecule. Use
        :meth:`generate` for properties, novelty and de-duplication. Large requests are checked
        by ``n_jobs`` worker processes (default: all cores) while sampling goes on.

        >>> model.sample(2, condition={"logp": 3.0}, seed=1)  # doctest: +SKIP
        ['Cc1ccc(NC(=O)c2ccco2)cc1C', 'CCN(CC)C(=O)c1ccc(Cl)cc1']
        """
        if n <= 0:
            raise BadInputError(f"number of molecules must be positive, got {n}")
        out: list[str | None] = []
        for part in generation.stream_checked(
            self,
            lambda produced: n - produced,
            condition,
            self.sampling_temperature(temperature),
            self.generator(seed),
            None,
            0.0,
            (),
            n_jobs,
            None,
            n,
        ):
            out.extend(part.smiles)
        return out

    # ------------------------------------------------------------------ encoding
    def properties_of(self, smiles: str) -> dict[str, float]:
        """The model's conditioning properties of a molecule, computed with RDKit."""
        mol = mol_from_smiles(smiles)
        if mol is None:
            raise EncodingError(f"invalid SMILES {smiles!r}: RDKit could not parse it")
        return dict(zip(self.property_names, compute_mol(mol, self.property_names)))

    def prepare(self, smiles: Sequence[str]) -> Prepared:
        """Token rows and property values of the molecules the model can encode, and reasons for the rest.

        Feed the result to :meth:`prepared_batches` to run the encoder (or the teacher-forced decoder).
        """
        from molvae.data.dataset import prepare_molecule

        out = Prepared()
        for i, smi in enumerate(smiles):
            prepared, reason = prepare_molecule(smi, self.config.max_length, self.property_names)
            if prepared is None:
                out.rejects.append((i, smi, reason))
                continue
            _, symbols, values = prepared
            lacking = self.vocab.missing(symbols)
            if lacking:
                out.rejects.append((i, smi, f"the model's vocabulary lacks the SELFIES tokens {' '.join(lacking)}"))
                continue
            out.rows.append(self.vocab.encode(symbols) + [self.vocab.end_id])
            out.properties.append(values)
            out.indices.append(i)
        return out

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
    def encode_batch(self, smiles: Sequence[str], batch_size: int = 1024) -> Encoded:
        """Posterior means of every encodable molecule; the others come back as rejects with reasons.

        The encoder is given each molecule's own properties (computed with RDKit) as the condition.
        """
        prepared = self.prepare(list(smiles))
        zs = []
        for b in self.prepared_batches(prepared, batch_size):
            mu, _ = self.model.encode(b.tokens, b.lengths, b.condition)
            zs.append(mu.float().cpu().numpy())
        z = np.concatenate(zs) if zs else np.zeros((0, self.latent_dim), dtype=np.float32)
        return Encoded(z=z, indices=prepared.indices, rejects=prepared.rejects)

    def encode(self, smiles: str | Sequence[str]) -> np.ndarray:
        """Latent vectors (posterior means), shape [n, latent_dim].

        Raises :class:`~molvae.errors.EncodingError` naming the first molecule that cannot be
        encoded and why (invalid SMILES, tokens the vocabulary lacks, too long).
        """
        items = [smiles] if isinstance(smiles, str) else list(smiles)
        enc = self.encode_batch(items)
        if enc.rejects:
            i, smi, reason = enc.rejects[0]
            raise EncodingError(f"cannot encode {smi}: {reason}")
        return enc.z

    @torch.no_grad()
    def decode(
        self,
        z: np.ndarray | torch.Tensor,
        condition: Condition | Sequence[Condition] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        warn: bool = True,
    ) -> list[str | None]:
        """SMILES decoded from latent vectors [n, latent_dim] (greedy by default); ``None`` if invalid.

        ``condition`` is one dict for all rows or one per row; omitted properties are left free.
        """
        zt = torch.as_tensor(np.asarray(z, dtype=np.float32)).to(self.device)
        if zt.ndim == 1:
            zt = zt.unsqueeze(0)
        if zt.ndim != 2 or zt.size(1) != self.latent_dim:
            raise BadInputError(f"latent vectors must have shape [n, {self.latent_dim}], got {tuple(zt.shape)}")
        if condition is None or isinstance(condition, Mapping):
            cond = self.condition_tensor(condition, zt.size(0), warn=warn)
        else:
            conds = list(condition)
            if len(conds) != zt.size(0):
                raise BadInputError(f"{len(conds)} conditions for {zt.size(0)} latent vectors")
            cond = torch.cat([self.condition_tensor(c, 1, warn=warn) for c in conds])
        checked = self.decode_latents(zt, cond, temperature=temperature, generator=self.generator(seed))
        return [c.smiles for c in checked]

    def reconstruct(self, smiles: str | Sequence[str]) -> list[str | None]:
        """Encode then greedily decode, each molecule conditioned on its own properties."""
        items = [smiles] if isinstance(smiles, str) else list(smiles)
        z = self.encode(items)
        return self.decode(z, [self.properties_of(s) for s in items], warn=False)

    def interpolate(self, a: str, b: str, steps: int = 10) -> list[str | None]:
        """Molecules along the straight line between the latent vectors of ``a`` and ``b``.

        Latent vectors and the two molecules' properties are interpolated together, so the ends
        reproduce ``a`` and ``b`` when the model reconstructs them. Returns ``steps`` molecules.
        """
        if steps < 2:
            raise BadInputError("interpolation needs at least 2 steps")
        za, zb = self.encode([a, b])
        pa, pb = self.properties_of(a), self.properties_of(b)
        ts = np.linspace(0.0, 1.0, steps)
        z = np.stack([(1 - t) * za + t * zb for t in ts])
        conds = [{k: (1 - t) * pa[k] + t * pb[k] for k in self.property_names} for t in ts]
        return self.decode(z, conds, warn=False)

    # ------------------------------------------------------------------ optimisation
    def optimize(
        self,
        objective: Any,
        seeds: Sequence[str] | None = None,
        top: int | None = 100,
        progress: bool = False,
        **settings: Any,
    ):
        """Search the latent space for molecules that score well on ``objective``.

        ``objective``: a property name or ``module:function`` to maximise, a ``.toml`` file, a
        dict in that schema or a :class:`molvae.optimize.objectives.Objective`. ``seeds``: start from
        (and stay similar to) these molecules, each optimised separately. ``settings``: fields
        of :class:`molvae.optimize.run.SearchSettings` (``method``, ``budget``, ``seed``, ...), and
        ``guards=False`` to accept molecules that break the drug-likeness guards (:mod:`molvae.chem.guards`).
        Returns a :class:`molvae.optimize.run.OptimizationResult`: ranked candidates, each checked
        and scored with RDKit. See :func:`molvae.optimize.run.optimize`.

        >>> model.optimize("qed", budget=2000, seed=0).candidates[0].score  # doctest: +SKIP
        0.947...
        """
        from molvae.optimize.run import optimize

        return optimize(self, objective, seeds=seeds, top=top, progress=progress, **settings)
