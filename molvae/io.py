"""Writing molecules and tables: .csv, .tsv, .smi and .sdf chosen by the file name."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from molvae.errors import FormatError

OUTPUT_SUFFIXES = (".csv", ".tsv", ".smi", ".sdf")


def output_format(path: str | os.PathLike) -> str:
    """``csv``, ``tsv``, ``smi`` or ``sdf``; raises :class:`FormatError` for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise FormatError(f"unknown output format {Path(path).name!r}: use {', '.join(OUTPUT_SUFFIXES)}")
    return suffix[1:]


def _fmt(v: Any) -> Any:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4f}"
    if isinstance(v, bool):
        return int(v)
    return v


def write_molecules(path: str | os.PathLike, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> int:
    """Write rows (each with a ``smiles`` key and the named ``columns``) and return how many.

    .csv/.tsv get a header; .smi gets ``SMILES<space>name`` lines with no properties; .sdf gets
    RDKit molecules with every column as an SD property.
    """
    fmt = output_format(path)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("csv", "tsv"):
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, delimiter="," if fmt == "csv" else "\t")
            w.writerow(["smiles", *columns])
            for r in rows:
                w.writerow([r["smiles"], *(_fmt(r.get(c)) for c in columns)])
    elif fmt == "smi":
        with open(path, "w", encoding="utf-8") as fh:
            for i, r in enumerate(rows, start=1):
                fh.write(f"{r['smiles']} mol{i}\n")
    else:
        from rdkit import Chem

        from molvae.chem import mol_from_smiles

        writer = Chem.SDWriter(str(path))
        try:
            for i, r in enumerate(rows, start=1):
                mol = mol_from_smiles(r["smiles"])
                if mol is None:  # rows handed in are checked molecules; be safe anyway
                    continue
                mol.SetProp("_Name", f"mol{i}")
                for c in columns:
                    mol.SetProp(c, str(_fmt(r.get(c))))
                writer.write(mol)
        finally:
            writer.close()
    return len(rows)


def write_table(path: str | os.PathLike, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Plain CSV table (used for rejects and logs)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([_fmt(v) for v in r])


def sibling(path: str | os.PathLike, tag: str, suffix: str = ".csv") -> Path:
    """``out.csv`` → ``out.<tag>.csv``: a file that belongs next to an output."""
    p = Path(path)
    return p.with_name(f"{p.stem}.{tag}{suffix}")
