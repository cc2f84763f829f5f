"""``molvae encode`` and ``interpolate`` with molecules whose stereo and charges the shipped model
has no tokens for: flattened with a note, or (--no-flatten) refused, and no .npy when nothing is encoded."""

from __future__ import annotations

import csv

import numpy as np
from click.testing import CliRunner

from molvae_cli.main import cli
from tests.nn.test_codec import FLAT_SITAGLIPTIN, NEOSTIGMINE, SITAGLIPTIN


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_encode_flattens_stereo_and_notes_it_in_the_index(tmp_path):
    out = tmp_path / "z.npy"
    res = run("encode", SITAGLIPTIN, "CCOc1ccccc1C(N)=O", "-o", out)
    assert res.exit_code == 0, res.output
    assert np.load(out).shape == (2, 48) and "1 without their stereo or charges" in res.output
    with open(tmp_path / "z.index.csv", newline="") as fh:
        index = list(csv.DictReader(fh))
    assert [r["flattened"] for r in index] == [FLAT_SITAGLIPTIN, ""]


def test_encode_that_encodes_nothing_writes_no_npy(tmp_path):
    out = tmp_path / "z.npy"
    res = run("encode", SITAGLIPTIN, "--no-flatten", "-o", out)
    assert res.exit_code == 1 and "no usable molecule" in res.output
    assert not out.exists() and not (tmp_path / "z.index.csv").exists()
    with open(tmp_path / "z.rejects.csv", newline="") as fh:
        (reject,) = csv.DictReader(fh)
    assert "[C@@H1]" in reject["reason"] and "--init pretrained" in reject["reason"]
    res = run("encode", NEOSTIGMINE, "-o", out)  # a quaternary ammonium has no neutral form
    assert res.exit_code == 1 and not out.exists()


def test_interpolate_between_stereo_molecules(tmp_path):
    res = run("interpolate", SITAGLIPTIN, "C[C@H](N)Cc1ccccc1", "--steps", 3)
    assert res.exit_code == 0, res.output
    assert len(res.stdout.strip().splitlines()) == 4  # header and 3 steps


def test_decode_takes_a_precision_and_refuses_an_unknown_one(tmp_path):
    z = tmp_path / "z.npy"
    np.save(z, np.zeros((2, 48), dtype=np.float32))
    out = tmp_path / "d.csv"
    res = run("decode", z, "--precision", "fp32", "-o", out)
    assert res.exit_code == 0, res.output
    assert len(out.read_text().splitlines()) == 3
    res = CliRunner().invoke(cli, ["decode", str(z), "--precision", "fp16"])
    assert res.exit_code == 2 and "fp16" in res.output
