"""MOSES metrics of a set of generated molecules, numerically as in MOSES's ``get_all_metrics``.

Definitions (Polykovskiy et al., Front. Pharmacol. 2020; ``moses/metrics/metrics.py``):

* ``valid``: fraction of the input that RDKit parses;
* ``valid_strict`` (molvae's, not MOSES's): fraction of the input that RDKit parses *and* that has
  no radical electrons and no unusual valence (:func:`molvae.chem.checks.chemistry_problem`, the
  check every molecule molvae decodes passes). Every other metric stays MOSES's, computed on the
  molecules ``valid`` counts;
* ``unique@k``: unique canonical SMILES among the first ``k`` *valid* molecules, divided by
  ``k``. With fewer than ``k`` valid molecules MOSES warns and uses all of them; so do we, and
  ``notes`` says so;
* every other metric is computed on the valid molecules, canonicalised, duplicates kept;
* ``FCD/Test``: Fréchet ChemNet Distance to the reference (lower is better);
* ``SNN/Test``: mean over generated molecules of the highest Tanimoto similarity to a reference
  molecule (Morgan radius 2, 1024 bits);
* ``Frag/Test``, ``Scaf/Test``: cosine similarity of BRICS-fragment counts and of
  Bemis-Murcko scaffold counts (scaffolds with at least two rings);
* ``/TestSF``: the same four against ``scaffold_reference``;
* ``IntDiv``, ``IntDiv2``: ``1 - mean_i (mean_j T(i,j)^p)^(1/p)`` over all ordered pairs of
  generated molecules (self-pairs included), p = 1 and 2;
* ``Filters``: fraction passing :func:`molvae.evaluate.metrics.filters.mol_passes_filters`;
* ``logP``, ``SA``, ``QED``, ``weight``: Wasserstein-1 distance between the property values of
  the generated and the reference molecules;
* ``Novelty``: fraction of unique valid generated molecules whose canonical SMILES is not in
  ``train``. Unlike MOSES, which compares with the train strings as written, ``train`` is
  canonicalised first, so an RDKit version that writes a few train SMILES differently cannot
  inflate novelty (it differs for about 1 in 2,000 MOSES SMILES with RDKit 2026).

A metric that cannot be computed is ``None`` and ``result["notes"][name]`` says why.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from molvae.chem.checks import reason_kind
from molvae.errors import DataError
from molvae.evaluate.metrics import _features, chemnet, similarity
from molvae.evaluate.metrics.reference import (
    ReferenceStats,
    Source,
    canonical_set,
    reference_stats,
)
from molvae.io.readers import read_smiles
from molvae.runtime.parallel import pmap, resolve_jobs, torch_threads

log = logging.getLogger(__name__)

#: The metric keys of :func:`evaluate_smiles`, in MOSES's order (``unique@k`` for the default k).
METRICS = (
    "valid", "unique@1000", "unique@10000",
    "FCD/Test", "SNN/Test", "Frag/Test", "Scaf/Test",
    "FCD/TestSF", "SNN/TestSF", "Frag/TestSF", "Scaf/TestSF",
    "IntDiv", "IntDiv2", "Filters", "logP", "SA", "QED", "weight", "Novelty",
)  # fmt: skip
#: molvae's own validity, reported next to MOSES's ``valid`` (see the module docstring)
STRICT = "valid_strict"
NOT_PARSED = "invalid SMILES: RDKit could not parse it"


class _Generated:
    """The valid generated molecules, collapsed to unique canonical SMILES with multiplicities."""

    def __init__(self, feats: list[_features.Features], weights: np.ndarray):
        self.feats = feats
        self.weights = weights  # int64 multiplicities, sum = number of valid molecules
        self.fps = np.frombuffer(b"".join(f.fingerprint for f in feats), np.uint8).reshape(
            len(feats), _features.FP_BYTES
        )
        self.fragments: Counter[str] = Counter()
        self.scaffolds: Counter[str] = Counter()
        for f, w in zip(feats, weights.tolist()):
            for frag in f.fragments:
                self.fragments[frag] += w
            if f.scaffold is not None:
                self.scaffolds[f.scaffold] += w
        self.properties = np.array([f.properties for f in feats], dtype=np.float64).reshape(
            len(feats), len(_features.PROPERTY_NAMES)
        )
        self.fcd: tuple[np.ndarray, np.ndarray] | None = None


def _cosine(ref: dict[str, int], gen: dict[str, int]) -> float:
    """Cosine similarity of two count dictionaries (missing keys count 0), as MOSES."""
    keys = sorted(set(ref) | set(gen))
    r = np.array([ref.get(k, 0) for k in keys], dtype=np.float64)
    g = np.array([gen.get(k, 0) for k in keys], dtype=np.float64)
    return float(np.sum(r * g) / np.sqrt(np.sum(r * r) * np.sum(g * g)))


def _resolve_reference(source, what: str, n_jobs: int, progress: bool, device) -> ReferenceStats:
    if isinstance(source, ReferenceStats):
        return source
    if isinstance(source, str) and not os.path.isfile(source):
        raise DataError(f"{what} file {source} does not exist")
    return reference_stats(source, n_jobs=n_jobs, progress=progress, device=device)


def _against(
    res: dict,
    notes: dict,
    tag: str,
    gen: _Generated,
    ref: ReferenceStats,
    n_jobs: int,
    progress: bool,
    device: str | None,
) -> None:
    """FCD, SNN, Frag and Scaf of the generated set against one reference, keys ``*/tag``."""
    if ref.fcd_mu is None:
        notes[f"FCD/{tag}"] = "reference has fewer than 2 valid molecules"
    elif gen.weights.sum() < 2:
        notes[f"FCD/{tag}"] = "FCD needs at least 2 valid molecules"
    else:
        if gen.fcd is None:
            acts = chemnet.activations([f.canonical for f in gen.feats], device, progress, n_jobs)
            gen.fcd = chemnet.statistics(acts, gen.weights)
        assert ref.fcd_mu is not None and ref.fcd_sigma is not None  # the reference statistics hold FCD
        res[f"FCD/{tag}"] = chemnet.frechet_distance(*gen.fcd, ref.fcd_mu, ref.fcd_sigma)
    best = similarity.max_similarity(gen.fps, ref.fingerprints, progress, n_jobs)
    res[f"SNN/{tag}"] = float(np.average(best, weights=gen.weights))
    for name, ref_counts, gen_counts, what in (
        ("Frag", ref.fragments, gen.fragments, "BRICS fragment"),
        ("Scaf", ref.scaffolds, gen.scaffolds, "scaffold with at least 2 rings"),
    ):
        if not gen_counts or not ref_counts:
            side = "generated molecules have" if not gen_counts else "reference has"
            notes[f"{name}/{tag}"] = f"{side} no {what} (MOSES returns NaN)"
        else:
            res[f"{name}/{tag}"] = _cosine(ref_counts, gen_counts)


def evaluate_smiles(
    generated: Sequence[str] | os.PathLike,
    reference: Source | ReferenceStats | None = None,
    scaffold_reference: Source | ReferenceStats | None = None,
    train: Source | None = None,
    n_jobs: int | None = None,
    progress: bool = False,
    unique_at: Sequence[int] = (1000, 10000),
    device: str | None = None,
) -> dict[str, Any]:
    """MOSES metrics of ``generated`` (a list of SMILES, or a ``pathlib.Path`` to a molecule file).

    Args:
        reference: test set for the ``*/Test`` metrics and the property distances: a file
            (read by :func:`molvae.io.readers.read_smiles`: .csv/.tsv/.smi/.sdf), a list of
            SMILES or :class:`ReferenceStats`. ``None``: the MOSES test set, whose statistics
            ship with molvae; those of other references are cached on disk
            (:func:`molvae.evaluate.metrics.reference_stats`).
        scaffold_reference: the same for the ``*/TestSF`` metrics; ``None`` skips them (use
            ``default_reference_paths().test_scaffolds`` for MOSES's scaffold test set).
        train: training molecules (file or list) for ``Novelty``; ``None`` skips it.
        n_jobs: worker processes (RDKit, ChemNet; torch uses one thread each); ``None``: all cores.
        progress: show tqdm progress bars.
        unique_at: the ``k`` of ``unique@k``.
        device: torch device for ChemNet (default: CUDA when available, else CPU).

    Returns:
        ``{metric: float or None}`` with the keys of :data:`METRICS` (``unique@k`` following
        ``unique_at``) and :data:`STRICT`, plus ``n_generated``, ``n_valid``,
        ``n_valid_strict``, ``n_unique``, ``seconds``, ``timings`` (seconds per phase),
        ``notes`` (``{metric: why it is None or how it was computed}``) and ``invalid``: one
        ``(position in generated, reason)`` for each input that ``valid_strict`` does not count.

    >>> r = evaluate_smiles(["CCO", "CCO", "c1ccccc1", "not a smiles"],
    ...                     reference=["CCN", "c1ccccc1C", "CCOC"])  # doctest: +SKIP
    >>> r["valid"], r["unique@1000"]                                # doctest: +SKIP
    (0.75, 0.6666666666666666)
    """
    start = time.perf_counter()
    if any(int(k) < 1 for k in unique_at):
        raise ValueError(f"unique_at must hold positive integers, got {tuple(unique_at)}")
    n_jobs = resolve_jobs(n_jobs)
    if isinstance(generated, (os.PathLike, str)):
        if isinstance(generated, str) and not os.path.isfile(generated):
            raise DataError("generated must be a list of SMILES or the path of a molecule file")
        generated = read_smiles(Path(generated))
    generated = ["" if s is None else str(s) for s in generated]
    keys = ["valid", STRICT, *(f"unique@{k}" for k in unique_at), *METRICS[3:]]
    res: dict[str, Any] = dict.fromkeys(keys)
    notes: dict[str, str] = {}
    timings: dict[str, float] = {}
    invalid: list[tuple[int, str]] = []
    res.update(
        n_generated=len(generated),
        n_valid=0,
        n_valid_strict=0,
        n_unique=0,
        notes=notes,
        timings=timings,
        invalid=invalid,
    )
    tick = [time.perf_counter()]

    def lap(phase: str) -> None:
        now = time.perf_counter()
        timings[phase] = now - tick[0]
        tick[0] = now

    def finish() -> dict[str, Any]:
        for k in keys:  # NaN never leaves this function: None plus a reason instead
            v = res[k]
            if v is not None and not math.isfinite(v):
                res[k] = None
                notes.setdefault(k, "not a finite number")
            elif v is None:
                notes.setdefault(k, "not computed")
        res["seconds"] = time.perf_counter() - start
        return res

    if not generated:
        for k in keys:
            notes[k] = "no molecules given"
        return finish()

    # 1. RDKit work on each distinct input string, in parallel.
    distinct = list(dict.fromkeys(generated))
    feats = dict(zip(distinct, pmap(_features.molecule_features, distinct, n_jobs, progress, "generated")))
    canon = [None if (f := feats[s]) is None else f.canonical for s in generated]
    valid = [c for c in canon if c is not None]
    res["valid"] = len(valid) / len(generated)
    res["n_valid"] = len(valid)
    for i, s in enumerate(generated):
        f = feats[s]
        if f is None or f.problem:
            invalid.append((i, f.problem if f is not None else NOT_PARSED if s.strip() else "empty"))
    res["n_valid_strict"] = len(generated) - len(invalid)
    res[STRICT] = res["n_valid_strict"] / len(generated)
    kinds = Counter(reason_kind(why) for _, why in invalid if why not in (NOT_PARSED, "empty"))
    notes[STRICT] = (
        "parsed by RDKit, with no radical electrons and no unusual valence (molvae's check; MOSES's valid counts such molecules)"
    )
    if kinds:
        notes[STRICT] += ": " + ", ".join(f"{n} with {kind}" for kind, n in kinds.most_common())
    if not valid:
        for k in keys[2:]:
            notes[k] = "no valid molecule"
        return finish()
    for size in unique_at:
        first = valid[:size]
        res[f"unique@{size}"] = len(set(first)) / len(first)
        if len(valid) < size:
            notes[f"unique@{size}"] = (
                f"only {len(valid)} valid molecules (< {size}): computed on all of them, as MOSES does"
            )
    by_canon = {f.canonical: f for f in feats.values() if f is not None}
    counts = Counter(valid)
    order = list(counts)
    gen = _Generated([by_canon[c] for c in order], np.array([counts[c] for c in order], np.int64))
    res["n_unique"] = len(order)
    lap("molecules")

    # 2. Metrics of the generated set alone.
    res["Filters"] = float(np.average([f.passes_filters for f in gen.feats], weights=gen.weights))
    with torch_threads(1):  # processes, not threads: see molvae.runtime.parallel.torch_threads
        rows = similarity.mean_similarity_powers(gen.fps, gen.weights, (1, 2), progress, n_jobs)
        for name, p in (("IntDiv", 1), ("IntDiv2", 2)):
            res[name] = float(1.0 - np.average(rows[p] ** (1.0 / p), weights=gen.weights))
        lap("IntDiv")

        # 3. Against the reference set(s).
        ref = _resolve_reference(reference, "reference", n_jobs, progress, device)
        _against(res, notes, "Test", gen, ref, n_jobs, progress, device)
        lap("Test")
        if scaffold_reference is None:
            for m in ("FCD", "SNN", "Frag", "Scaf"):
                notes[f"{m}/TestSF"] = "no scaffold_reference given"
        else:
            ref_sf = _resolve_reference(scaffold_reference, "scaffold_reference", n_jobs, progress, device)
            _against(res, notes, "TestSF", gen, ref_sf, n_jobs, progress, device)
            lap("TestSF")

    # 4. Property distributions (Wasserstein-1), NaN values left out.
    from scipy.stats import wasserstein_distance

    for j, name in enumerate(_features.PROPERTY_NAMES):
        g, r = gen.properties[:, j], ref.properties[name]
        g_ok, r_ok = np.isfinite(g), np.isfinite(r)
        if not g_ok.any() or not r_ok.any():
            notes[name] = (
                f"RDKit could not compute {name} for any {'generated' if not g_ok.any() else 'reference'} molecule"
            )
            continue
        if not g_ok.all():
            notes[name] = f"{int((~g_ok).sum())} generated molecules without a {name} value left out"
        res[name] = float(wasserstein_distance(r[r_ok], g[g_ok], None, gen.weights[g_ok]))
    lap("properties")

    # 5. Novelty against the training set.
    if train is None:
        notes["Novelty"] = "no train set given"
    else:
        train_set = canonical_set(train, n_jobs=n_jobs, progress=progress)
        res["Novelty"] = sum(c not in train_set for c in order) / len(order)
        lap("Novelty")
    return finish()
