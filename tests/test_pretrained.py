"""The model that ships inside the package: present, small, loadable, and the CLI default."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from click.testing import CliRunner

from molvae import MolVAE
from molvae.chem.molecules import canonical_smiles, mol_from_smiles
from molvae.errors import CheckpointError
from molvae.nn.checkpoint import PRETRAINED_NAME, pretrained_path
from molvae_cli.main import cli

REQUIRED = {"logp", "qed", "sa", "mw", "tpsa"}


@pytest.fixture(scope="module")
def shipped():
    return MolVAE.pretrained(device="cpu")


def test_shipped_model_is_package_data_within_the_size_limit():
    path = pretrained_path()
    assert path.name == f"{PRETRAINED_NAME}.ckpt"
    assert path.stat().st_size <= 25 * 1024 * 1024
    assert (path.parent / "MODEL_CARD.md").is_file()


def test_shipped_model_knows_the_documented_properties_and_moses_novelty(shipped):
    assert REQUIRED <= set(shipped.property_names)
    assert len(shipped.codec.train_hashes) > 1_500_000  # novelty against the whole MOSES training set
    first_train_row = canonical_smiles("CCCS(=O)c1ccc2[nH]c(=NC(=O)OC)[nH]c2c1")
    assert shipped.is_novel([first_train_row, "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCO"]) == [False, True]


def test_shipped_model_samples_valid_molecules_at_a_requested_property(shipped):
    smiles = shipped.sample(64, condition={"qed": 0.9}, seed=0)
    assert all(s is not None and mol_from_smiles(s) is not None for s in smiles)
    assert len(set(smiles)) > 60


def test_unknown_shipped_model_names_what_ships():
    with pytest.raises(CheckpointError, match=PRETRAINED_NAME):
        pretrained_path("no-such-model")


def test_generate_uses_the_shipped_model_by_default(tmp_path):
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(cli, ["generate", "-n", "20", "--condition", "qed=0.9", "--seed", "1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) >= 18 and REQUIRED <= set(rows[0])  # validity is about 0.99: a sample may be rejected
    assert f"sampled 20: wrote {len(rows)} valid molecules" in res.output


def test_condition_control_moves_the_measured_property_the_requested_way(shipped):
    from molvae.evaluate.diagnostics import condition_control

    c = condition_control(shipped.codec, n_per_value=60, n_values=3, seed=0, properties=["logp"])["logp"]
    low, mid, high = c["measured_mean"]
    assert low < mid < high
    assert high - low > 0.5 * (c["requested"][-1] - c["requested"][0])  # most of the requested span


def test_samples_around_a_seed_are_closer_to_it_than_prior_samples(shipped):
    from molvae.chem.molecules import tanimoto

    seed = "COc1ccc(CCNC(=O)c2ccc(Cl)cc2)cc1"  # inside the training ranges of mw, tpsa, ...
    near = [m.smiles for m in shipped.generate(60, around=seed, radius=0.3, seed=1).molecules]
    prior = [m.smiles for m in shipped.generate(60, seed=1).molecules]
    sim_near = np.mean([tanimoto(seed, s) for s in near])
    sim_prior = np.mean([tanimoto(seed, s) for s in prior])
    assert sim_near > sim_prior + 0.15, (sim_near, sim_prior)
