"""Reference-set statistics for the MOSES metrics, computed once and cached on disk.

For a reference set (the MOSES test or scaffold-test set, or any file or list of SMILES) the
metrics need: ChemNet mean and covariance (FCD), packed Morgan fingerprints (SNN), BRICS
fragment and Bemis-Murcko scaffold counts (Frag, Scaf) and logP/SA/QED/weight values
(Wasserstein distances). :func:`reference_stats` computes them and stores them in
``$MOLVAE_CACHE_DIR/reference/`` (default ``~/.cache/molvae/reference/``) as a pickle-free
``.npz`` named by a hash of the reference contents, the RDKit version and the cache format, so
the next evaluation against the same reference only reads that file.

>>> paths = default_reference_paths()          # doctest: +SKIP
>>> stats = reference_stats(paths.test)  # minutes the first time  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import rdkit

from molvae.errors import DataError
from molvae.metrics import _features, chemnet
from molvae.metrics._parallel import pmap, resolve_jobs

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
Source = str | os.PathLike | Sequence[str]


class MosesPaths(NamedTuple):
    """The MOSES data files shipped in ``data/moses`` of the repository."""

    train: Path
    test: Path
    test_scaffolds: Path


def default_reference_paths() -> MosesPaths:
    """Paths of the MOSES train, test and scaffold-test files (``<repo>/data/moses``).

    Raises :class:`~molvae.errors.DataError` naming the missing files when they are absent
    (for instance in an installed package without the repository's ``data`` folder).
    """
    root = Path(__file__).resolve().parents[2] / "data" / "moses"
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
    from molvae.cache import cache_dir as molvae_cache_dir

    return molvae_cache_dir("reference")


# ---------------------------------------------------------------------------- reading SMILES


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _iter_smiles(path: Path) -> Iterator[str]:
    """SMILES from a ``.csv``/``.tsv`` (column ``SMILES``, else the first) or ``.smi`` file, streamed."""
    stem = path.name[:-3] if path.name.endswith(".gz") else path.name
    with _open_text(path) as fh:
        if stem.endswith((".csv", ".tsv")):
            reader = csv.reader(fh, delimiter="\t" if stem.endswith(".tsv") else ",")
            header = next(reader, None) or []
            lower = [h.strip().lower() for h in header]
            col = lower.index("smiles") if "smiles" in lower else 0
            for row in reader:
                if len(row) > col:
                    yield row[col].strip()
        else:  # .smi / .txt: first whitespace-separated field, optional "smiles" header
            for n, line in enumerate(fh):
                fields = line.split()
                if not fields or (n == 0 and fields[0].lower() == "smiles"):
                    continue
                yield fields[0]


def read_smiles(path: str | os.PathLike) -> list[str]:
    """All SMILES of a molecule file (see :func:`_iter_smiles`); DataError when missing or empty."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"molecule file {path} does not exist")
    try:
        smiles = list(_iter_smiles(path))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read SMILES from {path}: {exc}") from exc
    if not smiles:
        raise DataError(f"{path} holds no SMILES")
    return smiles


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
        meta = {"format": CACHE_FORMAT, "key": self.key, "n_molecules": self.n_molecules,
                "n_invalid": self.n_invalid, "rdkit": rdkit.__version__}
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


def compute_reference_stats(
    smiles: Sequence[str],
    key: str = "",
    n_jobs: int | None = None,
    progress: bool = False,
    device: str | None = None,
) -> ReferenceStats:
    """Compute (without any cache) the statistics of a list of reference SMILES.

    Invalid SMILES are left out and counted; raises DataError when none is valid.
    """
    n_jobs = resolve_jobs(n_jobs)
    feats = pmap(_features.reference_features, list(smiles), n_jobs, progress, "reference")
    valid = [f for f in feats if f is not None]
    if not valid:
        raise DataError("the reference set holds no valid molecule")
    if len(valid) < len(feats):
        log.warning("reference set: %d of %d SMILES are invalid and left out",
                    len(feats) - len(valid), len(feats))
    fragments: Counter[str] = Counter()
    for f in valid:
        fragments.update(f.fragments)
    scaffolds = Counter(f.scaffold for f in valid if f.scaffold is not None)
    props = np.array([f.properties for f in valid], dtype=np.float64).T
    mu = sigma = None
    if len(valid) >= 2:
        acts = chemnet.activations([f.canonical for f in valid], device, progress, n_jobs)
        mu, sigma = chemnet.statistics(acts)
    return ReferenceStats(
        key=key,
        n_molecules=len(valid),
        n_invalid=len(feats) - len(valid),
        fingerprints=np.frombuffer(b"".join(f.fingerprint for f in valid), dtype=np.uint8).reshape(
            len(valid), _features.FP_BYTES
        ),
        fragments=dict(fragments),
        scaffolds=dict(scaffolds),
        properties=dict(zip(_features.PROPERTY_NAMES, props)),
        fcd_mu=mu,
        fcd_sigma=sigma,
    )


def reference_stats(
    source: Source,
    n_jobs: int | None = None,
    progress: bool = False,
    use_cache: bool = True,
    device: str | None = None,
) -> ReferenceStats:
    """Statistics of a reference set (file path or list of SMILES), from the cache when possible.

    The first call for a given content computes them (minutes for the 176k-molecule MOSES test
    set on two cores) and writes ``<cache_dir()>/<hash>.npz``; later calls read that file.
    """
    if isinstance(source, (str, os.PathLike)) and not Path(source).is_file():
        raise DataError(f"reference file {source} does not exist")
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
    stats = compute_reference_stats(_as_list(source), key, n_jobs, progress, device)
    if use_cache:
        try:
            _save_npz(path, stats.to_arrays())
            log.info("reference statistics cached in %s", path)
        except OSError as exc:
            log.warning("cannot write reference cache %s: %s", path, exc)
    return stats


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
    canon = pmap(_features.canonical, _as_list(source), resolve_jobs(n_jobs), progress, "train")
    result = frozenset(c for c in canon if c is not None)
    if use_cache:
        try:
            _save_npz(path, {"smiles": _pack_strings(sorted(result))})
        except OSError as exc:
            log.warning("cannot write cache %s: %s", path, exc)
    return result
