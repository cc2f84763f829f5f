"""Writing molecules and tables: .csv, .tsv, .smi and .sdf chosen by the file name.

Text files end their lines with LF (``\\n``) on every system, so that line tools (awk, grep, cut)
see no stray carriage return; the csv module's own default would be CRLF.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from molvae.errors import FormatError

OUTPUT_SUFFIXES = (".csv", ".tsv", ".smi", ".sdf")


def output_format(path: str | os.PathLike) -> str:
    """``csv``, ``tsv``, ``smi`` or ``sdf``; raises :class:`FormatError` for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise FormatError(f"unknown output format {Path(path).name!r}: use {', '.join(OUTPUT_SUFFIXES)}")
    return suffix[1:]


def format_cell(v: Any) -> Any:
    """How every table molvae writes shows a value: floats with 4 decimals ('' for NaN), booleans as
    1/0, text with control characters escaped (a NUL byte as ``\\x00``).

    >>> format_cell(0.123456), format_cell(True), format_cell(float("nan")), format_cell("CCO")
    ('0.1235', 1, '', 'CCO')
    """
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4f}"
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, str) and not v.isprintable():  # a NUL byte or another control character from an input line
        return v.encode("unicode_escape").decode("ascii")
    return v


class MoleculeWriter:
    """Write molecules row by row to .csv/.tsv/.smi/.sdf, chosen by the file name.

    Rows are dicts with a ``smiles`` key and the named ``columns``. .csv/.tsv get a header; .smi
    gets ``SMILES<space>name`` lines with no properties; .sdf gets RDKit molecules with every column
    as an SD property. Nothing is held in memory: use it to stream millions of molecules.

    >>> with MoleculeWriter("out.csv", ["logp"]) as w:        # doctest: +SKIP
    ...     w.write([{"smiles": "CCO", "logp": -0.0014}])
    """

    def __init__(self, path: str | os.PathLike, columns: Sequence[str]):
        self.fmt = output_format(path)
        self.path = Path(path)
        self.columns = list(columns)
        self.n = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.fmt == "sdf":
            from rdkit import Chem

            self._sdf = Chem.SDWriter(str(self.path))
        else:
            self._fh = open(self.path, "w", newline="", encoding="utf-8")
            if self.fmt in ("csv", "tsv"):
                self._csv = csv.writer(self._fh, delimiter="," if self.fmt == "csv" else "\t", lineterminator="\n")
                self._csv.writerow(["smiles", *self.columns])

    def write(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Append rows; return how many were written."""
        before = self.n
        if self.fmt in ("csv", "tsv"):
            cols = self.columns
            for r in rows:
                self._csv.writerow([r["smiles"], *(format_cell(r.get(c)) for c in cols)])
                self.n += 1
        elif self.fmt == "smi":
            for r in rows:
                self.n += 1
                self._fh.write(f"{r['smiles']} mol{self.n}\n")
        else:
            from molvae.chem.molecules import mol_from_smiles

            for r in rows:
                mol = mol_from_smiles(r["smiles"])
                if mol is None:  # rows handed in are checked molecules; be safe anyway
                    continue
                self.n += 1
                mol.SetProp("_Name", f"mol{self.n}")
                for c in self.columns:
                    mol.SetProp(c, str(format_cell(r.get(c))))
                self._sdf.write(mol)
        return self.n - before

    def close(self) -> None:
        if self.fmt == "sdf":
            self._sdf.close()
        else:
            self._fh.close()

    def __enter__(self) -> MoleculeWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_molecules(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> int:
    """Write rows (each with a ``smiles`` key and the named ``columns``) and return how many.

    See :class:`MoleculeWriter` for the formats.
    """
    with MoleculeWriter(path, columns) as w:
        return w.write(rows)


class TableWriter:
    """A CSV table written row by row, created only when the first row arrives (e.g. rejects)."""

    def __init__(self, path: str | os.PathLike, header: Sequence[str]):
        self.path = Path(path)
        self.header = list(header)
        self.n = 0
        self._fh: Any = None

    def write(self, rows: Iterable[Sequence[Any]]) -> None:
        for r in rows:
            if self._fh is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(self.path, "w", newline="", encoding="utf-8")
                self._csv = csv.writer(self._fh, lineterminator="\n")
                self._csv.writerow(self.header)
            self._csv.writerow([format_cell(v) for v in r])
            self.n += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_table(path: str | os.PathLike, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Plain CSV table (used for rejects and logs)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow([format_cell(v) for v in r])


def sibling(path: str | os.PathLike, tag: str, suffix: str = ".csv") -> Path:
    """``out.csv`` → ``out.<tag>.csv``: a file that belongs next to an output."""
    p = Path(path)
    return p.with_name(f"{p.stem}.{tag}{suffix}")
