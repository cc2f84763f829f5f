"""molvae: a conditional SELFIES GRU variational autoencoder for molecule design.

>>> from molvae import MolVAE                      # doctest: +SKIP
>>> model = MolVAE.load("runs/demo")               # doctest: +SKIP
>>> model.sample(5, condition={"logp": 2.5}, seed=0)  # doctest: +SKIP

The public API is :class:`MolVAE`, the property registry (:data:`PROPERTIES`, :func:`compute_properties`)
and the typed errors. ``MolVAE`` is imported lazily so that worker processes which only need
RDKit do not pay for importing torch.

Importing molvae sets ``OMP_WAIT_POLICY=PASSIVE`` unless it is set already (see
:func:`molvae.runtime.parallel.quiet_openmp_threads`): import molvae before torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from molvae.chem.properties import PROPERTIES
from molvae.chem.properties import compute as compute_properties
from molvae.errors import (
    CheckpointError,
    ConfigError,
    DataError,
    EncodingError,
    Interrupted,
    MolVAEError,
    UnknownPropertyError,
)
from molvae.runtime.parallel import quiet_openmp_threads
from molvae.version import __version__

quiet_openmp_threads()  # before anything imports torch: idle OpenMP threads sleep instead of spinning

__all__ = [
    "MolVAE",
    "TrainConfig",
    "PROPERTIES",
    "compute_properties",
    "MolVAEError",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "EncodingError",
    "Interrupted",
    "UnknownPropertyError",
    "__version__",
]

if TYPE_CHECKING:  # pragma: no cover
    from molvae.api import MolVAE
    from molvae.train.config import TrainConfig


def __getattr__(name: str) -> Any:
    if name == "MolVAE":
        from molvae.api import MolVAE

        return MolVAE
    if name == "TrainConfig":
        from molvae.train.config import TrainConfig

        return TrainConfig
    raise AttributeError(f"module 'molvae' has no attribute {name!r}")
