"""What :class:`~molvae.api.MolVAE` returns when it reads molecules: prepared token rows and
latent vectors, with the reasons for every molecule it could not use."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class Encoded:
    """Latent vectors of the molecules that could be encoded, and reasons for the others."""

    z: np.ndarray  # [n_ok, latent_dim]
    indices: list[int]  # positions in the input of the rows of ``z``
    rejects: list[tuple[int, str, str]]  # (position, input SMILES, reason)


@dataclass
class Prepared:
    """Molecules made ready for the encoder by :meth:`MolVAE.prepare`.

    ``rows[k]`` (token ids ending with ``<end>``) and ``properties[k]`` (in the model's property
    order, real units) belong to input position ``indices[k]``; ``rejects`` holds
    ``(position, input SMILES, reason)`` for the others.
    """

    rows: list[list[int]] = field(default_factory=list)
    properties: list[list[float]] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    rejects: list[tuple[int, str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class PreparedBatch:
    """One batch of :meth:`MolVAE.prepared_batches`: rows ``start`` to ``start + len`` of a :class:`Prepared`."""

    start: int
    tokens: torch.Tensor  # [b, T] token ids ending with <end>, padded with 0, on the model's device
    lengths: torch.Tensor  # [b] on the CPU
    condition: torch.Tensor  # [b, 2 * P] the molecules' own properties, all given
