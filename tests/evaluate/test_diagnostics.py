"""The aggregate posterior's distance from the prior (issue 23 item 2)."""

from __future__ import annotations

import math

import pytest
import torch

from molvae.evaluate.diagnostics import aggregate_posterior, latent_usage


def test_aggregate_posterior_matching_the_prior_is_near_zero() -> None:
    # posteriors N(mu, 0.25 I) with mu ~ N(0, 0.75 I): their mixture is N(0, I)
    g = torch.Generator().manual_seed(0)
    mu = torch.randn((20000, 4), generator=g) * math.sqrt(0.75)
    logvar = torch.full((20000, 4), math.log(0.25))
    agg = aggregate_posterior(mu, logvar)
    assert agg["gaussian_kl_to_prior"] < 0.01
    assert agg["cov_eig_min"] == pytest.approx(1.0, abs=0.05)
    assert agg["cov_eig_max"] == pytest.approx(1.0, abs=0.05)


def test_aggregate_posterior_shift_and_scale_have_the_gaussian_kl() -> None:
    # mixture N(m, s I) in d dimensions: KL to N(0, I) = (d (s - 1 - log s) + |m|^2) / 2
    g = torch.Generator().manual_seed(1)
    d, s = 3, 2.0
    mu = torch.randn((40000, d), generator=g) * math.sqrt(s - 0.5) + 1.0
    logvar = torch.full((40000, d), math.log(0.5))
    agg = aggregate_posterior(mu, logvar)
    expected = 0.5 * (d * (s - 1 - math.log(s)) + d)
    assert agg["mean_norm"] == pytest.approx(math.sqrt(d), rel=0.02)
    assert agg["gaussian_kl_to_prior"] == pytest.approx(expected, rel=0.05)


def test_latent_usage_reports_the_aggregate() -> None:
    mu = torch.tensor([[0.0, 1.0], [2.0, -1.0], [1.0, 0.0]])
    out = latent_usage(mu, torch.zeros_like(mu))
    assert set(out["aggregate"]) == {"mean_norm", "cov_eig_min", "cov_eig_max", "gaussian_kl_to_prior"}
    assert out["aggregate"]["mean_norm"] == pytest.approx(1.0)
