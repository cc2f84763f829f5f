"""What the property head tells the latent search: favourable condition values and a
differentiable stand-in for the objective (used by :mod:`molvae.optimize.oracle`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from molvae.optimize.objectives import Objective

if TYPE_CHECKING:  # pragma: no cover
    from molvae.nn.codec import LatentCodec


def related_conditions(objective: Objective, codec: LatentCodec) -> dict[int, float]:
    """Condition entries worth setting: property index -> favourable standardised value.

    Maximise → the training 95th percentile, minimise → the 5th, target → the target (clipped
    to the training range), range → its middle; plogp moves logp up and SA down.
    """
    sc, names = codec.scaler, codec.property_names
    out: dict[int, float] = {}

    def put(name: str, goal: str, t: Any) -> None:
        if name not in names:
            return
        i = names.index(name)
        if goal == "maximize":
            val = sc.p95[i]
        elif goal == "minimize":
            val = sc.p5[i]
        elif goal == "target":
            val = min(max(t.target, sc.min[i]), sc.max[i])
        else:
            val = min(max((t.low + t.high) / 2.0, sc.min[i]), sc.max[i])
        out[i] = (val - sc.mean[i]) / sc.std[i]

    for t in objective.terms:
        if t.property == "plogp" and t.goal in ("maximize", "minimize"):
            put("logp", t.goal, t)
            put("sa", "minimize" if t.goal == "maximize" else "maximize", t)
        elif t.property:
            put(t.property, t.goal, t)
    return out


class HeadSurrogate:
    """A differentiable stand-in for the objective from the property head's predictions.

    Each term is measured in training standard deviations, so that terms of different units
    pull comparably; ``complete`` says whether the head covers every term.
    """

    def __init__(
        self,
        parts: list[tuple[Any, list[tuple[int, float]], float]],
        mean: torch.Tensor,
        std: torch.Tensor,
        complete: bool,
    ):
        self.parts, self.mean, self.std, self.complete = parts, mean, std, complete

    @classmethod
    def build(cls, objective: Objective, codec: LatentCodec) -> HeadSurrogate | None:
        names = codec.property_names
        sc = codec.scaler
        parts = []
        complete = True
        for t in objective.terms:
            if t.property in names:
                i = names.index(t.property)
                parts.append((t, [(i, 1.0)], sc.std[i]))
            elif t.property == "plogp" and "logp" in names and "sa" in names:
                i, j = names.index("logp"), names.index("sa")
                parts.append((t, [(i, 1.0), (j, -1.0)], math.hypot(sc.std[i], sc.std[j])))
            else:
                complete = False
        if not parts:
            return None
        dev = codec.device
        return cls(parts, torch.tensor(sc.mean, device=dev), torch.tensor(sc.std, device=dev), complete)

    def __call__(self, pred: torch.Tensor) -> torch.Tensor:
        real = pred * self.std + self.mean
        total = torch.zeros(pred.size(0), device=pred.device)
        for t, coefs, scale in self.parts:
            v = sum(c * real[:, i] for i, c in coefs)
            if t.goal == "maximize":
                s = v / scale
            elif t.goal == "minimize":
                s = -v / scale
            elif t.goal == "target":
                s = -(((v - t.target) / scale) ** 2)
            else:
                s = -(torch.relu(t.low - v) + torch.relu(v - t.high)) / scale
            total = total + t.weight * s
        return total
