"""The MOSES test-set and scaffold-test-set statistics that ship inside the package, in a compact, exact form.

The first ``molvae evaluate`` on a fresh machine would otherwise spend about 20 minutes on two
cores computing each (RDKit and ChemNet over 176,074 and 176,225 molecules). Like MOSES's own
``test_stats.npz`` and ``test_sf_stats.npz``, molvae ships them precomputed:
``molvae/evaluate/metrics/data/moses_test_stats.npz`` and ``moses_test_scaffolds_stats.npz``, made
by ``python benchmarks/pretrained/reference_stats.py`` from ``data/moses/test.csv.gz`` and
``data/moses/test_scaffolds.csv.gz`` with :func:`molvae.evaluate.metrics.reference.compute_reference_stats`.

The compact form loses nothing the metrics use, so every metric is bit-for-bit what the full
statistics give (tested):

* Morgan fingerprints: distinct rows only (SNN takes a maximum over the reference, which
  duplicates cannot change), sorted and LZMA-compressed;
* property values: sorted (the Wasserstein distance depends on the sorted values only), stored
  as differences of their order-preserving integer bit patterns, bytes transposed, compressed;
* FCD mean and covariance: float64 as computed; the covariance as its upper triangle and the
  lower triangle's bitwise differences from it (symmetric up to rounding, so mostly zeros);
* fragment and scaffold counts: as they are, compressed.

``MOSES_HELDOUT`` holds the first 10,000 test-set SMILES, the default held-out molecules of
``molvae evaluate --model``. A file whose bytes are those of the MOSES test set
(``source_sha256``) is recognised, so ``--reference data/moses/test.csv.gz`` uses them too; so is
the scaffold test set (``--scaffold-reference data/moses/test_scaffolds.csv.gz``).
"""

from __future__ import annotations

import json
import lzma
import os
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent / "data"
MOSES_TEST_STATS = DATA / "moses_test_stats.npz"
MOSES_TEST_SCAFFOLDS_STATS = DATA / "moses_test_scaffolds_stats.npz"
MOSES_HELDOUT = DATA / "moses_test_heldout.smi.gz"
#: The shipped statistics by name (the ``key`` they carry) and the repository file each was made from.
SHIPPED = {
    "moses-test": (MOSES_TEST_STATS, "data/moses/test.csv.gz"),
    "moses-test-scaffolds": (MOSES_TEST_SCAFFOLDS_STATS, "data/moses/test_scaffolds.csv.gz"),
}
COMPACT_FORMAT = 1


def _pack(raw: bytes) -> np.ndarray:
    return np.frombuffer(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME), dtype=np.uint8)


def _unpack(arr: np.ndarray) -> bytes:
    return lzma.decompress(arr.tobytes())


def _pack_floats(values: np.ndarray) -> np.ndarray:
    """float64 values, bytes transposed (all first bytes, then all second bytes, ...), compressed."""
    v = np.ascontiguousarray(values, dtype="<f8")
    return _pack(v.view(np.uint8).reshape(-1, 8).T.tobytes())


def _unpack_floats(arr: np.ndarray) -> np.ndarray:
    planes = np.frombuffer(_unpack(arr), dtype=np.uint8).reshape(8, -1)
    return np.ascontiguousarray(planes.T).view("<f8").reshape(-1).astype(np.float64)


_SIGN = np.int64(-(2**63))
_MAGNITUDE = np.int64(2**63 - 1)


def _pack_sorted(values: np.ndarray) -> np.ndarray:
    """Sorted float64 values as differences of order-preserving integers (small numbers), compressed."""
    bits = np.sort(np.asarray(values, dtype="<f8")).view(np.int64)
    ordered = np.where(bits < 0, ~(bits & _MAGNITUDE), bits)  # negative floats: larger magnitude, smaller int
    with np.errstate(over="ignore"):
        steps = np.diff(ordered, prepend=np.int64(0))  # wraps around where it must; cumsum unwraps it
    return _pack_floats(steps.view(np.float64))


def _unpack_sorted(arr: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        ordered = np.cumsum(_unpack_floats(arr).view(np.int64))
    return np.where(ordered < 0, ~ordered | _SIGN, ordered).view(np.float64)


def _pack_strings(strings: list[str]) -> np.ndarray:
    return _pack("\n".join(strings).encode("utf-8"))


def _unpack_strings(arr: np.ndarray) -> list[str]:
    text = _unpack(arr).decode("utf-8")
    return text.split("\n") if text else []


def compact_arrays(stats, source_sha256: str = "") -> dict[str, np.ndarray]:
    """The compact arrays of a :class:`~molvae.evaluate.metrics.reference.ReferenceStats` (see the module docstring)."""
    fps = np.unique(np.asarray(stats.fingerprints, dtype=np.uint8), axis=0)  # distinct rows, sorted
    names = list(stats.properties)
    meta = {
        "format": COMPACT_FORMAT,
        "key": stats.key,
        "n_molecules": stats.n_molecules,
        "n_invalid": stats.n_invalid,
        "n_fingerprints": len(fps),
        "properties": names,
        "source_sha256": source_sha256,
        "rdkit": _rdkit_version(),
    }
    arrays = {
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        "fingerprints": _pack(fps.tobytes()),
        "fragment_keys": _pack_strings(list(stats.fragments)),
        "fragment_counts": _pack(np.asarray(list(stats.fragments.values()), "<i8").tobytes()),
        "scaffold_keys": _pack_strings(list(stats.scaffolds)),
        "scaffold_counts": _pack(np.asarray(list(stats.scaffolds.values()), "<i8").tobytes()),
    }
    for k in names:
        arrays[f"property_{k}"] = _pack_sorted(stats.properties[k])
    if stats.fcd_mu is not None:
        sigma = np.ascontiguousarray(stats.fcd_sigma, dtype="<f8")
        upper = np.triu_indices(len(sigma))
        arrays["fcd_mu"] = _pack_floats(stats.fcd_mu)
        arrays["fcd_sigma_upper"] = _pack_floats(sigma[upper])
        # symmetric up to rounding: the lower triangle as bitwise differences from the upper (mostly 0)
        arrays["fcd_sigma_lower_xor"] = _pack((sigma.T[upper].view(np.uint64) ^ sigma[upper].view(np.uint64)).tobytes())
    return arrays


def compact_fields(a) -> tuple[dict[str, Any], dict[str, Any]]:
    """The :class:`~molvae.evaluate.metrics.reference.ReferenceStats` fields and the ``meta`` of compact arrays.

    ``a`` is :func:`compact_arrays` output (a dict or an open ``.npz``).
    """
    meta = json.loads(a["meta"].tobytes().decode())
    if meta.get("format") != COMPACT_FORMAT:
        raise ValueError(f"compact statistics format {meta.get('format')}, expected {COMPACT_FORMAT}")
    fps = np.frombuffer(_unpack(a["fingerprints"]), dtype=np.uint8).reshape(int(meta["n_fingerprints"]), -1)
    mu = sigma = None
    if "fcd_mu" in a:
        mu = _unpack_floats(a["fcd_mu"])
        upper = np.triu_indices(len(mu))
        values = _unpack_floats(a["fcd_sigma_upper"])
        xor = np.frombuffer(_unpack(a["fcd_sigma_lower_xor"]), dtype=np.uint64)
        sigma = np.zeros((len(mu), len(mu)), dtype=np.float64)
        sigma.T[upper] = (values.view(np.uint64) ^ xor).view(np.float64)  # the lower triangle
        sigma[upper] = values
    fields = dict(
        key=meta["key"],
        n_molecules=int(meta["n_molecules"]),
        n_invalid=int(meta["n_invalid"]),
        fingerprints=np.ascontiguousarray(fps),
        fragments=dict(
            zip(_unpack_strings(a["fragment_keys"]), np.frombuffer(_unpack(a["fragment_counts"]), "<i8").tolist())
        ),
        scaffolds=dict(
            zip(_unpack_strings(a["scaffold_keys"]), np.frombuffer(_unpack(a["scaffold_counts"]), "<i8").tolist())
        ),
        properties={k: _unpack_sorted(a[f"property_{k}"]) for k in meta["properties"]},
        fcd_mu=mu,
        fcd_sigma=sigma,
    )
    return fields, meta


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The ``meta`` of a compact statistics file, without unpacking the rest."""
    with np.load(path, allow_pickle=False) as a:
        return json.loads(a["meta"].tobytes().decode())


def save_compact(path: str | os.PathLike, stats, source_sha256: str = "") -> None:
    """Write :func:`compact_arrays` to ``path`` (already compressed: stored, not deflated)."""
    arrays: dict[str, Any] = compact_arrays(stats, source_sha256)
    np.savez(path, **arrays)


def _rdkit_version() -> str:
    import rdkit

    return rdkit.__version__
