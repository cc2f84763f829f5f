"""MolVAE's public seams: shape errors of decode, and the methods search and diagnostics build on."""

import numpy as np
import pytest
import torch

from molvae.errors import BadInputError


def test_decode_names_the_expected_shape(tiny_model):
    d = tiny_model.latent_dim
    with pytest.raises(BadInputError, match=rf"shape \[n, {d}\], got \(2, {d + 1}\)"):
        tiny_model.decode(np.zeros((2, d + 1)))
    with pytest.raises(BadInputError, match=rf"shape \[n, {d}\]"):
        tiny_model.decode(np.zeros((1, 2, d)))
    with pytest.raises(BadInputError, match="3 conditions for 2 latent vectors"):
        tiny_model.decode(np.zeros((2, d)), [{"logp": 1.0}] * 3)
    assert len(tiny_model.decode(np.zeros(d))) == 1  # one vector is one row


def test_decode_latents_checks_shapes_and_is_reproducible_with_a_generator(tiny_model):
    d, p = tiny_model.latent_dim, len(tiny_model.property_names)
    z = torch.randn(6, d, generator=torch.Generator().manual_seed(0))
    cond = tiny_model.codec.condition_tensor({"logp": 2.0}, 6)
    assert cond.shape == (6, 2 * p)
    with pytest.raises(BadInputError, match="condition must have shape"):
        tiny_model.codec.decode_latents(z, cond[:5])
    a = tiny_model.codec.decode_latents(z, cond, temperature=1.0, generator=tiny_model.codec.generator(3))
    b = tiny_model.codec.decode_latents(z, cond, temperature=1.0, generator=tiny_model.codec.generator(3))
    assert [c.smiles for c in a] == [c.smiles for c in b]
    greedy = tiny_model.codec.decode_latents(z, cond, properties=())
    assert [c.smiles for c in greedy] == tiny_model.decode(z.numpy(), {"logp": 2.0})
    assert all(c.properties == {} for c in greedy)


def test_prepare_keeps_positions_and_reasons(tiny_model):
    prepared = tiny_model.codec.prepare(["CCO", "not a molecule", "c1ccccc1O"])
    assert prepared.indices == [0, 2] and len(prepared) == 2
    assert [r[0] for r in prepared.rejects] == [1]
    batches = list(tiny_model.codec.prepared_batches(prepared, batch_size=1))
    assert [b.start for b in batches] == [0, 1]
    assert all(b.condition.shape == (1, 2 * len(tiny_model.property_names)) for b in batches)
    z = tiny_model.encode_batch(["CCO", "not a molecule", "c1ccccc1O"]).z
    assert np.allclose(z, tiny_model.encode(["CCO", "c1ccccc1O"]))


def test_precision_is_chosen_at_load_and_a_bad_one_is_a_config_error(tiny_run):
    from molvae import MolVAE
    from molvae.errors import ConfigError

    exact = MolVAE.load(tiny_run, device="cpu", precision="fp32")
    low = MolVAE.load(tiny_run, device="cpu", precision="bf16")
    assert (exact.codec.sample_dtype, low.codec.sample_dtype) == (torch.float32, torch.bfloat16)
    a, b = exact.sample(200, temperature=0.0, seed=0), low.sample(200, temperature=0.0, seed=0)
    assert sum(x == y for x, y in zip(a, b)) >= 180  # bf16 products: nearly always the same greedy decode
    with pytest.raises(ConfigError, match="unknown precision"):
        MolVAE.load(tiny_run, precision="half")
