"""Shared fixtures: real MOSES molecules, an isolated cache, and one tiny trained model."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP; see cli/main.py

import gzip  # noqa: E402
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MOSES_TEST = ROOT / "data" / "moses" / "test.csv.gz"

# A tiny, fast model: enough to exercise every path, not to be good.
TINY = dict(
    properties=("logp", "qed", "sa"),
    embed_dim=16,
    encoder_hidden=32,
    latent_dim=8,
    decoder_hidden=48,
    decoder_layers=1,
    property_hidden=16,
    epochs=2,
    batch_size=64,
    val_reconstruct=20,
    val_samples=20,
    n_jobs=1,
)


def moses(n: int, skip: int = 0) -> list[str]:
    """The first ``n`` SMILES of the MOSES test set after ``skip``."""
    out = []
    with gzip.open(MOSES_TEST, "rt") as fh:
        next(fh)
        for i, line in enumerate(fh):
            if i < skip:
                continue
            if len(out) == n:
                break
            out.append(line.strip())
    return out


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("MOLVAE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="session")
def moses_file(tmp_path_factory) -> Path:
    """A .smi file of 300 real MOSES molecules."""
    path = tmp_path_factory.mktemp("data") / "moses300.smi"
    path.write_text("\n".join(moses(300)) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, moses_file) -> Path:
    """Run folder of a tiny model trained for 2 epochs on ``moses_file``."""
    import os

    from molvae.train.config import TrainConfig
    from molvae.train.loop import train

    os.environ["MOLVAE_CACHE_DIR"] = str(tmp_path_factory.getbasetemp() / "cache")
    out = tmp_path_factory.mktemp("runs") / "tiny"
    train(moses_file, out, TrainConfig(**TINY))
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_run):
    from molvae import MolVAE

    return MolVAE.load(tiny_run, device="cpu")
