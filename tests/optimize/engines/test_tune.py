"""Decoder fine-tuning during a search (the ga's ``tune``): it learns, on a copy, reproducibly."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from molvae.errors import ConfigError
from molvae.optimize.config import search_settings, with_changes
from molvae.optimize.engines.tune import DecoderTuner
from molvae.optimize.objectives import Objective
from molvae.optimize.run import run_search

ELITE = ["CC(=O)Nc1ccc(O)cc1", "Cc1ccccc1NC(=O)C", "OCc1ccc(Cl)cc1", "CCOC(=O)c1ccccc1N"]


def nll(codec, smiles, z, cond) -> float:
    """Mean token loss of ``smiles`` under the codec's decoder (teacher forced)."""
    rows = codec.prepare(smiles).rows
    width = max(map(len, rows))
    tokens = torch.full((len(rows), width), codec.vocab.pad_id, dtype=torch.long)
    for k, r in enumerate(rows):
        tokens[k, : len(r)] = torch.tensor(r)
    inputs = torch.cat([torch.full((len(rows), 1), codec.model.START), tokens[:, :-1]], dim=1)
    with torch.no_grad():
        logits, _ = codec.model.decoder(inputs, torch.from_numpy(z), cond)
    return float(F.cross_entropy(logits.transpose(1, 2), tokens, ignore_index=codec.vocab.pad_id))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_tuned_copy_learns_the_molecules_and_the_model_passed_in_stays_as_it_was(tiny_run, precision):
    from molvae import MolVAE

    codec = MolVAE.load(tiny_run, device="cpu", precision=precision).codec
    before = {k: v.clone() for k, v in codec.model.state_dict().items()}
    z = codec.encode(ELITE).astype(np.float32)
    cond = codec.condition_tensor(None, len(ELITE))
    tuner = DecoderTuner(codec, steps=30, lr=3e-3, batch=4, seed=0)
    assert tuner.autocast == (precision == "bf16")  # it learns in the precision the codec decodes in
    assert tuner.fit(ELITE + ["not a molecule"], np.vstack([z, z[:1]]), torch.cat([cond, cond[:1]])) == 4
    assert nll(tuner.codec, ELITE, z, cond) < 0.7 * nll(codec, ELITE, z, cond)
    assert tuner.losses[-1] < tuner.losses[0]
    for k, v in codec.model.state_dict().items():
        assert torch.equal(v, before[k]), k
    tuned = tuner.codec.model.state_dict()
    assert torch.equal(tuned["embedding.weight"], before["embedding.weight"])  # the encoder's inputs stay
    assert not torch.equal(tuned["decoder.out.weight"], before["decoder.out.weight"])
    assert tuner.fit(["not a molecule"], z[:1], cond[:1]) == 0


def test_a_tuned_search_is_reproducible_and_leaves_the_model_alone(tiny_model):
    codec = tiny_model.codec
    before = {k: v.clone() for k, v in codec.model.state_dict().items()}
    settings = search_settings(dict(budget=200, budget_counts="distinct", seed=0, initial=40, tune=3, tune_every=50))
    s = run_search(codec, Objective.build(maximize=["qed"]), settings)
    assert s.used() == 200 and s.codec is codec
    again = run_search(codec, Objective.build(maximize=["qed"]), settings)
    assert list(again.scorer.cache) == list(s.scorer.cache)
    plain = run_search(codec, Objective.build(maximize=["qed"]), with_changes(settings, {"tune": 0}))
    assert list(plain.scorer.cache)[:40] == list(s.scorer.cache)[:40]  # the first generation comes before any tuning
    assert list(plain.scorer.cache) != list(s.scorer.cache)
    for k, v in codec.model.state_dict().items():
        assert torch.equal(v, before[k]), k


@pytest.mark.parametrize("bad", [{"tune": -1}, {"tune_every": 0}, {"tune_top": 0}, {"tune_lr": 0.0}])
def test_bad_tune_settings_are_one_line_errors(bad):
    with pytest.raises(ConfigError, match="tune"):
        search_settings({"budget": 100, **bad})
