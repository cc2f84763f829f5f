"""A run stopped mid-epoch and resumed ends exactly where an uninterrupted run ends."""

import csv

import pytest
import torch

from molvae.nn import checkpoint
from molvae.train.config import TrainConfig
from molvae.train.loop import Trainer, train
from tests.conftest import TINY


class Killed(Exception):
    pass


@pytest.mark.slow
def test_resume_mid_epoch_matches_uninterrupted_run(tmp_path, moses_file, monkeypatch):
    cfg = TrainConfig(**{**TINY, "epochs": 3, "checkpoint_minutes": 0.0})
    train(moses_file, tmp_path / "a", cfg)

    real_save = Trainer.save_last
    calls = {"n": 0}

    def save_then_die(self):
        real_save(self)
        calls["n"] += 1
        if calls["n"] == 8:  # 5 steps + 1 end-of-epoch save, then 2 steps into epoch 2
            raise Killed

    monkeypatch.setattr(Trainer, "save_last", save_then_die)
    with pytest.raises(Killed):
        train(moses_file, tmp_path / "b", cfg)
    monkeypatch.setattr(Trainer, "save_last", real_save)
    state = checkpoint.load(tmp_path / "b" / "last.ckpt")["training_state"]
    assert state["epoch"] == 1 and 0 < state["batch_in_epoch"] < 5
    assert state["cpu_seconds"] > 0

    train(moses_file, tmp_path / "b", resume=True)
    a = checkpoint.load(tmp_path / "a" / "last.ckpt")
    b = checkpoint.load(tmp_path / "b" / "last.ckpt")
    for k, v in a["state_dict"].items():
        assert torch.allclose(v, b["state_dict"][k], atol=1e-6), k
    rows_a = list(csv.DictReader(open(tmp_path / "a" / "history.csv")))
    rows_b = list(csv.DictReader(open(tmp_path / "b" / "history.csv")))
    assert [r["epoch"] for r in rows_a] == [r["epoch"] for r in rows_b] == ["1", "2", "3"]
    assert rows_a[-1]["val_recon"] == rows_b[-1]["val_recon"]
    assert (tmp_path / "b" / "curves.png").stat().st_size > 1000


def test_cpu_time_adds_up_across_resumed_chunks(tmp_path, moses_file, monkeypatch):
    import molvae.train.loop as loop

    cfg = TrainConfig(**{**TINY, "epochs": 1})
    train(moses_file, tmp_path / "r", cfg)
    first = checkpoint.load(tmp_path / "r" / "last.ckpt")["training_state"]["cpu_seconds"]
    assert first > 0
    cpu = {"t": 0.0}

    def fake_process_time():  # the resumed chunk: 1 s of CPU per reading
        cpu["t"] += 1.0
        return cpu["t"]

    monkeypatch.setattr(loop.time, "process_time", fake_process_time)
    train(moses_file, tmp_path / "r", resume=True, overrides={"epochs": 2})
    state = checkpoint.load(tmp_path / "r" / "last.ckpt")["training_state"]
    rows = list(csv.DictReader(open(tmp_path / "r" / "history.csv")))
    assert state["cpu_seconds"] == pytest.approx(first + cpu["t"] - 1.0)
    assert float(rows[0]["cpu_hours"]) * 3600 == pytest.approx(first, rel=1e-4)
    assert float(rows[-1]["cpu_hours"]) * 3600 == pytest.approx(state["cpu_seconds"], rel=1e-4)


def test_resume_needs_a_run_and_a_new_run_needs_an_empty_folder(tmp_path, moses_file, tiny_run):
    from molvae.errors import CheckpointError, ConfigError

    with pytest.raises(CheckpointError, match="nothing to resume"):
        train(moses_file, tmp_path / "none", resume=True)
    with pytest.raises(ConfigError, match="already holds a run"):
        train(moses_file, tiny_run, TrainConfig(**TINY))
    with pytest.raises(ConfigError, match="cannot change lr when resuming"):
        train(moses_file, tiny_run, resume=True, overrides={"lr": 0.1})
