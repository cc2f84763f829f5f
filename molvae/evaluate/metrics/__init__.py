"""MOSES benchmark metrics of a set of molecules, numerically matching the MOSES reference code.

>>> from molvae.evaluate.metrics import evaluate_smiles, default_reference_paths
>>> paths = default_reference_paths()                                    # doctest: +SKIP
>>> result = evaluate_smiles(smiles, scaffold_reference=paths.test_scaffolds,
...                          train=paths.train, progress=True)           # doctest: +SKIP
>>> result["FCD/Test"], result["notes"]                                  # doctest: +SKIP

Reference statistics are cached under ``$MOLVAE_CACHE_DIR/reference`` (default
``~/.cache/molvae/reference``); the first evaluation against the 176k-molecule MOSES test set
computes them (minutes), later ones read them (a second).

Nothing here imports torch until a metric needs it, so worker processes stay light.
"""

from __future__ import annotations

from molvae.evaluate.metrics.filters import failed_filters, mol_passes_filters
from molvae.evaluate.metrics.moses import METRICS, evaluate_smiles
from molvae.evaluate.metrics.reference import (
    MosesPaths,
    ReferenceStats,
    cache_dir,
    canonical_set,
    default_reference_paths,
    reference_stats,
)
from molvae.evaluate.metrics.similarity import internal_diversity, max_similarity

__all__ = [
    "evaluate_smiles",
    "METRICS",
    "default_reference_paths",
    "MosesPaths",
    "reference_stats",
    "ReferenceStats",
    "canonical_set",
    "cache_dir",
    "mol_passes_filters",
    "failed_filters",
    "max_similarity",
    "internal_diversity",
]
