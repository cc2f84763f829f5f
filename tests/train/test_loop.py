"""Training options that change what a run does: the cosine learning rate, the time limit, CPU bf16,
and the preprocessing cache when its file is damaged."""

import csv
import logging
import math

import numpy as np
import pytest
import torch

from molvae.data.dataset import load_molecules
from molvae.nn import checkpoint
from molvae.train.config import TrainConfig
from molvae.train.loop import Trainer, train
from molvae.train.schedules import learning_rate
from tests.conftest import TINY


def test_cosine_learning_rate_runs_from_lr_to_the_final_fraction():
    cfg = TrainConfig(lr=1e-3, lr_schedule="cosine", lr_final_fraction=0.1)
    rates = [learning_rate(cfg, s, 11) for s in range(11)]
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-4)
    assert rates[5] == pytest.approx(5.5e-4)  # half-way: the middle of the two
    assert all(a > b for a, b in zip(rates, rates[1:]))
    assert learning_rate(cfg.replace(lr_schedule="constant"), 7, 11) == 1e-3


def test_the_optimiser_follows_the_cosine_schedule(tmp_path, moses_file):
    cfg = TrainConfig(**{**TINY, "epochs": 2, "lr_schedule": "cosine", "lr_final_fraction": 0.1})
    trainer = Trainer(moses_file, tmp_path / "r", cfg, resume=False, progress=False)
    try:
        trainer.run()
        total = trainer.step  # 2 epochs of 5 steps: the last step ran at the final rate
        assert total == 10
        assert trainer.opt.param_groups[0]["lr"] == pytest.approx(cfg.lr * 0.1)
    finally:
        trainer.close()


def test_min_steps_raises_the_epochs_of_a_run_on_few_molecules(tmp_path, moses_file):
    cfg = TrainConfig(**{**TINY, "epochs": 1, "min_steps": 12})
    trainer = Trainer(moses_file, tmp_path / "r", cfg, resume=False, progress=False)
    try:
        trainer.run()
        assert trainer.step == 15  # 5 steps an epoch: 3 epochs reach 12 steps
        assert trainer.cfg.epochs == 3 and "epochs = 3" in (tmp_path / "r" / "config.toml").read_text()
    finally:
        trainer.close()


@pytest.mark.slow
def test_max_minutes_stops_mid_run_and_a_resume_continues(tmp_path, moses_file, monkeypatch, caplog):
    import molvae.train.loop as train_module

    clock = {"t": 0.0}

    def fake_monotonic():  # every reading of the clock is 10 s later
        clock["t"] += 10.0
        return clock["t"]

    monkeypatch.setattr(train_module.time, "monotonic", fake_monotonic)
    cfg = TrainConfig(
        **{
            **TINY,
            "epochs": 5,
            "max_minutes": 1.0,
            "checkpoint_minutes": 1e9,
            "first_checkpoint_minutes": 1e9,
            "checkpoint_steps": 0,
        }
    )
    with caplog.at_level(logging.INFO, logger="molvae.train.loop"):
        train(moses_file, tmp_path / "r", cfg)
    assert "stopped after" in caplog.text
    state = checkpoint.load(tmp_path / "r" / "last.ckpt")["training_state"]
    assert state["elapsed_seconds"] >= 60 and state["step"] < 25  # well short of 5 epochs
    rows = list(csv.DictReader(open(tmp_path / "r" / "history.csv")))
    assert float(rows[-1]["epoch"]) < 5 and float(rows[-1]["minutes"]) >= 1.0
    assert float(rows[-1]["cpu_hours"]) > 0 and state["cpu_seconds"] > 0  # CPU time is counted too
    train(moses_file, tmp_path / "r", resume=True, overrides={"max_minutes": 100.0})
    state = checkpoint.load(tmp_path / "r" / "last.ckpt")["training_state"]
    assert state["epoch"] == 5


def test_cpu_bf16_trains_in_bfloat16_to_a_similar_loss(tmp_path, moses_file, monkeypatch):
    from molvae.nn.model import ConditionalVAE

    seen = set()
    real_forward = ConditionalVAE.forward

    def spy(self, *args, **kwargs):  # the dtype autocast gives the model's matrix products
        seen.add(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else torch.float32)
        return real_forward(self, *args, **kwargs)

    monkeypatch.setattr(ConditionalVAE, "forward", spy)
    cfg = TrainConfig(**{**TINY, "epochs": 1, "device": "cpu", "val_samples": 0})
    train(moses_file, tmp_path / "f32", cfg)
    assert seen == {torch.float32}
    seen.clear()
    train(moses_file, tmp_path / "bf16", cfg.replace(cpu_bf16=True))
    assert seen == {torch.bfloat16}
    a = checkpoint.load(tmp_path / "f32" / "last.ckpt")
    b = checkpoint.load(tmp_path / "bf16" / "last.ckpt")
    assert any(not torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    ra = list(csv.DictReader(open(tmp_path / "f32" / "history.csv")))[-1]
    rb = list(csv.DictReader(open(tmp_path / "bf16" / "history.csv")))[-1]
    assert math.isclose(float(ra["val_recon"]), float(rb["val_recon"]), rel_tol=0.05)


def test_a_damaged_preprocessing_cache_is_rebuilt_not_trusted(tmp_path, moses_file, caplog):
    from molvae.runtime.cache import cache_dir

    first = load_molecules(moses_file, ["logp", "qed"], n_jobs=1)
    files = sorted(cache_dir("preprocessed").glob("*.npz"), key=lambda p: p.stat().st_mtime)
    cache = files[-1]
    cache.write_bytes(cache.read_bytes()[:200])  # a write cut short
    with caplog.at_level(logging.WARNING, logger="molvae.data.dataset"):
        again = load_molecules(moses_file, ["logp", "qed"], n_jobs=1)
    assert "ignoring unreadable cache" in caplog.text
    assert again.smiles == first.smiles and np.array_equal(again.tokens, first.tokens)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="molvae.data.dataset"):
        third = load_molecules(moses_file, ["logp", "qed"], n_jobs=1)  # the rebuilt cache is used
    assert "cache hit" in caplog.text and third.smiles == first.smiles


def test_training_from_python_shows_progress_unless_told_to_be_quiet(tmp_path, moses_file, capfd):
    cfg = TrainConfig(**{**TINY, "epochs": 1})
    train(moses_file, tmp_path / "shown", cfg)
    assert "epoch 1/1" in capfd.readouterr().err  # plain lines when stderr is not a terminal
    train(moses_file, tmp_path / "quiet", cfg, progress=False)
    assert "epoch 1/1" not in capfd.readouterr().err


def test_a_run_without_a_validation_set_logs_training_figures_and_no_zero_validation(tmp_path, moses_file, caplog):
    # fine-tuning trains on every molecule: its epoch line used to read "val recon 0.000, acc 0.000"
    cfg = TrainConfig(**{**TINY, "epochs": 1, "val_fraction": 0.0})
    with caplog.at_level(logging.INFO, logger="molvae.train.loop"):
        train(moses_file, tmp_path / "run", cfg)
    line = next(r.getMessage() for r in caplog.records if "recon" in r.getMessage())
    assert line.startswith("epoch 1.00: train recon ") and "val recon" not in line
    with open(tmp_path / "run" / "history.csv", newline="") as fh:
        (row,) = csv.DictReader(fh)
    assert math.isnan(float(row["val_recon"])) and math.isnan(float(row["val_acc"]))
    assert float(row["train_recon"]) > 0
