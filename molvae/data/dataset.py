"""Molecule files in, clean tokenised tensors out.

Reads molecule files with :mod:`molvae.io.readers` (.smi, .csv/.tsv, .sdf, optionally .gz; its
rules for the SMILES column and text encodings); canonicalises every
molecule with RDKit, encodes it to SELFIES, computes the conditioning properties and keeps a
reject (line number and reason) for everything it cannot use, so that
``n_read == n_kept + n_rejected`` always. Results are cached on disk keyed by a hash of the
input file and the settings: a second run does no RDKit work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from molvae.data.vocabulary import Vocabulary, smiles_to_symbols
from molvae.errors import DataError, MissingFileError
from molvae.io.readers import control_characters, file_format, file_hash, iter_smiles
from molvae.io.writers import write_table
from molvae.runtime.cache import cache_dir
from molvae.runtime.parallel import pmap

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: salts and mixtures become their largest fragment; lone ions and control characters rejected
SERIAL_BELOW = 4000  # below this many molecules a process pool costs more than it saves


@dataclass(frozen=True)
class Reject:
    """One input row molvae could not use: 1-based line (or SDF record) number, input, reason."""

    line: int
    smiles: str
    reason: str


@dataclass
class MoleculeData:
    """Preprocessed molecules: canonical SMILES, SELFIES token ids, properties and rejects."""

    smiles: list[str]
    tokens: np.ndarray  # uint8/int16 [N, max_symbols], 0-padded, no start/end
    lengths: np.ndarray  # int16 [N]: number of SELFIES symbols
    properties: np.ndarray  # float32 [N, P]
    property_names: list[str]
    vocab: Vocabulary
    rejects: list[Reject] = field(default_factory=list)
    source_hash: str = ""

    @property
    def n_kept(self) -> int:
        return len(self.smiles)

    @property
    def n_rejected(self) -> int:
        return len(self.rejects)

    @property
    def n_read(self) -> int:
        return self.n_kept + self.n_rejected

    def summary(self) -> str:
        return f"read {self.n_read}: kept {self.n_kept}, rejected {self.n_rejected}"


# --------------------------------------------------------------------------- preprocessing


def prepare_molecule(raw: str, max_length: int, names: Sequence[str]):
    """Canonicalise with RDKit, SELFIES-encode and compute properties of one SMILES.

    Returns ``((canonical, symbols, values), "")``, or ``(None, reason)`` when the molecule
    cannot be used (control characters, unparsable, a lone ion, not SELFIES-encodable, too long,
    a property not computable). A salt or mixture becomes its largest fragment.
    """
    from rdkit import Chem

    from molvae.chem.molecules import is_lone_ion, largest_fragment, mol_from_smiles
    from molvae.chem.properties import compute_mol

    if not raw:
        return None, "empty or unreadable record"
    if bad_text := control_characters(raw):
        return None, bad_text
    mol = mol_from_smiles(raw)
    if mol is None:
        return None, "invalid SMILES: RDKit could not parse it"
    mol = largest_fragment(mol)  # CC(=O)[O-].[Na+] -> CC(=O)[O-]; counted in load_molecules' log
    if is_lone_ion(mol):
        return None, f"a lone ion ({Chem.MolToSmiles(mol)}), not a molecule"
    canonical = Chem.MolToSmiles(mol)
    symbols = smiles_to_symbols(canonical)
    if not symbols:
        return None, "SELFIES cannot encode this molecule"
    if len(symbols) > max_length:
        return None, f"{len(symbols)} SELFIES tokens, more than max_length {max_length}"
    values = compute_mol(mol, names)
    bad = [n for n, v in zip(names, values) if not math.isfinite(v)]
    if bad:
        return None, f"property {', '.join(bad)} could not be computed"
    return (canonical, symbols, values), ""


def _process_one(args: tuple[int, str, int, tuple[str, ...]]):
    """Worker: :func:`prepare_molecule` of one numbered record."""
    lineno, raw, max_length, names = args
    ok, reason = prepare_molecule(raw, max_length, names)
    return lineno, raw, ok, reason


def _process_chunk(chunk: list[tuple[int, str, int, tuple[str, ...]]]):
    from molvae.chem.molecules import quiet_rdkit

    with quiet_rdkit():
        return [_process_one(a) for a in chunk]


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def load_molecules(
    path: str | os.PathLike,
    properties: Sequence[str],
    max_length: int = 100,
    smiles_column: str | None = None,
    n_jobs: int | None = None,
    use_cache: bool = True,
    progress: bool = False,
) -> MoleculeData:
    """Read, clean, tokenise and compute properties for a molecule file (cached).

    Args:
        path: .smi/.csv/.tsv/.sdf file, optionally gzipped.
        properties: registry names of the properties to compute (see :mod:`molvae.chem.properties`).
        max_length: molecules with more SELFIES symbols than this are rejected.
        smiles_column: column holding SMILES in CSV files (found by name when omitted).
        n_jobs: worker processes (default: all cores).
        use_cache: reuse and write the on-disk cache.
        progress: show a progress bar.

    Raises :class:`DataError` when the file is missing, of unknown format, or holds no usable
    molecule.
    """
    from molvae.chem.properties import resolve

    names = tuple(resolve(properties))
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"no such file: {path}")
    file_format(path)
    digest = file_hash(path)
    settings = json.dumps({"v": CACHE_VERSION, "p": names, "L": max_length, "col": smiles_column}, sort_keys=True)
    key = hashlib.sha256((digest + settings).encode()).hexdigest()[:24]
    cache_file = cache_dir("preprocessed") / f"{key}.npz"
    if use_cache and cache_file.is_file():
        try:
            data = _read_cache(cache_file, list(names))
            log.info("preprocessing cache hit: %s", cache_file)
            data.source_hash = digest
            return data
        except Exception as exc:  # a damaged cache is rebuilt, never trusted
            log.warning("ignoring unreadable cache %s (%s)", cache_file, exc)

    records = [(ln, smi, max_length, names) for ln, smi in iter_smiles(path, smiles_column)]
    if not records:
        raise DataError(f"{path.name}: the file holds no molecules")
    results = _run_pool(records, n_jobs, progress)

    kept_smiles: list[str] = []
    kept_symbols: list[list[str]] = []
    kept_values: list[list[float]] = []
    rejects: list[Reject] = []
    mixtures: list[tuple[int, str, str]] = []
    for lineno, raw, ok, reason in results:
        if ok is None:
            rejects.append(Reject(lineno, raw, reason))
        else:
            kept_smiles.append(ok[0])
            kept_symbols.append(ok[1])
            kept_values.append(ok[2])
            if "." in raw:
                mixtures.append((lineno, raw, ok[0]))
    if mixtures:
        line, raw, kept = mixtures[0]
        log.info(
            "%s: %d salts or mixtures: kept the largest fragment of each (line %d: %s -> %s)",
            path.name,
            len(mixtures),
            line,
            raw,
            kept,
        )
    if not kept_smiles:
        raise DataError(
            f"{path.name}: none of the {len(rejects)} molecules could be used (first reason: {rejects[0].reason})"
        )
    vocab = Vocabulary.build(kept_symbols)
    width = max(len(s) for s in kept_symbols)
    dtype = np.uint8 if len(vocab) < 256 else np.int16
    tokens = np.zeros((len(kept_symbols), width), dtype=dtype)
    for i, syms in enumerate(kept_symbols):
        tokens[i, : len(syms)] = vocab.encode(syms)
    data = MoleculeData(
        smiles=kept_smiles,
        tokens=tokens,
        lengths=np.array([len(s) for s in kept_symbols], dtype=np.int16),
        properties=np.asarray(kept_values, dtype=np.float32).reshape(len(kept_smiles), len(names)),
        property_names=list(names),
        vocab=vocab,
        rejects=rejects,
        source_hash=digest,
    )
    if use_cache:
        try:
            _write_cache(cache_file, data)
        except OSError as exc:
            log.warning("could not write preprocessing cache %s: %s", cache_file, exc)
    return data


def _run_pool(records: list, n_jobs: int | None, progress: bool) -> list:
    """:func:`_process_chunk` over chunks of records in worker processes (in this one when few)."""

    jobs = 1 if len(records) < SERIAL_BELOW else n_jobs
    parts = pmap(
        _process_chunk, list(_chunks(records, 2000)), jobs, progress, "preprocessing", serial_below=2, size=len
    )
    return [r for part in parts for r in part]


def _join(strings: Sequence[str]) -> np.ndarray:
    return np.frombuffer("\n".join(strings).encode("utf-8"), dtype=np.uint8)


def _split(arr: np.ndarray, n: int) -> list[str]:
    if n == 0:
        return []
    return arr.tobytes().decode("utf-8").split("\n")


def _write_cache(cache_file: Path, d: MoleculeData) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_suffix(".tmp.npz")
    np.savez(
        tmp,
        smiles=_join(d.smiles),
        tokens=d.tokens,
        lengths=d.lengths,
        properties=d.properties,
        vocab=_join(d.vocab.tokens),
        reject_lines=np.array([r.line for r in d.rejects], dtype=np.int64),
        reject_smiles=_join([r.smiles.replace("\n", " ") for r in d.rejects]),
        reject_reasons=_join([r.reason for r in d.rejects]),
    )
    os.replace(tmp, cache_file)


def _read_cache(cache_file: Path, names: list[str]) -> MoleculeData:
    with np.load(cache_file, allow_pickle=False) as z:
        n = len(z["lengths"])
        n_rej = len(z["reject_lines"])
        vocab = Vocabulary(_split(z["vocab"], 1))
        return MoleculeData(
            smiles=_split(z["smiles"], n),
            tokens=z["tokens"],
            lengths=z["lengths"],
            properties=z["properties"],
            property_names=names,
            vocab=vocab,
            rejects=[
                Reject(int(a), b, c)
                for a, b, c in zip(
                    z["reject_lines"], _split(z["reject_smiles"], n_rej), _split(z["reject_reasons"], n_rej)
                )
            ],
        )


def write_rejects(path: str | os.PathLike, rejects: Sequence[Reject]) -> None:
    """Write rejects as CSV with columns ``line,smiles,reason``."""

    write_table(path, ["line", "smiles", "reason"], [(r.line, r.smiles, r.reason) for r in rejects])


# --------------------------------------------------------------------------- batching


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train/validation split of ``range(n)``; validation gets at least 1 when n > 1."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_val = int(round(n * val_fraction))
    if val_fraction > 0 and n > 1:
        n_val = max(1, min(n_val, n - 1))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, bucket_batches: int = 50
) -> list[np.ndarray]:
    """Shuffled batches of positions into ``lengths`` whose members have similar lengths.

    Positions are shuffled, cut into pools of ``bucket_batches`` batches, sorted by length inside
    each pool, cut into batches, and the batches shuffled: little padding, still random.
    """
    order = rng.permutation(len(lengths))
    pool = batch_size * bucket_batches
    batches: list[np.ndarray] = []
    for start in range(0, len(order), pool):
        part = order[start : start + pool]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]
