"""Training under torchrun (DDP, gloo, 2 CPU processes) follows the single-process trajectory,
and a run resumes with a different number of processes."""

import csv
import os
import subprocess
import sys

import pytest
import torch

from molvae.nn import checkpoint
from molvae.train.config import TrainConfig
from molvae.train.loop import Trainer, train
from tests.conftest import TINY


class Killed(Exception):
    pass


def history(run):
    with open(run / "history.csv", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_two_processes_follow_the_single_process_trajectory_and_resume_across_world_sizes(
    tmp_path, moses_file, monkeypatch
):
    # batch 64 over 285 training molecules: 5 steps per epoch, the last one of 29 molecules
    cfg = TrainConfig(**{**TINY, "epochs": 2, "checkpoint_minutes": 0.0, "word_dropout": 0.1})
    train(moses_file, tmp_path / "single", cfg)

    # 1 process: stopped after 3 steps of epoch 1
    real_save = Trainer.save_last
    calls = {"n": 0}

    def save_then_die(self):
        real_save(self)
        calls["n"] += 1
        if calls["n"] == 3:
            raise Killed

    monkeypatch.setattr(Trainer, "save_last", save_then_die)
    with pytest.raises(Killed):
        train(moses_file, tmp_path / "mixed", cfg)
    monkeypatch.setattr(Trainer, "save_last", real_save)

    # 2 processes (torchrun, gloo): steps 4-5 and the end of epoch 1
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "molvae_cli",
        "train",
        str(moses_file),
        "--out",
        str(tmp_path / "mixed"),
        "--resume",
        "--epochs",
        "1",
        "-q",
    ]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stderr.count("done: best model") == 1  # rank 0 speaks for the run
    state = checkpoint.load(tmp_path / "mixed" / "last.ckpt")["training_state"]
    assert (state["epoch"], state["batch_in_epoch"], state["step"]) == (1, 0, 5)

    # 1 process again: epoch 2
    train(moses_file, tmp_path / "mixed", resume=True, overrides={"epochs": 2})

    a, b = history(tmp_path / "single"), history(tmp_path / "mixed")
    assert [r["epoch"] for r in a] == [r["epoch"] for r in b] == ["1", "2"]
    for ra, rb in zip(a, b):
        for key in ("train_loss", "train_recon", "train_kl", "train_acc", "val_recon", "val_kl"):
            assert float(ra[key]) == pytest.approx(float(rb[key]), rel=1e-4), key
    wa = checkpoint.load(tmp_path / "single" / "last.ckpt")["state_dict"]
    wb = checkpoint.load(tmp_path / "mixed" / "last.ckpt")["state_dict"]
    worst = max((wa[k] - wb[k]).abs().max().item() for k in wa)
    assert worst < 1e-4, worst
