"""Training configuration: one frozen dataclass, filled from defaults, a TOML file and options."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from molvae.errors import ConfigError
from molvae.io.tomlfile import check_keys, read_toml, toml_value
from molvae.nn.model import ModelConfig

FREEZABLE = ("embedding", "encoder", "decoder", "property_head")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on. Unknown keys in a TOML file are an error.

    The defaults are sized for about 10 minutes of training on 2 CPU cores and ~20k molecules
    (benchmarks/core_acceptance.py); for millions of molecules on a GPU, widen the model.
    """

    properties: tuple[str, ...] = ("logp", "qed", "sa")
    # data
    max_length: int = 100
    smiles_column: str | None = None
    val_fraction: float = 0.05
    val_max: int = 5000
    # model
    embed_dim: int = 48
    encoder_hidden: int = 192
    encoder_layers: int = 1
    latent_dim: int = 48
    decoder_hidden: int = 320
    decoder_layers: int = 1
    property_hidden: int = 128
    dropout: float = 0.0
    # optimisation
    epochs: int = 30
    # at least this many optimiser steps: epochs are raised to reach it on a small data set (0: off)
    min_steps: int = 0
    max_minutes: float | None = None
    batch_size: int = 128
    lr: float = 2e-3
    lr_schedule: str = "constant"  # constant | cosine (to lr * lr_final_fraction at the last step)
    lr_final_fraction: float = 0.05
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    # loss
    beta: float = 0.5
    kl_schedule: str = "linear"  # linear | cyclical | constant
    kl_warmup_epochs: float = 6.0
    kl_start_epochs: float = 0.0
    free_bits: float = 0.05
    property_weight: float = 1.0
    condition_dropout: float = 0.3
    word_dropout: float = 0.0
    # validation
    val_reconstruct: int = 500
    val_samples: int = 500
    # run
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # bf16 autocast on CUDA
    cpu_bf16: bool = False  # bf16 autocast on the CPU too: ~3x faster where it has AVX512-BF16/AMX, slower elsewhere
    # last.ckpt: first after first_checkpoint_minutes, then every checkpoint_minutes or
    # checkpoint_steps optimiser steps (0: no step limit), whichever comes first; and every epoch
    checkpoint_minutes: float = 2.0
    first_checkpoint_minutes: float = 1.0
    checkpoint_steps: int = 1000
    n_jobs: int | None = None
    # stop when the validation score has not improved for this many epochs (None: never)
    patience: int | None = None
    # parts of the network left as they are: embedding, encoder, decoder, property_head
    freeze: tuple[str, ...] = ()
    # fine-tuning: start from a trained model ("pretrained", a .ckpt file or a run folder); its
    # architecture, vocabulary (grown by the data's new symbols) and property scaler are kept
    init: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.properties, str):
            object.__setattr__(self, "properties", tuple(p.strip() for p in self.properties.split(",") if p.strip()))
        else:
            object.__setattr__(self, "properties", tuple(self.properties))
        if isinstance(self.freeze, str):
            object.__setattr__(self, "freeze", tuple(p.strip() for p in self.freeze.split(",") if p.strip()))
        else:
            object.__setattr__(self, "freeze", tuple(self.freeze))
        from molvae.chem.properties import resolve

        object.__setattr__(self, "properties", tuple(resolve(self.properties)))
        checks = [
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.min_steps >= 0, "min_steps must be >= 0"),
            (self.batch_size >= 1, "batch_size must be at least 1"),
            (self.max_length >= 1, "max_length must be at least 1"),
            (0.0 <= self.val_fraction < 1.0, "val_fraction must be in [0, 1)"),
            (0.0 <= self.condition_dropout <= 1.0, "condition_dropout must be in [0, 1]"),
            (0.0 <= self.word_dropout < 1.0, "word_dropout must be in [0, 1)"),
            (
                self.kl_schedule in ("linear", "cyclical", "constant"),
                "kl_schedule must be linear, cyclical or constant",
            ),
            (self.beta >= 0 and self.free_bits >= 0, "beta and free_bits must be non-negative"),
            (self.lr > 0, "lr must be positive"),
            (self.lr_schedule in ("constant", "cosine"), "lr_schedule must be constant or cosine"),
            (0.0 <= self.lr_final_fraction <= 1.0, "lr_final_fraction must be in [0, 1]"),
            (self.max_minutes is None or self.max_minutes > 0, "max_minutes must be positive"),
            (min(self.checkpoint_minutes, self.first_checkpoint_minutes) >= 0, "checkpoint minutes must be >= 0"),
            (self.checkpoint_steps >= 0, "checkpoint_steps must be >= 0 (0: no step limit)"),
            (self.patience is None or self.patience >= 1, "patience must be at least 1"),
            (set(self.freeze) <= set(FREEZABLE), f"freeze takes {', '.join(FREEZABLE)}"),
            (self.latent_dim >= 1 and self.embed_dim >= 1, "latent_dim and embed_dim must be positive"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ConfigError(msg)

    def model_config(self, vocab_size: int, max_symbols: int) -> ModelConfig:
        return ModelConfig(
            vocab_size=vocab_size,
            n_properties=len(self.properties),
            max_length=max_symbols,
            embed_dim=self.embed_dim,
            encoder_hidden=self.encoder_hidden,
            encoder_layers=self.encoder_layers,
            latent_dim=self.latent_dim,
            decoder_hidden=self.decoder_hidden,
            decoder_layers=self.decoder_layers,
            property_hidden=self.property_hidden,
            dropout=self.dropout,
        )

    def epochs_for(self, n_train: int) -> int:
        """The epochs a run over ``n_train`` training molecules makes: ``epochs``, or more when
        that many would take fewer than ``min_steps`` optimiser steps."""
        steps_per_epoch = max(1, -(-n_train // self.batch_size))
        return max(self.epochs, -(-self.min_steps // steps_per_epoch))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["properties"] = list(self.properties)
        d["freeze"] = list(self.freeze)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        check_keys(d, (f.name for f in fields(cls)), "training configuration")
        try:
            return cls(**dict(d))
        except TypeError as exc:
            raise ConfigError(str(exc)) from None

    def replace(self, **changes: Any) -> TrainConfig:
        return self.from_dict({**self.to_dict(), **changes})


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file of training settings (flat keys, or under a ``[train]`` table)."""
    d = read_toml(path, "config file")
    if set(d) == {"train"} and isinstance(d["train"], dict):
        d = d["train"]
    return d


def to_toml(cfg: TrainConfig) -> str:
    """The resolved configuration as TOML text (None values are left out: they are defaults)."""
    lines = ["# molvae training configuration (resolved)"]
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if v is not None:
            lines.append(f"{f.name} = {toml_value(v)}")
    return "\n".join(lines) + "\n"
