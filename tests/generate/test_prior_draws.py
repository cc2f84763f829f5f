"""Prior draws: with a condition, each molecule's latent point is the one of K prior draws whose
property-head prediction is nearest the request; without one, or with K = 1, plain prior draws."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner

from molvae import MolVAE
from molvae.errors import BadInputError
from molvae.generate.stream import GenerationRequest
from molvae_cli.main import cli


@pytest.fixture(scope="module")
def shipped():
    return MolVAE.pretrained(device="cpu")


def head_error(codec, z, cond):
    p = len(codec.property_names)
    with torch.no_grad():
        predicted = codec.model.property_head(z)
    return ((predicted - cond[:, :p]) ** 2 * cond[:, p:]).sum(1)


def test_more_draws_bring_the_head_prediction_to_the_request(shipped):
    codec = shipped.codec
    cond = codec.condition_tensor({"logp": 3.0, "qed": 0.8}, 500, warn=False)
    plain = codec.conditioned_prior_latents(500, cond, 1, codec.generator(0))
    assert torch.equal(plain, torch.randn((500, codec.latent_dim), generator=codec.generator(0)))
    chosen = codec.conditioned_prior_latents(500, cond, 16, codec.generator(0))
    assert chosen.shape == plain.shape
    assert head_error(codec, chosen, cond).mean() < 0.5 * head_error(codec, plain, cond).mean()
    free = codec.condition_tensor(None, 500)  # nothing requested: the draws change nothing
    assert torch.equal(codec.conditioned_prior_latents(500, free, 16, codec.generator(0)), plain)


def test_samples_follow_a_condition_more_closely_with_draws_and_unconditioned_ones_do_not_change(shipped):
    got = {
        k: [
            m.properties["logp"]
            for m in shipped.generate(300, condition={"logp": 4.0}, seed=1, prior_draws=k).molecules
        ]
        for k in (1, 16)
    }
    error = {k: sum(abs(v - 4.0) for v in vals) / len(vals) for k, vals in got.items()}
    assert error[16] < 0.9 * error[1]
    assert shipped.sample(50, seed=2, prior_draws=1) == shipped.sample(50, seed=2, prior_draws=16)


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "16"])
def test_bad_prior_draws_are_a_clear_error(bad):
    with pytest.raises(BadInputError, match="prior_draws must be a whole number >= 1"):
        GenerationRequest(10, prior_draws=bad)
    with pytest.raises(BadInputError, match="prior_draws must be a whole number >= 1"):
        MolVAE.pretrained(device="cpu").sample(5, prior_draws=bad)


def test_cli_prior_draws(tmp_path):
    res = CliRunner().invoke(cli, ["generate", "-n", "5", "--prior-draws", "0", "-o", str(tmp_path / "x.csv")])
    assert res.exit_code == 2 and "--prior-draws" in res.output
    out = tmp_path / "y.csv"
    res = CliRunner().invoke(
        cli, ["generate", "-n", "20", "-c", "qed=0.8", "--prior-draws", "4", "--seed", "0", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    rejects = tmp_path / "y.rejects.csv"  # a valence reject now and then (about 0.4 % of samples)
    rejected = len(rejects.read_text().splitlines()) - 1 if rejects.exists() else 0
    assert len(out.read_text().splitlines()) - 1 + rejected == 20 and rejected <= 2
