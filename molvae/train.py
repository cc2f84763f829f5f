"""The training loop: KL schedule, validation, best/last checkpoints, mid-epoch resume.

No argument parsing here: :func:`train` takes a data file, a run folder and a
:class:`~molvae.config.TrainConfig`. The run folder receives ``config.toml`` (the resolved
settings), ``rejects.csv``, ``best.ckpt``, ``last.ckpt``, ``history.csv`` and ``curves.png``.
"""

from __future__ import annotations

import csv
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from molvae import checkpoint, distributed
from molvae.conditioning import PropertyScaler, random_mask
from molvae.config import TrainConfig, to_toml
from molvae.data import MoleculeData, bucketed_batches, load_molecules, split_indices, write_rejects
from molvae.errors import CheckpointError, ConfigError, DataError
from molvae.finetune import architecture_settings, remap_tokens, warm_start
from molvae.model import ConditionalVAE, ModelConfig, make_condition
from molvae.sampling import check_symbols, tokens_to_symbols
from molvae.tokens import Vocabulary

log = logging.getLogger(__name__)

HISTORY_FIELDS = [
    "epoch", "step", "minutes", "beta",
    "train_loss", "train_recon", "train_kl", "train_prop", "train_acc",
    "val_recon", "val_kl", "val_prop_mse", "val_acc", "val_exact_recon",
    "sample_validity", "sample_uniqueness",
]  # fmt: skip


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {name!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but no CUDA GPU is available")
    return dev


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


def sequence_tensor(data: MoleculeData) -> torch.Tensor:
    """[N, W+1] token ids with ``<end>`` after each molecule's symbols (pad 0 after)."""
    n, w = data.tokens.shape
    out = np.zeros((n, w + 1), dtype=np.int16)
    out[:, :w] = data.tokens
    out[np.arange(n), data.lengths.astype(np.int64)] = ConditionalVAE.END
    return torch.from_numpy(out)


def model_payload(
    model: ConditionalVAE,
    vocab: Vocabulary,
    scaler: PropertyScaler,
    cfg: TrainConfig,
    data_hash: str,
    train_hashes: np.ndarray,
) -> dict[str, Any]:
    """Everything a checkpoint needs to use the model (see :mod:`molvae.checkpoint`)."""
    return {
        "model_config": model.cfg.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "vocab": list(vocab.tokens),
        "property_names": list(scaler.names),
        "scaler": scaler.to_dict(),
        "max_length": model.cfg.max_length,
        "train_config": cfg.to_dict(),
        "data_hash": data_hash,
        "train_smiles_hashes": torch.from_numpy(train_hashes),
    }


@dataclass
class _Batch:
    tokens: torch.Tensor
    lengths: torch.Tensor  # on the CPU: packing needs them there, and a copy back would synchronise
    props: torch.Tensor


SYNC_EVERY = 25  # steps between the ranks' agreement on stopping / checkpointing (a host sync)


class Trainer:
    """Holds the state of one run; :func:`train` is the entry point.

    Runs in one process, or in each process of a ``torchrun`` launch (see :mod:`molvae.distributed`):
    every rank walks the same global batches and takes every ``world_size``-th molecule of each.
    """

    def __init__(self, data_path: str | Path, out_dir: str | Path, cfg: TrainConfig, resume: bool,
                 progress: bool, overrides: dict[str, Any] | None = None):
        self.out = Path(out_dir)
        last = self.out / "last.ckpt"
        state: dict[str, Any] | None = None
        if resume:
            if not last.is_file():
                raise CheckpointError(f"nothing to resume: {last} does not exist")
            state = checkpoint.load(last)
            if "training_state" not in state:
                raise CheckpointError(f"{last} holds no training state to resume from")
            # The run's own settings; only the length of training may change on resume.
            extra = {k: v for k, v in (overrides or {}).items() if v is not None}
            bad = sorted(set(extra) - {"epochs", "max_minutes"})
            if bad:
                raise ConfigError(f"only epochs and max_minutes can change on resume, not {', '.join(bad)}")
            cfg = TrainConfig.from_dict(state["train_config"]).replace(**extra)
        elif last.is_file():
            raise ConfigError(f"{self.out} already holds a run; use --resume to continue it or choose another --out")
        self.cfg = cfg
        self.dist = distributed.setup(cfg.device)
        self.main = self.dist.is_main
        self.progress = progress and self.main
        self.device = resolve_device(cfg.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.amp = cfg.amp and (self.device.type == "cuda" or cfg.cpu_bf16)
        if self.main:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.toml").write_text(to_toml(cfg))

        if not self.main:
            self.dist.barrier()  # rank 0 preprocesses (and caches); the others then read the cache
        data = load_molecules(
            data_path, cfg.properties, cfg.max_length, cfg.smiles_column, n_jobs=cfg.n_jobs, progress=self.progress
        )
        if self.main:
            self.dist.barrier()
            write_rejects(self.out / "rejects.csv", data.rejects)
            log.info("%s (rejects in %s)", data.summary(), self.out / "rejects.csv")
            if self.dist.enabled:
                log.info("distributed training: %d processes, global batch %d (about %d per process)",
                         self.dist.world_size, cfg.batch_size, math.ceil(cfg.batch_size / self.dist.world_size))
        self.data_summary = data.summary()
        if len(data.smiles) < 2:
            raise DataError("need at least 2 usable molecules to train")
        self.data_hash = data.source_hash
        warm = None
        if state is not None:
            if state.get("data_hash") != data.source_hash:
                raise CheckpointError("the data file differs from the one this run was trained on; cannot resume")
            self.vocab = Vocabulary(list(state["vocab"]))
        elif cfg.init:
            warm = warm_start(cfg.init, data.vocab.tokens, cfg.properties, data.properties,
                              int(data.tokens.shape[1]), cfg.seed)
            self.vocab = warm.vocab
            cfg = self.cfg = cfg.replace(**architecture_settings(warm.model_config))
            if self.main:
                (self.out / "config.toml").write_text(to_toml(cfg))
                log.info("starting from %s (%s)", cfg.init, warm.model_config)
        else:
            self.vocab = data.vocab
        if self.vocab.tokens != data.vocab.tokens:  # the run's vocabulary may hold more symbols
            data.tokens = remap_tokens(data.tokens, data.vocab, self.vocab)
        self.first_allowed = torch.tensor(self.vocab.atom_mask(), device=self.device)
        self.train_idx, self.val_idx = split_indices(len(data.smiles), cfg.val_fraction, cfg.seed)
        if len(self.val_idx) > cfg.val_max:
            self.val_idx = np.sort(np.random.default_rng(cfg.seed + 1).choice(self.val_idx, cfg.val_max, replace=False))
        if state is not None:
            self.scaler = PropertyScaler.from_dict(state["scaler"])
        elif warm is not None:
            self.scaler = warm.scaler
        else:
            self.scaler = PropertyScaler.fit(list(cfg.properties), data.properties[self.train_idx])
        self.train_hashes = checkpoint.smiles_hashes(data.smiles)
        self.val_smiles = [data.smiles[i] for i in self.val_idx]

        # The whole tokenised data set lives on the device; batches are gathered there.
        self.seqs = sequence_tensor(data).to(self.device)
        self.lengths_np = data.lengths.astype(np.int64) + 1
        self.props = torch.from_numpy(self.scaler.transform(data.properties)).to(self.device)

        if state is not None:
            mcfg = ModelConfig.from_dict(state["model_config"])
        elif warm is not None:
            mcfg = warm.model_config
        else:
            mcfg = cfg.model_config(len(self.vocab), int(data.tokens.shape[1]))
        with torch.random.fork_rng(devices=[]):  # seeded initialisation, global RNG untouched
            torch.manual_seed(cfg.seed)
            self.model = ConditionalVAE(mcfg).to(self.device)
        if state is not None:
            self.model.load_state_dict(state["state_dict"])
        elif warm is not None:
            self.model.load_state_dict(warm.state_dict)
        self.ddp = None
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            # device_ids=None: batches are already on the device, and DDP would otherwise copy the
            # CPU lengths to the GPU (and packing would copy them back, a sync per step)
            self.ddp = DistributedDataParallel(self.model, device_ids=None, gradient_as_bucket_view=True)
        freeze_parts(self.model, cfg.freeze)
        fused = {"fused": True} if self.device.type == "cuda" else {}
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay, **fused)
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(cfg.seed)
        self.epoch, self.batch_in_epoch, self.step = 0, 0, 0
        self.elapsed = 0.0
        self.best = math.inf
        self.stale = 0  # epochs since the validation score last improved (for ``patience``)
        self.history: list[dict[str, float]] = []
        # Loss sums of this rank's molecules (summed over ranks when read); n_mol counts all ranks'.
        self.sums = torch.zeros(6, device=self.device)  # loss, recon, kl, prop, correct, tokens
        self.n_mol = 0
        if state is not None:
            ts = state["training_state"]
            self.opt.load_state_dict(ts["optimizer"])
            self.epoch, self.batch_in_epoch, self.step = ts["epoch"], ts["batch_in_epoch"], ts["step"]
            self.elapsed, self.best = ts["elapsed_seconds"], ts["best"]
            self.stale = int(ts.get("stale", 0))
            self.history = list(ts["history"])
            if self.main:  # the saved sums are global: one rank carries them on
                self.sums = ts["sums"].to(self.device)
            self.n_mol = ts["n_mol"]
            self.gen.set_state(ts["generator"])
            log.info("resuming at epoch %d, batch %d (step %d)", self.epoch + 1, self.batch_in_epoch, self.step)

    def close(self) -> None:
        distributed.teardown(self.dist)

    # ------------------------------------------------------------------ helpers
    def batch(self, idx: np.ndarray) -> _Batch:
        t = torch.from_numpy(idx).to(self.device)
        width = int(self.lengths_np[idx].max())
        return _Batch(self.seqs[t, :width].long(), torch.from_numpy(self.lengths_np[idx]), self.props[t])

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

    def losses(self, b: _Batch, beta: float, mask: torch.Tensor, train: bool, n_total: int | None = None,
               eps: torch.Tensor | None = None, drop: torch.Tensor | None = None,
               weight: float = 1.0) -> dict[str, torch.Tensor]:
        """Loss terms of a batch as this rank's share of per-molecule sums over ``n_total`` molecules.

        In a single process (``n_total`` = batch size) they are the batch means. Across ranks they
        add up to the global batch's means; the free-bits decision uses the global KL per dimension.
        ``weight`` 0 marks a placeholder batch of a rank that has no molecule in this step.
        """
        n_total = n_total or b.tokens.size(0)
        shard = train and self.dist.enabled
        cond = make_condition(b.props, mask)
        model = self.ddp if shard else self.model
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            out = model(b.tokens, b.lengths, cond, generator=self.gen,
                        word_dropout=self.cfg.word_dropout if train else 0.0, eps=eps, drop=drop)
        logits = out["logits"].float()
        scale = weight / n_total
        recon = F.cross_entropy(logits.transpose(1, 2), b.tokens, ignore_index=ConditionalVAE.PAD, reduction="sum") * scale
        mu, logvar = out["mu"].float(), out["logvar"].float()
        kl_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(0) * scale  # [latent_dim]
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
        return {"loss": loss, "recon": recon, "kl": kl, "prop": prop, "correct": correct,
                "tokens": nonpad.sum() * int(weight), "mu": mu}

    def global_sums(self) -> list[float]:
        """The running loss sums over every rank's molecules."""
        return self.dist.all_reduce_(self.sums.detach().clone()).tolist()

    def save_last(self) -> None:
        """Write ``last.ckpt``: every rank must call it (the running sums are summed over the ranks
        first), rank 0 writes."""
        sums = self.global_sums()
        if not self.main:
            return
        payload = model_payload(self.model, self.vocab, self.scaler, self.cfg, self.data_hash, self.train_hashes)
        payload["training_state"] = {
            "optimizer": self.opt.state_dict(),
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "step": self.step,
            "elapsed_seconds": self.elapsed,
            "best": self.best,
            "stale": self.stale,
            "history": self.history,
            "sums": torch.tensor(sums),
            "n_mol": self.n_mol,
            "generator": self.gen.get_state(),
        }
        checkpoint.save(self.out / "last.ckpt", payload)

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        self.model.eval()
        cfg = self.cfg
        g = torch.Generator(device=self.device)
        g.manual_seed(cfg.seed + 12345)
        saved_gen, self.gen = self.gen, g
        totals = np.zeros(5)
        mus = []
        try:
            for start in range(0, len(self.val_idx), 512):
                b = self.batch(self.val_idx[start : start + 512])
                mask = torch.ones_like(b.props)
                r = self.losses(b, 0.0, mask, train=False)
                n = b.tokens.size(0)
                totals += [r["recon"].item() * n, r["kl"].item() * n, r["prop"].item() * n, r["correct"].item(), r["tokens"].item()]
                mus.append(r["mu"])
        finally:
            self.gen = saved_gen
        n_val = max(len(self.val_idx), 1)
        row = {
            "val_recon": totals[0] / n_val,
            "val_kl": totals[1] / n_val,
            "val_prop_mse": totals[2] / n_val,
            "val_acc": totals[3] / max(totals[4], 1),
        }
        # exact reconstruction: greedy decode of the posterior mean, condition fully given
        k = min(cfg.val_reconstruct, len(self.val_idx))
        if k > 0:
            mu = torch.cat(mus)[:k]
            idx = self.val_idx[:k]
            cond = make_condition(self.props[torch.from_numpy(idx).to(self.device)], torch.ones(k, len(self.scaler.names), device=self.device))
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
        b = _Batch(self.seqs[t, :width].long(), torch.from_numpy(self.lengths_np[local]), self.props[t])
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
        r = self.losses(b, beta, mask, train=True, n_total=n, eps=eps, drop=drop,
                        weight=1.0 if n > rank else 0.0)
        self.opt.zero_grad(set_to_none=True)
        (r["loss"] * world if world > 1 else r["loss"]).backward()  # DDP averages over ranks
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.opt.step()
        self.sums += torch.stack([r["loss"].detach() * n, r["recon"].detach() * n, r["kl"].detach() * n,
                                  r["prop"].detach() * n, r["correct"].float(), r["tokens"].float()])
        self.n_mol += n
        self.step += 1
        self.batch_in_epoch += 1
        return beta

    def run(self) -> Path:
        from tqdm.auto import tqdm

        cfg = self.cfg
        world = self.dist.world_size
        limit = cfg.max_minutes * 60 if cfg.max_minutes else math.inf
        last_save = last_shown = time.monotonic()
        t0 = time.monotonic() - self.elapsed
        self.model.train()
        out_of_time = self.elapsed >= limit
        while self.epoch < cfg.epochs and not out_of_time and not self.patience_exhausted():
            batches, local_idx, offsets = self.epoch_plan()
            bar = tqdm(total=len(batches), initial=self.batch_in_epoch, desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
                       disable=not self.progress, leave=False, dynamic_ncols=True)
            while self.batch_in_epoch < len(batches):
                beta = self.train_step(batches, local_idx, offsets)
                bar.update(1)
                now = time.monotonic()
                if self.progress and now - last_shown > 2.0:  # reading the sums synchronises: rarely
                    last_shown = now
                    s = [x * world for x in self.sums.tolist()]  # rank 0's share, scaled
                    bar.set_postfix(loss=f"{s[0] / self.n_mol:.2f}", kl=f"{s[2] / self.n_mol:.2f}",
                                    acc=f"{s[4] / max(s[5], 1):.3f}", beta=f"{beta:.3f}")
                self.elapsed = now - t0
                stop, save = self.elapsed >= limit, now - last_save > cfg.checkpoint_minutes * 60
                if world > 1:  # every rank must make the same choice; agree every SYNC_EVERY steps
                    if self.step % SYNC_EVERY:
                        stop = save = False
                    else:
                        flags = self.dist.all_reduce_(torch.tensor([float(stop), float(save)], device=self.device), "max")
                        stop, save = (bool(x) for x in flags.tolist())
                if stop:
                    out_of_time = True
                    break
                if save:
                    self.save_last()
                    last_save = time.monotonic()
            bar.close()
            self.end_epoch(beta if self.step else 0.0, epoch_done=not out_of_time)
            last_save = time.monotonic()
        if out_of_time:
            log.info("stopped after %.1f minutes (max_minutes=%s)", self.elapsed / 60, cfg.max_minutes)
        elif self.patience_exhausted():
            log.info("stopped early: no improvement of the validation score for %d epochs", self.stale)
        if self.main:
            self.write_history()
        self.dist.barrier()  # the files are complete before any process returns
        best = self.out / "best.ckpt"
        return best if best.is_file() else self.out / "last.ckpt"

    def patience_exhausted(self) -> bool:
        return self.cfg.patience is not None and self.stale >= self.cfg.patience

    def end_epoch(self, beta: float, epoch_done: bool) -> None:
        s = self.global_sums()
        n = max(self.n_mol, 1)
        row: dict[str, float] = {
            "epoch": self.epoch + (1 if epoch_done else self.batch_in_epoch / max(1, math.ceil(len(self.train_idx) / self.cfg.batch_size))),
            "step": self.step,
            "minutes": self.elapsed / 60,
            "beta": beta,
            "train_loss": s[0] / n, "train_recon": s[1] / n, "train_kl": s[2] / n, "train_prop": s[3] / n,
            "train_acc": s[4] / max(s[5], 1),
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
        log.info(
            "epoch %.2f: val recon %.3f, KL %.2f, acc %.3f, exact %.3f, valid %.3f, unique %.3f",
            row["epoch"], row["val_recon"], row["val_kl"], row["val_acc"], row["val_exact_recon"],
            row["sample_validity"], row["sample_uniqueness"],
        )
        # Best by the objective training ends with (reconstruction + final beta * KL) on the
        # validation set; with no validation set, on the training set.
        if len(self.val_idx):
            score = row["val_recon"] + self.cfg.beta * row["val_kl"]
        else:
            score = row["train_recon"] + self.cfg.beta * row["train_kl"]
        if score < self.best or not (self.out / "best.ckpt").is_file():
            self.best = min(score, self.best)
            self.stale = 0
            checkpoint.save(
                self.out / "best.ckpt",
                model_payload(self.model, self.vocab, self.scaler, self.cfg, self.data_hash, self.train_hashes),
            )
        elif epoch_done:
            self.stale += 1
        self.save_last()
        self.write_history()

    def write_history(self) -> None:
        with open(self.out / "history.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS)
            w.writeheader()
            for row in self.history:
                w.writerow({k: (f"{row[k]:.6g}" if isinstance(row.get(k), float) else row.get(k)) for k in HISTORY_FIELDS})
        if self.history:
            plot_curves(self.history, self.out / "curves.png")


def freeze_parts(model: ConditionalVAE, parts: tuple[str, ...]) -> None:
    """Stop training the named parts (``embedding``, ``encoder``, ``decoder``, ``property_head``).

    The token embedding is shared by encoder and decoder: it is frozen only when named itself.
    """
    shared = model.embedding.weight
    for part in parts:
        for p in getattr(model, part).parameters():
            if part == "embedding" or p is not shared:
                p.requires_grad_(False)
    if parts:
        n = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        log.info("frozen: %s (%d parameters)", ", ".join(parts), n)


def plot_curves(history: list[dict[str, float]], path: Path) -> None:
    """Training curves: losses, KL and β, accuracies, sample quality, against epochs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(2, 2, figsize=(10, 7))
    panels = [
        (ax[0, 0], "reconstruction loss (nats/molecule)", ["train_recon", "val_recon"]),
        (ax[0, 1], "KL (nats) and beta", ["train_kl", "val_kl", "beta"]),
        (ax[1, 0], "accuracy", ["train_acc", "val_acc", "val_exact_recon"]),
        (ax[1, 1], "prior sample quality / property MSE", ["sample_validity", "sample_uniqueness", "val_prop_mse"]),
    ]
    for a, title, keys in panels:
        for k in keys:
            a.plot(ep, [h.get(k, float("nan")) for h in history], marker="o", ms=3, label=k)
        a.set_title(title, fontsize=10)
        a.set_xlabel("epoch")
        a.legend(fontsize=8)
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def train(
    data_path: str | Path,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    resume: bool = False,
    progress: bool = False,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """Train a conditional VAE on a molecule file; return the path of the best checkpoint.

    With ``resume=True`` the run in ``out_dir`` continues from ``last.ckpt`` exactly where it
    stopped (mid-epoch included) with its saved configuration; ``overrides`` may only change
    ``epochs`` and ``max_minutes`` (to extend a run).
    """
    trainer = Trainer(data_path, out_dir, config or TrainConfig(), resume, progress, overrides)
    try:
        return trainer.run()
    finally:
        trainer.close()
