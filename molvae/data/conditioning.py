"""Property scaling and condition vectors: from ``{"logp": 2.5}`` to what the model reads."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from molvae.errors import BadInputError, UnknownPropertyError

log = logging.getLogger(__name__)


class ConditionRangeWarning(UserWarning):
    """A requested property value lies outside the range seen in training."""


@dataclass(frozen=True)
class PropertyScaler:
    """Per-property statistics of the training data: standardisation and the training range."""

    names: list[str]
    mean: list[float]
    std: list[float]
    min: list[float]
    max: list[float]
    p5: list[float]
    p95: list[float]

    @classmethod
    def fit(cls, names: Sequence[str], values: np.ndarray) -> PropertyScaler:
        values = np.asarray(values, dtype=np.float64).reshape(len(values), len(names))
        std = values.std(axis=0)
        std = np.where(std > 1e-8, std, 1.0)
        return cls(
            names=list(names),
            mean=values.mean(axis=0).tolist(),
            std=std.tolist(),
            min=values.min(axis=0).tolist(),
            max=values.max(axis=0).tolist(),
            p5=np.percentile(values, 5, axis=0).tolist(),
            p95=np.percentile(values, 95, axis=0).tolist(),
        )

    def transform(self, values: np.ndarray) -> np.ndarray:
        return ((np.asarray(values, dtype=np.float64) - self.mean) / self.std).astype(np.float32)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float64) * self.std + self.mean

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> PropertyScaler:
        return cls(**{k: list(v) for k, v in d.items()})

    def range_of(self, name: str) -> tuple[float, float]:
        i = self.names.index(name)
        return self.min[i], self.max[i]


def condition_arrays(
    scaler: PropertyScaler, condition: Mapping[str, float] | None, n: int, warn: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised values [n, P] and mask [n, P] for a condition dict (missing = left free).

    Raises :class:`UnknownPropertyError` for a property the model was not trained on; warns
    with :class:`ConditionRangeWarning` for a value outside the training range.
    """
    p = len(scaler.names)
    values = np.zeros(p, dtype=np.float64)
    mask = np.zeros(p, dtype=np.float32)
    for name, value in (condition or {}).items():
        key = name.strip().lower()
        if key not in scaler.names:
            raise UnknownPropertyError(f"the model is not conditioned on {name!r}; it knows: {', '.join(scaler.names)}")
        i = scaler.names.index(key)
        value = float(value)
        if not math.isfinite(value):
            raise BadInputError(f"{key}={value}: a requested property value must be a finite number")
        lo, hi = scaler.min[i], scaler.max[i]
        if warn and not (lo <= value <= hi):
            warnings.warn(
                f"{key}={value:g} is outside the training range {lo:.3g} to {hi:.3g}; "
                "results may not follow the request",
                ConditionRangeWarning,
                stacklevel=3,
            )
        values[i] = (value - scaler.mean[i]) / scaler.std[i]
        mask[i] = 1.0
    v = torch.from_numpy(np.tile(values.astype(np.float32), (n, 1)))
    m = torch.from_numpy(np.tile(mask, (n, 1)))
    return v, m


def random_mask(
    n: int, p: int, drop_prob: float, generator: torch.Generator | None = None, device=None
) -> torch.Tensor:
    """Training mask: each property is hidden with probability ``drop_prob`` independently."""
    return (torch.rand((n, p), generator=generator, device=device) >= drop_prob).float()
