"""The CUDA code paths: they run where a GPU is present and skip cleanly everywhere else.

Covered: training steps under bf16 autocast, the packed encoder (the CPU reads padded batches
instead), sampling with finished rows dropped, a checkpoint written on CUDA and loaded on the
CPU, and ``molvae generate --device cuda`` end to end.
"""

from __future__ import annotations

import csv

import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _tiny_model(vocab: int = 20, props: int = 3):
    from molvae.nn.model import ConditionalVAE, ModelConfig

    cfg = ModelConfig(
        vocab_size=vocab,
        n_properties=props,
        max_length=30,
        embed_dim=16,
        encoder_hidden=32,
        encoder_layers=2,
        latent_dim=8,
        decoder_hidden=48,
        decoder_layers=2,
        property_hidden=16,
        dropout=0.0,
    )
    torch.manual_seed(0)
    return ConditionalVAE(cfg)


def _batch(b: int = 16, t: int = 12, vocab: int = 20, props: int = 3, device: str = "cpu"):
    g = torch.Generator().manual_seed(1)
    lengths = torch.randint(3, t + 1, (b,), generator=g).sort(descending=True).values
    tokens = torch.randint(3, vocab, (b, t), generator=g)
    tokens[torch.arange(t)[None, :] >= lengths[:, None]] = 0
    tokens[torch.arange(b), lengths - 1] = 2
    cond = torch.cat([torch.randn(b, props, generator=g), torch.ones(b, props)], 1)
    return tokens.to(device), lengths, cond.to(device)


def test_packed_cuda_encoder_matches_the_padded_cpu_encoder():
    model = _tiny_model().eval()
    tokens, lengths, cond = _batch()
    mu_cpu, logvar_cpu = model.encoder(tokens, lengths, cond)
    gpu = _tiny_model().eval().cuda()
    mu_gpu, logvar_gpu = gpu.encoder(tokens.cuda(), lengths, cond.cuda())
    torch.testing.assert_close(mu_gpu.cpu(), mu_cpu, atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(logvar_gpu.cpu(), logvar_cpu, atol=2e-3, rtol=2e-3)
    # unsorted lengths go through the same packed path with index tensors
    perm = torch.randperm(tokens.size(0), generator=torch.Generator().manual_seed(3))
    mu_perm, _ = gpu.encoder(tokens.cuda()[perm.cuda()], lengths[perm], cond.cuda()[perm.cuda()])
    torch.testing.assert_close(mu_perm.cpu(), mu_cpu[perm], atol=2e-3, rtol=2e-3)


def test_training_steps_under_bf16_autocast_reduce_the_loss():
    import torch.nn.functional as F

    model = _tiny_model().cuda().train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    tokens, lengths, cond = _batch(device="cuda")
    losses = []
    for _ in range(60):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(tokens, lengths, cond)
        loss = F.cross_entropy(out["logits"].float().transpose(1, 2), tokens, ignore_index=0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())
    assert losses[-1] < 0.5 * losses[0]


def test_sampling_drops_finished_rows_and_matches_one_row_at_a_time():
    model = _tiny_model().cuda().eval()
    z = torch.randn(64, 8, device="cuda", generator=torch.Generator(device="cuda").manual_seed(0))
    cond = torch.zeros(64, 6, device="cuda")
    ids = model.generate(z, cond, temperature=0.0)
    assert ids.shape == (64, 31)
    ends = (ids == 2).int().argmax(1)
    assert bool(((ids == 2).sum(1) == 1).all())  # exactly one <end> per row, then padding
    assert bool(
        (
            ids[torch.arange(64, device="cuda")[:, None], torch.arange(31, device="cuda")[None, :]][
                torch.arange(31, device="cuda")[None, :] > ends[:, None]
            ]
            == 0
        ).all()
    )
    one_by_one = torch.cat([model.generate(z[i : i + 1], cond[i : i + 1], temperature=0.0) for i in range(8)])
    assert torch.equal(one_by_one, ids[:8])


def test_checkpoint_written_on_cuda_loads_on_the_cpu(tmp_path, moses_file):
    from molvae import MolVAE
    from molvae.train.config import TrainConfig
    from molvae.train.loop import train
    from tests.conftest import TINY

    best = train(moses_file, tmp_path / "run", TrainConfig(**{**TINY, "epochs": 1, "device": "cuda"}))
    cpu = MolVAE.load(best, device="cpu")
    gpu = MolVAE.load(best, device="cuda")
    assert next(cpu.model.parameters()).device.type == "cpu"
    z = gpu.encode(["CCOc1ccccc1C(N)=O"])
    z_cpu = cpu.encode(["CCOc1ccccc1C(N)=O"])
    torch.testing.assert_close(torch.from_numpy(z), torch.from_numpy(z_cpu), atol=2e-3, rtol=2e-3)


def test_generate_on_cuda_end_to_end(tmp_path, tiny_run):
    from click.testing import CliRunner

    from molvae_cli.main import cli

    out = tmp_path / "out.csv"
    res = CliRunner().invoke(
        cli,
        ["generate", "-m", str(tiny_run), "-n", "300", "--device", "cuda", "--seed", "0", "-o", str(out)],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    rejects = out.with_name("out.rejects.csv")
    n_invalid = max(0, len(rejects.read_text().splitlines()) - 1) if rejects.exists() else 0
    assert len(rows) + n_invalid == 300
    assert f"sampled 300: wrote {len(rows)}" in res.output
