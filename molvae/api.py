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
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from molvae import checkpoint
from molvae.chem import mol_from_smiles
from molvae.conditioning import PropertyScaler, condition_arrays
from molvae.errors import BadInputError, EncodingError
from molvae.model import ConditionalVAE, ModelConfig, make_condition
from molvae.properties import compute_mol
from molvae.sampling import Checked, check_symbols, tokens_to_symbols
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
                  g: torch.Generator | None, batch_size: int, n_jobs: int | None = None) -> list[Checked]:
        symbols: list[list[str]] = []
        for i in range(0, z.size(0), batch_size):
            ids = self.model.generate(z[i : i + batch_size], cond[i : i + batch_size], temperature=temperature,
                                      generator=g, first_allowed=self._first_allowed)
            symbols.extend(tokens_to_symbols(self.vocab, ids))
        return check_symbols(symbols, self.property_names, n_jobs=n_jobs)

    def is_novel(self, smiles: Sequence[str]) -> list[bool]:
        """Whether each canonical SMILES is absent from the model's training data."""
        return checkpoint.contains_hashes(self._train_hashes, list(smiles)).__invert__().tolist()

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def _sample_checked(self, n: int, condition: Condition | None, temperature: float, g: torch.Generator,
                        center: torch.Tensor | None, radius: float, batch_size: int, n_jobs: int | None,
                        warn: bool = True) -> list[Checked]:
        noise = torch.randn((n, self.latent_dim), generator=g, device=self.device)
        z = center + radius * noise if center is not None else noise
        return self._decode_z(z, self._cond(condition, n, warn=warn), temperature, g, batch_size, n_jobs)

    def generate(
        self,
        n: int,
        condition: Condition | None = None,
        temperature: float = 1.0,
        seed: int | None = None,
        unique: bool = False,
        around: str | None = None,
        radius: float = 0.5,
        batch_size: int = 2048,
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
                (at most ``max_rounds`` rounds; a warning says when fewer were found).
            around: sample near this molecule: z = encode(around) + radius * N(0, I). Without a
                ``condition``, the seed's own properties are the condition.
            radius: standard deviation of the noise added around the seed.

        Raises :class:`~molvae.errors.MolVAEError` for ``n <= 0``,
        :class:`~molvae.errors.UnknownPropertyError` for a property the model does not know and
        :class:`~molvae.errors.EncodingError` for a seed it cannot encode.
        """
        if n <= 0:
            raise BadInputError(f"number of molecules must be positive, got {n}")
        g = self._generator(seed)
        center = None
        if around is not None:
            center = torch.from_numpy(self.encode([around])).to(self.device)
            if condition is None:
                condition = self.properties_of(around)
        result = Generation(molecules=[], novel=[])
        seen: set[str] = set()
        for rounds in range(1, max_rounds + 1):
            missing = n - len(result.molecules)
            want = n if rounds == 1 else min(n, int(missing * 1.25) + 16)
            checked = self._sample_checked(want, condition, temperature, g, center, radius, batch_size,
                                           n_jobs, warn=rounds == 1)
            for c in checked:
                if len(result.molecules) >= n:
                    break  # surplus of the last round is not part of the request
                result.n_sampled += 1
                if not c.valid:
                    result.invalid.append(c)
                elif unique and c.smiles in seen:
                    result.n_duplicates += 1
                else:
                    seen.add(c.smiles)  # type: ignore[arg-type]
                    result.molecules.append(c)
            if not unique or len(result.molecules) >= n:
                break
        if unique and len(result.molecules) < n:
            log.warning("found only %d unique valid molecules of %d requested in %d samples",
                        len(result.molecules), n, result.n_sampled)
        result.novel = self.is_novel([c.smiles for c in result.molecules])  # type: ignore[misc]
        return result

    def sample(
        self,
        n: int,
        condition: Condition | None = None,
        temperature: float = 1.0,
        seed: int | None = None,
    ) -> list[str | None]:
        """Sample ``n`` molecules from the prior at the requested properties.

        Returns ``n`` canonical SMILES in sampling order, ``None`` where a sample is not a valid
        molecule. Use :meth:`generate` for properties, novelty and de-duplication.

        >>> model.sample(2, condition={"logp": 3.0}, seed=1)  # doctest: +SKIP
        ['Cc1ccc(NC(=O)c2ccco2)cc1C', 'CCN(CC)C(=O)c1ccc(Cl)cc1']
        """
        if n <= 0:
            raise BadInputError(f"number of molecules must be positive, got {n}")
        checked = self._sample_checked(n, condition, temperature, self._generator(seed), None, 0.0, 2048, None)
        return [c.smiles for c in checked]

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
        of :class:`molvae.optimize.SearchSettings` (``method``, ``budget``, ``seed``, ...).
        Returns a :class:`molvae.optimize.OptimizationResult`: ranked candidates, each checked
        and scored with RDKit. See :func:`molvae.optimize.optimize`.

        >>> model.optimize("qed", budget=2000, seed=0).candidates[0].score  # doctest: +SKIP
        0.947...
        """
        from molvae.optimize import optimize

        return optimize(self, objective, seeds=seeds, top=top, progress=progress, **settings)
