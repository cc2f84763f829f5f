"""Classifier-free guidance on the condition: neutral without a condition, effective with one, checked."""

from __future__ import annotations

import pytest
import torch

from molvae.errors import BadInputError
from molvae.generate.stream import GenerationRequest


def decode(codec, condition, guidance, seed=0, n=40):
    z = torch.randn(n, codec.latent_dim, generator=torch.Generator().manual_seed(seed))
    cond = codec.condition_tensor(condition, n)
    out = codec.decode_latents(z, cond, temperature=1.0, generator=codec.generator(seed), guidance=guidance)
    return [c.smiles for c in out]


def test_guidance_without_a_condition_changes_nothing_and_with_one_changes_the_samples(tiny_model):
    codec = tiny_model.codec
    assert decode(codec, None, 2.0) == decode(codec, None, 0.0)  # free + (1 + w)(cond - free) = cond
    assert decode(codec, {"logp": 3.0}, 2.0) != decode(codec, {"logp": 3.0}, 0.0)
    assert decode(codec, {"logp": 3.0}, 2.0) == decode(codec, {"logp": 3.0}, 2.0)  # reproducible


def test_guided_sampling_through_the_api(tiny_model):
    plain = tiny_model.sample(30, condition={"qed": 0.8}, seed=2)
    assert tiny_model.sample(30, condition={"qed": 0.8}, seed=2, guidance=0.0) == plain
    assert tiny_model.sample(30, condition={"qed": 0.8}, seed=2, guidance=1.0) != plain
    gen = tiny_model.generate(30, condition={"qed": 0.8}, seed=2, guidance=1.0)
    assert gen.n_sampled == 30 == len(gen.molecules) + len(gen.invalid)


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf")])
def test_bad_guidance_is_a_one_line_error(tiny_model, bad):
    with pytest.raises(BadInputError, match="guidance"):
        GenerationRequest(5, guidance=bad)
    with pytest.raises(BadInputError, match="guidance"):
        tiny_model.sample(5, guidance=bad)
