"""Scaffold-constrained generation through the API and the command line, with the shipped model."""

from __future__ import annotations

import csv
import re

import pytest
from click.testing import CliRunner

from molvae import MolVAE
from molvae.errors import BadInputError
from molvae.generate.scaffold import Scaffold, ScaffoldNotFoundError
from molvae_cli.main import cli

BENZAMIDE = "O=C(N)c1ccccc1"


@pytest.fixture(scope="module")
def shipped():
    return MolVAE.pretrained(device="cpu")


def test_scaffold_matches_smiles_and_smarts_cores():
    assert Scaffold("c1ccccc1").matches("Cc1ccccc1O")
    assert not Scaffold("c1ccccc1").matches("C1CCCCC1")
    amide = Scaffold("[CX3](=O)[NX3]")  # SMARTS only
    assert amide.smiles is None and amide.matches("CC(=O)NC") and not amide.matches("CC(=O)OC")
    with pytest.raises(BadInputError, match="neither a valid SMILES nor a valid SMARTS"):
        Scaffold("c1ccc(")


def test_generate_with_scaffold_keeps_only_the_core_and_accounts_for_every_sample(shipped):
    gen = shipped.generate(20, scaffold=BENZAMIDE, unique=True, seed=0)
    core = Scaffold(BENZAMIDE)
    assert len(gen.molecules) == 20 and len(gen.novel) == 20
    assert all(core.matches(m.smiles) for m in gen.molecules)
    assert len({m.smiles for m in gen.molecules}) == 20
    assert gen.n_sampled == len(gen.molecules) + len(gen.invalid) + gen.n_duplicates + gen.n_without_scaffold
    assert set(gen.molecules[0].properties) == set(shipped.property_names)


def test_scaffold_search_beats_prior_sampling_at_keeping_the_core(shipped):
    core = Scaffold("c1ccc(cc1)N1CCNCC1")
    prior = shipped.sample(400, seed=1)
    prior_share = sum(core.matches(s) for s in prior if s) / 400
    gen = shipped.generate(10, scaffold=core.text, seed=1, max_samples=400)
    assert len(gen.molecules) / gen.n_sampled > prior_share


def test_unsatisfiable_scaffold_is_a_clear_error(shipped):
    with pytest.raises(ScaffoldNotFoundError, match=r"no molecule containing the scaffold .* in 200 samples"):
        shipped.generate(5, scaffold="C[Si](C)(C)C", max_samples=200, seed=0)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_cli_scaffold_writes_only_molecules_with_the_core(tmp_path):
    out = tmp_path / "core.csv"
    res = run("generate", "-n", 15, "--unique", "--scaffold", BENZAMIDE, "--seed", 2, "-o", out)
    assert res.exit_code == 0, res.output
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 15 and all(Scaffold(BENZAMIDE).matches(r["smiles"]) for r in rows)
    m = re.search(
        r"sampled (\d+): wrote 15 molecules with the scaffold .*?, (\d+) valid without it, (\d+) invalid.*?"
        r"(\d+) duplicates",
        res.output,
    )
    assert m, res.output
    sampled, without, invalid, dups = map(int, m.groups())
    assert sampled == 15 + without + invalid + dups


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--scaffold", "C[Si](C)(C)C", "--max-samples", 100], 1, "no molecule containing the scaffold"),
        (["--scaffold", "c1ccc("], 2, "neither a valid SMILES nor a valid SMARTS"),
        (["--scaffold-seed", "c1ccccc1"], 2, "--scaffold-seed needs --scaffold"),
    ],
)
def test_cli_scaffold_errors(tmp_path, args, code, message):
    res = run("generate", "-n", 5, "--seed", 0, *args, "-o", tmp_path / "x.csv")
    assert res.exit_code == code and message in res.output
    assert not (tmp_path / "x.csv").exists()  # a failure leaves no output file, not even a header
