"""The decoder taught the search's best molecules as it goes (the ``ga``'s ``tune`` setting).

REINVENT's augmented memory and Genetic GFN owe much of their sample efficiency to one idea: the
generative model is trained, during the search, on the best molecules found so far, so that what it
writes next resembles them. A latent-space search can do the same with its decoder. Every
``tune_every`` calls the ``ga`` gives :class:`DecoderTuner` its ``tune_top`` best molecules, each
with the latent point that stands for it (its encoding) and the condition the search decodes it
with; a few steps of Adam on the teacher-forced likelihood of their tokens follow. The children
decoded afterwards (latent crossovers and mutations, and the tokens an edit leaves free) are
written by the tuned decoder.

Only a private copy of the decoder's recurrent layers, initial-state layer and output layer
learns. The token embedding (shared with the encoder), the encoder and the property head stay as
trained, so a molecule's latent point means the same all search long, and the model the caller
passed in is never changed.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from molvae.nn.codec import LatentCodec


class DecoderTuner:
    """A copy of ``codec`` whose decoder learns the molecules :meth:`fit` is given.

    ``steps`` optimiser steps of at most ``batch`` molecules each per call to :meth:`fit`, at
    learning rate ``lr``; ``seed`` fixes which molecules each step draws.
    """

    def __init__(self, codec: LatentCodec, steps: int, lr: float, batch: int = 64, seed: int = 0):
        self.codec = copy.copy(codec)  # vocabulary, scaler and hashes shared; the model is its own
        self.codec.model = copy.deepcopy(codec.model)
        dec = self.codec.model.decoder
        self.params = [p for part in (dec.init_hidden, dec.gru, dec.out) for p in part.parameters()]
        self.optimiser = torch.optim.Adam(self.params, lr=lr)
        self.steps, self.batch = steps, batch
        self.rng = np.random.default_rng(seed)
        self.rows: dict[str, list[int] | None] = {}  # SMILES -> token ids then <end> (None: cannot be written)
        self.losses: list[float] = []  # mean token loss of each step, for tests and logs
        #: forward and backward under bf16 autocast where the codec decodes in bf16 (a GPU, or a CPU
        #: with bf16 instructions: there it is about twice as fast); weights and Adam stay float32
        self.autocast = codec.sample_dtype == torch.bfloat16

    def _row(self, smiles: str) -> list[int] | None:
        if smiles not in self.rows:
            prepared = self.codec.prepare([smiles])
            self.rows[smiles] = prepared.rows[0] if prepared.rows else None
        return self.rows[smiles]

    def fit(self, smiles: Sequence[str], z: np.ndarray, cond: torch.Tensor) -> int:
        """Train on ``smiles`` decoded from latent points ``z`` [n, latent] under ``cond`` [n, 2P];
        the molecules the vocabulary cannot write are left out. Returns how many were used."""
        rows = [self._row(s) for s in smiles]
        use = [i for i, r in enumerate(rows) if r is not None]
        if not use:
            return 0
        device = self.codec.device
        pad = self.codec.vocab.pad_id
        width = max(len(rows[i]) for i in use)  # type: ignore[arg-type]
        tokens = torch.full((len(use), width), pad, dtype=torch.long)
        for k, i in enumerate(use):
            row = rows[i]
            assert row is not None
            tokens[k, : len(row)] = torch.tensor(row)
        tokens = tokens.to(device)
        start = torch.full((len(use), 1), self.codec.model.START, dtype=torch.long, device=device)
        inputs = torch.cat([start, tokens[:, :-1]], dim=1)
        zt = torch.from_numpy(np.ascontiguousarray(z[use], dtype=np.float32)).to(device)
        ct = cond[use].to(device)
        decoder = self.codec.model.decoder
        with torch.enable_grad():
            for _ in range(self.steps):
                pick = torch.from_numpy(self.rng.permutation(len(use))[: self.batch])
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.autocast):
                    logits, _ = decoder(inputs[pick], zt[pick], ct[pick])
                loss = F.cross_entropy(logits.float().transpose(1, 2), tokens[pick], ignore_index=pad)
                self.optimiser.zero_grad(set_to_none=True)
                loss.backward()
                self.optimiser.step()
                self.losses.append(float(loss.detach()))
        return len(use)
