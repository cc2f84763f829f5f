import torch

from molvae.nn.model import ConditionalVAE, ModelConfig, gaussian_kl, make_condition
from molvae.train.config import TrainConfig
from molvae.train.loop import kl_weight


def small(p=3):
    return ModelConfig(
        vocab_size=20,
        n_properties=p,
        max_length=12,
        embed_dim=8,
        encoder_hidden=16,
        encoder_layers=1,
        latent_dim=6,
        decoder_hidden=24,
        decoder_layers=2,
        property_hidden=8,
        dropout=0.0,
    )


def test_forward_shapes():
    torch.manual_seed(0)
    m = ConditionalVAE(small())
    tokens = torch.randint(3, 20, (5, 9))
    lengths = torch.tensor([9, 7, 5, 3, 1])
    for i, n in enumerate(lengths):
        tokens[i, n - 1] = ConditionalVAE.END
        tokens[i, n:] = ConditionalVAE.PAD
    cond = make_condition(torch.randn(5, 3), torch.ones(5, 3))
    out = m(tokens, lengths, cond)
    assert out["logits"].shape == (5, 9, 20)
    assert out["mu"].shape == out["logvar"].shape == out["z"].shape == (5, 6)
    assert out["props"].shape == (5, 3)


def test_encoder_ignores_padding():
    torch.manual_seed(0)
    m = ConditionalVAE(small()).eval()
    cond = make_condition(torch.zeros(1, 3), torch.zeros(1, 3))
    a = torch.tensor([[5, 6, 7, 2]])
    b = torch.tensor([[5, 6, 7, 2, 0, 0, 0]])
    mu_a, _ = m.encode(a, torch.tensor([4]), cond)
    mu_b, _ = m.encode(b, torch.tensor([4]), cond)
    assert torch.allclose(mu_a, mu_b, atol=1e-6)


def test_generate_ends_every_sequence_and_never_starts_with_end():
    torch.manual_seed(0)
    m = ConditionalVAE(small()).eval()
    z = torch.randn(64, 6)
    cond = make_condition(torch.zeros(64, 3), torch.zeros(64, 3))
    g = torch.Generator().manual_seed(1)
    ids = m.generate(z, cond, temperature=1.0, generator=g)
    assert ids.shape[1] <= 13
    assert (ids[:, 0] != ConditionalVAE.END).all()
    for row in ids.tolist():
        assert ConditionalVAE.END in row
        end = row.index(ConditionalVAE.END)
        assert all(t == ConditionalVAE.PAD for t in row[end + 1 :])
        assert all(t > 2 for t in row[:end])


def test_kl_matches_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(7, 4), torch.randn(7, 4)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(q, p).mean(0)
    assert torch.allclose(gaussian_kl(mu, logvar), expected, atol=1e-5)
    assert gaussian_kl(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max() < 1e-7


def test_kl_schedules():
    lin = TrainConfig(beta=0.4, kl_warmup_epochs=4, kl_start_epochs=1)
    assert kl_weight(lin, 0.5) == 0.0
    assert abs(kl_weight(lin, 3.0) - 0.2) < 1e-9
    assert kl_weight(lin, 10.0) == 0.4
    cyc = lin.replace(kl_schedule="cyclical")
    assert abs(kl_weight(cyc, 1 + 4 + 2) - 0.4) < 1e-9  # holding
    assert abs(kl_weight(cyc, 1 + 8 + 2) - 0.2) < 1e-9  # ramping again
    assert kl_weight(lin.replace(kl_schedule="constant"), 0.0) == 0.4


def _reference_greedy(m, z, cond, first_allowed):
    """Greedy decoding one nn.GRU step at a time, every row to the full length (the slow way)."""
    b, length = z.size(0), m.cfg.max_length
    hidden = m.decoder.initial_state(z, cond)
    token = torch.full((b, 1), ConditionalVAE.START)
    done = torch.zeros(b, dtype=torch.bool)
    out = torch.full((b, length + 1), ConditionalVAE.PAD)
    for t in range(length + 1):
        logits, hidden = m.decoder(token, z, cond, hidden)
        logits = logits[:, -1].clone()
        logits[:, [ConditionalVAE.PAD, ConditionalVAE.START]] = -float("inf")
        if t == 0:
            logits[:, ConditionalVAE.END] = -float("inf")
            logits[:, ~first_allowed] = -float("inf")
        nxt = torch.full((b,), ConditionalVAE.END) if t == length else logits.argmax(-1)
        nxt = nxt.masked_fill(done, ConditionalVAE.PAD)
        out[:, t] = nxt
        done |= nxt == ConditionalVAE.END
        token = nxt.unsqueeze(1)
    return out


def test_fast_generate_matches_step_by_step_gru():
    """The generation path (precomputed input projections, finished rows dropped) decodes exactly
    what the teacher-forcing GRU would, with one and with several layers."""
    for layers, end_bias in ((1, 0.0), (3, 0.3)):
        cfg = ModelConfig(**{**small().to_dict(), "decoder_layers": layers})
        torch.manual_seed(layers)
        m = ConditionalVAE(cfg).eval()
        with torch.no_grad():  # so that sequence lengths vary
            m.decoder.out.bias[ConditionalVAE.END] += end_bias
        z = torch.randn(200, 6)
        cond = make_condition(torch.randn(200, 3), (torch.rand(200, 3) > 0.5).float())
        first = torch.zeros(20, dtype=torch.bool)
        first[5:15] = True
        with torch.no_grad():
            expected = _reference_greedy(m, z, cond, first)
        got = m.generate(z, cond, temperature=0.0, first_allowed=first)
        assert torch.equal(got, expected)
        ends = (got == ConditionalVAE.END).float().argmax(1)
        assert ends.min() < ends.max()  # rows really did finish at different steps


def test_bf16_decoder_steps_follow_the_float32_ones():
    """The bf16 sampling path (products in bf16, state and gates in float32; one cast per layer
    per step) gives the float32 logits to bf16's precision, also after rows are dropped, and
    mostly the same greedy decodes."""
    for layers in (1, 3):
        cfg = ModelConfig(**{**small().to_dict(), "decoder_layers": layers})
        torch.manual_seed(layers)
        m = ConditionalVAE(cfg).eval()
        z = torch.randn(200, 6)
        cond = make_condition(torch.randn(200, 3), (torch.rand(200, 3) > 0.5).float())
        tokens = torch.randint(3, 20, (200, 10))
        with torch.no_grad():
            exact = m.decoder.stepper(z, cond, torch.float32)
            low = m.decoder.stepper(z, cond, torch.bfloat16)
            for t in range(10):
                a, b = exact(tokens[:, t]), low(tokens[:, t])
                assert b.dtype == torch.float32
                assert (a - b).abs().max() < 0.03 * a.abs().max()
                assert not torch.equal(a, b)  # the products really ran in bf16
                if t == 4:  # drop every other row, as generate does for finished molecules
                    keep = torch.arange(0, 200, 2)
                    exact.select(keep)
                    low.select(keep)
                    tokens = tokens[keep]
            same = m.generate(z, cond, temperature=0.0) == m.generate(z, cond, temperature=0.0, dtype=torch.bfloat16)
        assert same.all(1).float().mean() > 0.9


def test_padded_bidirectional_encoder_equals_packing():
    """The CPU encoder path (padded batch, backward direction reversed within each length) gives
    the states and gradients of the packed GRU."""
    from torch.nn.utils.rnn import pack_padded_sequence

    from molvae.nn.model import padded_bidirectional_states

    for layers in (1, 2):
        torch.manual_seed(layers)
        gru = torch.nn.GRU(7, 5, num_layers=layers, batch_first=True, bidirectional=True)
        x = torch.randn(6, 9, 7, requires_grad=True)
        lengths = torch.tensor([9, 7, 7, 4, 2, 1])
        _, expected = gru(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        got = padded_bidirectional_states(gru, x, lengths)
        assert torch.allclose(got, expected, atol=1e-6)
        grads_expected = torch.autograd.grad(expected.pow(2).sum(), [x, *gru.parameters()])
        grads_got = torch.autograd.grad(got.pow(2).sum(), [x, *gru.parameters()])
        for a, b in zip(grads_got, grads_expected):
            assert torch.allclose(a, b, atol=1e-5)


def test_encoder_falls_back_to_the_public_path_when_the_private_gru_call_fails(monkeypatch, caplog):
    """If torch changes ``_VF.gru``, the encoder still gives the packed GRU's states, and says so once."""
    import logging

    from torch.nn.utils.rnn import pack_padded_sequence

    from molvae.nn import model as model_module

    calls = {"n": 0}

    def changed_signature(*args, **kwargs):
        calls["n"] += 1
        raise TypeError("gru() received an invalid combination of arguments")

    monkeypatch.setattr(model_module, "_vf_gru", changed_signature)  # nn.GRU itself still works
    monkeypatch.setitem(model_module._PRIVATE_GRU, "works", True)
    torch.manual_seed(0)
    gru = torch.nn.GRU(7, 5, num_layers=2, batch_first=True, bidirectional=True)
    x = torch.randn(4, 6, 7)
    lengths = torch.tensor([6, 5, 3, 1])
    _, expected = gru(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    with caplog.at_level(logging.INFO, logger="molvae.nn.model"):
        first = model_module.padded_bidirectional_states(gru, x, lengths)
        second = model_module.padded_bidirectional_states(gru, x, lengths)
    assert torch.allclose(first, expected, atol=1e-6) and torch.allclose(second, expected, atol=1e-6)
    assert calls["n"] == 1  # not retried on every step
    assert sum("_VF.gru failed" in r.message for r in caplog.records) == 1


def test_template_imposes_its_tokens_and_the_decoder_fills_the_gaps():
    """A template's tokens come out as given; a free position gets the token the teacher-forced
    decoder ranks first there; an all-free template changes nothing, sampling included."""
    torch.manual_seed(0)
    m = ConditionalVAE(small()).eval()
    n = 16
    z = torch.randn(n, 6)
    cond = make_condition(torch.zeros(n, 3), torch.zeros(n, 3))
    body = torch.randint(3, 20, (n, 7))
    full = torch.cat([body, torch.full((n, 1), ConditionalVAE.END)], 1)
    assert torch.equal(m.generate(z, cond, temperature=1.0, template=full)[:, :8], full)
    gap = full.clone()
    gap[:, 3] = ConditionalVAE.PAD
    got = m.generate(z, cond, temperature=0.0, template=gap)
    inputs = torch.cat([torch.full((n, 1), ConditionalVAE.START), full[:, :3]], 1)
    with torch.no_grad():
        logits, _ = m.decoder(inputs, z, cond)
    logits = logits[:, -1]
    logits[:, [ConditionalVAE.PAD, ConditionalVAE.START]] = -float("inf")
    expected = full.clone()
    expected[:, 3] = logits.argmax(-1)
    stop = expected[:, 3] == ConditionalVAE.END  # a decoder that ends the molecule there cuts the rest
    expected[stop, 4:] = ConditionalVAE.PAD
    assert torch.equal(got[:, :8], expected)
    prefix = body[:, :2]
    cont = m.generate(z, cond, temperature=0.0, template=prefix)
    assert torch.equal(cont[:, :2], prefix) and not torch.equal(cont[:, :8], full)
    free = torch.zeros(n, 5, dtype=torch.long)
    a = m.generate(z, cond, temperature=1.0, generator=torch.Generator().manual_seed(3))
    b = m.generate(z, cond, temperature=1.0, generator=torch.Generator().manual_seed(3), template=free)
    assert torch.equal(a, b)
