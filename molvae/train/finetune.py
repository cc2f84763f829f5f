"""Start a training run from a trained model: fine-tuning and warm starts.

A run with ``init`` set (``molvae train DATA --init pretrained``) keeps the base model's
architecture, weights and property scaler, and its vocabulary grown by any SELFIES symbol of the
new data that the base lacks, so molecules with charges, stereocentres or new elements are
learnt rather than rejected:

- a new symbol's embedding is the mean of the base's symbol embeddings (a "typical" token the
  network already knows how to read), and its output row is the mean output row with the
  smallest base bias, so the model does not emit it until training has taught it where;
- properties shared with the base keep their condition weights (the last ``2 * P`` input columns
  of every layer that reads the condition) and their scaler statistics; a property the base did
  not know gets zero condition weights (it has no effect until learnt), a freshly initialised
  property-head output and a scaler fitted on the new data; a base property the run drops is
  removed from every layer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from molvae.data.conditioning import PropertyScaler
from molvae.data.vocabulary import SPECIAL, Vocabulary
from molvae.errors import CheckpointError
from molvae.nn import checkpoint
from molvae.nn.model import ConditionalVAE, ModelConfig

log = logging.getLogger(__name__)

# Weights whose last 2 * P input columns read the condition vector [values, mask].
CONDITION_INPUTS = (
    "encoder.gru.weight_ih_l0",
    "encoder.gru.weight_ih_l0_reverse",
    "encoder.to_stats.weight",
    "decoder.init_hidden.weight",
    "decoder.gru.weight_ih_l0",
)
# Weights with one row per vocabulary token.
TOKEN_ROWS = ("embedding.weight", "encoder.embedding.weight", "decoder.embedding.weight")
PROPERTY_ROWS = ("property_head.net.4.weight", "property_head.net.4.bias")


def finetune_settings() -> dict[str, Any]:
    """Training settings for a few dozen to tens of thousands of molecules from a trained model.

    A lower learning rate on a cosine schedule and the KL weight at its final value from the first
    step (the base model is already trained). Every molecule is trained on (no validation split,
    so the best checkpoint is the one that fits the series best, and no early stopping on a
    handful of held-out molecules, which stopped a run on 90 drugs after 34 steps, before it had
    learnt a single stereocentre) for at least ``min_steps`` optimiser steps, however small the
    series. Explicit settings override these.
    """
    return {
        "lr": 1e-3,
        "lr_schedule": "cosine",
        "epochs": 30,
        "min_steps": 600,
        "batch_size": 32,
        "kl_schedule": "constant",
        "val_fraction": 0.0,
        "val_reconstruct": 200,
        "val_samples": 100,
        "checkpoint_minutes": 1.0,
    }


def with_finetune_defaults(settings: Mapping[str, Any]) -> dict[str, Any]:
    """``settings`` (a user's) over :func:`finetune_settings`; epochs given there are kept as given:
    ``min_steps`` then applies only when given too."""
    merged = finetune_settings() | dict(settings)
    if "epochs" in settings and "min_steps" not in settings:
        merged["min_steps"] = 0
    return merged


def load_base(spec: str | Path) -> dict[str, Any]:
    """The checkpoint a model name stands for: ``pretrained``, a ``.ckpt`` file or a run folder
    (whose ``best.ckpt``, else ``last.ckpt``, :func:`molvae.nn.checkpoint.load` picks)."""
    if str(spec) == "pretrained":
        return checkpoint.load(checkpoint.pretrained_path())
    if not Path(spec).exists():
        raise CheckpointError(f"no such model: {spec} (a .ckpt file, a run folder, or 'pretrained')")
    return checkpoint.load(spec)


def base_properties(spec: str | Path) -> list[str]:
    """The properties a trained model is conditioned on (the default of a run started from it)."""
    return list(load_base(spec)["property_names"])


@dataclass
class WarmStart:
    """What a run takes from its base model."""

    model_config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    vocab: Vocabulary
    scaler: PropertyScaler
    added_symbols: list[str]
    source: str
    temperature: float = 1.0  # the base model's default sampling temperature, which the new model keeps


def grown_vocabulary(base: Vocabulary, symbols: Sequence[str]) -> tuple[Vocabulary, list[str]]:
    """The base vocabulary with the symbols it lacks appended (sorted); also those symbols."""
    added = sorted(set(symbols) - set(base.tokens) - set(SPECIAL))
    return Vocabulary(list(base.tokens) + added), added


def remap_tokens(tokens: np.ndarray, source: Vocabulary, target: Vocabulary) -> np.ndarray:
    """Token ids of ``source`` rewritten as ids of ``target`` (which holds every source token)."""
    lacking = [t for t in source.tokens if t not in target.index]
    if lacking:
        raise CheckpointError(f"the model's vocabulary lacks the SELFIES tokens {' '.join(lacking)}")
    table = np.array([target.index[t] for t in source.tokens], dtype=np.int64)
    dtype = np.uint8 if len(target) < 256 else np.int16
    return table[tokens.astype(np.int64)].astype(dtype)


def _grow_rows(state: dict[str, torch.Tensor], n_old: int, n_new: int) -> None:
    extra = n_new - n_old
    if extra <= 0:
        return
    for key in TOKEN_ROWS:
        w = state[key]
        fill = w[len(SPECIAL) : n_old].mean(0, keepdim=True).expand(extra, -1)
        state[key] = torch.cat([w, fill], 0)
    w, b = state["decoder.out.weight"], state["decoder.out.bias"]
    state["decoder.out.weight"] = torch.cat([w, w[len(SPECIAL) : n_old].mean(0, keepdim=True).expand(extra, -1)], 0)
    state["decoder.out.bias"] = torch.cat([b, b[len(SPECIAL) : n_old].min().expand(extra)], 0)


def _map_properties(
    state: dict[str, torch.Tensor], old: Sequence[str], new: Sequence[str], fresh_head: dict[str, torch.Tensor]
) -> None:
    p_old, p_new = len(old), len(new)
    for key in CONDITION_INPUTS:
        w = state[key]
        keep, cond = w[:, : w.size(1) - 2 * p_old], w[:, w.size(1) - 2 * p_old :]
        out = w.new_zeros((w.size(0), 2 * p_new))
        for j, name in enumerate(new):
            if name in old:
                i = old.index(name)
                out[:, j] = cond[:, i]
                out[:, p_new + j] = cond[:, p_old + i]
        state[key] = torch.cat([keep, out], 1)
    for key in PROPERTY_ROWS:
        w, fresh = state[key], fresh_head[key].clone()
        for j, name in enumerate(new):
            if name in old:
                fresh[j] = w[old.index(name)]
        state[key] = fresh


def warm_start(
    spec: str | Path,
    data_symbols: Sequence[str],
    properties: Sequence[str],
    properties_values: np.ndarray,
    max_symbols: int,
    seed: int,
) -> WarmStart:
    """Everything a run needs from the base model ``spec`` to train on new data.

    ``data_symbols``: the SELFIES symbols of the new data; ``properties``: the run's property
    names and ``properties_values`` their values on the training molecules (for the scaler of
    properties the base did not know); ``max_symbols``: the longest new molecule.
    """
    base = load_base(spec)
    base_vocab = Vocabulary(list(base["vocab"]))
    vocab, added = grown_vocabulary(base_vocab, data_symbols)
    base_cfg = ModelConfig.from_dict(base["model_config"])
    old_props, new_props = list(base["property_names"]), list(properties)
    cfg = replace(
        base_cfg, vocab_size=len(vocab), n_properties=len(new_props), max_length=max(base_cfg.max_length, max_symbols)
    )
    state = {k: v.float().clone() for k, v in base["state_dict"].items()}
    _grow_rows(state, len(base_vocab), len(vocab))
    if old_props != new_props:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            fresh = ConditionalVAE(cfg).state_dict()
        _map_properties(state, old_props, new_props, fresh)
    base_scaler = PropertyScaler.from_dict(base["scaler"])
    fitted = PropertyScaler.fit(new_props, properties_values)
    parts: dict[str, list[float]] = {f: [] for f in ("mean", "std", "min", "max", "p5", "p95")}
    for j, name in enumerate(new_props):
        src, i = (base_scaler, base_scaler.names.index(name)) if name in old_props else (fitted, j)
        for f, values in parts.items():
            values.append(getattr(src, f)[i])
    scaler = PropertyScaler(names=new_props, **parts)
    if added:
        log.info("vocabulary grown by %d SELFIES symbols the base model lacks: %s", len(added), " ".join(added))
    if old_props != new_props:
        log.info(
            "properties: base %s, this run %s (shared ones keep their weights and scaling)",
            ",".join(old_props),
            ",".join(new_props),
        )
    temperature = checkpoint.ModelRecord.from_payload(base).temperature  # validated
    return WarmStart(cfg, state, vocab, scaler, added, str(spec), temperature)


def architecture_settings(cfg: ModelConfig) -> dict[str, Any]:
    """The training settings that fix the network's shape, as a model config gives them."""
    keys = (
        "embed_dim",
        "encoder_hidden",
        "encoder_layers",
        "latent_dim",
        "decoder_hidden",
        "decoder_layers",
        "property_hidden",
        "dropout",
    )
    return {k: getattr(cfg, k) for k in keys}
