"""Setting up a training run: the steps :class:`molvae.train.loop.Trainer` is built in.

A run's settings come from its config (or, on resume, from its checkpoint or saved config); its
vocabulary, scaler and weights from the checkpoint on resume, from a trained base model on a warm
start (:mod:`molvae.train.finetune`), else from the data.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from molvae.data.conditioning import PropertyScaler
from molvae.data.dataset import MoleculeData, load_molecules, split_indices, write_rejects
from molvae.errors import CheckpointError, DataError
from molvae.nn.checkpoint import ModelRecord, smiles_hashes
from molvae.nn.model import ConditionalVAE
from molvae.runtime.device import resolve_device
from molvae.train import distributed
from molvae.train.config import TrainConfig
from molvae.train.finetune import WarmStart, architecture_settings, remap_tokens, warm_start
from molvae.train.runs import RunFolder, resume_settings
from molvae.train.schedules import LossSums

log = logging.getLogger(__name__)


@dataclass
class TrainBatch:
    """Token ids, lengths and standardised properties of the molecules of one training step."""

    tokens: torch.Tensor
    lengths: torch.Tensor  # on the CPU: packing needs them there, and a copy back would synchronise
    props: torch.Tensor


def sequence_tensor(data: MoleculeData) -> torch.Tensor:
    """[N, W+1] token ids with ``<end>`` after each molecule's symbols (pad 0 after)."""
    n, w = data.tokens.shape
    out = np.zeros((n, w + 1), dtype=np.int16)
    out[:, :w] = data.tokens
    out[np.arange(n), data.lengths.astype(np.int64)] = ConditionalVAE.END
    return torch.from_numpy(out)


class TrainerSetup:
    """The set-up of a run, in named steps: settings (resume rules), processes and device, data,
    vocabulary (resume, warm start or the data's), split and scaler, model, optimiser, restored
    state. :class:`molvae.train.loop.Trainer` adds the training loop.
    """

    def __init__(
        self,
        data_path: str | Path,
        out_dir: str | Path,
        cfg: TrainConfig,
        resume: bool,
        progress: bool,
        overrides: dict[str, Any] | None = None,
    ):
        self.out = Path(out_dir)
        saved, cfg = resume_settings(self.out, cfg, resume, overrides)
        self._start_processes(cfg, progress)
        self.folder = RunFolder(self.out, write=self.main)
        try:
            data = self._load_data(data_path)
            warm = self._choose_vocabulary(data, saved)
            self._split_and_scale(data, saved, warm)
            self._build_model(saved, warm, int(data.tokens.shape[1]))
            self._build_optimiser()
            if saved is not None:
                self._restore(saved.training_state or {})
        except BaseException:
            self.folder.discard()  # nothing trained yet: no half-made run folder blocks a re-run
            self.close()
            raise

    # ------------------------------------------------------------------ set-up steps
    def _start_processes(self, cfg: TrainConfig, progress: bool) -> None:
        """The run's settings, its process group (under torchrun) and device."""
        self.cfg = cfg
        self.dist = distributed.setup(cfg.device)
        self.main = self.dist.is_main
        self.progress = progress and self.main
        self.device = resolve_device(cfg.device)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        self.amp = cfg.amp and (self.device.type == "cuda" or cfg.cpu_bf16)

    def _load_data(self, data_path: str | Path) -> MoleculeData:
        """Write the resolved config, read (and cache) the molecules, write the rejects."""
        cfg = self.cfg
        self.folder.write_config(cfg)
        if not self.main:
            self.dist.barrier()  # rank 0 preprocesses (and caches); the others then read the cache
        data = load_molecules(
            data_path, cfg.properties, cfg.max_length, cfg.smiles_column, n_jobs=cfg.n_jobs, progress=self.progress
        )
        if self.main:
            self.dist.barrier()
            write_rejects(self.folder.created(self.out / "rejects.csv"), data.rejects)
            log.info("%s (rejects in %s)", data.summary(), self.out / "rejects.csv")
            if self.dist.enabled:
                log.info(
                    "distributed training: %d processes, global batch %d (about %d per process)",
                    self.dist.world_size,
                    cfg.batch_size,
                    math.ceil(cfg.batch_size / self.dist.world_size),
                )
        if len(data.smiles) < 2:
            raise DataError("need at least 2 usable molecules to train")
        self.data_hash = data.source_hash
        return data

    def _choose_vocabulary(self, data: MoleculeData, saved: ModelRecord | None) -> WarmStart | None:
        """The run's vocabulary: the checkpoint's on resume, the base model's grown by the data's new
        symbols on a warm start (whose architecture the config then takes), else the data's own."""
        warm = None
        self.temperature = 1.0  # default sampling temperature of the model: a base model's is kept
        if saved is not None:
            self.temperature = saved.temperature
            if saved.data_hash != data.source_hash:
                raise CheckpointError("the data file differs from the one this run was trained on; cannot resume")
            self.vocab = saved.vocab
        elif self.cfg.init:
            warm = warm_start(
                self.cfg.init,
                data.vocab.tokens,
                self.cfg.properties,
                data.properties,
                int(data.tokens.shape[1]),
                self.cfg.seed,
            )
            self.vocab = warm.vocab
            self.temperature = warm.temperature
            self.cfg = self.cfg.replace(**architecture_settings(warm.model_config))
            self.folder.write_config(self.cfg)
            log.info("starting from %s (%s)", self.cfg.init, warm.model_config)
        else:
            self.vocab = data.vocab
        if self.vocab.tokens != data.vocab.tokens:  # the run's vocabulary may hold more symbols
            data.tokens = remap_tokens(data.tokens, data.vocab, self.vocab)
        self.first_allowed = torch.tensor(self.vocab.atom_mask(), device=self.device)
        return warm

    def _split_and_scale(self, data: MoleculeData, saved: ModelRecord | None, warm: WarmStart | None) -> None:
        """Train/validation split, property scaler, and the tokenised data set on the device."""
        cfg = self.cfg
        self.train_idx, self.val_idx = split_indices(len(data.smiles), cfg.val_fraction, cfg.seed)
        if len(self.val_idx) > cfg.val_max:
            self.val_idx = np.sort(np.random.default_rng(cfg.seed + 1).choice(self.val_idx, cfg.val_max, replace=False))
        epochs = cfg.epochs_for(len(self.train_idx))
        if saved is None and epochs != cfg.epochs:  # a small data set: epochs for min_steps optimiser steps
            # (saved in the run's config; a resumed run keeps them, or takes the --epochs it is given)
            log.info("%d epochs (min_steps=%d on %d molecules)", epochs, cfg.min_steps, len(self.train_idx))
            self.cfg = cfg = cfg.replace(epochs=epochs)
            self.folder.write_config(cfg)
        if saved is not None:
            self.scaler = saved.scaler
        elif warm is not None:
            self.scaler = warm.scaler
        else:
            self.scaler = PropertyScaler.fit(list(cfg.properties), data.properties[self.train_idx])
        self.train_hashes = smiles_hashes(data.smiles)
        self.val_smiles = [data.smiles[i] for i in self.val_idx]
        # The whole tokenised data set lives on the device; batches are gathered there.
        self.seqs = sequence_tensor(data).to(self.device)
        self.lengths_np = data.lengths.astype(np.int64) + 1
        self.props = torch.from_numpy(self.scaler.transform(data.properties)).to(self.device)

    def _build_model(self, saved: ModelRecord | None, warm: WarmStart | None, max_symbols: int) -> None:
        """The network (seeded; the checkpoint's or base model's weights when there are some), and DDP."""
        if saved is not None:
            mcfg, weights = saved.model_config, saved.state_dict
        elif warm is not None:
            mcfg, weights = warm.model_config, warm.state_dict
        else:
            mcfg, weights = self.cfg.model_config(len(self.vocab), max_symbols), None
        with torch.random.fork_rng(devices=[]):  # seeded initialisation, global RNG untouched
            torch.manual_seed(self.cfg.seed)
            self.model = ConditionalVAE(mcfg).to(self.device)
        if weights is not None:
            self.model.load_state_dict(weights)
        self.ddp = None
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel

            # device_ids=None: batches are already on the device, and DDP would otherwise copy the
            # CPU lengths to the GPU (and packing would copy them back, a sync per step)
            self.ddp = DistributedDataParallel(self.model, device_ids=None, gradient_as_bucket_view=True)

    def _build_optimiser(self) -> None:
        """AdamW over the parts not frozen, the run's random generator, and the counters of a fresh run."""
        cfg = self.cfg
        freeze_parts(self.model, cfg.freeze)
        fused: dict[str, Any] = {"fused": True} if self.device.type == "cuda" else {}
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.opt = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay, **fused)
        self.gen = torch.Generator(device=self.device)
        self.gen.manual_seed(cfg.seed)
        self.epoch, self.batch_in_epoch, self.step = 0, 0, 0
        self.elapsed = 0.0
        self.cpu_seconds = 0.0  # this process's CPU time (all threads) in training, resumed chunks included
        self.best = math.inf
        self.stale = 0  # epochs since the validation score last improved (for ``patience``)
        self.history: list[dict[str, float]] = []
        # Loss sums of this rank's molecules (summed over ranks when read); n_mol counts all ranks'.
        self.sums = LossSums(self.device)
        self.n_mol = 0
        self.has_checkpoint = False

    def _restore(self, ts: dict[str, Any]) -> None:
        """Continue from a ``last.ckpt`` training state exactly where it stopped."""
        self.opt.load_state_dict(ts["optimizer"])
        self.epoch, self.batch_in_epoch, self.step = ts["epoch"], ts["batch_in_epoch"], ts["step"]
        self.elapsed, self.best = ts["elapsed_seconds"], ts["best"]
        self.cpu_seconds = float(ts.get("cpu_seconds", 0.0))  # older checkpoints did not count it
        self.stale = int(ts.get("stale", 0))
        self.history = list(ts["history"])
        if self.main:  # the saved sums are global: one rank carries them on
            self.sums.load(ts["sums"])
        self.n_mol = ts["n_mol"]
        self.gen.set_state(ts["generator"])
        self.has_checkpoint = True
        log.info("resuming at epoch %d, batch %d (step %d)", self.epoch + 1, self.batch_in_epoch, self.step)

    def close(self) -> None:
        distributed.teardown(self.dist)

    def record(self) -> ModelRecord:
        """The model as a checkpoint record (weights on the CPU, no training state)."""
        return ModelRecord.of_model(
            self.model, self.vocab, self.scaler, self.cfg.to_dict(), self.data_hash, self.train_hashes, self.temperature
        )


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
