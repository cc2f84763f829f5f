"""The one molecule-file reader: encodings, byte-order marks, line ends and the SMILES-column rule."""

from __future__ import annotations

import gzip
import logging

import pytest

from molvae.errors import FormatError
from molvae.io.readers import iter_smiles, read_smiles


def test_latin1_csv_is_read_with_a_warning(tmp_path, caplog):
    p = tmp_path / "latin1.csv"
    p.write_bytes("smiles,name\nCCO,éthanol\nc1ccccc1,benzène\n".encode("latin-1"))
    with caplog.at_level(logging.WARNING, logger="molvae.io.readers"):
        assert list(iter_smiles(p)) == [(2, "CCO"), (3, "c1ccccc1")]
    assert "Latin-1" in caplog.text


def test_utf8_bom_and_crlf_header_is_found(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes("\ufeffSMILES,name\r\nCCO,ethanol\r\nc1ccccc1,benzene\r\n".encode("utf-8"))
    assert list(iter_smiles(p)) == [(2, "CCO"), (3, "c1ccccc1")]
    assert list(iter_smiles(p, smiles_column="SMILES")) == [(2, "CCO"), (3, "c1ccccc1")]


def test_bom_in_gzipped_smi_and_tsv(tmp_path):
    smi = tmp_path / "m.smi.gz"
    smi.write_bytes(gzip.compress("\ufeffsmiles\r\nCCO\r\nCCN\r\n".encode()))
    assert read_smiles(smi) == ["CCO", "CCN"]
    tsv = tmp_path / "m.tsv"
    tsv.write_bytes("\ufeffid\tStructure\r\n1\tCCO\r\n".encode())
    assert read_smiles(tsv) == ["CCO"]


def test_no_silent_first_column_fallback(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text("name,canon\nethanol,CCO\n")
    with pytest.raises(FormatError, match="--smiles-column"):
        read_smiles(p)
    assert read_smiles(p, smiles_column="canon") == ["CCO"]
    with pytest.raises(FormatError, match="no column 'nope'"):
        read_smiles(p, smiles_column="nope")


def test_reference_statistics_use_the_same_reader(tmp_path):
    """metrics.reference once fell back to column 0 (here: the names) without saying so."""
    from molvae.evaluate.metrics.reference import _as_list

    p = tmp_path / "ref.csv"
    p.write_text("name,smiles\nethanol,CCO\n")
    assert _as_list(p) == ["CCO"]
    q = tmp_path / "ref2.csv"
    q.write_text("name,canon\nethanol,CCO\n")
    with pytest.raises(FormatError):
        _as_list(q)
