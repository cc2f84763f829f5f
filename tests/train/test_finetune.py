"""Warm starts: vocabulary growth, token remapping and condition layers for a new property set."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molvae.data.vocabulary import Vocabulary
from molvae.errors import CheckpointError
from molvae.nn import checkpoint
from molvae.train.config import TrainConfig
from molvae.train.finetune import grown_vocabulary, load_base, remap_tokens, warm_start, with_finetune_defaults


def test_grown_vocabulary_appends_only_new_symbols_in_sorted_order():
    base = Vocabulary(["<pad>", "<start>", "<end>", "[C]", "[O]"])
    grown, added = grown_vocabulary(base, ["[O-1]", "[C]", "[N+1]", "<end>"])
    assert added == ["[N+1]", "[O-1]"]
    assert grown.tokens == base.tokens + added  # base ids unchanged: base weights stay valid


def test_remap_tokens_rewrites_ids_and_refuses_missing_symbols():
    source = Vocabulary(["<pad>", "<start>", "<end>", "[N+1]", "[O]"])
    target = Vocabulary(["<pad>", "<start>", "<end>", "[C]", "[O]", "[N+1]"])
    tokens = np.array([[3, 4, 0], [4, 0, 0]], dtype=np.uint8)
    assert remap_tokens(tokens, source, target).tolist() == [[5, 4, 0], [4, 0, 0]]
    with pytest.raises(CheckpointError, match=r"\[N\+1\]"):
        remap_tokens(tokens, source, Vocabulary(["<pad>", "<start>", "<end>", "[O]"]))


def test_load_base_names_pretrained_folders_and_missing_paths(tmp_path):
    assert load_base("pretrained")["vocab"] == checkpoint.load(checkpoint.pretrained_path())["vocab"]
    with pytest.raises(CheckpointError, match="no best.ckpt"):
        load_base(tmp_path)
    with pytest.raises(CheckpointError, match="no such model"):
        load_base(tmp_path / "nothing.ckpt")


def _base():
    return checkpoint.load(checkpoint.pretrained_path())


def test_warm_start_keeps_base_weights_and_initialises_new_rows_sensibly():
    base = _base()
    vocab = Vocabulary(list(base["vocab"]))
    names = list(base["property_names"])
    ws = warm_start("pretrained", ["[C]", "[N+1]", "[O-1]"], names, np.ones((3, len(names))), 20, seed=0)
    n = len(vocab)
    assert ws.added_symbols == ["[N+1]", "[O-1]"] and len(ws.vocab) == n + 2
    emb, out_b = ws.state_dict["embedding.weight"], ws.state_dict["decoder.out.bias"]
    assert torch.equal(emb[:n], base["state_dict"]["embedding.weight"].float())
    assert torch.allclose(emb[n], base["state_dict"]["embedding.weight"][3:n].float().mean(0))
    # new tokens start as the least likely output: the model does not emit them before learning them
    assert out_b[n:].max() <= base["state_dict"]["decoder.out.bias"][3:].min() + 1e-6
    assert ws.model_config.vocab_size == n + 2
    assert ws.scaler.to_dict() == base["scaler"]  # same properties: the base scaling is kept


def test_warm_start_maps_condition_columns_for_a_new_property_set():
    base = _base()
    old = list(base["property_names"])  # logp, qed, sa, mw, tpsa
    new = ["qed", "hbd"]
    values = np.column_stack([np.full(10, 0.7), np.arange(10.0)])
    ws = warm_start("pretrained", ["[C]"], new, values, 20, seed=0)
    w_old = base["state_dict"]["decoder.init_hidden.weight"].float()
    w_new = ws.state_dict["decoder.init_hidden.weight"]
    latent = ws.model_config.latent_dim
    assert w_new.shape[1] == latent + 4
    p = len(old)
    q = old.index("qed")
    assert torch.equal(w_new[:, latent + 0], w_old[:, latent + q])  # qed value column kept
    assert torch.equal(w_new[:, latent + 2], w_old[:, latent + p + q])  # qed mask column kept
    assert torch.count_nonzero(w_new[:, latent + 1]) == 0 and torch.count_nonzero(w_new[:, latent + 3]) == 0
    assert ws.scaler.names == new
    assert ws.scaler.mean[1] == pytest.approx(4.5)  # hbd scaled on the new data
    assert ws.scaler.mean[0] == pytest.approx(base["scaler"]["mean"][q])
    assert ws.state_dict["property_head.net.4.weight"].shape[0] == 2


def test_finetuning_a_small_series_trains_long_enough_to_learn_it():
    # 90 drugs fine-tuned with the old defaults stopped early after 34 optimiser steps (a tenth
    # held out, patience 4), before a single stereocentre or charge appeared in the samples
    cfg = TrainConfig.from_dict(with_finetune_defaults({"init": "pretrained"}))
    n = 90
    assert cfg.val_fraction == 0.0 and cfg.patience is None  # no early stop on a handful of molecules
    steps = cfg.epochs_for(n) * -(-n // cfg.batch_size)
    assert steps >= 600


def test_epochs_given_by_the_user_are_kept():
    assert TrainConfig.from_dict(with_finetune_defaults({"init": "pretrained", "epochs": 1})).epochs_for(90) == 1
    both = with_finetune_defaults({"init": "pretrained", "epochs": 1, "min_steps": 10})
    assert TrainConfig.from_dict(both).epochs_for(90) == 4
