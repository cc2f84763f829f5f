"""The training loop: KL schedule, validation, best/last checkpoints, mid-epoch resume.

No argument parsing here: :func:`train` takes a data file, a run folder and a
:class:`~molvae.train.config.TrainConfig`. The run folder receives ``config.toml`` (the resolved
settings), ``rejects.csv``, ``best.ckpt``, ``last.ckpt``, ``history.csv`` and ``curves.png``.

Interruptions: ``last.ckpt`` is written early (after ``first_checkpoint_minutes``), then every
``checkpoint_minutes`` or ``checkpoint_steps`` and at every epoch end; SIGINT (Ctrl-C) and SIGTERM
write it before training stops (:class:`TrainingInterrupted`). A run that fails before training
leaves no run folder behind, and ``resume`` on a folder whose run never reached a checkpoint
starts that run with its saved settings.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from molvae.chem.checks import check_symbols, tokens_to_symbols
from molvae.data.conditioning import random_mask
from molvae.data.dataset import bucketed_batches
from molvae.io.plotting import plot_curves
from molvae.nn.model import ConditionalVAE, gaussian_kl, make_condition
from molvae.runtime.parallel import warn_if_openmp_spins
from molvae.runtime.progress import progress_bar
from molvae.runtime.signals import StopSignals
from molvae.train.config import TrainConfig
from molvae.train.runs import HISTORY_FIELDS, TrainingInterrupted, write_history
from molvae.train.schedules import LOSS_TERMS, LossSums, kl_weight, learning_rate
from molvae.train.setup import TrainBatch, TrainerSetup, sequence_tensor

log = logging.getLogger(__name__)

__all__ = [
    "HISTORY_FIELDS",
    "LOSS_TERMS",
    "Trainer",
    "TrainingInterrupted",
    "kl_weight",
    "learning_rate",
    "sequence_tensor",
    "train",
]


SYNC_EVERY = 25  # steps between the ranks' agreement on stopping / checkpointing (a host sync)


class Trainer(TrainerSetup):
    """Holds the state of one run; :func:`train` is the entry point. Built in the named steps of
    :class:`~molvae.train.setup.TrainerSetup` (settings, data, vocabulary, model, optimiser, state).

    Runs in one process, or in each process of a ``torchrun`` launch (see :mod:`molvae.train.distributed`):
    every rank walks the same global batches and takes every ``world_size``-th molecule of each.
    """

    # ------------------------------------------------------------------ helpers
    def batch(self, idx: np.ndarray) -> TrainBatch:
        t = torch.from_numpy(idx).to(self.device)
        width = int(self.lengths_np[idx].max())
        return TrainBatch(self.seqs[t, :width].long(), torch.from_numpy(self.lengths_np[idx]), self.props[t])

    def epoch_plan(self) -> tuple[list[np.ndarray], torch.Tensor, np.ndarray]:
        """This epoch's global batches (indices into the data, longest molecule first), and this
        rank's share of all of them as one device tensor with host-side offsets: one host-to-device
        copy per epoch, none per step."""
        rng = np.random.default_rng([self.cfg.seed, self.epoch])
        batches = []
        for pos in bucketed_batches(self.lengths_np[self.train_idx], self.cfg.batch_size, rng):
            idx = self.train_idx[pos]
            batches.append(idx[np.argsort(-self.lengths_np[idx], kind="stable")])
        r, w = self.dist.rank, self.dist.world_size
        local = [b[r::w] if len(b) > r else b[:1] for b in batches]  # b[:1]: a placeholder, weight 0
        offsets = np.zeros(len(local) + 1, dtype=np.int64)
        np.cumsum([len(x) for x in local], out=offsets[1:])
        flat = torch.from_numpy(np.concatenate(local)) if local else torch.zeros(0, dtype=torch.long)
        return batches, flat.to(self.device), offsets

    def losses(
        self,
        b: TrainBatch,
        beta: float,
        mask: torch.Tensor,
        train: bool,
        n_total: int | None = None,
        eps: torch.Tensor | None = None,
        drop: torch.Tensor | None = None,
        weight: float = 1.0,
    ) -> dict[str, torch.Tensor]:
        """Loss terms of a batch as this rank's share of per-molecule sums over ``n_total`` molecules.

        In a single process (``n_total`` = batch size) they are the batch means. Across ranks they
        add up to the global batch's means; the free-bits decision uses the global KL per dimension.
        ``weight`` 0 marks a placeholder batch of a rank that has no molecule in this step.
        """
        n_total = n_total or b.tokens.size(0)
        shard = train and self.dist.enabled
        cond = make_condition(b.props, mask)
        model: Any = self.ddp if shard else self.model
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            out = model(
                b.tokens,
                b.lengths,
                cond,
                generator=self.gen,
                word_dropout=self.cfg.word_dropout if train else 0.0,
                eps=eps,
                drop=drop,
            )
        logits = out["logits"].float()
        scale = weight / n_total
        recon = (
            F.cross_entropy(logits.transpose(1, 2), b.tokens, ignore_index=ConditionalVAE.PAD, reduction="sum") * scale
        )
        mu, logvar = out["mu"].float(), out["logvar"].float()
        kl_dim = gaussian_kl(mu, logvar, reduction="sum") * scale  # [latent_dim]
        kl = kl_dim.sum()
        if self.cfg.free_bits > 0:
            fb = self.cfg.free_bits
            whole = self.dist.all_reduce_(kl_dim.detach().clone()) if shard else kl_dim.detach()
            kl_term = torch.where(whole >= fb, kl_dim, fb / (self.dist.world_size if shard else 1)).sum()
        else:
            kl_term = kl
        pred = out["props"].float()
        if b.props.size(1):
            prop = (pred - b.props).pow(2).sum() * (scale / b.props.size(1))
        else:  # no property: keep the head in the graph (DDP expects a gradient for every parameter)
            prop = pred.sum() * 0.0
        loss = recon + beta * kl_term + self.cfg.property_weight * prop
        nonpad = b.tokens != ConditionalVAE.PAD
        correct = ((logits.argmax(-1) == b.tokens) & nonpad).sum() * int(weight)
        return {
            "loss": loss,
            "recon": recon,
            "kl": kl,
            "prop": prop,
            "correct": correct,
            "tokens": nonpad.sum() * int(weight),
            "mu": mu,
        }

    def global_sums(self) -> dict[str, float]:
        """The running loss sums over every rank's molecules, by name."""
        return self.sums.global_values(self.dist)

    def save_last(self) -> None:
        """Write ``last.ckpt``: every rank must call it (the running sums are summed over the ranks
        first), rank 0 writes."""
        sums = self.global_sums()
        self.has_checkpoint = True
        if not self.main:
            return
        rec = self.record()
        rec.training_state = {
            "optimizer": self.opt.state_dict(),
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "elapsed_seconds": self.elapsed,
            "cpu_seconds": self.cpu_seconds,
            "best": self.best,
            "stale": self.stale,
            "history": self.history,
            "sums": sums,
            "n_mol": self.n_mol,
            "generator": self.gen.get_state(),
        }
        rec.write(self.out / "last.ckpt")

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        self.model.eval()
        cfg = self.cfg
        g = torch.Generator(device=self.device)
        g.manual_seed(cfg.seed + 12345)
        saved_gen, self.gen = self.gen, g
        totals = LossSums(self.device)
        mus = []
        try:
            for start in range(0, len(self.val_idx), 512):
                b = self.batch(self.val_idx[start : start + 512])
                r = self.losses(b, 0.0, torch.ones_like(b.props), train=False)
                totals.add(r, b.tokens.size(0))
                mus.append(r["mu"])
        finally:
            self.gen = saved_gen
        s = totals.values()
        n_val, tokens = len(self.val_idx) or math.nan, s["tokens"] or math.nan  # no validation set: NaN, not 0
        row = {
            "val_recon": s["recon"] / n_val,
            "val_kl": s["kl"] / n_val,
            "val_prop_mse": s["prop"] / n_val,
            "val_acc": s["correct"] / tokens,
            "val_nll_token": s["recon"] / tokens,  # nats per token, end symbol included
        }
        # exact reconstruction: greedy decode of the posterior mean, condition fully given
        k = min(cfg.val_reconstruct, len(self.val_idx))
        if k > 0:
            mu = torch.cat(mus)[:k]
            idx = self.val_idx[:k]
            cond = make_condition(
                self.props[torch.from_numpy(idx).to(self.device)],
                torch.ones(k, len(self.scaler.names), device=self.device),
            )
            ids = self.model.generate(mu, cond, temperature=0.0, first_allowed=self.first_allowed)
            checked = check_symbols(tokens_to_symbols(self.vocab, ids), [], n_jobs=1)
            row["val_exact_recon"] = float(np.mean([c.smiles == s for c, s in zip(checked, self.val_smiles[:k])]))
        else:
            row["val_exact_recon"] = float("nan")
        # validity and uniqueness of a prior sample with no condition
        m = cfg.val_samples
        if m > 0:
            z = torch.randn((m, self.model.cfg.latent_dim), generator=g, device=self.device)
            p = len(self.scaler.names)
            cond = make_condition(torch.zeros(m, p, device=self.device), torch.zeros(m, p, device=self.device))
            ids = self.model.generate(z, cond, temperature=1.0, generator=g, first_allowed=self.first_allowed)
            checked = check_symbols(tokens_to_symbols(self.vocab, ids), [], n_jobs=1)
            valid = [c.smiles for c in checked if c.valid]
            row["sample_validity"] = len(valid) / m
            row["sample_uniqueness"] = len(set(valid)) / max(len(valid), 1)
        else:
            row["sample_validity"] = row["sample_uniqueness"] = float("nan")
        self.model.train()
        return row

    # ------------------------------------------------------------------ main loop
    def train_step(self, batches: list[np.ndarray], local_idx: torch.Tensor, offsets: np.ndarray) -> float:
        """One optimiser step on global batch ``batch_in_epoch`` of :meth:`epoch_plan`; returns β.

        Nothing here waits for the device: no ``.item()``, no device-to-host copy.
        """
        cfg = self.cfg
        rank, world = self.dist.rank, self.dist.world_size
        steps_per_epoch = max(1, math.ceil(len(self.train_idx) / cfg.batch_size))
        n_prop, latent = len(self.scaler.names), self.model.cfg.latent_dim
        i = self.batch_in_epoch
        idx = batches[i]
        n = len(idx)
        local = idx[rank::world] if n > rank else idx[:1]
        t = local_idx[offsets[i] : offsets[i + 1]]
        width = int(self.lengths_np[idx[0]])  # the global batch's longest molecule
        b = TrainBatch(self.seqs[t, :width].long(), torch.from_numpy(self.lengths_np[local]), self.props[t])
        beta = kl_weight(cfg, self.epoch + i / steps_per_epoch)
        # Random numbers for the whole global batch, in the single-process order; this rank
        # keeps its rows, so any number of processes sees the same noise per molecule.
        mask = random_mask(n, n_prop, cfg.condition_dropout, self.gen, self.device)
        eps = torch.randn((n, latent), generator=self.gen, device=self.device)
        drop = None
        if cfg.word_dropout > 0:
            drop = torch.rand((n, width), generator=self.gen, device=self.device) < cfg.word_dropout
        if world > 1:
            pick = slice(rank, None, world) if n > rank else slice(0, 1)
            mask, eps = mask[pick], eps[pick]
            drop = drop[pick] if drop is not None else None
        for group in self.opt.param_groups:
            group["lr"] = learning_rate(cfg, self.step, steps_per_epoch * cfg.epochs)
        r = self.losses(b, beta, mask, train=True, n_total=n, eps=eps, drop=drop, weight=1.0 if n > rank else 0.0)
        self.opt.zero_grad(set_to_none=True)
        (r["loss"] * world if world > 1 else r["loss"]).backward()  # DDP averages over ranks
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.opt.step()
        self.sums.add(r, n)
        self.n_mol += n
        self.step += 1
        self.batch_in_epoch += 1
        return beta

    def run(self) -> Path:
        """Train to ``epochs`` or ``max_minutes``; return the best checkpoint's path.

        SIGINT/SIGTERM stop it after the current step with ``last.ckpt`` written
        (:class:`TrainingInterrupted`); a second signal stops it at once.
        """
        with StopSignals("saving a checkpoint, then stopping") as signals:
            out_of_time = self._epochs(signals)
            if signals.received:
                self.save_last()
                if self.main:
                    self.write_history()
                self.dist.barrier()
                raise TrainingInterrupted(signals.received, self.out / "last.ckpt", self.epoch, self.step)
        if out_of_time:
            log.info("stopped after %.1f minutes (max_minutes=%s)", self.elapsed / 60, self.cfg.max_minutes)
        elif self.patience_exhausted():
            log.info("stopped early: no improvement of the validation score for %d epochs", self.stale)
        if self.main:
            self.write_history()
        self.dist.barrier()  # the files are complete before any process returns
        best = self.out / "best.ckpt"
        return best if best.is_file() else self.out / "last.ckpt"

    def patience_exhausted(self) -> bool:
        return self.cfg.patience is not None and self.stale >= self.cfg.patience

    def _checkpoint_due(self, now: float) -> bool:
        """``last.ckpt`` is due: the first after ``first_checkpoint_minutes``, then every
        ``checkpoint_minutes`` or ``checkpoint_steps`` steps, whichever comes first."""
        cfg = self.cfg
        minutes = (
            cfg.checkpoint_minutes if self.has_checkpoint else min(cfg.first_checkpoint_minutes, cfg.checkpoint_minutes)
        )
        steps = cfg.checkpoint_steps and self.step - self.last_save_step >= cfg.checkpoint_steps
        return bool(steps) or now - self.last_save > minutes * 60

    def _epochs(self, signals: StopSignals) -> bool:
        """The epoch loop; True when it stopped early (out of time, or a stop signal)."""

        cfg = self.cfg
        world = self.dist.world_size
        limit = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
        self.last_save = last_shown = time.monotonic()
        self.last_save_step = self.step
        t0 = time.monotonic() - self.elapsed
        cpu0 = time.process_time() - self.cpu_seconds
        self.model.train()
        stopped = self.elapsed >= limit
        beta = 0.0
        while self.epoch < cfg.epochs and not stopped and not self.patience_exhausted():
            batches, local_idx, offsets = self.epoch_plan()
            bar = progress_bar(
                len(batches),
                f"epoch {self.epoch + 1}/{cfg.epochs}",
                "batch",
                not self.progress,
                initial=self.batch_in_epoch,
            )
            while self.batch_in_epoch < len(batches):
                beta = self.train_step(batches, local_idx, offsets)
                bar.update(1)
                now = time.monotonic()
                if self.progress and now - last_shown > 2.0:  # reading the sums synchronises: rarely
                    last_shown = now
                    s, n = self.sums.values(), max(self.n_mol, 1) / world  # rank 0's share
                    bar.set_postfix(
                        loss=f"{s['loss'] / n:.2f}",
                        kl=f"{s['kl'] / n:.2f}",
                        acc=f"{s['correct'] / max(s['tokens'], 1):.3f}",
                        beta=f"{beta:.3f}",
                    )
                self.elapsed, self.cpu_seconds = now - t0, time.process_time() - cpu0
                stop, save, interrupt = self.elapsed >= limit, self._checkpoint_due(now), signals.received is not None
                if world > 1:  # every rank must make the same choice; agree every SYNC_EVERY steps
                    if self.step % SYNC_EVERY:
                        stop = save = interrupt = False
                    else:
                        flags = torch.tensor([float(stop), float(save), float(interrupt)], device=self.device)
                        stop, save, interrupt = (bool(x) for x in self.dist.all_reduce_(flags, "max").tolist())
                        if interrupt and signals.received is None:
                            signals.received = "SIGTERM"  # another process was told to stop
                if interrupt:
                    return True
                if stop:
                    stopped = True
                    break
                if save and self.batch_in_epoch < len(batches):  # an epoch's end saves anyway
                    self.save_last()
                    self.last_save, self.last_save_step = time.monotonic(), self.step
            bar.close()
            self.end_epoch(beta if self.step else 0.0, epoch_done=not stopped)
            self.last_save, self.last_save_step = time.monotonic(), self.step
        return stopped

    def end_epoch(self, beta: float, epoch_done: bool) -> None:
        s = self.global_sums()
        n = max(self.n_mol, 1)
        row: dict[str, float] = {
            "epoch": self.epoch
            + (1 if epoch_done else self.batch_in_epoch / max(1, math.ceil(len(self.train_idx) / self.cfg.batch_size))),
            "step": self.step,
            "minutes": self.elapsed / 60,
            "cpu_hours": self.cpu_seconds / 3600,
            "beta": beta,
            "train_loss": s["loss"] / n,
            "train_recon": s["recon"] / n,
            "train_kl": s["kl"] / n,
            "train_prop": s["prop"] / n,
            "train_acc": s["correct"] / max(s["tokens"], 1),
        }
        if epoch_done:
            self.epoch += 1
            self.batch_in_epoch = 0
        self.sums.zero_()
        self.n_mol = 0
        if not self.main:  # rank 0 validates and writes; the others wait for it in save_last
            self.save_last()
            return
        row.update(self.validate())
        self.history.append(row)
        # Best by the objective training ends with (reconstruction + final beta * KL) on the
        # validation set; with no validation set (fine-tuning), on the training set, as logged.
        part = "val" if len(self.val_idx) else "train"
        shown = ["epoch", f"{part}_recon", f"{part}_kl", f"{part}_acc", "val_exact_recon", "sample_validity"]
        log.info(
            f"epoch %.2f: {part} recon %.3f, KL %.2f, acc %.3f, exact %.3f, valid %.3f, unique %.3f",
            *(row[k] for k in [*shown, "sample_uniqueness"]),
        )
        score = row[f"{part}_recon"] + self.cfg.beta * row[f"{part}_kl"]
        if score < self.best or not (self.out / "best.ckpt").is_file():
            self.best = min(score, self.best)
            self.stale = 0
            self.record().write(self.out / "best.ckpt")
        elif epoch_done:
            self.stale += 1
        self.save_last()
        self.write_history()

    def write_history(self) -> None:
        write_history(self.out, self.history)
        if self.history:
            plot_curves(self.history, self.out / "curves.png")


def train(
    data_path: str | Path,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    resume: bool = False,
    progress: bool = True,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """Train a conditional VAE on a molecule file; return the path of the best checkpoint.

    With ``resume=True`` the run in ``out_dir`` continues from ``last.ckpt`` exactly where it
    stopped (mid-epoch included) with its saved configuration, or starts with the saved
    ``config.toml`` when the run never reached a checkpoint. ``overrides`` (options given with
    ``resume``) may only change settings in :data:`molvae.train.runs.RESUMABLE` (``epochs``,
    ``max_minutes``, where it runs and how often it checkpoints); others are a :class:`ConfigError`.

    ``progress`` shows progress bars (preprocessing, each epoch) on stderr; ``False`` is quiet.
    Raises :class:`TrainingInterrupted` after SIGINT/SIGTERM, with ``last.ckpt`` written.
    """
    warn_if_openmp_spins()
    trainer = Trainer(data_path, out_dir, config or TrainConfig(), resume, progress, overrides)
    try:
        return trainer.run()
    finally:
        trainer.close()
