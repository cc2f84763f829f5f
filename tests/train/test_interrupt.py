"""Interrupted and failed runs: a checkpoint on SIGINT/SIGTERM, early checkpoints, resuming a run
that never reached one, and no half-made run folder after a failed start."""

import os
import signal

import pytest
import torch

from molvae.errors import CheckpointError, ConfigError, DataError
from molvae.nn import checkpoint
from molvae.train.config import TrainConfig, to_toml
from molvae.train.loop import Trainer, train
from molvae.train.runs import TrainingInterrupted
from tests.conftest import TINY

RARE = {"checkpoint_minutes": 1e9, "first_checkpoint_minutes": 1e9, "checkpoint_steps": 0}


@pytest.mark.slow
def test_sigint_saves_a_checkpoint_that_resumes_exactly(tmp_path, moses_file, monkeypatch):
    cfg = TrainConfig(**{**TINY, **RARE})
    train(moses_file, tmp_path / "a", cfg)
    before = signal.getsignal(
        signal.SIGINT
    )  # Python's default, or SIG_IGN where the shell started us in the background

    real_step = Trainer.train_step

    def step_then_ctrl_c(self, *args):
        beta = real_step(self, *args)
        if self.step == 7:  # mid-epoch 2 (5 steps per epoch), no checkpoint since the epoch's end
            os.kill(os.getpid(), signal.SIGINT)
        return beta

    monkeypatch.setattr(Trainer, "train_step", step_then_ctrl_c)
    with pytest.raises(TrainingInterrupted, match="SIGINT") as info:
        train(moses_file, tmp_path / "b", cfg)
    assert info.value.exit_code == 130
    monkeypatch.setattr(Trainer, "train_step", real_step)
    state = checkpoint.load(tmp_path / "b" / "last.ckpt")["training_state"]
    assert (state["epoch"], state["batch_in_epoch"], state["step"]) == (1, 2, 7)
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored

    train(moses_file, tmp_path / "b", resume=True)
    a = checkpoint.load(tmp_path / "a" / "last.ckpt")["state_dict"]
    b = checkpoint.load(tmp_path / "b" / "last.ckpt")["state_dict"]
    for k, v in a.items():
        assert torch.allclose(v, b[k], atol=1e-6), k


def test_first_checkpoint_comes_early_then_every_n_steps(tmp_path, moses_file, monkeypatch):
    saved_at = []
    real_save = Trainer.save_last

    def record_save(self):
        saved_at.append((self.epoch, self.batch_in_epoch))
        real_save(self)

    monkeypatch.setattr(Trainer, "save_last", record_save)
    # first checkpoint at once, then only by steps (every 2) and at epoch ends
    cfg = TrainConfig(
        **{**TINY, "epochs": 1, "checkpoint_minutes": 1e9, "first_checkpoint_minutes": 0.0, "checkpoint_steps": 2}
    )
    train(moses_file, tmp_path / "r", cfg)
    assert saved_at == [(0, 1), (0, 3), (1, 0)]  # after step 1, after step 3, end of the epoch
    saved_at.clear()
    cfg = TrainConfig(**{**TINY, "epochs": 1, **RARE})
    train(moses_file, tmp_path / "r2", cfg)
    assert saved_at == [(1, 0)]


def test_resume_of_a_run_that_never_checkpointed_starts_it(tmp_path, moses_file):
    out = tmp_path / "run"
    out.mkdir()
    cfg = TrainConfig(**{**TINY, "epochs": 1})
    (out / "config.toml").write_text(to_toml(cfg))  # what a run killed while preprocessing leaves
    best = train(moses_file, out, resume=True, overrides={"epochs": 1, "max_minutes": None})
    assert best == out / "best.ckpt" and best.is_file()
    assert TrainConfig.from_dict(checkpoint.load(best)["train_config"]) == cfg
    with pytest.raises(ConfigError, match="cannot change lr when resuming"):
        train(moses_file, out, resume=True, overrides={"lr": 0.5})


def test_a_run_that_fails_before_training_leaves_no_folder(tmp_path, moses_file):
    one = tmp_path / "one.smi"
    one.write_text("CCO\n")
    out = tmp_path / "run"
    with pytest.raises(DataError, match="at least 2"):
        train(one, out, TrainConfig(**TINY))
    assert not out.exists()
    train(moses_file, out, TrainConfig(**{**TINY, "epochs": 1}))  # the re-run is not blocked

    # a failed resume of an existing run removes nothing of it
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(CheckpointError, match="data file differs"):
        train(_other(tmp_path), out, resume=True)
    assert sorted(p.name for p in out.iterdir()) == before


def _other(tmp_path):
    from tests.conftest import moses

    path = tmp_path / "other.smi"
    path.write_text("\n".join(moses(50, skip=500)) + "\n")
    return path
