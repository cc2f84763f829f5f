"""Reference-set statistics for the MOSES metrics, computed once and cached on disk.

For a reference set (the MOSES test or scaffold-test set, or any file or list of SMILES) the
metrics need: ChemNet mean and covariance (FCD), packed Morgan fingerprints (SNN), BRICS
fragment and Bemis-Murcko scaffold counts (Frag, Scaf) and logP/SA/QED/weight values
(Wasserstein distances). :func:`reference_stats` computes them and stores them in
``$MOLVAE_CACHE_DIR/reference/`` (default ``~/.cache/molvae/reference/``) as a pickle-free
``.npz`` named by a hash of the reference contents, the RDKit version and the cache format, so
the next evaluation against the same reference only reads that file. The statistics of the MOSES
test set and scaffold test set ship with the package (:mod:`molvae.evaluate.metrics.packaged`): the
default reference (``None``) and a file with the bytes of either set cost nothing to compute.

>>> paths = default_reference_paths()          # doctest: +SKIP
>>> stats = reference_stats(paths.test)  # minutes the first time  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import rdkit

from molvae.errors import DataError
from molvae.evaluate.metrics import _features, chemnet
from molvae.evaluate.metrics.packaged import MOSES_TEST_STATS, SHIPPED, compact_fields, read_meta
from molvae.io.readers import file_hash, read_smiles
from molvae.runtime.cache import cache_dir as molvae_cache_dir
from molvae.runtime.parallel import pmap, resolve_jobs

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
Source = str | os.PathLike | Sequence[str]


class MosesPaths(NamedTuple):
    """The MOSES data files in ``data/moses`` of a checkout of the repository."""

    train: Path
    test: Path
    test_scaffolds: Path


def default_reference_paths() -> MosesPaths:
    """Paths of the MOSES train, test and scaffold-test files (``<repo>/data/moses``).

    These are files of a checkout, not of the installed package: the default reference of the
    metrics is the MOSES test set's statistics shipped in the package
    (:func:`moses_test_stats`), which needs none of them. Raises
    :class:`~molvae.errors.DataError` naming the missing files when they are absent.
    """
    root = Path(__file__).resolve().parents[3] / "data" / "moses"
    paths = MosesPaths(root / "train.csv.gz", root / "test.csv.gz", root / "test_scaffolds.csv.gz")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DataError(
            f"MOSES data file(s) not found: {', '.join(missing)}; pass reference=<file of SMILES> "
            "or run from a checkout of the molvae repository"
        )
    return paths


def cache_dir() -> Path:
    """Folder of cached reference statistics: ``$MOLVAE_CACHE_DIR/reference`` or ``~/.cache/molvae/reference``."""

    return molvae_cache_dir("reference")


def _content_hash(source: Source, kind: str) -> str:
    """Hash of a file's bytes or of a list of SMILES, plus the format and RDKit version."""
    h = hashlib.sha256(f"{kind}|{CACHE_FORMAT}|rdkit {rdkit.__version__}|".encode())
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    else:
        h.update("\n".join(source).encode("utf-8"))
    return h.hexdigest()[:24]


def _as_list(source: Source) -> list[str]:
    if isinstance(source, (str, os.PathLike)):
        return read_smiles(source)
    return list(source)


def _pack_strings(strings: Sequence[str]) -> np.ndarray:
    return np.frombuffer("\n".join(strings).encode("utf-8"), dtype=np.uint8)


def _unpack_strings(arr: np.ndarray) -> list[str]:
    return arr.tobytes().decode("utf-8").split("\n") if arr.size else []


def _save_npz(path: Path, arrays: dict[str, Any]) -> None:
    """Write atomically (temporary file, then rename) so a killed run leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class ReferenceStats:
    """Everything the MOSES metrics need from a reference set (see the module docstring)."""

    key: str  # content hash, also the cache file name
    n_molecules: int  # valid molecules the statistics describe
    n_invalid: int  # reference SMILES RDKit rejected (left out)
    fingerprints: np.ndarray  # uint8 (n_molecules, 128), packed Morgan r=2 1024 bits
    fragments: dict[str, int]  # BRICS fragment SMILES -> count
    scaffolds: dict[str, int]  # Bemis-Murcko scaffold SMILES (>= 2 rings) -> count
    properties: dict[str, np.ndarray]  # logP, SA, QED, weight -> float64 (n_molecules,)
    fcd_mu: np.ndarray | None  # (512,), None with fewer than 2 molecules
    fcd_sigma: np.ndarray | None  # (512, 512)

    def to_arrays(self) -> dict[str, np.ndarray]:
        meta = {
            "format": CACHE_FORMAT,
            "key": self.key,
            "n_molecules": self.n_molecules,
            "n_invalid": self.n_invalid,
            "rdkit": rdkit.__version__,
        }
        arrays: dict[str, Any] = {
            "meta": _pack_strings([json.dumps(meta)]),
            "fingerprints": self.fingerprints,
            "fragment_keys": _pack_strings(list(self.fragments)),
            "fragment_counts": np.array(list(self.fragments.values()), dtype=np.int64),
            "scaffold_keys": _pack_strings(list(self.scaffolds)),
            "scaffold_counts": np.array(list(self.scaffolds.values()), dtype=np.int64),
            "property_names": _pack_strings(list(self.properties)),
            "property_values": np.stack(list(self.properties.values())),
        }
        if self.fcd_mu is not None:
            arrays["fcd_mu"], arrays["fcd_sigma"] = self.fcd_mu, self.fcd_sigma
        return arrays

    @classmethod
    def from_arrays(cls, a) -> ReferenceStats:
        meta = json.loads(_unpack_strings(a["meta"])[0])
        if meta.get("format") != CACHE_FORMAT:
            raise ValueError(f"cache format {meta.get('format')}, expected {CACHE_FORMAT}")
        names = _unpack_strings(a["property_names"])
        return cls(
            key=meta["key"],
            n_molecules=int(meta["n_molecules"]),
            n_invalid=int(meta["n_invalid"]),
            fingerprints=a["fingerprints"],
            fragments=dict(zip(_unpack_strings(a["fragment_keys"]), a["fragment_counts"].tolist())),
            scaffolds=dict(zip(_unpack_strings(a["scaffold_keys"]), a["scaffold_counts"].tolist())),
            properties=dict(zip(names, a["property_values"])),
            fcd_mu=a["fcd_mu"] if "fcd_mu" in a else None,
            fcd_sigma=a["fcd_sigma"] if "fcd_sigma" in a else None,
        )


def _rdkit_part(smiles: Sequence[str], key: str, n_jobs: int, progress: bool) -> tuple[ReferenceStats, list[str]]:
    """Everything but FCD (fcd_mu None), and the canonical SMILES ChemNet will need."""
    feats = pmap(_features.reference_features, list(smiles), n_jobs, progress, "reference")
    valid = [f for f in feats if f is not None]
    if not valid:
        raise DataError("the reference set holds no valid molecule")
    if len(valid) < len(feats):
        log.warning("reference set: %d of %d SMILES are invalid and left out", len(feats) - len(valid), len(feats))
    fragments: Counter[str] = Counter()
    for f in valid:
        fragments.update(f.fragments)
    scaffolds = Counter(f.scaffold for f in valid if f.scaffold is not None)
    props = np.array([f.properties for f in valid], dtype=np.float64).T
    stats = ReferenceStats(
        key=key,
        n_molecules=len(valid),
        n_invalid=len(feats) - len(valid),
        fingerprints=np.frombuffer(b"".join(f.fingerprint for f in valid), dtype=np.uint8).reshape(
            len(valid), _features.FP_BYTES
        ),
        fragments=dict(fragments),
        scaffolds=dict(scaffolds),
        properties=dict(zip(_features.PROPERTY_NAMES, props)),
        fcd_mu=None,
        fcd_sigma=None,
    )
    return stats, [f.canonical for f in valid]


def compute_reference_stats(
    smiles: Sequence[str],
    key: str = "",
    n_jobs: int | None = None,
    progress: bool = False,
    device: str | None = None,
    partial: Path | None = None,
) -> ReferenceStats:
    """Compute the statistics of a list of reference SMILES.

    Invalid SMILES are left out and counted; raises DataError when none is valid. With
    ``partial``, the RDKit part is written to (or, when there, read from) that file before
    ChemNet runs, so that an interrupted computation keeps it.
    """
    n_jobs = resolve_jobs(n_jobs)
    part = None
    if partial is not None and partial.is_file():
        try:
            with np.load(partial, allow_pickle=False) as a:
                part = ReferenceStats.from_arrays(a), _unpack_strings(a["canonical"])
            log.info("RDKit part of the reference statistics read from %s", partial)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable partial cache %s (%s)", partial, exc)
    if part is None:
        part = _rdkit_part(smiles, key, n_jobs, progress)
        if partial is not None:
            try:
                _save_npz(partial, {**part[0].to_arrays(), "canonical": _pack_strings(part[1])})
            except OSError as exc:
                log.warning("cannot write partial cache %s: %s", partial, exc)
    stats, canonical = part
    if len(canonical) < 2:
        return stats
    acts = chemnet.activations(canonical, device, progress, n_jobs)
    mu, sigma = chemnet.statistics(acts)
    return dataclasses.replace(stats, fcd_mu=mu, fcd_sigma=sigma)


def from_compact(a) -> tuple[ReferenceStats, dict[str, Any]]:
    """:class:`ReferenceStats` and their ``meta`` from compact arrays (:mod:`molvae.evaluate.metrics.packaged`)."""

    fields, meta = compact_fields(a)
    return ReferenceStats(**fields), meta


@functools.cache
def _shipped(path: Path = MOSES_TEST_STATS) -> tuple[ReferenceStats, dict[str, Any]]:
    if not path.is_file():
        raise DataError(f"the packaged reference statistics {path} are missing; reinstall molvae")
    with np.load(path, allow_pickle=False) as a:
        return from_compact(a)


@functools.cache
def _source_sha256(path: Path) -> str:
    return read_meta(path).get("source_sha256", "") if path.is_file() else ""


def moses_test_stats() -> ReferenceStats:
    """The MOSES test-set statistics shipped with molvae (read once per process)."""
    return _shipped(MOSES_TEST_STATS)[0]


def shipped_stats_file(path: str | os.PathLike) -> Path | None:
    """The shipped statistics file computed from exactly the bytes of ``path``; ``None`` if none is."""
    if os.path.getsize(path) > (64 << 20) or not any(f.is_file() for f, _ in SHIPPED.values()):
        return None
    digest = file_hash(path)
    return next((f for f, _ in SHIPPED.values() if _source_sha256(f) == digest), None)


def is_moses_test(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds exactly the bytes the shipped MOSES test statistics were computed from."""
    return shipped_stats_file(path) == MOSES_TEST_STATS


def reference_stats(
    source: Source | None,
    n_jobs: int | None = None,
    progress: bool = False,
    use_cache: bool = True,
    device: str | None = None,
) -> ReferenceStats:
    """Statistics of a reference set (file path or list of SMILES), from the cache when possible.

    ``None``, or a file with the bytes of the MOSES test set or scaffold test set, gives the
    statistics shipped in the package (:mod:`molvae.evaluate.metrics.packaged`): nothing to compute. For anything else, the first
    call for a given content computes them and writes ``<cache_dir()>/<hash>.npz``; later calls
    read that file. The RDKit part is cached as soon as it is done, so an interrupted run only
    has ChemNet left to do.
    """
    if source is None:
        return moses_test_stats()
    if isinstance(source, (str, os.PathLike)):
        if not Path(source).is_file():
            raise DataError(f"reference file {source} does not exist")
        if (shipped := shipped_stats_file(source)) is not None:
            return _shipped(shipped)[0]
    key = _content_hash(source, "reference")
    path = cache_dir() / f"{key}.npz"
    if use_cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as a:
                stats = ReferenceStats.from_arrays(a)
            log.debug("reference statistics read from %s", path)
            return stats
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable reference cache %s (%s); recomputing", path, exc)
    partial = path.with_name(f"{key}.rdkit.npz") if use_cache else None
    molecules = _as_list(source)
    _say_first_run(f"the statistics of reference {_name(source)}", len(molecules), path if use_cache else None)
    stats = compute_reference_stats(molecules, key, n_jobs, progress, device, partial=partial)
    if use_cache:
        try:
            _save_npz(path, stats.to_arrays())
            log.info("reference statistics cached in %s", path)
            if partial is not None:
                partial.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("cannot write reference cache %s: %s", path, exc)
    return stats


LARGE = 20_000  # molecules above which a first computation is announced: it takes minutes


def _name(source: Source) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else "the given molecules"


def _say_first_run(what: str, n: int, cache: Path | None, work: str = "RDKit and ChemNet") -> None:
    """Warn before minutes of work that a later run will not repeat (or will, without a cache)."""
    if n < LARGE:
        return
    later = f"later runs read it from {cache}" if cache is not None else "there is no cache: every run repeats it"
    log.warning("computing %s, %d molecules: minutes the first time (%s); %s", what, n, work, later)


def canonical_set(
    source: Source, n_jobs: int | None = None, progress: bool = False, use_cache: bool = True
) -> frozenset[str]:
    """Canonical SMILES of the valid molecules of a set (for novelty), cached like the statistics.

    Canonicalising the 1.6M MOSES training SMILES takes about two minutes on two cores once.
    """
    key = _content_hash(source, "canonical")
    path = cache_dir() / f"canonical-{key}.npz"
    if use_cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as a:
                return frozenset(_unpack_strings(a["smiles"]))
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring unreadable cache %s (%s); recomputing", path, exc)
    molecules = _as_list(source)
    _say_first_run(
        f"the canonical SMILES of {_name(source)} (for novelty)", len(molecules), path if use_cache else None, "RDKit"
    )
    canon = pmap(_features.canonical, molecules, resolve_jobs(n_jobs), progress, "train")
    result = frozenset(c for c in canon if c is not None)
    if use_cache:
        try:
            _save_npz(path, {"smiles": _pack_strings(sorted(result))})
        except OSError as exc:
            log.warning("cannot write cache %s: %s", path, exc)
    return result
