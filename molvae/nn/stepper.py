"""One decoder step at a time, for sampling (:meth:`molvae.nn.model.ConditionalVAE.generate`)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


class Stepper:
    """One decoder step at a time for :meth:`molvae.nn.model.ConditionalVAE.generate`, without recomputing constants.

    The first GRU layer's input is ``[embedding(token), z, condition]``; its input projection is
    split into a per-token table (``[V, 3H]``, computed once) and the z/condition part (``[B, 3H]``,
    computed once per sequence), so a step costs one table lookup and the recurrent products.
    Gate order and formulas are those of :class:`torch.nn.GRU`.

    With a lower ``dtype`` (bf16) the matrix products run in it and everything else in float32:
    each layer's new state is cast once, and that copy serves as the next layer's input now and
    as this layer's recurrent input at the next step; each layer's recurrent product is one
    matrix product (r, z and n parts at once); the float32 sums take the bf16 products as they
    are (type promotion, no cast copies). The output projection stays float32: with a vocabulary
    of a few dozen tokens it costs about 1% of a step, and the logits are not rounded to bf16.
    ``benchmarks/pretrained/precision.py`` measures how far the two precisions' distributions are.
    """

    def __init__(self, dec: Any, z: torch.Tensor, cond: torch.Tensor, dtype: torch.dtype | None):
        gru: Any = dec.gru  # ``dec`` is a molvae.nn.model.Decoder (not imported: model imports this module)
        e = dec.cfg.embed_dim
        self.dtype = dtype or torch.float32
        self.h_size = hs = gru.hidden_size
        side = torch.cat([z, cond], dim=-1).float()
        w0 = gru.weight_ih_l0.float()
        b_hh0 = gru.bias_hh_l0.float()
        self.token_gates = F.linear(dec.embedding.weight.float(), w0[:, :e])  # [V, 3H]
        # z/condition part of the input gates, with the r and z parts of the recurrent bias folded in
        self.side_gates = F.linear(side, w0[:, e:], gru.bias_ih_l0.float())  # [B, 3H]
        self.side_gates[:, : 2 * hs] += b_hh0[: 2 * hs]
        self.hidden = [h for h in dec.initial_state(z, cond).float()]  # per layer [B, H]
        cast = lambda w: w.detach().to(self.dtype).t()  # noqa: E731  (transposed for x @ w)
        self.w_hh = [cast(getattr(gru, f"weight_hh_l{i}")) for i in range(gru.num_layers)]
        self.b_hh = [getattr(gru, f"bias_hh_l{i}").float() for i in range(gru.num_layers)]
        self.w_ih: list[Any] = [None] + [cast(getattr(gru, f"weight_ih_l{i}")) for i in range(1, gru.num_layers)]
        self.b_ih: list[Any] = [None] + [getattr(gru, f"bias_ih_l{i}").float() for i in range(1, gru.num_layers)]
        # the output projection is float32 at every precision ([H, V], V ~ 30: cheap; logits not rounded)
        self.w_out, self.b_out = dec.out.weight.detach().float().t(), dec.out.bias.float()
        self.low = self.dtype != torch.float32
        if self.low:  # r and z parts of the recurrent bias folded into the input bias of layers > 0
            for i in range(1, gru.num_layers):
                self.b_ih[i] = self.b_ih[i].clone()
                self.b_ih[i][: 2 * hs] += self.b_hh[i][: 2 * hs]
            self.hidden_low = [h.to(self.dtype) for h in self.hidden]

    def _mm_add(self, base: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """``base + x @ w`` in float32, the product in ``self.dtype``."""
        if self.dtype == torch.float32:
            return torch.addmm(base, x, w)
        return base + (x.to(self.dtype) @ w).float()

    def __call__(self, token: torch.Tensor) -> torch.Tensor:
        """Float32 logits [B, V] of the next token after ``token`` [B]; advances the state."""
        if self.low:
            return self._low_step(token)
        hs = self.h_size
        x: Any = None
        for i, h in enumerate(self.hidden):
            if i == 0:
                gi = self.token_gates.index_select(0, token).add_(self.side_gates)  # r/z parts hold b_hh
                b_n = self.b_hh[0][2 * hs :]
            else:
                gi = self._mm_add(self.b_ih[i], x, self.w_ih[i])
                gi[:, : 2 * hs] += self.b_hh[i][: 2 * hs]
                b_n = self.b_hh[i][2 * hs :]
            rz = self._mm_add(gi[:, : 2 * hs], h, self.w_hh[i][:, : 2 * hs]).sigmoid_()
            gh_n = self._mm_add(b_n, h, self.w_hh[i][:, 2 * hs :])
            n = torch.addcmul(gi[:, 2 * hs :], rz[:, :hs], gh_n).tanh_()
            self.hidden[i] = x = n.lerp_(h, rz[:, hs:])  # (1 - u) * n + u * h, in n's memory
        return torch.addmm(self.b_out, x, self.w_out)

    def _low_step(self, token: torch.Tensor) -> torch.Tensor:
        """:meth:`__call__` with the matrix products in ``self.dtype`` (see the class)."""
        hs = self.h_size
        x_low: Any = None
        for i, h in enumerate(self.hidden):
            gh = self.hidden_low[i] @ self.w_hh[i]  # [B, 3H]: the r, z and n recurrent products
            if i == 0:
                gi = self.token_gates.index_select(0, token).add_(self.side_gates)
            else:
                gi = torch.add(self.b_ih[i], x_low @ self.w_ih[i])  # float32; r/z parts hold b_hh
            rz = gi[:, : 2 * hs].add_(gh[:, : 2 * hs]).sigmoid_()
            gh_n = torch.add(self.b_hh[i][2 * hs :], gh[:, 2 * hs :])
            n = torch.addcmul(gi[:, 2 * hs :], rz[:, :hs], gh_n).tanh_()
            self.hidden[i] = n.lerp_(h, rz[:, hs:])
            self.hidden_low[i] = x_low = self.hidden[i].to(self.dtype)
        return torch.addmm(self.b_out, self.hidden[-1], self.w_out)

    def select(self, keep: torch.Tensor) -> None:
        """Keep only the rows ``keep`` of the batch."""
        self.side_gates = self.side_gates[keep]
        self.hidden = [h[keep] for h in self.hidden]
        if self.low:
            self.hidden_low = [h[keep] for h in self.hidden_low]
