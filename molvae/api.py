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

from molvae.errors import BadInputError
from molvae.generate import scaffold
from molvae.generate import stream as generation
from molvae.generate.stream import (  # noqa: F401  (Generation* are part of this module's API)
    Condition,
    Generation,
    GenerationChunk,
    GenerationRequest,
    GenerationSummary,
    SampleOptions,
)
from molvae.nn import checkpoint
from molvae.nn.codec import Encoded, LatentCodec, check_prior_draws
from molvae.runtime.device import resolve_device
from molvae.runtime.parallel import warn_if_openmp_spins

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Unpack

log = logging.getLogger(__name__)


class MolVAE:
    """A trained conditional SELFIES VAE, ready to use.

    Load with :meth:`load` (a ``.ckpt`` file or a run folder). All methods run on the device
    the model was loaded on and return plain Python/NumPy objects. Invalid decodes are
    returned as ``None`` so that outputs line up with inputs.
    """

    def __init__(
        self,
        record: checkpoint.ModelRecord | dict[str, Any],
        device: str | torch.device = "cpu",
        precision: str = "auto",
    ):
        """A model from a :class:`~molvae.nn.checkpoint.ModelRecord` (or a checkpoint payload dict);
        ``precision`` as in :meth:`load`."""
        warn_if_openmp_spins()
        if not isinstance(record, checkpoint.ModelRecord):
            record = checkpoint.ModelRecord.from_payload(record)
        #: the network, vocabulary, scaler and device: what generation and search work through
        self.codec = LatentCodec(record, device, precision)
        self.source = "(in memory)"  # where the model was loaded from, for reports
        self.train_config: dict[str, Any] = record.train_config
        self.data_hash: str = record.data_hash
        self.versions: dict[str, str] = record.versions

    @property
    def device(self) -> torch.device:
        return self.codec.device

    @property
    def property_names(self) -> list[str]:
        """The properties the model is conditioned on, in its order."""
        return self.codec.property_names

    @property
    def default_temperature(self) -> float:
        """Decoder temperature of sampling when none is given (the checkpoint's; 1 for most models)."""
        return self.codec.default_temperature

    @property
    def vocabulary(self) -> list[str]:
        """The SELFIES tokens the model reads and writes."""
        return list(self.codec.vocab.tokens)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path, device: str = "auto", precision: str = "auto") -> MolVAE:
        """Load a checkpoint file or run folder. Raises :class:`~molvae.errors.CheckpointError`.

        ``device`` is ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:i]"``. ``precision``
        is that of the decoder's matrix products when it samples or decodes: ``"auto"`` (bf16 on a
        GPU or on a CPU with native bf16 instructions, else float32), ``"fp32"`` or ``"bf16"``.
        The same seed gives the same molecules at the same precision.
        """
        model = cls(checkpoint.ModelRecord.read(path), resolve_device(device), precision)
        model.source = str(path)
        return model

    @classmethod
    def pretrained(cls, device: str = "auto", precision: str = "auto") -> MolVAE:
        """The model that ships with molvae: trained on MOSES, conditioned on logp, qed, sa, mw
        and tpsa. Needs no network; see ``molvae/pretrained/MODEL_CARD.md`` for what it can do.

        >>> model = MolVAE.pretrained()                    # doctest: +SKIP
        >>> model.sample(2, condition={"qed": 0.9}, seed=0)  # doctest: +SKIP
        """
        model = cls.load(checkpoint.pretrained_path(), device=device, precision=precision)
        model.source = f"the shipped model {checkpoint.PRETRAINED_NAME}"
        return model

    @property
    def latent_dim(self) -> int:
        return self.codec.latent_dim

    def __repr__(self) -> str:
        return (
            f"MolVAE(properties={self.property_names}, latent_dim={self.latent_dim}, "
            f"vocab={len(self.codec.vocab)}, max_length={self.codec.max_length}, device={self.device})"
        )

    def is_novel(self, smiles: Sequence[str]) -> list[bool]:
        """Whether each canonical SMILES is absent from the model's training data."""
        return self.codec.is_novel(smiles)

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
            return scaffold.scaffold_chunks(self.codec, req)
        return generation.generate_chunks(self.codec, req)

    def generate(
        self, n: int, *, max_rounds: int = 20, max_samples: int | None = None, **options: Unpack[SampleOptions]
    ) -> Generation:
        """Sample ``n`` molecules and account for every one of them.

        ``n`` is the number of molecules to sample (with ``unique``: of unique valid ones wanted,
        in at most ``max_samples`` samples, default ``max_rounds * n``; a warning says when fewer
        were found). ``options``
        (keywords): ``condition``, ``temperature``, ``seed``, ``unique``, ``around``, ``radius``, ``flatten``,
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

        A call that writes no molecule, or fails, leaves no file at ``path``. SIGINT (Ctrl-C) or
        SIGTERM stop it after the current chunk: the file keeps the molecules written, and
        :class:`~molvae.generate.stream.GenerationInterrupted` is raised with their counts.
        """
        req = GenerationRequest(n, max_samples=max_samples, **options)
        return generation.write_generation(self.codec, path, req, self._chunks(req), rejects, keep_first, progress)

    def sample(
        self,
        n: int,
        condition: Condition | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        n_jobs: int | None = None,
        guidance: float = 0.0,
        prior_draws: int = generation.PRIOR_DRAWS,
    ) -> list[str | None]:
        """Sample ``n`` molecules from the prior at the requested properties.

        ``temperature`` defaults to the model's :attr:`default_temperature`. Returns ``n``
        canonical SMILES in sampling order, ``None`` where a sample is not a valid molecule (a
        sample whose hydrogens the check restored is returned as the molecule it now is). Use
        :meth:`generate` for properties, novelty, de-duplication and the count of those repairs. Large requests are checked
        by ``n_jobs`` worker processes (default: all cores) while sampling goes on. ``guidance``:
        classifier-free guidance on the condition, and ``prior_draws`` (see
        :class:`~molvae.generate.stream.SampleOptions`).

        >>> model.sample(2, condition={"logp": 3.0}, seed=1)  # doctest: +SKIP
        ['Cc1ccc(NC(=O)c2ccco2)cc1C', 'CCN(CC)C(=O)c1ccc(Cl)cc1']
        """
        if n <= 0:
            raise BadInputError(f"number of molecules must be positive, got {n}")
        check_prior_draws(prior_draws)
        out: list[str | None] = []
        codec = self.codec
        stream = generation.StreamSpec(
            wanted=lambda produced: n - produced,
            condition=condition,
            temperature=codec.sampling_temperature(temperature),
            generator=codec.generator(seed),
            n_jobs=n_jobs,
            expected=n,
            guidance=guidance,
            prior_draws=prior_draws,
        )
        for part in generation.stream_checked(codec, stream):
            out.extend(part.smiles)
        return out

    # ------------------------------------------------------------------ encoding
    def properties_of(self, smiles: str) -> dict[str, float]:
        """The model's conditioning properties of a molecule, computed with RDKit."""
        return self.codec.properties_of(smiles)

    def encode_batch(self, smiles: Sequence[str], batch_size: int = 1024, flatten: bool = True) -> Encoded:
        """Posterior means of every encodable molecule; the others come back as rejects with reasons.

        The encoder is given each molecule's own properties (computed with RDKit) as the condition.
        ``flatten``: a molecule whose stereo or charges the model has no tokens for (the shipped
        model has neither) is encoded without its stereo and with its charges neutralised where
        RDKit can; ``Encoded.flattened`` maps its position to the SMILES encoded, and a warning
        counts them. ``flatten=False`` rejects such molecules instead.
        """
        return self.codec.encode_batch(smiles, batch_size, flatten=flatten)

    def encode(self, smiles: str | Sequence[str], flatten: bool = True) -> np.ndarray:
        """Latent vectors (posterior means), shape [n, latent_dim].

        Raises :class:`~molvae.errors.EncodingError` naming the first molecule that cannot be
        encoded, why (invalid SMILES, tokens the vocabulary lacks, too long) and the remedy.
        ``flatten``: see :meth:`encode_batch`.
        """
        return self.codec.encode([smiles] if isinstance(smiles, str) else list(smiles), flatten=flatten)

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
            cond = self.codec.condition_tensor(condition, zt.size(0), warn=warn)
        else:
            conds = list(condition)
            if len(conds) != zt.size(0):
                raise BadInputError(f"{len(conds)} conditions for {zt.size(0)} latent vectors")
            cond = torch.cat([self.codec.condition_tensor(c, 1, warn=warn) for c in conds])
        checked = self.codec.decode_latents(zt, cond, temperature=temperature, generator=self.codec.generator(seed))
        return [c.smiles for c in checked]

    def reconstruct(self, smiles: str | Sequence[str], flatten: bool = True) -> list[str | None]:
        """Encode then greedily decode, each molecule conditioned on its own properties.

        ``flatten``: see :meth:`encode_batch`; such a molecule is reconstructed in its flat form.
        """
        items = [self.codec.encodable(s, flatten) for s in ([smiles] if isinstance(smiles, str) else smiles)]
        z = self.encode(items, flatten=False)
        return self.decode(z, [self.properties_of(s) for s in items], warn=False)

    def interpolate(self, a: str, b: str, steps: int = 10, flatten: bool = True) -> list[str | None]:
        """Molecules along the straight line between the latent vectors of ``a`` and ``b``.

        Latent vectors and the two molecules' properties are interpolated together, so the ends
        reproduce ``a`` and ``b`` when the model reconstructs them. Returns ``steps`` molecules.
        ``flatten``: see :meth:`encode_batch` (an end the model has no stereo or charge tokens for
        is used in its flat form).
        """
        if steps < 2:
            raise BadInputError("interpolation needs at least 2 steps")
        a, b = self.codec.encodable(a, flatten), self.codec.encodable(b, flatten)
        za, zb = self.encode([a, b], flatten=False)
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
        flatten: bool = True,
        **settings: Any,
    ):
        """Search the latent space for molecules that score well on ``objective``.

        ``objective``: a property name or ``module:function`` to maximise, a ``.toml`` file, a
        dict in that schema or a :class:`molvae.optimize.objectives.Objective`; a file's or dict's
        ``[search]`` table gives settings. ``seeds``: start from (and stay similar to) these
        molecules, each optimised separately. ``settings``: fields of
        :class:`molvae.optimize.types.SearchSettings` (``method``, ``budget``, ``seed``, ...) and
        of the method's own settings (e.g. the ``ga``'s ``stall``; :mod:`molvae.optimize.engines`),
        which win over the file's; ``settings=SearchSettings(...)`` passes them whole; and
        ``guards=False`` accepts molecules that break the drug-likeness guards (:mod:`molvae.chem.guards`).
        ``flatten``: a seed whose stereo or charges the model has no tokens for is optimised in
        its form without them (see :meth:`encode_batch`).
        Returns a :class:`molvae.optimize.types.OptimizationResult`: ranked candidates, each checked
        and scored with RDKit, the counts and the progress curve. SIGINT (Ctrl-C) or SIGTERM stop
        the search with :class:`~molvae.optimize.types.OptimizationInterrupted`, whose ``result``
        holds the best found until then. See :func:`molvae.optimize.run.optimize`.

        >>> model.optimize("qed", budget=2000, seed=0).candidates[0].score  # doctest: +SKIP
        0.947...
        """
        from molvae.optimize.run import optimize

        return optimize(self.codec, objective, seeds=seeds, top=top, progress=progress, flatten=flatten, **settings)
