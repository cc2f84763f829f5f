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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import torch

from molvae import checkpoint
from molvae.chem import mol_from_smiles
from molvae.conditioning import PropertyScaler, condition_arrays
from molvae.errors import BadInputError, EncodingError
from molvae.model import ConditionalVAE, ModelConfig, make_condition
from molvae.properties import compute_mol
from molvae.sampling import (
    CHUNK,
    POOL_ABOVE,
    Checked,
    CheckedChunk,
    ChemistryPool,
    check_symbols,
    resolve_jobs,
    tokens_to_symbols,
)
from molvae.tokens import Vocabulary

log = logging.getLogger(__name__)

Condition = Mapping[str, float]


@dataclass
class Generation:
    """What :meth:`MolVAE.generate` returns: kept molecules and an account of the rest.

    ``n_sampled == len(molecules) + len(invalid) + n_duplicates`` always.
    """

    molecules: list[Checked]
    novel: list[bool]
    invalid: list[Checked] = field(default_factory=list)
    n_duplicates: int = 0
    n_sampled: int = 0


@dataclass
class GenerationChunk:
    """One chunk of :meth:`MolVAE.generate_iter`: kept molecules and an account of the rest.

    Summed over all chunks, ``n_sampled == len(molecules) + len(invalid) + n_duplicates``.
    """

    molecules: list[Checked] = field(default_factory=list)
    novel: list[bool] = field(default_factory=list)
    invalid: list[Checked] = field(default_factory=list)
    n_duplicates: int = 0
    n_sampled: int = 0


@dataclass
class GenerationSummary:
    """What :meth:`MolVAE.generate_to_file` returns: counts and the first molecules written.

    ``n_sampled == n_written + n_invalid + n_duplicates`` always.
    """

    path: Path
    rejects_path: Path
    n_sampled: int = 0
    n_written: int = 0
    n_invalid: int = 0
    n_duplicates: int = 0
    n_novel: int = 0
    first: list[Checked] = field(default_factory=list)
    first_novel: list[bool] = field(default_factory=list)


@dataclass
class Encoded:
    """Latent vectors of the molecules that could be encoded, and reasons for the others."""

    z: np.ndarray  # [n_ok, latent_dim]
    indices: list[int]  # positions in the input of the rows of ``z``
    rejects: list[tuple[int, str, str]]  # (position, input SMILES, reason)


class MolVAE:
    """A trained conditional SELFIES VAE, ready to use.

    Load with :meth:`load` (a ``.ckpt`` file or a run folder). All methods run on the device
    the model was loaded on and return plain Python/NumPy objects. Invalid decodes are
    returned as ``None`` so that outputs line up with inputs.
    """

    def __init__(self, payload: dict[str, Any], device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.source = "(in memory)"  # where the model was loaded from, for reports
        self.config = ModelConfig.from_dict(payload["model_config"])
        self.vocab = Vocabulary(list(payload["vocab"]))
        self.scaler = PropertyScaler.from_dict(payload["scaler"])
        self.property_names: list[str] = list(payload["property_names"])
        self.train_config: dict[str, Any] = dict(payload.get("train_config") or {})
        self.data_hash: str = payload.get("data_hash", "")
        self.versions: dict[str, str] = dict(payload.get("versions") or {})
        hashes = payload.get("train_smiles_hashes")
        self._train_hashes = hashes.numpy() if hashes is not None else np.zeros(0, dtype=np.int64)
        self.model = ConditionalVAE(self.config)
        try:
            self.model.load_state_dict(payload["state_dict"])
        except RuntimeError as exc:
            raise checkpoint.CheckpointError(f"weights do not match the model config: {str(exc).splitlines()[0]}") from None
        self.model.to(self.device).eval()
        self._first_allowed = torch.tensor(self.vocab.atom_mask(), device=self.device)
        #: precision of the decoder's matrix products when sampling: bf16 on a GPU, float32 on a CPU
        self.sample_dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> "MolVAE":
        """Load a checkpoint file or run folder. Raises :class:`~molvae.errors.CheckpointError`.

        ``device`` is ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:i]"``.
        """
        from molvae.train import resolve_device

        dev = resolve_device(device)
        model = cls(checkpoint.load(path), dev)
        model.source = str(path)
        return model

    @classmethod
    def pretrained(cls, device: str = "auto") -> "MolVAE":
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
        return (f"MolVAE(properties={self.property_names}, latent_dim={self.latent_dim}, "
                f"vocab={len(self.vocab)}, max_length={self.config.max_length}, device={self.device})")

    # ------------------------------------------------------------------ helpers
    def _cond(self, condition: Condition | None, n: int, warn: bool = True) -> torch.Tensor:
        v, m = condition_arrays(self.scaler, condition, n, warn=warn)
        return make_condition(v, m).to(self.device)

    def _generator(self, seed: int | None) -> torch.Generator:
        g = torch.Generator(device=self.device)
        if seed is None:
            g.seed()
        else:
            g.manual_seed(int(seed))
        return g

    def _decode_z(self, z: torch.Tensor, cond: torch.Tensor, temperature: float,
                  g: torch.Generator | None, batch_size: int, n_jobs: int | None = None,
                  names: Sequence[str] | None = None) -> list[Checked]:
        """Decoded, checked molecules with the properties ``names`` (default: the model's)."""
        symbols: list[list[str]] = []
        for i in range(0, z.size(0), batch_size):
            ids = self.model.generate(z[i : i + batch_size], cond[i : i + batch_size], temperature=temperature,
                                      generator=g, first_allowed=self._first_allowed, dtype=self.sample_dtype)
            symbols.extend(tokens_to_symbols(self.vocab, ids))
        return check_symbols(symbols, self.property_names if names is None else names, n_jobs=n_jobs)

    def is_novel(self, smiles: Sequence[str]) -> list[bool]:
        """Whether each canonical SMILES is absent from the model's training data."""
        return checkpoint.contains_hashes(self._train_hashes, list(smiles)).__invert__().tolist()

    # ------------------------------------------------------------------ sampling
    def _stream(self, budget: Callable[[int], int], condition: Condition | None, temperature: float,
                g: torch.Generator, center: torch.Tensor | None, radius: float, names: Sequence[str],
                n_jobs: int | None, batch_size: int | None, expected: int) -> Iterator[CheckedChunk]:
        """Checked samples in sampling order, chunk by chunk, the chemistry overlapped with sampling.

        ``budget(produced)`` says how many more molecules to sample now (0: stop). A batch is
        sampled on the model only when the :class:`~molvae.sampling.ChemistryPool` has room, so
        memory stays bounded. Without an explicit ``n_jobs``, fewer than ``POOL_ABOVE`` ``expected``
        molecules are checked in this process (a pool would cost more than it saves).
        """
        bs = batch_size or (32768 if self.device.type == "cuda" else 4096)
        jobs = resolve_jobs(n_jobs) if n_jobs is not None or expected >= POOL_ABOVE else 1
        id_dtype = torch.uint8 if len(self.vocab) < 256 else torch.int16

        def batches() -> Iterator[np.ndarray]:
            produced = 0
            while (m := min(bs, budget(produced))) > 0:
                noise = torch.randn((m, self.latent_dim), generator=g, device=self.device)
                z = center + radius * noise if center is not None else noise
                ids = self.model.generate(z, self._cond(condition, m, warn=produced == 0), temperature=temperature,
                                          generator=g, first_allowed=self._first_allowed, dtype=self.sample_dtype)
                produced += m
                arr = ids.to(id_dtype).cpu().numpy()
                for s in range(0, m, CHUNK):
                    yield arr[s : s + CHUNK]

        with ChemistryPool(self.vocab, names, jobs) as pool:
            yield from pool.imap(batches())

    def _around(self, around: str | None, condition: Condition | None):
        if around is None:
            return None, condition
        center = torch.from_numpy(self.encode([around])).to(self.device)
        return center, (self.properties_of(around) if condition is None else condition)

    def generate_iter(
        self,
        n: int,
        condition: Condition | None = None,
        temperature: float = 1.0,
        seed: int | None = None,
        unique: bool = False,
        around: str | None = None,
        radius: float = 0.5,
        batch_size: int | None = None,
        max_samples: int | None = None,
        n_jobs: int | None = None,
    ) -> Iterator[GenerationChunk]:
        """:meth:`generate`, chunk by chunk: for millions of molecules in bounded memory.

        Yields :class:`GenerationChunk` objects in sampling order; summed over the chunks,
        ``n_sampled == kept + invalid + duplicates``. The RDKit work runs in ``n_jobs`` worker
        processes (default: all cores) while the model samples the next batch. With ``unique``,
        duplicates are recognised by 64-bit hashes of the canonical SMILES (no strings are kept)
        and sampling stops after ``max_samples`` (default ``20 * n``). The same ``seed`` and
        ``batch_size`` give the same molecules whatever ``n_jobs`` is.
        """
        if n <= 0:
            raise BadInputError(f"number of molecules must be positive, got {n}")
        g = self._generator(seed)
        center, condition = self._around(around, condition)
        limit = (max_samples or 20 * n) if unique else n
        kept = sampled = 0

        def budget(produced: int) -> int:
            if not unique:
                return n - produced
            return 0 if kept >= n else min(limit - produced, int((n - kept) * 1.25) + 16)

        names = self.property_names
        seen: set[int] = set()
        for part in self._stream(budget, condition, temperature, g, center, radius, names, n_jobs, batch_size, n):
            chunk = GenerationChunk()
            checked = part.checked(names)
            hashes = iter(checkpoint.hash64([c.smiles for c in checked if c.valid]).tolist())
            kept_hashes = []
            for c in checked:
                if kept >= n or sampled >= limit:
                    break  # surplus samples are not part of the request
                sampled += 1
                chunk.n_sampled += 1
                if not c.valid:
                    chunk.invalid.append(c)
                    continue
                h = next(hashes)
                if unique:
                    if h in seen:
                        chunk.n_duplicates += 1
                        continue
                    seen.add(h)
                chunk.molecules.append(c)
                kept_hashes.append(h)
                kept += 1
            known = checkpoint.in_table(self._train_hashes, np.asarray(kept_hashes, dtype=np.int64))
            chunk.novel = (~known).tolist()
            if chunk.n_sampled:
                yield chunk
            if kept >= n or sampled >= limit:
                break
        if unique and kept < n:
            log.warning("found only %d unique valid molecules of %d requested in %d samples", kept, n, sampled)

    def generate(
        self,
        n: int,
        condition: Condition | None = None,
        temperature: float = 1.0,
        seed: int | None = None,
        unique: bool = False,
        around: str | None = None,
        radius: float = 0.5,
        batch_size: int | None = None,
        max_rounds: int = 20,
        n_jobs: int | None = None,
    ) -> Generation:
        """Sample molecules and account for every one of them.

        Args:
            n: number of molecules to sample (with ``unique``: number of unique valid ones wanted).
            condition: requested property values, e.g. ``{"logp": 2.5}``; others are left free.
            temperature: softmax temperature of the decoder (0 = greedy).
            seed: random seed for reproducible samples.
            unique: drop duplicates and keep sampling until ``n`` unique valid molecules are found
                (at most ``max_rounds * n`` samples; a warning says when fewer were found).
            around: sample near this molecule: z = encode(around) + radius * N(0, I). Without a
                ``condition``, the seed's own properties are the condition.
            radius: standard deviation of the noise added around the seed.
            batch_size: molecules sampled at once on the model (default 4096 on a CPU, 32768 on a GPU).
            n_jobs: worker processes for the RDKit checks of large requests (default: all cores).

        Everything is returned in memory; :meth:`generate_to_file` and :meth:`generate_iter` stream.

        Raises :class:`~molvae.errors.MolVAEError` for ``n <= 0``,
        :class:`~molvae.errors.UnknownPropertyError` for a property the model does not know and
        :class:`~molvae.errors.EncodingError` for a seed it cannot encode.
        """
        result = Generation(molecules=[], novel=[])
        for chunk in self.generate_iter(n, condition, temperature, seed, unique, around, radius, batch_size,
                                        max_rounds * n, n_jobs):
            result.molecules.extend(chunk.molecules)
            result.novel.extend(chunk.novel)
            result.invalid.extend(chunk.invalid)
            result.n_duplicates += chunk.n_duplicates
            result.n_sampled += chunk.n_sampled
        return result

    def generate_to_file(
        self,
        path: str | Path,
        n: int,
        condition: Condition | None = None,
        temperature: float = 1.0,
        seed: int | None = None,
        unique: bool = False,
        around: str | None = None,
        radius: float = 0.5,
        batch_size: int | None = None,
        max_samples: int | None = None,
        n_jobs: int | None = None,
        rejects: str | Path | None = None,
        keep_first: int = 24,
        progress: bool = False,
    ) -> GenerationSummary:
        """:meth:`generate` straight into a .csv/.tsv/.smi/.sdf file, written as molecules come.

        Columns: ``smiles``, each property, ``novel``. Invalid samples go to ``rejects`` (default
        ``OUT.rejects.csv``, created only when there is one) with their SELFIES and the reason.
        Memory stays bounded however large ``n`` is. Returns the counts and the first
        ``keep_first`` molecules (for pictures). ``progress`` shows a bar on a terminal.
        """
        from tqdm.auto import tqdm

        from molvae.io import MoleculeWriter, TableWriter, output_format, sibling

        output_format(path)  # fail on a bad name before any work
        names = self.property_names
        summary = GenerationSummary(path=Path(path), rejects_path=Path(rejects or sibling(path, "rejects")))
        bar = tqdm(total=n, unit="mol", desc="generating", disable=None if progress else True, leave=False)
        with MoleculeWriter(path, [*names, "novel"]) as out, bar, \
                TableWriter(summary.rejects_path, ["selfies", "reason"]) as rej:
            for chunk in self.generate_iter(n, condition, temperature, seed, unique, around, radius, batch_size,
                                            max_samples, n_jobs):
                out.write({"smiles": m.smiles, **m.properties, "novel": nov}
                          for m, nov in zip(chunk.molecules, chunk.novel))
                rej.write((c.selfies, c.reason) for c in chunk.invalid)
                room = keep_first - len(summary.first)
                if room > 0:
                    summary.first.extend(chunk.molecules[:room])
                    summary.first_novel.extend(chunk.novel[:room])
                summary.n_sampled += chunk.n_sampled
                summary.n_written += len(chunk.molecules)
                summary.n_invalid += len(chunk.invalid)
                summary.n_duplicates += chunk.n_duplicates
                summary.n_novel += sum(chunk.novel)
                bar.update(len(chunk.molecules) if unique else chunk.n_sampled)
        return summary

    def sample(
        self,
        n: int,
        condition: Condition | None = None,
        temperature: float = 1.0,
        seed: int | None = None,
        n_jobs: int | None = None,
    ) -> list[str | None]:
        """Sample ``n`` molecules from the prior at the requested properties.

        Returns ``n`` canonical SMILES in sampling order, ``None`` where a sample is not a valid
        molecule. Use :meth:`generate` for properties, novelty and de-duplication. Large requests
        are checked by ``n_jobs`` worker processes (default: all cores) while sampling goes on.

        >>> model.sample(2, condition={"logp": 3.0}, seed=1)  # doctest: +SKIP
        ['Cc1ccc(NC(=O)c2ccco2)cc1C', 'CCN(CC)C(=O)c1ccc(Cl)cc1']
        """
        if n <= 0:
            raise BadInputError(f"number of molecules must be positive, got {n}")
        out: list[str | None] = []
        for part in self._stream(lambda produced: n - produced, condition, temperature, self._generator(seed),
                                 None, 0.0, (), n_jobs, None, n):
            out.extend(part.smiles)
        return out

    # ------------------------------------------------------------------ encoding
    def properties_of(self, smiles: str) -> dict[str, float]:
        """The model's conditioning properties of a molecule, computed with RDKit."""
        mol = mol_from_smiles(smiles)
        if mol is None:
            raise EncodingError(f"invalid SMILES {smiles!r}: RDKit could not parse it")
        return dict(zip(self.property_names, compute_mol(mol, self.property_names)))

    def _prepare(self, smiles: Sequence[str]):
        """Token rows and property values of encodable molecules, their positions, and rejects."""
        from molvae.data import prepare_molecule

        rows, props, ok, rejects = [], [], [], []
        for i, smi in enumerate(smiles):
            prepared, reason = prepare_molecule(smi, self.config.max_length, self.property_names)
            if prepared is None:
                rejects.append((i, smi, reason))
                continue
            _, symbols, values = prepared
            lacking = self.vocab.missing(symbols)
            if lacking:
                rejects.append((i, smi, f"the model's vocabulary lacks the SELFIES tokens {' '.join(lacking)}"))
                continue
            rows.append(self.vocab.encode(symbols) + [self.vocab.end_id])
            props.append(values)
            ok.append(i)
        return rows, props, ok, rejects

    def _batches(self, rows: list[list[int]], props: list[list[float]], batch_size: int):
        """Yield ``(start, tokens, lengths, condition)`` batches of prepared molecules (full condition)."""
        for s in range(0, len(rows), batch_size):
            part = rows[s : s + batch_size]
            tok = torch.zeros((len(part), max(len(r) for r in part)), dtype=torch.long)
            for j, r in enumerate(part):
                tok[j, : len(r)] = torch.tensor(r)
            lengths = torch.tensor([len(r) for r in part])
            p = torch.from_numpy(self.scaler.transform(np.asarray(props[s : s + batch_size])))
            yield s, tok.to(self.device), lengths, make_condition(p, torch.ones_like(p)).to(self.device)

    @torch.no_grad()
    def encode_batch(self, smiles: Sequence[str], batch_size: int = 1024) -> Encoded:
        """Posterior means of every encodable molecule; the others come back as rejects with reasons.

        The encoder is given each molecule's own properties (computed with RDKit) as the condition.
        """
        rows, props, ok, rejects = self._prepare(list(smiles))
        zs = []
        for _, tok, lengths, cond in self._batches(rows, props, batch_size):
            mu, _ = self.model.encode(tok, lengths, cond)
            zs.append(mu.float().cpu().numpy())
        z = np.concatenate(zs) if zs else np.zeros((0, self.latent_dim), dtype=np.float32)
        return Encoded(z=z, indices=ok, rejects=rejects)

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
            cond = self._cond(condition, zt.size(0), warn=warn)  # type: ignore[arg-type]
        else:
            conds = list(condition)
            if len(conds) != zt.size(0):
                raise BadInputError(f"{len(conds)} conditions for {zt.size(0)} latent vectors")
            cond = torch.cat([self._cond(c, 1, warn=warn) for c in conds])
        checked = self._decode_z(zt, cond, temperature, self._generator(seed), 2048)
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
    def optimize(self, objective: Any, seeds: Sequence[str] | None = None, top: int | None = 100,
                 progress: bool = False, **settings: Any):
        """Search the latent space for molecules that score well on ``objective``.

        ``objective``: a property name or ``module:function`` to maximise, a ``.toml`` file, a
        dict in that schema or a :class:`molvae.objectives.Objective`. ``seeds``: start from
        (and stay similar to) these molecules, each optimised separately. ``settings``: fields
        of :class:`molvae.optimize.SearchSettings` (``method``, ``budget``, ``seed``, ...), and
        ``guards=False`` to accept molecules that break the drug-likeness guards (:mod:`molvae.guards`).
        Returns a :class:`molvae.optimize.OptimizationResult`: ranked candidates, each checked
        and scored with RDKit. See :func:`molvae.optimize.optimize`.

        >>> model.optimize("qed", budget=2000, seed=0).candidates[0].score  # doctest: +SKIP
        0.947...
        """
        from molvae.optimize import optimize

        return optimize(self, objective, seeds=seeds, top=top, progress=progress, **settings)
