"""Streaming generation: molecules written as they come, counts that add up, bounded memory."""

import csv
import os
import signal

import numpy as np
import pytest

from molvae.chem.checks import ChemistryPool
from molvae.data.vocabulary import Vocabulary
from molvae.errors import UnknownPropertyError
from molvae.generate.scaffold import ScaffoldNotFoundError
from molvae.generate.stream import GenerationInterrupted
from molvae.io.writers import MoleculeWriter


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_pool_draws_work_lazily_and_keeps_order():
    vocab = Vocabulary(["<pad>", "<start>", "<end>", "[C]", "[O]", "[N]"])
    drawn = []

    def chunks():
        for i in range(12):
            drawn.append(i)
            yield np.array([[3] * (i + 1) + [2]], dtype=np.uint8)  # C, CC, CCC, ...

    with ChemistryPool(vocab, ["heavy_atoms"], n_jobs=2, max_pending=3) as pool:
        results = pool.imap(chunks())
        first = next(results)
        assert len(drawn) <= 4  # never more than max_pending chunks ahead of the consumer
        rest = list(results)
    assert [r.smiles[0] for r in [first, *rest]] == ["C" * (i + 1) for i in range(12)]
    assert [r.properties[0, 0] for r in [first, *rest]] == list(range(1, 13))


def test_generate_to_file_streams_and_matches_in_memory_generation(tiny_model, tmp_path):
    out = tmp_path / "gen.csv"
    res = tiny_model.generate_to_file(out, 300, condition={"logp": 2.0}, seed=5, batch_size=64, n_jobs=2)
    rows = read_csv(out)
    rejects = read_csv(res.rejects_path) if res.rejects_path.exists() else []
    assert res.n_sampled == 300 == len(rows) + len(rejects) == res.n_written + res.n_invalid
    assert res.n_novel == sum(r["novel"] == "1" for r in rows)
    assert [m.smiles for m in res.first] == [r["smiles"] for r in rows[:24]]
    text = repr(res)  # print(model.generate_to_file(...)) shows the counts, not 24 full records
    assert "\n" not in text and len(text) < 300 and "Checked(" not in text
    assert f"n_written={res.n_written}" in text and str(out) in text

    mem = tiny_model.generate(300, condition={"logp": 2.0}, seed=5, batch_size=64, n_jobs=1)
    assert [m.smiles for m in mem.molecules] == [r["smiles"] for r in rows]  # same seed: same molecules, any n_jobs
    assert [float(r["logp"]) for r in rows] == [round(m.properties["logp"], 4) for m in mem.molecules]
    assert mem.novel == [r["novel"] == "1" for r in rows]


def test_generate_iter_unique_accounts_for_every_sample(tiny_model):
    chunks = list(tiny_model.generate_iter(400, seed=1, unique=True, batch_size=100, n_jobs=2))
    assert len(chunks) > 1
    kept = [m.smiles for c in chunks for m in c.molecules]
    n_sampled = sum(c.n_sampled for c in chunks)
    assert n_sampled == len(kept) + sum(len(c.invalid) for c in chunks) + sum(c.n_duplicates for c in chunks)
    assert len(kept) == len(set(kept))
    assert len(kept) == 400 or n_sampled == 20 * 400


def _ctrl_c_on_first_write(monkeypatch):
    """Send this process SIGINT while the first chunk is being written, as Ctrl-C would."""
    real_write = MoleculeWriter.write

    def write_then_ctrl_c(self, rows):
        n = real_write(self, rows)
        if self.n == n:  # the first chunk
            os.kill(os.getpid(), signal.SIGINT)
        return n

    monkeypatch.setattr(MoleculeWriter, "write", write_then_ctrl_c)


def test_interrupted_generate_to_file_keeps_the_rows_written_and_says_so(tiny_model, tmp_path, monkeypatch):
    before = signal.getsignal(signal.SIGINT)
    _ctrl_c_on_first_write(monkeypatch)
    out = tmp_path / "big.csv"
    with pytest.raises(GenerationInterrupted, match=r"interrupted by SIGINT after \d+ samples") as info:
        tiny_model.generate_to_file(out, 200_000, seed=0, batch_size=256, n_jobs=2)
    assert info.value.exit_code == 130
    res = info.value.summary
    rows = read_csv(out)
    assert 0 < len(rows) == res.n_written and res.n_sampled < 200_000  # stopped after the chunk it was writing
    assert res.n_sampled == res.n_written + res.n_invalid
    assert f"{out} holds the {res.n_written} molecules" in str(info.value)
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored


def test_failed_generation_leaves_no_output_file(tiny_model, tmp_path):
    out = tmp_path / "core.csv"
    with pytest.raises(ScaffoldNotFoundError):
        tiny_model.generate_to_file(out, 5, scaffold="C[Si](C)(C)C", max_samples=64, seed=0)
    assert not out.exists()  # not even a header
    out.write_text("the user's file\n")  # a request that fails before any sampling leaves a file alone
    with pytest.raises(UnknownPropertyError, match="not conditioned on 'potency'"):
        tiny_model.generate_to_file(out, 5, condition={"potency": 1.0})
    assert out.read_text() == "the user's file\n"
