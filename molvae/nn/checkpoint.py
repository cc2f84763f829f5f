"""One versioned, pickle-free checkpoint file.

A checkpoint is a dict of plain types (str, int, float, bool, list, dict, None) and tensors
written with ``torch.save`` and read back with ``torch.load(weights_only=True)``, so loading a
file never runs code from it. It holds everything needed to use the model: weights, model
config (which holds the maximum length), vocabulary, property names and scaler statistics,
format version, package versions, a hash of the training data, hashes of the training molecules (for the
``novel`` flag), in ``last.ckpt`` files the state needed to resume training, and, when one was
fitted, the latent prior that sampling draws from (format version 3, so that older readers refuse
the file rather than sample from N(0, I) unknowingly).

The training molecules' hashes are kept to their top 48 bits (a chance of about 1.6M / 2^48, or
6e-9, that a new molecule is taken for a training one) and stored packed: each sorted hash as its
bits 16-47 (4 bytes) plus one count per value of its top 16 bits. The whole MOSES training set
takes 6.6 MB instead of the 12.7 MB of plain 64-bit hashes (format version 1, still read).
"""

from __future__ import annotations

import hashlib
import os
import platform
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from molvae.data.conditioning import PropertyScaler
from molvae.data.vocabulary import Vocabulary
from molvae.errors import CheckpointError
from molvae.nn.model import ConditionalVAE, ModelConfig
from molvae.nn.prior import LatentPrior
from molvae.version import __version__

FORMAT = "molvae-checkpoint"
FORMAT_VERSION = 2  # written; 2 packs the training hashes (see above)
PRIOR_VERSION = 3  # written instead when the file carries a fitted latent prior, which older readers would ignore
READABLE_VERSIONS = (1, 2, 3)
HASH_MASK = np.int64(~0xFFFF)  # the top 48 bits of a hash are what membership compares
_SIGN = np.uint64(1 << 63)  # flipping the sign bit turns signed order into unsigned order
PRETRAINED_NAME = "moses-cvae"


def pretrained_path(name: str = PRETRAINED_NAME) -> Path:
    """Path of a model shipped inside the package (``molvae/pretrained/NAME.ckpt``).

    Raises :class:`CheckpointError` when it is not there (for example in a source tree whose
    model file was not fetched); its model card is ``MODEL_CARD.md`` beside it.
    """
    path = Path(__file__).resolve().parents[1] / "pretrained" / f"{name}.ckpt"
    if not path.is_file():
        shipped = sorted(p.stem for p in path.parent.glob("*.ckpt")) if path.parent.is_dir() else []
        have = f"; shipped models: {', '.join(shipped)}" if shipped else ""
        raise CheckpointError(f"no shipped model named {name!r} at {path}{have}; pass a model file with --model")
    return path


def package_versions() -> dict[str, str]:
    import rdkit
    import selfies

    return {
        "molvae": __version__,
        "torch": torch.__version__,
        "rdkit": rdkit.__version__,
        "selfies": selfies.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def hash64(smiles: Sequence[str]) -> np.ndarray:
    """Signed 64-bit BLAKE2b hashes of SMILES strings, in order (int64 array)."""
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little", signed=True) for s in smiles),
        dtype=np.int64,
        count=len(smiles),
    )


def smiles_hashes(smiles: Sequence[str]) -> np.ndarray:
    """Sorted, unique hashes of canonical SMILES, kept to their top 48 bits (for membership tests
    without the strings)."""
    return np.unique(hash64(smiles) & HASH_MASK)


def contains_hashes(table: np.ndarray, smiles: Sequence[str]) -> np.ndarray:
    """Boolean array: is each canonical SMILES in the hash ``table`` (from :func:`smiles_hashes`)?"""
    return in_table(table, hash64(smiles))


def in_table(table: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Boolean array: is each hash (from :func:`hash64`) in the sorted ``table`` (from
    :func:`smiles_hashes`)? The top 48 bits are compared."""
    if len(hashes) == 0 or len(table) == 0:
        return np.zeros(len(hashes), dtype=bool)
    hashes = np.asarray(hashes, dtype=np.int64) & HASH_MASK
    pos = np.searchsorted(table, hashes).clip(0, len(table) - 1)
    return table[pos] == hashes


def pack_hashes(table: np.ndarray) -> dict[str, torch.Tensor]:
    """A hash table (any order; only the top 48 bits count) as two int32 tensors: bits 16-47 of
    each sorted hash, and how many hashes share each value of the top 16 bits."""
    ordered = np.unique(np.asarray(table, dtype=np.int64) & HASH_MASK)
    unsigned = ordered.view(np.uint64) ^ _SIGN
    counts = np.bincount((unsigned >> np.uint64(48)).astype(np.int64), minlength=1 << 16)
    low = ((unsigned >> np.uint64(16)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    return {"low": torch.from_numpy(low.view(np.int32)), "counts": torch.from_numpy(counts.astype(np.int32))}


def unpack_hashes(packed: dict[str, torch.Tensor]) -> np.ndarray:
    """The sorted table :func:`pack_hashes` packed (hashes with their low 16 bits zero)."""
    low = packed["low"].numpy().view(np.uint32).astype(np.uint64)
    counts = packed["counts"].numpy().astype(np.int64)
    if counts.shape != (1 << 16,) or counts.min(initial=0) < 0 or counts.sum() != len(low):
        raise ValueError("packed training hashes: counts do not match the hashes")
    high = np.repeat(np.arange(1 << 16, dtype=np.uint64), counts)
    unsigned = (high << np.uint64(48)) | (low << np.uint64(16))
    return (unsigned ^ _SIGN).view(np.int64)


def read_hashes(payload: dict[str, Any]) -> np.ndarray:
    """The training hash table of a checkpoint payload, packed (version 2) or plain (version 1)."""
    if "train_hashes_packed" in payload:
        return unpack_hashes(payload["train_hashes_packed"])
    plain = payload.get("train_smiles_hashes")
    if plain is None:
        return np.zeros(0, dtype=np.int64)
    return np.sort(plain.numpy().astype(np.int64) & HASH_MASK)  # a hand-made file may be unsorted


def _plain(obj: Any) -> Any:
    """Convert to the plain types ``torch.load(weights_only=True)`` accepts (no subclasses, no NumPy)."""
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, dict):
        return {(int(k) if isinstance(k, (int, np.integer)) else str(k)): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    if isinstance(obj, str):
        return str(obj)
    if obj is None:
        return None
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def save(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write a checkpoint atomically (to a temporary file, then renamed)."""
    payload = dict(payload)
    payload["format"] = FORMAT
    payload["format_version"] = PRIOR_VERSION if payload.get("latent_prior") is not None else FORMAT_VERSION
    payload.setdefault("versions", package_versions())
    payload = _plain(payload)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint; raise :class:`CheckpointError` with a one-line reason.

    A folder is accepted too: its ``best.ckpt`` (or ``last.ckpt``) is loaded.
    """
    path = Path(path)
    if path.is_dir():
        for name in ("best.ckpt", "last.ckpt"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise CheckpointError(f"{path}: folder holds no best.ckpt or last.ckpt")
    if not path.is_file():
        raise CheckpointError(f"no such model file: {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a molvae checkpoint (not a torch zip archive, or truncated)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc) or "pickle" in str(exc).lower():
            raise CheckpointError(
                f"{path}: refused, the file carries pickled Python objects that could run code"
            ) from None
        raise CheckpointError(f"{path}: unreadable or truncated checkpoint ({msg})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a molvae checkpoint")
    version = payload.get("format_version")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(
            f"{path}: checkpoint format version {version}, this molvae reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    for key in ("model_config", "state_dict", "vocab", "property_names", "scaler"):
        if key not in payload:
            raise CheckpointError(f"{path}: checkpoint lacks {key!r}")
    return payload


def _prior_of(payload: dict[str, Any], latent_dim: int) -> LatentPrior | None:
    """The fitted prior a payload carries (None when it has none); ValueError when it is malformed."""
    if payload.get("latent_prior") is None:
        return None
    prior = LatentPrior.from_payload(payload["latent_prior"])
    if prior.dim != latent_dim:
        raise ValueError(f"latent prior of {prior.dim} dimensions for a {latent_dim}-dimensional latent space")
    return prior


@dataclass
class ModelRecord:
    """The contents of a checkpoint as one typed record: what :func:`save` writes and :func:`load` reads.

    ``training_state`` (in ``last.ckpt`` files only) is the trainer's own dict, needed to resume.
    ``temperature`` is the decoder temperature the model samples at unless told otherwise (its
    card's figures are measured there; 1 samples the model's own distribution). ``prior``, when
    set, is the density prior samples come from instead of N(0, I) (:mod:`molvae.nn.prior`).
    """

    model_config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    vocab: Vocabulary
    scaler: PropertyScaler
    train_config: dict[str, Any] = field(default_factory=dict)
    data_hash: str = ""
    train_hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # smiles_hashes
    versions: dict[str, str] = field(default_factory=dict)
    training_state: dict[str, Any] | None = None
    temperature: float = 1.0
    prior: LatentPrior | None = None

    @property
    def property_names(self) -> list[str]:
        return list(self.scaler.names)

    @classmethod
    def of_model(
        cls,
        model: ConditionalVAE,
        vocab: Vocabulary,
        scaler: PropertyScaler,
        train_config: dict[str, Any],
        data_hash: str,
        train_hashes: np.ndarray,
        temperature: float = 1.0,
    ) -> ModelRecord:
        """The record of a model in memory (weights copied to the CPU)."""
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        return cls(
            model.cfg, state, vocab, scaler, dict(train_config), data_hash, train_hashes, temperature=temperature
        )

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model_config": self.model_config.to_dict(),
            "state_dict": self.state_dict,
            "vocab": list(self.vocab.tokens),
            "property_names": self.property_names,
            "scaler": self.scaler.to_dict(),
            "train_config": self.train_config,
            "data_hash": self.data_hash,
            "train_hashes_packed": pack_hashes(self.train_hashes),
        }
        if self.versions:
            payload["versions"] = self.versions
        if self.temperature != 1.0:
            payload["sampling_temperature"] = self.temperature
        if self.training_state is not None:
            payload["training_state"] = self.training_state
        if self.prior is not None:
            payload["latent_prior"] = self.prior.to_payload()
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> ModelRecord:
        """The record of a payload :func:`load` returned (older files' extra keys are ignored)."""
        try:
            temperature = float(payload.get("sampling_temperature", 1.0))
            if not 0.0 <= temperature < float("inf"):  # NaN fails too
                raise ValueError(f"sampling_temperature {temperature}")
            return cls(
                model_config=ModelConfig.from_dict(payload["model_config"]),
                state_dict=payload["state_dict"],
                vocab=Vocabulary(list(payload["vocab"])),
                scaler=PropertyScaler.from_dict(payload["scaler"]),
                train_config=dict(payload.get("train_config") or {}),
                data_hash=str(payload.get("data_hash", "")),
                train_hashes=read_hashes(payload),
                versions=dict(payload.get("versions") or {}),
                training_state=payload.get("training_state"),
                temperature=temperature,
                prior=_prior_of(payload, int(payload["model_config"]["latent_dim"])),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"checkpoint fields are malformed ({type(exc).__name__}: {exc})") from None

    @classmethod
    def read(cls, path: str | os.PathLike) -> ModelRecord:
        """:func:`load` a checkpoint file (or run folder) as a record."""
        return cls.from_payload(load(path))

    def write(self, path: str | os.PathLike) -> None:
        """:func:`save` the record to ``path`` (atomically)."""
        save(path, self.to_payload())

    def build_model(self, device: str | torch.device = "cpu") -> ConditionalVAE:
        """The network with these weights, on ``device``, in evaluation mode."""
        model = ConditionalVAE(self.model_config)
        try:
            model.load_state_dict(self.state_dict)
        except RuntimeError as exc:
            raise CheckpointError(f"weights do not match the model config: {str(exc).splitlines()[0]}") from None
        return model.to(device).eval()
