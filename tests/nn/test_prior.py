"""The latent prior fitted to the aggregate posterior (issue 23 item 2): the fit, the draws, the
checkpoint, and every place a model samples from its prior."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molvae import MolVAE
from molvae.errors import BadInputError, CheckpointError
from molvae.nn import checkpoint
from molvae.nn.prior import LatentPrior
from molvae.train.prior import aggregate_posterior_draws, fit_prior
from tests.conftest import moses


def test_one_gaussian_fit_is_the_sample_mean_and_covariance():
    rng = np.random.default_rng(0)
    cov = np.array([[2.0, 0.8, 0.0], [0.8, 1.0, -0.3], [0.0, -0.3, 0.5]])
    z = rng.multivariate_normal([1.0, -2.0, 0.5], cov, size=20000)
    prior = LatentPrior.fit(z, components=1)
    assert prior.components == 1 and prior.dim == 3
    np.testing.assert_allclose(prior.means[0], z.mean(0), atol=1e-9)
    np.testing.assert_allclose(prior.scales[0] @ prior.scales[0].T, np.cov(z.T, bias=True), atol=2e-4)
    # its density is the Gaussian's
    from scipy.stats import multivariate_normal

    ref = multivariate_normal(prior.means[0], prior.scales[0] @ prior.scales[0].T).logpdf(z[:50])
    np.testing.assert_allclose(prior.log_density(z[:50]), ref, rtol=1e-9)


def test_mixture_fit_finds_two_clusters_and_their_weights():
    rng = np.random.default_rng(1)
    a = rng.normal([-4.0, 0.0], 0.5, size=(3000, 2))
    b = rng.normal([4.0, 1.0], 1.0, size=(7000, 2))
    prior = LatentPrior.fit(np.concatenate([a, b]), components=2, seed=3)
    order = np.argsort(prior.means[:, 0])
    np.testing.assert_allclose(prior.weights[order], [0.3, 0.7], atol=0.01)
    np.testing.assert_allclose(prior.means[order], [[-4.0, 0.0], [4.0, 1.0]], atol=0.1)
    # a better fit than one Gaussian, and draws that come back to the same clusters
    z = np.concatenate([a, b])
    assert prior.log_density(z).mean() > LatentPrior.fit(z, 1).log_density(z).mean() + 0.5
    draws = prior.transform(rng.standard_normal((20000, 2)), rng.random(20000))
    assert np.mean(draws[:, 0] < 0) == pytest.approx(0.3, abs=0.02)
    with pytest.raises(ValueError, match="uniform draws"):
        prior.transform(rng.standard_normal((3, 2)))


def test_transform_is_mean_plus_scale_times_noise_and_keeps_dtype():
    prior = LatentPrior(np.array([1.0]), np.array([[1.0, 2.0]]), np.array([[[2.0, 0.0], [1.0, 3.0]]]))
    noise = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    out = prior.transform(noise)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[3.0, 3.0], [1.0, 5.0]])
    t = prior.transform_torch(torch.from_numpy(noise))
    assert t.dtype == torch.float32 and torch.allclose(t, torch.from_numpy(out))


@pytest.mark.parametrize(
    ("weights", "means", "scales", "message"),
    [
        ([0.5, 0.4], [[0.0], [1.0]], [[[1.0]], [[1.0]]], "sum to 1"),
        ([1.0], [[0.0, 0.0]], [[[1.0, 0.5], [0.0, 1.0]]], "lower-triangular"),
        ([1.0], [[0.0, 0.0]], [[[-1.0, 0.0], [0.0, 1.0]]], "positive diagonal"),
        ([1.0], [[np.nan]], [[[1.0]]], "non-finite"),
        ([1.0], [[0.0, 0.0]], [[[1.0]]], "do not match"),
    ],
)
def test_malformed_priors_are_refused(weights, means, scales, message):
    with pytest.raises(ValueError, match=message):
        LatentPrior(np.array(weights), np.array(means), np.array(scales))


def test_too_few_points_for_the_fit():
    with pytest.raises(ValueError, match="cannot fit"):
        LatentPrior.fit(np.zeros((10, 8)), components=2)


def _with_prior(tiny_run, tmp_path, prior: LatentPrior) -> MolVAE:
    record = checkpoint.ModelRecord.read(tiny_run / "best.ckpt")
    record.prior = prior
    record.write(tmp_path / "prior.ckpt")
    return MolVAE.load(tmp_path / "prior.ckpt", device="cpu")


def test_fitted_prior_travels_in_the_checkpoint_and_sampling_uses_it(tiny_run, tiny_model, tmp_path):
    codec = tiny_model.codec
    assert codec.prior is None
    noise = torch.randn(5, codec.latent_dim)
    assert codec.prior_latents(noise) is noise  # N(0, I): the draws as they always were
    z = aggregate_posterior_draws(codec, moses(200))
    assert z.shape[1] == codec.latent_dim and 150 <= len(z) <= 200
    prior = fit_prior(codec, moses(200), components=2, seed=0)
    model = _with_prior(tiny_run, tmp_path, prior)
    assert checkpoint.load(tmp_path / "prior.ckpt")["format_version"] == checkpoint.PRIOR_VERSION
    got = model.codec.prior
    assert got is not None and got.components == 2
    np.testing.assert_allclose(got.means, prior.means, atol=1e-6)
    np.testing.assert_allclose(got.scales, prior.scales, atol=1e-6)
    # the same seed gives the same molecules; the draws go through the prior
    assert model.sample(40, seed=3) == model.sample(40, seed=3)
    far = LatentPrior(np.array([1.0]), np.full((1, codec.latent_dim), 6.0), np.eye(codec.latent_dim)[None] * 0.01)
    shifted = _with_prior(tiny_run, tmp_path, far)
    pts = shifted.codec.prior_latents(torch.randn(100, codec.latent_dim))
    assert torch.allclose(pts.mean(0), torch.full((codec.latent_dim,), 6.0), atol=0.01)
    assert shifted.sample(40, seed=3) != tiny_model.sample(40, seed=3)
    rng = np.random.default_rng(0)
    assert np.allclose(shifted.codec.prior_points(rng.standard_normal((10, codec.latent_dim)), rng), 6.0, atol=0.05)


@pytest.mark.parametrize("method", ["ga", "gradient"])
def test_a_search_from_the_prior_draws_its_start_through_the_fitted_prior(tiny_run, tmp_path, method):
    far = LatentPrior(np.array([1.0]), np.full((1, 8), 6.0), np.eye(8)[None] * 0.01)
    model = _with_prior(tiny_run, tmp_path, far)
    drawn: list[np.ndarray] = []
    original = model.codec.prior_points

    def spy(noise, rng):
        out = original(noise, rng)
        drawn.append(out)
        return out

    model.codec.prior_points = spy  # type: ignore[method-assign]
    model.optimize("qed", budget=20, seed=0, method=method)
    assert drawn and np.allclose(np.concatenate(drawn), 6.0, atol=0.1)


def test_malformed_prior_in_a_checkpoint_is_a_one_line_error(tiny_run, tmp_path):
    payload = checkpoint.load(tiny_run / "best.ckpt")
    payload["latent_prior"] = {"weights": torch.ones(1), "means": torch.zeros(1, 3), "scales": torch.eye(3)[None]}
    checkpoint.save(tmp_path / "bad.ckpt", payload)
    with pytest.raises(CheckpointError, match="malformed"):
        MolVAE.load(tmp_path / "bad.ckpt", device="cpu")


def test_fit_prior_on_nothing_usable_is_bad_input(tiny_model):
    with pytest.raises(BadInputError, match="cannot fit the latent prior"):
        fit_prior(tiny_model.codec, ["CCO"], components=1)
