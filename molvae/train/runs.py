"""A training run's folder and life: the settings of a resumed run, a folder that a failed start
leaves clean, and the error of a run stopped by SIGINT/SIGTERM with a checkpoint written first
(the signals are caught by :class:`molvae.runtime.signals.StopSignals`)."""

from __future__ import annotations

import csv
import logging
import shutil
from dataclasses import fields
from pathlib import Path
from typing import Any

from molvae.errors import CheckpointError, ConfigError, Interrupted
from molvae.nn.checkpoint import ModelRecord
from molvae.train.config import TrainConfig, load_toml, to_toml

log = logging.getLogger(__name__)

#: settings that may change when a run is resumed: its length, where it runs, how often it checkpoints
RESUMABLE = (
    "epochs",
    "max_minutes",
    "device",
    "n_jobs",
    "checkpoint_minutes",
    "first_checkpoint_minutes",
    "checkpoint_steps",
)


def resume_settings(
    out: Path, cfg: TrainConfig, resume: bool, overrides: dict[str, Any] | None
) -> tuple[ModelRecord | None, TrainConfig]:
    """The checkpoint to continue from (None: start afresh) and the run's settings.

    Resuming takes the settings saved in ``last.ckpt`` or, when the run never reached a
    checkpoint, in ``config.toml``; ``overrides`` may change only the :data:`RESUMABLE` ones.
    A new run needs a folder without ``last.ckpt``.
    """
    last = out / "last.ckpt"
    if not resume:
        if last.is_file():
            raise ConfigError(f"{out} already holds a run; use --resume to continue it or choose another --out")
        return None, cfg
    if last.is_file():
        saved: ModelRecord | None = ModelRecord.read(last)
        if saved is None or saved.training_state is None:
            raise CheckpointError(f"{last} holds no training state to resume from")
        base = TrainConfig.from_dict(saved.train_config)
    elif (out / "config.toml").is_file():
        saved = None
        base = TrainConfig.from_dict(load_toml(out / "config.toml"))
        log.info("%s holds no checkpoint yet: starting the run with its saved settings", out)
    else:
        raise CheckpointError(f"nothing to resume: {out} holds neither last.ckpt nor config.toml")
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    wanted = base.replace(**given)
    changed = [f.name for f in fields(TrainConfig) if getattr(wanted, f.name) != getattr(base, f.name)]
    fixed = [k for k in changed if k not in RESUMABLE]
    if fixed:
        raise ConfigError(
            f"cannot change {', '.join(fixed)} when resuming: a run keeps its settings "
            f"(only {', '.join(RESUMABLE)} may change); start a new run with another --out"
        )
    return saved, wanted


class RunFolder:
    """The run folder as this process makes it: :meth:`discard` removes what this run created."""

    def __init__(self, path: Path, write: bool = True):
        self.path, self.write = path, write
        self.existed = path.exists()
        self.new_files: list[Path] = []

    def created(self, file: Path) -> Path:
        """Note ``file`` as this run's if it does not exist yet; returns it."""
        if self.write and not file.exists() and file not in self.new_files:
            self.new_files.append(file)
        return file

    def write_config(self, cfg: TrainConfig) -> None:
        """Write the resolved ``config.toml`` (the main process only)."""
        if self.write:
            self.path.mkdir(parents=True, exist_ok=True)
            self.created(self.path / "config.toml").write_text(to_toml(cfg))

    def discard(self) -> None:
        """Remove the files this run created, and the folder when this run made it."""
        if not self.write:
            return
        if not self.existed:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for f in self.new_files:
            f.unlink(missing_ok=True)


class TrainingInterrupted(Interrupted):
    """Training stopped on SIGINT/SIGTERM after writing ``last.ckpt``; ``--resume`` continues it."""

    def __init__(self, signal_name: str, checkpoint: Path, epoch: int, step: int):
        self.checkpoint = checkpoint
        super().__init__(
            signal_name,
            f"training interrupted by {signal_name} in epoch {epoch + 1} (step {step}); "
            f"{checkpoint} is saved: continue with --resume",
        )


HISTORY_FIELDS = [
    "epoch", "step", "minutes", "cpu_hours", "beta",
    "train_loss", "train_recon", "train_kl", "train_prop", "train_acc",
    "val_recon", "val_kl", "val_prop_mse", "val_acc", "val_nll_token", "val_exact_recon",
    "sample_validity", "sample_uniqueness",
]  # fmt: skip


def write_history(out: Path, history: list[dict[str, float]]) -> None:
    """``history.csv`` of a run folder: one row per validation (epoch end or a stop)."""
    with open(out / "history.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=HISTORY_FIELDS, lineterminator="\n")
        w.writeheader()
        for row in history:
            w.writerow({k: (f"{row[k]:.6g}" if isinstance(row.get(k), float) else row.get(k)) for k in HISTORY_FIELDS})
