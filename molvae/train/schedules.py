"""Loss bookkeeping and schedules of training: the KL weight β, the learning rate, running loss sums."""

from __future__ import annotations

import math

import torch

from molvae.train import distributed
from molvae.train.config import TrainConfig

LOSS_TERMS = ("loss", "recon", "kl", "prop", "correct", "tokens")  # summed per molecule / token


def kl_weight(cfg: TrainConfig, epoch_progress: float) -> float:
    """β at a point of training measured in (fractional) epochs."""
    if cfg.kl_schedule == "constant":
        return cfg.beta
    t = epoch_progress - cfg.kl_start_epochs
    if t <= 0:
        return 0.0
    warm = max(cfg.kl_warmup_epochs, 1e-9)
    if cfg.kl_schedule == "cyclical":
        t = t % (2 * warm)  # ramp for one warm-up length, hold for one
    return cfg.beta * min(1.0, t / warm)


def learning_rate(cfg: TrainConfig, step: int, total_steps: int) -> float:
    """Learning rate at an optimiser step: constant, or cosine from ``lr`` to ``lr * lr_final_fraction``.

    The cosine runs over ``epochs`` (``total_steps``); a run stopped early by ``max_minutes``
    simply ends part-way down the curve, and resuming continues it exactly.
    """
    if cfg.lr_schedule == "constant" or total_steps <= 1:
        return cfg.lr
    t = min(step / (total_steps - 1), 1.0)
    low = cfg.lr * cfg.lr_final_fraction
    return low + 0.5 * (cfg.lr - low) * (1.0 + math.cos(math.pi * t))


class LossSums:
    """Running sums of the loss terms (``LOSS_TERMS``) on the device: adding never waits for it."""

    def __init__(self, device: torch.device):
        self.t = torch.zeros(len(LOSS_TERMS), device=device)

    def add(self, r: dict[str, torch.Tensor], n: int) -> None:
        """Add one batch's terms from :meth:`Trainer.losses` (means over its ``n`` molecules)."""
        self.t += torch.stack(
            [
                r["loss"].detach() * n,
                r["recon"].detach() * n,
                r["kl"].detach() * n,
                r["prop"].detach() * n,
                r["correct"].float(),
                r["tokens"].float(),
            ]
        )

    def values(self) -> dict[str, float]:
        return dict(zip(LOSS_TERMS, self.t.tolist()))

    def global_values(self, dist: distributed.DistContext) -> dict[str, float]:
        """The sums over every rank's molecules (a collective: every rank must call it)."""
        return dict(zip(LOSS_TERMS, dist.all_reduce_(self.t.detach().clone()).tolist()))

    def load(self, saved: dict[str, float] | torch.Tensor) -> None:
        """Sums from a checkpoint (a dict by name; older files: a tensor in ``LOSS_TERMS`` order)."""
        values = saved.tolist() if isinstance(saved, torch.Tensor) else [saved[k] for k in LOSS_TERMS]
        self.t = torch.tensor(values, dtype=self.t.dtype, device=self.t.device)

    def zero_(self) -> None:
        self.t.zero_()
