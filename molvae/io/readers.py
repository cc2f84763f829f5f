"""Reading molecule files: the one SMILES reader every command and the metrics use.

Formats, chosen by the file name (optionally ``.gz``): ``.smi``/``.smiles``/``.txt`` (SMILES is the
first whitespace-separated field; an optional header line ``smiles``), ``.csv``/``.tsv`` and
``.sdf``/``.sd``/``.mol``.

The rules, the same everywhere:

* **SMILES column** of a CSV/TSV: the column named by ``smiles_column`` (exact name, else the same
  name in any case); without it, the first column whose header is one of
  :data:`SMILES_COLUMN_NAMES` (any case). Anything else is a :class:`~molvae.errors.FormatError`
  naming the columns. There is no silent "first column" fallback: a wrong column would be read
  as thousands of invalid molecules.
* **Text encoding**: UTF-8, with or without a byte-order mark (the BOM is removed, so the first
  header is ``SMILES``, not ``\\ufeffSMILES``). Bytes that are not UTF-8 (a file saved in
  Latin-1/Windows-1252 with an accented name column, say) are read as Latin-1, and a warning says
  so once per file; SMILES themselves are ASCII, so they are never affected.
* **Line ends**: LF, CRLF or CR.
* Line numbers are 1-based lines of the file (for SDF: 1-based record numbers), so that rejects
  can point at the line a user must fix.

>>> from molvae.io.readers import iter_smiles
>>> list(iter_smiles("mols.csv", smiles_column="SMILES"))   # doctest: +SKIP
[(2, 'CCO'), (3, 'c1ccccc1')]
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import logging
import os
import unicodedata
from collections.abc import Iterator, Sequence
from pathlib import Path

from molvae.errors import DataError, FormatError, MissingFileError

log = logging.getLogger(__name__)

#: Header names recognised as the SMILES column (compared in lower case).
SMILES_COLUMN_NAMES = ("smiles", "canonical_smiles", "smi", "mol", "molecule", "structure")
SMILES_SUFFIXES = (".smi", ".smiles", ".txt")
CSV_SUFFIXES = (".csv", ".tsv")
SDF_SUFFIXES = (".sdf", ".sd", ".mol")

_FALLBACK = "molvae-latin1"


class _Latin1Fallback:
    """Codec error handler: decode bytes that are not UTF-8 as Latin-1 and remember it happened."""

    used = False

    def __call__(self, exc: UnicodeError) -> tuple[str, int]:
        if not isinstance(exc, UnicodeDecodeError):
            raise exc
        type(self).used = True
        return exc.object[exc.start : exc.end].decode("latin-1"), exc.end


codecs.register_error(_FALLBACK, _Latin1Fallback())


def file_format(path: str | os.PathLike) -> str:
    """``smi``, ``csv`` or ``sdf`` from a file name; raises :class:`FormatError` otherwise."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    suffix = os.path.splitext(name)[1]
    if suffix in SMILES_SUFFIXES:
        return "smi"
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in SDF_SUFFIXES:
        return "sdf"
    raise FormatError(f"unknown file format {Path(path).name!r}: use .smi, .csv, .tsv or .sdf (optionally .gz)")


def open_text(path: str | os.PathLike) -> io.TextIOWrapper:
    """A text stream of a (possibly gzipped) file: UTF-8 with the BOM removed, Latin-1 for other bytes.

    ``newline=""`` keeps CRLF for the csv module, which handles it; iterate lines with
    :func:`iter_smiles` rather than by hand.
    """
    path = Path(path)
    raw = gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors=_FALLBACK, newline="")


def find_smiles_column(header: Sequence[str], wanted: str | None, name: str) -> int:
    """Position of the SMILES column in ``header`` (see the module docstring for the rule)."""
    cells = [h.strip() for h in header]
    lowered = [h.lower() for h in cells]
    if wanted is not None:
        if wanted.strip() in cells:
            return cells.index(wanted.strip())
        if wanted.strip().lower() in lowered:
            return lowered.index(wanted.strip().lower())
        raise FormatError(f"{name}: no column {wanted!r}; the columns are {', '.join(cells)}")
    for i, h in enumerate(lowered):
        if h in SMILES_COLUMN_NAMES:
            return i
    raise FormatError(
        f"{name}: no SMILES column found among {', '.join(cells)}; name it with --smiles-column "
        f"(or call the column one of {', '.join(SMILES_COLUMN_NAMES)})"
    )


def iter_smiles(path: str | os.PathLike, smiles_column: str | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, smiles)`` for every record of a molecule file, in file order.

    Records RDKit cannot read from an SDF, and CSV rows without the SMILES field, are yielded
    with an empty SMILES so that they are counted and rejected, never silently lost. Blank lines
    are not records. Raises :class:`~molvae.errors.DataError` subclasses for a missing file, an
    unknown format or a missing SMILES column.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"no such file: {path}")
    fmt = file_format(path)
    if fmt == "sdf":
        yield from _iter_sdf(path)
        return
    _Latin1Fallback.used = False
    with open_text(path) as fh:
        if fmt == "smi":
            for lineno, line in enumerate(fh, start=1):
                fields = line.split()
                if not fields:
                    continue  # blank line: not a record
                if lineno == 1 and fields[0].lower() in SMILES_COLUMN_NAMES:
                    continue  # header line
                yield lineno, fields[0]
        else:
            delimiter = "\t" if ".tsv" in path.name.lower() else ","
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            if header is not None:
                col = find_smiles_column(header, smiles_column, path.name)
                for row in reader:
                    if not row or all(not c.strip() for c in row):
                        continue
                    yield reader.line_num, row[col].strip() if col < len(row) else ""
    if _Latin1Fallback.used:
        log.warning("%s is not valid UTF-8: its non-UTF-8 bytes were read as Latin-1", path.name)


def _iter_sdf(path: Path) -> Iterator[tuple[int, str]]:
    from rdkit import Chem

    from molvae.chem.molecules import quiet_rdkit

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh, quiet_rdkit():
        for i, mol in enumerate(Chem.ForwardSDMolSupplier(fh), start=1):
            yield i, (Chem.MolToSmiles(mol) if mol is not None else "")


def read_records(
    path: str | os.PathLike, smiles_column: str | None = None, allow_empty: bool = False
) -> list[tuple[int, str]]:
    """All ``(line_number, smiles)`` records of a molecule file, in order (see :func:`iter_smiles`).

    Raises :class:`~molvae.errors.DataError` when the file cannot be read, or holds no molecule
    (unless ``allow_empty``).
    """
    try:
        records = list(iter_smiles(path, smiles_column))
    except (OSError, csv.Error) as exc:
        raise DataError(f"cannot read SMILES from {path}: {exc}") from exc
    if not records and not allow_empty:
        raise DataError(f"{path} holds no molecules")
    return records


def read_smiles(path: str | os.PathLike, smiles_column: str | None = None, allow_empty: bool = False) -> list[str]:
    """All SMILES of a molecule file, in order (see :func:`read_records`, whose errors it raises)."""
    return [s for _, s in read_records(path, smiles_column, allow_empty)]


def control_characters(text: str) -> str:
    """Why ``text`` cannot be a SMILES because of the characters it holds; ``""`` when it can.

    Control characters (a NUL byte, an escape, a tab inside a CSV cell: RDKit would read only the
    part before one) and characters outside ASCII, which SMILES never uses: RDKit drops some of
    them silently (it reads ``"Cé"``, from a Latin-1 file, as methane).

    >>> control_characters("CCO\\x00"), control_characters("CCO")
    ('control character U+0000 in the SMILES', '')
    >>> control_characters("Cé")
    "non-ASCII character 'é' (U+00E9) in the SMILES"
    """
    found = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) == "Cc"})
    if found:
        return f"control character{'s' if len(found) > 1 else ''} {', '.join(found)} in the SMILES"
    other = sorted({c for c in text if not c.isascii()})
    if other:
        named = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in other)
        return f"non-ASCII character{'s' if len(other) > 1 else ''} {named} in the SMILES"
    return ""


def file_hash(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes (hex): the identity of a data file in caches and checkpoints."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
