import gzip

import numpy as np
import pytest

from molvae.data import dataset as data_mod
from molvae.data.dataset import bucketed_batches, iter_smiles, load_molecules, split_indices
from molvae.errors import DataError, FormatError, MissingFileError
from tests.conftest import moses

BAD = ["C1CC", "not_a_smiles", ""]


def write_csv(path, rows, header="id,SMILES,activity"):
    path.write_text(header + "\n" + "\n".join(f"{i},{s},{i * 0.1}" for i, s in enumerate(rows)) + "\n")


def test_smi_with_rejects_and_counts(tmp_path):
    good = moses(30)
    lines = good[:10] + ["C1CC"] + good[10:20] + ["xyz"] + good[20:]
    p = tmp_path / "m.smi"
    p.write_text("\n".join(f"{s} name{i}" for i, s in enumerate(lines)) + "\n")
    d = load_molecules(p, ["logp", "qed"], n_jobs=1)
    assert d.n_read == 32 and d.n_kept == 30 and d.n_rejected == 2
    assert [r.line for r in d.rejects] == [11, 22]
    assert "invalid SMILES" in d.rejects[0].reason
    assert d.properties.shape == (30, 2) and d.tokens.shape[0] == 30
    assert d.vocab.tokens[:3] == ["<pad>", "<start>", "<end>"]


def test_csv_gz_column_by_name_and_by_option(tmp_path):
    rows = moses(20)
    p = tmp_path / "m.csv"
    write_csv(p, rows)
    gz = tmp_path / "m.csv.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    a = load_molecules(gz, ["logp"], n_jobs=1)
    assert a.n_kept == 20
    q = tmp_path / "other.csv"
    write_csv(q, rows, header="id,structure_text,activity")
    with pytest.raises(FormatError, match="--smiles-column"):
        load_molecules(q, ["logp"], n_jobs=1)
    b = load_molecules(q, ["logp"], smiles_column="structure_text", n_jobs=1)
    assert b.smiles == a.smiles
    with pytest.raises(FormatError, match="no column 'nope'"):
        load_molecules(q, ["logp"], smiles_column="nope", n_jobs=1)


def test_sdf_records_counted_even_when_broken(tmp_path):
    from rdkit import Chem

    p = tmp_path / "m.sdf"
    w = Chem.SDWriter(str(p))
    for s in moses(5):
        w.write(Chem.MolFromSmiles(s))
    w.close()
    text = p.read_text() + "garbage\nM  END\n$$$$\n"
    p.write_text(text)
    d = load_molecules(p, ["qed"], n_jobs=1)
    assert d.n_kept == 5 and d.n_read == 6 and d.rejects[0].line == 6


def test_length_limit_rejects(tmp_path):
    p = tmp_path / "m.smi"
    p.write_text("CCO\n" + "C" * 60 + "\n")
    d = load_molecules(p, ["logp"], max_length=20, n_jobs=1)
    assert d.n_kept == 1 and "more than max_length 20" in d.rejects[0].reason


def test_bad_files(tmp_path):
    with pytest.raises(MissingFileError):
        load_molecules(tmp_path / "none.smi", ["logp"])
    (tmp_path / "x.xyz").write_text("CCO\n")
    with pytest.raises(FormatError, match="unknown file format"):
        load_molecules(tmp_path / "x.xyz", ["logp"])
    (tmp_path / "empty.smi").write_text("")
    with pytest.raises(DataError, match="holds no molecules"):
        load_molecules(tmp_path / "empty.smi", ["logp"])
    (tmp_path / "bad.smi").write_text("\n".join(BAD[:2]) + "\n")
    with pytest.raises(DataError, match="none of the 2 molecules"):
        load_molecules(tmp_path / "bad.smi", ["logp"])


def test_second_run_uses_the_cache(tmp_path, monkeypatch):
    p = tmp_path / "m.smi"
    p.write_text("\n".join(moses(40)) + "\nC1CC\n")
    first = load_molecules(p, ["logp", "sa"], n_jobs=1)

    def no_rdkit(*a, **k):
        raise AssertionError("RDKit work on a cache hit")

    monkeypatch.setattr(data_mod, "_process_chunk", no_rdkit)
    second = load_molecules(p, ["logp", "sa"], n_jobs=1)
    assert second.smiles == first.smiles and second.rejects == first.rejects
    assert np.array_equal(second.tokens, first.tokens) and np.array_equal(second.properties, first.properties)
    with pytest.raises(AssertionError, match="cache hit"):  # other settings: a new key
        load_molecules(p, ["logp"], n_jobs=1)


def test_process_pool_matches_serial(tmp_path, monkeypatch):
    p = tmp_path / "m.smi"
    p.write_text("\n".join(moses(60)) + "\nC1CC\n")
    monkeypatch.setattr(data_mod, "SERIAL_BELOW", 10)
    pooled = load_molecules(p, ["logp"], n_jobs=2, use_cache=False)
    serial = load_molecules(p, ["logp"], n_jobs=1, use_cache=False)
    assert pooled.smiles == serial.smiles and pooled.rejects == serial.rejects


def test_iter_smiles_skips_header_and_blank_lines(tmp_path):
    p = tmp_path / "m.smi"
    p.write_text("smiles\nCCO\n\nc1ccccc1 benzene\n")
    assert list(iter_smiles(p)) == [(2, "CCO"), (4, "c1ccccc1")]


def test_split_and_buckets_are_deterministic_and_complete():
    tr, va = split_indices(100, 0.1, seed=1)
    assert len(va) == 10 and len(set(tr) | set(va)) == 100
    assert np.array_equal(split_indices(100, 0.1, seed=1)[1], va)
    lengths = np.random.default_rng(0).integers(5, 50, 1000)
    batches = bucketed_batches(lengths, 32, np.random.default_rng(3))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert spread < 10  # bucketing keeps lengths within a batch close (random batches: ~40)


def test_salts_become_their_largest_fragment_and_lone_ions_and_control_characters_are_rejected(tmp_path, caplog):
    good = moses(6)
    rows = [
        good[0],
        "CC(=O)Nc1ccc(O)cc1.Cl",  # a hydrochloride
        "CC(=O)[O-].[Na+]",  # sodium acetate
        "[Na+]",  # a lone ion
        "[Na+].[Cl-]",  # a salt of lone ions
        good[1] + "\x00",  # a NUL byte RDKit would cut off
        "CC\x1bO",  # an escape character
        *good[2:],
    ]
    p = tmp_path / "m.csv"
    p.write_bytes(("smiles\n" + "\n".join(rows) + "\n").encode())
    caplog.set_level("INFO", logger="molvae.data.dataset")
    d = load_molecules(p, ["logp"], n_jobs=1)
    assert d.n_read == len(rows) == d.n_kept + d.n_rejected
    assert "CC(=O)Nc1ccc(O)cc1" in d.smiles and "CC(=O)[O-]" in d.smiles
    assert not any("." in s for s in d.smiles)
    assert [(r.line, r.reason) for r in d.rejects] == [
        (5, "a lone ion ([Na+]), not a molecule"),
        (6, "a lone ion ([Cl-]), not a molecule"),
        (7, "control character U+0000 in the SMILES"),
        (8, "control character U+001B in the SMILES"),
    ]
    assert "2 salts or mixtures: kept the largest fragment of each (line 3: CC(=O)Nc1ccc(O)cc1.Cl" in caplog.text
    data_mod.write_rejects(tmp_path / "rejects.csv", d.rejects)
    written = (tmp_path / "rejects.csv").read_bytes()
    assert b"\x00" not in written and b"\x1b" not in written and b"\\x00" in written  # shown, not passed on
