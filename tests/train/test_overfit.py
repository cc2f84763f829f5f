"""The model can memorise a small set: the integration test every VAE codebase should have."""

import pytest

from molvae import MolVAE
from molvae.chem.molecules import canonical_smiles
from molvae.train.config import TrainConfig
from molvae.train.loop import train
from tests.conftest import moses


@pytest.mark.slow
def test_overfits_200_molecules(tmp_path):
    smiles = moses(200, skip=1000)
    path = tmp_path / "m200.smi"
    path.write_text("\n".join(smiles) + "\n")
    cfg = TrainConfig(
        properties=("logp", "qed"),
        embed_dim=32,
        encoder_hidden=128,
        latent_dim=32,
        decoder_hidden=256,
        decoder_layers=1,
        epochs=60,
        batch_size=25,
        lr=3e-3,
        beta=0.001,
        kl_warmup_epochs=20,
        condition_dropout=0.0,
        val_fraction=0.0,
        val_reconstruct=0,
        val_samples=0,
        n_jobs=1,
    )
    train(path, tmp_path / "run", cfg)
    model = MolVAE.load(tmp_path / "run", device="cpu")
    back = model.reconstruct(smiles)
    exact = sum(b == canonical_smiles(s) for b, s in zip(back, smiles)) / len(smiles)
    assert exact >= 0.95, f"exact reconstruction {exact:.3f}"

    # interpolation between two molecules the model reconstructs starts and ends at them
    a, b = [s for s, r in zip(smiles, back) if r == canonical_smiles(s)][:2]
    path = model.interpolate(a, b, steps=5)
    assert len(path) == 5
    assert path[0] == canonical_smiles(a) and path[-1] == canonical_smiles(b)
