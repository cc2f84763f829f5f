"""Files molvae writes: line ends and formats a user's line tools rely on."""

from __future__ import annotations

import pytest

from molvae.io.writers import TableWriter, write_molecules, write_table
from molvae.train.runs import write_history


@pytest.mark.parametrize("name", ["out.csv", "out.tsv", "out.smi"])
def test_molecule_files_end_lines_with_lf(tmp_path, name):
    path = tmp_path / name
    write_molecules(path, [{"smiles": "CCO", "novel": True}, {"smiles": "c1ccccc1O", "novel": False}], ["novel"])
    data = path.read_bytes()
    assert b"\r" not in data
    assert data.count(b"\n") == (2 if name.endswith(".smi") else 3)


def test_a_last_column_can_be_matched_exactly(tmp_path):
    """awk -F, '$NF=="1"' finds the novel rows: no carriage return sticks to the last field."""
    path = tmp_path / "out.csv"
    write_molecules(path, [{"smiles": "CCO", "novel": True}, {"smiles": "CCN", "novel": False}], ["novel"])
    last = [line.split(",")[-1] for line in path.read_bytes().decode().split("\n")[1:] if line]
    assert last == ["1", "0"]


def test_tables_end_lines_with_lf(tmp_path):
    write_table(tmp_path / "a.csv", ["line", "reason"], [(1, "bad"), (2, "worse")])
    with TableWriter(tmp_path / "b.csv", ["selfies", "reason"]) as w:
        w.write([("[C]", "bad")])
    write_history(tmp_path, [{"epoch": 1, "train_loss": 1.5}])
    for name in ("a.csv", "b.csv", "history.csv"):
        assert b"\r" not in (tmp_path / name).read_bytes(), name
